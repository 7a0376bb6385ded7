"""Patients' search text: name and MRN without accents or case, for search in any word order.

Revision ID: 0011
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from secondlook.store.text import search_key

revision = "0011"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.add_column(
            sa.Column("search_text", sa.String(length=300), server_default="", nullable=False)
        )
    # Fill it for the patients already there, in batches so a large clinic is not read whole.
    bind = op.get_bind()
    patients = sa.table(
        "patients",
        sa.column("id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("mrn", sa.String),
        sa.column("search_text", sa.String),
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(patients.c.id, patients.c.name, patients.c.mrn)
            .where(patients.c.id > last)
            .order_by(patients.c.id)
            .limit(1000)
        ).all()
        if not rows:
            break
        for row in rows:
            bind.execute(
                patients.update()
                .where(patients.c.id == row.id)
                .values(search_text=search_key(row.name, row.mrn))
            )
        last = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.drop_column("search_text")
