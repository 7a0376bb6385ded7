"""No lost updates: of concurrent writers holding the same ETag exactly one wins, the others get
412, and what is stored is exactly the winner's write (threads against the app)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

if TYPE_CHECKING:
    from conftest import World

WRITERS = 6


def race(app: FastAPI, send: list[Any]) -> list[httpx.Response]:
    """Run the callables at the same moment, each with its own client; return the responses."""
    barrier = threading.Barrier(len(send))
    responses: list[httpx.Response | None] = [None] * len(send)

    def run(index: int) -> None:
        with TestClient(app) as client:
            barrier.wait()
            responses[index] = send[index](client)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(send))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(r is not None for r in responses)
    return [r for r in responses if r is not None]


def test_concurrent_patient_updates_with_one_etag_let_exactly_one_win(
    app: FastAPI, client: TestClient, world: World
) -> None:
    auth = world.auth("clinician")
    created = client.post("/api/v1/patients", json={"name": "Race"}, headers=auth)
    url, etag = created.headers["Location"], created.headers["ETag"]

    def writer(name: str) -> Any:
        return lambda c: c.patch(url, json={"name": name}, headers={**auth, "If-Match": etag})

    names = [f"writer {i}" for i in range(WRITERS)]
    responses = race(app, [writer(n) for n in names])

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [412] * (WRITERS - 1)
    winner = next(r for r in responses if r.status_code == 200)
    stored = client.get(url, headers=auth)
    assert stored.json()["name"] == winner.json()["name"]
    assert stored.headers["ETag"] == '"2"'
    loser = next(r for r in responses if r.status_code == 412)
    assert loser.json()["current_version"] == 2


def test_concurrent_case_versions_with_one_etag_let_exactly_one_win(
    app: FastAPI, client: TestClient, world: World, case_document: dict[str, Any]
) -> None:
    auth = world.auth("clinician")
    patient = client.post("/api/v1/patients", json={"name": "Case race"}, headers=auth).json()
    url = f"/api/v1/patients/{patient['id']}/case"

    def writer(case_id: str) -> Any:
        document = {**case_document, "id": case_id}
        return lambda c: c.put(url, json=document, headers={**auth, "If-None-Match": "*"})

    ids = [f"writer-{i}" for i in range(WRITERS)]
    responses = race(app, [writer(i) for i in ids])

    assert sorted(r.status_code for r in responses) == [201] + [412] * (WRITERS - 1)
    winner = next(r for r in responses if r.status_code == 201).json()
    versions = client.get(f"{url}/versions", headers=auth).json()["items"]
    assert [v["version"] for v in versions] == [1]
    current = client.get(url, headers=auth)
    assert current.json()["document"]["id"] == winner["document"]["id"]

    # A loser that rereads and reapplies its change is stored as the next version.
    loser_id = next(i for i in ids if i != winner["document"]["id"])
    retry = client.put(
        url,
        json={**case_document, "id": loser_id},
        headers={**auth, "If-Match": current.headers["ETag"]},
    )
    assert retry.status_code == 201
    versions = client.get(f"{url}/versions", headers=auth).json()["items"]
    assert [v["version"] for v in versions] == [1, 2]
    first = client.get(f"{url}/versions/1", headers=auth).json()
    assert first["document"]["id"] == winner["document"]["id"]
