"""ETags on reads; If-Match required on writes to existing resources (428 without, 412 stale)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

if TYPE_CHECKING:
    from conftest import World


@pytest.fixture
def patient(client: TestClient, world: World) -> str:
    response = client.post(
        "/api/v1/patients", json={"name": "Etag"}, headers=world.auth("clinician")
    )
    assert response.headers["ETag"] == '"1"'
    return str(response.headers["Location"])


def test_reading_a_patient_returns_its_version_as_etag(
    client: TestClient, world: World, patient: str
) -> None:
    response = client.get(patient, headers=world.auth("clinician"))
    assert response.headers["ETag"] == '"1"'
    assert response.json()["version"] == 1


def test_an_update_with_the_current_etag_succeeds_and_bumps_the_version(
    client: TestClient, world: World, patient: str
) -> None:
    response = client.patch(
        patient, json={"mrn": "A-1"}, headers={**world.auth("clinician"), "If-Match": '"1"'}
    )
    assert response.status_code == 200
    assert response.headers["ETag"] == '"2"'
    assert response.json()["mrn"] == "A-1"
    assert response.json()["name"] == "Etag"


def test_an_update_without_if_match_is_428(client: TestClient, world: World, patient: str) -> None:
    response = client.patch(patient, json={"mrn": "A-1"}, headers=world.auth("clinician"))
    assert response.status_code == 428
    assert client.get(patient, headers=world.auth("clinician")).json()["mrn"] is None


@pytest.mark.parametrize(
    ("if_match", "status"),
    [('"7"', 412), ('W/"1"', 412), ('"0"', 412), ("*", 428), ('"1", "2"', 428), ("1", 428)],
)
def test_an_update_with_a_tag_that_is_not_current_is_refused(
    client: TestClient, world: World, patient: str, if_match: str, status: int
) -> None:
    response = client.patch(
        patient, json={"mrn": "A-1"}, headers={**world.auth("clinician"), "If-Match": if_match}
    )
    assert response.status_code == status
    assert client.get(patient, headers=world.auth("clinician")).json()["mrn"] is None


def test_a_stale_update_says_which_version_is_current(
    client: TestClient, world: World, patient: str
) -> None:
    auth = world.auth("clinician")
    client.patch(patient, json={"mrn": "first"}, headers={**auth, "If-Match": '"1"'})
    response = client.patch(patient, json={"mrn": "second"}, headers={**auth, "If-Match": '"1"'})
    assert response.status_code == 412
    assert response.json()["current_version"] == 2
    assert client.get(patient, headers=auth).json()["mrn"] == "first"


def test_the_first_case_version_needs_if_none_match_star(
    client: TestClient, world: World, patient: str, case_document: dict[str, Any]
) -> None:
    auth = world.auth("clinician")
    assert client.put(f"{patient}/case", json=case_document, headers=auth).status_code == 428
    assert (
        client.put(f"{patient}/case", json=case_document, headers={**auth, "If-Match": '"1"'})
    ).status_code == 412
    first = client.put(
        f"{patient}/case", json=case_document, headers={**auth, "If-None-Match": "*"}
    )
    assert first.status_code == 201
    assert first.headers["ETag"] == '"1"'
    again = client.put(
        f"{patient}/case", json=case_document, headers={**auth, "If-None-Match": "*"}
    )
    assert again.status_code == 412


def test_later_case_versions_need_the_current_case_etag(
    client: TestClient, world: World, patient: str, case_document: dict[str, Any]
) -> None:
    auth = world.auth("clinician")
    client.put(f"{patient}/case", json=case_document, headers={**auth, "If-None-Match": "*"})
    assert client.put(f"{patient}/case", json=case_document, headers=auth).status_code == 428
    second = client.put(f"{patient}/case", json=case_document, headers={**auth, "If-Match": '"1"'})
    assert second.status_code == 201
    assert second.headers["ETag"] == '"2"'
    stale = client.put(f"{patient}/case", json=case_document, headers={**auth, "If-Match": '"1"'})
    assert stale.status_code == 412
    assert client.get(f"{patient}/case", headers=auth).headers["ETag"] == '"2"'


def test_the_patient_and_its_case_have_separate_versions(
    client: TestClient, world: World, patient: str, case_document: dict[str, Any]
) -> None:
    auth = world.auth("clinician")
    client.put(f"{patient}/case", json=case_document, headers={**auth, "If-None-Match": "*"})
    read = client.get(patient, headers=auth)
    assert read.headers["ETag"] == '"1"'
    assert read.json()["case_version"] == 1


def test_user_updates_need_if_match_too(client: TestClient, world: World) -> None:
    url = f"/api/v1/users/{world.users['coordinator']}"
    auth = world.auth("admin")
    assert client.patch(url, json={"active": True}, headers=auth).status_code == 428
    etag = client.get(url, headers=auth).headers["ETag"]
    assert (
        client.patch(url, json={"active": True}, headers={**auth, "If-Match": etag}).status_code
        == 200
    )
    assert (
        client.patch(url, json={"active": True}, headers={**auth, "If-Match": etag}).status_code
        == 412
    )


def test_the_openapi_document_says_if_match_is_required_where_428_enforces_it(
    client: TestClient,
) -> None:
    doc = client.get("/openapi.json").json()
    found = {
        (method, path): parameter.get("required", False)
        for path, item in doc["paths"].items()
        for method, operation in item.items()
        for parameter in operation.get("parameters", [])
        if parameter["name"].lower() == "if-match"
    }
    assert found[("patch", "/api/v1/patients/{patient_id}")] is True
    assert found[("patch", "/api/v1/patients/{patient_id}/care/tasks/{task_id}")] is True
    # the first case version is written with If-None-Match: * instead
    assert found[("put", "/api/v1/patients/{patient_id}/case")] is False
