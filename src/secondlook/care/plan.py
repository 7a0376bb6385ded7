"""Care plans: proposed from an assessment, decided by a clinician, closed by explicit criteria.

The engine proposes; the clinician decides. A decision is never blocked for going against the
engine, but some must say why (``reason_required``), and a missing reason is a validation error
naming the item.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

from secondlook.care.models import (
    OWNERS,
    AssessmentRef,
    CareInvalid,
    Goal,
    Owner,
    Priority,
    Recommendation,
    Result,
    add_months,
    assessment_ref,
)
from secondlook.care.outcomes import PRIMARY_INSTRUMENT, goal_status
from secondlook.case.models import Case
from secondlook.instruments import INSTRUMENTS
from secondlook.knowledge.loader import KnowledgeBase, default_knowledge

ItemKind = Literal["workup", "treatment"]
Action = Literal["accept", "edit", "reject"]
#: A draft is kept but not in force: it has no tasks and never stands for the patient's plan.
PlanStatus = Literal["draft", "active", "completed", "discharged"]
#: How an active plan is closed: its completion criteria met, the patient discharged early, or
#: the plan replaced by a new one (its open tasks carried into it or cancelled).
CloseOutcome = Literal["completed", "discharged", "replaced"]

#: Default time to the plan's review, and to the goals' target (the ICHOM 12-month point).
REVIEW_MONTHS: Final = 3
#: How far ahead a plan's review date puts it on the team's list of reviews due.
REVIEW_NOTICE_DAYS: Final = 14
GOAL_MONTHS: Final = 12


@dataclass(frozen=True, slots=True)
class PlanItem:
    """A work-up item or treatment option the engine suggested, as the plan shows it.

    Work-up items carry ``recommendation="recommended"``: the engine lists only the work-up it
    advises, so declining one needs a reason like declining any recommended option.
    """

    id: str
    kind: ItemKind
    ref: str
    name: str
    perspective: str
    recommendation: Recommendation
    priority: Priority | None
    because: tuple[str, ...]
    prerequisites: tuple[str, ...] = ()
    references: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PlanDraft:
    id: str
    case_id: str | None
    assessment: AssessmentRef
    proposed_on: dt.date
    items: tuple[PlanItem, ...]
    goals: tuple[Goal, ...] = ()
    review_on: dt.date | None = None


@dataclass(frozen=True, slots=True)
class Edit:
    """What a clinician changed when accepting an item: another owner (a discipline or the
    patient) or a named person, a due date, a note."""

    owner: Owner | None = None
    person: str | None = None
    due: dt.date | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    item_id: str
    action: Action
    reason: str | None = None
    edit: Edit | None = None


@dataclass(frozen=True, slots=True)
class PlanEntry:
    """A plan item with the clinician's decision about it."""

    item: PlanItem
    action: Action
    reason: str | None
    edit: Edit | None

    @property
    def accepted(self) -> bool:
        return self.action != "reject"


@dataclass(frozen=True, slots=True)
class CompletionCriteria:
    """When a plan is complete: the ``goals`` listed are met (measured at or after
    ``measured_after_months`` from the plan's decision), and, with ``tasks_closed``, every task
    is completed, cancelled or failed. ``discharge`` lists, in words, when a plan may instead be
    closed early by discharge (always with a recorded reason)."""

    goals: tuple[str, ...]
    measured_after_months: int = GOAL_MONTHS
    tasks_closed: bool = True
    discharge: tuple[str, ...] = (
        "The patient asks to stop or moves to another service.",
        "At review, no accepted treatment remains and further care is handed over in writing.",
        "A red flag or new diagnosis needs a different plan (a new assessment starts one).",
    )


@dataclass(frozen=True, slots=True)
class Plan:
    id: str
    patient_id: str
    case_id: str | None
    assessment: AssessmentRef
    proposed_on: dt.date
    decided_on: dt.date
    decided_by: str
    entries: tuple[PlanEntry, ...]
    goals: tuple[Goal, ...]
    review_on: dt.date
    completion: CompletionCriteria
    status: PlanStatus = "active"
    closed_on: dt.date | None = None
    closed_reason: str | None = None

    @property
    def accepted(self) -> tuple[PlanEntry, ...]:
        return tuple(e for e in self.entries if e.accepted)

    def entry(self, ref: str) -> PlanEntry | None:
        """The entry for a work-up or treatment id (``None`` when not in the plan)."""
        return next((e for e in self.entries if e.item.ref == ref), None)


# -- proposing ------------------------------------------------------------------------------------


def propose_plan(
    assessment: Mapping[str, Any],
    *,
    today: dt.date,
    case: Case | None = None,
    assessment_id: str | None = None,
    plan_id: str | None = None,
    kb: KnowledgeBase | None = None,
) -> PlanDraft:
    """Every suggested work-up item and every treatment option of the assessment as a plan
    item, with the engine's recommendation; goals suggested from ``case`` when given.

    ``kb`` (default: the shipped one) names each item's perspective; it should be the knowledge
    base of ``assessment["knowledge_version"]``. An id it does not know is a ``CareInvalid``."""
    kb = kb or default_knowledge()
    treatments = {t.id: t for t in kb.treatments}
    unknown = [
        f"workup:{w['id']}: not in knowledge base {kb.version}"
        for w in assessment.get("workup", [])
        if w["id"] not in kb.workup
    ] + [
        f"treatment:{t['id']}: not in knowledge base {kb.version}"
        for t in assessment.get("treatment_options", [])
        if t["id"] not in treatments
    ]
    if unknown:
        raise CareInvalid(unknown)
    items: list[PlanItem] = []
    for w in assessment.get("workup", []):
        items.append(
            PlanItem(
                id=f"workup:{w['id']}",
                kind="workup",
                ref=w["id"],
                name=w.get("name", w["id"]),
                perspective=kb.workup[w["id"]].perspective,
                recommendation="recommended",
                priority=w["priority"],
                because=tuple(w.get("because", [])),
                references=tuple(w.get("references", [])),
            )
        )
    for t in assessment.get("treatment_options", []):
        if t.get("stated_negative"):
            continue  # "not indicated on present information": nothing to decide on
        items.append(
            PlanItem(
                id=f"treatment:{t['id']}",
                kind="treatment",
                ref=t["id"],
                name=t.get("name", t["id"]),
                perspective=treatments[t["id"]].perspective,
                recommendation=t["recommendation"],
                priority=None,
                because=tuple(t.get("because", [])),
                prerequisites=tuple(t.get("prerequisites", [])),
                references=tuple(t.get("references", [])),
            )
        )
    case_id = assessment.get("case_id")
    ref = assessment_ref(
        assessment,
        assessment_id
        or f"{case_id}@{assessment['knowledge_version']}+{assessment['engine_version']}",
    )
    return PlanDraft(
        id=plan_id or f"plan-{case_id}-{today.isoformat()}",
        case_id=case_id,
        assessment=ref,
        proposed_on=today,
        items=tuple(items),
        goals=tuple(suggest_goals(case, assessment)) if case is not None else (),
        review_on=add_months(today, REVIEW_MONTHS),
    )


def reason_required(item: PlanItem, action: Action) -> bool:
    """A reason must be given to reject a recommended item, or to accept (or accept with an
    edit) one the engine does not recommend or finds contraindicated."""
    if action == "reject":
        return item.recommendation == "recommended"
    return item.recommendation in ("not-recommended", "contraindicated")


def suggested_action(item: PlanItem) -> Action | None:
    """What the plan builder pre-selects for an item: accept what the engine recommends, reject
    what it does not recommend or finds contraindicated, and leave every "consider" item
    undecided, so that an optional treatment (spinal cord stimulation, an injection, a
    revision) enters the plan only by a choice someone made, never by a click on "Create"."""
    if item.recommendation == "recommended":
        return "accept"
    if item.recommendation in ("not-recommended", "contraindicated"):
        return "reject"
    return None


# -- deciding -------------------------------------------------------------------------------------


def decide(
    draft: PlanDraft,
    decisions: Sequence[Decision],
    *,
    patient_id: str | None = None,
    decided_by: str = "unknown",
    decided_on: dt.date | None = None,
    goals: Sequence[Goal] | None = None,
    review_on: dt.date | None = None,
    completion: CompletionCriteria | None = None,
) -> Plan:
    """The plan the clinician decided. Every item needs exactly one decision; every problem is
    reported at once (``CareInvalid``), each naming its item."""
    problems: list[str] = []
    by_item = {item.id: item for item in draft.items}
    chosen: dict[str, Decision] = {}
    for decision in decisions:
        item = by_item.get(decision.item_id)
        if item is None:
            problems.append(f"{decision.item_id}: not an item of this plan")
            continue
        if decision.item_id in chosen:
            problems.append(f"{decision.item_id}: decided more than once")
            continue
        chosen[decision.item_id] = decision
        if decision.action not in ("accept", "edit", "reject"):
            problems.append(f"{item.id}: unknown action {decision.action!r}")
            continue
        has_reason = bool(decision.reason and decision.reason.strip())
        if reason_required(item, decision.action) and not has_reason:
            verb = "rejecting" if decision.action == "reject" else "accepting"
            problems.append(
                f"{item.id}: a reason is required for {verb} an item the engine rates "
                f"{item.recommendation!r}"
            )
        if decision.action == "edit" and decision.edit is None:
            problems.append(f"{item.id}: an edit decision needs the edit (owner, due or note)")
        if decision.action != "edit" and decision.edit is not None:
            problems.append(f"{item.id}: only an edit decision carries an edit")
        if decision.edit is not None and decision.edit.owner not in (None, *OWNERS):
            problems.append(f"{item.id}: unknown owner {decision.edit.owner!r}")
    for item in draft.items:
        if item.id not in chosen:
            problems.append(f"{item.id}: no decision (accept, edit or reject)")
    day = decided_on or draft.proposed_on
    plan_goals = tuple(draft.goals if goals is None else goals)
    review = review_on or draft.review_on or add_months(day, REVIEW_MONTHS)
    problems += _goal_problems(plan_goals, day)
    if review <= day:
        problems.append(f"review_on: {review} must come after the decision ({day})")
    criteria = completion or CompletionCriteria(goals=tuple(g.id for g in plan_goals))
    goal_ids = {g.id for g in plan_goals}
    for gid in criteria.goals:
        if gid not in goal_ids:
            problems.append(f"completion.goals: {gid!r} is not a goal of this plan")
    if not criteria.goals and not criteria.discharge:
        problems.append("completion: name the goals that complete the plan or discharge criteria")
    if problems:
        raise CareInvalid(problems)
    entries = tuple(
        PlanEntry(
            item=item,
            action=chosen[item.id].action,
            reason=chosen[item.id].reason,
            edit=chosen[item.id].edit,
        )
        for item in draft.items
    )
    return Plan(
        id=draft.id,
        patient_id=patient_id or draft.case_id or draft.id,
        case_id=draft.case_id,
        assessment=draft.assessment,
        proposed_on=draft.proposed_on,
        decided_on=day,
        decided_by=decided_by,
        entries=entries,
        goals=plan_goals,
        review_on=review,
        completion=criteria,
    )


def _goal_problems(goals: Sequence[Goal], day: dt.date) -> list[str]:
    problems: list[str] = []
    if not goals:
        problems.append("goals: a plan needs at least one goal")
    seen: set[str] = set()
    for goal in goals:
        where = f"goal {goal.id!r}"
        if goal.id in seen:
            problems.append(f"{where}: the id is used twice")
        seen.add(goal.id)
        if not goal.text.strip():
            problems.append(f"{where}: say the goal in words")
        if goal.target_on <= day:
            problems.append(f"{where}: the target date {goal.target_on} has already passed")
        if goal.kind == "instrument":
            if goal.instrument not in INSTRUMENTS:
                problems.append(f"{where}: unknown instrument {goal.instrument!r}")
            if not (goal.improve_points or goal.improve_percent):
                problems.append(f"{where}: give the improvement in points or percent")
    return problems


# -- goals ----------------------------------------------------------------------------------------

#: Instruments whose meaningful improvement makes a goal, by region; PHQ-9 only from moderate
#: depression up (10 or more), where a 5-point fall is a realistic aim (Löwe 2004).
_GOAL_INSTRUMENTS: Final[dict[str, tuple[str, ...]]] = {
    "lumbar": ("odi", "nrs-pain", "phq-9"),
    "cervical": ("ndi", "nrs-pain", "phq-9"),
    "thoracic": ("odi", "nrs-pain", "phq-9"),
}
_MIN_BASELINE: Final[dict[str, float]] = {"phq-9": 10.0}

_NAMES: Final = {
    "odi": "Disability (ODI)",
    "ndi": "Neck disability (NDI, raw 0-50)",
    "nrs-pain": "Pain (NRS 0-10)",
    "phq-9": "Depression (PHQ-9)",
}


def suggest_goals(
    case: Case, assessment: Mapping[str, Any], *, target_on: dt.date | None = None
) -> list[Goal]:
    """Goal templates from the instruments' meaningful-change thresholds (each cited), plus the
    patient's own goals (``preferences.goals``, in their words).

    Baselines are the latest scores in the assessment (an NRS goal falls back to the worse of
    the case's axial and limb NRS). A goal is only suggested when its improvement fits on the
    scale from the baseline (ODI 44 can fall by 10; ODI 8 cannot): otherwise it is unrealistic.
    """
    target = target_on or add_months(case.assessed_on, GOAL_MONTHS)
    latest: dict[str, tuple[dt.date, float]] = {}
    for row in assessment.get("scores", []):
        if row.get("score") is None:
            continue
        when = dt.date.fromisoformat(row["date"])
        if row["instrument"] not in latest or when >= latest[row["instrument"]][0]:
            latest[row["instrument"]] = (when, float(row["score"]))
    if "nrs-pain" not in latest:
        pain = [v for v in (case.pain.axial_nrs, case.pain.limb_nrs) if v is not None]
        if pain:
            latest["nrs-pain"] = (case.assessed_on, float(max(pain)))
    goals: list[Goal] = []
    primary = PRIMARY_INSTRUMENT[case.region]
    for name in _GOAL_INSTRUMENTS[case.region]:
        if name not in latest:
            continue
        when, baseline = latest[name]
        threshold = INSTRUMENTS[name].meaningful_change
        if threshold is None or baseline < max(threshold.points, _MIN_BASELINE.get(name, 0.0)):
            continue
        by = f"by at least {threshold.points:g} points"
        if threshold.percent is not None:
            by += f" or {threshold.percent:g}%"
        goals.append(
            Goal(
                id=name,
                kind="instrument",
                text=f"{_NAMES[name]} down {by} from {baseline:g} by {target.isoformat()}"
                + (" (primary outcome)" if name == primary else ""),
                target_on=target,
                citation=threshold.citation,
                instrument=name,
                baseline=baseline,
                baseline_on=when,
                improve_points=float(threshold.points),
                improve_percent=None if threshold.percent is None else float(threshold.percent),
            )
        )
    own = case.preferences.goals if case.preferences and case.preferences.goals else []
    for number, text in enumerate(own, start=1):
        goals.append(
            Goal(
                id=f"patient-{number}",
                kind="patient",
                text=text,
                target_on=target,
                citation="The patient's own goal (case preferences.goals).",
            )
        )
    return goals


# -- closing --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompletionStatus:
    met: bool
    unmet: tuple[str, ...]


_CLOSED: Final = frozenset({"completed", "cancelled", "failed"})


def completion_status(
    plan: Plan, *, task_statuses: Iterable[tuple[str, str]], results: Iterable[Result]
) -> CompletionStatus:
    """Which completion criteria hold. ``task_statuses``: (task id, status) of the plan's
    care tasks (questionnaires not included: they belong to follow-up, not to the plan)."""
    unmet: list[str] = []
    criteria = plan.completion
    measured_from = add_months(plan.decided_on, criteria.measured_after_months)
    usable = [r for r in results if r.date >= measured_from]
    goals = {g.id: g for g in plan.goals}
    for gid in criteria.goals:
        status = goal_status(goals[gid], usable)
        if status != "met":
            unmet.append(f"goal {gid!r} is {status} (measured from {measured_from.isoformat()} on)")
    if criteria.tasks_closed:
        for task_id, task_status in task_statuses:
            if task_status not in _CLOSED:
                unmet.append(f"task {task_id!r} is still {task_status}")
    return CompletionStatus(not unmet, tuple(unmet))


def complete_plan(
    plan: Plan,
    *,
    on: dt.date,
    task_statuses: Iterable[tuple[str, str]],
    results: Iterable[Result],
) -> Plan:
    """The plan closed as completed; refused (``CareInvalid``, listing what is unmet) unless
    every completion criterion holds."""
    if plan.status != "active":
        raise CareInvalid([f"plan {plan.id!r} is already {plan.status}"])
    status = completion_status(plan, task_statuses=task_statuses, results=results)
    if not status.met:
        raise CareInvalid([f"plan {plan.id!r}: {u}" for u in status.unmet])
    return replace(
        plan, status="completed", closed_on=on, closed_reason="All completion criteria met."
    )


def discharge_plan(plan: Plan, *, on: dt.date, reason: str) -> Plan:
    """The plan closed early by discharge, with the reason (required)."""
    if plan.status != "active":
        raise CareInvalid([f"plan {plan.id!r} is already {plan.status}"])
    if not reason.strip():
        raise CareInvalid([f"plan {plan.id!r}: a discharge needs a reason"])
    return replace(plan, status="discharged", closed_on=on, closed_reason=reason)
