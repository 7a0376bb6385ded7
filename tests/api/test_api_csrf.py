"""A state change a browser sends with the session cookie, or a sign-in, must come from
SecondLook's own pages (http/origin.py): a foreign page's forged request is refused before
any route runs, and nothing is stored."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

from secondlook.http.origin import origin_of

if TYPE_CHECKING:
    from conftest import World

EVIL = "https://evil.example"


@pytest.fixture
def signed_in(client: TestClient, world: World) -> TestClient:
    me = client.get("/api/v1/session", headers=world.auth("clinician")).json()
    response = client.post(
        "/api/v1/session",
        json={"username": me["username"], "password": world.passwords["clinician"]},
    )
    assert response.status_code == 200, response.text
    return client


def count_assessments(client: TestClient, world: World) -> int:
    response = client.get(
        f"/api/v1/patients/{world.patient_one}/assessments",
        params={"limit": 200},
        headers=world.auth("clinician"),
    )
    return len(response.json()["items"])


@pytest.mark.parametrize(
    "headers",
    [{"Origin": EVIL}, {"Origin": "null"}, {"Referer": f"{EVIL}/attack.html"}],
    ids=["foreign-origin", "null-origin", "foreign-referer"],
)
def test_a_forged_bodiless_post_with_the_session_cookie_is_refused_and_stores_nothing(
    signed_in: TestClient, world: World, headers: dict[str, str]
) -> None:
    before = count_assessments(signed_in, world)
    response = signed_in.post(f"/api/v1/patients/{world.patient_one}/assessments", headers=headers)
    assert response.status_code == 403, response.text
    assert response.json()["type"].endswith("cross-site-request")
    assert count_assessments(signed_in, world) == before


def test_the_sites_own_pages_and_non_browser_clients_get_through(
    signed_in: TestClient, world: World
) -> None:
    path = f"/api/v1/patients/{world.patient_one}"
    for headers in ({"Origin": "http://testserver"}, {"Referer": "http://testserver/clinic"}, {}):
        response = signed_in.get(path)
        patch = signed_in.patch(
            path,
            json={"name": "Ada One"},
            headers={**headers, "If-Match": response.headers["ETag"]},
        )
        assert patch.status_code == 200, (headers, patch.text)


def test_a_bearer_token_is_not_an_ambient_credential(client: TestClient, world: World) -> None:
    client.cookies.clear()
    response = client.get(f"/api/v1/patients/{world.patient_one}", headers=world.auth("clinician"))
    patch = client.patch(
        f"/api/v1/patients/{world.patient_one}",
        json={"name": "Ada One"},
        headers={**world.auth("clinician"), "Origin": EVIL, "If-Match": response.headers["ETag"]},
    )
    assert patch.status_code == 200, patch.text


@pytest.mark.parametrize("path", ["/api/v1/session", "/login"])
def test_a_login_from_a_foreign_page_sets_no_cookie(
    client: TestClient, world: World, path: str
) -> None:
    client.cookies.clear()
    me = client.get("/api/v1/session", headers=world.auth("clinician")).json()
    form = {"username": me["username"], "password": world.passwords["clinician"]}
    response = client.post(path, data=form, headers={"Origin": EVIL}, follow_redirects=False)
    assert response.status_code == 403
    assert "set-cookie" not in {k.lower() for k in response.headers}


def test_a_forged_fhir_search_is_refused_as_an_operation_outcome(
    signed_in: TestClient, world: World
) -> None:
    response = signed_in.post(
        "/fhir/Patient/_search", data={"_id": str(world.patient_one)}, headers={"Origin": EVIL}
    )
    assert response.status_code == 403
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://SecondLook.Hospital.org:443/x", "https://secondlook.hospital.org"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("http://[::1]:8080/", "http://[::1]:8080"),
        ("null", None),
        ("file:///etc/passwd", None),
        ("https://host:99999", None),
    ],
)
def test_origins_compare_by_scheme_host_and_port(url: str, origin: str | None) -> None:
    assert origin_of(url) == origin
