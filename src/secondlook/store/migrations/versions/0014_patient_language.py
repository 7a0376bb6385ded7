"""The language a user chose for their pages and handout (``users.language``: ``en``, ``es``;
NULL = not chosen, the browser's language is used).

Revision ID: 0014
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no table copy): the users table keeps its triggers. The allowed
    # languages are checked where the choice is made (services.accounts), as disciplines are:
    # adding a language needs no migration.
    op.add_column("users", sa.Column("language", sa.String(length=10), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "language")
