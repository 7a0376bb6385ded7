"""Care plans: proposed from a stored assessment, decided by a clinician (a reason for every
decision that goes against the engine), kept up to date (If-Match), completed or discharged;
with their tasks, opioid taper, questionnaire schedule and goal checks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from secondlook.api.routes.care_common import (
    AsOf,
    day_or_today,
    plan_href,
    plan_out,
    task_out,
)
from secondlook.api.routes.care_schemas import (
    AmendmentIn,
    ClosingIn,
    CompletionIn,
    DecisionIn,
    GoalCheckIn,
    GoalCheckOut,
    GoalIn,
    PlanChangeOut,
    PlanIn,
    PlanOut,
    PlanPatch,
    PlanVersionOut,
    ProposalItemOut,
    ProposalOut,
    QuestionnaireScheduleOut,
    ScheduledQuestionnaireOut,
    TaperOut,
    TaskOut,
)
from secondlook.api.schemas import Page as PageOf
from secondlook.care import (
    CompletionCriteria,
    Decision,
    Edit,
    Goal,
    reason_required,
)
from secondlook.http.deps import (
    AccessDep,
    IfMatch,
    Page,
    PatientId,
    SessionDep,
    etag,
    path_id,
)
from secondlook.http.problems import error_responses
from secondlook.platform.preconditions import IfMatchVersion
from secondlook.services import plans
from secondlook.store.care_models import CarePlan, CarePlanVersion

router = APIRouter(prefix="/patients/{patient_id}/care", tags=["care"])
PlanId = Annotated[int, path_id("the plan's id")]
VersionNumber = Annotated[int, path_id("the version's number")]


def _decisions(body: list[DecisionIn]) -> list[Decision]:
    return [
        Decision(
            d.item_id, d.action, d.reason, None if d.edit is None else Edit(**d.edit.model_dump())
        )
        for d in body
    ]


def _version_out(plan: CarePlan, version: CarePlanVersion) -> PlanVersionOut:
    return PlanVersionOut(
        plan_id=version.plan_id,
        number=version.number,
        assessment_id=version.assessment_id,
        decided_on=version.decided_on,
        decided_by=version.decided_by,
        reason=version.reason,
        entries=version.entries,
        goals=version.goals,
        review_on=version.review_on,
        completion=version.completion,
        taper_request=version.taper_request,
        changes=[PlanChangeOut.model_validate(c) for c in version.changes],
        created_at=version.created_at,
        href=f"{plan_href(plan)}/versions/{version.number}",
    )


def _goal(goal: GoalIn) -> Goal:
    return Goal(**goal.model_dump())


def _completion(body: CompletionIn) -> CompletionCriteria:
    if body.discharge is None:
        return CompletionCriteria(
            goals=tuple(body.goals),
            measured_after_months=body.measured_after_months,
            tasks_closed=body.tasks_closed,
        )
    return CompletionCriteria(
        goals=tuple(body.goals),
        measured_after_months=body.measured_after_months,
        tasks_closed=body.tasks_closed,
        discharge=tuple(body.discharge),
    )


@router.get("/plan-proposal", responses=error_responses(401, 403, 404, 422))
def propose_plan(
    patient_id: PatientId,
    assessment_id: Annotated[int, Query(ge=1, le=2**31 - 1, description="the assessment")],
    access: AccessDep,
    session: SessionDep,
) -> ProposalOut:
    """What a plan from this assessment would hold: every work-up item and treatment option
    with the engine's recommendation, whether a decision about it needs a reason, and the
    suggested goals. POST a plan with one decision per item."""
    draft = plans.propose(
        session, access=access, patient_id=patient_id, assessment_id=assessment_id
    )
    return ProposalOut(
        assessment_id=assessment_id,
        review_on=draft.review_on,
        items=[
            ProposalItemOut(
                id=item.id,
                kind=item.kind,
                ref=item.ref,
                name=item.name,
                perspective=item.perspective,
                recommendation=item.recommendation,
                priority=item.priority,
                because=list(item.because),
                reason_required_to="reject"
                if reason_required(item, "reject")
                else "accept"
                if reason_required(item, "accept")
                else "never",
            )
            for item in draft.items
        ],
        goals=plans.to_json(draft.goals),
    )


@router.post("/plans", status_code=201, responses=error_responses(401, 403, 404, 409, 422))
def create_plan(
    patient_id: PatientId,
    body: PlanIn,
    access: AccessDep,
    session: SessionDep,
    response: Response,
) -> PlanOut:
    """Decide a care plan from a stored assessment: one decision per proposed item (accept,
    edit with owner/person/due/note, or reject). Nothing is blocked for going against the
    engine, but rejecting a recommended item, or accepting one it does not recommend, needs a
    reason: a 422 problem lists every item missing one (and every other problem) at once.
    An active plan gets its tasks (ordered by prerequisites), its opioid taper when one is
    accepted, and the patient's questionnaires (baseline, 3, 6, 12, 24 months, review dates).
    While the patient has an active plan a new one is refused (409 `plan-active`, naming it):
    amend that plan, or close it first."""
    plan = plans.create_plan(
        session,
        access=access,
        patient_id=patient_id,
        assessment_id=body.assessment_id,
        decisions=_decisions(body.decisions),
        decided_on=body.decided_on,
        start_on=body.start_on,
        goals=None if body.goals is None else [_goal(g) for g in body.goals],
        review_on=body.review_on,
        completion=None if body.completion is None else _completion(body.completion),
        taper=None if body.taper is None else body.taper.model_dump(),
        draft=body.status == "draft",
        conference_id=body.conference_id,
    )
    result = plan_out(plan)
    response.headers["Location"] = result.href
    response.headers["ETag"] = etag(plan.version)
    return result


@router.get("/plans", responses=error_responses(401, 403, 404, 422))
def list_plans(
    patient_id: PatientId, access: AccessDep, session: SessionDep, page: Page, request: Request
) -> PageOf[PlanOut]:
    """The patient's care plans, oldest first."""
    rows = plans.list_plans(
        session,
        access=access,
        patient_id=patient_id,
        limit=page.limit + 1,
        after_id=page.position,
    )
    rows, next_page = page.cut(rows, request, lambda row: row.id)
    return PageOf[PlanOut](items=[plan_out(p) for p in rows], next=next_page)


@router.get("/plans/{plan_id}", responses=error_responses(401, 403, 404, 422))
def read_plan(
    patient_id: PatientId,
    plan_id: PlanId,
    access: AccessDep,
    session: SessionDep,
    response: Response,
) -> PlanOut:
    """One plan. Its ETag is its version."""
    plan = plans.read_plan(session, access=access, patient_id=patient_id, plan_id=plan_id)
    response.headers["ETag"] = etag(plan.version)
    return plan_out(plan)


@router.patch("/plans/{plan_id}", responses=error_responses(401, 403, 404, 409, 412, 422, 428))
def update_plan(
    patient_id: PatientId,
    plan_id: PlanId,
    body: PlanPatch,
    access: AccessDep,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> PlanOut:
    """Change goals, the review date (new review questionnaires follow) or the completion
    criteria, validated as when the plan was decided; or move the plan on: a draft becomes
    active (its tasks are made), an active plan is completed (409 listing every criterion not
    yet met) or discharged (a reason is required). Needs If-Match."""
    plan = plans.update_plan(
        session,
        access=access,
        patient_id=patient_id,
        plan_id=plan_id,
        expected=IfMatchVersion(if_match),
        goals=None if body.goals is None else [_goal(g) for g in body.goals],
        review_on=body.review_on,
        completion=None if body.completion is None else _completion(body.completion),
        status=body.status,
        on=body.on,
        reason=body.reason,
    )
    response.headers["ETag"] = etag(plan.version)
    return plan_out(plan)


@router.post(
    "/plans/{plan_id}/amendments",
    status_code=201,
    responses=error_responses(401, 403, 404, 409, 412, 422, 428),
)
def amend_plan(
    patient_id: PatientId,
    plan_id: PlanId,
    body: AmendmentIn,
    access: AccessDep,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> PlanVersionOut:
    """Amend the active plan: a new version. Re-decide items (accept, edit, reject, with the
    reasons a decision needs), decide every item the patient's newest assessment adds, change
    goals, review date or completion criteria; the rest carries over. Every task keeps its
    state and history; an item no longer accepted has its open tasks cancelled ("removed from
    the plan in version N"); a newly accepted one gets its tasks. Needs If-Match (the plan's
    ETag); answers the new version with what changed, and the plan's new ETag."""
    plan, version = plans.amend_plan(
        session,
        access=access,
        patient_id=patient_id,
        plan_id=plan_id,
        expected=IfMatchVersion(if_match),
        decisions=_decisions(body.decisions),
        reason=body.reason,
        decided_on=body.decided_on,
        goals=None if body.goals is None else [_goal(g) for g in body.goals],
        review_on=body.review_on,
        completion=None if body.completion is None else _completion(body.completion),
        taper=None if body.taper is None else body.taper.model_dump(),
    )
    result = _version_out(plan, version)
    response.headers["Location"] = result.href
    response.headers["ETag"] = etag(plan.version)
    return result


@router.post(
    "/plans/{plan_id}/closing", responses=error_responses(401, 403, 404, 409, 412, 422, 428)
)
def close_plan(
    patient_id: PatientId,
    plan_id: PlanId,
    body: ClosingIn,
    access: AccessDep,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> PlanOut:
    """Close the active plan: `completed` (409 listing every criterion not yet met),
    `discharged` or `replaced` (a reason is required). Its open questionnaires are cancelled,
    so the patient keeps one schedule; its open care tasks are cancelled with the reason, or,
    when replaced with `carry_over`, move into the next plan with their state. Needs If-Match."""
    plan = plans.close_plan(
        session,
        access=access,
        patient_id=patient_id,
        plan_id=plan_id,
        expected=IfMatchVersion(if_match),
        outcome=body.outcome,
        reason=body.reason,
        on=body.on,
        carry_over=body.carry_over,
    )
    response.headers["ETag"] = etag(plan.version)
    return plan_out(plan)


@router.get("/plans/{plan_id}/versions", responses=error_responses(401, 403, 404, 422))
def list_plan_versions(
    patient_id: PatientId, plan_id: PlanId, access: AccessDep, session: SessionDep
) -> list[PlanVersionOut]:
    """Every version of the plan, first to current, each with what changed and why."""
    found = plans.plan_versions(session, access=access, patient_id=patient_id, plan_id=plan_id)
    return [_version_out(found.plan, v) for v in found.versions]


@router.get("/plans/{plan_id}/versions/{number}", responses=error_responses(401, 403, 404, 422))
def read_plan_version(
    patient_id: PatientId,
    plan_id: PlanId,
    number: VersionNumber,
    access: AccessDep,
    session: SessionDep,
) -> PlanVersionOut:
    """One version of the plan, as it was decided."""
    plan = plans.read_plan(session, access=access, patient_id=patient_id, plan_id=plan_id)
    version = plans.plan_version(
        session, access=access, patient_id=patient_id, plan_id=plan_id, number=number
    )
    return _version_out(plan, version)


@router.get("/plans/{plan_id}/tasks", responses=error_responses(401, 403, 404, 422))
def list_plan_tasks(
    patient_id: PatientId,
    plan_id: PlanId,
    access: AccessDep,
    session: SessionDep,
    page: Page,
    request: Request,
    kind: Annotated[
        str | None,
        Query(pattern="^(care|questionnaire)$", description="only care or questionnaire tasks"),
    ] = None,
) -> PageOf[TaskOut]:
    """The plan's tasks in creation order (prerequisites first), each with `waiting_on`: the
    prerequisites that still stop it from starting."""
    found = plans.plan_tasks(
        session,
        access=access,
        patient_id=patient_id,
        plan_id=plan_id,
        limit=page.limit + 1,
        after_id=page.position,
        kind=kind,
    )
    rows, next_page = page.cut(found.tasks, request, lambda row: row.id)
    return PageOf[TaskOut](items=[task_out(t, found.waiting) for t in rows], next=next_page)


@router.get("/plans/{plan_id}/taper", responses=error_responses(401, 403, 404, 422))
def read_taper(
    patient_id: PatientId, plan_id: PlanId, access: AccessDep, session: SessionDep
) -> TaperOut:
    """The plan's opioid taper schedule (CDC 2022), when the plan accepted a taper."""
    found = plans.taper(session, access=access, patient_id=patient_id, plan_id=plan_id)
    row = found.row
    return TaperOut(
        plan_id=found.plan.id,
        version=row.version,
        original_mme=row.original_mme,
        months_of_use=row.months_of_use,
        long_term=row.long_term,
        pace=row.pace,
        period=row.period,
        floor_mme=row.floor_mme,
        resolution=row.resolution,
        start_on=row.start_on,
        end_on=found.schedule.end_on,
        citation=row.citation,
        steps=row.steps,
    )


@router.get("/plans/{plan_id}/questionnaires", responses=error_responses(401, 403, 404, 422))
def questionnaire_schedule(
    patient_id: PatientId,
    plan_id: PlanId,
    access: AccessDep,
    session: SessionDep,
    as_of: AsOf = None,
) -> QuestionnaireScheduleOut:
    """Every questionnaire the plan schedules for the patient, each `completed` (answered in
    its window), `due` (within 14 days of its date), `overdue` or `upcoming`."""
    found = plans.questionnaire_schedule(
        session,
        access=access,
        patient_id=patient_id,
        plan_id=plan_id,
        as_of=day_or_today(as_of),
    )
    return QuestionnaireScheduleOut(
        plan_id=found.plan.id,
        as_of=found.as_of,
        items=[
            ScheduledQuestionnaireOut(
                task_id=item.task.id,
                time_point=str(item.task.time_point),
                instrument=str(item.task.instrument),
                due=item.task.due,
                state=item.state,
                answered_on=item.answered_on,
            )
            for item in found.items
        ],
    )


@router.post(
    "/plans/{plan_id}/goal-checks", status_code=201, responses=error_responses(401, 403, 404, 422)
)
def check_goal(
    patient_id: PatientId,
    plan_id: PlanId,
    body: GoalCheckIn,
    access: AccessDep,
    session: SessionDep,
) -> GoalCheckOut:
    """Record a dated check of one of the plan's patient goals (in the patient's words):
    achieved or not. The latest check decides the goal's status."""
    check = plans.check_goal(
        session,
        access=access,
        patient_id=patient_id,
        plan_id=plan_id,
        goal_id=body.goal_id,
        checked_on=body.checked_on,
        achieved=body.achieved,
        note=body.note,
    )
    return GoalCheckOut(
        id=check.id,
        plan_id=check.plan_id,
        goal_id=check.goal_id,
        checked_on=check.checked_on,
        achieved=check.achieved,
        note=check.note,
        created_at=check.created_at,
    )


__all__ = ["plan_href", "router"]
