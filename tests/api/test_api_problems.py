"""Every error is an RFC 9457 problem (application/problem+json)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from secondlook.store import records

if TYPE_CHECKING:
    from conftest import World

PROBLEM = "application/problem+json"


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["type"]
    assert body["instance"]
    return body


def test_unknown_route_is_a_404_problem(client: TestClient) -> None:
    body = assert_problem(client.get("/api/v1/nothing-here"), 404)
    assert body["instance"] == "/api/v1/nothing-here"


def test_wrong_method_is_a_405_problem_listing_every_allowed_method(
    client: TestClient, world: World
) -> None:
    response = client.delete(
        f"/api/v1/patients/{world.patient_one}/case", headers=world.auth("clinician")
    )
    assert_problem(response, 405)
    assert response.headers["Allow"] == "GET, HEAD, PUT"


def test_request_validation_errors_name_each_field_by_json_path(
    client: TestClient, world: World
) -> None:
    response = client.post(
        "/api/v1/patients",
        json={"name": "", "birth_date": "yesterday", "colour": "blue"},
        headers=world.auth("clinician"),
    )
    body = assert_problem(response, 422)
    paths = {error["path"] for error in body["errors"]}
    assert paths == {"$.name", "$.birth_date", "$.colour"}


def test_query_parameter_errors_name_the_parameter(client: TestClient, world: World) -> None:
    body = assert_problem(
        client.get("/api/v1/patients?limit=100000", headers=world.auth("clinician")), 422
    )
    assert [error["path"] for error in body["errors"]] == ["query.limit"]


def test_a_malformed_json_body_is_a_problem(client: TestClient, world: World) -> None:
    response = client.post(
        "/api/v1/patients",
        content=b'{"name": ',
        headers={**world.auth("clinician"), "Content-Type": "application/json"},
    )
    assert response.status_code in (400, 422)
    assert response.headers["content-type"] == PROBLEM


def test_an_invalid_case_lists_every_problem_with_its_json_path(
    client: TestClient, world: World, case_document: dict[str, Any]
) -> None:
    patient = client.post(
        "/api/v1/patients", json={"name": "Bad case"}, headers=world.auth("clinician")
    )
    broken = dict(case_document)
    broken["region"] = "elbow"
    broken["surgeries"] = [{"procedure": "discectomy"}]
    response = client.put(
        f"{patient.headers['Location']}/case",
        json=broken,
        headers={**world.auth("clinician"), "If-None-Match": "*"},
    )
    body = assert_problem(response, 422)
    assert body["type"] == "urn:secondlook:problem:case-invalid"
    paths = {error["path"] for error in body["errors"]}
    assert "$.region" in paths
    assert "$.surgeries[0].date" in paths
    assert all(error["message"] for error in body["errors"])
    # Nothing was stored.
    stored = client.get(f"{patient.headers['Location']}/case", headers=world.auth("clinician"))
    assert_problem(stored, 404)


def test_an_unexpected_error_is_a_500_problem_without_internals(
    app: FastAPI, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals: password=hunter2")

    monkeypatch.setattr(records, "get_patient", explode)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get(
            f"/api/v1/patients/{world.patient_one}", headers=world.auth("clinician")
        )
    body = assert_problem(response, 500)
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    assert body["instance"].startswith("urn:uuid:")


def test_missing_credentials_are_a_401_problem_with_a_challenge(client: TestClient) -> None:
    response = client.get("/api/v1/patients")
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_openapi_documents_errors_as_problem_details(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/api/v1/patients/{patient_id}/case"]["put"]
    for code in ("401", "403", "404", "412", "422", "428"):
        content = operation["responses"][code]["content"]
        assert content == {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert client.get("/docs").status_code == 200


def test_a_query_parameter_given_twice_is_refused(client: TestClient, world: World) -> None:
    response = client.get("/api/v1/patients?limit=5&limit=500", headers=world.auth("clinician"))
    body = assert_problem(response, 422)
    assert body["errors"] == [{"path": "query.limit", "message": "given more than once"}]


def test_nul_characters_are_refused_before_they_reach_the_database(
    client: TestClient, world: World, case_document: dict[str, Any]
) -> None:
    auth = world.auth("clinician")
    body = assert_problem(
        client.post("/api/v1/patients", json={"name": "a\x00b"}, headers=auth), 422
    )
    assert [error["path"] for error in body["errors"]] == ["$.name"]
    assert_problem(client.get("/api/v1/audit?action=a%00", headers=world.auth("admin")), 422)
    patient = client.post("/api/v1/patients", json={"name": "Nul"}, headers=auth)
    document = {**case_document, "preferences": {"goals": ["walk\x00"]}}
    response = client.put(
        f"{patient.headers['Location']}/case", json=document, headers={**auth, "If-None-Match": "*"}
    )
    body = assert_problem(response, 422)
    assert [error["path"] for error in body["errors"]] == ["$.preferences.goals[0]"]
