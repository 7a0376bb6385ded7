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
from secondlook.care.schedule import GRACE_DAYS
from secondlook.case import parse_case
from secondlook.case.models import Case
from secondlook.store import records
from secondlook.store.care_json import date_of, plan_of, task_of, to_json
from secondlook.store.care_models import (
    CareConference,
    CareGoalCheck,
    CarePlan,
    CareTaperSchedule,
    CareTask,
    CareTaskAssignment,
    CareTaskEvent,
)
from secondlook.store.errors import NotFound, StaleVersion
from secondlook.store.models import (
    Assessment,
    CaseScore,
    CaseVersion,
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
    criterion at once) and store it; unless it is a draft, activate it (tasks, taper,
    questionnaires)."""
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
    taper_entry = plan.entry("opioid-taper")
    taper_request = None
    if taper_entry is not None and taper_entry.accepted:
        taper = taper or TaperRequest()
        medications = case.medications
        taper_request = to_json(
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
        if taper_request["mme_per_day"] is None:
            raise CareInvalid(
                ["taper.mme_per_day: the opioid taper is accepted; give the daily dose in MME"]
            )
    elif taper is not None:
        raise CareInvalid(["taper: only a plan that accepts treatment:opioid-taper has a taper"])
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
    if not draft:
        _activate(session, row)
    return row


def _activate(session: Session, row: CarePlan) -> None:
    """Store the plan's tasks (with the taper and its follow-ups) and its questionnaires."""
    plan = plan_of(row)
    taper = None
    request = row.taper_request
    entry = plan.entry("opioid-taper")
    if request is not None and entry is not None:
        taper = taper_schedule(
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
                original_mme=taper.original_mme,
                months_of_use=taper.months_of_use,
                long_term=taper.long_term,
                pace=taper.pace,
                period=taper.period,
                floor_mme=taper.floor_mme,
                resolution=taper.resolution,
                start_on=taper.start_on,
                citation=taper.citation,
                steps=to_json(taper.steps),
                created_at=utcnow(),
            )
        )
    now = utcnow()
    for task in tasks_for(plan, start=row.start_on, taper=taper):
        session.add(_task_row(row, task, "care", now))
    _add_questionnaires(session, row, [row.review_on])
    session.flush()


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
            values.update(status="completed", closed_on=closed.closed_on, closed_reason=None)
            values["closed_reason"] = closed.closed_reason
        else:
            closed = discharge_plan(plan, on=on, reason=reason or "")
            values.update(
                status="discharged", closed_on=closed.closed_on, closed_reason=closed.closed_reason
            )
    if activate:
        values["status"] = "active"
    if values:
        _bump_plan(session, row, expected_version, values)
        if activate:
            _activate(session, row)
        elif "review_on" in values and row.status == "active":
            _add_questionnaires(session, row, _review_dates(session, row))
    session.flush()
    return row


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
