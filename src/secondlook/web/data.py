"""Read-side helpers for the pages: search, the latest assessment, score trajectories, what is
due, and the knowledge base's texts for a patient's plan. Every query filters by organization."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from secondlook.care import (
    PRIMARY_INSTRUMENT,
    GoalCheck,
    InstrumentResult,
    goal_status,
    responder_status,
)
from secondlook.instruments import INSTRUMENTS
from secondlook.knowledge import KnowledgeBase, default_knowledge
from secondlook.store import care_records, records
from secondlook.store.models import Assessment, Patient, QuestionnaireResponse

# Instruments whose item text ships, in the order the portal offers them.
PORTAL_INSTRUMENTS = ("nrs-pain", "phq-9", "gad-7")
DUE_AFTER_DAYS = 28
SEARCH_LIMIT = 50


def knowledge() -> KnowledgeBase:
    return default_knowledge()


def search_patients(
    session: Session, *, organization_id: int, query: str, limit: int = SEARCH_LIMIT
) -> list[Patient]:
    """Patients whose name contains `query` (any case) or whose MRN is `query`."""
    text = query.strip()
    if not text:
        return []
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    statement = (
        select(Patient)
        .where(
            Patient.organization_id == organization_id,
            or_(Patient.name.ilike(f"%{escaped}%", escape="\\"), Patient.mrn == text),
        )
        .order_by(Patient.name, Patient.id)
        .limit(limit)
    )
    return list(session.scalars(statement))


def latest_assessment(
    session: Session, *, organization_id: int, patient_id: int
) -> Assessment | None:
    return session.scalars(
        select(Assessment)
        .where(Assessment.organization_id == organization_id, Assessment.patient_id == patient_id)
        .order_by(Assessment.id.desc())
        .limit(1)
    ).first()


def responses(
    session: Session, *, organization_id: int, patient_id: int, limit: int = 1000
) -> list[QuestionnaireResponse]:
    return records.list_questionnaire_responses(
        session, organization_id=organization_id, patient_id=patient_id, limit=limit
    )


@dataclass(frozen=True)
class Trajectory:
    instrument: str
    name: str
    points: list[tuple[dt.date, float]]
    max_score: float
    min_score: float
    meaningful_points: float | None
    goal: float | None  # the score that marks a meaningful improvement from the first one


def trajectories(rows: Sequence[QuestionnaireResponse]) -> list[Trajectory]:
    """Scored responses per instrument, in date order, with the meaningful-change threshold and
    a goal line at "first score minus the meaningful change" (the smallest improvement that
    counts, from the instrument's cited threshold)."""
    by_instrument: dict[str, list[tuple[dt.date, float]]] = {}
    for row in rows:
        if row.score is not None:
            by_instrument.setdefault(row.instrument, []).append((row.answered_on, row.score))
    out = []
    for key in sorted(by_instrument):
        instrument = INSTRUMENTS.get(key)
        if instrument is None:
            continue
        points = sorted(by_instrument[key])
        mc = instrument.meaningful_change
        goal = None
        if mc is not None:
            goal = max(float(instrument.min_score), points[0][1] - mc.points)
        out.append(
            Trajectory(
                instrument=key,
                name=instrument.name,
                points=points,
                max_score=float(instrument.max_score),
                min_score=float(instrument.min_score),
                meaningful_points=mc.points if mc else None,
                goal=goal,
            )
        )
    return out


def alerts_from_responses(rows: Sequence[QuestionnaireResponse]) -> list[QuestionnaireResponse]:
    """Responses that raised a safety alert, newest first."""
    return sorted((r for r in rows if r.alerts), key=lambda r: (r.answered_on, r.id), reverse=True)


def due_instruments(rows: Sequence[QuestionnaireResponse], today: dt.date) -> list[str]:
    """Portal questionnaires not answered in the last DUE_AFTER_DAYS days."""
    last: dict[str, dt.date] = {}
    for row in rows:
        if row.instrument not in last or row.answered_on > last[row.instrument]:
            last[row.instrument] = row.answered_on
    return [
        key
        for key in PORTAL_INSTRUMENTS
        if key not in last or (today - last[key]).days >= DUE_AFTER_DAYS
    ]


@dataclass(frozen=True)
class PlainItem:
    id: str
    name: str
    text: str
    note: str = ""


def _patient_text(kb: KnowledgeBase, kind: str, record_id: str) -> tuple[str, str] | None:
    found = kb.records.get(f"{kind}:{record_id}")
    if found is None:
        return None
    record = found[1]
    return str(getattr(record, "name", record_id)), str(getattr(record, "patient", ""))


_RECOMMENDATION_NOTE = {
    "recommended": "Your care team recommends this.",
    "consider": "An option your care team may discuss with you.",
}


def plan_in_plain_language(document: Mapping[str, Any]) -> dict[str, list[PlainItem]]:
    """The treatments (recommended or to consider) and the tests of an assessment, each with
    the knowledge base's plain-language text for patients."""
    kb = knowledge()
    treatments = []
    for option in document.get("treatment_options", []):
        note = _RECOMMENDATION_NOTE.get(str(option.get("recommendation")))
        found = _patient_text(kb, "treatment", str(option.get("id")))
        if note and found:
            treatments.append(PlainItem(str(option["id"]), found[0], found[1], note))
    tests = []
    for item in document.get("workup", []):
        found = _patient_text(kb, "workup", str(item.get("id")))
        if found:
            when = {"emergency": "Needed now.", "urgent": "Needed soon."}.get(
                str(item.get("priority")), ""
            )
            tests.append(PlainItem(str(item["id"]), found[0], found[1], when))
    causes = []
    for entry in document.get("differential", []):
        if entry.get("likelihood") in ("likely", "possible"):
            found = _patient_text(kb, "etiology", str(entry.get("id")))
            if found:
                causes.append(PlainItem(str(entry["id"]), found[0], found[1]))
    return {"treatments": treatments, "tests": tests, "causes": causes}


def all_patient_texts(kind: str) -> list[PlainItem]:
    kb = knowledge()
    out = []
    for key, (k, record) in kb.records.items():
        if k == kind and key.startswith(f"{kind}:"):
            out.append(
                PlainItem(
                    str(getattr(record, "id", "")),
                    str(getattr(record, "name", "")),
                    str(getattr(record, "patient", "")),
                )
            )
    return out


def references_by_id(document: Mapping[str, Any]) -> dict[str, str]:
    return {str(r["id"]): str(r["citation"]) for r in document.get("references", [])}


@dataclass(frozen=True)
class PlanOutcome:
    """The patient's current care plan against the scores: responder status at 6 and 12
    months on the region's primary instrument, each goal's status, and the target score of each
    instrument goal (for the charts' goal lines)."""

    plan_id: int
    start_on: dt.date
    primary_instrument: str
    responder_6m: str
    responder_12m: str
    goals: list[tuple[str, str]]
    chart_goals: dict[str, float]


def plan_outcome(session: Session, *, organization_id: int, patient_id: int) -> PlanOutcome | None:
    """Outcomes against the latest plan that is not a draft (None without one); the same
    computation as `GET /patients/{id}/care/outcomes`."""
    plans = [
        p
        for p in care_records.list_plans(
            session, organization_id=organization_id, patient_id=patient_id, limit=10_000
        )
        if p.status != "draft"
    ]
    if not plans:
        return None
    row = plans[-1]
    results = care_records.instrument_results(
        session, organization_id=organization_id, patient_id=patient_id
    )
    checks = care_records.goal_checks(session, plan_id=row.id)
    everything: list[InstrumentResult | GoalCheck] = [*results, *checks]
    plan = care_records.plan_of(row)
    primary = PRIMARY_INSTRUMENT[row.region]  # type: ignore[index]
    chart_goals: dict[str, float] = {}
    for goal in plan.goals:
        if goal.kind == "instrument" and goal.instrument and goal.baseline is not None:
            drop = goal.improve_points
            if drop is None and goal.improve_percent is not None:
                drop = goal.baseline * goal.improve_percent / 100
            instrument = INSTRUMENTS.get(goal.instrument)
            if drop is not None and instrument is not None:
                chart_goals[goal.instrument] = max(
                    float(instrument.min_score), goal.baseline - drop
                )
    return PlanOutcome(
        plan_id=row.id,
        start_on=row.start_on,
        primary_instrument=primary,
        responder_6m=responder_status(primary, results, baseline_on=row.start_on, months=6),
        responder_12m=responder_status(primary, results, baseline_on=row.start_on, months=12),
        goals=[(g.text, goal_status(g, everything)) for g in plan.goals],
        chart_goals=chart_goals,
    )


# -- the stored plan's tasks for the patient, in plain words ------------------------------------

OWNER_IN_PLAIN_WORDS = {
    "spine-surgery": "your spine surgeon",
    "pain-medicine": "your pain doctor",
    "internal-medicine": "your family doctor or internist",
    "physical-therapy": "your physiotherapist",
    "psychology": "the psychologist",
    "nursing-coordination": "your care coordinator",
    "patient": "you",
}
STATUS_IN_PLAIN_WORDS = {
    "requested": "planned",
    "accepted": "planned",
    "in-progress": "in progress",
    "completed": "done",
    "cancelled": "cancelled",
    "failed": "did not go ahead",
}
_TIME_POINT_IN_PLAIN_WORDS = {"baseline": "at the start"}


@dataclass(frozen=True)
class PlainTask:
    """One task of the patient's plan in plain words (no ids or codes)."""

    name: str
    text: str
    who: str
    due_month: str
    status: str
    after: list[str]
    questionnaire: bool = False


def _lower_first(name: str) -> str:
    # "Psychological evaluation" -> "psychological evaluation"; "MRI" stays "MRI".
    if len(name) > 1 and name[0].isupper() and name[1].islower():
        return name[0].lower() + name[1:]
    return name


def _task_name_and_text(kb: KnowledgeBase, row: Any) -> tuple[str, str]:
    if row.kind == "questionnaire" and row.instrument:
        instrument = INSTRUMENTS.get(row.instrument)
        name = instrument.name if instrument else "Questionnaire"
        point = str(row.time_point or "")
        when = _TIME_POINT_IN_PLAIN_WORDS.get(point)
        if when is None and point.endswith("m") and point[:-1].isdigit():
            when = f"at {point[:-1]} months"
        text = "A questionnaire for you to fill in, so your team can see how you are doing"
        return f"Questionnaire: {name}", f"{text} {when}." if when else f"{text}."
    found = None
    if row.plan_item_id and ":" in row.plan_item_id:
        kind = row.plan_item_id.split(":", 1)[0]
        found = _patient_text(kb, kind, row.key) or _patient_text(
            kb, kind, row.plan_item_id.split(":", 1)[1]
        )
    return row.name, found[1] if found else ""


def plan_tasks_in_plain_language(
    session: Session, *, organization_id: int, patient_id: int
) -> list[PlainTask] | None:
    """The tasks of the patient's current plan (the latest that is not a draft), care tasks
    first, each in plain words; None without a plan."""
    plans = [
        p
        for p in care_records.list_plans(
            session, organization_id=organization_id, patient_id=patient_id, limit=10_000
        )
        if p.status != "draft"
    ]
    if not plans:
        return None
    rows = [
        r
        for r in care_records.plan_tasks(session, plan_id=plans[-1].id)
        if r.patient_id == patient_id and r.organization_id == organization_id
    ]
    kb = knowledge()
    by_key = {r.task_key: r for r in rows}
    out = []
    for row in sorted(rows, key=lambda r: (r.kind != "care", r.due, r.id)):
        name, text = _task_name_and_text(kb, row)
        after = []
        for dep in row.blocked_by:
            other = by_key.get(dep["task_id"])
            if other is not None and other.status != "completed":
                first = _lower_first(_task_name_and_text(kb, other)[0])
                after.append(f"after your {first}")
        out.append(
            PlainTask(
                name=name,
                text=text,
                who=OWNER_IN_PLAIN_WORDS.get(row.owner, "your care team"),
                due_month=row.due.strftime("%B %Y"),
                status=STATUS_IN_PLAIN_WORDS.get(row.status, "planned"),
                after=after,
                questionnaire=row.kind == "questionnaire",
            )
        )
    return out
