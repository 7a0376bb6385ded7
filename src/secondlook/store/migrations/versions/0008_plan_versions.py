"""Plan versions: a plan is amended, never replaced in place. ``care_plan_versions`` keeps every
version of a plan's decisions (append-only) with what changed; ``care_plans`` gets its version
number and how it was closed. Plans stored before get their first version from what they hold.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from secondlook.store.append_only import allow_changes, forbid_changes

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("care_plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_as", sa.String(length=20), nullable=True))
        batch_op.add_column(
            sa.Column("plan_version", sa.Integer(), server_default=sa.text("1"), nullable=False)
        )
    op.create_table(
        "care_plan_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("entries", JSON_DOCUMENT, nullable=False),
        sa.Column("goals", JSON_DOCUMENT, nullable=False),
        sa.Column("review_on", sa.Date(), nullable=False),
        sa.Column("completion", JSON_DOCUMENT, nullable=False),
        sa.Column("taper_request", JSON_DOCUMENT, nullable=True),
        sa.Column("changes", JSON_DOCUMENT, nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("number >= 1", name=op.f("ck_care_plan_versions_number_positive")),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["assessments.id"],
            name=op.f("fk_care_plan_versions_assessment_id_assessments"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_care_plan_versions_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_care_plan_versions_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["care_plans.id"], name=op.f("fk_care_plan_versions_plan_id_care_plans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_plan_versions")),
        sa.UniqueConstraint("plan_id", "number", name="uq_care_plan_versions_plan_id_number"),
    )
    _first_versions()
    forbid_changes("care_plan_versions")


def _first_versions() -> None:
    """Version 1 of every plan stored before: the decisions it holds."""
    op.execute(
        sa.text(
            "INSERT INTO care_plan_versions (organization_id, plan_id, number, assessment_id, "
            "decided_on, decided_by, reason, entries, goals, review_on, completion, "
            "taper_request, changes, created_by, created_at) "
            "SELECT organization_id, id, 1, assessment_id, decided_on, decided_by, NULL, "
            "entries, goals, review_on, completion, taper_request, :empty, "
            "created_by, created_at FROM care_plans"
        ).bindparams(sa.bindparam("empty", [], type_=JSON_DOCUMENT))
    )


def downgrade() -> None:
    allow_changes("care_plan_versions")
    op.drop_table("care_plan_versions")
    with op.batch_alter_table("care_plans", schema=None) as batch_op:
        batch_op.drop_column("plan_version")
        batch_op.drop_column("closed_as")
