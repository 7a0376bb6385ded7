"""Notifications end to end on SQLite and PostgreSQL: a patient's reminder and a staff alert
go through the outbox and the worker to a real SMTP server and a real webhook receiver, once
each, carrying their idempotency keys, with every send audited; a relay that refuses leads
to retries, not to a lost message; bad settings are refused at start, naming the variable."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from notify_support import (
    notify_engine,
    notify_url,
    self_signed,
    smtp_server,
    webhook_receiver,
)

import factories
from secondlook.platform.access import Access, Principal
from secondlook.platform.errors import Refused
from secondlook.platform.preconditions import IfMatchVersion
from secondlook.services import care, delivery, notifications
from secondlook.services.notifications import NotifySettings, SettingsInvalid, Smtp
from secondlook.store import db
from secondlook.store.models import AuditEvent, Patient
from secondlook.store.notify_models import OutboxMessage

__all__ = ["notify_engine", "notify_url"]  # fixtures used by the tests below

SECRET = "hook-secret-for-tests"


def settings_for(
    smtp_port: int | None = None, hook: str | None = None, emails: tuple[str, ...] = ()
) -> NotifySettings:
    smtp = (
        Smtp(
            host="127.0.0.1",
            port=smtp_port,
            starttls=False,
            sender="secondlook@spine.example.org",
            username=None,
            password=None,
        )
        if smtp_port
        else None
    )
    return NotifySettings(
        base_url="https://secondlook.example.org",
        smtp=smtp,
        webhook_url=hook,
        webhook_secret=SECRET if hook else None,
        alert_emails=emails,
    )


def access(person: factories.Person) -> Access:
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


def drain(engine: Engine, settings: NotifySettings, **options: object) -> delivery.Pass:
    channels = delivery.Channels(settings, timeout=10)
    return delivery.drain(
        db.make_sessionmaker(engine),
        channels.send,
        worker="test-worker",
        scrub=channels.scrub,
        **options,  # type: ignore[arg-type]
    )


def sends(engine: Engine) -> list[tuple[str, str, int | None]]:
    with db.make_sessionmaker(engine)() as session:
        rows = session.execute(
            select(AuditEvent.outcome, AuditEvent.actor_username, AuditEvent.patient_id)
            .where(AuditEvent.action == "notification.send")
            .order_by(AuditEvent.id)
        )
        return [(str(o), str(u), p) for o, u, p in rows]


def outbox(engine: Engine) -> list[OutboxMessage]:
    with db.make_sessionmaker(engine)() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_a_patient_who_chose_reminders_is_emailed_once_without_clinical_content(
    notify_engine: Engine,
) -> None:
    with factories.committed(notify_engine) as session:
        org = factories.organization(session, name="Riverside Spine Center")
        patient = factories.user(session, organization_id=org.id, role="patient")
        quiet = factories.user(session, organization_id=org.id, role="patient")
    with db.make_sessionmaker(notify_engine)() as session:
        chosen = notifications.set_reminders(
            session,
            access=access(patient),
            enabled=True,
            email="ada@example.net",
            if_match=IfMatchVersion.of(1),
        )
        assert chosen.version == 2
        # The other patient never chose reminders: nothing is sent to them.
        assert notifications.reminders(session, access=access(quiet)).enabled is False

    with smtp_server() as (box, port):
        settings = settings_for(port)
        sessions = db.make_sessionmaker(notify_engine)
        # Nothing answered and no plan: every portal questionnaire is due, in one message.
        assert delivery.reminders_step(sessions, settings) == 1
        assert drain(notify_engine, settings).sent == 1
        # Computed again (the worker does it every hour): the same due date is not reminded
        # twice, and the outbox adds nothing.
        assert delivery.reminders_step(sessions, settings) == 0
        assert drain(notify_engine, settings).claimed == 0

    assert len(box.messages) == 1
    mail = box.messages[0]
    assert mail["To"] == "ada@example.net"
    assert mail["X-SecondLook-Idempotency-Key"] == f"reminder/{patient.patient_id}/first"
    assert mail["Message-ID"].endswith("@spine.example.org>")
    text = mail.get_content()
    assert "questionnaire to answer for your care team at Riverside Spine Center" in text
    assert "https://secondlook.example.org/portal" in text
    # No clinical content: no instrument, score or diagnosis, and not the patient's name.
    with db.make_sessionmaker(notify_engine)() as session:
        record = session.get(Patient, patient.patient_id)
        assert record is not None
        name = record.name
    for word in ("PHQ", "ODI", "GAD", "NDI", "score", "pain", "depress", name):
        assert word.lower() not in (text + str(mail["Subject"])).lower()
    assert sends(notify_engine) == [("success", "worker", patient.patient_id)]
    assert [m.status for m in outbox(notify_engine)] == ["sent"]


def test_a_patient_stops_reminders_and_nothing_more_is_queued(notify_engine: Engine) -> None:
    with factories.committed(notify_engine) as session:
        org = factories.organization(session)
        patient = factories.user(session, organization_id=org.id, role="patient")
    sessions = db.make_sessionmaker(notify_engine)
    with sessions() as session:
        on = notifications.set_reminders(
            session,
            access=access(patient),
            enabled=True,
            email="bo@example.net",
            if_match=IfMatchVersion.of(1),
        )
    with sessions() as session:
        with pytest.raises(Refused) as stale:
            notifications.set_reminders(
                session,
                access=access(patient),
                enabled=False,
                email=None,
                if_match=IfMatchVersion.of(1),
            )
        assert stale.value.status == 412
        with pytest.raises(Refused) as missing:
            notifications.set_reminders(
                session,
                access=access(patient),
                enabled=False,
                email=None,
                if_match=IfMatchVersion(None),
            )
        assert missing.value.status == 428
        off = notifications.set_reminders(
            session,
            access=access(patient),
            enabled=False,
            email="bo@example.net",
            if_match=IfMatchVersion.of(on.version),
        )
        assert (off.enabled, off.email, off.version) == (False, "bo@example.net", 3)
    assert delivery.reminders_step(sessions, settings_for(2525)) == 0
    assert outbox(notify_engine) == []
    with sessions() as session:
        acts = session.scalars(
            select(AuditEvent.action).where(AuditEvent.actor_username == patient.username)
        ).all()
    assert acts.count("reminder.update") == 4  # two changes and two refusals, all on record


def test_a_bad_reminder_address_is_a_clear_422(notify_engine: Engine) -> None:
    with factories.committed(notify_engine) as session:
        patient = factories.user(
            session, organization_id=factories.organization(session).id, role="patient"
        )
    with db.make_sessionmaker(notify_engine)() as session:
        for email in ("not an address", None):
            with pytest.raises(Refused) as refused:
                notifications.set_reminders(
                    session,
                    access=access(patient),
                    enabled=True,
                    email=email,
                    if_match=IfMatchVersion.of(1),
                )
            assert refused.value.status == 422
            assert refused.value.errors[0].path == "email"  # type: ignore[index]


def test_staff_are_told_of_an_alert_by_email_and_webhook_once_naming_no_patient(
    notify_engine: Engine,
) -> None:
    with factories.committed(notify_engine) as session:
        org = factories.organization(session, name="Hillside Spine")
        patient = factories.patient(session, organization_id=org.id, name="Zed Private")
    with smtp_server() as (box, port), webhook_receiver() as (hook, url):
        settings = settings_for(port, url, ("oncall@spine.example.org", "lead@spine.example.org"))
        with db.make_sessionmaker(notify_engine)() as session:
            added = notifications.notify_staff_of_alert(
                session, settings=settings, organization_id=org.id, alert_key="alert:7"
            )
            # The same alert raised again in the same or a later transaction adds nothing.
            again = notifications.notify_staff_of_alert(
                session, settings=settings, organization_id=org.id, alert_key="alert:7"
            )
            session.commit()
        assert (added, again) == (3, 0)
        assert drain(notify_engine, settings).sent == 3
        assert drain(notify_engine, settings).claimed == 0

    assert sorted(m["To"] for m in box.messages) == [
        "lead@spine.example.org",
        "oncall@spine.example.org",
    ]
    assert sorted(box.keys()) == [
        "alert:7/0/lead@spine.example.org",
        "alert:7/0/oncall@spine.example.org",
    ]
    assert hook.keys() == ["alert:7/0/webhook"]
    assert hook.signed(SECRET)
    (payload,) = hook.bodies()
    assert payload["idempotency_key"] == "alert:7/0/webhook"
    assert "https://secondlook.example.org/clinic/worklists" in payload["text"]
    for text in [m.get_content() for m in box.messages] + [payload["text"]]:
        assert "An urgent alert needs attention in SecondLook" in text
        assert "Zed" not in text and "Private" not in text and str(patient.id) not in text
    assert [o for o, _, _ in sends(notify_engine)] == ["success"] * 3


def test_an_escalation_is_a_new_message_with_its_own_key(notify_engine: Engine) -> None:
    with factories.committed(notify_engine) as session:
        org = factories.organization(session)
    with webhook_receiver() as (hook, url):
        settings = settings_for(hook=url)
        with db.make_sessionmaker(notify_engine)() as session:
            notifications.notify_staff_of_alert(
                session, settings=settings, organization_id=org.id, alert_key="alert:9"
            )
            notifications.notify_staff_of_alert(
                session,
                settings=settings,
                organization_id=org.id,
                alert_key="alert:9",
                escalation=1,
            )
            session.commit()
        drain(notify_engine, settings)
    assert hook.keys() == ["alert:9/0/webhook", "alert:9/1/webhook"]
    assert "escalated to you" in hook.bodies()[1]["text"]


def test_a_refusing_relay_leads_to_retries_until_it_accepts(notify_engine: Engine) -> None:
    with factories.committed(notify_engine) as session:
        org = factories.organization(session)
    with smtp_server(refuse="451 4.3.0 try again later") as (box, port):
        settings = settings_for(port, emails=("oncall@spine.example.org",))
        with db.make_sessionmaker(notify_engine)() as session:
            notifications.notify_staff_of_alert(
                session, settings=settings, organization_id=org.id, alert_key="alert:3"
            )
            session.commit()
        first = drain(notify_engine, settings)
        assert (first.sent, first.retried) == (0, 1)
        (row,) = outbox(notify_engine)
        assert (row.status, row.attempts) == ("pending", 1)
        assert row.last_error is not None and "451" in row.last_error
        assert row.next_attempt_at > dt.datetime.now(dt.UTC)
        # Not due yet: a second pass now does not hammer the relay.
        assert drain(notify_engine, settings).claimed == 0
        # An alert is never given up: after many refusals it is still waiting to be sent.
        later = dt.datetime.now(dt.UTC)
        for _ in range(12):
            later += dt.timedelta(hours=2)
            drain(notify_engine, settings, now=lambda at=later: at)
        (row,) = outbox(notify_engine)
        assert (row.status, row.attempts) == ("pending", 13)
        box.refuse = None  # the relay is back
        moment = later + dt.timedelta(hours=2)
        assert drain(notify_engine, settings, now=lambda: moment).sent == 1
    assert box.keys() == ["alert:3/0/oncall@spine.example.org"]
    (row,) = outbox(notify_engine)
    assert (row.status, row.last_error) == ("sent", None)
    outcomes = [o for o, _, _ in sends(notify_engine)]
    assert outcomes == ["failed"] * 13 + ["success"]


def test_a_reminder_refused_for_good_is_given_up_and_says_why(notify_engine: Engine) -> None:
    with factories.committed(notify_engine) as session:
        org = factories.organization(session)
        patient = factories.patient(session, organization_id=org.id, example=None)
    with smtp_server(refuse="550 5.1.1 no such mailbox") as (_box, port):
        settings = settings_for(port)
        with db.make_sessionmaker(notify_engine)() as session:
            notifications.enqueue(
                session,
                kind="reminder",
                recipient="gone@example.net",
                template="patient-reminder",
                context={"site": "Test", "link": "https://secondlook.example.org/portal"},
                idempotency_key=f"reminder/{patient.id}/first",
                organization_id=org.id,
                patient_id=patient.id,
            )
            session.commit()
        assert drain(notify_engine, settings).failed == 1
    (row,) = outbox(notify_engine)
    assert row.status == "failed" and row.last_error is not None and "550" in row.last_error


def test_a_webhook_error_never_stores_its_url_or_secret(notify_engine: Engine) -> None:
    with factories.committed(notify_engine) as session:
        org = factories.organization(session)
    with webhook_receiver(status=503) as (_hook, url):
        secret_url = f"{url}?token=very-secret-token"
        settings = settings_for(hook=secret_url)
        with db.make_sessionmaker(notify_engine)() as session:
            notifications.notify_staff_of_alert(
                session, settings=settings, organization_id=org.id, alert_key="alert:5"
            )
            session.commit()
        assert drain(notify_engine, settings).retried == 1
    (row,) = outbox(notify_engine)
    assert row.last_error == "webhook answered 503"
    with db.make_sessionmaker(notify_engine)() as session:
        details = session.scalars(select(AuditEvent.detail)).all()
        count = session.scalar(select(func.count()).select_from(AuditEvent))
    assert count and not any("very-secret" in (d or "") or SECRET in (d or "") for d in details)


def test_enqueue_refuses_unknown_templates_fields_and_recipients(notify_engine: Engine) -> None:
    with factories.committed(notify_engine) as session:
        org = factories.organization(session)
    bad: list[dict[str, object]] = [
        {"template": "nope"},
        {"context": {"site": "x", "link": "y", "patient": "Ada"}},
        {"recipient": "someone"},
        {"idempotency_key": "has spaces"},
    ]
    with db.make_sessionmaker(notify_engine)() as session:
        for change in bad:
            call: dict[str, object] = {
                "kind": "alert",
                "recipient": "a@example.org",
                "template": "staff-alert",
                "context": {"site": "x", "link": "y"},
                "idempotency_key": "k",
                "organization_id": org.id,
                **change,
            }
            with pytest.raises(ValueError, match=r"template|recipient|key"):
                notifications.enqueue(session, **call)  # type: ignore[arg-type]
    assert outbox(notify_engine) == []


@pytest.mark.parametrize(
    ("environ", "says"),
    [
        ({"SECONDLOOK_SMTP_PORT": "25"}, "SECONDLOOK_SMTP_HOST is not"),
        ({"SECONDLOOK_SMTP_HOST": "relay"}, "SECONDLOOK_SMTP_FROM is required"),
        (
            {
                "SECONDLOOK_SMTP_HOST": "relay",
                "SECONDLOOK_SMTP_FROM": "a@b.org",
                "SECONDLOOK_SMTP_PORT": "x",
            },
            "SECONDLOOK_SMTP_PORT 'x' must be 1 to 65535",
        ),
        (
            {"SECONDLOOK_SMTP_HOST": "relay", "SECONDLOOK_SMTP_FROM": "nobody"},
            "SECONDLOOK_SMTP_FROM: 'nobody' is not an email address",
        ),
        (
            {
                "SECONDLOOK_SMTP_HOST": "relay",
                "SECONDLOOK_SMTP_FROM": "a@b.org",
                "SECONDLOOK_SMTP_USERNAME": "u",
            },
            "go together",
        ),
        (
            {
                "SECONDLOOK_SMTP_HOST": "relay",
                "SECONDLOOK_SMTP_FROM": "a@b.org",
                "SECONDLOOK_SMTP_STARTTLS": "maybe",
            },
            "SECONDLOOK_SMTP_STARTTLS 'maybe' must be true or false",
        ),
        (
            {
                "SECONDLOOK_SMTP_HOST": "relay.example.org",
                "SECONDLOOK_SMTP_FROM": "a@b.org",
                "SECONDLOOK_SMTP_STARTTLS": "false",
                "SECONDLOOK_SMTP_USERNAME": "u",
                "SECONDLOOK_SMTP_PASSWORD": "p",
            },
            "would be sent unencrypted",
        ),
        ({"SECONDLOOK_NOTIFY_WEBHOOK_URL": "ftp://pager"}, "must be an http(s) URL"),
        ({"SECONDLOOK_NOTIFY_WEBHOOK_URL": "http://pager.example.org/x"}, "must use https"),
        ({"SECONDLOOK_NOTIFY_WEBHOOK_SECRET": "s"}, "SECONDLOOK_NOTIFY_WEBHOOK_URL is not"),
        ({"SECONDLOOK_ALERT_EMAILS": "a@b.org"}, "needs an SMTP relay"),
        (
            {
                "SECONDLOOK_SMTP_HOST": "relay",
                "SECONDLOOK_SMTP_FROM": "a@b.org",
                "SECONDLOOK_ALERT_EMAILS": "a@b.org; oops",
            },
            "SECONDLOOK_ALERT_EMAILS: 'oops' is not an email address",
        ),
    ],
)
def test_bad_settings_are_refused_naming_the_variable(environ: dict[str, str], says: str) -> None:
    with pytest.raises(SettingsInvalid, match=r".*") as refused:
        notifications.load_settings(environ)
    assert says in str(refused.value)


def test_good_settings_are_read() -> None:
    settings = notifications.load_settings(
        {
            "SECONDLOOK_SMTP_HOST": "relay.example.org",
            "SECONDLOOK_SMTP_FROM": "secondlook@example.org",
            "SECONDLOOK_SMTP_USERNAME": "u",
            "SECONDLOOK_SMTP_PASSWORD": "p",
            "SECONDLOOK_ALERT_EMAILS": "a@example.org; b@example.org",
            "SECONDLOOK_NOTIFY_WEBHOOK_URL": "https://pager.example.org/hook",
        }
    )
    assert settings.smtp is not None and (settings.smtp.port, settings.smtp.starttls) == (587, True)
    assert settings.staff_recipients == ("a@example.org", "b@example.org", "webhook")
    assert notifications.load_settings({}) == NotifySettings(base_url="http://localhost:8000")


@pytest.mark.parametrize("command", ["worker", "serve"])
def test_the_worker_and_the_server_refuse_bad_settings_at_start(
    command: str, tmp_path: Path
) -> None:
    secondlook = Path(sys.executable).parent / "secondlook"
    done = subprocess.run(
        [str(secondlook), command, "--data-dir", str(tmp_path), "--once"][
            : 4 if command == "serve" else 5
        ],
        env={"PATH": "/usr/bin:/bin", "SECONDLOOK_ALERT_EMAILS": "oncall@example.org"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "SECONDLOOK_ALERT_EMAILS needs an SMTP relay" in done.stderr
    assert "Traceback" not in done.stderr


def test_reminders_follow_the_plans_schedule_once_per_due_date(notify_engine: Engine) -> None:
    """With a plan, what is due is the plan's questionnaire schedule (services.care, as the
    portal shows it): each due date is reminded once, on the day it falls due or later."""
    with factories.committed(notify_engine) as session:
        clinic = factories.clinic(session)
        plan = factories.plan(session, organization_id=clinic.id, patient_id=clinic.patient.id)
        start = plan.start_on
    patient = clinic.patient_user
    sessions = db.make_sessionmaker(notify_engine)
    with sessions() as session:
        notifications.set_reminders(
            session,
            access=access(patient),
            enabled=True,
            email="cy@example.net",
            if_match=IfMatchVersion.of(1),
        )
    settings = settings_for(2525)
    keys: list[str] = []
    for offset in range(0, 400, 10):
        day = start + dt.timedelta(days=offset)
        with sessions() as session:
            due = care.portal_due_occasions_in(
                session, organization_id=clinic.id, patient_id=clinic.patient.id, on=day
            )
            added = notifications.enqueue_due_reminders(session, settings=settings, on=day)
            again = notifications.enqueue_due_reminders(session, settings=settings, on=day)
        now_queued = [m.idempotency_key for m in outbox(notify_engine)]
        assert (added, again) == (len(now_queued) - len(keys), 0)
        assert {f"reminder/{clinic.patient.id}/{d.due.isoformat()}" for d in due if d.due} <= set(
            now_queued
        )
        keys = now_queued
    assert len(keys) >= 2  # several due dates over the year, each reminded once
    assert all(m.recipient == "cy@example.net" for m in outbox(notify_engine))


def test_the_worker_loop_survives_a_database_outage(notify_engine: Engine) -> None:
    """A round that fails (the database restarting) is logged and retried after the pause;
    the loop does not die with the notification unsent."""
    import threading

    from sqlalchemy.exc import OperationalError

    with factories.committed(notify_engine) as session:
        org = factories.organization(session)
    real = db.make_sessionmaker(notify_engine)
    calls = {"made": 0, "refused": 0}

    def sessions() -> object:
        calls["made"] += 1
        # The first session is the worker's start; the next three rounds find no database.
        if 2 <= calls["made"] <= 4:
            calls["refused"] += 1
            raise OperationalError("SELECT 1", {}, Exception("the database is restarting"))
        return real()

    with smtp_server() as (box, port):
        settings = settings_for(port, emails=("oncall@spine.example.org",))
        with real() as session:
            notifications.notify_staff_of_alert(
                session, settings=settings, organization_id=org.id, alert_key="alert:11"
            )
            session.commit()
        stop = threading.Event()
        worker = threading.Thread(
            target=delivery.serve,
            args=(sessions, settings),
            kwargs={"worker": "looping", "stop": stop, "poll": 0.01},
        )
        worker.start()
        try:
            box.wait_for(1)
        finally:
            stop.set()
            worker.join(timeout=60)
    assert calls["refused"] == 3
    assert box.keys() == ["alert:11/0/oncall@spine.example.org"]


def test_email_goes_over_starttls_with_the_relays_sign_in(
    notify_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The usual relay: STARTTLS with a certificate the client verifies, then a sign-in. A
    wrong password is retried (the site's setting to fix), and never written anywhere."""
    cert, key = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust the test's own certificate
    with factories.committed(notify_engine) as session:
        org = factories.organization(session)
    with smtp_server(tls=(cert, key), login=("relay-user", "relay-pass-1")) as (box, port):
        environ = {
            "SECONDLOOK_SMTP_HOST": "127.0.0.1",
            "SECONDLOOK_SMTP_PORT": str(port),
            "SECONDLOOK_SMTP_FROM": "secondlook@spine.example.org",
            "SECONDLOOK_SMTP_USERNAME": "relay-user",
            "SECONDLOOK_SMTP_PASSWORD": "wrong-pass-9",
            "SECONDLOOK_ALERT_EMAILS": "oncall@spine.example.org",
        }
        wrong = notifications.load_settings(environ)
        assert wrong.smtp is not None and wrong.smtp.starttls  # the default
        with db.make_sessionmaker(notify_engine)() as session:
            notifications.notify_staff_of_alert(
                session, settings=wrong, organization_id=org.id, alert_key="alert:21"
            )
            session.commit()
        assert drain(notify_engine, wrong).retried == 1
        (row,) = outbox(notify_engine)
        assert row.status == "pending" and row.last_error and "535" in row.last_error
        right = notifications.load_settings({**environ, "SECONDLOOK_SMTP_PASSWORD": "relay-pass-1"})
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        assert drain(notify_engine, right, now=lambda: later).sent == 1
    # The wrong password was refused (smtplib tries each mechanism), the right one taken once.
    assert False in box.logins and box.logins[-1] is True and box.logins.count(True) == 1
    assert box.keys() == ["alert:21/0/oncall@spine.example.org"]
    with db.make_sessionmaker(notify_engine)() as session:
        stored = [
            *session.scalars(select(AuditEvent.detail)),
            *session.scalars(select(OutboxMessage.last_error)),
        ]
    assert not any("pass" in (text or "") for text in stored)
