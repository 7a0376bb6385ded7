"""Where the database is, how it is opened, and the migrations that ship with the package."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DatabaseError

from secondlook.store import db, migrate
from secondlook.store.pgtemp import TempPostgres

APPEND_ONLY = ("audit_events", "case_versions", "assessments", "questionnaire_responses")


def test_the_default_is_sqlite_in_the_data_folder_of_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(db.DATABASE_URL_ENV, raising=False)
    monkeypatch.delenv(db.DATA_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert db.database_url() == f"sqlite:///{tmp_path / 'data' / 'secondlook.db'}"


def test_the_data_directory_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(db.DATABASE_URL_ENV, raising=False)
    monkeypatch.setenv(db.DATA_DIR_ENV, str(tmp_path / "elsewhere"))
    assert db.database_url() == f"sqlite:///{tmp_path / 'elsewhere' / 'secondlook.db'}"


def test_a_database_url_in_the_environment_wins_over_the_data_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(db.DATABASE_URL_ENV, "postgresql://u:p@db.example/secondlook")
    monkeypatch.setenv(db.DATA_DIR_ENV, str(tmp_path))
    assert db.database_url() == "postgresql+psycopg://u:p@db.example/secondlook"
    # ...but an explicit --data-dir means what it says.
    assert db.database_url(data_dir_path=tmp_path).startswith("sqlite:///")


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgres://h/d", "postgresql+psycopg://h/d"),
        ("postgresql://h/d", "postgresql+psycopg://h/d"),
        ("postgresql+psycopg://h/d", "postgresql+psycopg://h/d"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_postgres_urls_use_psycopg_3(given: str, used: str) -> None:
    assert db.normalize_url(given) == used


def test_first_start_creates_the_data_directory_and_a_durable_sqlite_database(
    tmp_path: Path,
) -> None:
    engine = db.make_engine(db.database_url(data_dir_path=tmp_path / "new" / "data"))
    migrate.upgrade(engine)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    assert (tmp_path / "new" / "data" / "secondlook.db").exists()
    engine.dispose()


def test_sqlite_enforces_foreign_keys(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path}/fk.db")
    migrate.upgrade(engine)
    with pytest.raises(DatabaseError), engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO patients (organization_id, name, version, case_version, "
                "created_at, updated_at) VALUES (999, 'x', 1, 0, '2026-01-01', '2026-01-01')"
            )
        )
    engine.dispose()


def test_migrations_bring_the_database_to_head_and_can_run_again(engine: Engine) -> None:
    assert migrate.current_revision(engine) == migrate.head_revision()
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_the_migrated_schema_matches_the_models(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from secondlook.store.tables import METADATA

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, METADATA)
    assert differences == []


def test_every_table_is_created(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert {
        "organizations",
        "users",
        "credentials",
        "patients",
        "login_failures",
        *APPEND_ONLY,
    } <= tables


@pytest.mark.parametrize("table", APPEND_ONLY)
@pytest.mark.parametrize("statement", ["UPDATE {table} SET id = id", "DELETE FROM {table}"])
def test_append_only_tables_refuse_updates_and_deletes(
    engine: Engine, table: str, statement: str, patient_one_records: int
) -> None:
    with engine.connect() as connection:
        assert connection.execute(text(f"SELECT count(*) FROM {table}")).scalar()
    with pytest.raises(DatabaseError, match="append-only"), engine.begin() as connection:
        connection.execute(text(statement.format(table=table)))


@pytest.mark.postgres
def test_postgresql_also_refuses_truncating_the_audit_trail(postgres_server: TempPostgres) -> None:
    engine = db.make_engine(postgres_server.create_database("truncate_check"))
    try:
        migrate.upgrade(engine)
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as connection:
            connection.execute(text("TRUNCATE audit_events"))
    finally:
        engine.dispose()


def test_a_failed_transaction_lets_the_next_writer_in(engine: Engine, world: object) -> None:
    duplicate = text(
        "INSERT INTO organizations (id, slug, name, created_at) "
        "VALUES (1, 'again', 'x', '2026-01-01')"
    )
    with db.make_sessionmaker(engine)() as session:
        with pytest.raises(DatabaseError):
            session.execute(duplicate)
        session.rollback()
    assert not db.sqlite_writer_waiting(engine)
    with db.make_sessionmaker(engine)() as session:
        session.execute(text("SELECT 1"))
        assert db.sqlite_writer_waiting(engine) == (engine.dialect.name == "sqlite")
        session.commit()
    assert not db.sqlite_writer_waiting(engine)
