"""Logins, sessions, tokens and the failed-login limit."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text

from secondlook.store import accounts, db
from secondlook.store.models import Credential, User

if TYPE_CHECKING:
    from conftest import World


def username(client: TestClient, world: World, who: str) -> str:
    return str(client.get("/api/v1/session", headers=world.auth(who)).json()["username"])


@pytest.fixture
def login(client: TestClient, world: World) -> dict[str, str]:
    return {
        "username": username(client, world, "clinician"),
        "password": world.passwords["clinician"],
    }


def new_user(engine: Engine, world: World, password: str) -> str:
    name = f"user-{uuid.uuid4().hex[:8]}"
    with db.make_sessionmaker(engine)() as session:
        accounts.create_user(
            session,
            organization_id=world.alpha,
            username=name,
            role="coordinator",
            password=password,
        )
        session.commit()
    return name


def test_logging_in_sets_an_httponly_samesite_lax_session_cookie(
    client: TestClient, login: dict[str, str]
) -> None:
    response = client.post("/api/v1/session", json=login)
    assert response.status_code == 200
    assert response.json()["role"] == "clinician"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http on loopback
    me = client.get("/api/v1/session")
    assert me.json()["via"] == "session"


def test_the_session_cookie_is_secure_over_https(app: FastAPI, login: dict[str, str]) -> None:
    with TestClient(app, base_url="https://testserver") as client:
        response = client.post("/api/v1/session", json=login)
    assert "Secure" in response.headers["set-cookie"]


def test_an_html_form_can_log_in(client: TestClient, login: dict[str, str]) -> None:
    assert client.post("/api/v1/session", data=login).status_code == 200


def test_logging_out_ends_the_session(client: TestClient, login: dict[str, str]) -> None:
    client.post("/api/v1/session", json=login)
    session_id = client.cookies["secondlook_session"]
    assert client.delete("/api/v1/session").status_code == 204
    client.cookies.set("secondlook_session", session_id)
    assert client.get("/api/v1/session").status_code == 401


def test_a_wrong_password_is_401(client: TestClient, login: dict[str, str]) -> None:
    response = client.post("/api/v1/session", json={**login, "password": "wrong"})
    assert response.status_code == 401
    assert "set-cookie" not in response.headers


def test_five_failures_lock_the_username_out_with_retry_after(
    client: TestClient, engine: Engine, world: World
) -> None:
    name = new_user(engine, world, "the right password")
    for _ in range(accounts.MAX_FAILURES_PER_USERNAME):
        assert (
            client.post("/api/v1/session", json={"username": name, "password": "x"}).status_code
            == 401
        )
    # Even the right password is refused now.
    response = client.post(
        "/api/v1/session", json={"username": name, "password": "the right password"}
    )
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/problem+json"
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= 15 * 60 + 1


def test_many_failures_from_one_address_lock_that_address_out(
    app: FastAPI, engine: Engine, world: World
) -> None:
    name = new_user(engine, world, "the right password")
    with TestClient(app, client=("203.0.113.9", 5000)) as client:
        for n in range(accounts.MAX_FAILURES_PER_CLIENT):
            client.post("/api/v1/session", json={"username": f"nobody-{n}", "password": "x"})
        response = client.post(
            "/api/v1/session", json={"username": name, "password": "the right password"}
        )
    assert response.status_code == 429
    with TestClient(app, client=("203.0.113.10", 5000)) as other:
        allowed = other.post(
            "/api/v1/session", json={"username": name, "password": "the right password"}
        )
    assert allowed.status_code == 200


def test_the_limit_is_kept_in_the_database_so_every_worker_sees_it(
    app: FastAPI, engine: Engine, world: World
) -> None:
    name = new_user(engine, world, "the right password")
    from secondlook.api.app import create_app

    second_worker = create_app(engine)
    for n in range(accounts.MAX_FAILURES_PER_USERNAME):
        worker = app if n % 2 else second_worker
        with TestClient(worker) as client:
            client.post("/api/v1/session", json={"username": name, "password": "x"})
    with TestClient(second_worker) as client:
        response = client.post(
            "/api/v1/session", json={"username": name, "password": "the right password"}
        )
    assert response.status_code == 429


def test_passwords_are_stored_as_argon2id_hashes(engine: Engine, world: World) -> None:
    name = new_user(engine, world, "a password to hash")
    with db.make_sessionmaker(engine)() as session:
        stored = session.scalar(select(User.password_hash).where(User.username == name))
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert "a password to hash" not in stored


def test_a_token_is_shown_once_and_only_its_hash_is_stored(
    client: TestClient, engine: Engine, world: World
) -> None:
    created = client.post(
        "/api/v1/tokens", json={"name": "laptop"}, headers=world.auth("coordinator")
    )
    assert created.status_code == 201
    token = created.json()["token"]
    listed = client.get("/api/v1/tokens", headers=world.auth("coordinator")).json()["items"]
    mine = next(t for t in listed if t["id"] == created.json()["id"])
    assert "token" not in mine
    assert token.startswith(mine["prefix"])
    with db.make_sessionmaker(engine)() as session:
        hashes = session.scalars(select(Credential.secret_hash)).all()
        dump = " ".join(str(row) for row in session.execute(text("SELECT * FROM credentials")))
    assert token not in dump
    assert len(hashes) == len(set(hashes))
    me = client.get("/api/v1/session", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["via"] == "token"


def test_a_revoked_token_no_longer_works(client: TestClient, world: World) -> None:
    created = client.post(
        "/api/v1/tokens", json={"name": "old"}, headers=world.auth("coordinator")
    ).json()
    bearer = {"Authorization": f"Bearer {created['token']}"}
    assert client.delete(f"/api/v1/tokens/{created['id']}", headers=bearer).status_code == 204
    assert client.get("/api/v1/session", headers=bearer).status_code == 401
    listed = client.get("/api/v1/tokens", headers=world.auth("coordinator")).json()["items"]
    assert next(t for t in listed if t["id"] == created["id"])["revoked_at"] is not None


def test_a_deactivated_user_is_locked_out(client: TestClient, world: World, engine: Engine) -> None:
    created = client.post(
        "/api/v1/users",
        json={"username": f"temp-{uuid.uuid4().hex[:8]}", "role": "clinician"},
        headers=world.auth("admin"),
    )
    user = created.json()
    with db.make_sessionmaker(engine)() as session:
        found = session.get(User, user["id"])
        assert found is not None
        _, token = accounts.issue_credential(session, user=found, kind="token")
        session.commit()
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/session", headers=bearer).status_code == 200
    response = client.patch(
        f"/api/v1/users/{user['id']}",
        json={"active": False},
        headers={**world.auth("admin"), "If-Match": created.headers["ETag"]},
    )
    assert response.status_code == 200
    assert client.get("/api/v1/session", headers=bearer).status_code == 401


def test_a_patient_user_must_link_to_a_patient_of_the_organization(
    client: TestClient, world: World
) -> None:
    admin = world.auth("admin")
    name = f"pat-{uuid.uuid4().hex[:8]}"
    assert (
        client.post(
            "/api/v1/users", json={"username": name, "role": "patient"}, headers=admin
        ).status_code
        == 422
    )
    foreign = {"username": name, "role": "patient", "patient_id": world.beta_patient}
    assert client.post("/api/v1/users", json=foreign, headers=admin).status_code == 404
    taken = {"username": name, "role": "patient", "patient_id": world.patient_one}
    assert client.post("/api/v1/users", json=taken, headers=admin).status_code == 409
    own = client.post(
        "/api/v1/patients", json={"name": "Portal"}, headers=world.auth("clinician")
    ).json()
    linked = {"username": name, "role": "patient", "patient_id": own["id"]}
    assert client.post("/api/v1/users", json=linked, headers=admin).status_code == 201
    assert (
        client.post(
            "/api/v1/users", json={**linked, "patient_id": None, "role": "admin"}, headers=admin
        ).status_code
        == 409
    )


def test_logging_out_and_managing_tokens_are_on_the_audit_trail(
    client: TestClient, world: World, login: dict[str, str]
) -> None:
    client.post("/api/v1/session", json=login)
    created = client.post("/api/v1/tokens", json={"name": "laptop"})
    assert created.status_code == 201
    assert client.get("/api/v1/tokens").status_code == 200
    assert client.delete(f"/api/v1/tokens/{created.json()['id']}").status_code == 204
    assert client.delete("/api/v1/tokens/999999").status_code == 404
    assert client.delete("/api/v1/session").status_code == 204
    trail = client.get(
        "/api/v1/audit",
        params={"actor_user_id": world.users["clinician"], "limit": 200},
        headers=world.auth("admin"),
    ).json()["items"]
    acts = [(e["action"], e["outcome"], e["status"]) for e in trail if "." in e["action"]]
    assert acts[-5:] == [
        ("token.create", "success", 201),
        ("token.read", "success", 200),
        ("token.revoke", "success", 204),
        ("token.revoke", "failed", 404),
        ("session.end", "success", 204),
    ]
