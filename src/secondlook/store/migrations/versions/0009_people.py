"""People on the team's records: a user's discipline, the conference a plan came from, who
entered a questionnaire on paper, and the append-only history of who a task is assigned to and
when it is due (``care_task_assignments``).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from secondlook.store.append_only import allow_changes, forbid_changes

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no table copy): users and questionnaire_responses keep their triggers.
    op.add_column("users", sa.Column("discipline", sa.String(length=40), nullable=True))
    op.add_column(
        "questionnaire_responses", sa.Column("source", sa.String(length=20), nullable=True)
    )
    with op.batch_alter_table("care_plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("conference_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_care_plans_conference_id_care_conferences"),
            "care_conferences",
            ["conference_id"],
            ["id"],
        )
    op.create_table(
        "care_task_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("from_assignee_user_id", sa.Integer(), nullable=True),
        sa.Column("to_assignee_user_id", sa.Integer(), nullable=True),
        sa.Column("from_person", sa.String(length=200), nullable=True),
        sa.Column("to_person", sa.String(length=200), nullable=True),
        sa.Column("from_due", sa.Date(), nullable=False),
        sa.Column("to_due", sa.Date(), nullable=False),
        sa.Column("changed_on", sa.Date(), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["by_user_id"], ["users.id"], name=op.f("fk_care_task_assignments_by_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["from_assignee_user_id"],
            ["users.id"],
            name=op.f("fk_care_task_assignments_from_assignee_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["to_assignee_user_id"],
            ["users.id"],
            name=op.f("fk_care_task_assignments_to_assignee_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_care_task_assignments_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["care_tasks.id"],
            name=op.f("fk_care_task_assignments_task_id_care_tasks"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_task_assignments")),
    )
    op.create_index(
        op.f("ix_care_task_assignments_task_id"),
        "care_task_assignments",
        ["task_id"],
        unique=False,
    )
    forbid_changes("care_task_assignments")


def downgrade() -> None:
    allow_changes("care_task_assignments")
    op.drop_index(op.f("ix_care_task_assignments_task_id"), table_name="care_task_assignments")
    op.drop_table("care_task_assignments")
    with op.batch_alter_table("care_plans", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_care_plans_conference_id_care_conferences"), type_="foreignkey"
        )
        batch_op.drop_column("conference_id")
    op.drop_column("questionnaire_responses", "source")
    op.drop_column("users", "discipline")
