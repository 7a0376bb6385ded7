"""Tasks of a care plan: read one; move it through its state machine or change who does it and
when (If-Match). Starting a task before its prerequisites are completed is refused (409,
naming them); failing or cancelling one cancels the tasks that depended on it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response

from secondlook.api.routes.care_common import task_out
from secondlook.api.routes.care_schemas import (
    TaskAssignmentOut,
    TaskChangeOut,
    TaskOut,
    TaskPatch,
    TaskResultIn,
    TaskResultOut,
)
from secondlook.http.deps import (
    AccessDep,
    IfMatch,
    PatientId,
    SessionDep,
    etag,
    path_id,
)
from secondlook.http.problems import error_responses
from secondlook.platform.preconditions import IfMatchVersion
from secondlook.services import care

router = APIRouter(prefix="/patients/{patient_id}/care/tasks", tags=["care"])
TaskId = Annotated[int, path_id("the task's id")]


@router.get("/{task_id}", responses=error_responses(401, 403, 404, 422))
def read_task(
    patient_id: PatientId,
    task_id: TaskId,
    access: AccessDep,
    session: SessionDep,
    response: Response,
) -> TaskOut:
    """One task, with the prerequisites still waiting. Its ETag is its version."""
    view = care.read_task(session, access=access, patient_id=patient_id, task_id=task_id)
    response.headers["ETag"] = etag(view.task.version)
    return task_out(view.task, {view.task.task_key: view.waiting_on})


@router.patch("/{task_id}", responses=error_responses(401, 403, 404, 409, 412, 422, 428))
def update_task(
    patient_id: PatientId,
    task_id: TaskId,
    body: TaskPatch,
    access: AccessDep,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> TaskChangeOut:
    """Change the keys you send. `status` follows requested -> accepted -> in-progress ->
    completed | failed, and cancelled from any open state; a step the machine does not allow,
    or starting before every prerequisite is completed, is a 409 problem that names them.
    Cancelling or failing needs a `reason` (422) and cancels what waited on the task.
    `assignee_user_id` puts the task on that person's worklist. Needs If-Match."""
    changes = body.model_dump(include={"person", "assignee_user_id", "due"}, exclude_unset=True)
    change = care.update_task(
        session,
        access=access,
        patient_id=patient_id,
        task_id=task_id,
        expected=IfMatchVersion(if_match),
        status=body.status,
        reason=body.reason,
        on=body.on,
        **changes,
    )
    response.headers["ETag"] = etag(change.task.version)
    return TaskChangeOut(
        task=task_out(change.task, change.waiting),
        cancelled=[task_out(t, change.waiting) for t in change.cancelled],
    )


@router.get("/{task_id}/assignments", responses=error_responses(401, 403, 404, 422))
def task_assignments(
    patient_id: PatientId, task_id: TaskId, access: AccessDep, session: SessionDep
) -> list[TaskAssignmentOut]:
    """Every change of the task's assignee, person or due date, oldest first, with who made
    it and when (the task's status changes are in its status history)."""
    rows = care.task_assignments(session, access=access, patient_id=patient_id, task_id=task_id)
    return [TaskAssignmentOut.model_validate(r, from_attributes=True) for r in rows]


@router.post("/{task_id}/result", responses=error_responses(401, 403, 404, 409, 412, 422, 428))
def record_result(
    patient_id: PatientId,
    task_id: TaskId,
    body: TaskResultIn,
    access: AccessDep,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> TaskResultOut:
    """Complete a diagnostic task (a medial branch, sacroiliac joint or nerve root block; an
    imaging study) with its result. The result becomes the patient's next case version, with
    the completion, in one transaction; assess the case again to see what it changes. Needs
    the task's If-Match."""
    found = care.record_task_result(
        session,
        access=access,
        patient_id=patient_id,
        task_id=task_id,
        expected=IfMatchVersion(if_match),
        result=body.model_dump(exclude={"on"}, exclude_none=True),
        on=body.on,
    )
    change = found.change
    response.headers["ETag"] = etag(change.task.version)
    return TaskResultOut(
        task=task_out(change.task, change.waiting),
        cancelled=[task_out(t, change.waiting) for t in change.cancelled],
        case_version=found.case_version,
        assess=f"/api/v1/patients/{patient_id}/assessments",
    )
