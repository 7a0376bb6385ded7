"""The patients an audited list showed: one row per (event, patient), append-only.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from secondlook.store.append_only import allow_changes, forbid_changes

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_disclosures",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "patient_id", name=op.f("pk_audit_disclosures")),
    )
    op.create_index(
        "ix_audit_disclosures_patient_id", "audit_disclosures", ["patient_id"], unique=False
    )
    forbid_changes("audit_disclosures")


def downgrade() -> None:
    allow_changes("audit_disclosures")
    op.drop_index("ix_audit_disclosures_patient_id", table_name="audit_disclosures")
    op.drop_table("audit_disclosures")
