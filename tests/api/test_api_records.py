"""Patients and their clinical records: immutable case versions, stored assessments,
questionnaire responses with their alerts, the history, pagination and organization scoping."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from secondlook.engine import ENGINE_VERSION
from secondlook.knowledge import default_knowledge

if TYPE_CHECKING:
    from conftest import World


@pytest.fixture
def patient(client: TestClient, world: World) -> str:
    response = client.post(
        "/api/v1/patients",
        json={"name": "Records", "mrn": None, "birth_date": "1968-04-02"},
        headers=world.auth("clinician"),
    )
    assert response.status_code == 201
    return str(response.headers["Location"])


def put_case(
    client: TestClient, world: World, patient: str, document: dict[str, Any], etag: str | None
) -> Any:
    precondition = {"If-Match": etag} if etag else {"If-None-Match": "*"}
    return client.put(
        f"{patient}/case", json=document, headers={**world.auth("clinician"), **precondition}
    )


def test_every_case_edit_is_a_new_version_and_old_versions_stay_as_they_were(
    client: TestClient, world: World, patient: str, case_document: dict[str, Any]
) -> None:
    first = put_case(client, world, patient, case_document, None).json()
    edited = {**case_document, "id": "edited"}
    second = put_case(client, world, patient, edited, '"1"').json()
    assert (first["version"], second["version"]) == (1, 2)
    auth = world.auth("clinician")
    assert client.get(f"{patient}/case", headers=auth).json()["document"]["id"] == "edited"
    old = client.get(f"{patient}/case/versions/1", headers=auth).json()
    assert old["document"] == first["document"]
    assert old["document"]["id"] == case_document["id"]
    listed = client.get(f"{patient}/case/versions", headers=auth).json()["items"]
    assert [v["version"] for v in listed] == [1, 2]


def test_the_stored_case_is_the_validated_document(
    client: TestClient, world: World, patient: str, case_document: dict[str, Any]
) -> None:
    stored = put_case(client, world, patient, case_document, None).json()["document"]
    assert stored["schema"] == "secondlook.case/1"
    assert stored["assessed_on"] == case_document["assessed_on"]


def test_an_assessment_is_stored_with_its_versions_and_the_case_version_it_assessed(
    client: TestClient, world: World, patient: str, case_document: dict[str, Any]
) -> None:
    put_case(client, world, patient, case_document, None)
    put_case(client, world, patient, {**case_document, "id": "second"}, '"1"')
    auth = world.auth("clinician")
    current = client.post(f"{patient}/assessments", headers=auth)
    older = client.post(f"{patient}/assessments", json={"case_version": 1}, headers=auth)
    assert current.status_code == older.status_code == 201
    assert current.json()["case_version"] == 2
    assert older.json()["case_version"] == 1
    body = current.json()
    assert body["knowledge_version"] == default_knowledge().version
    assert body["engine_version"] == ENGINE_VERSION
    assert body["document"]["knowledge_version"] == body["knowledge_version"]
    assert body["document"]["case_id"] == "second"
    again = client.get(current.headers["Location"], headers=auth).json()
    assert again["document"] == body["document"]
    listed = client.get(f"{patient}/assessments", headers=auth).json()["items"]
    assert [a["case_version"] for a in listed] == [2, 1]
    assert "document" not in listed[0]


def test_an_assessment_needs_a_case(client: TestClient, world: World, patient: str) -> None:
    response = client.post(f"{patient}/assessments", headers=world.auth("clinician"))
    assert response.status_code == 409
    assert response.json()["type"] == "urn:secondlook:problem:no-case"


def test_an_assessment_reports_red_flags_from_the_case(
    client: TestClient, world: World, patient: str
) -> None:
    from secondlook.examples import load_examples

    put_case(client, world, patient, load_examples()["cauda-equina"], None)
    assessment = client.post(f"{patient}/assessments", headers=world.auth("clinician")).json()
    assert "cauda-equina" in assessment["red_flags"]
    assert assessment["red_flags"] == [f["id"] for f in assessment["document"]["red_flags"]]


def test_a_self_harm_answer_is_returned_and_stored_never_dropped(
    client: TestClient, world: World, patient: str
) -> None:
    answers = [1, 1, 0, 0, 1, 0, 0, 0, 2]
    response = client.post(
        f"{patient}/questionnaires",
        json={"instrument": "phq-9", "answers": answers, "answered_on": "2026-11-01"},
        headers=world.auth("clinician"),
    )
    assert response.status_code == 201
    body = response.json()
    assert "self-harm-risk" in body["alerts"]
    assert (body["score"], body["max_score"], body["band"]) == (5, 27, "mild")
    stored = client.get(f"{patient}/questionnaires", headers=world.auth("clinician")).json()[
        "items"
    ]
    assert stored[0]["alerts"] == body["alerts"]
    assert stored[0]["answers"] == answers
    history = client.get(f"{patient}/history", headers=world.auth("clinician")).json()["items"]
    assert history[-1]["alerts"] == body["alerts"]


def test_a_patient_answers_their_own_questionnaire(client: TestClient, world: World) -> None:
    response = client.post(
        f"/api/v1/patients/{world.patient_one}/questionnaires",
        json={"instrument": "nrs-pain", "answers": [7]},
        headers=world.auth("patient"),
    )
    assert response.status_code == 201
    assert response.json()["created_by"] == world.users["patient"]
    assert response.json()["band"] == "severe"


@pytest.mark.parametrize(
    "body",
    [
        {"instrument": "phq-9", "answers": [1, 2]},
        {"instrument": "phq-9", "answers": [9, 0, 0, 0, 0, 0, 0, 0, 0]},
        {"instrument": "no-such-instrument", "answers": [1]},
    ],
)
def test_invalid_answers_are_a_422_problem(
    client: TestClient, world: World, patient: str, body: dict[str, Any]
) -> None:
    response = client.post(f"{patient}/questionnaires", json=body, headers=world.auth("clinician"))
    assert response.status_code == 422
    assert response.json()["type"] == "urn:secondlook:problem:answers-invalid"
    assert response.json()["errors"]


def test_the_history_lists_versions_assessments_and_responses_in_time_order(
    client: TestClient, world: World, patient: str, case_document: dict[str, Any]
) -> None:
    auth = world.auth("clinician")
    put_case(client, world, patient, case_document, None)
    client.post(
        f"{patient}/questionnaires", json={"instrument": "nrs-pain", "answers": [5]}, headers=auth
    )
    client.post(f"{patient}/assessments", headers=auth)
    put_case(client, world, patient, case_document, '"1"')
    items = client.get(f"{patient}/history", headers=auth).json()["items"]
    assert [i["kind"] for i in items] == [
        "case_version",
        "questionnaire_response",
        "assessment",
        "case_version",
    ]
    assert [i["at"] for i in items] == sorted(i["at"] for i in items)
    page = client.get(f"{patient}/history?limit=3", headers=auth).json()
    rest = client.get(page["next"], headers=auth).json()
    assert page["items"] + rest["items"] == items
    assert rest["next"] is None


def test_patient_lists_page_through_everything_once(client: TestClient, world: World) -> None:
    auth = world.auth("clinician")
    for n in range(5):
        client.post("/api/v1/patients", json={"name": f"Paged {n}"}, headers=auth)
    everything = client.get("/api/v1/patients?limit=200", headers=auth).json()["items"]
    seen: list[int] = []
    url: str | None = "/api/v1/patients?limit=2"
    while url:
        page = client.get(url, headers=auth).json()
        assert len(page["items"]) <= 2
        seen += [p["id"] for p in page["items"]]
        url = page["next"]
    assert seen == [p["id"] for p in everything]


def test_limits_are_bounded(client: TestClient, world: World) -> None:
    assert (
        client.get("/api/v1/patients?limit=201", headers=world.auth("clinician")).status_code == 422
    )
    assert (
        client.get("/api/v1/patients?limit=0", headers=world.auth("clinician")).status_code == 422
    )


def test_no_organization_sees_another_organizations_patients(
    client: TestClient, world: World
) -> None:
    theirs = client.get("/api/v1/patients?limit=200", headers=world.auth("beta_clinician")).json()[
        "items"
    ]
    ours = client.get("/api/v1/patients?limit=200", headers=world.auth("clinician")).json()["items"]
    assert world.beta_patient in {p["id"] for p in theirs}
    assert not {p["id"] for p in theirs} & {p["id"] for p in ours}


def test_a_patient_lists_only_their_own_record(client: TestClient, world: World) -> None:
    mine = client.get("/api/v1/patients", headers=world.auth("patient")).json()["items"]
    assert [p["id"] for p in mine] == [world.patient_one]


def test_a_patch_changes_only_the_fields_sent(
    client: TestClient, world: World, patient: str
) -> None:
    auth = world.auth("clinician")
    response = client.patch(patient, json={"mrn": "MRN-9"}, headers={**auth, "If-Match": '"1"'})
    assert response.json()["birth_date"] == "1968-04-02"
    assert response.json()["name"] == "Records"
    cleared = client.patch(patient, json={"birth_date": None}, headers={**auth, "If-Match": '"2"'})
    assert cleared.json()["birth_date"] is None
    refused = client.patch(patient, json={"name": None}, headers={**auth, "If-Match": '"3"'})
    assert refused.status_code == 422
