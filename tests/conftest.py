"""Database and app fixtures. Store and API tests run on SQLite and on a real, throwaway
PostgreSQL server that this test run starts (never a mock)."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from secondlook.api.app import create_app
from secondlook.store import db, migrate, records
from secondlook.store.pgtemp import PostgresUnavailable, TempPostgres, find_bindir

# Shared test helpers (`import factories`) live beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import factories

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[TempPostgres]:
    """One PostgreSQL server for the whole run, stopped and removed at the end."""
    try:
        bindir = find_bindir()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    server = TempPostgres(bindir).start()
    try:
        yield server
    finally:
        server.cleanup()


def new_database_url(
    request: pytest.FixtureRequest, backend: str, tmp: pytest.TempPathFactory
) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp.mktemp('sqlite')}/secondlook.db"
    server: TempPostgres = request.getfixturevalue("postgres_server")
    return server.create_database(f"secondlook_{uuid.uuid4().hex[:12]}")


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(
    request: pytest.FixtureRequest, backend: str, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A fresh, empty database of the backend under test (one per run and backend)."""
    return new_database_url(request, backend, tmp_path_factory)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = db.make_engine(database_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def app(engine: Engine) -> FastAPI:
    return create_app(engine)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@dataclass
class World:
    """Two organizations with a user of every role, patients and their API tokens, and a third
    organization whose clinician and admin the property-based run may do anything with."""

    alpha: int
    beta: int
    gamma: int
    patient_one: int  # alpha; linked to the `patient` user
    patient_two: int  # alpha; linked to the `other_patient` user
    beta_patient: int
    users: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture(scope="session")
def world(engine: Engine) -> World:
    suffix = uuid.uuid4().hex[:6]
    with db.make_sessionmaker(engine)() as session:
        alpha = records.create_organization(session, slug=f"alpha-{suffix}", name="Alpha Spine")
        beta = records.create_organization(session, slug=f"beta-{suffix}", name="Beta Spine")
        gamma = records.create_organization(session, slug=f"gamma-{suffix}", name="Fuzzed Spine")
        one = records.create_patient(session, organization_id=alpha.id, name="Ada One")
        two = records.create_patient(session, organization_id=alpha.id, name="Bo Two")
        three = records.create_patient(session, organization_id=beta.id, name="Cy Three")
        world = World(
            alpha=alpha.id,
            beta=beta.id,
            gamma=gamma.id,
            patient_one=one.id,
            patient_two=two.id,
            beta_patient=three.id,
        )
        people = {
            "clinician": (alpha.id, "clinician", None),
            "coordinator": (alpha.id, "coordinator", None),
            "admin": (alpha.id, "admin", None),
            "patient": (alpha.id, "patient", one.id),
            "other_patient": (alpha.id, "patient", two.id),
            "beta_clinician": (beta.id, "clinician", None),
            "beta_admin": (beta.id, "admin", None),
            "fuzz_clinician": (gamma.id, "clinician", None),
            "fuzz_admin": (gamma.id, "admin", None),
        }
        for who, (org, role, patient_id) in people.items():
            password = f"{who}-password-{suffix}"
            person = factories.user(
                session,
                organization_id=org,
                username=f"{who}-{suffix}",
                role=role,
                password=password if who in ("clinician", "patient") else None,
                patient_id=patient_id,
            )
            world.users[who] = person.user_id
            world.tokens[who] = person.token
            world.passwords[who] = password
        session.commit()
    return world


@pytest.fixture(scope="session")
def case_document() -> dict[str, object]:
    """A valid case document (a bundled example case)."""
    from secondlook.examples import load_examples

    examples = load_examples()
    return dict(examples[sorted(examples)[0]])


def put_first_case(
    client: TestClient, world: World, patient_id: int, document: dict[str, object]
) -> str:
    """Give a patient its first case version (as the clinician); returns the ETag."""
    response = client.put(
        f"/api/v1/patients/{patient_id}/case",
        json=document,
        headers={**world.auth("clinician"), "If-None-Match": "*"},
    )
    assert response.status_code == 201, response.text
    return str(response.headers["ETag"])


@pytest.fixture(scope="session")
def patient_one_records(app: FastAPI, world: World, case_document: dict[str, object]) -> int:
    """Patient one with a case version, an assessment and a questionnaire response; returns the
    assessment id."""
    with TestClient(app) as client:
        put_first_case(client, world, world.patient_one, case_document)
        assessment = client.post(
            f"/api/v1/patients/{world.patient_one}/assessments", headers=world.auth("clinician")
        )
        assert assessment.status_code == 201, assessment.text
        answered = client.post(
            f"/api/v1/patients/{world.patient_one}/questionnaires",
            json={"instrument": "nrs-pain", "answers": [6]},
            headers=world.auth("clinician"),
        )
        assert answered.status_code == 201, answered.text
        return int(assessment.json()["id"])
