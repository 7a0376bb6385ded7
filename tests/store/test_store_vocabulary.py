"""The database refuses exactly the codes the vocabularies do not know: every CHECK constraint
that lists codes, read back from the migrated database, names the same set as the vocabulary it
was written from (care/vocabulary.py, platform/access.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import re

from sqlalchemy import Engine, text

from secondlook.care import vocabulary
from secondlook.platform.access import ROLES
from secondlook.store.models import CREDENTIAL_KINDS

EXPECTED = {
    ("care_plans", "status"): set(vocabulary.PLAN_STATUSES),
    ("care_tasks", "status"): set(vocabulary.TASK_STATUSES),
    ("care_tasks", "kind"): set(vocabulary.TASK_KINDS),
    ("users", "role"): set(ROLES),
    ("credentials", "kind"): set(CREDENTIAL_KINDS),
}


def _definitions(engine: Engine, table: str) -> list[str]:
    """The text of the table's CHECK constraints, as the database keeps it."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            sql = connection.scalar(
                text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"),
                {"t": table},
            )
            return re.findall(r"CHECK \((.*?)\)(?:,|\n|$)", sql or "", flags=re.S)
        return list(
            connection.scalars(
                text(
                    "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c "
                    "JOIN pg_class t ON t.oid = c.conrelid WHERE t.relname = :t AND c.contype = 'c'"
                ),
                {"t": table},
            )
        )


def _codes(definitions: list[str], column: str) -> set[str] | None:
    """The codes a constraint on ``column`` allows: `column IN ('a', 'b')` on SQLite,
    `column = ANY (ARRAY['a'::text, ...])` as PostgreSQL prints it."""
    for definition in definitions:
        lists_codes = re.search(r"\bIN\b|= ANY", definition)
        if re.search(rf"\b{column}\b", definition) and lists_codes and " AND " not in definition:
            return set(re.findall(r"'([a-z-]+)'", definition))
    return None


def test_every_code_check_in_the_migrated_database_matches_its_vocabulary(engine: Engine) -> None:
    for (table, column), codes in EXPECTED.items():
        found = _codes(_definitions(engine, table), column)
        assert found == codes, f"{table}.{column}: database {found}, vocabulary {codes}"


def test_every_care_code_has_a_label() -> None:
    for name, (codes, labels) in vocabulary.VOCABULARIES.items():
        missing = [c for c in codes if c not in labels]
        assert not missing, f"vocabulary {name}: no label for {missing}"
        assert all(labels[c].strip() for c in codes)
