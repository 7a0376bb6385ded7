"""The OpenAPI document types the case PUT's body with the case model's JSON schema, while the
route keeps its strict JSON parsing (duplicate keys and non-finite numbers are refused)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from secondlook.api.app import CASE_PATH
from secondlook.case.models import Case

if TYPE_CHECKING:
    from conftest import World


def test_the_case_body_references_the_case_model_schema(app: FastAPI) -> None:
    schema = app.openapi()
    body = schema["paths"][CASE_PATH]["put"]["requestBody"]
    assert body["required"] is True
    assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Case"}
    components: dict[str, Any] = schema["components"]["schemas"]
    expected = Case.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions = expected.pop("$defs")
    assert components["Case"] == expected
    # Every part of the case is there under its own name, not shadowed by an API model.
    for name, sub in definitions.items():
        assert components[name] == sub, name
    assert "surgeries" in components["Case"]["properties"]


def test_strict_parsing_of_the_case_body_is_unchanged(
    client: TestClient, world: World, case_document: dict[str, object]
) -> None:
    url = f"/api/v1/patients/{world.patient_two}/case"
    headers = {**world.auth("clinician"), "Content-Type": "application/json"}
    duplicate = '{"schema_version": "1", "schema_version": "1"}'
    response = client.put(url, content=duplicate, headers={**headers, "If-None-Match": "*"})
    assert response.status_code in (400, 422), response.text
    assert "schema_version" in response.text
    infinite = '{"medications": {"opioid_mme_per_day": 1e400}}'
    response = client.put(url, content=infinite, headers={**headers, "If-None-Match": "*"})
    assert response.status_code in (400, 422), response.text
