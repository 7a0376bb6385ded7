"""Server-side tests of the web pages: the real app on a fresh SQLite database with demo data."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from secondlook.api.app import create_app
from secondlook.api.demo import DEMO_PASSWORD, load_demo
from secondlook.store import db, migrate

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def web_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = db.make_engine(f"sqlite:///{tmp_path_factory.mktemp('web')}/web.db")
    migrate.upgrade(engine)
    with db.make_sessionmaker(engine)() as session:
        load_demo(session)
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


def _csrf_of(client: TestClient, path: str = "/login") -> str:
    page = client.get(path)
    found = CSRF.search(page.text)
    assert found, f"no CSRF field on {path}"
    return found.group(1)


def _sign_in(client: TestClient, username: str, password: str = DEMO_PASSWORD) -> str:
    """Sign in through the form; returns the CSRF token for later forms."""
    token = _csrf_of(client)
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
    assert response.status_code == 303, response.text
    return token


@pytest.fixture
def csrf_of() -> Callable[..., str]:
    return _csrf_of


@pytest.fixture
def sign_in() -> Callable[..., str]:
    return _sign_in


@pytest.fixture
def clinician(browser: TestClient) -> tuple[TestClient, str]:
    return browser, _sign_in(browser, "demo-clinician")


@pytest.fixture
def patient(browser: TestClient) -> tuple[TestClient, str]:
    return browser, _sign_in(browser, "demo-patient")
