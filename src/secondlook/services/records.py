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
from secondlook.case.facts import DAYS_PER_MONTH
from secondlook.case.words import word
from secondlook.knowledge import default_knowledge
from secondlook.platform import clock
from secondlook.platform.access import Access
from secondlook.platform.errors import FieldProblem, NotFound, Refused
from secondlook.platform.preconditions import IfMatchVersion
from secondlook.services import alerts
from secondlook.services.unit import audited
from secondlook.store import care_records, flows, records
from secondlook.store.models import Assessment, CaseVersion, Patient, QuestionnaireResponse
from secondlook.store.records import PATIENT_SORTS, PatientSort
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


def _invalid(path: str, message: str) -> Refused:
    return Refused(
        422,
        f"{path[2:]}: {message}",
        kind="request-invalid",
        errors=[FieldProblem(path, message)],
    )


@dataclass(frozen=True)
class OpenAlerts:
    """A patient's unresolved alerts as the patient list shows them (``services.alerts``)."""

    count: int
    severity: str
    severity_label: str


@dataclass(frozen=True)
class PatientPage:
    """One page of the patient list: the patients, the cursors of the next and previous pages
    (a patient's id: opaque, no name or date in a URL; None at either end), and each listed
    patient's unresolved alerts (absent: none)."""

    patients: list[Patient]
    sort: PatientSort
    next_after: int | None
    previous_before: int | None
    open_alerts: dict[int, OpenAlerts]
    # Today's age of each listed patient with a birth date on record.
    ages: dict[int, int]


def patient_list(
    session: Session,
    *,
    access: Access,
    sort: PatientSort = "name",
    limit: int,
    after: int | None = None,
    before: int | None = None,
) -> PatientPage:
    """A page of the organization's patients for the clinic's list, in the order ``sort``,
    after the patient ``after`` or before the patient ``before``, with their open alerts (one
    query for the page). A cursor that is not a patient of the organization is a 422 naming
    the parameter. Audited as ``patient.list`` disclosing the patients shown."""
    if sort not in PATIENT_SORTS:
        raise _invalid(
            "$.sort", f"unknown order {str(sort)[:40]!r}; one of: " + ", ".join(PATIENT_SORTS)
        )
    with audited(session, access, "patient.list") as scope:
        rows = records.list_patients_sorted(
            session,
            organization_id=access.organization_id,
            sort=sort,
            limit=limit + 1,
            after_id=after,
            before_id=before,
        )
        if rows is None:
            name = "after" if after is not None else "before"
            raise _invalid(f"$.{name}", "is not a patient of this list: start from the first page")
        more = len(rows) > limit
        if before is not None:
            shown = rows[-limit:] if more else rows
            next_after = shown[-1].id if shown else None
            previous_before = shown[0].id if more and shown else None
        else:
            shown = rows[:limit]
            next_after = shown[-1].id if more and shown else None
            previous_before = shown[0].id if after is not None and shown else None
        scope.disclosed = [p.id for p in shown]
        return _page(session, access, shown, sort, next_after, previous_before)


def _page(
    session: Session,
    access: Access,
    shown: list[Patient],
    sort: PatientSort,
    next_after: int | None,
    previous_before: int | None,
) -> PatientPage:
    found = alerts.open_summary_in(
        session, organization_id=access.organization_id, patient_ids=[p.id for p in shown]
    )
    day = clock.today()
    return PatientPage(
        patients=shown,
        sort=sort,
        next_after=next_after,
        previous_before=previous_before,
        open_alerts={
            pid: OpenAlerts(count, severity, alerts.SEVERITY_LABELS.get(severity, severity))
            for pid, (count, severity) in found.items()
        },
        ages={p.id: _years_between(p.birth_date, day) for p in shown if p.birth_date},
    )


def search_patient_page(
    session: Session, *, access: Access, query: str, limit: int = SEARCH_LIMIT
) -> PatientPage:
    """:func:`search_patients` as the clinic's list shows it, with the open alerts and ages
    of the patients found (by name; one page, no cursor)."""
    with audited(session, access, "patient.list") as scope:
        rows = _search_in(session, access, query, limit)
        scope.disclosed = [p.id for p in rows]
        return _page(session, access, rows, "name", None, None)


def search_patients(
    session: Session, *, access: Access, query: str, limit: int = SEARCH_LIMIT
) -> list[Patient]:
    """Patients whose name contains ``query`` (any case) or whose MRN is ``query``; audited as
    a list of patients (a search is one)."""
    with audited(session, access, "patient.list") as scope:
        rows = _search_in(session, access, query, limit)
        scope.disclosed = [p.id for p in rows]
        return rows


def _search_in(session: Session, access: Access, query: str, limit: int) -> list[Patient]:
    rows = records.search_patients(
        session, organization_id=access.organization_id, query=query, limit=limit
    )
    if access.principal.role == "patient":
        rows = [p for p in rows if p.id == access.principal.patient_id]
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


@dataclass(frozen=True)
class SurgeryLine:
    """One operation as the header of the patient's page names it (in words, newest first)."""

    date: dt.date
    # "year" or "month" when the record gave only that much of the date (docs/contract.md)
    date_precision: str | None
    procedure: str
    levels: list[str]
    side: str | None


@dataclass(frozen=True)
class PatientHeader:
    """Who the patient is, as a clinician reads it at the top of the page: age, sex, the
    operated region, the operations (newest first) and how long ago the last one was. Every
    part is None (or empty) when the record does not say it: unknown is shown as unknown."""

    age: int | None
    # Where the age comes from: "birth-date" (today's age), "case" (the age the case gives,
    # as of its evaluation on ``age_on``), or None when neither records it.
    age_source: str | None
    age_on: dt.date | None
    sex: str | None
    region: str | None
    surgeries: list[SurgeryLine]
    months_since_last_surgery: float | None
    # The last surgery's date is only a year or a month: the months are as approximate.
    months_approximate: bool


def _years_between(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def patient_header(
    patient: Patient, document: Mapping[str, Any] | None, *, today: dt.date | None = None
) -> PatientHeader:
    """The header of the patient's page from the patient record and the current case document
    (validated when stored). The months since the last surgery count to today, as the header
    is read today; the classification keeps the months to the case's ``assessed_on``."""
    day = today or clock.today()
    document = document or {}
    facts = document.get("patient") if isinstance(document.get("patient"), Mapping) else {}
    assert isinstance(facts, Mapping)
    age: int | None = None
    source: str | None = None
    age_on: dt.date | None = None
    if patient.birth_date is not None:
        age, source, age_on = _years_between(patient.birth_date, day), "birth-date", day
    elif isinstance(facts.get("age"), int):
        age, source = int(facts["age"]), "case"
        try:
            age_on = dt.date.fromisoformat(str(document.get("assessed_on")))
        except ValueError:
            age_on = None
    sex = facts.get("sex")
    surgeries: list[SurgeryLine] = []
    for s in document.get("surgeries") or []:
        if not isinstance(s, Mapping):
            continue
        try:
            on = dt.date.fromisoformat(str(s.get("date")))
        except ValueError:
            continue
        surgeries.append(
            SurgeryLine(
                date=on,
                date_precision=str(s["date_precision"]) if s.get("date_precision") else None,
                procedure=word(str(s.get("procedure") or "other")),
                levels=[str(x) for x in s.get("levels") or []],
                side=word(str(s["side"])) if s.get("side") else None,
            )
        )
    surgeries.sort(key=lambda x: x.date, reverse=True)
    months = None
    approximate = False
    if surgeries:
        # The same month length as the classification's months (case.facts.DAYS_PER_MONTH).
        months = round(max(0, (day - surgeries[0].date).days) / DAYS_PER_MONTH, 1)
        approximate = surgeries[0].date_precision is not None
    region = document.get("region")
    return PatientHeader(
        age=age,
        age_source=source,
        age_on=age_on,
        sex=str(sex) if sex and sex != "unknown" else None,
        region=str(region) if region else None,
        surgeries=surgeries,
        months_since_last_surgery=months,
        months_approximate=approximate,
    )


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
