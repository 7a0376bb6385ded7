"""The care domain's frozen records as the JSON the care tables keep, and back: one mapping,
used by every store function and by the services that hand JSON to the adapters."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Mapping
from typing import Any, cast

from secondlook.care import (
    AssessmentRef,
    CompletionCriteria,
    Dependency,
    Edit,
    Goal,
    Plan,
    PlanEntry,
    PlanItem,
    ScheduledQuestionnaire,
    Task,
    TaskStatus,
)
from secondlook.care.taper import TaperSchedule, TaperStep
from secondlook.store.care_models import (
    CarePlan,
    CareTaperSchedule,
    CareTask,
)

# -- JSON of the domain's frozen records ---------------------------------------------------------


def to_json(value: Any) -> Any:
    """A domain record as JSON values: dates as YYYY-MM-DD, tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, enum.Enum):
        return value.value
    return value


def date_of(value: Any) -> dt.date | None:
    return None if value is None else dt.date.fromisoformat(str(value))


def goal_from(data: Mapping[str, Any]) -> Goal:
    return Goal(
        id=data["id"],
        kind=data["kind"],
        text=data["text"],
        target_on=dt.date.fromisoformat(data["target_on"]),
        citation=data.get("citation", ""),
        instrument=data.get("instrument"),
        baseline=data.get("baseline"),
        baseline_on=date_of(data.get("baseline_on")),
        improve_points=data.get("improve_points"),
        improve_percent=data.get("improve_percent"),
    )


def _item_from(data: Mapping[str, Any]) -> PlanItem:
    return PlanItem(
        id=data["id"],
        kind=data["kind"],
        ref=data["ref"],
        name=data["name"],
        perspective=data["perspective"],
        recommendation=data["recommendation"],
        priority=data.get("priority"),
        because=tuple(data.get("because", ())),
        prerequisites=tuple(data.get("prerequisites", ())),
        references=tuple(data.get("references", ())),
    )


def _edit_from(data: Mapping[str, Any] | None) -> Edit | None:
    if data is None:
        return None
    return Edit(
        owner=data.get("owner"),
        person=data.get("person"),
        due=date_of(data.get("due")),
        note=data.get("note"),
    )


def _entry_from(data: Mapping[str, Any]) -> PlanEntry:
    return PlanEntry(
        item=_item_from(data["item"]),
        action=data["action"],
        reason=data.get("reason"),
        edit=_edit_from(data.get("edit")),
    )


def completion_from(data: Mapping[str, Any]) -> CompletionCriteria:
    return CompletionCriteria(
        goals=tuple(data["goals"]),
        measured_after_months=int(data["measured_after_months"]),
        tasks_closed=bool(data["tasks_closed"]),
        discharge=tuple(data["discharge"]),
    )


def plan_of(row: CarePlan) -> Plan:
    """The domain plan of a stored plan (a draft reads as active: its decisions are made)."""
    return Plan(
        id=str(row.id),
        patient_id=str(row.patient_id),
        case_id=row.case_id,
        assessment=AssessmentRef(
            str(row.assessment_id), row.case_id, row.knowledge_version, row.engine_version
        ),
        proposed_on=row.proposed_on,
        decided_on=row.decided_on,
        decided_by=row.decided_by,
        entries=tuple(_entry_from(e) for e in row.entries),
        goals=tuple(goal_from(g) for g in row.goals),
        review_on=row.review_on,
        completion=completion_from(row.completion),
        status="active" if row.status == "draft" else cast(Any, row.status),
        closed_on=row.closed_on,
        closed_reason=row.closed_reason,
    )


def task_of(row: CareTask) -> Task:
    return Task(
        id=row.task_key,
        plan_id=str(row.plan_id),
        plan_item_id=row.plan_item_id,
        key=row.key,
        name=row.name,
        owner=cast(Any, row.owner),
        due=row.due,
        status=cast(TaskStatus, row.status),
        blocked_by=tuple(
            Dependency(d["task_id"], d["rule_id"], d["if_not_done"]) for d in row.blocked_by
        ),
        priority=cast(Any, row.priority),
        person=row.person,
        note=row.note,
        status_on=row.status_on,
        status_reason=row.status_reason,
    )


def scheduled_of(row: CareTask) -> ScheduledQuestionnaire:
    """A stored questionnaire task as the schedule judges it (``care.due_and_overdue``)."""
    return ScheduledQuestionnaire(
        str(row.id), str(row.time_point), str(row.instrument), row.due, None
    )


def taper_of(row: CareTaperSchedule) -> TaperSchedule:
    return TaperSchedule(
        original_mme=row.original_mme,
        months_of_use=row.months_of_use,
        long_term=row.long_term,
        pace=cast(Any, row.pace),
        period=cast(Any, row.period),
        floor_mme=row.floor_mme,
        resolution=row.resolution,
        start_on=row.start_on,
        steps=tuple(
            TaperStep(
                number=s["number"],
                kind=s["kind"],
                start_on=dt.date.fromisoformat(s["start_on"]),
                mme_per_day=s["mme_per_day"],
                reduction=s["reduction"],
                periods=s["periods"],
                allowance=s["allowance"],
                note=s.get("note", ""),
            )
            for s in row.steps
        ),
        citation=row.citation,
    )
