"""A patient's clinical record as every surface uses it: the patient, the case document and its
versions, the assessments made from them, questionnaire responses and the history of all three.
The REST API, the clinic pages and the portal ask here, so none can disagree with another about
who may see what or what a refusal says.

Functions named for an act (``read_patient``, ``save_case``, ``assess``...) authorize and audit
it (``services.unit.audited``); the ``*_in`` helpers read the same inside a scope that is
already audited (a page that shows several things under one audit event). Lists take ``limit``
and where the page starts (``after``, the last key seen, or ``offset``) and return the rows: the
caller fetches one more than it shows to learn whether there is a next page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session

from secondlook.care.warnings import PatientWarning, SiteContacts, Translate, patient_warnings
from secondlook.knowledge import default_knowledge
from secondlook.platform import clock
from secondlook.platform.access import Access
from secondlook.platform.errors import FieldProblem, NotFound, Refused
from secondlook.platform.preconditions import IfMatchVersion
from secondlook.services.unit import audited
from secondlook.store import care_records, flows, records
from secondlook.store.models import Assessment, CaseVersion, Patient, QuestionnaireResponse
from secondlook.store.records import HistoryEntry as HistoryEntry

#: How many patients a name search returns at most.
SEARCH_LIMIT = 50

# -- patients -------------------------------------------------------------------------------------


def list_patients(session: Session, *, access: Access, limit: int, after: int = 0) -> list[Patient]:
    """The organization's patients by id, after the id ``after``. A patient sees only their own
    record (an account that links to none sees none)."""
    principal = access.principal
    only_id = (principal.patient_id or 0) if principal.role == "patient" else None
    with audited(session, access, "patient.list") as scope:
        rows = records.list_patients(
            session,
            organization_id=access.organization_id,
            limit=limit,
            after_id=after,
            only_id=only_id,
        )
        scope.disclosed = [p.id for p in rows]
        return rows


def search_patients(
    session: Session, *, access: Access, query: str, limit: int = SEARCH_LIMIT
) -> list[Patient]:
    """Patients whose name contains ``query`` (any case) or whose MRN is ``query``; audited as
    a list of patients (a search is one)."""
    principal = access.principal
    with audited(session, access, "patient.list") as scope:
        rows = records.search_patients(
            session, organization_id=access.organization_id, query=query, limit=limit
        )
        if principal.role == "patient":
            rows = [p for p in rows if p.id == principal.patient_id]
        scope.disclosed = [p.id for p in rows]
        return rows


def create_patient(
    session: Session,
    *,
    access: Access,
    name: str,
    mrn: str | None = None,
    birth_date: dt.date | None = None,
) -> Patient:
    """A new patient of the organization (409 when another patient has the MRN)."""
    with audited(session, access, "patient.create") as scope:
        scope.status = 201
        patient = records.create_patient(
            session,
            organization_id=access.organization_id,
            name=name,
            mrn=mrn,
            birth_date=birth_date,
        )
        scope.patient_id = patient.id
        return patient


def read_patient(session: Session, *, access: Access, patient_id: int) -> Patient:
    """The patient (404 when the actor cannot see it)."""
    with audited(session, access, "patient.read", patient_id=patient_id) as scope:
        assert scope.patient is not None
        return scope.patient


def update_patient(
    session: Session,
    *,
    access: Access,
    patient_id: int,
    expected: IfMatchVersion,
    changes: Mapping[str, Any],
) -> Patient:
    """Change the fields in ``changes`` if the patient is still at the version the caller read
    (428 without one, 412 when someone else wrote in between, 409 for a taken MRN)."""
    with audited(session, access, "patient.update", patient_id=patient_id):
        return records.update_patient(
            session,
            organization_id=access.organization_id,
            patient_id=patient_id,
            expected_version=expected.required(),
            changes=dict(changes),
        )


# -- the case document ----------------------------------------------------------------------------


class ExpectedVersion(Protocol):
    """What a writer names as the version it read, asked for only once the act is authorized
    (so a caller who may not write learns that first): :class:`IfMatchVersion`, or an
    adapter's rule that also allows creating the first version."""

    def required(self) -> int: ...


def no_case(patient_id: int) -> Refused:
    return Refused(
        404,
        f"patient {patient_id} has no case document yet; PUT one with If-None-Match: *",
        kind="no-case",
    )


def case_version_in(
    session: Session, *, organization_id: int, patient_id: int, number: int | None = None
) -> CaseVersion | None:
    """The current case version, or the one numbered ``number``; None without one."""
    return records.get_case_version(
        session, organization_id=organization_id, patient_id=patient_id, number=number
    )


def read_case(
    session: Session, *, access: Access, patient_id: int, number: int | None = None
) -> CaseVersion:
    """The current case version (404 ``no-case`` without one), or the version numbered
    ``number`` (404 without it)."""
    with audited(session, access, "case.read", patient_id=patient_id):
        version = case_version_in(
            session, organization_id=access.organization_id, patient_id=patient_id, number=number
        )
        if version is None:
            if number is None:
                raise no_case(patient_id)
            raise Refused(404, f"patient {patient_id} has no case version {number}")
        return version


def case_for_editing(
    session: Session, *, access: Access, patient_id: int
) -> tuple[Patient, CaseVersion | None]:
    """The patient and their current case version (None before the first), as the case editor
    opens it: one ``case.read``."""
    with audited(session, access, "case.read", patient_id=patient_id) as scope:
        assert scope.patient is not None
        version = case_version_in(
            session, organization_id=access.organization_id, patient_id=patient_id
        )
        return scope.patient, version


def case_versions(
    session: Session, *, access: Access, patient_id: int, limit: int, after: int = 0
) -> list[CaseVersion]:
    """The patient's case versions by number, after the number ``after``."""
    with audited(session, access, "case.read", patient_id=patient_id):
        return records.list_case_versions(
            session,
            organization_id=access.organization_id,
            patient_id=patient_id,
            limit=limit,
            after_number=after,
        )


def save_case(
    session: Session,
    *,
    access: Access,
    patient_id: int,
    expected: int | ExpectedVersion,
    document: object,
) -> CaseVersion:
    """Validate ``document`` (422 listing every problem) and store it as the patient's next case
    version, if ``expected`` is still the current version (0: there is none yet; 412 when
    someone else saved in between)."""
    with audited(session, access, "case.write", patient_id=patient_id) as scope:
        scope.status = 201
        return flows.save_case(
            session,
            organization_id=access.organization_id,
            patient_id=patient_id,
            expected_version=expected if isinstance(expected, int) else expected.required(),
            document=document,
            user_id=access.principal.user_id,
        )


def save_case_in(
    session: Session, *, access: Access, patient_id: int, expected: int, document: object
) -> CaseVersion:
    """``save_case`` inside an act already audited (a diagnostic task's result, stored with
    the task's completion in one transaction)."""
    return flows.save_case(
        session,
        organization_id=access.organization_id,
        patient_id=patient_id,
        expected_version=expected,
        document=document,
        user_id=access.principal.user_id,
    )


# -- assessments ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NumberedAssessment:
    """An assessment with the number of the case version it was made from."""

    assessment: Assessment
    case_version: int


def assess(
    session: Session, *, access: Access, patient_id: int, case_version: int | None = None
) -> tuple[Assessment, CaseVersion]:
    """Assess the current case version (or the one numbered ``case_version``) and store the
    assessment with the knowledge and engine versions that made it; 409 ``no-case`` without
    that version."""
    with audited(session, access, "assessment.create", patient_id=patient_id) as scope:
        scope.status = 201
        try:
            return flows.assess_and_store(
                session,
                organization_id=access.organization_id,
                patient_id=patient_id,
                user_id=access.principal.user_id,
                case_version_number=case_version,
            )
        except NotFound:
            raise Refused(
                409,
                f"patient {patient_id} has no case version to assess"
                + (f" numbered {case_version}" if case_version else "")
                + "; PUT a case document first",
                kind="no-case",
            ) from None


def assessments(
    session: Session, *, access: Access, patient_id: int, limit: int, after: int = 0
) -> list[NumberedAssessment]:
    """The patient's assessments, oldest first, after the id ``after``."""
    with audited(session, access, "assessment.read", patient_id=patient_id):
        rows = records.list_assessments(
            session,
            organization_id=access.organization_id,
            patient_id=patient_id,
            limit=limit,
            after_id=after,
        )
        numbers = records.case_version_numbers(session, ids=[a.case_version_id for a in rows])
        return [NumberedAssessment(a, numbers[a.case_version_id]) for a in rows]


def read_assessment(
    session: Session, *, access: Access, patient_id: int, assessment_id: int
) -> NumberedAssessment:
    """One assessment of the patient (404 without it)."""
    with audited(session, access, "assessment.read", patient_id=patient_id):
        assessment = records.get_assessment(
            session,
            organization_id=access.organization_id,
            patient_id=patient_id,
            assessment_id=assessment_id,
        )
        if assessment is None:
            raise Refused(404, f"patient {patient_id} has no assessment {assessment_id}")
        numbers = records.case_version_numbers(session, ids=[assessment.case_version_id])
        return NumberedAssessment(assessment, numbers[assessment.case_version_id])


def latest_assessment_in(
    session: Session, *, organization_id: int, patient_id: int
) -> Assessment | None:
    """The patient's newest assessment, None before the first (the same one the conference and
    plan pages work from: the care store keeps that query)."""
    return care_records.latest_assessment(
        session, organization_id=organization_id, patient_id=patient_id
    )


@dataclass(frozen=True)
class Overview:
    """What a patient's page shows of the record: the newest assessment (with the case
    version it was made from and that version's assessment date), whether the case has changed
    since, and every questionnaire response."""

    patient: Patient
    assessment: Assessment | None
    assessed_on: str
    stale: bool
    responses: list[QuestionnaireResponse]


def overview_in(session: Session, *, organization_id: int, patient: Patient) -> Overview:
    assessment = latest_assessment_in(
        session, organization_id=organization_id, patient_id=patient.id
    )
    responses = questionnaires_in(session, organization_id=organization_id, patient_id=patient.id)
    assessed_on = ""
    stale = False
    if assessment is not None:
        numbers = records.case_version_numbers(session, ids=[assessment.case_version_id])
        number = numbers.get(assessment.case_version_id)
        stale = number != patient.case_version
        version = case_version_in(
            session, organization_id=organization_id, patient_id=patient.id, number=number
        )
        if version is not None:
            assessed_on = str(version.document.get("assessed_on", ""))
    return Overview(patient, assessment, assessed_on, stale, responses)


#: How far back a questionnaire's safety alert is still put before the patient. The PHQ-9 asks
#: about the last two weeks (Kroenke 2001); a month covers that period twice over.
RECENT_ANSWERS_DAYS = 30


def patient_warnings_of(
    *,
    document: Mapping[str, Any] | None,
    responses: Sequence[QuestionnaireResponse],
    contacts: SiteContacts,
    today: dt.date | None = None,
    translate: Translate | None = None,
) -> list[PatientWarning]:
    """What the patient must be told to do now (``care.warnings``), from what a page already
    read of the record (:func:`latest_assessment_in`, :func:`questionnaires_in`): the newest
    assessment's red flags and safety alerts, and the safety alerts of the questionnaires
    answered in the last :data:`RECENT_ANSWERS_DAYS` days, which an assessment may not have
    seen. ``translate`` gives the words in the patient's language (English without it)."""
    document = document or {}
    since = (today or clock.today()) - dt.timedelta(days=RECENT_ANSWERS_DAYS)
    alert_ids = [str(a.get("id")) for a in document.get("safety_alerts") or [] if a.get("id")]
    for response in reversed(responses):
        if response.answered_on >= since:
            alert_ids += [str(a) for a in response.alerts]
    return patient_warnings(
        red_flags=[f for f in document.get("red_flags") or [] if isinstance(f, dict)],
        alert_ids=alert_ids,
        knowledge=default_knowledge(),
        contacts=contacts,
        translate=translate,
    )


# -- questionnaires -------------------------------------------------------------------------------


def submit_questionnaire(
    session: Session,
    *,
    access: Access,
    patient_id: int,
    instrument: str,
    answers: Sequence[int | None],
    answered_on: dt.date | None = None,
    total: float | None = None,
    on_paper: bool = False,
) -> QuestionnaireResponse:
    """Score the answers (422 when they do not fit the instrument) and store them with the
    score, band and every safety alert they raise; ``answered_on`` defaults to today. The one
    way a questionnaire is recorded: in the portal, through the API, or ``on_paper`` (a form
    the patient filled in on paper, entered by the acting clinician, who is recorded with the
    time; ``total`` when only the total was kept). Whatever the way, it is one response that
    outcomes, charts, goals and due lists read, and its alerts are raised alike."""
    with audited(session, access, "questionnaire.create", patient_id=patient_id) as scope:
        scope.status = 201
        day = answered_on or clock.today()
        if on_paper and access.principal.role not in ("clinician", "coordinator"):
            raise Refused(
                403,
                "only a clinician or coordinator enters a questionnaire answered on paper",
            )
        if on_paper and day > clock.today():
            raise Refused(
                422,
                f"answered_on {day} is in the future",
                kind="request-invalid",
                errors=[FieldProblem("$.answered_on", "cannot be after today")],
            )
        return flows.submit_questionnaire(
            session,
            organization_id=access.organization_id,
            patient_id=patient_id,
            instrument=instrument,
            answers=answers,
            answered_on=day,
            user_id=access.principal.user_id,
            total=total,
            source="paper" if on_paper else None,
        )


def questionnaires(
    session: Session, *, access: Access, patient_id: int, limit: int, after: int = 0
) -> list[QuestionnaireResponse]:
    """The patient's questionnaire responses by id, after the id ``after``."""
    with audited(session, access, "questionnaire.read", patient_id=patient_id):
        return records.list_questionnaire_responses(
            session,
            organization_id=access.organization_id,
            patient_id=patient_id,
            limit=limit,
            after_id=after,
        )


def questionnaires_in(
    session: Session, *, organization_id: int, patient_id: int, limit: int = 1000
) -> list[QuestionnaireResponse]:
    """The patient's questionnaire responses by id (the first ``limit``)."""
    return records.list_questionnaire_responses(
        session, organization_id=organization_id, patient_id=patient_id, limit=limit
    )


# -- history --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class History:
    """History entries in time order, and the number of the case version each assessment among
    them was made from (by case version id)."""

    entries: list[HistoryEntry]
    case_versions: dict[int, int]


def history(
    session: Session, *, access: Access, patient_id: int, limit: int, offset: int = 0
) -> History:
    """The patient's case versions, assessments and questionnaire responses in time order,
    ``limit`` of them from ``offset`` (records are append-only, so offsets stay stable)."""
    with audited(session, access, "history.read", patient_id=patient_id):
        entries = records.history(
            session,
            organization_id=access.organization_id,
            patient_id=patient_id,
            limit=limit,
            offset=offset,
        )
        numbers = records.case_version_numbers(
            session,
            ids=[e.record.case_version_id for e in entries if isinstance(e.record, Assessment)],
        )
        return History(entries, numbers)
