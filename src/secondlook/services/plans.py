"""Case conferences and care plans as the team makes and keeps them: a conference recorded
once about an assessment; a plan proposed from an assessment, decided (a draft or in force),
changed under If-Match and closed; its tasks, opioid taper, questionnaire schedule and goal
checks. The REST API and the pages both ask here, so they authorize, audit and validate alike.

Each function named for an act authorizes and audits it (``services.unit.audited``) and runs
the store in that one transaction. The care domain's refusals are located in the request (the
``where`` maps: an item or goal id to its JSON path) from the data the caller sends, so every
adapter points at the same places. The store's JSON converters (``conference_decisions``,
``TaperRequest``, ``to_json``) are called here; adapters hand over what they parsed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from secondlook.care import (
    AgendaItem,
    Attendee,
    CompletionCriteria,
    Decision,
    Goal,
    PlanDraft,
    PlanEntry,
    PlanItem,
    TaperSchedule,
    conference_agenda,
    due_and_overdue,
)
from secondlook.care.plan import CloseOutcome
from secondlook.care.schedule import QuestionnaireState
from secondlook.platform.access import Access
from secondlook.platform.clock import today
from secondlook.platform.errors import Refused
from secondlook.platform.preconditions import IfMatchVersion
from secondlook.services.errors import care_errors
from secondlook.services.unit import audited
from secondlook.store import care_json, care_records
from secondlook.store.care_models import (
    CareConference,
    CareGoalCheck,
    CarePlan,
    CarePlanVersion,
    CareTaperSchedule,
    CareTask,
)
from secondlook.store.care_records import PlanStatus
from secondlook.store.models import Assessment, Patient, User


def to_json(value: Any) -> Any:
    """A domain record (a goal, a proposal's goals) as the JSON documents show it."""
    return care_json.to_json(value)


def _latest_assessment(session: Session, access: Access, patient_id: int) -> Assessment:
    """The assessment the pages work from: the patient's newest (404 without one)."""
    assessment = care_records.latest_assessment(
        session, organization_id=access.organization_id, patient_id=patient_id
    )
    if assessment is None:
        raise Refused(404, "this patient has no assessment yet")
    return assessment


def _plan(session: Session, access: Access, patient_id: int, plan_id: int) -> CarePlan:
    plan = care_records.get_plan(
        session, organization_id=access.organization_id, patient_id=patient_id, plan_id=plan_id
    )
    if plan is None:
        raise Refused(404, f"patient {patient_id} has no care plan {plan_id}")
    return plan


# -- case conferences -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ConferenceForm:
    """What a conference form is about: the patient, their newest assessment, its agenda, the
    items a plan from it would hold (a decision may accept or reject one) and the team members
    who can attend."""

    patient: Patient
    assessment: Assessment
    agenda: list[AgendaItem]
    items: list[PlanItem] = field(default_factory=list)
    team: list[User] = field(default_factory=list)


def conference_form(session: Session, *, access: Access, patient_id: int) -> ConferenceForm:
    """The patient's newest assessment and its agenda, read to hold (or show) a conference."""
    with (
        audited(session, access, "care.conference.read", patient_id=patient_id) as scope,
        care_errors(),
    ):
        assert scope.patient is not None
        assessment = _latest_assessment(session, access, patient_id)
        draft = _propose(session, access, patient_id, assessment.id)
        team = care_records.team_members(session, organization_id=access.organization_id)
        return ConferenceForm(
            scope.patient,
            assessment,
            conference_agenda(assessment.document),
            list(draft.items),
            team,
        )


@dataclass(frozen=True)
class ConferenceMinutes:
    """A conference as its minutes read: the record, the names of the users it mentions
    (attendees, who recorded it) and the names of the plan items it decided."""

    patient: Patient
    conference: CareConference
    user_names: dict[int, str]
    item_names: dict[str, str]


def conference_minutes(
    session: Session, *, access: Access, patient_id: int, conference_id: int
) -> ConferenceMinutes:
    with (
        audited(session, access, "care.conference.read", patient_id=patient_id) as scope,
        care_errors(),
    ):
        assert scope.patient is not None
        conference = care_records.get_conference(
            session,
            organization_id=access.organization_id,
            patient_id=patient_id,
            conference_id=conference_id,
        )
        if conference is None:
            raise Refused(404, f"patient {patient_id} has no conference {conference_id}")
        draft = _propose(session, access, patient_id, conference.assessment_id)
        team = care_records.team_members(session, organization_id=access.organization_id)
        names = {u.id: u.username for u in team}
        if conference.created_by is not None and conference.created_by not in names:
            recorder = care_records.user_name(session, user_id=conference.created_by)
            if recorder is not None:
                names[conference.created_by] = recorder
        return ConferenceMinutes(
            scope.patient, conference, names, {item.id: item.name for item in draft.items}
        )


def conferences_in(
    session: Session, *, organization_id: int, patient_id: int, limit: int = 20
) -> list[CareConference]:
    """The patient's newest conferences, newest first, for a page already audited."""
    return care_records.recent_conferences(
        session, organization_id=organization_id, patient_id=patient_id, limit=limit
    )


def create_conference(
    session: Session,
    *,
    access: Access,
    patient_id: int,
    assessment_id: int,
    held_on: dt.date,
    attendees: Sequence[Attendee],
    decisions: Sequence[Mapping[str, Any]],
) -> CareConference:
    """Record a conference about one of the patient's assessments. ``decisions`` are JSON
    documents (``id``, ``text``, ``agenda_key``, ``dissent``: ``attendee`` and ``text``), as
    the API receives them; every problem is refused at once (422, at ``$.decisions[i]``)."""
    where = {f"decision '{d['id']}'": f"$.decisions[{i}]" for i, d in enumerate(decisions)}
    with (
        audited(session, access, "care.conference.create", patient_id=patient_id) as scope,
        care_errors(where),
    ):
        scope.status = 201
        return care_records.create_conference(
            session,
            organization_id=access.organization_id,
            patient_id=patient_id,
            assessment_id=assessment_id,
            held_on=held_on,
            attendees=attendees,
            decisions=care_records.conference_decisions(decisions),
            user_id=access.principal.user_id,
        )


def list_conferences(
    session: Session, *, access: Access, patient_id: int, limit: int, after_id: int = 0
) -> list[CareConference]:
    """The patient's conferences, oldest first: ``limit`` after ``after_id``."""
    with audited(session, access, "care.conference.read", patient_id=patient_id):
        return care_records.list_conferences(
            session,
            organization_id=access.organization_id,
            patient_id=patient_id,
            limit=limit,
            after_id=after_id,
        )


def read_conference(
    session: Session, *, access: Access, patient_id: int, conference_id: int
) -> CareConference:
    with audited(session, access, "care.conference.read", patient_id=patient_id):
        conference = care_records.get_conference(
            session,
            organization_id=access.organization_id,
            patient_id=patient_id,
            conference_id=conference_id,
        )
        if conference is None:
            raise Refused(404, f"patient {patient_id} has no conference {conference_id}")
        return conference


# -- proposing and deciding a plan ----------------------------------------------------------------


def propose(session: Session, *, access: Access, patient_id: int, assessment_id: int) -> PlanDraft:
    """What a plan from this assessment would hold: each item with the engine's
    recommendation, and the suggested goals."""
    with (
        audited(session, access, "care.plan.propose", patient_id=patient_id),
        care_errors(),
    ):
        return _propose(session, access, patient_id, assessment_id)


def _propose(session: Session, access: Access, patient_id: int, assessment_id: int) -> PlanDraft:
    return care_records.propose(
        session,
        organization_id=access.organization_id,
        patient_id=patient_id,
        assessment_id=assessment_id,
        today=today(),
    )


@dataclass(frozen=True)
class PlanBuilder:
    """What the plan builder shows: the patient, their newest assessment and its proposal; or,
    while the patient has an active plan, that plan to amend: its items with the decisions
    they have (``current``) and the items the newest assessment adds (``new_items``)."""

    patient: Patient
    assessment: Assessment
    draft: PlanDraft
    plan: CarePlan | None = None
    current: Mapping[str, PlanEntry] = field(default_factory=dict)
    new_items: frozenset[str] = frozenset()


def plan_builder(session: Session, *, access: Access, patient_id: int) -> PlanBuilder:
    """The proposal from the patient's newest assessment, to decide a plan from; while a plan
    is active, that plan as an amendment would decide it."""
    with (
        audited(session, access, "care.plan.propose", patient_id=patient_id) as scope,
        care_errors(),
    ):
        assert scope.patient is not None
        assessment = _latest_assessment(session, access, patient_id)
        active = care_records.active_plan(
            session, organization_id=access.organization_id, patient_id=patient_id
        )
        if active is None:
            draft = _propose(session, access, patient_id, assessment.id)
            return PlanBuilder(scope.patient, assessment, draft)
        amendment = care_records.amendment_draft(session, active, today=today())
        return PlanBuilder(
            scope.patient,
            amendment.assessment,
            amendment.draft,
            plan=active,
            current={e.item.id: e for e in care_json.plan_of(active).entries},
            new_items=amendment.new_items,
        )


_TAPER_FIELDS = ("mme_per_day", "months_of_use", "pace", "floor_mme", "resolution")


def create_plan(
    session: Session,
    *,
    access: Access,
    patient_id: int,
    assessment_id: int,
    decisions: Sequence[Decision],
    decided_on: dt.date | None = None,
    start_on: dt.date | None = None,
    goals: Sequence[Goal] | None = None,
    review_on: dt.date | None = None,
    completion: CompletionCriteria | None = None,
    taper: Mapping[str, Any] | None = None,
    draft: bool = False,
    conference_id: int | None = None,
) -> CarePlan:
    """Decide a plan from a stored assessment, by the acting clinician, on ``decided_on``
    (default today). ``taper`` is what was agreed for an accepted opioid taper, as the API
    receives it. A draft gets no tasks and is never the current plan; an active plan gets its
    tasks, taper and questionnaires. Every problem is refused at once (422), located at the
    decision, goal or taper field it is about. ``conference_id`` records the patient's case
    conference the plan was decided from (404 for another patient's)."""
    where = {d.item_id: f"$.decisions[{i}]" for i, d in enumerate(decisions)}
    where.update({f: f"$.taper.{f}" for f in _TAPER_FIELDS})
    if goals is not None:
        where.update({f"goal:{g.id}": f"$.goals[{i}]" for i, g in enumerate(goals)})
    with (
        audited(session, access, "care.plan.create", patient_id=patient_id) as scope,
        care_errors(where),
        _plan_active(),
    ):
        scope.status = 201
        plan = care_records.create_plan(
            session,
            organization_id=access.organization_id,
            patient_id=patient_id,
            assessment_id=assessment_id,
            decisions=decisions,
            decided_on=decided_on or today(),
            decided_by=access.principal.username,
            start_on=start_on,
            goals=goals,
            review_on=review_on,
            completion=completion,
            taper=None if taper is None else care_records.TaperRequest(**taper),
            draft=draft,
            user_id=access.principal.user_id,
        )
        if conference_id is not None:
            care_records.link_plan_to_conference(session, plan=plan, conference_id=conference_id)
        return plan


@dataclass(frozen=True)
class ConferenceItemDecision:
    """What a case conference decided about one plan item: accept or reject, and why (the
    decision's text), with the agenda item it was taken on and any dissent."""

    item_id: str
    action: str
    reason: str
    decision_id: str
    agenda_key: str | None
    dissent: list[dict[str, Any]]


def conference_decisions_for_plan(
    session: Session, *, access: Access, patient_id: int, conference_id: int
) -> dict[str, ConferenceItemDecision]:
    """The conference's decisions about plan items, by plan item id, for the plan builder to
    start from. When a conference decided one item twice, the later decision stands (the
    minutes keep both)."""
    conference = read_conference(
        session, access=access, patient_id=patient_id, conference_id=conference_id
    )
    out: dict[str, ConferenceItemDecision] = {}
    for decision in conference.decisions:
        item_id, action = decision.get("plan_item_id"), decision.get("plan_action")
        if item_id and action:
            out[item_id] = ConferenceItemDecision(
                item_id=item_id,
                action=action,
                reason=decision["text"],
                decision_id=decision["id"],
                agenda_key=decision.get("agenda_key"),
                dissent=list(decision.get("dissent") or []),
            )
    return out


@dataclass(frozen=True)
class ConferenceStart:
    """A new plan begun from a recorded conference: which one, when, and its decisions about
    plan items (by plan item id)."""

    conference_id: int
    held_on: dt.date
    decisions: dict[str, ConferenceItemDecision]


def conference_start(
    session: Session, *, access: Access, patient_id: int, conference_id: int
) -> ConferenceStart:
    """What the plan builder starts from when a plan is built from a conference (404 for a
    conference of someone else)."""
    decisions = conference_decisions_for_plan(
        session, access=access, patient_id=patient_id, conference_id=conference_id
    )
    conference = read_conference(
        session, access=access, patient_id=patient_id, conference_id=conference_id
    )
    return ConferenceStart(conference.id, conference.held_on, decisions)


@contextmanager
def _plan_active() -> Iterator[None]:
    """A new plan while one is active: 409 naming the active plan and what to do with it."""
    try:
        yield
    except care_records.PlanActive as exc:
        raise Refused(
            409,
            str(exc),
            kind="plan-active",
            title="The patient already has an active plan",
            extra={
                "active_plan_id": exc.plan.id,
                "active_plan_version": exc.plan.plan_version,
                "amend": f"/api/v1/patients/{exc.plan.patient_id}/care/plans/{exc.plan.id}"
                "/amendments",
                "close": f"/api/v1/patients/{exc.plan.patient_id}/care/plans/{exc.plan.id}/closing",
            },
        ) from None


def active_plan(session: Session, *, access: Access, patient_id: int) -> CarePlan | None:
    """The patient's active plan (the one an amendment or a closing is about), if any."""
    with audited(session, access, "care.plan.read", patient_id=patient_id):
        return care_records.active_plan(
            session, organization_id=access.organization_id, patient_id=patient_id
        )


def amend_plan(
    session: Session,
    *,
    access: Access,
    patient_id: int,
    plan_id: int,
    expected: IfMatchVersion,
    decisions: Sequence[Decision],
    reason: str,
    decided_on: dt.date | None = None,
    goals: Sequence[Goal] | None = None,
    review_on: dt.date | None = None,
    completion: CompletionCriteria | None = None,
    taper: Mapping[str, Any] | None = None,
) -> tuple[CarePlan, CarePlanVersion]:
    """A new version of the active plan by the acting clinician: the items ``decisions``
    re-decide (and every item the newest assessment adds), the rest as decided before; every
    task keeps its state, removed items' open tasks are cancelled with the reason, goals,
    taper and questionnaires carry over. 428 without If-Match, 412 when stale; every problem
    at once (422) at the decision, goal or field it is about."""
    where = {d.item_id: f"$.decisions[{i}]" for i, d in enumerate(decisions)}
    where.update({f: f"$.taper.{f}" for f in _TAPER_FIELDS})
    if goals is not None:
        where.update({f"goal:{g.id}": f"$.goals[{i}]" for i, g in enumerate(goals)})
    with (
        audited(session, access, "care.plan.amend", patient_id=patient_id) as scope,
        care_errors(where),
    ):
        expected_version = expected.required()
        scope.status = 201
        return care_records.amend_plan(
            session,
            organization_id=access.organization_id,
            patient_id=patient_id,
            plan_id=plan_id,
            expected_version=expected_version,
            decisions=decisions,
            reason=reason,
            decided_on=decided_on or today(),
            decided_by=access.principal.username,
            goals=goals,
            review_on=review_on,
            completion=completion,
            taper=None if taper is None else care_records.TaperRequest(**taper),
            user_id=access.principal.user_id,
        )


def close_plan(
    session: Session,
    *,
    access: Access,
    patient_id: int,
    plan_id: int,
    expected: IfMatchVersion,
    outcome: CloseOutcome,
    reason: str,
    on: dt.date | None = None,
    carry_over: bool = False,
) -> CarePlan:
    """Close the active plan (completed, discharged or replaced) with its reason on ``on``
    (default today); its open questionnaires are cancelled, its open care tasks cancelled or,
    for a replacement with ``carry_over``, carried into the next plan. 409 listing what is
    unmet when a plan is not complete yet."""
    with (
        audited(session, access, "care.plan.close", patient_id=patient_id),
        care_errors(),
    ):
        expected_version = expected.required()
        return care_records.close_plan(
            session,
            organization_id=access.organization_id,
            patient_id=patient_id,
            plan_id=plan_id,
            expected_version=expected_version,
            outcome=outcome,
            reason=reason,
            on=on or today(),
            carry_over=carry_over,
            user_id=access.principal.user_id,
        )


@dataclass(frozen=True)
class PlanVersions:
    plan: CarePlan
    versions: list[CarePlanVersion]


def plan_versions(
    session: Session, *, access: Access, patient_id: int, plan_id: int
) -> PlanVersions:
    """Every version of the plan, first to current, each with what changed."""
    with audited(session, access, "care.plan.read", patient_id=patient_id):
        plan = _plan(session, access, patient_id, plan_id)
        return PlanVersions(plan, care_records.list_plan_versions(session, plan_id=plan.id))


def plan_version(
    session: Session, *, access: Access, patient_id: int, plan_id: int, number: int
) -> CarePlanVersion:
    with audited(session, access, "care.plan.read", patient_id=patient_id):
        plan = _plan(session, access, patient_id, plan_id)
        found = care_records.get_plan_version(session, plan_id=plan.id, number=number)
        if found is None:
            raise Refused(404, f"plan {plan_id} has no version {number}")
        return found


# -- reading and changing plans -------------------------------------------------------------------


def list_plans(
    session: Session, *, access: Access, patient_id: int, limit: int, after_id: int = 0
) -> list[CarePlan]:
    """The patient's plans (drafts too), oldest first: ``limit`` after ``after_id``."""
    with audited(session, access, "care.plan.read", patient_id=patient_id):
        return care_records.list_plans(
            session,
            organization_id=access.organization_id,
            patient_id=patient_id,
            limit=limit,
            after_id=after_id,
        )


def read_plan(session: Session, *, access: Access, patient_id: int, plan_id: int) -> CarePlan:
    with audited(session, access, "care.plan.read", patient_id=patient_id):
        return _plan(session, access, patient_id, plan_id)


def update_plan(
    session: Session,
    *,
    access: Access,
    patient_id: int,
    plan_id: int,
    expected: IfMatchVersion,
    goals: Sequence[Goal] | None = None,
    review_on: dt.date | None = None,
    completion: CompletionCriteria | None = None,
    status: PlanStatus | None = None,
    on: dt.date | None = None,
    reason: str | None = None,
) -> CarePlan:
    """Change goals, the review date or the completion criteria, or move the plan on (a draft
    becomes active; an active plan is completed or discharged) on ``on`` (default today). The
    version is asked for only once the act is authorized: 428 without If-Match, 412 when the
    plan changed since it was read."""
    where: dict[str, str] = {}
    if goals is not None:
        where = {f"goal:{g.id}": f"$.goals[{i}]" for i, g in enumerate(goals)}
    with (
        audited(session, access, "care.plan.update", patient_id=patient_id),
        care_errors(where),
        _plan_active(),
    ):
        expected_version = expected.required()
        return care_records.update_plan(
            session,
            organization_id=access.organization_id,
            patient_id=patient_id,
            plan_id=plan_id,
            expected_version=expected_version,
            goals=goals,
            review_on=review_on,
            completion=completion,
            status=status,
            on=on or today(),
            reason=reason,
        )


@dataclass(frozen=True)
class PlanTasks:
    """A page of the plan's tasks and, by task key, the prerequisites each still waits on."""

    plan: CarePlan
    tasks: list[CareTask]
    waiting: dict[str, list[str]]


def plan_tasks(
    session: Session,
    *,
    access: Access,
    patient_id: int,
    plan_id: int,
    limit: int,
    after_id: int = 0,
    kind: str | None = None,
) -> PlanTasks:
    """The plan's tasks in creation order (prerequisites first), ``kind`` care or
    questionnaire (default both), with what each still waits on."""
    with audited(session, access, "care.task.read", patient_id=patient_id):
        plan = _plan(session, access, patient_id, plan_id)
        rows = care_records.list_plan_tasks(
            session, plan_id=plan.id, limit=limit, after_id=after_id, kind=kind
        )
        waiting = care_records.plan_task_readiness(session, plan_ids=[plan.id])
        return PlanTasks(plan, rows, waiting)


@dataclass(frozen=True)
class Taper:
    """The plan's stored opioid taper and the schedule it stands for."""

    plan: CarePlan
    row: CareTaperSchedule
    schedule: TaperSchedule


def taper(session: Session, *, access: Access, patient_id: int, plan_id: int) -> Taper:
    """The plan's opioid taper (404 ``no-taper`` when the plan accepted none)."""
    with audited(session, access, "care.plan.read", patient_id=patient_id):
        plan = _plan(session, access, patient_id, plan_id)
        row = care_records.latest_taper(session, plan_id=plan.id)
        if row is None:
            raise Refused(404, f"plan {plan_id} has no opioid taper", kind="no-taper")
        return Taper(plan, row, care_json.taper_of(row))


@dataclass(frozen=True)
class ScheduledItem:
    task: CareTask
    state: QuestionnaireState
    answered_on: dt.date | None


@dataclass(frozen=True)
class QuestionnaireSchedule:
    """Every questionnaire the plan schedules, by due date, each with its state on ``as_of``."""

    plan: CarePlan
    as_of: dt.date
    items: list[ScheduledItem]


def questionnaire_schedule(
    session: Session, *, access: Access, patient_id: int, plan_id: int, as_of: dt.date
) -> QuestionnaireSchedule:
    """Each questionnaire of the plan ``completed`` (answered in its window), ``due``,
    ``overdue`` or ``upcoming`` on ``as_of``, judged by the patient's scored answers."""
    with audited(session, access, "care.plan.read", patient_id=patient_id):
        plan = _plan(session, access, patient_id, plan_id)
        rows = care_records.list_plan_tasks(
            session, plan_id=plan.id, limit=10_000, kind="questionnaire"
        )
        results = care_records.instrument_results(
            session, organization_id=access.organization_id, patient_id=patient_id
        )
    schedule = [care_json.scheduled_of(r) for r in rows]
    report = due_and_overdue(schedule, results, as_of)
    states = {
        s.item.id: s for s in (*report.completed, *report.due, *report.overdue, *report.upcoming)
    }
    return QuestionnaireSchedule(
        plan=plan,
        as_of=as_of,
        items=[
            ScheduledItem(r, states[str(r.id)].state, states[str(r.id)].answered_on)
            for r in sorted(rows, key=lambda r: (r.due, r.id))
        ],
    )


def check_goal(
    session: Session,
    *,
    access: Access,
    patient_id: int,
    plan_id: int,
    goal_id: str,
    checked_on: dt.date,
    achieved: bool,
    note: str = "",
) -> CareGoalCheck:
    """Record a dated check of one of the plan's patient goals (achieved or not); the latest
    check decides the goal's status. A goal its questionnaire measures is not checked."""
    with (
        audited(session, access, "care.goal-check.create", patient_id=patient_id) as scope,
        care_errors(),
    ):
        scope.status = 201
        return care_records.add_goal_check(
            session,
            organization_id=access.organization_id,
            patient_id=patient_id,
            plan_id=plan_id,
            goal_id=goal_id,
            checked_on=checked_on,
            achieved=achieved,
            note=note,
            user_id=access.principal.user_id,
        )
