"""Shared vocabulary of the care domain: disciplines, owners, references, errors, dates.

Every record in ``secondlook.care`` is a frozen dataclass with string ids, ``datetime.date``
fields and ``Literal`` codes, so that each maps to one table row (see docs/care.md).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from secondlook.knowledge.models import DISCIPLINES as KNOWN_DISCIPLINES
from secondlook.knowledge.models import Discipline as Discipline  # re-exported

# The disciplines are the knowledge base's (its care rules name an owner for every item).
DISCIPLINES: Final[tuple[Discipline, ...]] = KNOWN_DISCIPLINES

#: Who a task belongs to: a discipline of the team, or the patient (questionnaires).
Owner = Literal[Discipline, "patient"]
OWNERS: Final[tuple[Owner, ...]] = get_args(Owner)

Recommendation = Literal["recommended", "consider", "not-recommended", "contraindicated"]
Priority = Literal["emergency", "urgent", "routine"]
Region = Literal["lumbar", "cervical", "thoracic"]


class CareInvalid(ValueError):
    """Input the care domain cannot accept. ``problems`` holds one sentence per problem, each
    naming the item, task or field it is about, and what to do."""

    def __init__(self, problems: list[str]) -> None:
        self.problems: list[str] = list(problems)
        super().__init__("; ".join(self.problems))


class PlanIncomplete(CareInvalid):
    """A plan cannot be completed yet: ``problems`` lists each criterion not met."""


@dataclass(frozen=True, slots=True)
class AssessmentRef:
    """Which assessment a conference reviewed or a plan was built from: the exact versions, so
    the assessment can be explained by the rules that made it."""

    assessment_id: str
    case_id: str | None
    knowledge_version: str
    engine_version: str


def assessment_ref(assessment: Mapping[str, Any], assessment_id: str) -> AssessmentRef:
    """The reference of an assessment document (CONTRACT.md §2) stored under ``assessment_id``."""
    return AssessmentRef(
        assessment_id=assessment_id,
        case_id=assessment.get("case_id"),
        knowledge_version=str(assessment["knowledge_version"]),
        engine_version=str(assessment["engine_version"]),
    )


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus whole calendar months; the 31st becomes the last day of a shorter month."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# -- goals and results ----------------------------------------------------------------------------

GoalKind = Literal["instrument", "patient"]


@dataclass(frozen=True, slots=True)
class Goal:
    """A specific, measurable, realistic goal of a plan.

    ``instrument`` goals: the score should fall from ``baseline`` by at least
    ``improve_points`` (or by ``improve_percent`` of the baseline, where the instrument's
    threshold has a relative form) by ``target_on``. ``patient`` goals: an activity or work goal
    in the patient's own words (``text``), met when a dated check records it achieved.
    """

    id: str
    kind: GoalKind
    text: str
    target_on: dt.date
    citation: str = ""
    instrument: str | None = None
    baseline: float | None = None
    baseline_on: dt.date | None = None
    improve_points: float | None = None
    improve_percent: float | None = None


@dataclass(frozen=True, slots=True)
class InstrumentResult:
    """A scored questionnaire of a patient (one row of questionnaire results)."""

    instrument: str
    date: dt.date
    score: float


@dataclass(frozen=True, slots=True)
class GoalCheck:
    """A clinician's or patient's dated check of a ``patient`` goal."""

    goal_id: str
    date: dt.date
    achieved: bool
    note: str = ""


Result = InstrumentResult | GoalCheck


# -- tasks ----------------------------------------------------------------------------------------

TaskStatus = Literal["requested", "accepted", "in-progress", "completed", "cancelled", "failed"]
TASK_STATUSES: Final[tuple[TaskStatus, ...]] = get_args(TaskStatus)
#: A team's task, or a questionnaire the patient answers.
TaskKind = Literal["care", "questionnaire"]
TASK_KINDS: Final[tuple[TaskKind, ...]] = get_args(TaskKind)


@dataclass(frozen=True, slots=True)
class Dependency:
    """Task ``task_id`` must be completed first (rule ``rule_id`` of ``care.rules``). When it
    fails or is cancelled, the waiting task is cancelled too, or proceeds without it."""

    task_id: str
    rule_id: str
    if_not_done: Literal["cancel", "proceed"]


@dataclass(frozen=True, slots=True)
class Task:
    """One piece of work of a plan, owned by a discipline (or a named person of it) or by the
    patient. ``key`` is the work-up, treatment or implied-task id it performs;
    ``plan_item_id`` links it to the plan item that brought it."""

    id: str
    plan_id: str
    plan_item_id: str | None
    key: str
    name: str
    owner: Owner
    due: dt.date
    status: TaskStatus = "requested"
    blocked_by: tuple[Dependency, ...] = ()
    priority: Priority | None = None
    person: str | None = None
    note: str | None = None
    status_on: dt.date | None = None
    status_reason: str | None = None
