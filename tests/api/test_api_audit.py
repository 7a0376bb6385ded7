"""Every read and write of patient data leaves an audit event, denied attempts included; the
trail is for the organization's admins, paginated, filterable and cannot be changed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import DatabaseError

if TYPE_CHECKING:
    from conftest import World


def events(
    client: TestClient, world: World, who: str = "admin", **filters: Any
) -> list[dict[str, Any]]:
    response = client.get(
        "/api/v1/audit", params={"limit": 200, **filters}, headers=world.auth(who)
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


@pytest.fixture
def patient_id(client: TestClient, world: World) -> int:
    return int(
        client.post(
            "/api/v1/patients", json={"name": "Audited"}, headers=world.auth("clinician")
        ).json()["id"]
    )


def test_reads_and_writes_of_a_patient_are_recorded_with_who_what_and_outcome(
    client: TestClient, world: World, patient_id: int
) -> None:
    client.get(f"/api/v1/patients/{patient_id}", headers=world.auth("coordinator"))
    client.get(f"/api/v1/patients/{patient_id}/history", headers=world.auth("clinician"))
    trail = events(client, world, patient_id=patient_id)
    assert [(e["action"], e["actor_role"], e["outcome"], e["status"]) for e in trail] == [
        ("patient.create", "clinician", "success", 201),
        ("patient.read", "coordinator", "success", 200),
        ("history.read", "clinician", "success", 200),
    ]
    assert trail[1]["actor_user_id"] == world.users["coordinator"]
    assert trail[1]["resource"] == f"GET /api/v1/patients/{patient_id}"
    assert trail[1]["at"] <= trail[2]["at"]


def test_denied_attempts_are_recorded(client: TestClient, world: World, patient_id: int) -> None:
    assert (
        client.get(
            f"/api/v1/patients/{patient_id}", headers=world.auth("other_patient")
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/api/v1/patients/{patient_id}/assessments", headers=world.auth("coordinator")
        ).status_code
        == 403
    )
    denied = events(client, world, patient_id=patient_id, outcome="denied")
    assert {(e["action"], e["actor_role"], e["status"]) for e in denied} == {
        ("patient.read", "patient", 404),
        ("assessment.create", "coordinator", 403),
    }


def test_another_organizations_attempt_is_in_that_organizations_trail(
    client: TestClient, world: World, patient_id: int
) -> None:
    assert (
        client.get(
            f"/api/v1/patients/{patient_id}", headers=world.auth("beta_clinician")
        ).status_code
        == 404
    )
    theirs = events(client, world, "beta_admin", patient_id=patient_id)
    assert [(e["action"], e["outcome"]) for e in theirs] == [("patient.read", "denied")]
    ours = events(client, world, patient_id=patient_id)
    assert all(e["actor_role"] != "beta_clinician" for e in ours)
    assert world.users["beta_clinician"] not in {e["actor_user_id"] for e in ours}


def test_failed_writes_are_recorded_with_their_status(
    client: TestClient, world: World, patient_id: int
) -> None:
    client.patch(
        f"/api/v1/patients/{patient_id}",
        json={"mrn": "x"},
        headers={**world.auth("clinician"), "If-Match": '"9"'},
    )
    failed = events(client, world, patient_id=patient_id, outcome="failed")
    assert [(e["action"], e["status"]) for e in failed] == [("patient.update", 412)]


def test_audit_events_cannot_be_changed_or_removed_through_the_api(
    client: TestClient, world: World
) -> None:
    first = events(client, world)[0]
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        response = client.request(method, "/api/v1/audit", headers=world.auth("admin"))
        assert response.status_code == 405
        assert client.request(
            method, f"/api/v1/audit/{first['id']}", headers=world.auth("admin")
        ).status_code in (404, 405)
    assert events(client, world)[0] == first


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_events SET outcome = 'success'", "DELETE FROM audit_events"]
)
def test_the_database_refuses_to_change_or_remove_audit_events(
    engine: Engine, statement: str
) -> None:
    with pytest.raises(DatabaseError, match="append-only"), engine.begin() as connection:
        connection.execute(text(statement))


def test_the_trail_is_paginated_with_next_links(client: TestClient, world: World) -> None:
    seen: list[int] = []
    url: str | None = "/api/v1/audit?limit=3"
    pages = 0
    while url and pages < 3:
        page = client.get(url, headers=world.auth("admin")).json()
        seen += [e["id"] for e in page["items"]]
        url = page["next"]
        pages += 1
    assert len(seen) == 9
    assert seen == sorted(set(seen))


def test_reading_the_trail_is_recorded_too(client: TestClient, world: World) -> None:
    events(client, world)
    assert events(client, world, action="audit.read")


def test_a_list_records_the_patients_it_showed_and_the_patient_filter_finds_it(
    client: TestClient, world: World, patient_id: int
) -> None:
    bundle = client.get(
        "/fhir/Patient", params={"_sort": "-_id", "_count": 50}, headers=world.auth("clinician")
    ).json()
    shown = {int(e["resource"]["id"]) for e in bundle["entry"]}
    assert patient_id in shown and world.beta_patient not in shown
    searches = [
        e for e in events(client, world, patient_id=patient_id) if e["action"] == "fhir.search"
    ]
    assert searches, "the patient's trail shows the search that listed them"
    assert set(searches[-1]["disclosed_patient_ids"]) == shown
    assert searches[-1]["patient_id"] is None
    # a refused list showed nobody
    client.get("/fhir/Patient", headers=world.auth("admin"))
    refused = [e for e in events(client, world, action="fhir.search") if e["outcome"] == "denied"]
    assert refused and refused[-1]["disclosed_patient_ids"] == []


def test_disclosures_cannot_be_changed(engine: Engine, client: TestClient, world: World) -> None:
    client.get("/fhir/Patient", headers=world.auth("clinician"))
    with engine.connect() as connection, pytest.raises(DatabaseError):
        connection.execute(text("DELETE FROM audit_disclosures"))
