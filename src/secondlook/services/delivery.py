"""The worker's side of the outbox (docs/notifications.md): claim due notifications, send each
through its channel (an SMTP relay, a webhook), record the outcome and audit every send.

Delivery is at least once: a worker killed between a send and its record leaves the row
claimed; once its lease runs out (or a worker of the same name restarts) the row is sent
again, with the same idempotency key, so that the receiver can recognise the repeat. The
outbox itself records each notification as sent once."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import smtplib
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime

import httpx
from sqlalchemy.orm import Session, sessionmaker

from secondlook.services import alerts
from secondlook.services.notifications import (
    NotifySettings,
    enqueue_due_reminders,
    notify_staff_of_alert,
    notify_staff_of_new_alerts,
)
from secondlook.store import audit
from secondlook.store import outbox as store
from secondlook.store.models import utcnow
from secondlook.store.notify_models import OutboxMessage

log = logging.getLogger("secondlook.worker")

#: Retries wait 30 s, 1, 2, 4... minutes, at most an hour: a relay that is down for a while is
#: retried without being hammered.
FIRST_RETRY = dt.timedelta(seconds=30)
LONGEST_WAIT = dt.timedelta(hours=1)
#: A reminder is given up after this many attempts (about four hours of retries). An alert is
#: never given up: it is retried at LONGEST_WAIT until it is sent, and the inbox shows it
#: meanwhile, because a safety alert must not be dropped.
REMINDER_ATTEMPTS = 8
GIVES_UP = frozenset({"reminder"})


class DeliveryError(Exception):
    """A send that did not happen. ``permanent``: retrying the same message cannot help (a
    refused recipient, a 4xx from the webhook). The text names no secret."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


@dataclass(frozen=True)
class Outgoing:
    """A claimed row as the channels need it, read before the claim commits, so that nothing
    is sent while a transaction (and on SQLite the write lock) is open."""

    id: int
    organization_id: int
    patient_id: int | None
    kind: str
    channel: str
    recipient: str
    subject: str
    body: str
    idempotency_key: str
    attempts: int
    created_at: dt.datetime

    @classmethod
    def of(cls, row: OutboxMessage) -> Outgoing:
        return cls(
            id=row.id,
            organization_id=row.organization_id,
            patient_id=row.patient_id,
            kind=row.kind,
            channel=row.channel,
            recipient=row.recipient,
            subject=row.subject,
            body=row.body,
            idempotency_key=row.idempotency_key,
            attempts=row.attempts,
            created_at=row.created_at,
        )


class Channels:
    """Sends one notification by email (smtplib, the site's relay) or webhook (httpx)."""

    def __init__(self, settings: NotifySettings, *, timeout: float = 30.0) -> None:
        self.settings = settings
        self.timeout = timeout

    def send(self, message: Outgoing) -> None:
        if message.channel == "email":
            self._email(message)
        else:
            self._webhook(message)

    def _secrets(self) -> tuple[str, ...]:
        smtp = self.settings.smtp
        return tuple(
            s
            for s in (
                smtp.password if smtp else None,
                self.settings.webhook_secret,
                self.settings.webhook_url,
            )
            if s
        )

    def scrub(self, text: str) -> str:
        """An error text safe to store and log: no password, secret or webhook URL in it."""
        for secret in self._secrets():
            text = text.replace(secret, "[hidden]")
        return " ".join(text.split())[:500]

    def _email(self, message: Outgoing) -> None:
        smtp = self.settings.smtp
        if smtp is None:
            raise DeliveryError("no SMTP relay configured (SECONDLOOK_SMTP_HOST)")
        mail = EmailMessage()
        mail["From"] = smtp.sender
        mail["To"] = message.recipient
        mail["Subject"] = message.subject
        mail["Date"] = format_datetime(message.created_at)
        # The same key gives the same Message-ID, so a mail system also sees a repeat as one.
        digest = hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:40]
        mail["Message-ID"] = f"<{digest}@{smtp.sender.rsplit('@', 1)[1]}>"
        mail["X-SecondLook-Idempotency-Key"] = message.idempotency_key
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to this
        mail.set_content(message.body)
        try:
            with smtplib.SMTP(smtp.host, smtp.port, timeout=self.timeout) as client:
                client.ehlo()
                if smtp.starttls:
                    client.starttls(context=ssl.create_default_context())
                    client.ehlo()
                if smtp.username and smtp.password:
                    client.login(smtp.username, smtp.password)
                client.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            raise DeliveryError(
                f"SMTP relay refused the recipient ({', '.join(map(str, codes))})",
                permanent=all(500 <= c < 600 for c in codes),
            ) from None
        except smtplib.SMTPResponseException as exc:
            raw = exc.smtp_error
            reply = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
            code = exc.smtp_code
            # A 5xx reply refuses this message for good, except a refused sign-in (530-538),
            # which is the site's setting to fix: then every message waits for the fix.
            raise DeliveryError(
                self.scrub(f"SMTP relay answered {code} {reply}"),
                permanent=500 <= code < 600 and not 530 <= code <= 538,
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(
                self.scrub(f"SMTP relay {smtp.host}:{smtp.port} unreachable: {type(exc).__name__}")
            ) from None

    def _webhook(self, message: Outgoing) -> None:
        url = self.settings.webhook_url
        if url is None:
            raise DeliveryError("no webhook configured (SECONDLOOK_NOTIFY_WEBHOOK_URL)")
        body = json.dumps(
            {
                "idempotency_key": message.idempotency_key,
                "kind": message.kind,
                "subject": message.subject,
                "text": message.body,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": message.idempotency_key}
        secret = self.settings.webhook_secret
        if secret:
            signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-SecondLook-Signature"] = f"sha256={signature}"
        try:
            answer = httpx.post(url, content=body, headers=headers, timeout=self.timeout)
        except httpx.HTTPError as exc:
            # Never the URL: it may carry the receiver's token.
            raise DeliveryError(f"webhook unreachable: {type(exc).__name__}") from None
        if answer.is_success:
            return
        status = answer.status_code
        permanent = 400 <= status < 500 and status not in (408, 425, 429)
        raise DeliveryError(f"webhook answered {status}", permanent=permanent)


Sender = Callable[[Outgoing], None]


@dataclass
class Pass:
    """What one pass of the worker did."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    lost_leases: int = 0

    def add(self, other: Pass) -> None:
        self.claimed += other.claimed
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.lost_leases += other.lost_leases


def retry_at(message: Outgoing, now: dt.datetime, *, permanent: bool) -> dt.datetime | None:
    """When to try again, or None to give up (reminders only: an alert is never given up)."""
    if message.kind in GIVES_UP and (permanent or message.attempts >= REMINDER_ATTEMPTS):
        return None
    wait: dt.timedelta = FIRST_RETRY * 2 ** max(0, min(message.attempts - 1, 20))
    return now + min(wait, LONGEST_WAIT)


def _audit(session: Session, worker: str, message: Outgoing, ok: bool, detail: str | None) -> None:
    audit.record(
        session,
        actor=None,
        organization_id=message.organization_id,
        username="worker",
        action="notification.send",
        resource=f"worker {message.channel} {message.kind} notification {message.id}",
        outcome="success" if ok else "failed",
        status=200 if ok else 502,
        patient_id=message.patient_id,
        client=worker,
        detail=detail,
    )


def run_once(
    sessions: sessionmaker[Session],
    send: Sender,
    *,
    worker: str,
    scrub: Callable[[str], str] = str,
    batch: int = 20,
    lease: dt.timedelta = dt.timedelta(minutes=2),
    now: Callable[[], dt.datetime] = utcnow,
) -> Pass:
    """Claim one batch, send it, record each outcome (with its audit event) as it happens."""
    done = Pass()
    with sessions() as session:
        claimed: Sequence[Outgoing] = [
            Outgoing.of(row)
            for row in store.claim(session, worker=worker, now=now(), lease=lease, limit=batch)
        ]
        session.commit()
    done.claimed = len(claimed)
    for message in claimed:
        error: DeliveryError | None = None
        try:
            send(message)
        except DeliveryError as exc:
            error = exc
        except Exception as exc:  # an unexpected failure is a failed attempt, not a lost row
            log.exception("sending notification %s failed unexpectedly", message.id)
            error = DeliveryError(scrub(f"unexpected {type(exc).__name__}"))
        with sessions() as session:
            at = now()
            if error is None:
                kept = store.mark_sent(session, message_id=message.id, worker=worker, now=at)
                outcome = "sent"
            else:
                text = scrub(str(error))
                when = retry_at(message, at, permanent=error.permanent)
                kept = store.mark_unsent(
                    session, message_id=message.id, worker=worker, error=text, retry_at=when
                )
                outcome = "retry" if when is not None else "failed"
                log.warning(
                    "notification %s (%s, attempt %s): %s; %s",
                    message.id,
                    message.kind,
                    message.attempts,
                    text,
                    f"retry at {when.isoformat()}" if when else "given up",
                )
            if not kept:
                # Another worker took the row over after our lease ran out; it records the
                # outcome. Our send (if any) was a repeat the key lets the receiver drop.
                done.lost_leases += 1
                session.rollback()
                continue
            _audit(session, worker, message, error is None, None if error is None else text)
            session.commit()
        if outcome == "sent":
            done.sent += 1
        elif outcome == "retry":
            done.retried += 1
        else:
            done.failed += 1
    return done


def drain(
    sessions: sessionmaker[Session],
    send: Sender,
    *,
    worker: str,
    scrub: Callable[[str], str] = str,
    batch: int = 20,
    lease: dt.timedelta = dt.timedelta(minutes=2),
    now: Callable[[], dt.datetime] = utcnow,
) -> Pass:
    """Pass after pass until nothing is due (what is waiting for a retry is left for later)."""
    total = Pass()
    while True:
        done = run_once(
            sessions, send, worker=worker, scrub=scrub, batch=batch, lease=lease, now=now
        )
        total.add(done)
        if done.claimed == 0:
            return total


def start(sessions: sessionmaker[Session], *, worker: str) -> int:
    """What a worker does when it starts: take back what a worker of the same name had
    claimed when it died (nobody is sending those). Returns how many."""
    with sessions() as session:
        released = store.release_own(session, worker=worker, now=utcnow())
        session.commit()
    if released:
        log.warning(
            "worker %s restarted: %s notifications it had claimed are due again", worker, released
        )
    return released


def reminders_step(
    sessions: sessionmaker[Session], settings: NotifySettings, *, on: dt.date | None = None
) -> int:
    """Enqueue the reminders due today (each once, however often this runs)."""
    with sessions() as session:
        return enqueue_due_reminders(session, settings=settings, on=on)


def alerts_step(
    sessions: sessionmaker[Session], settings: NotifySettings, *, now: dt.datetime | None = None
) -> int:
    """Tell the staff of the alerts nobody has acknowledged: a first notice of each new one,
    then an escalation of each whose severity's window has run out (services.alerts decides
    which and records the escalation), all in one transaction with the messages, so an
    escalation is never recorded without its news nor sent twice. Returns messages added."""
    with sessions() as session:
        at = now or utcnow()
        # One reading of the waiting alerts serves both the first notices and the escalations.
        waiting = alerts.waiting_alerts(session)
        added = notify_staff_of_new_alerts(
            session, settings=settings, alerts=[a for a, _, _ in waiting]
        )
        windows = dict(settings.escalation_windows)
        for escalation in alerts.due_escalations(session, now=at, windows=windows, waiting=waiting):
            added += notify_staff_of_alert(
                session,
                settings=settings,
                organization_id=escalation.alert.organization_id,
                alert_key=f"alert:{escalation.alert.id}",
                escalation=escalation.level,
            )
        session.commit()
        return added


def serve(
    sessions: sessionmaker[Session],
    settings: NotifySettings,
    *,
    worker: str,
    stop: threading.Event,
    once: bool = False,
    batch: int = 20,
    lease: dt.timedelta = dt.timedelta(minutes=2),
    poll: float = 5.0,
    reminder_every: dt.timedelta = dt.timedelta(hours=1),
) -> Pass:
    """The worker's loop: alert notices and escalations, reminders every ``reminder_every``,
    then drain the outbox, then wait
    ``poll`` seconds (or until ``stop``). ``once``: one round, then return."""
    channels = Channels(settings)
    start(sessions, worker=worker)
    total = Pass()
    last_reminders: dt.datetime | None = None
    while not stop.is_set():
        at = utcnow()
        try:
            # Alerts first, every round: an emergency's window is minutes, not hours.
            told = alerts_step(sessions, settings, now=at)
            if told:
                log.info("%s alert notices enqueued", told)
            if last_reminders is None or at - last_reminders >= reminder_every:
                added = reminders_step(sessions, settings)
                if added:
                    log.info("%s reminders enqueued", added)
                last_reminders = at
            total.add(
                drain(
                    sessions,
                    channels.send,
                    worker=worker,
                    scrub=channels.scrub,
                    batch=batch,
                    lease=lease,
                )
            )
        except Exception:
            if once:
                raise
            # The database may be restarting: what was claimed is still claimed (its lease
            # runs out) and what is pending stays pending; try again after the pause.
            log.exception("worker round failed; trying again in %s s", poll)
        if once:
            break
        stop.wait(poll)
    return total
