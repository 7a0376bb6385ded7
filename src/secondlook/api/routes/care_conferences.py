"""Case conferences: the team's review of a patient's assessment (agenda, attendees, decisions,
dissent). A conference is a record of a meeting: it is stored once and never changed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response

from secondlook.api.routes.care_schemas import ConferenceIn, ConferenceOut
from secondlook.api.schemas import Page as PageOf
from secondlook.care import Attendee
from secondlook.http.deps import AccessDep, Page, PatientId, SessionDep, path_id
from secondlook.http.problems import error_responses
from secondlook.services import plans
from secondlook.store.care_models import CareConference

router = APIRouter(prefix="/patients/{patient_id}/care/conferences", tags=["care"])


def href(conference: CareConference) -> str:
    return f"/api/v1/patients/{conference.patient_id}/care/conferences/{conference.id}"


def out(conference: CareConference) -> ConferenceOut:
    return ConferenceOut(
        id=conference.id,
        patient_id=conference.patient_id,
        assessment_id=conference.assessment_id,
        held_on=conference.held_on,
        case_id=conference.case_id,
        knowledge_version=conference.knowledge_version,
        engine_version=conference.engine_version,
        attendees=conference.attendees,
        agenda=conference.agenda,
        decisions=conference.decisions,
        created_at=conference.created_at,
        created_by=conference.created_by,
        href=href(conference),
    )


@router.post("", status_code=201, responses=error_responses(401, 403, 404, 422))
def record_conference(
    patient_id: PatientId,
    body: ConferenceIn,
    access: AccessDep,
    session: SessionDep,
    response: Response,
) -> ConferenceOut:
    """Record a case conference about one of the patient's assessments. The agenda is the
    assessment's (red flags, safety alerts, then the five perspectives); decisions may point at
    an agenda item; dissent is by an attendee. Every problem is reported at once (422)."""
    conference = plans.create_conference(
        session,
        access=access,
        patient_id=patient_id,
        assessment_id=body.assessment_id,
        held_on=body.held_on,
        attendees=[Attendee(a.name, a.discipline, a.user_id) for a in body.attendees],
        decisions=[d.model_dump() for d in body.decisions],
    )
    result = out(conference)
    response.headers["Location"] = result.href
    return result


@router.get("", responses=error_responses(401, 403, 404, 422))
def list_conferences(
    patient_id: PatientId, access: AccessDep, session: SessionDep, page: Page, request: Request
) -> PageOf[ConferenceOut]:
    """The patient's case conferences, oldest first."""
    rows = plans.list_conferences(
        session,
        access=access,
        patient_id=patient_id,
        limit=page.limit + 1,
        after_id=page.position,
    )
    rows, next_page = page.cut(rows, request, lambda row: row.id)
    return PageOf[ConferenceOut](items=[out(c) for c in rows], next=next_page)


@router.get("/{conference_id}", responses=error_responses(401, 403, 404, 422))
def read_conference(
    patient_id: PatientId,
    conference_id: Annotated[int, path_id("the conference's id")],
    access: AccessDep,
    session: SessionDep,
) -> ConferenceOut:
    conference = plans.read_conference(
        session, access=access, patient_id=patient_id, conference_id=conference_id
    )
    return out(conference)
