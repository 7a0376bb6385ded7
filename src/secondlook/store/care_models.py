"""The stored records of care coordination (docs/care.md): conferences, plans, tasks with their
history, taper schedules and goal checks. Every row carries its organization.

What a worklist filters or sorts on is a column with an index made for that worklist; what is
only ever read whole with its parent (attendees, agenda, plan items, goals, dependencies, taper
steps) is a JSON column of the parent row.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from secondlook.care import vocabulary
from secondlook.store.models import (
    Assessment,
    Base,
    JSONDocument,
    QuestionnaireResponse,
    UTCDateTime,
    one_of,
    utcnow,
)

# The code lists are the care domain's (care/vocabulary.py); the CHECK constraints and the
# partial indexes' predicates are written from them, and a test compares the migrated database.
PLAN_STATUSES = vocabulary.PLAN_STATUSES
TASK_STATUSES = vocabulary.TASK_STATUSES
OPEN_TASK_STATUSES = vocabulary.OPEN_TASK_STATUSES
TASK_KINDS = vocabulary.TASK_KINDS


# The predicates of the partial indexes, written once: a worklist query must repeat them for
# the database to use the index.
OPEN_CARE_TASK = f"{one_of('status', OPEN_TASK_STATUSES)} AND kind = 'care'"
OPEN_QUESTIONNAIRE = f"{one_of('status', OPEN_TASK_STATUSES)} AND kind = 'questionnaire'"
HAS_RED_FLAGS = {
    "postgresql": "jsonb_array_length(document -> 'red_flags') > 0",
    "sqlite": "json_array_length(document, '$.red_flags') > 0",
}


class CareConference(Base):
    __tablename__ = "care_conferences"
    __table_args__ = (Index("ix_care_conferences_patient_id_id", "patient_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id"))
    held_on: Mapped[dt.date] = mapped_column(Date)
    case_id: Mapped[str | None] = mapped_column(String(200))
    knowledge_version: Mapped[str] = mapped_column(String(64))
    engine_version: Mapped[str] = mapped_column(String(64))
    attendees: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    agenda: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    decisions: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CarePlan(Base):
    __tablename__ = "care_plans"
    __table_args__ = (
        CheckConstraint(one_of("status", PLAN_STATUSES), name="status_known"),
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_care_plans_patient_id_id", "patient_id", "id"),
        # Plans due for review: active plans of an organization by review date.
        Index("ix_care_plans_review", "organization_id", "status", "review_on", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id"))
    # The case conference the plan was decided from, when it was built from one.
    conference_id: Mapped[int | None] = mapped_column(ForeignKey("care_conferences.id"))
    case_id: Mapped[str | None] = mapped_column(String(200))
    knowledge_version: Mapped[str] = mapped_column(String(64))
    engine_version: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(20))
    proposed_on: Mapped[dt.date] = mapped_column(Date)
    decided_on: Mapped[dt.date] = mapped_column(Date)
    decided_by: Mapped[str] = mapped_column(String(200))
    start_on: Mapped[dt.date] = mapped_column(Date)
    review_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    closed_reason: Mapped[str | None] = mapped_column(Text)
    # How the plan was closed (``vocabulary.CLOSE_OUTCOMES``): a plan replaced by a new one is
    # ``discharged`` by status and ``replaced`` here, and its carried tasks move to the new plan.
    closed_as: Mapped[str | None] = mapped_column(String(20))
    entries: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    goals: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    completion: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    questionnaire_options: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    taper_request: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The plan's own version: 1 when decided, one more per amendment (``care_plan_versions``
    # keeps each); ``version`` above is the row's ETag and moves with every change.
    plan_version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CarePlanVersion(Base):
    """One version of a plan as it was decided: its items with their decisions, goals, review
    date, completion criteria and taper request, and what changed from the version before
    (items added, removed, re-decided, goals added or removed, each with its reason). Version 1
    is the decision itself. Append-only: an earlier version is never lost."""

    __tablename__ = "care_plan_versions"
    __table_args__ = (
        UniqueConstraint("plan_id", "number", name="uq_care_plan_versions_plan_id_number"),
        CheckConstraint("number >= 1", name="number_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    plan_id: Mapped[int] = mapped_column(ForeignKey("care_plans.id"))
    number: Mapped[int] = mapped_column(Integer)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id"))
    decided_on: Mapped[dt.date] = mapped_column(Date)
    decided_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    entries: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    goals: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    review_on: Mapped[dt.date] = mapped_column(Date)
    completion: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    taper_request: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CareTask(Base):
    """A task of a plan: a care task of a discipline (or a named person), or a questionnaire
    the patient is due to answer (``kind = 'questionnaire'``, with its answer window)."""

    __tablename__ = "care_tasks"
    __table_args__ = (
        UniqueConstraint("plan_id", "task_key", name="uq_care_tasks_plan_id_task_key"),
        CheckConstraint(one_of("status", TASK_STATUSES), name="status_known"),
        CheckConstraint(one_of("kind", TASK_KINDS), name="kind_known"),
        CheckConstraint("version >= 1", name="version_positive"),
        # Worklists. Each is a partial index on the open tasks, in the order the list is read.
        Index(
            "ix_care_tasks_open_by_due",
            "organization_id",
            "due",
            "id",
            postgresql_where=text(OPEN_CARE_TASK),
            sqlite_where=text(OPEN_CARE_TASK),
        ),
        Index(
            "ix_care_tasks_open_by_owner",
            "organization_id",
            "owner",
            "due",
            "id",
            postgresql_where=text(OPEN_CARE_TASK),
            sqlite_where=text(OPEN_CARE_TASK),
        ),
        Index(
            "ix_care_tasks_open_by_assignee",
            "assignee_user_id",
            "due",
            "id",
            postgresql_where=text(OPEN_CARE_TASK),
            sqlite_where=text(OPEN_CARE_TASK),
        ),
        Index(
            "ix_care_tasks_open_questionnaires",
            "organization_id",
            "patient_id",
            "due",
            postgresql_where=text(OPEN_QUESTIONNAIRE),
            sqlite_where=text(OPEN_QUESTIONNAIRE),
        ),
        Index("ix_care_tasks_plan_id_id", "plan_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("care_plans.id"))
    task_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(300))
    plan_item_id: Mapped[str | None] = mapped_column(String(200))
    owner: Mapped[str] = mapped_column(String(40))
    person: Mapped[str | None] = mapped_column(String(200))
    assignee_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))
    priority: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    status_on: Mapped[dt.date | None] = mapped_column(Date)
    status_reason: Mapped[str | None] = mapped_column(Text)
    blocked_by: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    instrument: Mapped[str | None] = mapped_column(String(32))
    time_point: Mapped[str | None] = mapped_column(String(40))
    window_opens: Mapped[dt.date | None] = mapped_column(Date)
    window_closes: Mapped[dt.date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CareTaskEvent(Base):
    """One status change of a task. Append-only."""

    __tablename__ = "care_task_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    task_id: Mapped[int] = mapped_column(ForeignKey("care_tasks.id"), index=True)
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    changed_on: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(Text)
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CareTaskAssignment(Base):
    """One change of who does a task (a user of the team or a named person) or of its due
    date, with the values before and after. Append-only."""

    __tablename__ = "care_task_assignments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    task_id: Mapped[int] = mapped_column(ForeignKey("care_tasks.id"), index=True)
    from_assignee_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    to_assignee_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    from_person: Mapped[str | None] = mapped_column(String(200))
    to_person: Mapped[str | None] = mapped_column(String(200))
    from_due: Mapped[dt.date] = mapped_column(Date)
    to_due: Mapped[dt.date] = mapped_column(Date)
    changed_on: Mapped[dt.date] = mapped_column(Date)
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CareTaperSchedule(Base):
    """An opioid taper of a plan. Each change (pause, slowing) is a new version."""

    __tablename__ = "care_taper_schedules"
    __table_args__ = (
        UniqueConstraint("plan_id", "version", name="uq_care_taper_schedules_plan_id_version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    plan_id: Mapped[int] = mapped_column(ForeignKey("care_plans.id"))
    plan_item_id: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    original_mme: Mapped[float] = mapped_column(Float)
    months_of_use: Mapped[float | None] = mapped_column(Float)
    long_term: Mapped[bool] = mapped_column(Boolean)
    pace: Mapped[str] = mapped_column(String(20))
    period: Mapped[str] = mapped_column(String(10))
    floor_mme: Mapped[float] = mapped_column(Float)
    resolution: Mapped[float] = mapped_column(Float)
    start_on: Mapped[dt.date] = mapped_column(Date)
    citation: Mapped[str] = mapped_column(Text)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CareGoalCheck(Base):
    """A dated check of a patient goal of a plan (in the patient's words). Append-only."""

    __tablename__ = "care_goal_checks"
    __table_args__ = (Index("ix_care_goal_checks_plan_id_id", "plan_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    plan_id: Mapped[int] = mapped_column(ForeignKey("care_plans.id"))
    goal_id: Mapped[str] = mapped_column(String(100))
    checked_on: Mapped[dt.date] = mapped_column(Date)
    achieved: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# Indexes on the store's tables for the care worklists and outcomes.
# Patients with open red flags: assessments that have any, per patient, newest last.
Index(
    "ix_assessments_red_flags",
    Assessment.organization_id,
    Assessment.patient_id,
    Assessment.id,
    postgresql_where=text(HAS_RED_FLAGS["postgresql"]),
    sqlite_where=text(HAS_RED_FLAGS["sqlite"]),
)
# Was a scheduled questionnaire answered in its window?
Index(
    "ix_questionnaire_responses_patient_instrument_on",
    QuestionnaireResponse.patient_id,
    QuestionnaireResponse.instrument,
    QuestionnaireResponse.answered_on,
)
