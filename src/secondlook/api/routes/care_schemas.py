"""Request and response bodies of the care coordination routes (docs/care.md, "API")."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, StrictBool, WithJsonSchema

from secondlook.api.schemas import IdInt, IsoDate, Strict
from secondlook.care.models import Discipline, Owner, TaskKind, TaskStatus
from secondlook.care.outcomes import GoalStatus, ResponderStatus
from secondlook.care.plan import PlanStatus
from secondlook.case.vocabulary import Finding, Side

EARLIEST = dt.date(1900, 1, 1)
LATEST = dt.date(2199, 12, 31)


def _in_range(value: dt.date) -> dt.date:
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"expected a date from {EARLIEST} to {LATEST}")
    return value


#: YYYY-MM-DD from 1900 to 2199, as a pattern (schedules add months and years to dates).
DATE_PATTERN = r"^(19[0-9]{2}|2[01][0-9]{2})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
#: A clinical date in a body.
CareDate = Annotated[
    IsoDate,
    AfterValidator(_in_range),
    WithJsonSchema({"type": "string", "format": "date", "pattern": DATE_PATTERN}),
]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
LongText = Annotated[str, Field(min_length=1, max_length=4000)]
Reason = Annotated[str, Field(max_length=4000)]
Dose = Annotated[float, Field(gt=0, le=5000)]


# --- conferences --------------------------------------------------------------------------------


class AttendeeIn(Strict):
    name: ShortText
    discipline: Discipline
    user_id: IdInt | None = Field(
        default=None, description="the team member (a user of your organization); none for a guest"
    )


class DissentIn(Strict):
    attendee: ShortText = Field(description="an attendee's name, as in `attendees`")
    text: LongText


class ConferenceDecisionIn(Strict):
    id: ShortText
    text: LongText
    agenda_key: ShortText | None = Field(
        default=None, description="the agenda item it decides (a red flag, alert or perspective)"
    )
    dissent: list[DissentIn] = Field(default_factory=list, max_length=20)
    plan_item_id: ShortText | None = Field(
        default=None,
        description="the proposed plan item it decides (GET .../plans/proposal); the text is the "
        "reason, and the plan builder starts from it",
        examples=["workup:mri"],
    )
    plan_action: Literal["accept", "reject"] | None = Field(
        default=None, description="what it decided about `plan_item_id`"
    )


class ConferenceIn(Strict):
    assessment_id: IdInt = Field(description="the assessment the team reviewed")
    held_on: CareDate
    attendees: list[AttendeeIn] = Field(min_length=1, max_length=50)
    decisions: list[ConferenceDecisionIn] = Field(default_factory=list, max_length=100)


class ConferenceOut(BaseModel):
    id: int
    patient_id: int
    assessment_id: int
    held_on: dt.date
    case_id: str | None
    knowledge_version: str
    engine_version: str
    attendees: list[dict[str, Any]]
    agenda: list[dict[str, Any]] = Field(
        description="red flags, safety alerts, then the five perspectives"
    )
    decisions: list[dict[str, Any]]
    created_at: dt.datetime
    created_by: int | None
    href: str


# --- plans --------------------------------------------------------------------------------------


class EditIn(Strict):
    owner: Owner | None = None
    person: ShortText | None = None
    due: CareDate | None = None
    note: LongText | None = None


class DecisionIn(Strict):
    item_id: ShortText = Field(examples=["treatment:opioid-taper", "workup:prior-records-review"])
    action: Literal["accept", "edit", "reject"]
    reason: Reason | None = Field(
        default=None,
        description="required to reject a recommended item or to accept one the engine does "
        "not recommend",
    )
    edit: EditIn | None = None


class GoalIn(Strict):
    id: ShortText
    kind: Literal["instrument", "patient"]
    text: LongText
    target_on: CareDate
    citation: Annotated[str, Field(max_length=1000)] = ""
    instrument: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    baseline: Annotated[float, Field(ge=0, le=1000)] | None = None
    baseline_on: CareDate | None = None
    improve_points: Annotated[float, Field(gt=0, le=1000)] | None = None
    improve_percent: Annotated[float, Field(gt=0, le=100)] | None = None


class CompletionIn(Strict):
    goals: list[ShortText] = Field(max_length=50, description="ids of the goals that must be met")
    measured_after_months: Annotated[int, Field(ge=0, le=60)] = 12
    tasks_closed: StrictBool = True
    discharge: list[LongText] | None = Field(
        default=None, max_length=20, description="when the plan may be closed early"
    )


class TaperIn(Strict):
    mme_per_day: Dose | None = Field(default=None, description="default: the case's dose")
    months_of_use: Annotated[float, Field(ge=0, le=1200)] | None = None
    pace: Literal["monthly", "slow-monthly", "weekly"] = "monthly"
    floor_mme: Annotated[float, Field(ge=0, le=5000)] = 0.0
    resolution: Annotated[float, Field(ge=0.01, le=100)] = 1.0
    start_on: CareDate | None = None


class PlanIn(Strict):
    assessment_id: IdInt
    decisions: list[DecisionIn] = Field(
        max_length=200, description="one per item of the proposal (GET .../plans/proposal)"
    )
    decided_on: CareDate | None = Field(default=None, description="defaults to today (UTC)")
    start_on: CareDate | None = Field(
        default=None,
        description="the first visit: tasks and questionnaires count from it (default: decided_on)",
    )
    goals: list[GoalIn] | None = Field(
        default=None, max_length=50, description="default: the suggested goals"
    )
    review_on: CareDate | None = None
    completion: CompletionIn | None = None
    taper: TaperIn | None = None
    status: Literal["draft", "active"] = Field(
        default="active", description="a draft has no tasks until it is made active"
    )
    conference_id: IdInt | None = Field(
        default=None, description="the patient's case conference the plan was decided from"
    )


class PlanPatch(Strict):
    """Only the keys you send change."""

    goals: list[GoalIn] | None = Field(default=None, max_length=50)
    review_on: CareDate | None = None
    completion: CompletionIn | None = None
    status: Literal["active", "completed", "discharged"] | None = Field(
        default=None,
        description="draft -> active; active -> completed (when its criteria hold) or "
        "discharged (with a reason)",
    )
    on: CareDate | None = Field(default=None, description="date of the closing (default today)")
    reason: Reason | None = Field(default=None, description="required for a discharge")


class AmendmentIn(Strict):
    """A new version of the plan: only the items you re-decide (and every item the newest
    assessment adds) need a decision; the others keep theirs."""

    decisions: list[DecisionIn] = Field(default_factory=list, max_length=200)
    reason: LongText = Field(description="why the plan is amended (kept with the version)")
    decided_on: CareDate | None = Field(default=None, description="defaults to today (UTC)")
    goals: list[GoalIn] | None = Field(
        default=None, max_length=50, description="default: the plan's goals, kept as they are"
    )
    review_on: CareDate | None = None
    completion: CompletionIn | None = None
    taper: TaperIn | None = Field(
        default=None, description="only when this amendment accepts the opioid taper"
    )


class ClosingIn(Strict):
    outcome: Literal["completed", "discharged", "replaced"] = Field(
        description="completed (its criteria must hold), discharged, or replaced by a new plan"
    )
    reason: Reason = Field(default="", description="required to discharge or replace")
    on: CareDate | None = Field(default=None, description="date of the closing (default today)")
    carry_over: bool = Field(
        default=False,
        description="replaced only: the open care tasks move to the next plan with their state "
        "and history, instead of being cancelled",
    )


class PlanChangeOut(BaseModel):
    change: Literal[
        "added",
        "removed",
        "re-decided",
        "goal-added",
        "goal-changed",
        "goal-removed",
        "review-date",
    ]
    name: str
    reason: str | None
    item_id: str | None = None
    goal_id: str | None = None
    from_action: str | None = Field(default=None, alias="from")
    to_action: str | None = Field(default=None, alias="to")

    model_config = {"populate_by_name": True}


class PlanVersionOut(BaseModel):
    plan_id: int
    number: int
    assessment_id: int
    decided_on: dt.date
    decided_by: str
    reason: str | None
    entries: list[dict[str, Any]]
    goals: list[dict[str, Any]]
    review_on: dt.date
    completion: dict[str, Any]
    taper_request: dict[str, Any] | None
    changes: list[PlanChangeOut]
    created_at: dt.datetime
    href: str


class PlanOut(BaseModel):
    id: int
    patient_id: int
    assessment_id: int
    status: PlanStatus
    case_id: str | None
    knowledge_version: str
    engine_version: str
    region: str
    proposed_on: dt.date
    decided_on: dt.date
    decided_by: str
    start_on: dt.date
    review_on: dt.date
    closed_on: dt.date | None
    closed_reason: str | None
    entries: list[dict[str, Any]] = Field(description="each item with the decision about it")
    goals: list[dict[str, Any]]
    completion: dict[str, Any]
    conference_id: int | None = Field(
        default=None, description="the case conference the plan was decided from"
    )
    version: int = Field(description="the plan's ETag; send it in If-Match to PATCH")
    plan_version: int = Field(description="1 when decided, one more per amendment")
    closed_as: Literal["completed", "discharged", "replaced"] | None = None
    created_at: dt.datetime
    updated_at: dt.datetime
    href: str
    versions: str = Field(description="every version of the plan, with what changed")


class ProposalItemOut(BaseModel):
    id: str
    kind: str
    ref: str
    name: str
    perspective: str
    recommendation: str
    priority: str | None
    because: list[str]
    reason_required_to: Literal["reject", "accept", "never"]


class ProposalOut(BaseModel):
    assessment_id: int
    review_on: dt.date | None
    items: list[ProposalItemOut]
    goals: list[dict[str, Any]] = Field(description="suggested goals (send them or your own)")


class GoalCheckIn(Strict):
    goal_id: ShortText
    checked_on: CareDate
    achieved: StrictBool
    note: Annotated[str, Field(max_length=4000)] = ""


class GoalCheckOut(BaseModel):
    id: int
    plan_id: int
    goal_id: str
    checked_on: dt.date
    achieved: bool
    note: str
    created_at: dt.datetime


class TaperOut(BaseModel):
    plan_id: int
    version: int
    original_mme: float
    months_of_use: float | None
    long_term: bool
    pace: str
    period: str
    floor_mme: float
    resolution: float
    start_on: dt.date
    end_on: dt.date
    citation: str
    steps: list[dict[str, Any]]


class ScheduledQuestionnaireOut(BaseModel):
    task_id: int
    time_point: str
    instrument: str
    due: dt.date
    state: Literal["completed", "due", "overdue", "upcoming"]
    answered_on: dt.date | None


class QuestionnaireScheduleOut(BaseModel):
    plan_id: int
    as_of: dt.date
    items: list[ScheduledQuestionnaireOut]


# --- tasks --------------------------------------------------------------------------------------


class TaskOut(BaseModel):
    id: int
    patient_id: int
    plan_id: int
    task_key: str = Field(description="the domain id: {plan id}/{key}")
    kind: TaskKind
    key: str
    name: str
    plan_item_id: str | None
    owner: Owner
    person: str | None
    assignee_user_id: int | None
    due: dt.date
    status: TaskStatus
    priority: str | None
    note: str | None
    status_on: dt.date | None
    status_reason: str | None
    blocked_by: list[dict[str, Any]]
    waiting_on: list[str] | None = Field(
        default=None, description="prerequisites not yet done (care tasks)"
    )
    instrument: str | None
    time_point: str | None
    version: int = Field(description="the task's ETag; send it in If-Match to PATCH")
    href: str


class TaskPatch(Strict):
    """Only the keys you send change. `status` moves the task through its state machine."""

    status: TaskStatus | None = None
    reason: Reason | None = Field(default=None, description="required to cancel or fail")
    on: CareDate | None = Field(default=None, description="date of the change (default today)")
    person: ShortText | None = None
    assignee_user_id: IdInt | None = Field(
        default=None, description="a clinician or coordinator of your organization"
    )
    due: CareDate | None = None


class TaskChangeOut(BaseModel):
    task: TaskOut
    cancelled: list[TaskOut] = Field(
        description="tasks that waited on this one and were cancelled with it"
    )


class TaskResultIn(Strict):
    """The result of a diagnostic task: for a block `relief_percent` and `confirmatory`; for
    an imaging study `finding` (and `report`); `level` and `side` where they apply."""

    on: CareDate | None = Field(default=None, description="the day of the result (default today)")
    relief_percent: float | None = Field(default=None, ge=0, le=100, allow_inf_nan=False)
    confirmatory: StrictBool | None = Field(
        default=None, description="the confirmatory (second) block of a dual-block protocol"
    )
    finding: Finding | None = None
    level: str | None = Field(default=None, max_length=10, examples=["L4-L5"])
    side: Side | None = None
    report: LongText | None = None


class TaskResultOut(BaseModel):
    task: TaskOut
    cancelled: list[TaskOut]
    case_version: int = Field(description="the case version the result is in")
    assess: str = Field(description="POST here to assess the case again with the result")


class TaskAssignmentOut(BaseModel):
    """One change of who does a task or when it is due (append-only)."""

    id: int
    task_id: int
    from_assignee_user_id: int | None
    to_assignee_user_id: int | None
    from_person: str | None
    to_person: str | None
    from_due: dt.date
    to_due: dt.date
    changed_on: dt.date
    by_user_id: int | None
    created_at: dt.datetime


# --- worklists ----------------------------------------------------------------------------------


class WorklistTask(TaskOut):
    patient_name: str


class QuestionnairePatientOut(BaseModel):
    patient_id: int
    patient_name: str
    overdue: int = Field(description="questionnaires past their window, unanswered")
    due: int = Field(description="questionnaires due now (within the window), unanswered")
    earliest_due: dt.date
    instruments: list[str]
    href: str


class RedFlagOut(BaseModel):
    id: str | None
    name: str | None
    urgency: str | None


class RedFlagPatientOut(BaseModel):
    patient_id: int
    patient_name: str
    assessment_id: int
    assessed_at: dt.datetime
    red_flags: list[RedFlagOut]
    href: str


class PlanReviewOut(BaseModel):
    plan_id: int
    patient_id: int
    patient_name: str
    review_on: dt.date
    decided_by: str
    href: str


# --- outcomes -----------------------------------------------------------------------------------


class TrajectoryPointOut(BaseModel):
    date: dt.date
    score: float
    change_from_first: float | None
    change_from_previous: float | None
    status_from_first: str | None
    status_from_previous: str | None


class GoalStatusOut(BaseModel):
    goal: dict[str, Any]
    status: GoalStatus
    target: float | None = Field(
        default=None,
        description="for an instrument goal: the score at or below which it is met (the "
        "charts' goal line)",
    )


class CompletionStatusOut(BaseModel):
    met: bool
    unmet: list[str]


class OutcomesOut(BaseModel):
    patient_id: int
    plan_id: int | None
    primary_instrument: str | None
    baseline_on: dt.date | None
    trajectories: dict[str, list[TrajectoryPointOut]]
    goals: list[GoalStatusOut]
    responder_6m: ResponderStatus | None
    responder_12m: ResponderStatus | None
    completion: CompletionStatusOut | None


class ResponderCountOut(BaseModel):
    responders: int
    measured: int
    rate: float | None


class CourseEtiologyOut(BaseModel):
    course: str
    etiology: str
    patients: int


class CohortOut(BaseModel):
    patients: int
    by_course: dict[str, int]
    by_etiology: dict[str, int]
    by_course_and_etiology: list[CourseEtiologyOut]
    responders_6m: ResponderCountOut
    responders_12m: ResponderCountOut
    work_status_baseline: dict[str, int]
    work_status_12m: dict[str, int]
