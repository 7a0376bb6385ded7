"""The administrators' pages (/admin) and the invitation page (/welcome), end to end through the
real app: what each form changes, what it refuses and why, what each view leaves on the audit
trail. Who may open which page is tests/web/test_web_access.py's table."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

import factories
from secondlook.store.models import AuditEvent, Credential, PortalInvitation, User
from secondlook.store.notify_models import OutboxMessage

STRONG = "walnut harbour violin sketch"
STRONGER = "copper meadow lantern oboe"


def _admin(browser: TestClient, clinic: factories.Clinic) -> str:
    return factories.signed_in(browser, clinic.admin)


def _user(engine: Engine, user_id: int) -> User:
    with Session(engine) as session:
        found = session.get(User, user_id)
        assert found is not None
        session.expunge(found)
        return found


def _events(engine: Engine, action: str, organization_id: int) -> list[AuditEvent]:
    with Session(engine) as session:
        rows = list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == action, AuditEvent.organization_id == organization_id)
                .order_by(AuditEvent.id)
            )
        )
        session.expunge_all()
        return rows


def test_the_users_page_lists_the_organization_only(
    browser: TestClient, clinic: factories.Clinic, web_engine: Engine
) -> None:
    with factories.committed(web_engine) as session:
        other = factories.clinic(session, name="Elsewhere Spine")
    _admin(browser, clinic)
    page = browser.get("/admin/users")
    assert page.status_code == 200
    for person in clinic.people.values():
        assert person.username in page.text
    assert other.clinician.username not in page.text
    assert "Care coordinator" in page.text  # roles in words, not codes
    assert _events(web_engine, "user.read", clinic.id)[-1].resource == "GET /admin/users"


def test_a_new_user_gets_the_password_rules_and_a_discipline(
    browser: TestClient, clinic: factories.Clinic, web_engine: Engine
) -> None:
    token = _admin(browser, clinic)
    name = factories.unique("nurse")
    weak = browser.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "username": name,
            "role": "coordinator",
            "password": "aaaaaaaaaaaaaaaa",
            "password_again": "aaaaaaaaaaaaaaaa",
        },
    )
    assert weak.status_code == 422
    assert "one character repeated" in weak.text
    assert f'value="{name}"' in weak.text  # the form keeps what was typed
    with Session(web_engine) as session:
        assert session.scalars(select(User).where(User.username == name)).first() is None

    made = browser.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "username": name,
            "role": "coordinator",
            "discipline": "physical-therapy",
            "password": STRONG,
            "password_again": STRONG,
        },
    )
    assert made.status_code == 303, made.text
    user_id = int(re.findall(r"/admin/users/(\d+)", made.headers["location"])[0])
    created = _user(web_engine, user_id)
    assert (created.role, created.discipline, created.organization_id) == (
        "coordinator",
        "physical-therapy",
        clinic.id,
    )
    shown = browser.get(made.headers["location"])
    assert "The user was added." in shown.text and "Physical therapy" in shown.text


def test_mismatched_passwords_are_refused_before_anything_is_written(
    browser: TestClient, clinic: factories.Clinic
) -> None:
    token = _admin(browser, clinic)
    answer = browser.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "username": factories.unique("x"),
            "role": "clinician",
            "password": STRONG,
            "password_again": STRONGER,
        },
    )
    assert answer.status_code == 422
    assert "The two passwords are not the same." in answer.text


def test_deactivation_ends_sessions_and_tokens_and_reactivation_does_not_revive_them(
    browser: TestClient, clinic: factories.Clinic, web_engine: Engine, web_app: object
) -> None:
    clinician = clinic.clinician
    token = _admin(browser, clinic)
    url = f"/admin/users/{clinician.user_id}"
    answer = browser.post(
        f"{url}/active", data={"csrf_token": token, "active": "false", "version": "1"}
    )
    assert answer.status_code == 303
    assert "deactivated" in browser.get(answer.headers["location"]).text
    assert _user(web_engine, clinician.user_id).active is False
    with TestClient(web_app) as other:  # type: ignore[arg-type]
        assert other.get("/api/v1/session", headers=clinician.auth()).status_code == 401
        again = browser.post(
            f"{url}/active", data={"csrf_token": token, "active": "true", "version": "2"}
        )
        assert again.status_code == 303
        assert _user(web_engine, clinician.user_id).active is True
        assert other.get("/api/v1/session", headers=clinician.auth()).status_code == 401
        factories.signed_in(other, clinician)  # the old browser session stays ended
        assert other.get("/clinic/patients", follow_redirects=False).status_code == 303


def test_a_form_without_a_version_is_428_and_an_old_one_412(
    browser: TestClient, clinic: factories.Clinic, web_engine: Engine
) -> None:
    token = _admin(browser, clinic)
    url = f"/admin/users/{clinic.clinician.user_id}/role"
    missing = browser.post(url, data={"csrf_token": token, "role": "coordinator"})
    assert missing.status_code == 428
    first = browser.post(url, data={"csrf_token": token, "role": "coordinator", "version": "1"})
    assert first.status_code == 303
    stale = browser.post(url, data={"csrf_token": token, "role": "admin", "version": "1"})
    assert stale.status_code == 412
    assert "Someone changed this account meanwhile" in stale.text
    assert _user(web_engine, clinic.clinician.user_id).role == "coordinator"


def test_a_role_change_to_administrator_clears_the_discipline(
    browser: TestClient, clinic: factories.Clinic, web_engine: Engine
) -> None:
    token = _admin(browser, clinic)
    url = f"/admin/users/{clinic.coordinator.user_id}/role"
    browser.post(
        url,
        data={
            "csrf_token": token,
            "role": "coordinator",
            "discipline": "psychology",
            "version": "1",
        },
    )
    assert _user(web_engine, clinic.coordinator.user_id).discipline == "psychology"
    answer = browser.post(
        url, data={"csrf_token": token, "role": "admin", "discipline": "psychology", "version": "2"}
    )
    assert answer.status_code == 303
    changed = _user(web_engine, clinic.coordinator.user_id)
    assert (changed.role, changed.discipline) == ("admin", None)


def test_an_unknown_discipline_or_a_patient_role_change_is_refused_with_words(
    browser: TestClient, clinic: factories.Clinic, web_engine: Engine
) -> None:
    token = _admin(browser, clinic)
    bad = browser.post(
        f"/admin/users/{clinic.clinician.user_id}/role",
        data={"csrf_token": token, "role": "clinician", "discipline": "astrology", "version": "1"},
    )
    assert bad.status_code == 422 and "physical-therapy" in bad.text
    patient = browser.post(
        f"/admin/users/{clinic.patient_user.user_id}/role",
        data={"csrf_token": token, "role": "clinician", "version": "1"},
    )
    assert patient.status_code == 422
    assert _user(web_engine, clinic.patient_user.user_id).role == "patient"


def test_an_administrator_cannot_lock_themselves_out(
    browser: TestClient, clinic: factories.Clinic, web_engine: Engine
) -> None:
    token = _admin(browser, clinic)
    url = f"/admin/users/{clinic.admin.user_id}"
    off = browser.post(
        f"{url}/active", data={"csrf_token": token, "active": "false", "version": "1"}
    )
    assert off.status_code == 409 and "your own account" in off.text
    demoted = browser.post(
        f"{url}/role", data={"csrf_token": token, "role": "clinician", "version": "1"}
    )
    assert demoted.status_code == 409
    me = _user(web_engine, clinic.admin.user_id)
    assert (me.active, me.role) == (True, "admin")


def test_a_new_password_follows_the_rules_and_ends_the_old_sessions(
    browser: TestClient, clinic: factories.Clinic, web_engine: Engine, sign_in: object
) -> None:
    token = _admin(browser, clinic)
    url = f"/admin/users/{clinic.clinician.user_id}/password"
    common = browser.post(
        url,
        data={
            "csrf_token": token,
            "password": "password12345678",
            "password_again": "password12345678",
            "version": "1",
        },
    )
    assert common.status_code == 422 and "too common" in common.text
    done = browser.post(
        url,
        data={"csrf_token": token, "password": STRONG, "password_again": STRONG, "version": "1"},
    )
    assert done.status_code == 303
    assert "sessions and API tokens were revoked" in browser.get(done.headers["location"]).text
    browser.cookies.clear()
    sign_in(browser, clinic.clinician.username, STRONG)  # type: ignore[operator]


def test_an_unlock_lets_a_locked_out_user_sign_in_again(
    browser: TestClient, clinic: factories.Clinic, web_app: object, csrf_of: object
) -> None:
    person = clinic.clinician
    with TestClient(web_app) as guesser:  # type: ignore[arg-type]
        for _ in range(6):
            form = csrf_of(guesser)  # type: ignore[operator]
            guesser.post(
                "/login",
                data={"username": person.username, "password": "wrong", "csrf_token": form},
            )
        form = csrf_of(guesser)  # type: ignore[operator]
        locked = guesser.post(
            "/login",
            data={"username": person.username, "password": factories.PASSWORD, "csrf_token": form},
        )
        assert locked.status_code == 429
        token = _admin(browser, clinic)
        listed = browser.get("/admin/users")
        row = re.search(rf"<tr id=\"user-{person.user_id}\">.*?</tr>", listed.text, re.S)
        assert row is not None and "Locked out" in row.group(0)
        assert "is locked out" in browser.get(f"/admin/users/{person.user_id}").text
        assert (
            browser.post(
                f"/admin/users/{person.user_id}/unlock", data={"csrf_token": token}
            ).status_code
            == 303
        )
        form = csrf_of(guesser)  # type: ignore[operator]
        after = guesser.post(
            "/login",
            data={"username": person.username, "password": factories.PASSWORD, "csrf_token": form},
            follow_redirects=False,
        )
        assert after.status_code == 303


def test_the_tokens_page_lists_the_organization_s_tokens_and_revokes_one(
    browser: TestClient, clinic: factories.Clinic, web_engine: Engine, web_app: object
) -> None:
    with factories.committed(web_engine) as session:
        other = factories.clinic(session, name="Elsewhere Spine")
    token = _admin(browser, clinic)
    page = browser.get("/admin/tokens")
    assert page.status_code == 200
    assert clinic.clinician.username in page.text
    assert clinic.clinician.token[:10] in page.text  # the prefix
    assert clinic.clinician.token not in page.text  # never the secret
    assert other.clinician.username not in page.text
    token_id = int(re.findall(r'id="token-(\d+)"', page.text)[0])
    with Session(web_engine) as session:
        owner = session.get(Credential, token_id)
        assert owner is not None
        owner_id = owner.user_id
    person = next(p for p in clinic.people.values() if p.user_id == owner_id)
    with TestClient(web_app) as api:  # type: ignore[arg-type]
        assert api.get("/api/v1/session", headers=person.auth()).status_code == 200
        revoked = browser.post(f"/admin/tokens/{token_id}/revoke", data={"csrf_token": token})
        assert revoked.status_code == 303
        assert api.get("/api/v1/session", headers=person.auth()).status_code == 401
    row = re.search(rf'<tr id="token-{token_id}">.*?</tr>', browser.get("/admin/tokens").text, re.S)
    assert row is not None and "Revoked" in row.group(0) and "<button" not in row.group(0)
    # Another organization's token is not found, and stays valid.
    with Session(web_engine) as session:
        other_id = session.scalars(
            select(Credential.id).where(
                Credential.user_id == other.clinician.user_id, Credential.kind == "token"
            )
        ).one()
    assert (
        browser.post(f"/admin/tokens/{other_id}/revoke", data={"csrf_token": token}).status_code
        == 404
    )
    with TestClient(web_app) as api:  # type: ignore[arg-type]
        assert api.get("/api/v1/session", headers=other.clinician.auth()).status_code == 200
    assert _events(web_engine, "token.read-all", clinic.id)


def _link(engine: Engine, patient_id: int) -> str:
    with Session(engine) as session:
        body = session.scalars(
            select(OutboxMessage.body)
            .where(
                OutboxMessage.patient_id == patient_id, OutboxMessage.kind == "portal-invitation"
            )
            .order_by(OutboxMessage.id.desc())
        ).first()
    assert body is not None
    found = re.search(r"https?://\S+/welcome\?token=(\S+)", body)
    assert found, body
    return found.group(1)


def test_an_invited_patient_chooses_a_password_once_with_the_emailed_link(
    browser: TestClient, clinic: factories.Clinic, web_engine: Engine, sign_in: object
) -> None:
    with factories.committed(web_engine) as session:
        record = factories.patient(session, organization_id=clinic.id)
        name, mrn = record.name, str(record.mrn)
    token = _admin(browser, clinic)
    username = factories.unique("portal")
    sent = browser.post(
        "/admin/invitations",
        data={
            "csrf_token": token,
            "patient_id": str(record.id),
            "username": username,
            "email": "pat@example.org",
        },
    )
    assert sent.status_code == 303, sent.text
    with Session(web_engine) as session:
        message = session.scalars(
            select(OutboxMessage).where(OutboxMessage.patient_id == record.id)
        ).one()
        assert (message.recipient, message.channel, message.status) == (
            "pat@example.org",
            "email",
            "pending",
        )
        # Nothing a bystander should read: no name, no MRN, nothing clinical.
        for private in (name, mrn, "spine", "pain"):
            assert private.lower() not in (message.subject + message.body).lower().replace(
                "spine center", ""
            )
        stored = session.scalars(select(PortalInvitation)).all()
    secret = _link(web_engine, record.id)
    assert all(secret not in (i.secret_hash) for i in stored)  # only a hash is kept
    listed = browser.get("/admin/invitations")
    assert username in listed.text and "Waiting for the patient" in listed.text

    browser.cookies.clear()
    page = browser.get(f"/welcome?token={secret}")
    assert page.status_code == 200 and username in page.text
    form = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert form
    weak = browser.post(
        "/welcome",
        data={
            "csrf_token": form.group(1),
            "token": secret,
            "password": "short",
            "password_again": "short",
        },
    )
    assert weak.status_code == 422 and "at least 15 characters" in weak.text
    done = browser.post(
        "/welcome",
        data={
            "csrf_token": form.group(1),
            "token": secret,
            "password": STRONG,
            "password_again": STRONG,
        },
    )
    assert done.status_code == 200 and "Your password is set" in done.text
    assert browser.get(f"/welcome?token={secret}").status_code == 404  # once only
    again = browser.post(
        "/welcome",
        data={
            "csrf_token": form.group(1),
            "token": secret,
            "password": STRONGER,
            "password_again": STRONGER,
        },
    )
    assert again.status_code == 404
    sign_in(browser, username, STRONG)  # type: ignore[operator]
    accepted = _events(web_engine, "invitation.accept", clinic.id)
    assert [(e.outcome, e.status, e.patient_id) for e in accepted] == [
        ("failed", 422, record.id),
        ("success", 200, record.id),
    ]
    created = _events(web_engine, "invitation.create", clinic.id)
    assert [(e.outcome, e.patient_id) for e in created] == [("success", record.id)]

    # A patient who chose a password is not invited again.
    token = _admin(browser, clinic)
    twice = browser.post(
        "/admin/invitations",
        data={
            "csrf_token": token,
            "patient_id": str(record.id),
            "username": "",
            "email": "pat@example.org",
        },
    )
    assert twice.status_code == 409 and "already has a portal account" in twice.text


def test_a_new_invitation_replaces_the_unused_one_and_an_expired_link_fails(
    browser: TestClient, clinic: factories.Clinic, web_engine: Engine
) -> None:
    with factories.committed(web_engine) as session:
        record = factories.patient(session, organization_id=clinic.id, example=None)
    token = _admin(browser, clinic)
    form = {
        "csrf_token": token,
        "patient_id": str(record.id),
        "username": factories.unique("p"),
        "email": "a@example.org",
    }
    assert browser.post("/admin/invitations", data=form).status_code == 303
    first = _link(web_engine, record.id)
    assert browser.post("/admin/invitations", data={**form, "username": ""}).status_code == 303
    second = _link(web_engine, record.id)
    assert first != second
    assert "Replaced by a newer invitation" in browser.get("/admin/invitations").text
    browser.cookies.clear()
    assert browser.get(f"/welcome?token={first}").status_code == 404
    assert browser.get(f"/welcome?token={second}").status_code == 200
    with factories.committed(web_engine) as session:
        session.execute(
            update(PortalInvitation).values(
                expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
            )
        )
    page = browser.get(f"/welcome?token={second}")
    assert page.status_code == 404 and "no longer works" in page.text


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"patient_id": "abc", "email": "a@example.org"}, "patient record&#39;s number"),
        ({"patient_id": "999999", "email": "a@example.org"}, "no patient 999999"),
        ({"email": "not an address"}, "an email address such as"),
        ({"email": "a@example.org", "username": "a b"}, "without spaces"),
    ],
)
def test_a_bad_invitation_says_what_is_wrong(
    browser: TestClient,
    clinic: factories.Clinic,
    web_engine: Engine,
    form: dict[str, str],
    message: str,
) -> None:
    with factories.committed(web_engine) as session:
        record = factories.patient(session, organization_id=clinic.id, example=None)
    token = _admin(browser, clinic)
    data = {
        "csrf_token": token,
        "patient_id": str(record.id),
        "username": factories.unique("p"),
        **form,
    }
    answer = browser.post("/admin/invitations", data=data)
    assert answer.status_code in (404, 422)
    assert message in answer.text
    with Session(web_engine) as session:
        assert (
            session.scalars(
                select(OutboxMessage).where(OutboxMessage.patient_id == record.id)
            ).first()
            is None
        )


def test_the_settings_page_shows_contacts_and_never_a_secret(
    browser: TestClient,
    clinic: factories.Clinic,
    web_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SECONDLOOK_EMERGENCY_NUMBER", "911")
    monkeypatch.setenv("SECONDLOOK_CRISIS_LINES", "988 Lifeline: call or text 988")
    monkeypatch.setenv("SECONDLOOK_ESCALATION_MINUTES", "emergency=10")
    monkeypatch.setenv("SECONDLOOK_SMTP_HOST", "mail.example.org")
    monkeypatch.setenv("SECONDLOOK_SMTP_FROM", "secondlook@example.org")
    monkeypatch.setenv("SECONDLOOK_SMTP_USERNAME", "relay-user")
    monkeypatch.setenv("SECONDLOOK_SMTP_PASSWORD", "relay-secret-value")
    monkeypatch.setenv("SECONDLOOK_NOTIFY_WEBHOOK_URL", "https://hooks.example.org/T0k3nInUrl")
    monkeypatch.setenv("SECONDLOOK_NOTIFY_WEBHOOK_SECRET", "hook-secret-value")
    _admin(browser, clinic)
    page = browser.get("/admin/settings")
    assert page.status_code == 200
    for shown in (
        "911",
        "988 Lifeline",
        "10 minutes",
        "4 hours",
        "mail.example.org:587",
        "secondlook@example.org",
    ):
        assert shown in page.text
    for secret in ("relay-secret-value", "T0k3nInUrl", "hook-secret-value"):
        assert secret not in page.text
    assert "SECONDLOOK_CARE_TEAM_CONTACT" in page.text  # the unset one says where it comes from
    assert _events(web_engine, "settings.read", clinic.id)


def test_the_audit_trail_is_newest_first_filtered_and_paged(
    browser: TestClient,
    clinic: factories.Clinic,
    web_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clinician = clinic.clinician
    factories.signed_in(browser, clinician)
    for _ in range(3):
        assert browser.get(f"/clinic/patients/{clinic.patient.id}").status_code == 200
    _admin(browser, clinic)
    page = browser.get(
        "/admin/audit",
        params={
            "patient": str(clinic.patient.id),
            "user": str(clinician.user_id),
            "action": "patient.read",
        },
    )
    assert page.status_code == 200
    ids = [int(i) for i in re.findall(r'id="event-(\d+)"', page.text)]
    assert len(ids) == 3 and ids == sorted(ids, reverse=True)
    assert clinic.patient.name not in page.text  # an administrator sees ids, not patients
    assert '<option value="invitation.accept">' in page.text  # the filter offers every action
    today = dt.datetime.now(dt.UTC).date()
    tomorrow = today + dt.timedelta(days=1)
    assert not re.findall(
        r'id="event-(\d+)"', browser.get("/admin/audit", params={"from": tomorrow.isoformat()}).text
    )
    assert re.findall(
        r'id="event-(\d+)"',
        browser.get(
            "/admin/audit", params={"from": today.isoformat(), "to": today.isoformat()}
        ).text,
    )
    # Paging: the next page continues below the last event shown.
    from secondlook.web import admin

    monkeypatch.setattr(admin, "AUDIT_PAGE_SIZE", 2)
    first = browser.get("/admin/audit", params={"action": "patient.read"})
    older = re.search(r'href="(/admin/audit\?[^"]*before=\d+[^"]*)"', first.text)
    assert older is not None
    second = browser.get(older.group(1).replace("&amp;", "&"))
    first_ids = [int(i) for i in re.findall(r'id="event-(\d+)"', first.text)]
    second_ids = [int(i) for i in re.findall(r'id="event-(\d+)"', second.text)]
    assert first_ids and second_ids and max(second_ids) < min(first_ids)
    reads = _events(web_engine, "audit.read", clinic.id)
    assert len(reads) >= 4 and reads[-1].resource == "GET /admin/audit"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"patient": "twelve"}, "a patient record number"),
        ({"action": "DROP TABLE"}, "an action such as case.read"),
        ({"from": "2026-13-01"}, "a date such as"),
        ({"outcome": "maybe"}, "success, denied or failed"),
    ],
)
def test_a_filter_that_cannot_be_read_is_said_so(
    browser: TestClient, clinic: factories.Clinic, params: dict[str, str], message: str
) -> None:
    _admin(browser, clinic)
    page = browser.get("/admin/audit", params=params)
    assert page.status_code == 422
    assert message in page.text
    assert 'id="event-' not in page.text
