"""`secondlook care worklist` and `secondlook care cohort`: the same queries, permissions and
audit trail as the API, on the embedded SQLite database of a data directory."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest
import typer
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))
from care_api_support import shift_dates

from secondlook.api.app import create_app
from secondlook.commands.care import register
from secondlook.examples import load_example
from secondlook.store import accounts, db, migrate, records
from secondlook.store.models import AuditEvent


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # a group needs a sibling to be addressed by name
    return app


@pytest.fixture(autouse=True)
def no_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(db.DATABASE_URL_ENV, raising=False)


def test_worklist_and_cohort_from_the_command_line(cli: typer.Typer, tmp_path: Path) -> None:
    engine = db.make_engine(db.database_url(data_dir_path=tmp_path))
    migrate.upgrade(engine)
    with db.make_sessionmaker(engine)() as session:
        org = records.create_organization(session, slug="cli-care", name="CLI Care")
        lead = accounts.create_user(
            session, organization_id=org.id, username="lead", role="clinician"
        )
        _, token = accounts.issue_credential(session, user=lead, kind="token")
        admin = accounts.create_user(session, organization_id=org.id, username="boss", role="admin")
        session.commit()
        admin_id = admin.id
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(engine)) as client:
        pid = client.post("/api/v1/patients", json={"name": "Flag"}, headers=auth).json()["id"]
        document = shift_dates(load_example("cauda-equina"), -30)
        put = client.put(
            f"/api/v1/patients/{pid}/case",
            json=document,
            headers={**auth, "If-None-Match": "*"},
        )
        assert put.status_code == 201, put.text
        assert client.post(f"/api/v1/patients/{pid}/assessments", headers=auth).status_code == 201

    runner = CliRunner()
    data = str(tmp_path)
    flagged = runner.invoke(
        cli, ["care", "worklist", "red-flags", "--as", "lead", "--data-dir", data]
    )
    assert flagged.exit_code == 0, flagged.output
    rows = [json.loads(line) for line in flagged.output.splitlines()]
    assert [r["patient_id"] for r in rows] == [pid]
    assert rows[0]["red_flags"][0]["id"] == "cauda-equina"

    cohort = runner.invoke(cli, ["care", "cohort", "--as", "lead", "--csv", "--data-dir", data])
    assert cohort.exit_code == 0, cohort.output
    assert next(csv.reader(io.StringIO(cohort.output)))[0] == "patient_id"

    denied = runner.invoke(cli, ["care", "cohort", "--as", "boss", "--data-dir", data])
    assert denied.exit_code == 2
    with db.make_sessionmaker(engine)() as session:
        events = session.execute(
            select(AuditEvent.actor_username, AuditEvent.action, AuditEvent.outcome).where(
                AuditEvent.client == "cli"
            )
        ).all()
    assert ("lead", "care.worklist.read", "success") in events
    assert ("boss", "care.cohort.read", "denied") in events
    assert admin_id
    engine.dispose()
