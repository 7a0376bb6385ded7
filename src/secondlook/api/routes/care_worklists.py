"""Worklists of the care team, scoped to the caller's organization, paginated, each one indexed
query (see docs/performance.md, "Care worklists"): my tasks, a discipline's tasks, overdue tasks,
patients with questionnaires due or overdue, patients with red flags, plans due for review."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from secondlook.api.routes.care_common import (
    AsOf,
    DuePageDep,
    day_or_today,
    plan_href,
    task_fields,
)
from secondlook.api.routes.care_schemas import (
    PlanReviewOut,
    QuestionnairePatientOut,
    RedFlagOut,
    RedFlagPatientOut,
    WorklistTask,
)
from secondlook.api.schemas import Page as PageOf
from secondlook.care.models import Discipline
from secondlook.care.plan import REVIEW_NOTICE_DAYS
from secondlook.http.deps import AccessDep, Page, SessionDep
from secondlook.http.problems import error_responses
from secondlook.services import care

router = APIRouter(prefix="/care/worklists", tags=["care"])


def _tasks(found: care.WorklistPage, page: DuePageDep, request: Request) -> PageOf[WorklistTask]:
    shown, next_page = page.cut(found.tasks, request, lambda t: (t.due, t.id))
    names = found.patient_names
    return PageOf[WorklistTask](
        items=[WorklistTask(**task_fields(t), patient_name=names[t.patient_id]) for t in shown],
        next=next_page,
    )


@router.get("/my-tasks", responses=error_responses(401, 403, 422))
def my_tasks(
    access: AccessDep, session: SessionDep, page: DuePageDep, request: Request
) -> PageOf[WorklistTask]:
    """Open care tasks assigned to you (`assignee_user_id`), soonest due first."""
    found = care.worklist(
        session, access=access, kind="my-tasks", limit=page.limit + 1, after=page.after
    )
    return _tasks(found, page, request)


@router.get("/my-discipline", responses=error_responses(401, 403, 409, 422))
def my_discipline_tasks(
    access: AccessDep, session: SessionDep, page: DuePageDep, request: Request
) -> PageOf[WorklistTask]:
    """Open care tasks owned by your own discipline (set by an administrator), soonest due
    first; 409 when you have none on record."""
    found = care.worklist(
        session,
        access=access,
        kind="discipline",
        discipline=care.MY_DISCIPLINE,
        limit=page.limit + 1,
        after=page.after,
    )
    return _tasks(found, page, request)


@router.get("/discipline/{discipline}", responses=error_responses(401, 403, 422))
def discipline_tasks(
    discipline: Annotated[Discipline, Path(description="the owning discipline")],
    access: AccessDep,
    session: SessionDep,
    page: DuePageDep,
    request: Request,
) -> PageOf[WorklistTask]:
    """Open care tasks owned by a discipline, soonest due first."""
    found = care.worklist(
        session,
        access=access,
        kind="discipline",
        discipline=discipline,
        limit=page.limit + 1,
        after=page.after,
    )
    return _tasks(found, page, request)


@router.get("/overdue-tasks", responses=error_responses(401, 403, 422))
def overdue_tasks(
    access: AccessDep,
    session: SessionDep,
    page: DuePageDep,
    request: Request,
    as_of: AsOf = None,
    discipline: Annotated[Discipline | None, Query(description="only this discipline")] = None,
) -> PageOf[WorklistTask]:
    """Open care tasks whose due date has passed, most overdue first."""
    found = care.worklist(
        session,
        access=access,
        kind="overdue-tasks",
        day=day_or_today(as_of),
        limit=page.limit + 1,
        after=page.after,
        discipline=discipline,
    )
    return _tasks(found, page, request)


@router.get("/questionnaires", responses=error_responses(401, 403, 422))
def questionnaires(
    access: AccessDep,
    session: SessionDep,
    page: Page,
    request: Request,
    as_of: AsOf = None,
    state: Annotated[
        str,
        Query(
            pattern="^(overdue|not-completed)$",
            description="`overdue`: past the 14-day window; `not-completed`: also those due now",
        ),
    ] = "not-completed",
) -> PageOf[QuestionnairePatientOut]:
    """Patients with scheduled questionnaires not answered in their window, by patient id."""
    rows = care.worklist(
        session,
        access=access,
        kind="questionnaires",
        day=day_or_today(as_of),
        limit=page.limit + 1,
        after_patient=page.position,
        include_due=state == "not-completed",
    ).patients
    rows, next_page = page.cut(rows, request, lambda r: r.patient_id)
    return PageOf[QuestionnairePatientOut](
        items=[
            QuestionnairePatientOut(
                patient_id=r.patient_id,
                patient_name=r.patient_name,
                overdue=r.overdue,
                due=r.due,
                earliest_due=r.earliest_due,
                instruments=r.instruments,
                href=f"/api/v1/patients/{r.patient_id}",
            )
            for r in rows
        ],
        next=next_page,
    )


@router.get("/red-flags", responses=error_responses(401, 403, 422))
def red_flags(
    access: AccessDep, session: SessionDep, page: Page, request: Request
) -> PageOf[RedFlagPatientOut]:
    """Patients whose latest assessment has red flags, by patient id."""
    rows = care.worklist(
        session,
        access=access,
        kind="red-flags",
        limit=page.limit + 1,
        after_patient=page.position,
    ).patients
    rows, next_page = page.cut(rows, request, lambda r: r.patient_id)
    return PageOf[RedFlagPatientOut](
        items=[
            RedFlagPatientOut(
                patient_id=r.patient_id,
                patient_name=r.patient_name,
                assessment_id=r.assessment_id,
                assessed_at=r.assessed_at,
                red_flags=[RedFlagOut(**f) for f in r.red_flags],
                href=f"/api/v1/patients/{r.patient_id}/assessments/{r.assessment_id}",
            )
            for r in rows
        ],
        next=next_page,
    )


@router.get("/plan-reviews", responses=error_responses(401, 403, 422))
def plan_reviews(
    access: AccessDep,
    session: SessionDep,
    page: DuePageDep,
    request: Request,
    as_of: AsOf = None,
    within_days: Annotated[
        int, Query(ge=0, le=365, description="include reviews due this many days ahead")
    ] = REVIEW_NOTICE_DAYS,
) -> PageOf[PlanReviewOut]:
    """Active plans whose review date is past or within `within_days`, soonest first."""
    rows = care.worklist(
        session,
        access=access,
        kind="plan-reviews",
        day=day_or_today(as_of),
        limit=page.limit + 1,
        after=page.after,
        review_within_days=within_days,
    ).reviews
    shown, next_page = page.cut(rows, request, lambda r: (r[0].review_on, r[0].id))
    return PageOf[PlanReviewOut](
        items=[
            PlanReviewOut(
                plan_id=plan.id,
                patient_id=plan.patient_id,
                patient_name=name,
                review_on=plan.review_on,
                decided_by=plan.decided_by,
                href=plan_href(plan),
            )
            for plan, name in shown
        ],
        next=next_page,
    )
