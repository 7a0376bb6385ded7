"""Outcomes: a patient's questionnaire trajectories with meaningful-change status, the plan's
goals and responder status; the organization's cohort report as JSON or CSV (RFC 4180)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from secondlook.api.deps import AuditDep, CurrentUser, PatientId
from secondlook.api.problems import ApiProblem, error_responses
from secondlook.api.routes.care_schemas import (
    CohortOut,
    CompletionStatusOut,
    CourseEtiologyOut,
    GoalStatusOut,
    OutcomesOut,
    ResponderCountOut,
    TrajectoryPointOut,
)
from secondlook.care import (
    PRIMARY_INSTRUMENT,
    GoalCheck,
    InstrumentResult,
    cohort_csv,
    cohort_report,
    completion_status,
    goal_status,
    responder_status,
    trajectories,
)
from secondlook.store import care_records

router = APIRouter(tags=["care"])


@router.get("/patients/{patient_id}/care/outcomes", responses=error_responses(401, 403, 404, 422))
def patient_outcomes(
    patient_id: PatientId,
    auditor: AuditDep,
    user: CurrentUser,
    plan_id: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="default: the latest plan")
    ] = None,
) -> OutcomesOut:
    """Each instrument's scores over time (change from the first and previous score, and
    whether it is a meaningful change), and against the plan: each goal's status, responder
    status at 6 and 12 months on the region's primary instrument, and which completion
    criteria still fail."""
    with auditor.patient("care.outcome.read", patient_id):
        session = auditor.session
        results = care_records.instrument_results(
            session, organization_id=user.organization_id, patient_id=patient_id
        )
        if plan_id is None:
            plans = care_records.list_plans(
                session, organization_id=user.organization_id, patient_id=patient_id, limit=10_000
            )
            row = plans[-1] if plans else None
        else:
            row = care_records.get_plan(
                session,
                organization_id=user.organization_id,
                patient_id=patient_id,
                plan_id=plan_id,
            )
            if row is None:
                raise ApiProblem(404, f"patient {patient_id} has no care plan {plan_id}")
        checks = [] if row is None else care_records.goal_checks(session, plan_id=row.id)
        statuses = [] if row is None else care_records.care_task_statuses(session, plan_id=row.id)
    curves = {
        name: [TrajectoryPointOut(**vars_of(p)) for p in points]
        for name, points in trajectories(results).items()
    }
    if row is None:
        return OutcomesOut(
            patient_id=patient_id,
            plan_id=None,
            primary_instrument=None,
            baseline_on=None,
            trajectories=curves,
            goals=[],
            responder_6m=None,
            responder_12m=None,
            completion=None,
        )
    plan = care_records.plan_of(row)
    primary = PRIMARY_INSTRUMENT[row.region]  # type: ignore[index]
    everything: list[InstrumentResult | GoalCheck] = [*results, *checks]
    completion = completion_status(plan, task_statuses=statuses, results=everything)
    return OutcomesOut(
        patient_id=patient_id,
        plan_id=row.id,
        primary_instrument=primary,
        baseline_on=row.start_on,
        trajectories=curves,
        goals=[
            GoalStatusOut(goal=care_records.to_json(g), status=goal_status(g, everything))
            for g in plan.goals
        ],
        responder_6m=responder_status(primary, results, baseline_on=row.start_on, months=6),
        responder_12m=responder_status(primary, results, baseline_on=row.start_on, months=12),
        completion=CompletionStatusOut(met=completion.met, unmet=list(completion.unmet)),
    )


def vars_of(point: Any) -> dict[str, Any]:
    return {
        "date": point.date,
        "score": point.score,
        "change_from_first": point.change_from_first,
        "change_from_previous": point.change_from_previous,
        "status_from_first": point.status_from_first,
        "status_from_previous": point.status_from_previous,
    }


@router.get("/care/cohort", responses=error_responses(401, 403, 422))
def cohort(auditor: AuditDep, user: CurrentUser) -> CohortOut:
    """The organization's patients with a care plan: counts by course and etiology, responders
    at 6 and 12 months (of those measured: lost to follow-up is not non-response), and work
    status at baseline and at 12 months."""
    with auditor.operation("care.cohort.read"):
        rows = care_records.cohort_rows(auditor.session, organization_id=user.organization_id)
    report = cohort_report(rows)

    def count(c: Any) -> ResponderCountOut:
        return ResponderCountOut(responders=c.responders, measured=c.measured, rate=c.rate)

    return CohortOut(
        patients=report.patients,
        by_course=dict(report.by_course),
        by_etiology=dict(report.by_etiology),
        by_course_and_etiology=[
            CourseEtiologyOut(course=course, etiology=etiology, patients=n)
            for (course, etiology), n in report.by_course_and_etiology.items()
        ],
        responders_6m=count(report.responders_6m),
        responders_12m=count(report.responders_12m),
        work_status_baseline=dict(report.work_status_baseline),
        work_status_12m=dict(report.work_status_12m),
    )


@router.get(
    "/care/cohort.csv",
    response_class=Response,
    responses={
        200: {
            "description": "one row per patient, columns in `COHORT_COLUMNS` order",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **error_responses(401, 403, 422),
    },
)
def cohort_as_csv(auditor: AuditDep, user: CurrentUser) -> Response:
    """The cohort as CSV (RFC 4180: header row, CRLF line ends), one row per patient:
    patient_id, region, course, etiology, baseline_on, work_status_baseline, work_status_12m,
    responder_6m, responder_12m."""
    with auditor.operation("care.cohort.read"):
        rows = care_records.cohort_rows(auditor.session, organization_id=user.organization_id)
    return Response(
        content=cohort_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="cohort.csv"'},
    )
