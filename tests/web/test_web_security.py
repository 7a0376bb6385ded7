"""Browser security: sign-in and out, session cookie flags, CSRF on every form, security
headers, role separation and no patient data in URLs or logs."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

import factories
from secondlook.store.models import AuditEvent, Patient
from secondlook.web import auth, care, clinic, portal
from secondlook.web.common import CSRF_COOKIE

# {p}: the test's own patient.
PAGES = [
    "/login",
    "/clinic/patients",
    "/clinic/patients/{p}",
    "/clinic/patients/new",
    "/clinic/patients/{p}/intake",
    "/clinic/book",
    "/clinic/book/red-flag/cauda-equina",
]


def _pages(place: factories.Clinic) -> list[str]:
    return [page.format(p=place.patient.id) for page in PAGES]


def _post_paths() -> list[str]:
    # The CSRF check comes before anything else, so the ids need not exist.
    paths = []
    for route in [
        *auth.router.routes,
        *clinic.router.routes,
        *care.router.routes,
        *portal.router.routes,
    ]:
        if isinstance(route, APIRoute) and "POST" in (route.methods or set()):
            paths.append(
                route.path.replace("{patient_id}", "1")
                .replace("{key}", "phq-9")
                .replace("{task_id}", "1")
            )
    return sorted(set(paths))


def test_every_form_route_is_known() -> None:
    assert {"/login", "/logout", "/clinic/patients/search", "/clinic/patients/new"} <= set(
        _post_paths()
    )


@pytest.mark.parametrize("path", _post_paths())
def test_post_without_csrf_token_is_forbidden(path: str, clinician: tuple[TestClient, str]) -> None:
    client, _ = clinician
    response = client.post(path, data={"q": "Pat", "username": "x", "password": "y"})
    assert response.status_code == 403
    assert "security token" in response.text


@pytest.mark.parametrize("path", _post_paths())
def test_post_with_a_wrong_or_unbound_token_is_forbidden(
    path: str, clinician: tuple[TestClient, str]
) -> None:
    client, token = clinician
    assert client.post(path, data={"csrf_token": token + "x"}).status_code == 403
    # Signed in, the token is bound to the session: a token planted in the double-submit
    # cookie (which a sibling subdomain could set) and sent again in the form is refused.
    planted = "planted-token-" + "x" * 30
    client.cookies.delete(CSRF_COOKIE)
    client.cookies.set(CSRF_COOKIE, planted)
    assert client.post(path, data={"csrf_token": planted}).status_code == 403


def test_a_signed_out_form_needs_its_cookie(
    browser: TestClient, csrf_of: Callable[..., str]
) -> None:
    token = csrf_of(browser)
    browser.cookies.delete(CSRF_COOKIE)
    assert browser.post("/login", data={"csrf_token": token}).status_code == 403


def test_post_from_another_origin_is_forbidden(clinician: tuple[TestClient, str]) -> None:
    client, token = clinician
    response = client.post(
        "/clinic/patients/search",
        data={"q": "Pat", "csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    sandboxed = client.post(
        "/clinic/patients/search",
        data={"q": "Pat", "csrf_token": token},
        headers={"Origin": "null"},
    )
    assert sandboxed.status_code == 403
    same = client.post(
        "/clinic/patients/search",
        data={"q": "Pat", "csrf_token": token},
        headers={"Origin": "http://testserver"},
    )
    assert same.status_code == 200


@pytest.mark.parametrize("path", PAGES)
def test_security_headers_on_pages(
    path: str, clinician: tuple[TestClient, str], clinic: factories.Clinic
) -> None:
    client, _ = clinician
    response = client.get(path.format(p=clinic.patient.id))
    assert response.status_code in (200, 303)
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"


def test_pages_have_no_inline_script_or_style(
    clinician: tuple[TestClient, str], clinic: factories.Clinic
) -> None:
    client, _ = clinician
    for path in _pages(clinic)[1:]:
        html = client.get(path).text
        assert "<script" not in html
        assert "<style" not in html and " style=" not in html
        assert not re.search(r"\son[a-z]+=", html), path  # no inline event handlers


def test_api_responses_keep_their_own_headers(browser: TestClient) -> None:
    assert "content-security-policy" not in browser.get("/healthz").headers


def test_static_files_are_served_with_headers(browser: TestClient) -> None:
    response = browser.get("/static/app.css")
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"


def test_sign_in_sets_a_hardened_session_cookie(
    browser: TestClient, csrf_of: Callable[..., str], clinic: factories.Clinic
) -> None:
    token = csrf_of(browser)
    login_cookie = browser.cookies.get(CSRF_COOKIE)
    assert login_cookie == token
    response = browser.post(
        "/login",
        data={
            "username": clinic.clinician.username,
            "password": factories.PASSWORD,
            "csrf_token": token,
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/clinic/patients"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("secondlook_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http here; see the https test


def test_session_cookie_is_secure_over_https(web_app: FastAPI, clinic: factories.Clinic) -> None:
    with TestClient(web_app, base_url="https://testserver", follow_redirects=False) as client:
        page = client.get("/login")
        assert "Secure" in page.headers["set-cookie"]  # the CSRF cookie
        assert "strict-transport-security" in page.headers
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        response = client.post(
            "/login",
            data={
                "username": clinic.clinician.username,
                "password": factories.PASSWORD,
                "csrf_token": token.group(1),
            },
        )
        assert response.status_code == 303
        assert "Secure" in response.headers["set-cookie"]


def test_wrong_password_is_refused_and_audited(
    browser: TestClient, csrf_of: Callable[..., str], web_engine: Engine, clinic: factories.Clinic
) -> None:
    token = csrf_of(browser)
    username = clinic.coordinator.username
    response = browser.post(
        "/login", data={"username": username, "password": "nope", "csrf_token": token}
    )
    assert response.status_code == 401
    assert "Wrong username or password" in response.text
    assert "secondlook_session" not in response.headers.get("set-cookie", "")
    with web_engine.connect() as connection:
        events = [
            tuple(row)
            for row in connection.execute(
                select(AuditEvent.outcome, AuditEvent.organization_id).where(
                    AuditEvent.action == "session.create",
                    AuditEvent.resource == "POST /login",
                    AuditEvent.actor_username == username,
                )
            )
        ]
    assert events == [("denied", clinic.id)]


def test_signed_out_browser_is_sent_to_login(browser: TestClient, clinic: factories.Clinic) -> None:
    own = f"/clinic/patients/{clinic.patient.id}"
    for path in ("/", "/clinic/patients", own, "/portal", "/portal/plan"):
        response = browser.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == "/login"


def test_logout_revokes_the_session(clinician: tuple[TestClient, str]) -> None:
    client, token = clinician
    old_session = client.cookies.get("secondlook_session")
    assert client.get("/clinic/patients").status_code == 200
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    client.cookies.set("secondlook_session", old_session or "")
    assert client.get("/clinic/patients").headers.get("location") == "/login"


def test_roles_are_kept_apart(
    browser: TestClient, sign_in: Callable[..., str], clinic: factories.Clinic
) -> None:
    sign_in(browser, clinic.patient_user.username)
    assert browser.get("/clinic/patients").status_code == 403
    assert browser.get("/portal").status_code == 200
    browser.cookies.clear()
    sign_in(browser, clinic.clinician.username)
    assert browser.get("/portal").status_code == 403
    browser.cookies.clear()
    sign_in(browser, clinic.admin.username)
    assert browser.get(f"/clinic/patients/{clinic.patient.id}").status_code == 403
    assert browser.get("/").headers["location"] == "/admin/users"
    browser.cookies.clear()
    sign_in(browser, clinic.clinician.username)
    assert browser.get("/admin/users").status_code == 403  # administration is the admin's alone


def test_search_is_a_post_and_no_link_carries_patient_data(
    clinician: tuple[TestClient, str], web_engine: Engine, clinic: factories.Clinic
) -> None:
    client, token = clinician
    with factories.committed(web_engine) as session:
        factories.patient(session, organization_id=clinic.id, name="Maria Keller", example=None)
    with web_engine.connect() as connection:
        patients = connection.execute(
            select(Patient.name, Patient.mrn).where(Patient.organization_id == clinic.id)
        ).all()
    assert len(patients) == 2
    secrets = [p.name for p in patients] + [p.mrn for p in patients if p.mrn]
    # Words of a name, from four letters (a factory name starts with "Pat", as "patients" does).
    secrets += [part for p in patients for part in p.name.split() if len(part) >= 4]
    pages = [client.get(path).text for path in _pages(clinic)[1:]]
    pages.append(client.post("/clinic/patients/search", data={"q": "e", "csrf_token": token}).text)
    for html in pages:
        for url in re.findall(r'(?:href|action|src)="([^"]*)"', html):
            assert not any(s.lower() in url.lower() for s in secrets), url
    assert 'method="post" action="/clinic/patients/search"' in pages[0]


def test_search_finds_by_name_and_mrn(
    clinician: tuple[TestClient, str], web_engine: Engine, clinic: factories.Clinic
) -> None:
    client, token = clinician
    with factories.committed(web_engine) as session:
        for name in ("Maria Keller", "Jonas Berg"):
            factories.patient(session, organization_id=clinic.id, name=name, example=None)
        berg = factories.patient(session, organization_id=clinic.id, name="Jo Berg", example=None)
    by_name = client.post("/clinic/patients/search", data={"q": "keller", "csrf_token": token})
    assert "Maria Keller" in by_name.text
    assert "Jonas Berg" not in by_name.text
    by_mrn = client.post("/clinic/patients/search", data={"q": berg.mrn, "csrf_token": token})
    assert "Jo Berg" in by_mrn.text and "Jonas Berg" not in by_mrn.text
    wildcard = client.post("/clinic/patients/search", data={"q": "%", "csrf_token": token})
    assert "0 patient(s) found" in wildcard.text


def test_page_reads_are_audited_without_patient_data_in_logs(
    clinician: tuple[TestClient, str],
    web_engine: Engine,
    clinic: factories.Clinic,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, token = clinician
    pid, name = clinic.patient.id, clinic.patient.name
    with caplog.at_level(logging.DEBUG):
        client.get(f"/clinic/patients/{pid}")
        client.post("/clinic/patients/search", data={"q": name, "csrf_token": token})
    with web_engine.connect() as connection:
        events = [
            tuple(row)
            for row in connection.execute(
                select(AuditEvent.action, AuditEvent.patient_id, AuditEvent.resource)
                .where(AuditEvent.actor_user_id == clinic.clinician.user_id)
                .order_by(AuditEvent.id)
            )
        ]
    assert events == [
        ("patient.read", pid, f"GET /clinic/patients/{pid}"),
        ("patient.list", None, "POST /clinic/patients/search"),
    ]
    assert all(name not in str(resource) for _, _, resource in events)
    assert name not in caplog.text


def test_repeated_failed_sign_ins_are_rate_limited(
    browser: TestClient, csrf_of: Callable[..., str]
) -> None:
    token = csrf_of(browser)
    username = factories.unique("no-such-user")
    statuses = [
        browser.post(
            "/login", data={"username": username, "password": "x", "csrf_token": token}
        ).status_code
        for _ in range(6)
    ]
    assert statuses[:5] == [401] * 5
    assert statuses[5] == 429
    assert (
        "Too many failed sign-ins"
        in browser.post(
            "/login", data={"username": username, "password": "x", "csrf_token": token}
        ).text
    )


def test_the_account_page_speaks_to_the_role_and_lists_ones_own_tokens(
    clinician: tuple[TestClient, str], clinic: factories.Clinic
) -> None:
    client, _ = clinician
    page = client.get("/account")
    assert page.status_code == 200
    html = page.text
    assert clinic.clinician.username in html and "Clinician" in html
    assert "Administrators manage" not in html  # no admin text for other roles
    assert "Your API tokens" in html and "active" in html  # the factory's token, by prefix only
    assert clinic.clinician.token not in html
    factories.signed_in(client, clinic.patient_user)
    other = client.get("/account").text
    assert 'href="/portal"' in other and "Administrators manage" not in other
