"""Care coordination as the team uses it: the patient's current plan, outcomes against it
(with the charts' lines), the task board and its moves, and the worklists. Every surface (the
REST API, the pages, the PDFs, the command line) asks here, so none can disagree with another.

Functions named for an act (``outcomes``, ``board``, ``update_task``, ``worklists``) authorize
and audit it; the ``*_in`` helpers compute the same inside a scope that is already audited
(a page that shows several things under one audit event)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

from sqlalchemy.orm import Session

from secondlook.care import (
    PRIMARY_INSTRUMENT,
    CohortRow,
    Goal,
    GoalCheck,
    InstrumentResult,
    TaskStatus,
    completion_status,
    due_and_overdue,
    goal_status,
    goal_target,
    moves,
    responder_status,
    trajectories,
)
from secondlook.care.models import OWNERS, Region
from secondlook.care.outcomes import GoalStatus, ResponderStatus
from secondlook.care.plan import REVIEW_NOTICE_DAYS, CompletionStatus, PlanEntry
from secondlook.care.results import check_block, check_imaging, result_kind, with_result
from secondlook.care.rules import care_rules
from secondlook.care.taper import TaperSchedule
from secondlook.care.vocabulary import OPEN_TASK_STATUSES, TASK_MOVE_LABELS, TASK_STATUSES
from secondlook.instruments import INSTRUMENTS, improved_at
from secondlook.instruments.model import TrajectoryPoint
from secondlook.instruments.registry import short_name
from secondlook.platform.access import Access
from secondlook.platform.clock import today
from secondlook.platform.errors import Refused
from secondlook.platform.preconditions import IfMatchVersion
from secondlook.services import records
from secondlook.services.errors import care_errors, invalid
from secondlook.services.unit import audited
from secondlook.store import care_cohort, care_json, care_records, care_worklists
from secondlook.store.care_models import CareConference, CarePlan, CareTask, CareTaskAssignment
from secondlook.store.models import Patient, User

# -- the current plan -----------------------------------------------------------------------------


def current_plan_in(session: Session, *, organization_id: int, patient_id: int) -> CarePlan | None:
    """The plan that stands for the patient's care (the newest in force; never a draft)."""
    return care_records.current_plan(
        session, organization_id=organization_id, patient_id=patient_id
    )


def current_plan_tasks_in(
    session: Session, *, organization_id: int, patient_id: int
) -> tuple[CarePlan, list[CareTask]] | None:
    """The current plan with all its tasks (care tasks and questionnaires); None without one."""
    plan = current_plan_in(session, organization_id=organization_id, patient_id=patient_id)
    if plan is None:
        return None
    tasks = [
        t
        for t in care_records.plan_tasks(session, plan_id=plan.id)
        if t.patient_id == patient_id and t.organization_id == organization_id
    ]
    return plan, tasks


@dataclass(frozen=True)
class DecidedItems:
    """What the team put in the current plan and still stands: the accepted work-up and
    treatments, with the decision (and any edit) on each."""

    plan: CarePlan
    tests: list[PlanEntry]
    treatments: list[PlanEntry]


def decided_items_in(
    session: Session, *, organization_id: int, patient_id: int
) -> DecidedItems | None:
    """The current plan's accepted items, less those whose every task was cancelled or did not
    go ahead (a cancelled examination is no longer "in your plan"); None without a plan, when
    the engine's suggestions are all there is to show."""
    found = current_plan_tasks_in(session, organization_id=organization_id, patient_id=patient_id)
    if found is None:
        return None
    row, tasks = found
    by_item: dict[str, list[str]] = {}
    for task in tasks:
        if task.plan_item_id:
            by_item.setdefault(task.plan_item_id, []).append(task.status)
    standing = [
        entry
        for entry in care_json.plan_of(row).entries
        if entry.accepted
        and not (
            by_item.get(entry.item.id)
            and all(status in ("cancelled", "failed") for status in by_item[entry.item.id])
        )
    ]
    return DecidedItems(
        row,
        tests=[e for e in standing if e.item.kind == "workup"],
        treatments=[e for e in standing if e.item.kind == "treatment"],
    )


@dataclass(frozen=True)
class DecisionLine:
    """One item of the plan with the team's decision and its reason."""

    name: str
    recommendation: str
    action: str
    reason: str | None


@dataclass(frozen=True)
class TaskLine:
    """One care task of the plan: who does it (a named person, a team member, or the
    discipline) and by when."""

    name: str
    owner: str
    who: str | None
    due: dt.date
    status: str


@dataclass(frozen=True)
class PlanRecord:
    """What the team decided, as the care-plan summary prints it: each accepted and rejected
    item with its reason, the tasks with owners and due dates, the decisions of the conference
    the plan came from (with their agenda item), and the opioid taper's steps."""

    plan: CarePlan
    accepted: list[DecisionLine]
    rejected: list[DecisionLine]
    tasks: list[TaskLine]
    conference: CareConference | None
    conference_decisions: list[tuple[str, dict[str, Any]]]
    taper: TaperSchedule | None


def plan_record_in(session: Session, *, organization_id: int, patient_id: int) -> PlanRecord | None:
    """The current plan's record (None without a plan), for a document already audited."""
    found = current_plan_tasks_in(session, organization_id=organization_id, patient_id=patient_id)
    if found is None:
        return None
    row, tasks = found
    entries = care_json.plan_of(row).entries
    lines = [DecisionLine(e.item.name, e.item.recommendation, e.action, e.reason) for e in entries]
    team = {
        u.id: u.username
        for u in care_records.team_members(session, organization_id=organization_id)
    }
    task_lines = [
        TaskLine(
            t.name,
            t.owner,
            t.person or (team.get(t.assignee_user_id) if t.assignee_user_id else None),
            t.due,
            t.status,
        )
        for t in tasks
        if t.kind == "care"
    ]
    conference = (
        care_records.get_conference(
            session,
            organization_id=organization_id,
            patient_id=patient_id,
            conference_id=row.conference_id,
        )
        if row.conference_id is not None
        else None
    )
    decisions: list[tuple[str, dict[str, Any]]] = []
    if conference is not None:
        titles = {a["key"]: a["title"] for a in conference.agenda}
        decisions = [
            (titles.get(d.get("agenda_key") or "", "General"), d) for d in conference.decisions
        ]
    taper_row = care_records.latest_taper(session, plan_id=row.id)
    return PlanRecord(
        plan=row,
        accepted=[line for line in lines if line.action != "reject"],
        rejected=[line for line in lines if line.action == "reject"],
        tasks=task_lines,
        conference=conference,
        conference_decisions=decisions,
        taper=None if taper_row is None else care_json.taper_of(taper_row),
    )


#: Without a plan, a portal questionnaire is offered again four weeks after its last answer: a
#: check-in cadence (the PHQ-9 and GAD-7 ask about the last two weeks), not a clinical rule.
CHECK_IN_DAYS = 28


@dataclass(frozen=True)
class PortalDue:
    """A questionnaire due in the portal, with what makes this occasion of it unique: the
    scheduled task and its due date, or (without a plan) the last answer it follows, so that
    a reminder of it is sent once (services/notifications.py). ``due``: the date it fell due
    (None: never answered and no plan, so due since the patient joined)."""

    instrument: str
    occasion: str
    due: dt.date | None


def portal_due_in(
    session: Session, *, organization_id: int, patient_id: int, on: dt.date | None = None
) -> list[str]:
    """The questionnaires a patient can answer in the portal (those whose item text ships)
    that are due or overdue on ``on``: by the current plan's questionnaire schedule, the same
    judgement the plan's schedule and the team's worklist make; without a plan, those not
    answered in the last :data:`CHECK_IN_DAYS` days."""
    due = portal_due_occasions_in(
        session, organization_id=organization_id, patient_id=patient_id, on=on
    )
    return list(dict.fromkeys(d.instrument for d in due))


def portal_due_occasions_in(
    session: Session, *, organization_id: int, patient_id: int, on: dt.date | None = None
) -> list[PortalDue]:
    """What :func:`portal_due_in` decides, one entry per due occasion (a plan may have an
    instrument due at two time points at once), in the portal's order of instruments."""
    day = on or today()
    offered = [k for k, i in INSTRUMENTS.items() if i.item_text is not None]
    results = care_records.instrument_results(
        session, organization_id=organization_id, patient_id=patient_id
    )
    plan = current_plan_in(session, organization_id=organization_id, patient_id=patient_id)
    if plan is None:
        last: dict[str, dt.date] = {}
        for r in results:
            last[r.instrument] = max(r.date, last.get(r.instrument, r.date))
        return [
            PortalDue(
                k,
                f"check-in:{k}:{last[k].isoformat() if k in last else 'never'}",
                last[k] + dt.timedelta(days=CHECK_IN_DAYS) if k in last else None,
            )
            for k in offered
            if k not in last or (day - last[k]).days >= CHECK_IN_DAYS
        ]
    rows = care_records.list_plan_tasks(
        session, plan_id=plan.id, limit=10_000, kind="questionnaire"
    )
    schedule = [care_json.scheduled_of(r) for r in rows if r.status in OPEN_TASK_STATUSES]
    report = due_and_overdue(schedule, results, day)
    wanted = sorted((s.item for s in (*report.due, *report.overdue)), key=lambda i: (i.due, i.id))
    order = {k: n for n, k in enumerate(offered)}
    return sorted(
        (
            PortalDue(i.instrument, f"task:{i.id}:{i.due.isoformat()}", i.due)
            for i in wanted
            if i.instrument in order
        ),
        key=lambda d: order[d.instrument],
    )


# -- outcomes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GoalView:
    """A goal of the plan with its status and, for an instrument goal, the score that meets
    it (the charts' goal line: the same number the status is judged against)."""

    goal: Goal
    status: GoalStatus
    target: float | None


@dataclass(frozen=True)
class Chart:
    """One instrument's scores for a chart: the points, the scale, the band of no meaningful
    change around the first score, and the goal line with what it stands for."""

    instrument: str
    name: str
    points: list[tuple[dt.date, float]]
    min_score: float
    max_score: float
    meaningful_points: float | None
    goal_line: float | None
    goal_label: str


@dataclass(frozen=True)
class Outcomes:
    """A patient's scores over time and, with a plan, each goal's status, the responder status
    at 6 and 12 months on the region's primary instrument, and which completion criteria still
    fail."""

    patient_id: int
    plan: CarePlan | None
    trajectories: dict[str, list[TrajectoryPoint]]
    charts: list[Chart]
    primary_instrument: str | None = None
    goals: list[GoalView] = field(default_factory=list)
    responder_6m: ResponderStatus | None = None
    responder_12m: ResponderStatus | None = None
    completion: CompletionStatus | None = None

    @property
    def latest_scores(self) -> list[LatestScore]:
        """Each scored instrument's newest score (the header of the patient's page), in the
        charts' order."""
        return [
            LatestScore(
                c.instrument,
                c.name,
                short_name(c.instrument),
                c.points[-1][1],
                c.max_score,
                c.points[-1][0],
            )
            for c in self.charts
            if c.points
        ]


@dataclass(frozen=True)
class LatestScore:
    instrument: str
    name: str
    short_name: str
    score: float
    max_score: float
    on: dt.date


def outcomes(
    session: Session, *, access: Access, patient_id: int, plan_id: int | None = None
) -> Outcomes:
    """Outcomes against ``plan_id``, or against the current plan."""
    with audited(session, access, "care.outcome.read", patient_id=patient_id):
        return outcomes_in(
            session,
            organization_id=access.organization_id,
            patient_id=patient_id,
            plan_id=plan_id,
        )


def outcomes_in(
    session: Session, *, organization_id: int, patient_id: int, plan_id: int | None = None
) -> Outcomes:
    results = care_records.instrument_results(
        session, organization_id=organization_id, patient_id=patient_id
    )
    if plan_id is None:
        row = current_plan_in(session, organization_id=organization_id, patient_id=patient_id)
    else:
        row = care_records.get_plan(
            session, organization_id=organization_id, patient_id=patient_id, plan_id=plan_id
        )
        if row is None:
            raise Refused(404, f"patient {patient_id} has no care plan {plan_id}")
    curves = trajectories(results)
    if row is None:
        return Outcomes(patient_id, None, curves, _charts(results, {}))
    plan = care_json.plan_of(row)
    checks = care_records.goal_checks(session, plan_id=row.id)
    everything: list[InstrumentResult | GoalCheck] = [*results, *checks]
    goals = [GoalView(g, goal_status(g, everything), goal_target(g)) for g in plan.goals]
    lines = {
        v.goal.instrument: v.target
        for v in goals
        if v.goal.instrument is not None and v.target is not None
    }
    # The region was copied from the validated case the plan was made from.
    primary = PRIMARY_INSTRUMENT[cast(Region, row.region)]
    return Outcomes(
        patient_id=patient_id,
        plan=row,
        trajectories=curves,
        charts=_charts(results, lines),
        primary_instrument=primary,
        goals=goals,
        responder_6m=responder_status(primary, results, baseline_on=row.start_on, months=6),
        responder_12m=responder_status(primary, results, baseline_on=row.start_on, months=12),
        completion=completion_status(
            plan,
            task_statuses=care_records.care_task_statuses(session, plan_id=row.id),
            results=everything,
        ),
    )


def _charts(results: Sequence[InstrumentResult], plan_lines: Mapping[str, float]) -> list[Chart]:
    """A chart per scored instrument. The goal line is the plan's goal for that instrument
    (``goal_target``), otherwise the smallest meaningful improvement on the first score
    (``improved_at``, the instrument's cited threshold)."""
    by_instrument: dict[str, list[tuple[dt.date, float]]] = {}
    for r in results:
        by_instrument.setdefault(r.instrument, []).append((r.date, r.score))
    out = []
    for key in sorted(by_instrument):
        instrument = INSTRUMENTS.get(key)
        if instrument is None:
            continue
        points = sorted(by_instrument[key])
        mc = instrument.meaningful_change
        line: float | None
        if key in plan_lines:
            line, label = plan_lines[key], "plan goal"
        else:
            line, label = improved_at(key, points[0][1]), "meaningful improvement"
        out.append(
            Chart(
                instrument=key,
                name=instrument.name,
                points=points,
                min_score=float(instrument.min_score),
                max_score=float(instrument.max_score),
                meaningful_points=mc.points if mc else None,
                goal_line=None if line is None else max(float(instrument.min_score), line),
                goal_label=label,
            )
        )
    return out


# -- the task board and task moves ----------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    status: TaskStatus
    label: str


@dataclass(frozen=True)
class Card:
    """A care task on the board: who waits on what (by name), and only the moves the state
    machine allows from its status."""

    task: CareTask
    waiting_on: list[str]
    moves: list[Move]
    # What completing the task records ("block", "imaging"), if it is a diagnostic one.
    result: str | None = None


@dataclass(frozen=True)
class CardGroup:
    """Tasks of one kind in one cell of the board (the monthly opioid-taper follow-ups, say),
    shown as one row with the next due and how many; a task of its own kind is a group of one.
    Cards run by due date."""

    key: str
    name: str
    cards: list[Card]

    @property
    def next_due(self) -> dt.date | None:
        return self.cards[0].task.due if self.cards else None

    @property
    def task_ids(self) -> frozenset[int]:
        return frozenset(c.task.id for c in self.cards)


@dataclass(frozen=True)
class Column:
    owner: str
    by_status: list[tuple[str, list[Card]]]
    # The same cells with repeated tasks grouped (the board's rows).
    grouped: list[tuple[str, list[CardGroup]]] = field(default_factory=list)

    @property
    def open_cells(self) -> list[tuple[str, list[CardGroup]]]:
        """The cells of the statuses still to be worked on (requested, accepted, in progress)."""
        return [(s, g) for s, g in self.grouped if s in OPEN_TASK_STATUSES]

    @property
    def closed_cells(self) -> list[tuple[str, list[CardGroup]]]:
        """The cells of the finished statuses (completed, cancelled, failed)."""
        return [(s, g) for s, g in self.grouped if s not in OPEN_TASK_STATUSES]

    @property
    def closed_task_ids(self) -> frozenset[int]:
        return frozenset(i for _, groups in self.closed_cells for g in groups for i in g.task_ids)


#: Who the board is narrowed to: a team member's id, or nobody in particular.
Assignee = int | Literal["nobody"]


@dataclass(frozen=True)
class Board:
    plan: CarePlan | None
    columns: list[Column]
    # Set by ``board``: the patient the board is about, as the audited act loaded it.
    patient: Patient | None = None
    # Who a task can be given to: the organization's active clinicians and coordinators.
    team: list[User] = field(default_factory=list)
    # The narrowing asked for (None: all), and how many of the plan's tasks it shows.
    owner: str | None = None
    assignee: Assignee | None = None
    shown: int = 0
    total: int = 0


def _groups(cards: list[Card]) -> list[CardGroup]:
    """Cards of the same kind (task key) together, each group by due date, groups in the order
    of their first due date; a care rule's name names a group of its tasks."""
    rules = care_rules()
    by_key: dict[str, list[Card]] = {}
    for c in sorted(cards, key=lambda c: (c.task.due, c.task.id)):
        by_key.setdefault(c.task.key, []).append(c)
    out = []
    for key, found in by_key.items():
        rule = rules.task(key)
        name = rule.name if rule is not None and len(found) > 1 else found[0].task.name
        out.append(CardGroup(key, name, found))
    return out


def board_in(
    session: Session,
    *,
    organization_id: int,
    patient_id: int,
    owner: str | None = None,
    assignee: Assignee | None = None,
) -> Board:
    """The current plan's care tasks by discipline and status, narrowed to one ``owner``
    discipline and/or one ``assignee`` when asked."""
    plan = current_plan_in(session, organization_id=organization_id, patient_id=patient_id)
    if plan is None:
        return Board(None, [], owner=owner, assignee=assignee)
    rows = [t for t in care_records.plan_tasks(session, plan_id=plan.id) if t.kind == "care"]
    # Readiness and names come from the whole plan: a filtered-out prerequisite still waits.
    waiting = care_records.task_readiness(rows)
    names = {t.task_key: t.name for t in rows}
    shown = [
        t
        for t in rows
        if (owner is None or t.owner == owner)
        and (
            assignee is None
            or (
                t.assignee_user_id is None
                if assignee == "nobody"
                else t.assignee_user_id == assignee
            )
        )
    ]
    columns = []
    for discipline in OWNERS:
        mine = [t for t in shown if t.owner == discipline]
        if not mine:
            continue
        cells: list[tuple[str, list[Card]]] = [
            (status, [_card(t, waiting, names) for t in mine if t.status == status])
            for status in TASK_STATUSES
        ]
        columns.append(
            Column(
                owner=discipline,
                by_status=cells,
                grouped=[(status, _groups(cards)) for status, cards in cells],
            )
        )
    return Board(plan, columns, owner=owner, assignee=assignee, shown=len(shown), total=len(rows))


def _card(task: CareTask, waiting: Mapping[str, list[str]], names: Mapping[str, str]) -> Card:
    keys = waiting.get(task.task_key, [])
    return Card(
        task=task,
        waiting_on=[names.get(k, k) for k in keys],
        moves=[Move(s, TASK_MOVE_LABELS[s]) for s in moves(cast(TaskStatus, task.status))],
        result=result_kind(task.plan_item_id),
    )


def board(
    session: Session,
    *,
    access: Access,
    patient_id: int,
    owner: str | None = None,
    assignee: Assignee | None = None,
) -> Board:
    """The patient's task board (``board_in``); an unknown discipline or a team member who is
    not one is a 422 naming the parameter."""
    with audited(session, access, "care.task.read", patient_id=patient_id) as scope:
        if owner is not None and owner not in OWNERS:
            raise invalid("$.owner", f"unknown discipline {owner[:40]!r}")
        team = care_records.team_members(session, organization_id=access.organization_id)
        if isinstance(assignee, int) and assignee not in {u.id for u in team}:
            raise invalid("$.assignee", "is not a member of the team")
        found = board_in(
            session,
            organization_id=access.organization_id,
            patient_id=patient_id,
            owner=owner,
            assignee=assignee,
        )
        return dataclasses.replace(found, patient=scope.patient, team=team)


@dataclass(frozen=True)
class TaskView:
    task: CareTask
    waiting_on: list[str]


def read_task(session: Session, *, access: Access, patient_id: int, task_id: int) -> TaskView:
    """One task with the keys of the prerequisites still waiting."""
    with audited(session, access, "care.task.read", patient_id=patient_id):
        task = _task(session, access, patient_id, task_id)
        waiting = care_records.plan_task_readiness(session, plan_ids=[task.plan_id])
        return TaskView(task, waiting.get(task.task_key, []))


def _task(session: Session, access: Access, patient_id: int, task_id: int) -> CareTask:
    task = care_records.get_task(
        session, organization_id=access.organization_id, patient_id=patient_id, task_id=task_id
    )
    if task is None:
        raise Refused(404, f"patient {patient_id} has no care task {task_id}")
    return task


_UNSET: Any = object()


def task_assignments(
    session: Session, *, access: Access, patient_id: int, task_id: int
) -> list[CareTaskAssignment]:
    """Every change of who does the task and when it is due, oldest first."""
    with audited(session, access, "care.task.read", patient_id=patient_id):
        task = _task(session, access, patient_id, task_id)
        return care_records.task_assignments(session, task_id=task.id)


@dataclass(frozen=True)
class TaskChange:
    task: CareTask
    cancelled: list[CareTask]
    waiting: dict[str, list[str]]


def update_task(
    session: Session,
    *,
    access: Access,
    patient_id: int,
    task_id: int,
    expected: IfMatchVersion,
    status: TaskStatus | None = None,
    reason: str | None = None,
    on: dt.date | None = None,
    person: str | None = _UNSET,
    assignee_user_id: int | None = _UNSET,
    due: dt.date | None = _UNSET,
) -> TaskChange:
    """Move a task through its state machine and/or change who does it and when. A step the
    machine does not allow, or a start before every prerequisite is completed, is refused
    naming the task and the prerequisites; cancelling or failing needs a reason and cancels
    what waited on the task; the assignee must be an active member of the team."""
    with audited(session, access, "care.task.update", patient_id=patient_id), care_errors():
        expected_version = expected.required()
        _task(session, access, patient_id, task_id)
        changes: dict[str, Any] = {}
        if person is not _UNSET:
            changes["person"] = person
        if assignee_user_id is not _UNSET:
            changes["assignee_user_id"] = assignee_user_id
        if due is not _UNSET:
            if due is None:
                raise invalid("$.due", "cannot be null", "due cannot be null")
            changes["due"] = due
        if status in ("cancelled", "failed") and not (reason and reason.strip()):
            raise invalid(
                "$.reason",
                "required to cancel or fail",
                f"Say why the task is {status}: a reason is required.",
            )
        if assignee_user_id not in (_UNSET, None) and not care_records.is_staff_member(
            session, organization_id=access.organization_id, user_id=assignee_user_id
        ):
            raise invalid(
                "$.assignee_user_id",
                "not a team member",
                f"user {assignee_user_id} is not an active clinician or coordinator of your "
                "organization",
            )
        task, cancelled = care_records.update_task(
            session,
            organization_id=access.organization_id,
            patient_id=patient_id,
            task_id=task_id,
            expected_version=expected_version,
            status=status,
            on=on or today(),
            reason=reason,
            changes=changes,
            user_id=access.principal.user_id,
            username=access.principal.username,
        )
        waiting = care_records.plan_task_readiness(session, plan_ids=[task.plan_id])
        return TaskChange(task, cancelled, waiting)


@dataclass(frozen=True)
class TaskResult:
    """A diagnostic task completed with its result, and the case version the result is in
    (the newest assessment no longer reflects it: assess again)."""

    change: TaskChange
    case_version: int


def record_task_result(
    session: Session,
    *,
    access: Access,
    patient_id: int,
    task_id: int,
    expected: IfMatchVersion,
    result: Mapping[str, Any],
    on: dt.date | None = None,
) -> TaskResult:
    """Complete a diagnostic task (a block, an imaging study) with its result, which becomes
    the patient's next case version (``services.records``), in one transaction: both or
    neither. Refused: a task that records no result (422), a result that does not fit (422,
    each field named), a task that cannot be completed now (409), a stale task (412)."""
    day = on or today()
    with audited(session, access, "care.task.update", patient_id=patient_id), care_errors():
        expected_version = expected.required()
        task = _task(session, access, patient_id, task_id)
        kind = result_kind(task.plan_item_id)
        if kind is None:
            raise invalid(
                "$.result",
                "this task records no result",
                f"{task.name}: this task records no result; complete it from the board",
            )
        found = check_block(result) if kind == "block" else check_imaging(result)
        current = records.case_version_in(
            session, organization_id=access.organization_id, patient_id=patient_id
        )
        if current is None:
            raise records.no_case(patient_id)
        assert task.plan_item_id is not None
        document = with_result(current.document, task.plan_item_id, found, day)
        changed, cancelled = care_records.update_task(
            session,
            organization_id=access.organization_id,
            patient_id=patient_id,
            task_id=task_id,
            expected_version=expected_version,
            status="completed",
            on=day,
            reason=None,
            user_id=access.principal.user_id,
            username=access.principal.username,
        )
        version = records.save_case_in(
            session,
            access=access,
            patient_id=patient_id,
            expected=current.number,
            document=document,
        )
        waiting = care_records.plan_task_readiness(session, plan_ids=[changed.plan_id])
        return TaskResult(TaskChange(changed, cancelled, waiting), version.number)


# -- worklists ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Worklists:
    """The team's lists, first ``limit`` of each (the API pages through each one)."""

    today: dt.date
    limit: int
    review_within_days: int
    discipline: str
    mine: list[CareTask]
    theirs: list[CareTask]
    overdue: list[CareTask]
    questionnaires: list[Any]
    red_flags: list[Any]
    reviews: list[tuple[CarePlan, str]]
    patient_names: dict[int, str]
    my_discipline: str | None = None


#: ``worklists``/``worklist``: the discipline of the signed-in user.
MY_DISCIPLINE: Any = object()


def user_discipline_in(session: Session, *, access: Access) -> str | None:
    """The care discipline of the signed-in user (set by an administrator), if any."""
    if access.principal.user_id is None:
        return None
    return care_records.user_discipline(
        session, organization_id=access.organization_id, user_id=access.principal.user_id
    )


def worklists(
    session: Session, *, access: Access, discipline: Any = MY_DISCIPLINE, limit: int
) -> Worklists:
    """The team's worklists; the discipline's list is of ``discipline`` (None: no list),
    by default the signed-in user's own."""
    day = today()
    org = access.organization_id
    with audited(session, access, "care.worklist.read") as scope:
        my_discipline = user_discipline_in(session, access=access)
        if discipline is MY_DISCIPLINE:
            discipline = my_discipline
        assert discipline is None or isinstance(discipline, str)
        mine = care_worklists.worklist_my_tasks(
            session, organization_id=org, user_id=access.principal.user_id, limit=limit, after=None
        )
        theirs = (
            care_worklists.worklist_discipline(
                session, organization_id=org, discipline=discipline, limit=limit, after=None
            )
            if discipline
            else []
        )
        overdue = care_worklists.worklist_overdue(
            session, organization_id=org, today=day, limit=limit, after=None
        )
        questionnaires = care_worklists.worklist_questionnaires(
            session, organization_id=org, today=day, limit=limit, after_patient=0
        )
        flags = care_worklists.worklist_red_flags(
            session, organization_id=org, limit=limit, after_patient=0
        )
        reviews = care_worklists.worklist_reviews(
            session,
            organization_id=org,
            until=day + dt.timedelta(days=REVIEW_NOTICE_DAYS),
            limit=limit,
            after=None,
        )
        names = care_worklists.patient_names(
            session, (t.patient_id for t in [*mine, *theirs, *overdue])
        )
        scope.disclosed = [
            *names,
            *(q.patient_id for q in questionnaires),
            *(f.patient_id for f in flags),
            *(plan.patient_id for plan, _ in reviews),
        ]
        return Worklists(
            today=day,
            limit=limit,
            review_within_days=REVIEW_NOTICE_DAYS,
            discipline=discipline or "",
            mine=mine,
            theirs=theirs,
            overdue=overdue,
            questionnaires=list(questionnaires),
            red_flags=list(flags),
            reviews=list(reviews),
            patient_names=names,
            my_discipline=my_discipline,
        )


WorklistKind = Literal[
    "my-tasks", "discipline", "overdue-tasks", "questionnaires", "red-flags", "plan-reviews"
]
WORKLIST_KINDS: tuple[WorklistKind, ...] = get_args(WorklistKind)


@dataclass(frozen=True)
class WorklistPage:
    """One page of one worklist: task rows (with the patients' names), questionnaire or
    red-flag patients, or plans due for review with their patients' names."""

    kind: WorklistKind
    tasks: list[CareTask] = field(default_factory=list)
    patients: list[Any] = field(default_factory=list)
    reviews: list[tuple[CarePlan, str]] = field(default_factory=list)
    patient_names: dict[int, str] = field(default_factory=dict)


def worklist(
    session: Session,
    *,
    access: Access,
    kind: WorklistKind,
    limit: int,
    day: dt.date | None = None,
    discipline: str | None = None,
    after: care_worklists.DueCursor | None = None,
    after_patient: int = 0,
    include_due: bool = True,
    review_within_days: int = REVIEW_NOTICE_DAYS,
) -> WorklistPage:
    """One worklist of the organization, as the API pages it and the command line prints it.
    ``limit`` rows at most (ask for one more to learn whether there is a next page)."""
    day = day or today()
    with audited(session, access, "care.worklist.read") as scope:
        page = _worklist_page(
            session,
            access,
            kind,
            limit,
            day,
            discipline,
            after,
            after_patient,
            include_due,
            review_within_days,
        )
        scope.disclosed = [
            *(t.patient_id for t in page.tasks),
            *(p.patient_id for p in page.patients),
            *(plan.patient_id for plan, _ in page.reviews),
        ]
        return page


def _worklist_page(
    session: Session,
    access: Access,
    kind: WorklistKind,
    limit: int,
    day: dt.date,
    discipline: str | None,
    after: care_worklists.DueCursor | None,
    after_patient: int,
    include_due: bool,
    review_within_days: int,
) -> WorklistPage:
    org = access.organization_id
    if kind in ("my-tasks", "discipline", "overdue-tasks"):
        if kind == "my-tasks":
            tasks = care_worklists.worklist_my_tasks(
                session,
                organization_id=org,
                user_id=access.principal.user_id,
                limit=limit,
                after=after,
            )
        elif kind == "discipline":
            if discipline is MY_DISCIPLINE:
                discipline = user_discipline_in(session, access=access)
                if not discipline:
                    # The request is well formed; the account lacks what it needs (409).
                    raise Refused(
                        409,
                        "you have no care discipline on record: an administrator sets it "
                        "(PATCH /api/v1/users/{id}, `discipline`), or name one",
                        kind="no-discipline",
                    )
            if not discipline:
                raise Refused(422, "name the discipline", kind="request-invalid")
            tasks = care_worklists.worklist_discipline(
                session, organization_id=org, discipline=discipline, limit=limit, after=after
            )
        else:
            tasks = care_worklists.worklist_overdue(
                session,
                organization_id=org,
                today=day,
                limit=limit,
                after=after,
                discipline=discipline,
            )
        names = care_worklists.patient_names(session, (t.patient_id for t in tasks))
        return WorklistPage(kind, tasks=tasks, patient_names=names)
    if kind == "questionnaires":
        rows: list[Any] = list(
            care_worklists.worklist_questionnaires(
                session,
                organization_id=org,
                today=day,
                limit=limit,
                after_patient=after_patient,
                include_due=include_due,
            )
        )
        return WorklistPage(kind, patients=rows)
    if kind == "red-flags":
        rows = list(
            care_worklists.worklist_red_flags(
                session, organization_id=org, limit=limit, after_patient=after_patient
            )
        )
        return WorklistPage(kind, patients=rows)
    reviews = care_worklists.worklist_reviews(
        session,
        organization_id=org,
        until=min(day + dt.timedelta(days=review_within_days), dt.date(2199, 12, 31)),
        limit=limit,
        after=after,
    )
    return WorklistPage(kind, reviews=list(reviews))


def cohort(session: Session, *, access: Access) -> list[CohortRow]:
    """The organization's patients with a care plan, one row each (cohort reports)."""
    with audited(session, access, "care.cohort.read") as scope:
        rows = care_cohort.cohort_rows(session, organization_id=access.organization_id)
        scope.disclosed = [int(row.patient_id) for row in rows]
        return rows
