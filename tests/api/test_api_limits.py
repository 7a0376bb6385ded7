"""Request bodies are bounded and strict before any route reads them; API responses are not
cached; readiness says 503 while the database is away."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from secondlook.api.app import create_app
from secondlook.api.limits import DEFAULT_MAX_BODY_BYTES, json_problems
from secondlook.store import db

if TYPE_CHECKING:
    from conftest import World


def call(app: FastAPI, path: str, headers: dict[str, str], chunks: int) -> tuple[int, int]:
    """POST `chunks` chunks of 256 KiB to the ASGI app, streamed without Content-Length, as a
    server would pass them on; returns (the status, how many chunks the app asked for)."""
    asked = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        if asked > chunks:
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": b" " * 262144, "more_body": asked < chunks}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    return int(start["status"]), asked


def test_a_streamed_body_over_the_limit_is_refused_before_it_is_all_read(
    app: FastAPI, world: World
) -> None:
    headers = {**world.auth("clinician"), "Content-Type": "application/json"}
    status, asked = call(app, "/api/v1/patients", headers, chunks=64)
    assert status == 413
    # refused once the chunks passed 2 MiB (8 chunks), not after all 16 MiB
    assert asked == DEFAULT_MAX_BODY_BYTES // 262144 + 1


def test_an_anonymous_body_is_not_read_before_the_401(app: FastAPI) -> None:
    status, asked = call(app, "/api/v1/patients", {"Content-Type": "application/json"}, 64)
    assert status == 401
    assert asked == 0


def test_a_413_is_a_problem_document(client: TestClient, world: World) -> None:
    response = client.post(
        "/api/v1/patients",
        content=b"{}" + b" " * DEFAULT_MAX_BODY_BYTES,
        headers={**world.auth("clinician"), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:secondlook:problem:body-too-large"


def test_a_declared_content_length_over_the_limit_is_refused_at_once(
    client: TestClient, world: World
) -> None:
    response = client.post(
        "/api/v1/patients",
        content=b"{}" + b" " * DEFAULT_MAX_BODY_BYTES,
        headers={**world.auth("clinician"), "Content-Type": "application/json"},
    )
    assert response.status_code == 413


def test_the_limit_is_configurable(engine: Engine, world: World) -> None:
    with TestClient(create_app(engine, max_body_bytes=4096)) as small:
        big = small.post(
            "/api/v1/patients",
            json={"name": "x" * 5000},
            headers=world.auth("clinician"),
        )
        ok = small.post("/api/v1/patients", json={"name": "Small"}, headers=world.auth("clinician"))
    assert big.status_code == 413
    assert ok.status_code == 201


def test_the_login_body_is_still_read(client: TestClient) -> None:
    response = client.post("/api/v1/session", json={"username": "nobody-here", "password": "x"})
    assert response.status_code == 401
    assert response.json()["detail"] == "wrong username or password"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (b'{"name": "a", "name": "b"}', "$.name"),
        (b'{"a": {"b": [1, {"c": 1, "c": 2}]}}', "$.a.b[1].c"),
        (b'{"x": NaN}', "$.x"),
        (b'{"x": -Infinity}', "$.x"),
        (b'{"x": [1e400]}', "$.x[0]"),
        (b'{"x": ' + b"9" * 5000 + b"}", "$.x"),
    ],
)
def test_json_that_is_not_strict_is_named_by_path(body: bytes, path: str) -> None:
    assert [p.path for p in json_problems(body)] == [path]


def test_a_duplicate_key_is_refused_on_the_api(client: TestClient, world: World) -> None:
    response = client.post(
        "/api/v1/patients",
        content=b'{"name": "First", "name": "Second"}',
        headers={**world.auth("clinician"), "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "$.name"
    assert "more than once" in response.json()["errors"][0]["message"]


def test_an_infinite_number_is_refused_on_the_api(
    client: TestClient, world: World, case_document: dict[str, Any]
) -> None:
    patient = client.post(
        "/api/v1/patients", json={"name": "Infinite"}, headers=world.auth("clinician")
    ).json()
    document = {k: v for k, v in case_document.items() if k != "medications"}
    text = '{"medications": {"opioid_mme_per_day": 1e400}, ' + json.dumps(document)[1:]
    response = client.put(
        f"/api/v1/patients/{patient['id']}/case",
        content=text.encode(),
        headers={
            **world.auth("clinician"),
            "Content-Type": "application/json",
            "If-None-Match": "*",
        },
    )
    assert response.status_code == 422, response.text
    assert "$.medications.opioid_mme_per_day" in [e["path"] for e in response.json()["errors"]]


def test_api_and_fhir_responses_are_not_cached(client: TestClient, world: World) -> None:
    for url in ("/api/v1/patients", "/fhir/Patient", "/api/v1/session"):
        response = client.get(url, headers=world.auth("clinician"))
        assert response.status_code == 200, url
        assert response.headers["cache-control"] == "no-store", url
    refused = client.get("/api/v1/patients")
    assert refused.headers["cache-control"] == "no-store"


def test_readiness_is_503_while_the_database_is_away(tmp_path: Any) -> None:
    engine = db.make_engine(f"postgresql+psycopg://nobody@127.0.0.1:1/{tmp_path.name}")
    with TestClient(create_app(engine), raise_server_exceptions=False) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "database" in response.json()["detail"]


@pytest.mark.parametrize("name", ["_count", "_offset"])
@pytest.mark.parametrize("value", ["9" * 5000, "\u0663", "\u0661\u0660", "1" * 13])
def test_fhir_paging_takes_only_a_short_number_in_ascii_digits(
    client: TestClient, world: World, name: str, value: str
) -> None:
    response = client.get("/fhir/Patient", params={name: value}, headers=world.auth("clinician"))
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"
    assert name in response.text


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_api_documentation_loads_its_assets_from_this_server(
    client: TestClient, page: str
) -> None:
    html = client.get(page).text
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|png))"', html)
    assert assets
    for asset in assets:
        assert asset.startswith("/"), asset  # no CDN
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert len(response.content) > 1000
