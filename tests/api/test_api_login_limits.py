"""The failed-login limits hold under parallel attempts, keep the slow password check outside
any transaction, and cannot be used to lock someone out from elsewhere."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from secondlook.store import accounts, db
from secondlook.store.models import LoginFailure

if TYPE_CHECKING:
    from conftest import World

RIGHT = "a right password for limits"


def new_user(engine: Engine, world: World, password: str = RIGHT) -> tuple[str, int]:
    name = f"limit-{uuid.uuid4().hex[:8]}"
    with db.make_sessionmaker(engine)() as session:
        user = accounts.create_user(
            session, organization_id=world.alpha, username=name, role="clinician", password=password
        )
        session.commit()
        return name, user.id


@pytest.fixture(scope="module")
def wide_engine(database_url: str, engine: Engine) -> Iterator[Engine]:
    """A second engine on the same database with room for one connection per thread."""
    wide = db.make_engine(database_url, pool_size=45, max_overflow=5)
    yield wide
    wide.dispose()


def attempt_in_parallel(engine: Engine, attempts: list[tuple[str, str]]) -> list[str]:
    """Wrong-password logins (username, client address) at the same moment, each in its own
    thread and session; returns each outcome: "checked" (the password was verified and was
    wrong) or "limited" (refused by the limit before any check)."""
    maker = db.make_sessionmaker(engine)
    barrier = threading.Barrier(len(attempts))
    outcomes: list[str] = [""] * len(attempts)

    def run(index: int) -> None:
        username, client = attempts[index]
        with maker() as session:
            barrier.wait()
            try:
                accounts.authenticate(
                    session, username=username, password="wrong guess", client=client
                )
                outcomes[index] = "accepted"
            except accounts.InvalidCredentials:
                outcomes[index] = "checked"
            except accounts.RateLimited:
                outcomes[index] = "limited"
            session.commit()  # as the sign-in does, whatever the outcome

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(attempts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(outcomes), outcomes
    return outcomes


def test_parallel_failures_for_one_username_from_one_address_stop_at_the_limit(
    wide_engine: Engine, engine: Engine, world: World
) -> None:
    name, _ = new_user(engine, world)
    outcomes = attempt_in_parallel(wide_engine, [(name, "198.51.100.1")] * 12)
    assert outcomes.count("checked") == accounts.MAX_FAILURES_PER_USERNAME
    assert outcomes.count("limited") == 12 - accounts.MAX_FAILURES_PER_USERNAME


def test_parallel_failures_for_one_username_from_many_addresses_stop_at_the_global_limit(
    wide_engine: Engine, engine: Engine, world: World
) -> None:
    name, _ = new_user(engine, world)
    attempts = [(name, f"198.51.100.{n}") for n in range(40)]
    outcomes = attempt_in_parallel(wide_engine, attempts)
    assert outcomes.count("checked") == accounts.MAX_FAILURES_PER_USERNAME_GLOBAL
    assert outcomes.count("limited") == 40 - accounts.MAX_FAILURES_PER_USERNAME_GLOBAL


def test_parallel_failures_for_many_usernames_from_one_address_stop_at_the_address_limit(
    wide_engine: Engine,
) -> None:
    suffix = uuid.uuid4().hex[:6]
    attempts = [(f"nobody-{suffix}-{n}", "198.51.100.250") for n in range(30)]
    outcomes = attempt_in_parallel(wide_engine, attempts)
    assert outcomes.count("checked") == accounts.MAX_FAILURES_PER_CLIENT
    assert outcomes.count("limited") == 30 - accounts.MAX_FAILURES_PER_CLIENT


class WatchedHasher:
    """Argon2 as it is, recording whether a transaction was open at each verification."""

    def __init__(self, real: Any, engine: Engine, in_transaction: Callable[[], bool]) -> None:
        self.real, self.engine, self.in_transaction = real, engine, in_transaction
        self.seen: list[tuple[bool, bool]] = []

    def verify(self, stored: str, password: str) -> bool:
        self.seen.append((db.sqlite_writer_waiting(self.engine), self.in_transaction()))
        return bool(self.real.verify(stored, password))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@pytest.mark.parametrize("password", ["wrong guess", RIGHT])
def test_the_password_is_verified_outside_any_transaction(
    engine: Engine, world: World, monkeypatch: pytest.MonkeyPatch, password: str
) -> None:
    name, _ = new_user(engine, world)
    with db.make_sessionmaker(engine)() as session:
        watched = WatchedHasher(accounts._hasher, engine, session.in_transaction)
        monkeypatch.setattr(accounts, "_hasher", watched)
        try:
            accounts.authenticate(session, username=name, password=password, client="192.0.2.7")
        except accounts.InvalidCredentials:
            assert password != RIGHT
        session.commit()
    # (the SQLite writer lock held, a transaction open) at the moment of verification
    assert watched.seen == [(False, False)]


def test_failures_from_another_address_do_not_lock_the_user_out(
    app: FastAPI, engine: Engine, world: World
) -> None:
    name, _ = new_user(engine, world)
    with TestClient(app, client=("203.0.113.50", 5000)) as attacker:
        for _ in range(accounts.MAX_FAILURES_PER_USERNAME + 2):
            attacker.post("/api/v1/session", json={"username": name, "password": "x"})
        refused = attacker.post("/api/v1/session", json={"username": name, "password": RIGHT})
    assert refused.status_code == 429
    with TestClient(app, client=("203.0.113.51", 5000)) as owner:
        response = owner.post("/api/v1/session", json={"username": name, "password": RIGHT})
    assert response.status_code == 200, response.text


def test_a_success_does_not_reset_the_usernames_global_count(engine: Engine, world: World) -> None:
    name, _ = new_user(engine, world)
    maker = db.make_sessionmaker(engine)
    with maker() as session:
        for n in range(3):
            with pytest.raises(accounts.InvalidCredentials):
                accounts.authenticate(session, username=name, password="x", client=f"192.0.2.{n}")
        accounts.authenticate(session, username=name, password=RIGHT, client="192.0.2.99")
        session.commit()
        left = session.scalar(
            select(func.count()).select_from(LoginFailure).where(LoginFailure.username == name)
        )
    assert left == 3


def test_an_admin_unlocks_a_locked_out_user(
    client: TestClient, engine: Engine, world: World
) -> None:
    name, user_id = new_user(engine, world)
    for _ in range(accounts.MAX_FAILURES_PER_USERNAME):
        client.post("/api/v1/session", json={"username": name, "password": "x"})
    login = {"username": name, "password": RIGHT}
    assert client.post("/api/v1/session", json=login).status_code == 429
    url = f"/api/v1/users/{user_id}/login-failures"
    assert client.delete(url, headers=world.auth("clinician")).status_code == 403
    assert client.delete(url, headers=world.auth("beta_admin")).status_code == 404
    assert client.delete(url, headers=world.auth("admin")).status_code == 204
    assert client.post("/api/v1/session", json=login).status_code == 200
    audit = client.get(
        "/api/v1/audit", params={"action": "user.write", "limit": 200}, headers=world.auth("admin")
    ).json()["items"]
    assert any(e["resource"].endswith("/login-failures") for e in audit)


def test_a_password_changed_during_the_check_makes_the_old_one_fail(
    engine: Engine, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, user_id = new_user(engine, world)
    maker = db.make_sessionmaker(engine)
    real = accounts._hasher

    class ChangingHasher(WatchedHasher):
        def verify(self, stored: str, password: str) -> bool:
            with maker() as other:  # an admin sets a new password meanwhile
                accounts.update_user(
                    other,
                    organization_id=world.alpha,
                    user_id=user_id,
                    expected_version=1,
                    password="an entirely new passphrase",
                )
                other.commit()
            return super().verify(stored, password)

    with maker() as session:
        monkeypatch.setattr(accounts, "_hasher", ChangingHasher(real, engine, lambda: False))
        with pytest.raises(accounts.InvalidCredentials):
            accounts.authenticate(session, username=name, password=RIGHT, client="192.0.2.8")
        session.commit()
        failures = session.scalar(
            select(func.count()).select_from(LoginFailure).where(LoginFailure.username == name)
        )
    assert failures == 1
