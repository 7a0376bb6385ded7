"""Care coordination in the database: the one place where the pure care domain
(``secondlook.care``) meets the stored records. Every function takes the organization and
filters by it. Validation is the domain's: its ``CareInvalid`` (and ``TransitionRefused``)
pass through unchanged for the caller to report.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from sqlalchemy import (
    CursorResult,
    select,
    update,
)
from sqlalchemy.orm import Session

from secondlook.care import (
    AssessmentRef,
    Attendee,
    CareInvalid,
    CompletionCriteria,
    ConferenceDecision,
    Decision,
    Dissent,
    Goal,
    GoalCheck,
    InstrumentResult,
    Plan,
    PlanDraft,
    PlanIncomplete,
    QuestionnaireOptions,
    Task,
    TaskStatus,
    TransitionRefused,
    complete_plan,
    decide,
    discharge_plan,
    propose_plan,
    questionnaire_options,
    questionnaire_schedule,
    questionnaire_tasks,
    record_conference,
    taper_schedule,
    tasks_for,
    transition,
    vocabulary,
    waiting_on,
)
from secondlook.care.plan import CloseOutcome
from secondlook.care.schedule import GRACE_DAYS
from secondlook.care.taper import TaperSchedule
from secondlook.case import parse_case
from secondlook.case.models import Case
from secondlook.store import records
from secondlook.store.care_json import date_of, plan_of, taper_of, task_of, to_json
from secondlook.store.care_models import (
    OPEN_TASK_STATUSES,
    CareConference,
    CareGoalCheck,
    CarePlan,
    CarePlanVersion,
    CareTaperSchedule,
    CareTask,
    CareTaskAssignment,
    CareTaskEvent,
)
from secondlook.store.errors import Conflict, NotFound, StaleVersion
from secondlook.store.models import (
    Assessment,
    CaseScore,
    CaseVersion,
    Patient,
    QuestionnaireResponse,
    User,
    utcnow,
)

# -- shared lookups ------------------------------------------------------------------------------


def _execute_update(session: Session, statement: Any) -> CursorResult[Any]:
    return cast(CursorResult[Any], session.execute(statement))


def assessment_with_case(
    session: Session, *, organization_id: int, patient_id: int, assessment_id: int
) -> tuple[Assessment, Case]:
    """A stored assessment and the case it was made from (``NotFound`` when the patient has no
    such assessment)."""
    assessment = records.get_assessment(
        session,
        organization_id=organization_id,
        patient_id=patient_id,
        assessment_id=assessment_id,
    )
    if assessment is None:
        raise NotFound(f"assessment {assessment_id} of patient {patient_id}")
    version = session.get(CaseVersion, assessment.case_version_id)
    assert version is not None
    return assessment, parse_case(version.document)


def latest_assessment(
    session: Session, *, organization_id: int, patient_id: int
) -> Assessment | None:
    """The patient's newest assessment: the one the conference and plan pages work from."""
    return session.scalars(
        select(Assessment)
        .where(Assessment.organization_id == organization_id, Assessment.patient_id == patient_id)
        .order_by(Assessment.id.desc())
        .limit(1)
    ).first()


def instrument_results(
    session: Session, *, organization_id: int, patient_id: int
) -> list[InstrumentResult]:
    """The patient's scored questionnaires, oldest first: every stored response, and the
    questionnaires of the case as its assessments scored them (entered at intake or imported:
    the plan's baselines). The same instrument, date and score twice is one questionnaire."""
    stored = session.execute(
        select(
            QuestionnaireResponse.instrument,
            QuestionnaireResponse.answered_on,
            QuestionnaireResponse.score,
        ).where(
            QuestionnaireResponse.organization_id == organization_id,
            QuestionnaireResponse.patient_id == patient_id,
            QuestionnaireResponse.score.is_not(None),
        )
    ).all()
    from_case = session.execute(
        select(CaseScore.instrument, CaseScore.answered_on, CaseScore.score).where(
            CaseScore.organization_id == organization_id, CaseScore.patient_id == patient_id
        )
    ).all()
    return distinct_results([*stored, *from_case])


def distinct_results(rows: Iterable[Any]) -> list[InstrumentResult]:
    """(instrument, answered_on, score) rows as results, oldest first, each once."""
    found = {
        (str(r.instrument), r.answered_on, float(r.score)): None
        for r in rows
        if r.score is not None
    }
    return sorted(
        (InstrumentResult(i, day, value) for i, day, value in found), key=lambda r: r.date
    )


def goal_checks(session: Session, *, plan_id: int) -> list[GoalCheck]:
    rows = session.scalars(
        select(CareGoalCheck).where(CareGoalCheck.plan_id == plan_id).order_by(CareGoalCheck.id)
    )
    return [GoalCheck(r.goal_id, r.checked_on, r.achieved, r.note) for r in rows]


# -- conferences ---------------------------------------------------------------------------------


def create_conference(
    session: Session,
    *,
    organization_id: int,
    patient_id: int,
    assessment_id: int,
    held_on: dt.date,
    attendees: Sequence[Attendee],
    decisions: Sequence[ConferenceDecision],
    user_id: int | None,
) -> CareConference:
    """Validate the conference with the domain (every problem at once) and store it with the
    agenda the assessment gives."""
    assessment, case = assessment_with_case(
        session, organization_id=organization_id, patient_id=patient_id, assessment_id=assessment_id
    )
    ref = AssessmentRef(
        str(assessment.id),
        assessment.document.get("case_id"),
        assessment.knowledge_version,
        assessment.engine_version,
    )
    problems = [
        f"attendees[{i}] ({a.name}): user {a.user_id} is not an active clinician or "
        "coordinator of your organization"
        for i, a in enumerate(attendees)
        if a.user_id is not None
        and not is_staff_member(session, organization_id=organization_id, user_id=a.user_id)
    ]
    if problems:
        raise CareInvalid(problems)
    proposal = propose_plan(
        assessment.document,
        today=held_on,
        case=case,
        assessment_id=str(assessment.id),
        plan_id="new",
    )
    conference = record_conference(
        id="new",
        patient_id=str(patient_id),
        held_on=held_on,
        assessment=assessment.document,
        assessment_ref=ref,
        attendees=attendees,
        decisions=decisions,
        plan_item_ids=[item.id for item in proposal.items],
    )
    row = CareConference(
        organization_id=organization_id,
        patient_id=patient_id,
        assessment_id=assessment.id,
        held_on=held_on,
        case_id=ref.case_id,
        knowledge_version=ref.knowledge_version,
        engine_version=ref.engine_version,
        attendees=to_json(conference.attendees),
        agenda=to_json(conference.agenda),
        decisions=to_json(conference.decisions),
        created_by=user_id,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def list_conferences(
    session: Session, *, organization_id: int, patient_id: int, limit: int, after_id: int = 0
) -> list[CareConference]:
    return list(
        session.scalars(
            select(CareConference)
            .where(
                CareConference.organization_id == organization_id,
                CareConference.patient_id == patient_id,
                CareConference.id > after_id,
            )
            .order_by(CareConference.id)
            .limit(limit)
        )
    )


def recent_conferences(
    session: Session, *, organization_id: int, patient_id: int, limit: int
) -> list[CareConference]:
    """The patient's newest ``limit`` conferences, newest first."""
    return list(
        session.scalars(
            select(CareConference)
            .where(
                CareConference.organization_id == organization_id,
                CareConference.patient_id == patient_id,
            )
            .order_by(CareConference.id.desc())
            .limit(limit)
        )
    )


def get_conference(
    session: Session, *, organization_id: int, patient_id: int, conference_id: int
) -> CareConference | None:
    return session.scalars(
        select(CareConference).where(
            CareConference.organization_id == organization_id,
            CareConference.patient_id == patient_id,
            CareConference.id == conference_id,
        )
    ).first()


def conference_decisions(data: Sequence[Mapping[str, Any]]) -> list[ConferenceDecision]:
    return [
        ConferenceDecision(
            id=d["id"],
            text=d["text"],
            agenda_key=d.get("agenda_key"),
            dissent=tuple(Dissent(x["attendee"], x["text"]) for x in d.get("dissent", ())),
            plan_item_id=d.get("plan_item_id"),
            plan_action=d.get("plan_action"),
        )
        for d in data
    ]


def link_plan_to_conference(session: Session, *, plan: CarePlan, conference_id: int) -> CarePlan:
    """Record that ``plan`` was decided from one of its patient's conferences (NotFound for a
    conference of someone else)."""
    conference = get_conference(
        session,
        organization_id=plan.organization_id,
        patient_id=plan.patient_id,
        conference_id=conference_id,
    )
    if conference is None:
        raise NotFound(f"conference {conference_id} of patient {plan.patient_id}")
    plan.conference_id = conference.id
    session.flush()
    return plan


# -- plans ---------------------------------------------------------------------------------------


def propose(
    session: Session, *, organization_id: int, patient_id: int, assessment_id: int, today: dt.date
) -> PlanDraft:
    """The engine's proposal for a plan from a stored assessment (items and suggested goals)."""
    assessment, case = assessment_with_case(
        session, organization_id=organization_id, patient_id=patient_id, assessment_id=assessment_id
    )
    return propose_plan(
        assessment.document,
        today=today,
        case=case,
        assessment_id=str(assessment.id),
        plan_id="proposal",
    )


@dataclass(frozen=True)
class TaperRequest:
    """What the clinician agreed for an accepted opioid taper; unset values come from the case
    (its daily dose in MME and months of use)."""

    mme_per_day: float | None = None
    months_of_use: float | None = None
    pace: str = "monthly"
    floor_mme: float = 0.0
    resolution: float = 1.0
    start_on: dt.date | None = None


def create_plan(
    session: Session,
    *,
    organization_id: int,
    patient_id: int,
    assessment_id: int,
    decisions: Sequence[Decision],
    decided_on: dt.date,
    decided_by: str,
    start_on: dt.date | None = None,
    goals: Sequence[Goal] | None = None,
    review_on: dt.date | None = None,
    completion: CompletionCriteria | None = None,
    taper: TaperRequest | None = None,
    draft: bool = False,
    user_id: int | None,
) -> CarePlan:
    """Decide a plan from a stored assessment (the domain validates every decision, goal and
    criterion at once) and store it with its first version; unless it is a draft, activate it
    (tasks, taper, questionnaires). A plan in force is never replaced by this: while the
    patient has an active plan a new one is refused (``PlanActive``) until that plan is
    amended or closed."""
    if not draft:
        _refuse_if_active(session, organization_id, patient_id)
    assessment, case = assessment_with_case(
        session, organization_id=organization_id, patient_id=patient_id, assessment_id=assessment_id
    )
    proposal = propose_plan(
        assessment.document,
        today=decided_on,
        case=case,
        assessment_id=str(assessment.id),
        plan_id="new",
    )
    plan = decide(
        proposal,
        decisions,
        patient_id=str(patient_id),
        decided_by=decided_by,
        decided_on=decided_on,
        goals=goals,
        review_on=review_on,
        completion=completion,
    )
    taper_request = _taper_request(plan, case, taper)
    now = utcnow()
    row = CarePlan(
        organization_id=organization_id,
        patient_id=patient_id,
        assessment_id=assessment.id,
        case_id=plan.case_id,
        knowledge_version=plan.assessment.knowledge_version,
        engine_version=plan.assessment.engine_version,
        region=case.region,
        proposed_on=plan.proposed_on,
        decided_on=plan.decided_on,
        decided_by=plan.decided_by,
        start_on=start_on or decided_on,
        review_on=plan.review_on,
        status="draft" if draft else "active",
        entries=to_json(plan.entries),
        goals=to_json(plan.goals),
        completion=to_json(plan.completion),
        questionnaire_options=to_json(questionnaire_options(case, assessment.document)),
        taper_request=taper_request,
        version=1,
        created_by=user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    _add_version(session, row, number=1, reason=None, changes=[], user_id=user_id)
    if not draft:
        _activate(session, row)
    return row


class PlanActive(Conflict):
    """The patient already has an active plan: it is amended or closed, never replaced."""

    def __init__(self, plan: CarePlan) -> None:
        super().__init__(
            f"patient {plan.patient_id} already has an active care plan (plan {plan.id}, "
            f"version {plan.plan_version}): amend it, or close it (completed, discharged or "
            "replaced) before a new plan is decided"
        )
        self.plan = plan


def active_plan(session: Session, *, organization_id: int, patient_id: int) -> CarePlan | None:
    """The patient's plan in force and still open (at most one)."""
    return session.scalars(
        select(CarePlan)
        .where(
            CarePlan.organization_id == organization_id,
            CarePlan.patient_id == patient_id,
            CarePlan.status == "active",
        )
        .order_by(CarePlan.id.desc())
        .limit(1)
    ).first()


def _refuse_if_active(session: Session, organization_id: int, patient_id: int) -> None:
    # The patient's row is locked (PostgreSQL) for the rest of the transaction, so two plans
    # decided at once cannot both find no active plan; SQLite serializes writers anyway.
    session.execute(
        select(Patient.id)
        .where(Patient.organization_id == organization_id, Patient.id == patient_id)
        .with_for_update()
    )
    found = active_plan(session, organization_id=organization_id, patient_id=patient_id)
    if found is not None:
        raise PlanActive(found)


def _taper_request(plan: Plan, case: Case, taper: TaperRequest | None) -> dict[str, Any] | None:
    """What is stored of an accepted opioid taper (dose and duration default to the case's);
    a taper for a plan that does not accept one is refused."""
    taper_entry = plan.entry("opioid-taper")
    if taper_entry is not None and taper_entry.accepted:
        taper = taper or TaperRequest()
        medications = case.medications
        request: dict[str, Any] = to_json(
            dataclasses.replace(
                taper,
                mme_per_day=taper.mme_per_day
                if taper.mme_per_day is not None
                else (medications.opioid_mme_per_day if medications else None),
                months_of_use=taper.months_of_use
                if taper.months_of_use is not None
                else (medications.opioid_months if medications else None),
            )
        )
        if request["mme_per_day"] is None:
            raise CareInvalid(
                ["taper.mme_per_day: the opioid taper is accepted; give the daily dose in MME"]
            )
        return request
    if taper is not None:
        raise CareInvalid(["taper: only a plan that accepts treatment:opioid-taper has a taper"])
    return None


def _add_version(
    session: Session,
    row: CarePlan,
    *,
    number: int,
    reason: str | None,
    changes: Sequence[Mapping[str, Any]],
    user_id: int | None,
    decided_on: dt.date | None = None,
    decided_by: str | None = None,
) -> CarePlanVersion:
    """The plan's decisions as they stand, kept as version ``number`` (append-only)."""
    version = CarePlanVersion(
        organization_id=row.organization_id,
        plan_id=row.id,
        number=number,
        assessment_id=row.assessment_id,
        decided_on=decided_on or row.decided_on,
        decided_by=decided_by or row.decided_by,
        reason=reason,
        entries=row.entries,
        goals=row.goals,
        review_on=row.review_on,
        completion=row.completion,
        taper_request=row.taper_request,
        changes=list(changes),
        created_by=user_id,
        created_at=utcnow(),
    )
    session.add(version)
    session.flush()
    return version


def _make_taper(session: Session, row: CarePlan, plan: Plan) -> TaperSchedule | None:
    """The plan's stored taper schedule; made and stored from its request when there is none."""
    entry = plan.entry("opioid-taper")
    request = row.taper_request
    if request is None or entry is None or not entry.accepted:
        return None
    stored = latest_taper(session, plan_id=row.id)
    if stored is not None:
        return taper_of(stored)
    made = taper_schedule(
        mme_per_day=float(request["mme_per_day"]),
        months_of_use=request.get("months_of_use"),
        start_on=date_of(request.get("start_on")) or row.start_on,
        pace=request.get("pace", "monthly"),
        floor_mme=float(request.get("floor_mme", 0.0)),
        resolution=float(request.get("resolution", 1.0)),
    )
    session.add(
        CareTaperSchedule(
            organization_id=row.organization_id,
            plan_id=row.id,
            plan_item_id=entry.item.id,
            version=1,
            original_mme=made.original_mme,
            months_of_use=made.months_of_use,
            long_term=made.long_term,
            pace=made.pace,
            period=made.period,
            floor_mme=made.floor_mme,
            resolution=made.resolution,
            start_on=made.start_on,
            citation=made.citation,
            steps=to_json(made.steps),
            created_at=utcnow(),
        )
    )
    return made


def _activate(session: Session, row: CarePlan) -> None:
    """Store the plan's tasks (with the taper and its follow-ups) and its questionnaires. Open
    tasks that a plan replaced by this one carried over move here with their state and
    history, in place of the new plan's task for the same work."""
    plan = plan_of(row)
    taper = _make_taper(session, row, plan)
    # A task's id is "{plan}/{what it does}" (the taper's follow-ups are numbered): the same
    # work in the new plan is the same id after the plan's prefix.
    carried = {_work_of(t.task_key): t for t in _carried_tasks(session, row)}
    now = utcnow()
    for task in tasks_for(plan, start=row.start_on, taper=taper):
        old = carried.pop(_work_of(task.id), None)
        if old is None:
            session.add(_task_row(row, task, "care", now))
        else:
            _move_task(session, old, row, task.id, to_json(task.blocked_by))
    for work, old in carried.items():
        _move_task(session, old, row, f"{row.id}/{work}", [])
    _add_questionnaires(session, row, [row.review_on])
    session.flush()


def _work_of(task_key: str) -> str:
    return task_key.split("/", 1)[-1]


def _carried_tasks(session: Session, row: CarePlan) -> list[CareTask]:
    """Open care tasks of the patient's plans closed as replaced: carried into the next plan."""
    return list(
        session.scalars(
            select(CareTask)
            .join(CarePlan, CarePlan.id == CareTask.plan_id)
            .where(
                CarePlan.organization_id == row.organization_id,
                CarePlan.patient_id == row.patient_id,
                CarePlan.id != row.id,
                CarePlan.closed_as == "replaced",
                CareTask.kind == "care",
                CareTask.status.in_(OPEN_TASK_STATUSES),
            )
            .order_by(CareTask.id)
        )
    )


def _move_task(
    session: Session, task: CareTask, plan: CarePlan, task_key: str, blocked_by: Any
) -> None:
    _execute_update(
        session,
        update(CareTask)
        .where(CareTask.id == task.id)
        .values(
            plan_id=plan.id,
            task_key=task_key,
            blocked_by=blocked_by,
            note=((task.note + " ") if task.note else "")
            + f"Carried over from plan {task.plan_id}.",
            version=CareTask.version + 1,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False),
    )


def _task_row(plan: CarePlan, task: Task, kind: str, now: dt.datetime) -> CareTask:
    return CareTask(
        organization_id=plan.organization_id,
        patient_id=plan.patient_id,
        plan_id=plan.id,
        task_key=task.id,
        kind=kind,
        key=task.key,
        name=task.name,
        plan_item_id=task.plan_item_id,
        owner=task.owner,
        person=task.person,
        due=task.due,
        status=task.status,
        priority=task.priority,
        note=task.note,
        blocked_by=to_json(task.blocked_by),
        version=1,
        updated_at=now,
    )


def _add_questionnaires(session: Session, plan: CarePlan, review_dates: Sequence[dt.date]) -> None:
    """The patient's questionnaires from the plan's start (time points and review dates) as
    patient tasks, each with the window in which an answer counts for it; ones already stored
    keep their row (their windows are brought up to date)."""
    options = QuestionnaireOptions(**plan.questionnaire_options)
    schedule = questionnaire_schedule(
        plan.start_on, cast(Any, plan.region), options=options, review_dates=review_dates
    )
    grace = dt.timedelta(days=GRACE_DAYS)
    closes: dict[str, dt.date | None] = {}
    by_instrument: dict[str, list[Any]] = {}
    for item in sorted(schedule, key=lambda s: s.due):
        by_instrument.setdefault(item.instrument, []).append(item)
    for items in by_instrument.values():
        for index, item in enumerate(items):
            closes[item.id] = items[index + 1].due - grace if index + 1 < len(items) else None
    existing = {
        t.task_key: t
        for t in session.scalars(
            select(CareTask).where(CareTask.plan_id == plan.id, CareTask.kind == "questionnaire")
        )
    }
    now = utcnow()
    for item, task in zip(
        schedule, questionnaire_tasks(schedule, plan_id=str(plan.id)), strict=True
    ):
        row = existing.get(task.id)
        if row is None:
            row = _task_row(plan, task, "questionnaire", now)
            row.instrument = item.instrument
            row.time_point = item.time_point
            session.add(row)
        row.window_opens = item.due - grace
        row.window_closes = closes[item.id]


def get_plan(
    session: Session, *, organization_id: int, patient_id: int, plan_id: int, lock: bool = False
) -> CarePlan | None:
    query = select(CarePlan).where(
        CarePlan.organization_id == organization_id,
        CarePlan.patient_id == patient_id,
        CarePlan.id == plan_id,
    )
    if lock:
        query = query.with_for_update()
    return session.scalars(query).first()


def current_plan(session: Session, *, organization_id: int, patient_id: int) -> CarePlan | None:
    """The patient's current plan: the newest one in force (a draft never is)."""
    return session.scalars(
        select(CarePlan)
        .where(
            CarePlan.organization_id == organization_id,
            CarePlan.patient_id == patient_id,
            CarePlan.status.in_(vocabulary.PLANS_IN_FORCE),
        )
        .order_by(CarePlan.id.desc())
        .limit(1)
    ).first()


def list_plans(
    session: Session, *, organization_id: int, patient_id: int, limit: int, after_id: int = 0
) -> list[CarePlan]:
    return list(
        session.scalars(
            select(CarePlan)
            .where(
                CarePlan.organization_id == organization_id,
                CarePlan.patient_id == patient_id,
                CarePlan.id > after_id,
            )
            .order_by(CarePlan.id)
            .limit(limit)
        )
    )


def _require_plan(
    session: Session, organization_id: int, patient_id: int, plan_id: int, *, lock: bool = False
) -> CarePlan:
    plan = get_plan(
        session,
        organization_id=organization_id,
        patient_id=patient_id,
        plan_id=plan_id,
        lock=lock,
    )
    if plan is None:
        raise NotFound(f"plan {plan_id} of patient {patient_id}")
    return plan


def _bump_plan(
    session: Session, plan: CarePlan, expected_version: int, values: Mapping[str, Any]
) -> None:
    result = _execute_update(
        session,
        update(CarePlan)
        .where(CarePlan.id == plan.id, CarePlan.version == expected_version)
        .values(**values, version=CarePlan.version + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False),
    )
    if result.rowcount != 1:
        current = session.scalar(select(CarePlan.version).where(CarePlan.id == plan.id))
        raise StaleVersion(expected=expected_version, current=int(current or 0))
    session.refresh(plan)


PlanStatus = Literal["active", "completed", "discharged"]


def update_plan(
    session: Session,
    *,
    organization_id: int,
    patient_id: int,
    plan_id: int,
    expected_version: int,
    goals: Sequence[Goal] | None = None,
    review_on: dt.date | None = None,
    completion: CompletionCriteria | None = None,
    status: PlanStatus | None = None,
    on: dt.date,
    reason: str | None = None,
) -> CarePlan:
    """Change goals, review date or completion criteria (validated again by the domain), and/or
    move the plan on: draft -> active (its tasks are made), active -> completed (refused with
    what is unmet), active -> discharged (a reason is required). One conditional UPDATE: a
    stale ``expected_version`` is refused (``StaleVersion``)."""
    row = _require_plan(session, organization_id, patient_id, plan_id, lock=True)
    if row.version != expected_version:
        raise StaleVersion(expected=expected_version, current=row.version)
    plan = plan_of(row)
    values: dict[str, Any] = {}
    if goals is not None or review_on is not None or completion is not None:
        if row.status not in ("draft", "active"):
            raise CareInvalid([f"plan {plan_id} is {row.status}; a closed plan does not change"])
        draft = PlanDraft(
            id=plan.id,
            case_id=plan.case_id,
            assessment=plan.assessment,
            proposed_on=plan.proposed_on,
            items=tuple(e.item for e in plan.entries),
            goals=plan.goals,
            review_on=plan.review_on,
        )
        new_goals = plan.goals if goals is None else tuple(goals)
        keep = plan.completion
        if completion is None and goals is not None:
            ids = {g.id for g in new_goals}
            keep = dataclasses.replace(keep, goals=tuple(g for g in keep.goals if g in ids))
        decided = decide(
            draft,
            [Decision(e.item.id, e.action, e.reason, e.edit) for e in plan.entries],
            patient_id=plan.patient_id,
            decided_by=plan.decided_by,
            decided_on=plan.decided_on,
            goals=new_goals,
            review_on=review_on or plan.review_on,
            completion=completion or keep,
        )
        values.update(
            goals=to_json(decided.goals),
            review_on=decided.review_on,
            completion=to_json(decided.completion),
        )
        plan = dataclasses.replace(
            plan, goals=decided.goals, review_on=decided.review_on, completion=decided.completion
        )
    activate = False
    if status is not None and status != row.status:
        if status == "active":
            if row.status != "draft":
                raise CareInvalid([f"status: plan {plan_id} is {row.status}, not a draft"])
            _refuse_if_active(session, organization_id, patient_id)
            activate = True
        elif row.status == "draft":
            raise CareInvalid([f"status: plan {plan_id} is a draft; activate it first"])
        elif status == "completed":
            closed = _complete(
                plan,
                on=on,
                task_statuses=care_task_statuses(session, plan_id=row.id),
                results=[
                    *instrument_results(
                        session, organization_id=organization_id, patient_id=patient_id
                    ),
                    *goal_checks(session, plan_id=row.id),
                ],
            )
            values.update(
                status="completed",
                closed_on=closed.closed_on,
                closed_reason=closed.closed_reason,
                closed_as="completed",
            )
        else:
            closed = discharge_plan(plan, on=on, reason=reason or "")
            values.update(
                status="discharged",
                closed_on=closed.closed_on,
                closed_reason=closed.closed_reason,
                closed_as="discharged",
            )
    if activate:
        values["status"] = "active"
    if values:
        _bump_plan(session, row, expected_version, values)
        if activate:
            _activate(session, row)
        elif "closed_as" in values:
            _close_open_tasks(session, row, on=on, carry=False, user_id=None)
        elif "review_on" in values and row.status == "active":
            _add_questionnaires(session, row, _review_dates(session, row))
    session.flush()
    return row


def amend_plan(
    session: Session,
    *,
    organization_id: int,
    patient_id: int,
    plan_id: int,
    expected_version: int,
    decisions: Sequence[Decision],
    reason: str,
    decided_on: dt.date,
    decided_by: str,
    goals: Sequence[Goal] | None = None,
    review_on: dt.date | None = None,
    completion: CompletionCriteria | None = None,
    taper: TaperRequest | None = None,
    user_id: int | None,
) -> tuple[CarePlan, CarePlanVersion]:
    """A new version of an active plan. Its items are the plan's, and the new ones the
    patient's newest assessment proposes; ``decisions`` re-decide some of them (every new item
    needs one: nothing enters a plan without a decision), the others keep theirs. The domain
    validates the whole plan again, as when it was decided. Every task keeps its row, state
    and history; an accepted item that is new gets its tasks (due from ``decided_on``); the
    open tasks of an item no longer accepted are cancelled, with the reason "removed from the
    plan in version N". Goals not given are kept (those added by hand too), as are the taper
    and the questionnaire schedule. The change list (items added, removed, re-decided, goals
    added and removed, each with its reason) is kept with the version."""
    row = _require_plan(session, organization_id, patient_id, plan_id, lock=True)
    if row.version != expected_version:
        raise StaleVersion(expected=expected_version, current=row.version)
    if row.status != "active":
        raise CareInvalid(
            [f"status: plan {plan_id} is {row.status}; only an active plan is amended"]
        )
    if not reason.strip():
        raise CareInvalid(["reason: say why the plan is amended"])
    old = plan_of(row)
    amendment = amendment_draft(session, row, today=decided_on)
    assessment, case = amendment.assessment, amendment.case
    given = {d.item_id for d in decisions}
    kept = [
        Decision(e.item.id, e.action, e.reason, e.edit)
        for e in old.entries
        if e.item.id not in given
    ]
    new_goals = old.goals if goals is None else tuple(goals)
    keep = old.completion
    if completion is None and goals is not None:
        ids = {g.id for g in new_goals}
        kept_goals = tuple(g for g in keep.goals if g in ids)
        if not kept_goals and not keep.discharge:  # every goal it named is gone: the new ones
            kept_goals = tuple(g.id for g in new_goals)
        keep = dataclasses.replace(keep, goals=kept_goals)
    decided = decide(
        amendment.draft,
        [*decisions, *kept],
        patient_id=old.patient_id,
        decided_by=decided_by,
        decided_on=decided_on,
        goals=new_goals,
        review_on=review_on or old.review_on,
        completion=completion or keep,
    )
    number = row.plan_version + 1
    taper_entry = decided.entry("opioid-taper")
    old_taper = old.entry("opioid-taper")
    was_tapering = old_taper is not None and old_taper.accepted
    taper_request = row.taper_request
    if taper_entry is not None and taper_entry.accepted and not was_tapering:
        taper_request = _taper_request(decided, case, taper)
    elif taper is not None:
        raise CareInvalid(["taper: only an amendment that accepts the opioid taper gives one"])
    changes = _changes(old, decided, {d.item_id: d for d in decisions}, reason)
    values: dict[str, Any] = {
        "assessment_id": assessment.id,
        "knowledge_version": decided.assessment.knowledge_version,
        "engine_version": decided.assessment.engine_version,
        "entries": to_json(decided.entries),
        "goals": to_json(decided.goals),
        "review_on": decided.review_on,
        "completion": to_json(decided.completion),
        "taper_request": taper_request,
        "plan_version": number,
    }
    _bump_plan(session, row, expected_version, values)
    _amend_tasks(session, row, decided, number=number, on=decided_on, user_id=user_id)
    if decided.review_on != old.review_on:
        _add_questionnaires(session, row, _review_dates(session, row))
    version = _add_version(
        session,
        row,
        number=number,
        reason=reason.strip(),
        changes=changes,
        user_id=user_id,
        decided_on=decided_on,
        decided_by=decided_by,
    )
    return row, version


@dataclass(frozen=True)
class Amendment:
    """What an amendment of a plan decides about: the plan's items (as the newest assessment
    rates them) and the new items that assessment proposes, with the plan's goals."""

    draft: PlanDraft
    assessment: Assessment
    case: Case
    new_items: frozenset[str]


def amendment_draft(session: Session, row: CarePlan, *, today: dt.date) -> Amendment:
    """The items an amendment of ``row`` decides: each item of the plan (with what the
    patient's newest assessment says of it, when it still proposes it) and, after them, the
    items that assessment proposes and the plan does not have yet."""
    old = plan_of(row)
    newest = latest_assessment(
        session, organization_id=row.organization_id, patient_id=row.patient_id
    )
    assert newest is not None  # the plan's own assessment is one
    assessment, case = assessment_with_case(
        session,
        organization_id=row.organization_id,
        patient_id=row.patient_id,
        assessment_id=newest.id,
    )
    proposal = propose_plan(
        assessment.document,
        today=today,
        case=case,
        assessment_id=str(assessment.id),
        plan_id=str(row.id),
    )
    fresh = {item.id: item for item in proposal.items}
    items = [fresh.get(e.item.id, e.item) for e in old.entries]
    known = {item.id for item in items}
    added = [item for item in proposal.items if item.id not in known]
    draft = PlanDraft(
        id=str(row.id),
        case_id=proposal.case_id,
        assessment=proposal.assessment,
        proposed_on=old.proposed_on,
        items=(*items, *added),
        goals=old.goals,
        review_on=old.review_on,
    )
    return Amendment(draft, assessment, case, frozenset(i.id for i in added))


def _changes(
    old: Plan, new: Plan, given: Mapping[str, Decision], reason: str
) -> list[dict[str, Any]]:
    """What an amendment changed: each item added (newly accepted), removed (no longer
    accepted) or re-decided, and each goal added or removed, with the reason given for it (or
    the amendment's)."""
    out: list[dict[str, Any]] = []
    previous = {e.item.id: e for e in old.entries}
    for entry in new.entries:
        before = previous.get(entry.item.id)
        if before is not None and (before.action, before.edit) == (entry.action, entry.edit):
            continue
        if entry.accepted and (before is None or not before.accepted):
            change = "added"
        elif before is not None and before.accepted and not entry.accepted:
            change = "removed"
        else:
            change = "re-decided"
        decision = given.get(entry.item.id)
        out.append(
            {
                "change": change,
                "item_id": entry.item.id,
                "name": entry.item.name,
                "from": None if before is None else before.action,
                "to": entry.action,
                "reason": (decision.reason if decision and decision.reason else None) or reason,
            }
        )
    old_goals = {g.id: g for g in old.goals}
    new_goals = {g.id: g for g in new.goals}
    for gid, goal in new_goals.items():
        if gid not in old_goals:
            out.append(
                {"change": "goal-added", "goal_id": gid, "name": goal.text, "reason": reason}
            )
        elif old_goals[gid] != goal:
            out.append(
                {"change": "goal-changed", "goal_id": gid, "name": goal.text, "reason": reason}
            )
    for gid, goal in old_goals.items():
        if gid not in new_goals:
            out.append(
                {"change": "goal-removed", "goal_id": gid, "name": goal.text, "reason": reason}
            )
    if old.review_on != new.review_on:
        out.append(
            {
                "change": "review-date",
                "name": f"Review {old.review_on} -> {new.review_on}",
                "reason": reason,
            }
        )
    return out


def _amend_tasks(
    session: Session, row: CarePlan, plan: Plan, *, number: int, on: dt.date, user_id: int | None
) -> None:
    """The amended plan's tasks: stored ones keep their row and state; tasks the plan now
    needs are added (due from ``on``); open ones it no longer needs are cancelled with their
    dependants (the domain's cascade), each with an event."""
    taper = _make_taper(session, row, plan)
    wanted = {t.id: t for t in tasks_for(plan, start=on, taper=taper)}
    rows = [r for r in plan_tasks(session, plan_id=row.id) if r.kind == "care"]
    stored = {r.task_key: r for r in rows}
    now = utcnow()
    for key, task in wanted.items():
        if key not in stored:
            new_row = _task_row(row, task, "care", now)
            session.add(new_row)
    session.flush()
    why = f"removed from the plan in version {number}"
    tasks = [task_of(r) for r in rows]
    for gone in rows:
        if gone.task_key in wanted:
            continue
        current = next(t for t in tasks if t.id == gone.task_key)
        if current.status not in OPEN_TASK_STATUSES:
            continue
        result = transition(tasks, gone.task_key, "cancelled", on=on, reason=why)
        tasks = list(result.tasks)
        for event in result.events:
            _cancel_row(session, stored[event.task_id], event.from_status, on, why, user_id)


def _cancel_row(
    session: Session,
    task: CareTask,
    from_status: str,
    on: dt.date,
    reason: str,
    user_id: int | None,
) -> None:
    session.add(
        CareTaskEvent(
            organization_id=task.organization_id,
            task_id=task.id,
            from_status=from_status,
            to_status="cancelled",
            changed_on=on,
            reason=reason,
            by_user_id=user_id,
            created_at=utcnow(),
        )
    )
    _execute_update(
        session,
        update(CareTask)
        .where(CareTask.id == task.id)
        .values(
            status="cancelled",
            status_on=on,
            status_reason=reason,
            version=CareTask.version + 1,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False),
    )


def _close_open_tasks(
    session: Session, row: CarePlan, *, on: dt.date, carry: bool, user_id: int | None
) -> None:
    """A closed plan keeps no open work: its open questionnaires are cancelled (the patient has
    one schedule, the next plan's), and its open care tasks too unless they are carried into
    the plan that replaces it."""
    why = f"plan {row.id} closed ({row.closed_as}) on {on}"
    if row.closed_reason:
        why += f": {row.closed_reason}"
    for task in plan_tasks(session, plan_id=row.id):
        if task.status not in OPEN_TASK_STATUSES or (carry and task.kind == "care"):
            continue
        _cancel_row(session, task, task.status, on, why, user_id)
    session.flush()


def close_plan(
    session: Session,
    *,
    organization_id: int,
    patient_id: int,
    plan_id: int,
    expected_version: int,
    outcome: CloseOutcome,
    reason: str,
    on: dt.date,
    carry_over: bool = False,
    user_id: int | None,
) -> CarePlan:
    """Close an active plan: ``completed`` (refused, listing what is unmet, until its criteria
    hold), ``discharged`` or ``replaced`` (both with a reason). Its open questionnaires are
    cancelled; its open care tasks are cancelled with the reason, or, for a replaced plan with
    ``carry_over``, left for the next plan to take over with their state and history."""
    row = _require_plan(session, organization_id, patient_id, plan_id, lock=True)
    if row.version != expected_version:
        raise StaleVersion(expected=expected_version, current=row.version)
    if row.status != "active":
        raise CareInvalid([f"status: plan {plan_id} is {row.status}; only an active plan closes"])
    if carry_over and outcome != "replaced":
        raise CareInvalid(["carry_over: only a plan replaced by a new one carries its tasks over"])
    plan = plan_of(row)
    why = reason.strip()
    if outcome == "completed":
        closed = _complete(
            plan,
            on=on,
            task_statuses=care_task_statuses(session, plan_id=row.id),
            results=[
                *instrument_results(
                    session, organization_id=organization_id, patient_id=patient_id
                ),
                *goal_checks(session, plan_id=row.id),
            ],
        )
        status, closed_reason = "completed", why or closed.closed_reason
    else:
        if not why:
            verb = "discharge" if outcome == "discharged" else "replacement"
            raise CareInvalid([f"reason: a {verb} needs a reason"])
        closed = discharge_plan(plan, on=on, reason=why)
        status, closed_reason = "discharged", closed.closed_reason
    _bump_plan(
        session,
        row,
        expected_version,
        {"status": status, "closed_on": on, "closed_reason": closed_reason, "closed_as": outcome},
    )
    _close_open_tasks(session, row, on=on, carry=carry_over, user_id=user_id)
    return row


def list_plan_versions(session: Session, *, plan_id: int) -> list[CarePlanVersion]:
    return list(
        session.scalars(
            select(CarePlanVersion)
            .where(CarePlanVersion.plan_id == plan_id)
            .order_by(CarePlanVersion.number)
        )
    )


def get_plan_version(session: Session, *, plan_id: int, number: int) -> CarePlanVersion | None:
    return session.scalars(
        select(CarePlanVersion).where(
            CarePlanVersion.plan_id == plan_id, CarePlanVersion.number == number
        )
    ).first()


def _complete(plan: Plan, **kwargs: Any) -> Plan:
    try:
        return complete_plan(plan, **kwargs)
    except CareInvalid as exc:
        raise PlanIncomplete(exc.problems) from None


def _review_dates(session: Session, plan: CarePlan) -> list[dt.date]:
    """Review dates that already have questionnaires, and the plan's current one."""
    keys = session.scalars(
        select(CareTask.time_point)
        .where(CareTask.plan_id == plan.id, CareTask.kind == "questionnaire")
        .distinct()
    )
    dates = [
        dt.date.fromisoformat(k[len("review-") :]) for k in keys if k and k.startswith("review-")
    ]
    return sorted({*dates, plan.review_on})


def care_task_statuses(session: Session, *, plan_id: int) -> list[tuple[str, str]]:
    rows = session.execute(
        select(CareTask.task_key, CareTask.status).where(
            CareTask.plan_id == plan_id, CareTask.kind == "care"
        )
    )
    return [(r.task_key, r.status) for r in rows]


def add_goal_check(
    session: Session,
    *,
    organization_id: int,
    patient_id: int,
    plan_id: int,
    goal_id: str,
    checked_on: dt.date,
    achieved: bool,
    note: str,
    user_id: int | None,
) -> CareGoalCheck:
    row = _require_plan(session, organization_id, patient_id, plan_id)
    goal = next((g for g in row.goals if g["id"] == goal_id), None)
    if goal is None:
        raise CareInvalid([f"goal_id: {goal_id!r} is not a goal of plan {plan_id}"])
    if goal["kind"] != "patient":
        raise CareInvalid(
            [f"goal_id: {goal_id!r} is measured by its questionnaire, not checked by hand"]
        )
    check = CareGoalCheck(
        organization_id=organization_id,
        plan_id=plan_id,
        goal_id=goal_id,
        checked_on=checked_on,
        achieved=achieved,
        note=note,
        created_by=user_id,
        created_at=utcnow(),
    )
    session.add(check)
    session.flush()
    return check


def latest_taper(session: Session, *, plan_id: int) -> CareTaperSchedule | None:
    return session.scalars(
        select(CareTaperSchedule)
        .where(CareTaperSchedule.plan_id == plan_id)
        .order_by(CareTaperSchedule.version.desc())
        .limit(1)
    ).first()


# -- tasks ---------------------------------------------------------------------------------------


def plan_tasks(session: Session, *, plan_id: int) -> list[CareTask]:
    return list(
        session.scalars(select(CareTask).where(CareTask.plan_id == plan_id).order_by(CareTask.id))
    )


def list_plan_tasks(
    session: Session, *, plan_id: int, limit: int, after_id: int = 0, kind: str | None = None
) -> list[CareTask]:
    query = select(CareTask).where(CareTask.plan_id == plan_id, CareTask.id > after_id)
    if kind is not None:
        query = query.where(CareTask.kind == kind)
    return list(session.scalars(query.order_by(CareTask.id).limit(limit)))


def get_task(
    session: Session, *, organization_id: int, patient_id: int, task_id: int
) -> CareTask | None:
    return session.scalars(
        select(CareTask).where(
            CareTask.organization_id == organization_id,
            CareTask.patient_id == patient_id,
            CareTask.id == task_id,
        )
    ).first()


def update_task(
    session: Session,
    *,
    organization_id: int,
    patient_id: int,
    task_id: int,
    expected_version: int,
    status: TaskStatus | None = None,
    on: dt.date,
    reason: str | None = None,
    changes: Mapping[str, Any] | None = None,
    user_id: int | None,
    username: str | None,
) -> tuple[CareTask, list[CareTask]]:
    """Move a task through the domain's state machine (``TransitionRefused`` names the
    unfinished prerequisites), cancelling what waited on it when it fails or is cancelled, and/or
    change its person, assignee or due date. The task's own row changes only if it is still at
    ``expected_version`` (one conditional UPDATE); the plan row is locked meanwhile, so two
    transitions of one plan cannot both pass a prerequisite check. Returns the task and the
    other tasks the change cancelled."""
    task = get_task(
        session, organization_id=organization_id, patient_id=patient_id, task_id=task_id
    )
    if task is None:
        raise NotFound(f"task {task_id} of patient {patient_id}")
    plan = _require_plan(session, organization_id, patient_id, task.plan_id, lock=True)
    session.refresh(task)
    if task.version != expected_version:
        raise StaleVersion(expected=expected_version, current=task.version)
    if plan.status != "active" and status is not None:
        raise TransitionRefused([f"task {task.task_key!r}: plan {plan.id} is {plan.status}"])
    values: dict[str, Any] = dict(changes or {})
    cascaded: list[CareTask] = []
    if status is not None:
        rows = plan_tasks(session, plan_id=plan.id)
        by_key = {r.task_key: r for r in rows}
        result = transition(
            [task_of(r) for r in rows], task.task_key, status, on=on, reason=reason, by=username
        )
        changed = {e.task_id for e in result.events}
        for event in result.events:
            session.add(
                CareTaskEvent(
                    organization_id=organization_id,
                    task_id=by_key[event.task_id].id,
                    from_status=event.from_status,
                    to_status=event.to_status,
                    changed_on=event.on,
                    reason=event.reason,
                    by_user_id=user_id,
                    created_at=utcnow(),
                )
            )
        for new in result.tasks:
            if new.id not in changed:
                continue
            fields = {
                "status": new.status,
                "status_on": new.status_on,
                "status_reason": new.status_reason,
            }
            if new.id == task.task_key:
                values.update(fields)
            else:
                other = by_key[new.id]
                _execute_update(
                    session,
                    update(CareTask)
                    .where(CareTask.id == other.id)
                    .values(**fields, version=CareTask.version + 1, updated_at=utcnow())
                    .execution_options(synchronize_session=False),
                )
                cascaded.append(other)
    _record_assignment(session, task, values, on=on, user_id=user_id)
    if values:
        result_rows = _execute_update(
            session,
            update(CareTask)
            .where(CareTask.id == task.id, CareTask.version == expected_version)
            .values(**values, version=CareTask.version + 1, updated_at=utcnow())
            .execution_options(synchronize_session=False),
        )
        if result_rows.rowcount != 1:
            current = session.scalar(select(CareTask.version).where(CareTask.id == task.id))
            raise StaleVersion(expected=expected_version, current=int(current or 0))
    session.flush()
    session.refresh(task)
    for other in cascaded:
        session.refresh(other)
    return task, cascaded


def _record_assignment(
    session: Session,
    task: CareTask,
    values: Mapping[str, Any],
    *,
    on: dt.date,
    user_id: int | None,
) -> None:
    """One append-only row when who does the task or its due date really changes (a form that
    sends the same values again records nothing)."""
    to_assignee = values.get("assignee_user_id", task.assignee_user_id)
    to_person = values.get("person", task.person)
    to_due = values.get("due", task.due)
    if (to_assignee, to_person, to_due) == (task.assignee_user_id, task.person, task.due):
        return
    session.add(
        CareTaskAssignment(
            organization_id=task.organization_id,
            task_id=task.id,
            from_assignee_user_id=task.assignee_user_id,
            to_assignee_user_id=to_assignee,
            from_person=task.person,
            to_person=to_person,
            from_due=task.due,
            to_due=to_due,
            changed_on=on,
            by_user_id=user_id,
            created_at=utcnow(),
        )
    )


def task_assignments(session: Session, *, task_id: int) -> list[CareTaskAssignment]:
    """The task's changes of assignee, person and due date, oldest first."""
    return list(
        session.scalars(
            select(CareTaskAssignment)
            .where(CareTaskAssignment.task_id == task_id)
            .order_by(CareTaskAssignment.id)
        )
    )


def task_readiness(rows: Sequence[CareTask]) -> dict[str, list[str]]:
    """For each task of one plan, the keys of the prerequisites that still stop it: the
    domain's rule (``care.tasks.waiting_on``) on the stored tasks."""
    return waiting_on([task_of(row) for row in rows])


def plan_task_readiness(session: Session, *, plan_ids: Iterable[int]) -> dict[str, list[str]]:
    """``task_readiness`` for the tasks of several plans, in one query."""
    ids = set(plan_ids)
    if not ids:
        return {}
    rows = list(
        session.scalars(select(CareTask).where(CareTask.plan_id.in_(ids), CareTask.kind == "care"))
    )
    by_plan: dict[int, list[CareTask]] = {}
    for row in rows:
        by_plan.setdefault(row.plan_id, []).append(row)
    out: dict[str, list[str]] = {}
    for group in by_plan.values():
        out.update(task_readiness(group))
    return out


def is_staff_member(session: Session, *, organization_id: int, user_id: int) -> bool:
    """Whether the user is an active clinician or coordinator of the organization."""
    return (
        session.scalar(
            select(User.id).where(
                User.id == user_id,
                User.organization_id == organization_id,
                User.active.is_(True),
                User.role.in_(("clinician", "coordinator")),
            )
        )
        is not None
    )


def team_members(session: Session, *, organization_id: int) -> list[User]:
    """The organization's active clinicians and coordinators by username: who can attend a
    conference or be given a task."""
    return list(
        session.scalars(
            select(User)
            .where(
                User.organization_id == organization_id,
                User.active.is_(True),
                User.role.in_(("clinician", "coordinator")),
            )
            .order_by(User.username)
        )
    )


def user_name(session: Session, *, user_id: int) -> str | None:
    """The username of a user (who recorded a conference may since have left the team)."""
    return session.scalar(select(User.username).where(User.id == user_id))


def user_discipline(session: Session, *, organization_id: int, user_id: int) -> str | None:
    return session.scalar(
        select(User.discipline).where(User.organization_id == organization_id, User.id == user_id)
    )
