"""Tasks of a plan: built from its accepted items, ordered by the prerequisite rules of the
knowledge base (``care_rules.yaml``, read through ``care.rules``), and moved through a validated
state machine.

    requested -> accepted -> in-progress -> completed
        |            |            |-------> failed
        +------------+------------+-------> cancelled

A task may start only when every prerequisite is completed (or, for a rule that proceeds
without it, closed). A prerequisite that fails or is cancelled cancels the tasks that waited
on it under a ``cancel`` rule, with the reason: a failed stimulation trial cancels the implant.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final

from secondlook.care.models import CareInvalid, Dependency, Task, TaskStatus
from secondlook.care.plan import Plan, PlanEntry
from secondlook.care.rules import CareRules, PrerequisiteRule, care_rules, cited
from secondlook.care.taper import TaperSchedule, taper_follow_ups
from secondlook.knowledge.loader import KnowledgeBase

TRANSITIONS: Final[Mapping[TaskStatus, frozenset[TaskStatus]]] = {
    "requested": frozenset({"accepted", "cancelled"}),
    "accepted": frozenset({"in-progress", "cancelled"}),
    "in-progress": frozenset({"completed", "failed", "cancelled"}),
    "completed": frozenset(),
    "cancelled": frozenset(),
    "failed": frozenset(),
}
CLOSED: Final[frozenset[TaskStatus]] = frozenset({"completed", "cancelled", "failed"})
OPEN: Final[frozenset[TaskStatus]] = frozenset({"requested", "accepted"})


class TransitionRefused(CareInvalid):
    """A status change the state machine or the prerequisites do not allow."""


@dataclass(frozen=True, slots=True)
class TaskEvent:
    """One status change (a row of the task history)."""

    task_id: str
    from_status: TaskStatus
    to_status: TaskStatus
    on: dt.date
    reason: str | None
    by: str | None


@dataclass(frozen=True, slots=True)
class TransitionResult:
    tasks: tuple[Task, ...]
    events: tuple[TaskEvent, ...]


# -- building -------------------------------------------------------------------------------------


def _applies(rule: PrerequisiteRule, dependent: Task) -> bool:
    return dependent.priority not in rule.waived_for


def tasks_for(
    plan: Plan,
    *,
    start: dt.date,
    taper: TaperSchedule | None = None,
    knowledge: KnowledgeBase | None = None,
) -> list[Task]:
    """The tasks of a plan, starting ``start`` (the first visit), in an order that respects
    their prerequisites (then by due date), by the care rules of ``knowledge`` (default: the
    shipped knowledge base).

    Each accepted item becomes a task; accepted items bring their implied tasks (a stimulation
    trial, the revision recovery bundle); a prerequisite the plan lacks is added, linked to the
    item that needs it (it stays required even if its own item was declined: the rule is the
    guideline's, and the task can be cancelled with a reason). With ``taper`` and an accepted
    opioid taper, its monthly follow-ups are added.
    """
    rules = care_rules(knowledge)
    tasks: dict[str, Task] = {}
    for entry in plan.accepted:
        tasks[entry.item.ref] = _task_for_entry(plan, entry, start, rules)
    for implied in rules.implied:
        if implied.brought_by in tasks and implied.id not in tasks:
            parent = tasks[implied.brought_by]
            tasks[implied.id] = Task(
                id=f"{plan.id}/{implied.id}",
                plan_id=plan.id,
                plan_item_id=parent.plan_item_id,
                key=implied.id,
                name=implied.name,
                owner=implied.owner,
                due=start + dt.timedelta(days=rules.due_days["implied"]),
                priority=parent.priority,
                note=f"Brought by {parent.name}: {cited(implied)}",
            )
    changed = True
    while changed:  # add missing prerequisites until none is missing
        changed = False
        for rule in rules.prerequisites:
            dependent = tasks.get(rule.task)
            if dependent is None or rule.requires in tasks or not _applies(rule, dependent):
                continue
            declined_entry = plan.entry(rule.requires)
            name = (
                declined_entry.item.name
                if declined_entry
                else rule.requires.replace("-", " ").capitalize()
            )
            declined = (
                f" (declined as a plan item: {declined_entry.reason or 'no reason given'})"
                if declined_entry
                else ""
            )
            tasks[rule.requires] = Task(
                id=f"{plan.id}/{rule.requires}",
                plan_id=plan.id,
                plan_item_id=declined_entry.item.id if declined_entry else dependent.plan_item_id,
                key=rule.requires,
                name=name,
                owner=rules.owner_of(rule.requires),
                due=start + dt.timedelta(days=rules.due_days["routine"]),
                priority="routine",
                note=f"Required before {dependent.name}{declined}: {cited(rule)}",
            )
            changed = True
    for rule in rules.prerequisites:
        dependent = tasks.get(rule.task)
        if dependent is None or rule.requires not in tasks or not _applies(rule, dependent):
            continue
        tasks[rule.task] = replace(
            dependent,
            blocked_by=(
                *dependent.blocked_by,
                Dependency(tasks[rule.requires].id, rule.id, rule.if_not_done),
            ),
        )
    ordered = _with_due_dates(list(tasks.values()), rules)
    taper_entry = plan.entry("opioid-taper")
    if taper is not None and taper_entry is not None and taper_entry.accepted:
        ordered += taper_follow_ups(
            taper,
            plan_id=plan.id,
            plan_item_id=taper_entry.item.id,
            owner=rules.owner_of("opioid-taper-follow-up"),
        )
    return ordered


def _task_for_entry(plan: Plan, entry: PlanEntry, start: dt.date, rules: CareRules) -> Task:
    item, edit = entry.item, entry.edit
    due_key = item.priority or item.recommendation
    days = 0 if rules.is_due_at_start(item.ref) else rules.due_days[due_key]
    due = start + dt.timedelta(days=days)
    if edit is not None and edit.due is not None:
        due = edit.due
    return Task(
        id=f"{plan.id}/{item.ref}",
        plan_id=plan.id,
        plan_item_id=item.id,
        key=item.ref,
        name=item.name,
        owner=(edit.owner if edit and edit.owner else None) or rules.owner_of(item.ref),
        due=due,
        priority=item.priority,
        person=edit.person if edit else None,
        note=edit.note if edit else None,
    )


def dependency_order(tasks: Sequence[Task]) -> list[Task]:
    """Tasks with every prerequisite before the tasks that wait on it (ties by due date, then
    id). A cycle, or a prerequisite that is not among the tasks, is a ``CareInvalid``."""
    by_id = {t.id: t for t in tasks}
    problems = [
        f"task {t.id!r}: prerequisite {d.task_id!r} is not among the tasks"
        for t in tasks
        for d in t.blocked_by
        if d.task_id not in by_id
    ]
    if problems:
        raise CareInvalid(problems)
    done: set[str] = set()
    out: list[Task] = []
    remaining = sorted(tasks, key=lambda t: (t.due, t.id))
    while remaining:
        ready = [t for t in remaining if all(d.task_id in done for d in t.blocked_by)]
        if not ready:
            raise CareInvalid([f"tasks {', '.join(t.id for t in remaining)} wait on each other"])
        first = ready[0]
        out.append(first)
        done.add(first.id)
        remaining.remove(first)
    return out


def _with_due_dates(tasks: list[Task], rules: CareRules) -> list[Task]:
    """Push each task's due date after its prerequisites' (plus the rule's gap), in
    dependency order, then return them in that order."""
    due: dict[str, dt.date] = {}
    out: list[Task] = []
    for task in dependency_order(tasks):
        when = task.due
        for dep in task.blocked_by:
            when = max(when, due[dep.task_id] + dt.timedelta(days=rules.gap_days(dep.rule_id)))
        due[task.id] = when
        out.append(replace(task, due=when))
    return dependency_order(out)


# -- readiness and transitions --------------------------------------------------------------------


def _satisfied(dep: Dependency, by_id: Mapping[str, Task]) -> bool:
    other = by_id.get(dep.task_id)
    if other is None:
        return False
    if other.status == "completed":
        return True
    return dep.if_not_done == "proceed" and other.status in CLOSED


def unmet_prerequisites(task: Task, tasks: Iterable[Task]) -> list[Task]:
    """The prerequisites that still stop ``task`` from starting."""
    by_id = {t.id: t for t in tasks}
    out: list[Task] = []
    for dep in task.blocked_by:
        if not _satisfied(dep, by_id):
            other = by_id.get(dep.task_id)
            if other is not None:
                out.append(other)
    return out


def waiting_on(tasks: Sequence[Task]) -> dict[str, list[str]]:
    """For each task of one plan, the ids of the prerequisites that still stop it (a
    prerequisite missing from the plan stops it too)."""
    by_id = {t.id: t for t in tasks}
    return {t.id: [d.task_id for d in t.blocked_by if not _satisfied(d, by_id)] for t in tasks}


def ready_tasks(tasks: Sequence[Task]) -> list[Task]:
    """Open tasks (requested or accepted) whose prerequisites are all met: what can start."""
    by_id = {t.id: t for t in tasks}
    return [
        t for t in tasks if t.status in OPEN and all(_satisfied(d, by_id) for d in t.blocked_by)
    ]


def transition(
    tasks: Sequence[Task],
    task_id: str,
    to: TaskStatus,
    *,
    on: dt.date,
    reason: str | None = None,
    by: str | None = None,
) -> TransitionResult:
    """Move one task to ``to``, and cancel what waited on it when it fails or is cancelled.

    Refused (``TransitionRefused``, naming the task) when the state machine does not allow the
    step, when a task would start before its prerequisites are met, or when a cancellation or
    failure has no reason.
    """
    by_id = {t.id: t for t in tasks}
    task = by_id.get(task_id)
    if task is None:
        raise TransitionRefused([f"task {task_id!r}: no such task"])
    if to not in TRANSITIONS[task.status]:
        allowed = ", ".join(moves(task.status)) or "nothing (it is closed)"
        raise TransitionRefused(
            [f"{task.name}: cannot go from {task.status} to {to}; allowed: {allowed}"]
        )
    if to == "in-progress":
        waiting = unmet_prerequisites(task, tasks)
        if waiting:
            names = ", ".join(f"{t.name} ({t.status})" for t in waiting)
            raise TransitionRefused([f"{task.name}: cannot start before {names} is completed"])
    why = reason.strip() if reason else None
    if to in ("cancelled", "failed") and not why:
        raise TransitionRefused([f"{task.name}: say why it is {to}"])
    events = [TaskEvent(task_id, task.status, to, on, why, by)]
    by_id[task_id] = replace(task, status=to, status_on=on, status_reason=why)
    if to in ("cancelled", "failed"):
        queue = [task_id]
        while queue:
            gone = by_id[queue.pop(0)]
            for other in list(by_id.values()):
                if other.status in CLOSED:
                    continue
                if any(
                    d.task_id == gone.id and d.if_not_done == "cancel" for d in other.blocked_by
                ):
                    text = f"Prerequisite {gone.name} {gone.status}: {gone.status_reason}"
                    events.append(TaskEvent(other.id, other.status, "cancelled", on, text, by))
                    by_id[other.id] = replace(
                        other, status="cancelled", status_on=on, status_reason=text
                    )
                    queue.append(other.id)
    return TransitionResult(tuple(by_id[t.id] for t in tasks), tuple(events))


def moves(status: TaskStatus) -> tuple[TaskStatus, ...]:
    """The statuses a task in ``status`` may move to, in the order of the task's life: what a
    board offers, and nothing else (the state machine refuses anything else)."""
    order: tuple[TaskStatus, ...] = ("accepted", "in-progress", "completed", "failed", "cancelled")
    return tuple(s for s in order if s in TRANSITIONS[status])
