"""`secondlook db backup`: an online copy of the SQLite database that holds everything the
original holds, never overwrites a file, and points PostgreSQL users to pg_dump."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from secondlook.store import db
from secondlook.store.models import Patient, User


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != db.DATABASE_URL_ENV}
    return subprocess.run(
        [sys.executable, "-m", "secondlook.api", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def counts(data_dir: Path) -> tuple[int | None, int | None]:
    engine = db.make_engine(db.database_url(data_dir_path=data_dir))
    try:
        with db.make_sessionmaker(engine)() as session:
            return (
                session.scalar(select(func.count()).select_from(Patient)),
                session.scalar(select(func.count()).select_from(User)),
            )
    finally:
        engine.dispose()


def test_a_backup_holds_what_the_database_holds_and_restores_by_copying(tmp_path: Path) -> None:
    live = tmp_path / "live"
    assert run("demo-data", "--data-dir", str(live)).returncode == 0
    target = tmp_path / "backup.db"
    done = run("db", "backup", "--data-dir", str(live), "--to", str(target))
    assert done.returncode == 0, done.stderr
    assert not target.with_name("backup.db.partial").exists()
    restored = tmp_path / "restored"
    restored.mkdir()
    (restored / db.SQLITE_FILE).write_bytes(target.read_bytes())
    original = counts(live)
    assert original[0] and original[1]
    assert counts(restored) == original


def test_a_backup_never_overwrites_a_file(tmp_path: Path) -> None:
    live = tmp_path / "live"
    assert run("db", "upgrade", "--data-dir", str(live)).returncode == 0
    target = tmp_path / "kept.db"
    target.write_text("precious")
    done = run("db", "backup", "--data-dir", str(live), "--to", str(target))
    assert done.returncode == 1
    assert "never overwrites" in done.stderr
    assert target.read_text() == "precious"


def test_postgresql_is_pointed_to_pg_dump(tmp_path: Path) -> None:
    env_url = "postgresql://nobody@127.0.0.1:1/none"
    done = subprocess.run(
        [sys.executable, "-m", "secondlook.api", "db", "backup", "--to", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, db.DATABASE_URL_ENV: env_url},
        check=False,
    )
    assert done.returncode == 2
    assert "pg_dump" in done.stderr
