"""Care coordination: case conferences, care plans, tasks and their history, opioid taper
schedules, goal checks; worklist indexes (partial, on open tasks) and two indexes on the store's
tables (assessments with red flags; questionnaire answers by patient, instrument and date).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from secondlook.store.append_only import allow_changes, forbid_changes

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "0002"
# What happened to a task and each check of a goal are history: never edited, never deleted.
APPEND_ONLY_TABLES = ("care_task_events", "care_goal_checks")
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "care_conferences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("case_id", sa.String(length=200), nullable=True),
        sa.Column("knowledge_version", sa.String(length=64), nullable=False),
        sa.Column("engine_version", sa.String(length=64), nullable=False),
        sa.Column("attendees", JSON_DOCUMENT, nullable=False),
        sa.Column("agenda", JSON_DOCUMENT, nullable=False),
        sa.Column("decisions", JSON_DOCUMENT, nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["assessments.id"],
            name=op.f("fk_care_conferences_assessment_id_assessments"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_care_conferences_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_care_conferences_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_care_conferences_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_conferences")),
    )
    with op.batch_alter_table("care_conferences", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_care_conferences_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            "ix_care_conferences_patient_id_id", ["patient_id", "id"], unique=False
        )

    op.create_table(
        "care_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=200), nullable=True),
        sa.Column("knowledge_version", sa.String(length=64), nullable=False),
        sa.Column("engine_version", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=20), nullable=False),
        sa.Column("proposed_on", sa.Date(), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("start_on", sa.Date(), nullable=False),
        sa.Column("review_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("closed_reason", sa.Text(), nullable=True),
        sa.Column("entries", JSON_DOCUMENT, nullable=False),
        sa.Column("goals", JSON_DOCUMENT, nullable=False),
        sa.Column("completion", JSON_DOCUMENT, nullable=False),
        sa.Column("questionnaire_options", JSON_DOCUMENT, nullable=False),
        sa.Column("taper_request", JSON_DOCUMENT, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('draft', 'active', 'completed', 'discharged')",
            name=op.f("ck_care_plans_status_known"),
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_care_plans_version_positive")),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["assessments.id"],
            name=op.f("fk_care_plans_assessment_id_assessments"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_care_plans_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_care_plans_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_care_plans_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_plans")),
    )
    with op.batch_alter_table("care_plans", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_care_plans_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index("ix_care_plans_patient_id_id", ["patient_id", "id"], unique=False)
        batch_op.create_index(
            "ix_care_plans_review", ["organization_id", "status", "review_on", "id"], unique=False
        )

    op.create_table(
        "care_goal_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("goal_id", sa.String(length=100), nullable=False),
        sa.Column("checked_on", sa.Date(), nullable=False),
        sa.Column("achieved", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_care_goal_checks_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_care_goal_checks_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["care_plans.id"], name=op.f("fk_care_goal_checks_plan_id_care_plans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_goal_checks")),
    )
    with op.batch_alter_table("care_goal_checks", schema=None) as batch_op:
        batch_op.create_index("ix_care_goal_checks_plan_id_id", ["plan_id", "id"], unique=False)

    op.create_table(
        "care_taper_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("plan_item_id", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("original_mme", sa.Float(), nullable=False),
        sa.Column("months_of_use", sa.Float(), nullable=True),
        sa.Column("long_term", sa.Boolean(), nullable=False),
        sa.Column("pace", sa.String(length=20), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("floor_mme", sa.Float(), nullable=False),
        sa.Column("resolution", sa.Float(), nullable=False),
        sa.Column("start_on", sa.Date(), nullable=False),
        sa.Column("citation", sa.Text(), nullable=False),
        sa.Column("steps", JSON_DOCUMENT, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_care_taper_schedules_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["care_plans.id"], name=op.f("fk_care_taper_schedules_plan_id_care_plans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_taper_schedules")),
        sa.UniqueConstraint("plan_id", "version", name="uq_care_taper_schedules_plan_id_version"),
    )
    op.create_table(
        "care_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("task_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("plan_item_id", sa.String(length=200), nullable=True),
        sa.Column("owner", sa.String(length=40), nullable=False),
        sa.Column("person", sa.String(length=200), nullable=True),
        sa.Column("assignee_user_id", sa.Integer(), nullable=True),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("priority", sa.String(length=20), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("status_on", sa.Date(), nullable=True),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("blocked_by", JSON_DOCUMENT, nullable=False),
        sa.Column("instrument", sa.String(length=32), nullable=True),
        sa.Column("time_point", sa.String(length=40), nullable=True),
        sa.Column("window_opens", sa.Date(), nullable=True),
        sa.Column("window_closes", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('care', 'questionnaire')", name=op.f("ck_care_tasks_kind_known")
        ),
        sa.CheckConstraint(
            "status IN ('requested', 'accepted', 'in-progress', 'completed', 'cancelled', "
            "'failed')",
            name=op.f("ck_care_tasks_status_known"),
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_care_tasks_version_positive")),
        sa.ForeignKeyConstraint(
            ["assignee_user_id"], ["users.id"], name=op.f("fk_care_tasks_assignee_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_care_tasks_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_care_tasks_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["care_plans.id"], name=op.f("fk_care_tasks_plan_id_care_plans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_tasks")),
        sa.UniqueConstraint("plan_id", "task_key", name="uq_care_tasks_plan_id_task_key"),
    )
    with op.batch_alter_table("care_tasks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_care_tasks_open_by_assignee",
            ["assignee_user_id", "due", "id"],
            unique=False,
            postgresql_where=sa.text(
                "status IN ('requested', 'accepted', 'in-progress') AND kind = 'care'"
            ),
            sqlite_where=sa.text(
                "status IN ('requested', 'accepted', 'in-progress') AND kind = 'care'"
            ),
        )
        batch_op.create_index(
            "ix_care_tasks_open_by_due",
            ["organization_id", "due", "id"],
            unique=False,
            postgresql_where=sa.text(
                "status IN ('requested', 'accepted', 'in-progress') AND kind = 'care'"
            ),
            sqlite_where=sa.text(
                "status IN ('requested', 'accepted', 'in-progress') AND kind = 'care'"
            ),
        )
        batch_op.create_index(
            "ix_care_tasks_open_by_owner",
            ["organization_id", "owner", "due", "id"],
            unique=False,
            postgresql_where=sa.text(
                "status IN ('requested', 'accepted', 'in-progress') AND kind = 'care'"
            ),
            sqlite_where=sa.text(
                "status IN ('requested', 'accepted', 'in-progress') AND kind = 'care'"
            ),
        )
        batch_op.create_index(
            "ix_care_tasks_open_questionnaires",
            ["organization_id", "patient_id", "due"],
            unique=False,
            postgresql_where=sa.text(
                "status IN ('requested', 'accepted', 'in-progress') AND kind = 'questionnaire'"
            ),
            sqlite_where=sa.text(
                "status IN ('requested', 'accepted', 'in-progress') AND kind = 'questionnaire'"
            ),
        )
        batch_op.create_index(batch_op.f("ix_care_tasks_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index("ix_care_tasks_plan_id_id", ["plan_id", "id"], unique=False)

    op.create_table(
        "care_task_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=False),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("changed_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["by_user_id"], ["users.id"], name=op.f("fk_care_task_events_by_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_care_task_events_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["care_tasks.id"], name=op.f("fk_care_task_events_task_id_care_tasks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_task_events")),
    )
    with op.batch_alter_table("care_task_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_care_task_events_task_id"), ["task_id"], unique=False)

    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_assessments_red_flags",
            ["organization_id", "patient_id", "id"],
            unique=False,
            postgresql_where=sa.text("jsonb_array_length(document -> 'red_flags') > 0"),
            sqlite_where=sa.text("json_array_length(document, '$.red_flags') > 0"),
        )

    with op.batch_alter_table("questionnaire_responses", schema=None) as batch_op:
        batch_op.create_index(
            "ix_questionnaire_responses_patient_instrument_on",
            ["patient_id", "instrument", "answered_on"],
            unique=False,
        )

    for table in APPEND_ONLY_TABLES:
        forbid_changes(table)


def downgrade() -> None:
    for table in APPEND_ONLY_TABLES:
        allow_changes(table)
    with op.batch_alter_table("questionnaire_responses", schema=None) as batch_op:
        batch_op.drop_index("ix_questionnaire_responses_patient_instrument_on")

    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_assessments_red_flags",
            postgresql_where=sa.text("jsonb_array_length(document -> 'red_flags') > 0"),
            sqlite_where=sa.text("json_array_length(document, '$.red_flags') > 0"),
        )

    with op.batch_alter_table("care_task_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_care_task_events_task_id"))

    op.drop_table("care_task_events")
    with op.batch_alter_table("care_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_care_tasks_plan_id_id")
        batch_op.drop_index(batch_op.f("ix_care_tasks_patient_id"))
        batch_op.drop_index(
            "ix_care_tasks_open_questionnaires",
            postgresql_where=sa.text(
                "status IN ('requested', 'accepted', 'in-progress') AND kind = 'questionnaire'"
            ),
            sqlite_where=sa.text(
                "status IN ('requested', 'accepted', 'in-progress') AND kind = 'questionnaire'"
            ),
        )
        batch_op.drop_index(
            "ix_care_tasks_open_by_owner",
            postgresql_where=sa.text(
                "status IN ('requested', 'accepted', 'in-progress') AND kind = 'care'"
            ),
            sqlite_where=sa.text(
                "status IN ('requested', 'accepted', 'in-progress') AND kind = 'care'"
            ),
        )
        batch_op.drop_index(
            "ix_care_tasks_open_by_due",
            postgresql_where=sa.text(
                "status IN ('requested', 'accepted', 'in-progress') AND kind = 'care'"
            ),
            sqlite_where=sa.text(
                "status IN ('requested', 'accepted', 'in-progress') AND kind = 'care'"
            ),
        )
        batch_op.drop_index(
            "ix_care_tasks_open_by_assignee",
            postgresql_where=sa.text(
                "status IN ('requested', 'accepted', 'in-progress') AND kind = 'care'"
            ),
            sqlite_where=sa.text(
                "status IN ('requested', 'accepted', 'in-progress') AND kind = 'care'"
            ),
        )

    op.drop_table("care_tasks")
    op.drop_table("care_taper_schedules")
    with op.batch_alter_table("care_goal_checks", schema=None) as batch_op:
        batch_op.drop_index("ix_care_goal_checks_plan_id_id")

    op.drop_table("care_goal_checks")
    with op.batch_alter_table("care_plans", schema=None) as batch_op:
        batch_op.drop_index("ix_care_plans_review")
        batch_op.drop_index("ix_care_plans_patient_id_id")
        batch_op.drop_index(batch_op.f("ix_care_plans_organization_id"))

    op.drop_table("care_plans")
    with op.batch_alter_table("care_conferences", schema=None) as batch_op:
        batch_op.drop_index("ix_care_conferences_patient_id_id")
        batch_op.drop_index(batch_op.f("ix_care_conferences_organization_id"))

    op.drop_table("care_conferences")
