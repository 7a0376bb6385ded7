"""Outcomes: a patient's questionnaire trajectories with meaningful-change status, the plan's
goals and responder status; the organization's cohort report as JSON or CSV (RFC 4180)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

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
    cohort_csv,
    cohort_report,
)
from secondlook.http.deps import AccessDep, PatientId, SessionDep
from secondlook.http.problems import error_responses
from secondlook.services import care, plans

router = APIRouter(tags=["care"])


@router.get("/patients/{patient_id}/care/outcomes", responses=error_responses(401, 403, 404, 422))
def patient_outcomes(
    patient_id: PatientId,
    access: AccessDep,
    session: SessionDep,
    plan_id: Annotated[
        int | None,
        Query(ge=1, le=2**31 - 1, description="default: the current plan (never a draft)"),
    ] = None,
) -> OutcomesOut:
    """Each instrument's scores over time (change from the first and previous score, and
    whether it is a meaningful change), and against the plan: each goal's status and the score
    that meets it, responder status at 6 and 12 months on the region's primary instrument, and
    which completion criteria still fail."""
    result = care.outcomes(session, access=access, patient_id=patient_id, plan_id=plan_id)
    curves = {
        name: [TrajectoryPointOut(**vars_of(p)) for p in points]
        for name, points in result.trajectories.items()
    }
    plan = result.plan
    return OutcomesOut(
        patient_id=patient_id,
        plan_id=plan.id if plan else None,
        primary_instrument=result.primary_instrument,
        baseline_on=plan.start_on if plan else None,
        trajectories=curves,
        goals=[
            GoalStatusOut(goal=plans.to_json(g.goal), status=g.status, target=g.target)
            for g in result.goals
        ],
        responder_6m=result.responder_6m,
        responder_12m=result.responder_12m,
        completion=None
        if result.completion is None
        else CompletionStatusOut(met=result.completion.met, unmet=list(result.completion.unmet)),
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
def cohort(access: AccessDep, session: SessionDep) -> CohortOut:
    """The organization's patients with a care plan: counts by course and etiology, responders
    at 6 and 12 months (of those measured: lost to follow-up is not non-response), and work
    status at baseline and at 12 months."""
    report = cohort_report(care.cohort(session, access=access))

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
def cohort_as_csv(access: AccessDep, session: SessionDep) -> Response:
    """The cohort as CSV (RFC 4180: header row, CRLF line ends), one row per patient:
    patient_id, region, course, etiology, baseline_on, work_status_baseline, work_status_12m,
    responder_6m, responder_12m."""
    return Response(
        content=cohort_csv(care.cohort(session, access=access)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="cohort.csv"'},
    )
