"""The safety loop end to end on SQLite and PostgreSQL: a PHQ-9 answered with item 9 = 2
becomes an alert in the inbox, the worker tells the configured staff by email (a real SMTP
server) without naming the patient, escalates when nobody acknowledges within the window (the
clock is the test's, not waited for), and stops once someone has acknowledged."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from sqlalchemy import Engine

sys.path.insert(0, str(Path(__file__).resolve().parent))
from notify_support import notify_engine, notify_url, smtp_server

import factories
from secondlook.platform.access import Access, Principal
from secondlook.platform.preconditions import IfMatchVersion
from secondlook.services import alerts, delivery, notifications, records
from secondlook.services.notifications import NotifySettings, Smtp
from secondlook.store import db
from secondlook.store.models import Patient

__all__ = ["notify_engine", "notify_url"]

ONCALL = "oncall@spine.example.org"


def _access(person: factories.Person) -> Access:
    principal = Principal(
        user_id=person.user_id,
        username=person.username,
        role=person.role,
        organization_id=person.organization_id,
        patient_id=person.patient_id,
        credential_id=0,
        credential_kind="test",
    )
    return Access(principal=principal, client="test", via="test")


def _settings(port: int) -> NotifySettings:
    smtp = Smtp(
        host="127.0.0.1",
        port=port,
        starttls=False,
        sender="secondlook@spine.example.org",
        username=None,
        password=None,
    )
    return NotifySettings(
        base_url="https://secondlook.example.org",
        smtp=smtp,
        alert_emails=(ONCALL,),
        escalation_windows=alerts.escalation_windows("safety=240"),
    )


def _drain(engine: Engine, settings: NotifySettings) -> delivery.Pass:
    channels = delivery.Channels(settings, timeout=10)
    return delivery.drain(
        db.make_sessionmaker(engine), channels.send, worker="test-worker", scrub=channels.scrub
    )


def test_a_self_harm_answer_reaches_the_inbox_the_staff_and_escalates_until_acknowledged(
    notify_engine: Engine,
) -> None:
    with factories.committed(notify_engine) as session:
        org = factories.organization(session)
        patient = factories.user(session, organization_id=org.id, role="patient")
        clinician = factories.user(session, organization_id=org.id, role="clinician")
        record = session.get(Patient, patient.patient_id)
        assert record is not None
        name = record.name
    sessions = db.make_sessionmaker(notify_engine)
    with sessions() as session:
        assert patient.patient_id is not None
        records.submit_questionnaire(
            session,
            access=_access(patient),
            patient_id=patient.patient_id,
            instrument="phq-9",
            answers=[0, 0, 0, 0, 0, 0, 0, 0, 2],
        )
        session.commit()
    with sessions() as session:
        [entry] = alerts.inbox(session, access=_access(clinician))
        session.commit()
    alert = entry.alert
    assert (alert.severity, alert.patient_id) == ("safety", patient.patient_id)
    raised = alert.raised_at if alert.raised_at.tzinfo else alert.raised_at.replace(tzinfo=dt.UTC)

    with smtp_server() as (box, port):
        settings = _settings(port)
        # The first notice, once however many rounds see the alert.
        assert delivery.alerts_step(sessions, settings, now=raised + dt.timedelta(minutes=1)) == 1
        assert delivery.alerts_step(sessions, settings, now=raised + dt.timedelta(minutes=2)) == 0
        assert _drain(notify_engine, settings).sent == 1
        box.wait_for(1)
        first = box.messages[0]
        assert first["To"] == ONCALL
        assert box.keys() == [f"alert:{alert.id}/0/{ONCALL}"]
        text = first.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        for secret in (name, "PHQ", "self-harm", str(patient.patient_id)):
            assert secret not in text and secret not in str(first["Subject"])
        assert "https://secondlook.example.org/clinic/worklists" in text

        # Nobody acknowledges: within the window nothing more, past it an escalation.
        assert delivery.alerts_step(sessions, settings, now=raised + dt.timedelta(hours=3)) == 0
        assert delivery.alerts_step(sessions, settings, now=raised + dt.timedelta(hours=4)) == 1
        assert _drain(notify_engine, settings).sent == 1
        box.wait_for(2)
        assert box.keys()[1] == f"alert:{alert.id}/1/{ONCALL}"
        with sessions() as session:
            [view] = alerts.inbox(session, access=_access(clinician))
            assert [e.kind for e in view.events] == ["raised", "escalated"]
            # Once someone has it, the escalation stops.
            alerts.acknowledge(
                session,
                access=_access(clinician),
                alert_id=alert.id,
                expected=IfMatchVersion(f'"{view.alert.version}"'),
            )
            session.commit()
        later = raised + dt.timedelta(hours=12)
        assert delivery.alerts_step(sessions, settings, now=later) == 0
        assert _drain(notify_engine, settings).sent == 0
    assert len(box.messages) == 2


def test_without_staff_recipients_the_alert_stays_in_the_inbox_and_nothing_is_queued(
    notify_engine: Engine,
) -> None:
    with factories.committed(notify_engine) as session:
        org = factories.organization(session)
        patient = factories.user(session, organization_id=org.id, role="patient")
        clinician = factories.user(session, organization_id=org.id, role="clinician")
    sessions = db.make_sessionmaker(notify_engine)
    with sessions() as session:
        assert patient.patient_id is not None
        records.submit_questionnaire(
            session,
            access=_access(patient),
            patient_id=patient.patient_id,
            instrument="phq-9",
            answers=[3, 3, 3, 3, 3, 3, 3, 3, 1],
        )
        session.commit()
    with sessions() as session:
        before = notifications.outbox_counts(session)
        [entry] = [
            v
            for v in alerts.inbox(session, access=_access(clinician))
            if v.alert.patient_id == patient.patient_id
        ]
        session.commit()
    nobody = NotifySettings(base_url="https://secondlook.example.org")
    assert delivery.alerts_step(sessions, nobody) == 0
    with sessions() as session:
        assert notifications.outbox_counts(session) == before
    assert entry.alert.status == "open"


def test_a_bad_escalation_window_is_refused_at_start_naming_the_variable_once() -> None:
    import pytest

    from secondlook.services.notifications import SettingsInvalid, load_settings

    with pytest.raises(SettingsInvalid) as refused:
        load_settings({"SECONDLOOK_ESCALATION_MINUTES": "emergency=soon"})
    message = str(refused.value)
    assert message.count("SECONDLOOK_ESCALATION_MINUTES") == 1
    assert "emergency window" in message and "'soon'" in message
    windows = load_settings({"SECONDLOOK_ESCALATION_MINUTES": "emergency=5"}).escalation_windows
    assert windows["emergency"] == dt.timedelta(minutes=5)
