"""Tokens expire, and logging out, a new password and a deactivation end them; new passwords
follow one set of rules (NIST SP 800-63B-4) on every path that sets one."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import typer
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from typer.testing import CliRunner

from secondlook.commands.server import register
from secondlook.store import accounts, db
from secondlook.store.models import Credential, utcnow
from secondlook.store.passwords import MIN_LENGTH, password_problems

if TYPE_CHECKING:
    from conftest import World

GOOD = "a long and unusual phrase"


def new_user_with_token(client: TestClient, world: World) -> tuple[dict[str, Any], str, str]:
    """A clinician created by the admin: (the user, its ETag, a bearer token of its own)."""
    created = client.post(
        "/api/v1/users",
        json={"username": f"cred-{uuid.uuid4().hex[:8]}", "role": "clinician", "password": GOOD},
        headers=world.auth("admin"),
    )
    assert created.status_code == 201, created.text
    login = client.post(
        "/api/v1/session", json={"username": created.json()["username"], "password": GOOD}
    )
    assert login.status_code == 200
    token = client.post("/api/v1/tokens", json={"name": "script"}).json()["token"]
    client.cookies.clear()
    return created.json(), created.headers["ETag"], token


def patch_user(client: TestClient, world: World, user_id: int, etag: str, **body: Any) -> str:
    response = client.patch(
        f"/api/v1/users/{user_id}", json=body, headers={**world.auth("admin"), "If-Match": etag}
    )
    assert response.status_code == 200, response.text
    return str(response.headers["ETag"])


def works(client: TestClient, token: str) -> bool:
    response = client.get("/api/v1/session", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (200, 401)
    return bool(response.status_code == 200)


def test_a_token_gets_an_expiry_by_default(client: TestClient, world: World) -> None:
    created = client.post("/api/v1/tokens", json={"name": "x"}, headers=world.auth("coordinator"))
    expires = dt.datetime.fromisoformat(created.json()["expires_at"])
    expected = utcnow() + dt.timedelta(days=accounts.DEFAULT_TOKEN_LIFETIME_DAYS)
    assert abs(expires - expected) < dt.timedelta(minutes=5)


def test_the_default_token_lifetime_is_configurable(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(accounts.TOKEN_LIFETIME_VARIABLE, "7")
    created = client.post("/api/v1/tokens", json={"name": "x"}, headers=world.auth("coordinator"))
    expires = dt.datetime.fromisoformat(created.json()["expires_at"])
    assert abs(expires - (utcnow() + dt.timedelta(days=7))) < dt.timedelta(minutes=5)


def test_a_token_stored_without_expiry_expires_a_lifetime_after_its_creation(
    client: TestClient, world: World, engine: Engine
) -> None:
    _, _, token = new_user_with_token(client, world)
    assert works(client, token)
    old = utcnow() - dt.timedelta(days=accounts.DEFAULT_TOKEN_LIFETIME_DAYS + 1)
    with db.make_sessionmaker(engine)() as session:
        session.execute(
            update(Credential)
            .where(Credential.prefix == token[:10])
            .values(expires_at=None, created_at=old)
        )
        session.commit()
    assert not works(client, token)


def test_logging_out_ends_the_session_but_not_the_users_tokens(
    client: TestClient, world: World
) -> None:
    user, _, token = new_user_with_token(client, world)
    client.post("/api/v1/session", json={"username": user["username"], "password": GOOD})
    session_id = client.cookies["secondlook_session"]
    assert client.delete("/api/v1/session").status_code == 204
    client.cookies.set("secondlook_session", session_id)
    assert client.get("/api/v1/session").status_code == 401
    client.cookies.clear()
    assert works(client, token)  # a token is revoked on its own (DELETE /api/v1/tokens/{id})


def test_a_new_password_revokes_the_users_tokens_and_sessions(
    client: TestClient, world: World
) -> None:
    user, etag, token = new_user_with_token(client, world)
    client.post("/api/v1/session", json={"username": user["username"], "password": GOOD})
    session_id = client.cookies["secondlook_session"]
    patch_user(client, world, user["id"], etag, password="another unusual phrase")
    assert not works(client, token)
    client.cookies.clear()
    client.cookies.set("secondlook_session", session_id)
    assert client.get("/api/v1/session").status_code == 401


def test_a_token_does_not_come_back_when_its_user_is_reactivated(
    client: TestClient, world: World
) -> None:
    user, etag, token = new_user_with_token(client, world)
    etag = patch_user(client, world, user["id"], etag, active=False)
    patch_user(client, world, user["id"], etag, active=True)
    assert not works(client, token)


@pytest.mark.parametrize(
    ("password", "says"),
    [
        ("short", f"at least {MIN_LENGTH}"),
        ("aaaaaaaaaaaaaaaaaaaa", "repeated"),
        (" " * 20, "only spaces"),
        ("passwordpassword", "too common"),
        ("P@ssw0rd12345678", "too common"),
        ("123456789012345678", "too common"),
    ],
)
def test_weak_passwords_are_refused(password: str, says: str) -> None:
    problems = password_problems(password, username="someone")
    assert problems
    assert says in problems[0]


def test_a_password_built_on_the_username_is_refused() -> None:
    assert password_problems("margaret-hopkins-1", username="margaret-hopkins")
    assert not password_problems("margaret-hopkins-1", username="someone-else")


def test_a_long_unusual_phrase_is_accepted() -> None:
    assert password_problems(GOOD, username="someone") == []
    assert password_problems("x" + GOOD * 10, username="someone") == []


@pytest.mark.parametrize("password", ["aaaaaaaaaaaaaaaa", " " * 16, "passwordpassword"])
def test_the_api_refuses_a_weak_password_naming_the_field(
    client: TestClient, world: World, password: str
) -> None:
    name = f"weak-{uuid.uuid4().hex[:8]}"
    response = client.post(
        "/api/v1/users",
        json={"username": name, "role": "clinician", "password": password},
        headers=world.auth("admin"),
    )
    assert response.status_code == 422, response.text
    assert [e["path"] for e in response.json()["errors"]] == ["$.password"]
    user, etag, _ = new_user_with_token(client, world)
    response = client.patch(
        f"/api/v1/users/{user['id']}",
        json={"password": password},
        headers={**world.auth("admin"), "If-Match": etag},
    )
    assert response.status_code == 422, response.text
    assert [e["path"] for e in response.json()["errors"]] == ["$.password"]


def test_the_command_line_refuses_a_weak_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(db.DATABASE_URL_ENV, raising=False)
    cli = typer.Typer()
    register(cli)
    args = ["users", "create", "--role", "admin", "--org", "o", "--password-stdin"]
    data = ["--data-dir", str(tmp_path / "d")]
    weak = CliRunner().invoke(cli, [*args, "--username", "boss", *data], input="a\n")
    assert weak.exit_code == 1
    assert f"at least {MIN_LENGTH}" in weak.output
    good = CliRunner().invoke(cli, [*args, "--username", "boss", *data], input=GOOD + "\n")
    assert good.exit_code == 0, good.output


def test_the_store_refuses_a_weak_password(engine: Engine, world: World) -> None:
    with db.make_sessionmaker(engine)() as session, pytest.raises(accounts.WeakPassword):
        accounts.create_user(
            session,
            organization_id=world.alpha,
            username=f"store-{uuid.uuid4().hex[:8]}",
            role="clinician",
            password="aaaaaaaaaaaaaaaaaaaa",
        )


def test_a_command_line_token_expires_by_default_or_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(db.DATABASE_URL_ENV, raising=False)
    cli = typer.Typer()
    register(cli)
    data = ["--data-dir", str(tmp_path / "d")]
    args = ["users", "create", "--role", "admin", "--org", "o", "--username", "ops", *data]
    assert CliRunner().invoke(cli, args).exit_code == 0
    for extra, days in (
        ([], accounts.DEFAULT_TOKEN_LIFETIME_DAYS),
        (["--expires-in-days", "3"], 3),
    ):
        made = CliRunner().invoke(cli, ["tokens", "create", "--username", "ops", *data, *extra])
        assert made.exit_code == 0, made.output
        engine = db.make_engine(db.database_url(data_dir_path=tmp_path / "d"))
        with db.make_sessionmaker(engine)() as session:
            stored = session.scalars(
                select(Credential).where(Credential.prefix == made.output.strip()[:10])
            ).one()
        engine.dispose()
        assert stored.expires_at is not None
        lifetime = stored.expires_at - stored.created_at
        assert abs(lifetime - dt.timedelta(days=days)) < dt.timedelta(minutes=1)
