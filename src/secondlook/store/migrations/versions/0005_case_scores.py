"""The case's questionnaire scores, as each assessment scored them, beside the stored responses
(``CaseScore``); filled in for the assessments stored before.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa
from alembic import op

from secondlook.store.append_only import allow_changes, forbid_changes

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("instrument", sa.String(length=40), nullable=False),
        sa.Column("answered_on", sa.Date(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["assessments.id"],
            name=op.f("fk_case_scores_assessment_id_assessments"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_case_scores_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_case_scores_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_scores")),
    )
    op.create_index(
        op.f("ix_case_scores_assessment_id"), "case_scores", ["assessment_id"], unique=False
    )
    op.create_index(
        "ix_case_scores_patient_id_instrument",
        "case_scores",
        ["patient_id", "instrument"],
        unique=False,
    )
    _fill_in()
    forbid_changes("case_scores")


def _fill_in() -> None:
    """The scores of every assessment already stored (its document's ``scores``)."""
    bind = op.get_bind()
    assessments = sa.table(
        "assessments",
        sa.column("id", sa.Integer),
        sa.column("organization_id", sa.Integer),
        sa.column("patient_id", sa.Integer),
        sa.column("document", sa.JSON),
    )
    scores = sa.table(
        "case_scores",
        sa.column("organization_id", sa.Integer),
        sa.column("patient_id", sa.Integer),
        sa.column("assessment_id", sa.Integer),
        sa.column("instrument", sa.String),
        sa.column("answered_on", sa.Date),
        sa.column("score", sa.Float),
    )
    rows: list[dict[str, Any]] = []
    for found in bind.execute(sa.select(assessments)):
        document = found.document
        if isinstance(document, str):
            document = json.loads(document)
        for entry in (document or {}).get("scores") or []:
            try:
                day = dt.date.fromisoformat(str(entry.get("date")))
                value = float(entry["score"])
            except (TypeError, ValueError, KeyError):
                continue  # a score without a date or a number cannot be placed on a trajectory
            rows.append(
                {
                    "organization_id": found.organization_id,
                    "patient_id": found.patient_id,
                    "assessment_id": found.id,
                    "instrument": str(entry.get("instrument")),
                    "answered_on": day,
                    "score": value,
                }
            )
    if rows:
        bind.execute(sa.insert(scores), rows)


def downgrade() -> None:
    allow_changes("case_scores")
    op.drop_index("ix_case_scores_patient_id_instrument", table_name="case_scores")
    op.drop_index(op.f("ix_case_scores_assessment_id"), table_name="case_scores")
    op.drop_table("case_scores")
