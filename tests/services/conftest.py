"""The services on a real SQLite database of their own (one per test module), with a session
per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from secondlook.store import db, migrate


@pytest.fixture(scope="module")
def service_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = db.make_engine(f"sqlite:///{tmp_path_factory.mktemp('services')}/secondlook.db")
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(service_engine: Engine) -> Iterator[Session]:
    with db.make_sessionmaker(service_engine)() as session:
        yield session
