"""Assessments: run the engine on a case version and keep the result; list and read them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response

from secondlook.api.schemas import AssessmentOut, AssessmentRequest, AssessmentSummary
from secondlook.api.schemas import Page as PageOf
from secondlook.http.deps import AccessDep, Page, PatientId, SessionDep, path_id
from secondlook.http.problems import error_responses
from secondlook.services import records
from secondlook.store.models import Assessment

router = APIRouter(prefix="/patients/{patient_id}/assessments", tags=["assessments"])


def _ids(items: Any) -> list[str]:
    if not isinstance(items, list):
        return []
    return [str(item["id"]) for item in items if isinstance(item, dict) and "id" in item]


def summary(assessment: Assessment, case_version: int) -> AssessmentSummary:
    return AssessmentSummary(
        id=assessment.id,
        patient_id=assessment.patient_id,
        case_version=case_version,
        knowledge_version=assessment.knowledge_version,
        engine_version=assessment.engine_version,
        created_at=assessment.created_at,
        created_by=assessment.created_by,
        red_flags=_ids(assessment.document.get("red_flags")),
        safety_alerts=_ids(assessment.document.get("safety_alerts")),
        href=f"/api/v1/patients/{assessment.patient_id}/assessments/{assessment.id}",
    )


def full(assessment: Assessment, case_version: int) -> AssessmentOut:
    return AssessmentOut(
        **summary(assessment, case_version).model_dump(), document=assessment.document
    )


@router.post("", status_code=201, responses=error_responses(401, 403, 404, 409, 422))
def run_assessment(
    patient_id: PatientId,
    session: SessionDep,
    access: AccessDep,
    response: Response,
    body: Annotated[AssessmentRequest | None, Body()] = None,
) -> AssessmentOut:
    """Assess the current case version (or `case_version`) and store the assessment with the
    knowledge and engine versions that produced it."""
    assessment, version = records.assess(
        session,
        access=access,
        patient_id=patient_id,
        case_version=body.case_version if body else None,
    )
    out = full(assessment, version.number)
    response.headers["Location"] = out.href
    return out


@router.get("", responses=error_responses(401, 403, 404, 422))
def list_assessments(
    patient_id: PatientId, session: SessionDep, access: AccessDep, page: Page, request: Request
) -> PageOf[AssessmentSummary]:
    """The patient's assessments, oldest first (summaries; GET one for its document)."""
    rows = records.assessments(
        session, access=access, patient_id=patient_id, limit=page.limit + 1, after=page.position
    )
    rows, next_page = page.cut(rows, request, lambda row: row.assessment.id)
    return PageOf[AssessmentSummary](
        items=[summary(r.assessment, r.case_version) for r in rows], next=next_page
    )


@router.get("/{assessment_id}", responses=error_responses(401, 403, 404, 422))
def read_assessment(
    patient_id: PatientId,
    assessment_id: Annotated[int, path_id("the assessment's id")],
    session: SessionDep,
    access: AccessDep,
) -> AssessmentOut:
    found = records.read_assessment(
        session, access=access, patient_id=patient_id, assessment_id=assessment_id
    )
    return full(found.assessment, found.case_version)
