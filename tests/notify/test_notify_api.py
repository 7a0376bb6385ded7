"""The reminder choice through the REST API: the same service as the portal's page, with
ETag and If-Match, patients only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi.testclient import TestClient

if TYPE_CHECKING:
    from conftest import World


def test_a_patient_reads_and_sets_reminders_with_if_match(client: TestClient, world: World) -> None:
    first = client.get("/api/v1/reminders", headers=world.auth("other_patient"))
    assert first.status_code == 200, first.text
    assert first.json() == {"enabled": False, "email": None, "version": 1}
    tag = first.headers["ETag"]
    body = {"enabled": True, "email": "bo@example.net"}
    assert (
        client.put("/api/v1/reminders", json=body, headers=world.auth("other_patient")).status_code
        == 428
    )
    changed = client.put(
        "/api/v1/reminders", json=body, headers={**world.auth("other_patient"), "If-Match": tag}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json() == {"enabled": True, "email": "bo@example.net", "version": 2}
    stale = client.put(
        "/api/v1/reminders",
        json={"enabled": False},
        headers={**world.auth("other_patient"), "If-Match": tag},
    )
    assert stale.status_code == 412
    bad = client.put(
        "/api/v1/reminders",
        json={"enabled": True, "email": "nope"},
        headers={**world.auth("other_patient"), "If-Match": changed.headers["ETag"]},
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["path"] == "email"


def test_staff_have_no_reminder_choice(client: TestClient, world: World) -> None:
    assert client.get("/api/v1/reminders", headers=world.auth("clinician")).status_code == 403
