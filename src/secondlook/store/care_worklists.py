"""The team's worklists as database queries over the whole organization: open tasks (mine,
a discipline's, overdue), questionnaires due, patients with open red flags and plans due for
review, each ordered by due date and paged with a keyset cursor."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    exists,
    literal,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.orm import Session, aliased

from secondlook.care.schedule import GRACE_DAYS
from secondlook.store.care_models import (
    HAS_RED_FLAGS,
    OPEN_CARE_TASK,
    OPEN_QUESTIONNAIRE,
    CarePlan,
    CareTask,
)
from secondlook.store.models import (
    Assessment,
    CaseScore,
    Patient,
    QuestionnaireResponse,
)

# -- worklists -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DueCursor:
    """Where a list ordered by (date, id) resumes: after this date and id."""

    on: dt.date
    id: int


def _after(query: Select[Any], day: Any, ident: Any, cursor: DueCursor | None) -> Select[Any]:
    if cursor is None:
        return query
    return query.where(tuple_(day, ident) > tuple_(literal(cursor.on), literal(cursor.id)))


def _open_care_tasks(organization_id: int) -> Select[tuple[CareTask]]:
    # The partial indexes' own predicate, as literal SQL: the planner uses a partial index only
    # when it can prove the query implies its predicate, which bound parameters would hide.
    return select(CareTask).where(CareTask.organization_id == organization_id, text(OPEN_CARE_TASK))


def worklist_my_tasks(
    session: Session, *, organization_id: int, user_id: int, limit: int, after: DueCursor | None
) -> list[CareTask]:
    query = select(CareTask).where(
        CareTask.assignee_user_id == user_id,
        text(OPEN_CARE_TASK),
        CareTask.organization_id == organization_id,
    )
    query = _after(query, CareTask.due, CareTask.id, after)
    return list(session.scalars(query.order_by(CareTask.due, CareTask.id).limit(limit)))


def worklist_discipline(
    session: Session,
    *,
    organization_id: int,
    discipline: str,
    limit: int,
    after: DueCursor | None,
) -> list[CareTask]:
    query = _open_care_tasks(organization_id).where(CareTask.owner == discipline)
    query = _after(query, CareTask.due, CareTask.id, after)
    return list(session.scalars(query.order_by(CareTask.due, CareTask.id).limit(limit)))


def worklist_overdue(
    session: Session,
    *,
    organization_id: int,
    today: dt.date,
    limit: int,
    after: DueCursor | None,
    discipline: str | None = None,
) -> list[CareTask]:
    query = _open_care_tasks(organization_id).where(CareTask.due < today)
    if discipline is not None:
        query = query.where(CareTask.owner == discipline)
    query = _after(query, CareTask.due, CareTask.id, after)
    return list(session.scalars(query.order_by(CareTask.due, CareTask.id).limit(limit)))


@dataclass(frozen=True)
class QuestionnairePatient:
    patient_id: int
    patient_name: str
    overdue: int
    due: int
    earliest_due: dt.date
    instruments: list[str]


def worklist_questionnaires(
    session: Session,
    *,
    organization_id: int,
    today: dt.date,
    limit: int,
    after_patient: int,
    include_due: bool = True,
) -> list[QuestionnairePatient]:
    """Patients with questionnaires overdue (past the grace window) or due now (within it) and
    not answered in their window, by patient id. Two queries: the page of patients, then their
    open questionnaires."""
    grace = dt.timedelta(days=GRACE_DAYS)
    # Unanswered and open: answered means a result of the instrument inside the window
    # (a stored response or a score of the case: the results outcomes are judged by).
    answered = or_(
        *(
            exists().where(
                source.patient_id == CareTask.patient_id,
                source.instrument == CareTask.instrument,
                source.answered_on >= CareTask.window_opens,
                or_(CareTask.window_closes.is_(None), source.answered_on < CareTask.window_closes),
                source.answered_on <= today,
            )
            for source in (QuestionnaireResponse, CaseScore)
        )
    )
    cutoff = today + grace if include_due else today - grace
    pending = and_(
        CareTask.organization_id == organization_id,
        text(OPEN_QUESTIONNAIRE),
        CareTask.due <= cutoff if include_due else CareTask.due < cutoff,
        ~answered,
    )
    patients = list(
        session.scalars(
            select(CareTask.patient_id)
            .where(pending, CareTask.patient_id > after_patient)
            .group_by(CareTask.patient_id)
            .order_by(CareTask.patient_id)
            .limit(limit)
        )
    )
    if not patients:
        return []
    rows = session.execute(
        select(CareTask.patient_id, CareTask.due, CareTask.instrument).where(
            pending, CareTask.patient_id.in_(patients)
        )
    ).all()
    names = patient_names(session, patients)
    out = []
    for pid in patients:
        mine = [r for r in rows if r.patient_id == pid]
        late = [r for r in mine if r.due < today - grace]
        out.append(
            QuestionnairePatient(
                patient_id=pid,
                patient_name=names[pid],
                overdue=len(late),
                due=len(mine) - len(late),
                earliest_due=min(r.due for r in mine),
                instruments=sorted({str(r.instrument) for r in mine}),
            )
        )
    return out


@dataclass(frozen=True)
class RedFlagPatient:
    patient_id: int
    patient_name: str
    assessment_id: int
    assessed_at: dt.datetime
    red_flags: list[dict[str, Any]]


def worklist_red_flags(
    session: Session, *, organization_id: int, limit: int, after_patient: int
) -> list[RedFlagPatient]:
    """Patients whose latest assessment has red flags, by patient id (the partial index
    ``ix_assessments_red_flags`` holds only assessments with red flags)."""
    dialect = session.get_bind().dialect.name
    has_flags = text(HAS_RED_FLAGS["postgresql" if dialect == "postgresql" else "sqlite"])
    later = aliased(Assessment)
    newer = exists().where(later.patient_id == Assessment.patient_id, later.id > Assessment.id)
    rows = session.execute(
        select(
            Assessment.patient_id,
            Assessment.id,
            Assessment.created_at,
            Assessment.document["red_flags"].label("red_flags"),
            Patient.name,
        )
        .join(Patient, Patient.id == Assessment.patient_id)
        .where(
            Assessment.organization_id == organization_id,
            has_flags,
            Assessment.patient_id > after_patient,
            ~newer,
        )
        .order_by(Assessment.patient_id)
        .limit(limit)
    ).all()
    return [
        RedFlagPatient(
            patient_id=r.patient_id,
            patient_name=r.name,
            assessment_id=r.id,
            assessed_at=r.created_at,
            red_flags=[
                {"id": f.get("id"), "name": f.get("name"), "urgency": f.get("urgency")}
                for f in (r.red_flags or [])
            ],
        )
        for r in rows
    ]


def worklist_reviews(
    session: Session,
    *,
    organization_id: int,
    until: dt.date,
    limit: int,
    after: DueCursor | None,
) -> list[tuple[CarePlan, str]]:
    """Active plans whose review date is on or before ``until``, soonest first, with the
    patient's name."""
    query = (
        select(CarePlan, Patient.name)
        .join(Patient, Patient.id == CarePlan.patient_id)
        .where(
            CarePlan.organization_id == organization_id,
            CarePlan.status == "active",
            CarePlan.review_on <= until,
        )
    )
    query = _after(query, CarePlan.review_on, CarePlan.id, after)
    rows = session.execute(query.order_by(CarePlan.review_on, CarePlan.id).limit(limit)).all()
    return [(r[0], r[1]) for r in rows]


def patient_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = session.execute(select(Patient.id, Patient.name).where(Patient.id.in_(wanted)))
    return {row.id: row.name for row in rows}
