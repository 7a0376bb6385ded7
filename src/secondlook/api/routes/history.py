"""A patient's history: case versions, assessments and questionnaire responses in time order."""

from __future__ import annotations

from fastapi import APIRouter, Request

from secondlook.api.routes import assessments, cases, questionnaires
from secondlook.api.schemas import HistoryItem
from secondlook.api.schemas import Page as PageOf
from secondlook.http.deps import AccessDep, Page, PatientId, SessionDep
from secondlook.http.problems import error_responses
from secondlook.services import records
from secondlook.services.records import HistoryEntry
from secondlook.store.models import Assessment, CaseVersion, QuestionnaireResponse

router = APIRouter(prefix="/patients/{patient_id}/history", tags=["history"])


def item(entry: HistoryEntry, numbers: dict[int, int]) -> HistoryItem:
    record = entry.record
    if isinstance(record, CaseVersion):
        return HistoryItem(
            kind="case_version",
            at=entry.at,
            id=record.id,
            href=cases.summary(record).href,
            version=record.number,
        )
    if isinstance(record, Assessment):
        summary = assessments.summary(record, numbers[record.case_version_id])
        return HistoryItem(
            kind="assessment",
            at=entry.at,
            id=record.id,
            href=summary.href,
            case_version=summary.case_version,
            knowledge_version=summary.knowledge_version,
            engine_version=summary.engine_version,
            red_flags=summary.red_flags,
            safety_alerts=summary.safety_alerts,
        )
    assert isinstance(record, QuestionnaireResponse)
    return HistoryItem(
        kind="questionnaire_response",
        at=entry.at,
        id=record.id,
        href=questionnaires.href(record),
        instrument=record.instrument,
        score=record.score,
        band=record.band,
        alerts=record.alerts,
    )


@router.get("", responses=error_responses(401, 403, 404, 422))
def read_history(
    patient_id: PatientId, session: SessionDep, access: AccessDep, page: Page, request: Request
) -> PageOf[HistoryItem]:
    found = records.history(
        session, access=access, patient_id=patient_id, limit=page.limit + 1, offset=page.position
    )
    entries, next_page = page.cut(found.entries, request, lambda _: page.position + page.limit)
    return PageOf[HistoryItem](
        items=[item(e, found.case_versions) for e in entries], next=next_page
    )
