"""The alerts API on SQLite and PostgreSQL: the inbox, a patient's alerts, acknowledge and
resolve with If-Match, and a clear 4xx for every bad request."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi.testclient import TestClient

from secondlook.examples import load_example

if TYPE_CHECKING:
    from conftest import World

PHQ9_ITEM9_TWO = [1, 1, 1, 1, 1, 1, 1, 1, 2]


def new_patient(client: TestClient, world: World, name: str) -> int:
    made = client.post("/api/v1/patients", json={"name": name}, headers=world.auth("clinician"))
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def self_harm_answer(client: TestClient, world: World, patient_id: int) -> None:
    answered = client.post(
        f"/api/v1/patients/{patient_id}/questionnaires",
        json={"instrument": "phq-9", "answers": PHQ9_ITEM9_TWO},
        headers=world.auth("clinician"),
    )
    assert answered.status_code == 201, answered.text


def alerts_of(client: TestClient, world: World, patient_id: int, **params: Any) -> list[Any]:
    found = client.get(
        "/api/v1/alerts",
        params={"patient_id": patient_id, **params},
        headers=world.auth("coordinator"),
    )
    assert found.status_code == 200, found.text
    return list(found.json()["items"])


def test_a_self_harm_answer_reaches_the_inbox_and_is_acknowledged_then_resolved(
    client: TestClient, world: World
) -> None:
    patient_id = new_patient(client, world, "Inbox Patient")
    self_harm_answer(client, world, patient_id)
    (alert,) = alerts_of(client, world, patient_id)
    assert (alert["severity"], alert["status"], alert["version"]) == ("safety", "open", 1)
    assert alert["events"][0]["source"] == "questionnaire"
    url = f"/api/v1/alerts/{alert['id']}"

    no_match = client.post(f"{url}/acknowledge", headers=world.auth("clinician"))
    assert no_match.status_code == 428, no_match.text
    acked = client.post(
        f"{url}/acknowledge",
        json={"note": "calling"},
        headers={**world.auth("clinician"), "If-Match": '"1"'},
    )
    assert acked.status_code == 200, acked.text
    assert acked.headers["ETag"] == '"2"'
    assert acked.json()["acknowledged_by"].startswith("clinician-")
    stale = client.post(
        f"{url}/resolve",
        json={"resolution": "called-patient", "note": "ok"},
        headers={**world.auth("clinician"), "If-Match": '"1"'},
    )
    assert stale.status_code == 412, stale.text
    assert stale.json()["current_version"] == 2
    done = client.post(
        f"{url}/resolve",
        json={"resolution": "called-patient", "note": "spoke with her, safe tonight"},
        headers={**world.auth("clinician"), "If-Match": '"2"'},
    )
    assert done.status_code == 200, done.text
    assert [e["kind"] for e in done.json()["events"]] == ["raised", "acknowledged", "resolved"]
    assert alerts_of(client, world, patient_id) == []
    resolved = alerts_of(client, world, patient_id, status="resolved")
    assert [a["id"] for a in resolved] == [alert["id"]]
    mine = client.get(
        f"/api/v1/patients/{patient_id}/alerts", headers=world.auth("clinician")
    ).json()
    assert [a["status"] for a in mine["items"]] == ["resolved"]


def test_an_assessment_red_flag_is_an_emergency_alert_first_in_the_inbox(
    client: TestClient, world: World
) -> None:
    patient_id = new_patient(client, world, "Cauda Patient")
    self_harm_answer(client, world, patient_id)
    put = client.put(
        f"/api/v1/patients/{patient_id}/case",
        json=load_example("cauda-equina"),
        headers={**world.auth("clinician"), "If-None-Match": "*"},
    )
    assert put.status_code == 201, put.text
    assessed = client.post(
        f"/api/v1/patients/{patient_id}/assessments", headers=world.auth("clinician")
    )
    assert assessed.status_code == 201, assessed.text
    found = alerts_of(client, world, patient_id)
    assert found[0]["severity"] == "emergency"
    assert found[-1]["severity"] == "safety"
    assert found[0]["events"][0]["assessment_id"] == assessed.json()["id"]


def test_bad_requests_get_a_clear_4xx(client: TestClient, world: World) -> None:
    patient_id = new_patient(client, world, "Bad Input Patient")
    self_harm_answer(client, world, patient_id)
    (alert,) = alerts_of(client, world, patient_id)
    url = f"/api/v1/alerts/{alert['id']}"
    auth = {**world.auth("clinician"), "If-Match": '"1"'}
    cases = [
        ("post", f"{url}/resolve", {"resolution": "shrugged"}, 422, "resolution"),
        ("post", f"{url}/resolve", {"resolution": "no-action-needed"}, 422, "note"),
        ("post", f"{url}/resolve", {"resolution": "other", "extra": 1}, 422, "extra"),
        ("post", f"{url}/resolve", {"resolution": "other", "note": "a\u0000b"}, 422, "NUL"),
        ("post", f"{url}/acknowledge", {"note": "x" * 5000}, 422, "note"),
        ("post", "/api/v1/alerts/999999/acknowledge", {}, 404, "999999"),
        ("post", "/api/v1/alerts/0/acknowledge", {}, 422, "alert_id"),
        ("get", "/api/v1/alerts?status=closed", None, 422, "status"),
        ("get", "/api/v1/alerts?limit=0", None, 422, "limit"),
    ]
    for method, where, body, status, said in cases:
        answer = client.request(method, where, json=body, headers=auth)
        assert answer.status_code == status, (where, body, answer.text)
        assert said in answer.text, (where, body, answer.text)
    # Nothing of that changed the alert.
    (after,) = alerts_of(client, world, patient_id)
    assert (after["status"], after["version"]) == ("open", 1)


def test_patients_admins_and_other_organizations_are_refused(
    client: TestClient, world: World
) -> None:
    patient_id = new_patient(client, world, "Private Patient")
    self_harm_answer(client, world, patient_id)
    (alert,) = alerts_of(client, world, patient_id)
    for who in ("patient", "admin"):
        assert client.get("/api/v1/alerts", headers=world.auth(who)).status_code == 403
    assert (
        client.get(f"/api/v1/patients/{world.patient_one}/alerts", headers=world.auth("patient"))
    ).status_code == 403
    beta = world.auth("beta_clinician")
    assert client.get(f"/api/v1/alerts/{alert['id']}", headers=beta).status_code == 404
    refused = client.post(
        f"/api/v1/alerts/{alert['id']}/acknowledge", headers={**beta, "If-Match": '"1"'}
    )
    assert refused.status_code == 404
    listed = client.get("/api/v1/alerts", headers=beta).json()["items"]
    assert alert["id"] not in [a["id"] for a in listed]
    assert client.get("/api/v1/alerts").status_code == 401
