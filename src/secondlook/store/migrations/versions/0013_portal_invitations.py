"""Portal invitations: one-time links with which a patient sets the password of the portal
account an administrator made for them (only a hash of each link's secret is stored).

Revision ID: 0013
Revises: 0014
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_portal_invitations_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_portal_invitations_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_portal_invitations_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_invitations")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_portal_invitations_secret_hash")),
    )
    op.create_index(
        op.f("ix_portal_invitations_organization_id"),
        "portal_invitations",
        ["organization_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_portal_invitations_user_id"), "portal_invitations", ["user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_portal_invitations_user_id"), table_name="portal_invitations")
    op.drop_index(op.f("ix_portal_invitations_organization_id"), table_name="portal_invitations")
    op.drop_table("portal_invitations")
