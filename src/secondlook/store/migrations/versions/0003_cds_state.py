"""CDS Hooks state shared by every worker: the jti of each accepted EHR token until it expires
(a unique constraint refuses replays), the EHR patient ids linked to SecondLook patients, the
cards returned with the alert each states, and the feedback on them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cds_seen_jtis",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("jti", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cds_seen_jtis")),
        sa.UniqueConstraint("issuer", "jti", name="uq_cds_seen_jtis_issuer_jti"),
    )
    with op.batch_alter_table("cds_seen_jtis", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cds_seen_jtis_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "cds_cards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("hook_instance", sa.String(length=100), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("ehr_patient_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("alert_id", sa.String(length=64), nullable=True),
        sa.Column("summary", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_cds_cards_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cds_cards")),
        sa.UniqueConstraint("uuid", name=op.f("uq_cds_cards_uuid")),
    )
    with op.batch_alter_table("cds_cards", schema=None) as batch_op:
        batch_op.create_index("ix_cds_cards_hook_instance", ["hook_instance"], unique=False)
        batch_op.create_index(batch_op.f("ix_cds_cards_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "cds_patient_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("ehr_patient_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_cds_patient_links_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_cds_patient_links_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cds_patient_links")),
        sa.UniqueConstraint(
            "organization_id",
            "issuer",
            "ehr_patient_id",
            name="uq_cds_patient_links_organization_id_issuer_ehr_patient_id",
        ),
    )
    with op.batch_alter_table("cds_patient_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cds_patient_links_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "cds_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("card_uuid", sa.String(length=36), nullable=False),
        sa.Column("alert_id", sa.String(length=64), nullable=True),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("outcome_timestamp", sa.String(length=40), nullable=True),
        sa.Column("override_reason", JSON_DOCUMENT, nullable=True),
        sa.Column("accepted_suggestions", JSON_DOCUMENT, nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cds_cards.id"], name=op.f("fk_cds_feedback_card_id_cds_cards")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cds_feedback")),
    )
    with op.batch_alter_table("cds_feedback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cds_feedback_card_id"), ["card_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cds_feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cds_feedback_card_id"))

    op.drop_table("cds_feedback")
    with op.batch_alter_table("cds_patient_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cds_patient_links_patient_id"))

    op.drop_table("cds_patient_links")
    with op.batch_alter_table("cds_cards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cds_cards_patient_id"))
        batch_op.drop_index("ix_cds_cards_hook_instance")

    op.drop_table("cds_cards")
    with op.batch_alter_table("cds_seen_jtis", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cds_seen_jtis_expires_at"))

    op.drop_table("cds_seen_jtis")
