"""Tasks of a care plan: read one; move it through its state machine or change who does it and
when (If-Match). Starting a task before its prerequisites are completed is refused (409,
naming them); failing or cancelling one cancels the tasks that depended on it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response

from secondlook.api.deps import (
    AuditDep,
    CurrentUser,
    IfMatch,
    PatientId,
    etag,
    path_id,
    required_version,
)
from secondlook.api.problems import ApiProblem, ProblemField, error_responses
from secondlook.api.routes.care_common import care_errors, task_out, today
from secondlook.api.routes.care_schemas import TaskChangeOut, TaskOut, TaskPatch
from secondlook.store import care_records

router = APIRouter(prefix="/patients/{patient_id}/care/tasks", tags=["care"])
TaskId = Annotated[int, path_id("the task's id")]


@router.get("/{task_id}", responses=error_responses(401, 403, 404, 422))
def read_task(
    patient_id: PatientId, task_id: TaskId, auditor: AuditDep, user: CurrentUser, response: Response
) -> TaskOut:
    """One task, with the prerequisites still waiting. Its ETag is its version."""
    with auditor.patient("care.task.read", patient_id):
        task = care_records.get_task(
            auditor.session,
            organization_id=user.organization_id,
            patient_id=patient_id,
            task_id=task_id,
        )
        if task is None:
            raise ApiProblem(404, f"patient {patient_id} has no care task {task_id}")
        waiting = care_records.plan_task_readiness(auditor.session, plan_ids=[task.plan_id])
    response.headers["ETag"] = etag(task.version)
    return task_out(task, waiting)


@router.patch("/{task_id}", responses=error_responses(401, 403, 404, 409, 412, 422, 428))
def update_task(
    patient_id: PatientId,
    task_id: TaskId,
    body: TaskPatch,
    auditor: AuditDep,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
) -> TaskChangeOut:
    """Change the keys you send. `status` follows requested -> accepted -> in-progress ->
    completed | failed, and cancelled from any open state; a step the machine does not allow,
    or starting before every prerequisite is completed, is a 409 problem that names them.
    Cancelling or failing needs a `reason` (422) and cancels what waited on the task.
    `assignee_user_id` puts the task on that person's worklist. Needs If-Match."""
    with auditor.patient("care.task.update", patient_id), care_errors():
        expected = required_version(if_match)
        if (
            care_records.get_task(
                auditor.session,
                organization_id=user.organization_id,
                patient_id=patient_id,
                task_id=task_id,
            )
            is None
        ):
            raise ApiProblem(404, f"patient {patient_id} has no care task {task_id}")
        changes: dict[str, Any] = body.model_dump(
            include={"person", "assignee_user_id", "due"}, exclude_unset=True
        )
        if body.status in ("cancelled", "failed") and not (body.reason and body.reason.strip()):
            raise ApiProblem(
                422,
                f"say why the task is {body.status}",
                kind="care-invalid",
                title="Invalid care request",
                errors=[ProblemField(path="$.reason", message="required to cancel or fail")],
            )
        assignee = changes.get("assignee_user_id")
        if assignee is not None and not care_records.is_staff_member(
            auditor.session, organization_id=user.organization_id, user_id=assignee
        ):
            raise ApiProblem(
                422,
                f"user {assignee} is not an active clinician or coordinator of your organization",
                kind="care-invalid",
                title="Invalid care request",
                errors=[ProblemField(path="$.assignee_user_id", message="not a team member")],
            )
        if "due" in changes and changes["due"] is None:
            raise ApiProblem(
                422,
                "due cannot be null",
                kind="care-invalid",
                title="Invalid care request",
                errors=[ProblemField(path="$.due", message="cannot be null")],
            )
        task, cancelled = care_records.update_task(
            auditor.session,
            organization_id=user.organization_id,
            patient_id=patient_id,
            task_id=task_id,
            expected_version=expected,
            status=body.status,
            on=body.on or today(),
            reason=body.reason,
            changes=changes,
            user_id=user.user_id,
            username=user.username,
        )
        waiting = care_records.plan_task_readiness(auditor.session, plan_ids=[task.plan_id])
    response.headers["ETag"] = etag(task.version)
    return TaskChangeOut(
        task=task_out(task, waiting), cancelled=[task_out(t, waiting) for t in cancelled]
    )
