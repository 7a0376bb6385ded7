"""The server and database commands, registered onto a throwaway typer app."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import typer
from sqlalchemy import func, select
from typer.testing import CliRunner

from secondlook.commands.demo import DEMO_PASSWORD
from secondlook.commands.server import register
from secondlook.store import db, migrate, records
from secondlook.store.models import Assessment, CaseVersion, Patient, QuestionnaireResponse, User
from secondlook.store.pgtemp import free_port


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@pytest.fixture(autouse=True)
def no_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(db.DATABASE_URL_ENV, raising=False)


def run(cli: typer.Typer, *args: str, stdin: str | None = None) -> str:
    result = CliRunner().invoke(cli, list(args), input=stdin)
    assert result.exit_code == 0, result.output
    return result.output


def test_db_upgrade_creates_the_database(cli: typer.Typer, tmp_path: Path) -> None:
    output = run(cli, "db", "upgrade", "--data-dir", str(tmp_path / "d"))
    assert f"revision {migrate.head_revision()}" in output
    assert (tmp_path / "d" / "secondlook.db").exists()


def test_a_user_created_on_the_command_line_can_log_in_with_a_token(
    cli: typer.Typer, tmp_path: Path
) -> None:
    data = str(tmp_path)
    run(
        cli,
        "users",
        "create",
        "--role",
        "admin",
        "--org",
        "spine",
        "--username",
        "boss",
        "--password-stdin",
        "--data-dir",
        data,
        stdin="a long enough password\n",
    )
    token = run(cli, "tokens", "create", "--username", "boss", "--data-dir", data).strip()
    assert token.startswith("sl_")

    from fastapi.testclient import TestClient

    from secondlook.api.app import create_app

    engine = db.make_engine(db.database_url(data_dir_path=tmp_path))
    with TestClient(create_app(engine)) as client:
        me = client.get("/api/v1/session", headers={"Authorization": f"Bearer {token}"}).json()
        assert (me["username"], me["role"]) == ("boss", "admin")
        login = {"username": "boss", "password": "a long enough password"}
        assert client.post("/api/v1/session", json=login).status_code == 200
    engine.dispose()


def test_a_patient_user_needs_a_patient_record(cli: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "users",
            "create",
            "--role",
            "patient",
            "--org",
            "o",
            "--username",
            "p",
            "--data-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 1
    assert "patient" in result.output


def test_demo_data_builds_patients_from_the_examples_once(cli: typer.Typer, tmp_path: Path) -> None:
    from secondlook.examples import load_examples

    output = run(cli, "demo-data", "--data-dir", str(tmp_path))
    assert "demo-clinician" in output
    assert DEMO_PASSWORD in output
    assert "already present" in run(cli, "demo-data", "--data-dir", str(tmp_path))
    engine = db.make_engine(db.database_url(data_dir_path=tmp_path))
    with db.make_sessionmaker(engine)() as session:
        count = {
            model.__name__: session.scalar(select(func.count()).select_from(model))
            for model in (Patient, CaseVersion, Assessment)
        }
        responses = session.scalar(select(func.count()).select_from(QuestionnaireResponse))
        roles = set(session.scalars(select(User.role)))
    engine.dispose()
    examples = len(load_examples())
    assert count == {"Patient": examples, "CaseVersion": examples, "Assessment": examples}
    assert responses is not None and responses >= examples
    assert roles == {"clinician", "coordinator", "patient", "admin"}


def test_serve_with_demo_starts_on_an_empty_data_directory_and_prints_the_logins(
    tmp_path: Path,
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != db.DATABASE_URL_ENV}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "secondlook.api",
            "serve",
            "--port",
            str(port),
            "--demo",
            "--data-dir",
            str(tmp_path / "fresh"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        lines = []
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if "SecondLook at" in line:
                break
        printed = "".join(lines)
        assert f"http://127.0.0.1:{port}/" in printed
        assert "demo-patient" in printed
        deadline = time.monotonic() + 30
        while True:
            try:
                login = httpx.post(
                    f"http://127.0.0.1:{port}/api/v1/session",
                    json={"username": "demo-clinician", "password": DEMO_PASSWORD},
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert login.status_code == 200
        patients = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/patients", cookies=login.cookies
        ).json()["items"]
        assert patients
    finally:
        process.kill()
        process.wait(timeout=30)


def test_the_uvicorn_factory_migrates_the_database_named_by_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from secondlook.api.app import app_from_environment

    monkeypatch.setenv(db.DATA_DIR_ENV, str(tmp_path / "factory"))
    with TestClient(app_from_environment()) as client:
        assert client.get("/readyz").json() == {"status": "ok"}
    assert (tmp_path / "factory" / "secondlook.db").exists()


def test_a_mistyped_organization_is_refused_not_created(cli: typer.Typer, tmp_path: Path) -> None:
    data = str(tmp_path)
    first = ["users", "create", "--role", "admin", "--username", "a", "--data-dir", data]
    run(cli, *first, "--org", "spine")  # the first organization needs no flag
    typo = ["users", "create", "--role", "clinician", "--username", "b", "--data-dir", data]
    result = CliRunner().invoke(cli, [*typo, "--org", "spnie"])
    assert result.exit_code == 2
    assert "no organization 'spnie'; did you mean 'spine'?" in result.output
    assert "--new-org" in result.output
    engine = db.make_engine(db.database_url(data_dir_path=tmp_path))
    with db.make_sessionmaker(engine)() as session:
        assert records.organization_slugs(session) == ["spine"]
        assert session.scalar(select(User).where(User.username == "b")) is None
    engine.dispose()
    # asked for by name, a second organization is created
    assert "created clinician 'b'" in run(cli, *typo, "--org", "spnie", "--new-org")
