"""An unexpected error on a page is an HTML page with an incident id; the API keeps answering
problem details."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import factories


def broken(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError("secret internals")


def test_a_500_on_a_page_is_a_page_with_an_incident_id(
    web_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("secondlook.web.auth.session_principal", broken)
    with TestClient(web_app, raise_server_exceptions=False) as client:
        response = client.get("/login")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>Internal Server Error</h1>" in response.text
    assert "incident id" in response.text
    assert "secret internals" not in response.text


def test_a_500_on_the_api_stays_a_problem_document(
    web_app: FastAPI, monkeypatch: pytest.MonkeyPatch, clinic: factories.Clinic
) -> None:
    with TestClient(web_app, raise_server_exceptions=False) as client:
        monkeypatch.setattr("secondlook.api.routes.accounts._session_out", broken)
        response = client.get("/api/v1/session", headers=clinic.clinician.auth())
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "secret internals" not in response.text


@pytest.mark.parametrize(
    "path", ["/clinic/nothing-here", "/admin/nothing-here", "/portal/xyz", "/nothing"]
)
def test_a_mistyped_address_in_a_browser_is_a_page_with_a_way_back(
    web_app: FastAPI, path: str
) -> None:
    with TestClient(web_app) as client:
        response = client.get(path, headers={"Accept": "text/html,application/xhtml+xml"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>Page not found</h1>" in response.text
    assert 'href="/"' in response.text
    assert "default-src" in response.headers["content-security-policy"]


@pytest.mark.parametrize("path", ["/api/v1/nothing", "/fhir/Nothing/1", "/cds-services/x"])
def test_programs_keep_their_problem_documents_for_a_wrong_address(
    web_app: FastAPI, path: str
) -> None:
    with TestClient(web_app) as client:
        response = client.get(path, headers={"Accept": "text/html"})
    assert response.status_code in (401, 404, 405)
    assert "text/html" not in response.headers["content-type"]
