"""The care domain's codes, each list written once, with the words clinicians and patients
read for them. The database's CHECK constraints, the API's enums and the pages' labels are all
derived from here (a test compares the migrated database with these lists)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, get_args

from secondlook.care.models import (
    DISCIPLINES,
    OWNERS,
    TASK_KINDS,
    TASK_STATUSES,
    Owner,
    Priority,
    Recommendation,
    TaskKind,
    TaskStatus,
)
from secondlook.care.outcomes import GoalStatus, ResponderStatus
from secondlook.care.plan import Action, CloseOutcome, PlanStatus
from secondlook.engine import words as engine_words

PLAN_STATUSES: Final[tuple[PlanStatus, ...]] = get_args(PlanStatus)
CLOSE_OUTCOMES: Final[tuple[CloseOutcome, ...]] = get_args(CloseOutcome)
PRIORITIES: Final[tuple[Priority, ...]] = get_args(Priority)
RECOMMENDATIONS: Final[tuple[Recommendation, ...]] = get_args(Recommendation)
ACTIONS: Final[tuple[Action, ...]] = get_args(Action)
GOAL_STATUSES: Final[tuple[GoalStatus, ...]] = get_args(GoalStatus)
RESPONDER_STATUSES: Final[tuple[ResponderStatus, ...]] = get_args(ResponderStatus)
#: The plans that stand for a patient's care: a draft never does (the newest of these is the
#: patient's current plan, on every page, list, document and API answer).
PLANS_IN_FORCE: Final[tuple[PlanStatus, ...]] = ("active", "completed", "discharged")
#: Tasks that are still to be done: the worklists and their partial indexes select these.
OPEN_TASK_STATUSES: Final[tuple[TaskStatus, ...]] = ("requested", "accepted", "in-progress")

OWNER_LABELS: Final[dict[Owner, str]] = {
    "spine-surgery": "Spine surgery",
    "pain-medicine": "Pain medicine",
    "internal-medicine": "Internal medicine",
    "physical-therapy": "Physical therapy",
    "psychology": "Psychology",
    "nursing-coordination": "Nursing and care coordination",
    "patient": "Patient",
}
#: Who does a task, as the patient's own plan says it.
OWNER_LABELS_FOR_PATIENTS: Final[dict[Owner, str]] = {
    "spine-surgery": "your spine surgeon",
    "pain-medicine": "your pain doctor",
    "internal-medicine": "your family doctor or internist",
    "physical-therapy": "your physiotherapist",
    "psychology": "the psychologist",
    "nursing-coordination": "your care coordinator",
    "patient": "you",
}
TASK_STATUS_LABELS: Final[dict[TaskStatus, str]] = {
    "requested": "Requested",
    "accepted": "Accepted",
    "in-progress": "In progress",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "failed": "Failed",
}
TASK_STATUS_LABELS_FOR_PATIENTS: Final[dict[TaskStatus, str]] = {
    "requested": "planned",
    "accepted": "planned",
    "in-progress": "in progress",
    "completed": "done",
    "cancelled": "cancelled",
    "failed": "did not go ahead",
}
#: The button that moves a task into each status.
TASK_MOVE_LABELS: Final[dict[TaskStatus, str]] = {
    "requested": "Request",
    "accepted": "Accept",
    "in-progress": "Start",
    "completed": "Complete",
    "cancelled": "Cancel",
    "failed": "Mark failed",
}
TASK_KIND_LABELS: Final[dict[TaskKind, str]] = {
    "care": "Care task",
    "questionnaire": "Questionnaire",
}
PLAN_STATUS_LABELS: Final[dict[PlanStatus, str]] = {
    "draft": "Draft",
    "active": "Active",
    "completed": "Completed",
    "discharged": "Discharged",
}
CLOSE_OUTCOME_LABELS: Final[dict[CloseOutcome, str]] = {
    "completed": "Completed: its completion criteria are met",
    "discharged": "Discharged early",
    "replaced": "Replaced by a new plan",
}
# Priorities and recommendation levels are the assessment's codes: their words are the
# engine's (engine/words.py), written here as labels that open a line.
PRIORITY_LABELS: Final[dict[Priority, str]] = {
    code: engine_words.word("urgency", code).capitalize() for code in PRIORITIES
}
RECOMMENDATION_LABELS: Final[dict[Recommendation, str]] = {
    code: engine_words.word("recommendation", code).capitalize() for code in RECOMMENDATIONS
}
ACTION_LABELS: Final[dict[Action, str]] = {
    "accept": "Accept",
    "edit": "Accept with changes",
    "reject": "Reject",
}
GOAL_STATUS_LABELS: Final[dict[GoalStatus, str]] = {
    "met": "Met",
    "not-met": "Not met yet",
    "not-yet-measurable": "Not yet measurable",
}
RESPONDER_LABELS: Final[dict[ResponderStatus, str]] = {
    "responder": "Responder",
    "non-responder": "Non-responder",
    "not-measurable": "Not measurable yet",
}


def _words(labels: Mapping[Any, str]) -> dict[str, str]:
    return {str(code): text for code, text in labels.items()}


#: Every code list with its labels, for the completeness test and the pages' ``label`` filter.
VOCABULARIES: Final[dict[str, tuple[tuple[str, ...], dict[str, str]]]] = {
    "discipline": (DISCIPLINES, _words(OWNER_LABELS)),
    "owner": (OWNERS, _words(OWNER_LABELS)),
    "task-status": (TASK_STATUSES, _words(TASK_STATUS_LABELS)),
    "task-kind": (TASK_KINDS, _words(TASK_KIND_LABELS)),
    "plan-status": (PLAN_STATUSES, _words(PLAN_STATUS_LABELS)),
    "close-outcome": (CLOSE_OUTCOMES, _words(CLOSE_OUTCOME_LABELS)),
    "priority": (PRIORITIES, _words(PRIORITY_LABELS)),
    "recommendation": (RECOMMENDATIONS, _words(RECOMMENDATION_LABELS)),
    "action": (ACTIONS, _words(ACTION_LABELS)),
    "goal-status": (GOAL_STATUSES, _words(GOAL_STATUS_LABELS)),
    "responder": (RESPONDER_STATUSES, _words(RESPONDER_LABELS)),
}


def words_for_patients(vocabulary: str, code: str) -> str | None:
    """The patients' words for an owner or a task status (None for a code without them)."""
    words: dict[str, dict[str, str]] = {
        "owner": _words(OWNER_LABELS_FOR_PATIENTS),
        "task-status": _words(TASK_STATUS_LABELS_FOR_PATIENTS),
    }
    return words[vocabulary].get(code)


def label(vocabulary: str, code: str) -> str:
    """The clinicians' word for ``code``; an unknown code is shown as it is, never hidden."""
    return VOCABULARIES[vocabulary][1].get(code, code)


__all__ = [
    "ACTIONS",
    "ACTION_LABELS",
    "CLOSE_OUTCOMES",
    "CLOSE_OUTCOME_LABELS",
    "DISCIPLINES",
    "GOAL_STATUSES",
    "GOAL_STATUS_LABELS",
    "OPEN_TASK_STATUSES",
    "OWNERS",
    "OWNER_LABELS",
    "OWNER_LABELS_FOR_PATIENTS",
    "PLANS_IN_FORCE",
    "PLAN_STATUSES",
    "PLAN_STATUS_LABELS",
    "PRIORITIES",
    "PRIORITY_LABELS",
    "RECOMMENDATIONS",
    "RECOMMENDATION_LABELS",
    "RESPONDER_LABELS",
    "RESPONDER_STATUSES",
    "TASK_KINDS",
    "TASK_KIND_LABELS",
    "TASK_MOVE_LABELS",
    "TASK_STATUSES",
    "TASK_STATUS_LABELS",
    "TASK_STATUS_LABELS_FOR_PATIENTS",
    "VOCABULARIES",
    "label",
    "words_for_patients",
]
