"""The portal's reminder choice: a patient turns reminders on with an address and off again,
each change audited, a bad address or a stale form answered on the page; staff cannot use it."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

import factories
from secondlook.store.models import AuditEvent
from secondlook.store.notify_models import ReminderPreference

VERSION = re.compile(r'name="version" value="(\d+)"')


def _version(html: str) -> str:
    found = VERSION.search(html)
    assert found, html
    return found.group(1)


def test_a_patient_turns_reminders_on_and_off(
    patient: tuple[TestClient, str], clinic: factories.Clinic, web_engine: Engine
) -> None:
    client, token = patient
    page = client.get("/portal/reminders")
    assert page.status_code == 200
    assert "never your answers, results or health details" in page.text
    assert 'id="enabled-off" name="enabled" value="off" checked' in page.text
    on = client.post(
        "/portal/reminders",
        data={
            "csrf_token": token,
            "version": _version(page.text),
            "enabled": "on",
            "email": " ada@example.net ",
        },
    )
    assert on.status_code == 303 and on.headers["location"] == "/portal/reminders?saved=1"
    saved = client.get("/portal/reminders?saved=1").text
    assert "We will email you when a questionnaire is waiting." in saved
    assert 'value="ada@example.net"' in saved
    off = client.post(
        "/portal/reminders",
        data={"csrf_token": token, "version": _version(saved), "enabled": "off", "email": ""},
    )
    assert off.status_code == 303
    user_id = clinic.patient_user.user_id
    with factories.committed(web_engine) as session:
        choice = session.get(ReminderPreference, user_id)
        assert choice is not None and (choice.enabled, choice.email) == (False, None)
        acts = session.scalars(
            select(AuditEvent.action).where(AuditEvent.actor_user_id == user_id)
        ).all()
    assert acts.count("reminder.update") == 2 and acts.count("reminder.read") >= 2


def test_a_bad_address_or_a_stale_form_is_answered_on_the_page(
    patient: tuple[TestClient, str],
) -> None:
    client, token = patient
    version = _version(client.get("/portal/reminders").text)
    bad = client.post(
        "/portal/reminders",
        data={"csrf_token": token, "version": version, "enabled": "on", "email": "ada at home"},
    )
    assert bad.status_code == 422
    assert "That is not an email address" in bad.text
    assert 'value="ada at home"' in bad.text  # what was typed is kept to correct
    missing = client.post(
        "/portal/reminders",
        data={"csrf_token": token, "version": version, "enabled": "on", "email": ""},
    )
    assert missing.status_code == 422 and "need an email address" in missing.text
    assert (
        client.post(
            "/portal/reminders",
            data={"csrf_token": token, "version": version, "enabled": "on", "email": "a@b.org"},
        ).status_code
        == 303
    )
    stale = client.post(
        "/portal/reminders",
        data={"csrf_token": token, "version": version, "enabled": "off", "email": ""},
    )
    assert stale.status_code == 412
    assert "changed in another window" in stale.text
    without = client.post(
        "/portal/reminders", data={"csrf_token": token, "enabled": "off", "email": ""}
    )
    assert without.status_code == 428


def test_the_reminder_form_needs_its_security_token(patient: tuple[TestClient, str]) -> None:
    client, _ = patient
    refused = client.post("/portal/reminders", data={"version": "1", "enabled": "off"})
    assert refused.status_code == 403


def test_staff_have_no_reminder_page(browser: TestClient, clinic: factories.Clinic) -> None:
    factories.signed_in(browser, clinic.clinician)
    assert browser.get("/portal/reminders").status_code == 403
