"""Patients and their clinical records. Every function takes the organization and filters by it,
so a caller cannot reach another organization's data by passing an id."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from sqlalchemy import CursorResult, exists, literal, select, tuple_, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from secondlook.store import alerts
from secondlook.store.alert_models import Alert
from secondlook.store.errors import Conflict, NotFound, StaleVersion
from secondlook.store.models import (
    Assessment,
    CaseScore,
    CaseVersion,
    Organization,
    Patient,
    QuestionnaireResponse,
    utcnow,
)
from secondlook.store.text import search_key


def create_organization(session: Session, *, slug: str, name: str) -> Organization:
    organization = Organization(slug=slug, name=name)
    session.add(organization)
    session.flush()
    return organization


def organization_by_slug(session: Session, *, slug: str) -> Organization | None:
    return session.scalars(select(Organization).where(Organization.slug == slug)).first()


def organization_slugs(session: Session) -> list[str]:
    return list(session.scalars(select(Organization.slug).order_by(Organization.slug)))


def create_patient(
    session: Session,
    *,
    organization_id: int,
    name: str,
    mrn: str | None = None,
    birth_date: dt.date | None = None,
) -> Patient:
    now = utcnow()
    patient = Patient(
        organization_id=organization_id,
        name=name,
        mrn=mrn,
        birth_date=birth_date,
        search_text=search_key(name, mrn),
        version=1,
        case_version=0,
        created_at=now,
        updated_at=now,
    )
    session.add(patient)
    _flush_unique_mrn(session, mrn)
    return patient


def _flush_unique_mrn(session: Session, mrn: str | None) -> None:
    """Flush, turning a second patient with the same MRN in one organization into Conflict."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"another patient of the organization has MRN {mrn!r}") from exc


def get_patient(session: Session, *, organization_id: int, patient_id: int) -> Patient | None:
    return session.scalars(
        select(Patient).where(Patient.organization_id == organization_id, Patient.id == patient_id)
    ).first()


def list_patients(
    session: Session,
    *,
    organization_id: int,
    limit: int,
    after_id: int = 0,
    only_id: int | None = None,
) -> list[Patient]:
    query = select(Patient).where(Patient.organization_id == organization_id, Patient.id > after_id)
    if only_id is not None:
        query = query.where(Patient.id == only_id)
    return list(session.scalars(query.order_by(Patient.id).limit(limit)))


#: How the patient list can be ordered: by name (A to Z, ignoring case and accents), by the
#: record's last change (newest first), or by open alerts (the most urgent first, then the most).
PatientSort = Literal["name", "updated", "alerts"]
PATIENT_SORTS: tuple[PatientSort, ...] = ("name", "updated", "alerts")


def _sort_keys(sort: PatientSort) -> tuple[list[Any], bool]:
    """The ordering columns of ``sort`` (id last, so the order is total) and whether they run
    descending."""
    if sort == "name":
        # search_text is the name (then the MRN) without case or accents: "émile" sorts with
        # "emile" on SQLite and PostgreSQL alike, whatever the database's collation.
        return [Patient.search_text, Patient.id], False
    return [Patient.updated_at, Patient.id], True


def list_patients_sorted(
    session: Session,
    *,
    organization_id: int,
    sort: PatientSort,
    limit: int,
    after_id: int | None = None,
    before_id: int | None = None,
) -> list[Patient] | None:
    """The organization's patients in the order ``sort``, ``limit`` of them after (or before)
    the patient ``after_id`` (``before_id``), by keyset: the cursor is a patient's id, whose
    own sort values are read here, so no name or date ever travels in a URL. None when the
    cursor is not a patient of the organization."""
    if sort == "alerts":
        return _by_open_alerts(
            session,
            organization_id=organization_id,
            limit=limit,
            after_id=after_id,
            before_id=before_id,
        )
    keys, descending = _sort_keys(sort)
    query = select(Patient).where(Patient.organization_id == organization_id)
    cursor = after_id if after_id is not None else before_id
    forwards = before_id is None
    if cursor is not None:
        start = select(*keys).where(
            Patient.organization_id == organization_id, Patient.id == cursor
        )
        values = session.execute(start).first()
        if values is None:
            return None
        row = tuple_(*keys)
        mark = tuple_(*(literal(v, type_=k.type) for k, v in zip(keys, values, strict=True)))
        query = query.where(row > mark if forwards != descending else row < mark)
    ascending = forwards != descending
    query = query.order_by(*(k.asc() if ascending else k.desc() for k in keys)).limit(limit)
    rows = list(session.scalars(query))
    return rows if forwards else rows[::-1]


def _by_open_alerts(
    session: Session,
    *,
    organization_id: int,
    limit: int,
    after_id: int | None,
    before_id: int | None,
) -> list[Patient] | None:
    """The "open alerts" order in two parts, so that no page sorts every patient: first the
    (few) patients with unresolved alerts, the most urgent then the most alerts first (read
    from the unresolved alerts, which the inbox index covers), then everyone else by id (the
    primary key, skipping those with an open alert)."""
    found = alerts.open_by_patient(organization_id)
    ranked = sorted(
        (int(r.worst), -int(r.open), int(r.patient_id))
        for r in session.execute(select(found.c.patient_id, found.c.worst, found.c.open))
    )
    order = [pid for _, _, pid in ranked]
    position = {pid: i for i, pid in enumerate(order)}
    cursor = after_id if after_id is not None else before_id
    if (
        cursor is not None
        and cursor not in position
        and get_patient(session, organization_id=organization_id, patient_id=cursor) is None
    ):
        return None

    def loaded(ids: list[int]) -> list[Patient]:
        if not ids:
            return []
        rows = session.scalars(
            select(Patient).where(Patient.organization_id == organization_id, Patient.id.in_(ids))
        )
        by_id = {p.id: p for p in rows}
        return [by_id[i] for i in ids if i in by_id]

    def rest(*, after: int = 0, before: int | None = None, n: int) -> list[Patient]:
        query = select(Patient).where(
            Patient.organization_id == organization_id,
            ~exists().where(Alert.patient_id == Patient.id, Alert.status != "resolved"),
        )
        if before is None:
            query = query.where(Patient.id > after).order_by(Patient.id)
        else:
            query = query.where(Patient.id < before).order_by(Patient.id.desc())
        rows = list(session.scalars(query.limit(n)))
        return rows if before is None else rows[::-1]

    if before_id is None:
        if cursor is None:
            first = loaded(order[:limit])
            return first + rest(n=limit - len(first)) if len(first) < limit else first
        if cursor in position:
            at = position[cursor] + 1
            first = loaded(order[at : at + limit])
            return first + rest(n=limit - len(first)) if len(first) < limit else first
        return rest(after=cursor, n=limit)
    if cursor in position:
        at = position[cursor]
        return loaded(order[max(0, at - limit) : at])
    tail = rest(before=cursor, n=limit)
    if len(tail) < limit:
        return loaded(order[max(0, len(order) - (limit - len(tail))) :]) + tail
    return tail


def search_patients(
    session: Session, *, organization_id: int, query: str, limit: int
) -> list[Patient]:
    """Patients whose name and MRN contain every word of `query`, in any order, whatever
    the case and accents ("garcia maria" finds "María García"; "0042" finds MRN "A-00421"),
    by name."""
    words = search_key(query).split()
    if not words:
        return []
    statement = (
        select(Patient)
        .where(
            Patient.organization_id == organization_id,
            *(Patient.search_text.like(f"%{_like_escaped(w)}%", escape="\\") for w in words),
        )
        .order_by(Patient.name, Patient.id)
        .limit(limit)
    )
    return list(session.scalars(statement))


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def update_patient(
    session: Session,
    *,
    organization_id: int,
    patient_id: int,
    expected_version: int,
    changes: dict[str, Any],
) -> Patient:
    """Apply `changes` if the patient is still at `expected_version`, in one UPDATE statement."""
    allowed = {"name", "mrn", "birth_date"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"cannot change {sorted(unknown)}")
    statement = (
        update(Patient)
        .where(
            Patient.organization_id == organization_id,
            Patient.id == patient_id,
            Patient.version == expected_version,
        )
        .values(**changes, version=Patient.version + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    try:
        with session.begin_nested():
            result = _execute_update(session, statement)
    except IntegrityError as exc:
        mrn = changes.get("mrn")
        raise Conflict(f"another patient of the organization has MRN {mrn!r}") from exc
    _check_one_row(
        result.rowcount, session, organization_id, patient_id, expected_version, "version"
    )
    patient = get_patient(session, organization_id=organization_id, patient_id=patient_id)
    assert patient is not None
    session.refresh(patient)
    if {"name", "mrn"} & set(changes):
        patient.search_text = search_key(patient.name, patient.mrn)
        session.flush()
    return patient


def _execute_update(session: Session, statement: Any) -> CursorResult[Any]:
    return cast(CursorResult[Any], session.execute(statement))


def _check_one_row(
    rowcount: int,
    session: Session,
    organization_id: int,
    patient_id: int,
    expected: int,
    column: Literal["version", "case_version"],
) -> None:
    if rowcount == 1:
        return
    current = session.scalar(
        select(getattr(Patient, column)).where(
            Patient.organization_id == organization_id, Patient.id == patient_id
        )
    )
    if current is None:
        raise NotFound(f"patient {patient_id}")
    raise StaleVersion(expected=expected, current=int(current))


def append_case_version(
    session: Session,
    *,
    organization_id: int,
    patient_id: int,
    expected_version: int,
    document: dict[str, Any],
    user_id: int | None,
) -> CaseVersion:
    """Store `document` as the next case version, if `expected_version` is still the current one
    (0 when the patient has no case yet). The compare-and-increment is one UPDATE, so of two
    concurrent writers with the same expectation exactly one succeeds."""
    result = _execute_update(
        session,
        update(Patient)
        .where(
            Patient.organization_id == organization_id,
            Patient.id == patient_id,
            Patient.case_version == expected_version,
        )
        .values(case_version=Patient.case_version + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False),
    )
    _check_one_row(
        result.rowcount, session, organization_id, patient_id, expected_version, "case_version"
    )
    version = CaseVersion(
        organization_id=organization_id,
        patient_id=patient_id,
        number=expected_version + 1,
        document=document,
        created_by=user_id,
        created_at=utcnow(),
    )
    session.add(version)
    session.flush()
    return version


def get_case_version(
    session: Session, *, organization_id: int, patient_id: int, number: int | None = None
) -> CaseVersion | None:
    """The case version `number`, or the current one when `number` is None."""
    query = select(CaseVersion).where(
        CaseVersion.organization_id == organization_id, CaseVersion.patient_id == patient_id
    )
    if number is None:
        query = query.order_by(CaseVersion.number.desc()).limit(1)
    else:
        query = query.where(CaseVersion.number == number)
    return session.scalars(query).first()


def list_case_versions(
    session: Session, *, organization_id: int, patient_id: int, limit: int, after_number: int = 0
) -> list[CaseVersion]:
    return list(
        session.scalars(
            select(CaseVersion)
            .where(
                CaseVersion.organization_id == organization_id,
                CaseVersion.patient_id == patient_id,
                CaseVersion.number > after_number,
            )
            .order_by(CaseVersion.number)
            .limit(limit)
        )
    )


def store_assessment(
    session: Session,
    *,
    organization_id: int,
    patient_id: int,
    case_version: CaseVersion,
    document: dict[str, Any],
    user_id: int | None,
) -> Assessment:
    assessment = Assessment(
        organization_id=organization_id,
        patient_id=patient_id,
        case_version_id=case_version.id,
        knowledge_version=str(document["knowledge_version"]),
        engine_version=str(document["engine_version"]),
        document=document,
        created_by=user_id,
        created_at=utcnow(),
    )
    session.add(assessment)
    session.flush()
    for instrument, day, value in case_scores(document):
        session.add(
            CaseScore(
                organization_id=organization_id,
                patient_id=patient_id,
                assessment_id=assessment.id,
                instrument=instrument,
                answered_on=day,
                score=value,
            )
        )
    session.flush()
    return assessment


def case_scores(document: Mapping[str, Any]) -> list[tuple[str, dt.date, float]]:
    """(instrument, date, score) of each score an assessment document lists; one without a
    date or a number cannot be placed on a trajectory and is left out."""
    out = []
    for entry in document.get("scores") or []:
        if not isinstance(entry, Mapping):
            continue
        try:
            out.append(
                (
                    str(entry["instrument"]),
                    dt.date.fromisoformat(str(entry.get("date"))),
                    float(entry["score"]),
                )
            )
        except (TypeError, ValueError, KeyError):
            continue
    return out


def get_assessment(
    session: Session, *, organization_id: int, patient_id: int, assessment_id: int
) -> Assessment | None:
    return session.scalars(
        select(Assessment).where(
            Assessment.organization_id == organization_id,
            Assessment.patient_id == patient_id,
            Assessment.id == assessment_id,
        )
    ).first()


def list_assessments(
    session: Session, *, organization_id: int, patient_id: int, limit: int, after_id: int = 0
) -> list[Assessment]:
    return list(
        session.scalars(
            select(Assessment)
            .where(
                Assessment.organization_id == organization_id,
                Assessment.patient_id == patient_id,
                Assessment.id > after_id,
            )
            .order_by(Assessment.id)
            .limit(limit)
        )
    )


def case_version_numbers(session: Session, *, ids: Sequence[int]) -> dict[int, int]:
    """Case version id -> its number, for showing which version an assessment was made from."""
    if not ids:
        return {}
    rows = session.execute(
        select(CaseVersion.id, CaseVersion.number).where(CaseVersion.id.in_(set(ids)))
    )
    return {row.id: row.number for row in rows}


def store_questionnaire_response(
    session: Session,
    *,
    organization_id: int,
    patient_id: int,
    instrument: str,
    answered_on: dt.date,
    answers: list[int | None],
    score: float | None,
    max_score: float | None,
    band: str | None,
    subscales: dict[str, Any],
    alerts: list[str],
    problems: list[str],
    user_id: int | None,
    source: str | None = None,
) -> QuestionnaireResponse:
    response = QuestionnaireResponse(
        organization_id=organization_id,
        patient_id=patient_id,
        instrument=instrument,
        answered_on=answered_on,
        answers=answers,
        score=score,
        max_score=max_score,
        band=band,
        subscales=subscales,
        alerts=alerts,
        problems=problems,
        source=source,
        created_by=user_id,
        created_at=utcnow(),
    )
    session.add(response)
    session.flush()
    return response


def list_questionnaire_responses(
    session: Session, *, organization_id: int, patient_id: int, limit: int, after_id: int = 0
) -> list[QuestionnaireResponse]:
    return list(
        session.scalars(
            select(QuestionnaireResponse)
            .where(
                QuestionnaireResponse.organization_id == organization_id,
                QuestionnaireResponse.patient_id == patient_id,
                QuestionnaireResponse.id > after_id,
            )
            .order_by(QuestionnaireResponse.id)
            .limit(limit)
        )
    )


HistoryKind = Literal["case_version", "assessment", "questionnaire_response"]


@dataclass(frozen=True)
class HistoryEntry:
    kind: HistoryKind
    at: dt.datetime
    record: CaseVersion | Assessment | QuestionnaireResponse


def history(
    session: Session, *, organization_id: int, patient_id: int, limit: int, offset: int = 0
) -> list[HistoryEntry]:
    """A patient's case versions, assessments and questionnaire responses in time order
    (ties broken by kind, then id). Records are append-only, so offsets stay stable."""
    parts = [
        select(
            literal(kind).label("kind"),
            model.id.label("id"),
            model.created_at.label("at"),
        ).where(model.organization_id == organization_id, model.patient_id == patient_id)
        for kind, model in (
            ("case_version", CaseVersion),
            ("assessment", Assessment),
            ("questionnaire_response", QuestionnaireResponse),
        )
    ]
    combined = union_all(*parts).subquery()
    rows = session.execute(
        select(combined.c.kind, combined.c.id)
        .order_by(combined.c.at, combined.c.kind, combined.c.id)
        .limit(limit)
        .offset(offset)
    ).all()
    wanted: dict[str, list[int]] = {}
    for kind, record_id in rows:
        wanted.setdefault(kind, []).append(record_id)
    loaded: dict[tuple[str, int], CaseVersion | Assessment | QuestionnaireResponse] = {}
    for version in session.scalars(
        select(CaseVersion).where(CaseVersion.id.in_(wanted.get("case_version", [])))
    ):
        loaded[("case_version", version.id)] = version
    for assessment in session.scalars(
        select(Assessment).where(Assessment.id.in_(wanted.get("assessment", [])))
    ):
        loaded[("assessment", assessment.id)] = assessment
    for response in session.scalars(
        select(QuestionnaireResponse).where(
            QuestionnaireResponse.id.in_(wanted.get("questionnaire_response", []))
        )
    ):
        loaded[("questionnaire_response", response.id)] = response
    return [
        HistoryEntry(kind=kind, at=loaded[(kind, rid)].created_at, record=loaded[(kind, rid)])
        for kind, rid in rows
    ]
