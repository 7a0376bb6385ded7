"""Questionnaire responses: score and keep answers; safety alerts come back in the response."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from secondlook.api.schemas import Page as PageOf
from secondlook.api.schemas import QuestionnaireIn, QuestionnaireOut
from secondlook.http.deps import AccessDep, Page, PatientId, SessionDep
from secondlook.http.problems import error_responses
from secondlook.services import records
from secondlook.store.models import QuestionnaireResponse

router = APIRouter(prefix="/patients/{patient_id}/questionnaires", tags=["questionnaires"])


def href(response: QuestionnaireResponse) -> str:
    return f"/api/v1/patients/{response.patient_id}/questionnaires/{response.id}"


def out(response: QuestionnaireResponse) -> QuestionnaireOut:
    return QuestionnaireOut(
        id=response.id,
        patient_id=response.patient_id,
        instrument=response.instrument,
        answered_on=response.answered_on,
        answers=response.answers,
        score=response.score,
        max_score=response.max_score,
        band=response.band,
        subscales=response.subscales,
        alerts=response.alerts,
        problems=response.problems,
        source=response.source,
        created_at=response.created_at,
        created_by=response.created_by,
        href=href(response),
    )


@router.post("", status_code=201, responses=error_responses(401, 403, 404, 422))
def submit_questionnaire(
    patient_id: PatientId,
    body: QuestionnaireIn,
    session: SessionDep,
    access: AccessDep,
    response: Response,
) -> QuestionnaireOut:
    """Score the answers and store them. `alerts` lists every safety alert the answers raise
    (for example `self-harm-risk` for any positive answer to PHQ-9 item 9). A paper form is
    entered with `on_paper` (by a clinician or coordinator), as item answers or its `total`."""
    stored = records.submit_questionnaire(
        session,
        access=access,
        patient_id=patient_id,
        instrument=body.instrument,
        answers=body.answers,
        answered_on=body.answered_on,
        total=body.total,
        on_paper=body.on_paper,
    )
    result = out(stored)
    response.headers["Location"] = result.href
    return result


@router.get("", responses=error_responses(401, 403, 404, 422))
def list_questionnaires(
    patient_id: PatientId, session: SessionDep, access: AccessDep, page: Page, request: Request
) -> PageOf[QuestionnaireOut]:
    rows = records.questionnaires(
        session, access=access, patient_id=patient_id, limit=page.limit + 1, after=page.position
    )
    rows, next_page = page.cut(rows, request, lambda row: row.id)
    return PageOf[QuestionnaireOut](items=[out(r) for r in rows], next=next_page)
