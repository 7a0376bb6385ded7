"""Server-side tests of the web pages: the real app, one per test module and database (SQLite
and the test run's PostgreSQL), on an empty migrated database. Each test makes its own
organization, users and patients with `factories`, so no test reads what another one wrote
and the order they run in does not matter."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

import factories
from secondlook.api.app import create_app
from secondlook.store import db, migrate

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def web_engine(
    request: pytest.FixtureRequest, backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A fresh database of the backend under test (tests/conftest.py's `backend`) per module."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('web')}/web.db"
    else:
        server = request.getfixturevalue("postgres_server")
        url = server.create_database(f"secondlook_web_{uuid.uuid4().hex[:12]}")
    engine = db.make_engine(url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def web_app(web_engine: Engine) -> FastAPI:
    return create_app(web_engine)


@pytest.fixture
def browser(web_app: FastAPI) -> Iterator[TestClient]:
    """A client that keeps cookies, like a browser (not signed in)."""
    with TestClient(web_app, follow_redirects=False) as client:
        yield client


@pytest.fixture
def clinic(web_engine: Engine) -> factories.Clinic:
    """A fresh organization with a user of every role and an assessed patient (the
    cauda-equina example) that the `patient` user is linked to."""
    with factories.committed(web_engine) as session:
        return factories.clinic(session)


def _csrf_of(client: TestClient, path: str = "/login") -> str:
    page = client.get(path)
    found = CSRF.search(page.text)
    assert found, f"no CSRF field on {path}"
    return found.group(1)


def _sign_in(client: TestClient, username: str, password: str = factories.PASSWORD) -> str:
    """Sign in through the form; returns the form token of the pages shown after it (bound to
    the new session, so not the sign-in form's)."""
    token = _csrf_of(client)
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
    assert response.status_code == 303, response.text
    after = _csrf_of(client, response.headers["location"])
    assert after != token
    return after


@pytest.fixture
def csrf_of() -> Callable[..., str]:
    return _csrf_of


@pytest.fixture
def sign_in() -> Callable[..., str]:
    return _sign_in


@pytest.fixture
def clinician(browser: TestClient, clinic: factories.Clinic) -> tuple[TestClient, str]:
    return browser, factories.signed_in(browser, clinic.clinician)


@pytest.fixture
def patient(browser: TestClient, clinic: factories.Clinic) -> tuple[TestClient, str]:
    return browser, factories.signed_in(browser, clinic.patient_user)
