"""Notifications (docs/notifications.md): what is sent, to whom and in which words, decided here
once; the outbox row is written in the caller's transaction and the worker
(services/delivery.py) sends it.

Every message says nothing a bystander should not read: no patient name, no diagnosis, no
score, no instrument name; a link to SecondLook says where to look."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from secondlook.platform.access import Access
from secondlook.platform.clock import today
from secondlook.platform.errors import FieldProblem, Refused
from secondlook.platform.preconditions import IfMatchVersion
from secondlook.services.alerts import escalation_windows
from secondlook.services.care import portal_due_occasions_in
from secondlook.services.unit import audited
from secondlook.settings import Settings, SettingsError
from secondlook.store import audit
from secondlook.store.alert_models import Alert
from secondlook.store.models import Organization, User, utcnow
from secondlook.store.notify_models import OutboxMessage, ReminderPreference

log = logging.getLogger("secondlook.notifications")

#: ``enqueue(recipient=WEBHOOK)``: the site's configured webhook (its address, possibly with a
#: secret in it, is read when sending and never stored in the outbox).
WEBHOOK: Final = "webhook"

# An address as a mail relay accepts it, kept plain on purpose: one @, no spaces or angle
# brackets (which would let a header be forged), a dot in the domain.
_EMAIL = re.compile(r"[^@\s<>,;\"]{1,64}@[^@\s<>,;\"]{1,251}\.[^@\s<>,;\".]{1,63}")
_KEY = re.compile(r"[A-Za-z0-9._:/@+-]{1,200}")


def is_email(value: str) -> bool:
    """Whether ``value`` is an address :func:`enqueue` accepts."""
    return bool(_EMAIL.fullmatch(value))


class SettingsInvalid(ValueError):
    """A notification setting (environment variable) that cannot be used: the message names
    the variable and says why."""


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int
    starttls: bool
    sender: str
    username: str | None
    password: str | None


@dataclass(frozen=True)
class NotifySettings:
    """The site's notification settings, read once at start (``load_settings``)."""

    base_url: str
    smtp: Smtp | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    alert_emails: tuple[str, ...] = ()
    #: How long an unacknowledged alert waits, per severity, before it is escalated
    #: (SECONDLOOK_ESCALATION_MINUTES; services.alerts.escalation_windows).
    escalation_windows: Mapping[str, dt.timedelta] = field(
        default_factory=lambda: escalation_windows(None)
    )

    @property
    def staff_recipients(self) -> tuple[str, ...]:
        """Where an alert goes: each configured address, and the webhook if there is one."""
        return (*self.alert_emails, *((WEBHOOK,) if self.webhook_url else ()))


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _flag(value: str | None, name: str, default: bool) -> bool:
    raw = (value or "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE | _FALSE:
        return raw in _TRUE
    raise SettingsInvalid(f"{name} {raw!r} must be true or false")


def _address(name: str, value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise SettingsInvalid(f"{name}: {value!r} is not an email address (name@example.org)")
    return value


def load_settings(source: Settings | Mapping[str, str]) -> NotifySettings:
    """The notification settings from the installation's settings (secondlook.settings; a
    mapping of ``SECONDLOOK_*`` names is read as such); :class:`SettingsInvalid` names the
    first unusable one. None of them is required: without SMTP nothing is emailed, without a
    webhook nothing is posted (alerts still show in SecondLook)."""
    if isinstance(source, Settings):
        given = source
    else:
        try:
            given = Settings.of(source)
        except SettingsError as exc:
            raise SettingsInvalid(str(exc)) from None
    values = given.model_dump()

    def one(name: str) -> str | None:
        value = values.get(name.removeprefix("SECONDLOOK_").lower())
        text = "" if value is None else str(value).strip()
        return text or None

    base = one("SECONDLOOK_BASE_URL") or "http://localhost:8000"
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsInvalid(f"SECONDLOOK_BASE_URL {base!r} must be an http(s) URL")
    host = one("SECONDLOOK_SMTP_HOST")
    smtp: Smtp | None = None
    if host is None:
        for name in (
            "SECONDLOOK_SMTP_PORT",
            "SECONDLOOK_SMTP_USERNAME",
            "SECONDLOOK_SMTP_PASSWORD",
            "SECONDLOOK_SMTP_FROM",
            "SECONDLOOK_SMTP_STARTTLS",
        ):
            if one(name):
                raise SettingsInvalid(
                    f"{name} is set but SECONDLOOK_SMTP_HOST is not: set the relay's host name too"
                )
    else:
        starttls = _flag(given.smtp_starttls, "SECONDLOOK_SMTP_STARTTLS", True)
        port_text = one("SECONDLOOK_SMTP_PORT") or ("587" if starttls else "25")
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise SettingsInvalid(f"SECONDLOOK_SMTP_PORT {port_text!r} must be 1 to 65535")
        sender = one("SECONDLOOK_SMTP_FROM")
        if sender is None:
            raise SettingsInvalid(
                "SECONDLOOK_SMTP_FROM is required with SECONDLOOK_SMTP_HOST: the address "
                "messages are sent from, e.g. secondlook@hospital.org"
            )
        username, password = one("SECONDLOOK_SMTP_USERNAME"), one("SECONDLOOK_SMTP_PASSWORD")
        if (username is None) != (password is None):
            raise SettingsInvalid(
                "SECONDLOOK_SMTP_USERNAME and SECONDLOOK_SMTP_PASSWORD go together: set both "
                "or neither"
            )
        if password is not None and not starttls and host not in ("localhost", "127.0.0.1"):
            raise SettingsInvalid(
                "SECONDLOOK_SMTP_PASSWORD would be sent unencrypted: set "
                "SECONDLOOK_SMTP_STARTTLS=true (the default)"
            )
        smtp = Smtp(
            host=host,
            port=int(port_text),
            starttls=starttls,
            sender=_address("SECONDLOOK_SMTP_FROM", sender),
            username=username,
            password=password,
        )
    webhook = one("SECONDLOOK_NOTIFY_WEBHOOK_URL")
    secret = one("SECONDLOOK_NOTIFY_WEBHOOK_SECRET")
    if webhook is not None:
        hook = urlsplit(webhook)
        loopback = hook.hostname in ("localhost", "127.0.0.1", "::1")
        if hook.scheme not in ("http", "https") or not hook.hostname:
            # The URL itself may carry a token: name the variable, not the value.
            raise SettingsInvalid("SECONDLOOK_NOTIFY_WEBHOOK_URL must be an http(s) URL")
        if hook.scheme == "http" and not loopback:
            raise SettingsInvalid(
                "SECONDLOOK_NOTIFY_WEBHOOK_URL must use https (plain http only to this machine)"
            )
    elif secret is not None:
        raise SettingsInvalid(
            "SECONDLOOK_NOTIFY_WEBHOOK_SECRET is set but SECONDLOOK_NOTIFY_WEBHOOK_URL is not"
        )
    emails = tuple(
        _address("SECONDLOOK_ALERT_EMAILS", e.strip())
        for e in (one("SECONDLOOK_ALERT_EMAILS") or "").split(";")
        if e.strip()
    )
    if emails and smtp is None:
        raise SettingsInvalid(
            "SECONDLOOK_ALERT_EMAILS needs an SMTP relay: set SECONDLOOK_SMTP_HOST and "
            "SECONDLOOK_SMTP_FROM"
        )
    try:
        windows = escalation_windows(given.escalation_minutes)  # ESCALATION_VARIABLE
    except ValueError as exc:  # its message names the variable already
        raise SettingsInvalid(str(exc)) from None
    return NotifySettings(
        base_url=base.rstrip("/"),
        smtp=smtp,
        webhook_url=webhook,
        webhook_secret=secret,
        alert_emails=emails,
        escalation_windows=windows,
    )


# -- templates ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    subject: str
    body: str
    fields: tuple[str, ...]


# What each message says. The fields are the only facts a message can carry: a site name and
# a link, never a patient's name, condition, score or questionnaire.
TEMPLATES: Final[dict[str, Template]] = {
    "patient-reminder": Template(
        subject="A questionnaire from your care team at {site}",
        body="Hello,\n\nYou have a questionnaire to answer for your care team at {site}.\n\n"
        "Sign in: {link}\n\nTo stop these reminders, sign in and choose Reminders.\n",
        fields=("site", "link"),
    ),
    # A patient's invitation to the portal: the link is the only fact it carries (no name,
    # no reason for the account); the link works once and expires.
    "portal-invitation": Template(
        subject="Your patient portal account at {site}",
        body="Hello,\n\nYour care team at {site} has made an account for you on its patient "
        "portal.\n\nTo choose your password, open this link (it works once, until "
        "{expires}):\n{link}\n\nIf you did not expect this message, you can ignore it.\n",
        fields=("site", "link", "expires"),
    ),
    "staff-alert": Template(
        subject="Urgent: an alert needs attention in SecondLook",
        body="An urgent alert needs attention in SecondLook ({site}).\n\n"
        "Open the alert inbox: {link}\n",
        fields=("site", "link"),
    ),
    "staff-escalation": Template(
        subject="Escalated: an alert has not been acknowledged in SecondLook",
        body="An urgent alert in SecondLook ({site}) has not been acknowledged and was "
        "escalated to you.\n\nOpen the alert inbox: {link}\n",
        fields=("site", "link"),
    ),
}


def render(template: str, context: Mapping[str, str]) -> tuple[str, str]:
    """The subject and body of a template with its fields filled in; a missing, extra or
    unknown field is a programming error (ValueError), never a half-filled message."""
    found = TEMPLATES.get(template)
    if found is None:
        raise ValueError(f"unknown notification template {template!r}")
    if set(context) != set(found.fields):
        raise ValueError(
            f"template {template!r} takes exactly {sorted(found.fields)}, got {sorted(context)}"
        )
    # One line per field: a value cannot add lines, or headers, to a message.
    clean = {k: " ".join(str(v).split())[:300] for k, v in context.items()}
    return found.subject.format(**clean), found.body.format(**clean)


# -- the outbox ----------------------------------------------------------------------------------


def enqueue(
    session: Session,
    *,
    kind: str,
    recipient: str,
    template: str,
    context: Mapping[str, str],
    idempotency_key: str,
    organization_id: int,
    patient_id: int | None = None,
) -> bool:
    """Add a notification to the outbox in the caller's transaction (the caller commits it
    with the event that causes it). ``recipient`` is an email address or :data:`WEBHOOK`.
    Returns False when a notification with this key is already there: it is not added twice."""
    if not _KEY.fullmatch(idempotency_key):
        raise ValueError(f"idempotency key {idempotency_key!r}: 1-200 of A-Z a-z 0-9 . _ : / @ + -")
    channel = "webhook" if recipient == WEBHOOK else "email"
    if channel == "email" and not _EMAIL.fullmatch(recipient):
        raise ValueError(f"recipient {recipient!r} is neither an email address nor {WEBHOOK!r}")
    subject, body = render(template, context)
    values = {
        "organization_id": organization_id,
        "patient_id": patient_id,
        "kind": kind,
        "channel": channel,
        "recipient": recipient,
        "template": template,
        "subject": subject,
        "body": body,
        "idempotency_key": idempotency_key,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": utcnow(),
        "created_at": utcnow(),
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # RETURNING says whether a row went in: rowcount is not reliable for ON CONFLICT on
    # every driver.
    statement = (
        insert(OutboxMessage)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(OutboxMessage.id)
    )
    return session.execute(statement).first() is not None


def notify_staff_of_alert(
    session: Session,
    *,
    settings: NotifySettings,
    organization_id: int,
    alert_key: str,
    escalation: int = 0,
) -> int:
    """Tell the configured staff (SECONDLOOK_ALERT_EMAILS, the webhook) that an alert needs
    attention: one outbox row per recipient, in the caller's transaction. ``alert_key``
    names the alert (e.g. ``alert:42``); ``escalation`` 0 is the first notice, 1, 2... each
    escalation, so each is sent once. The message names no patient. Returns how many were
    added (0 when nobody is configured: the alert is still in the inbox)."""
    site = session.get(Organization, organization_id)
    context = {
        "site": site.name if site is not None else "SecondLook",
        "link": f"{settings.base_url}/clinic/worklists",
    }
    template = "staff-escalation" if escalation else "staff-alert"
    added = 0
    for recipient in settings.staff_recipients:
        added += enqueue(
            session,
            kind="alert",
            recipient=recipient,
            template=template,
            context=context,
            idempotency_key=f"{alert_key}/{escalation}/{recipient}",
            organization_id=organization_id,
        )
    if not settings.staff_recipients:
        log.warning(
            "no staff recipients configured: alert %s is shown in SecondLook only", alert_key
        )
    return added


def notify_staff_of_new_alerts(
    session: Session, *, settings: NotifySettings, alerts: Sequence[Alert]
) -> int:
    """The first notice of each open alert that has none yet (escalation level 0), in the
    caller's transaction. The alert record is the durable event: whichever worker round
    first sees it writes the notice, and its idempotency keys keep it to one. Returns how
    many messages were added."""
    recipients = settings.staff_recipients
    if not recipients or not alerts:
        return 0
    wanted = {a.id: [f"alert:{a.id}/0/{r}" for r in recipients] for a in alerts}
    keys = [k for ks in wanted.values() for k in ks]
    present: set[str] = set()
    for start in range(0, len(keys), 500):
        present.update(
            session.scalars(
                select(OutboxMessage.idempotency_key).where(
                    OutboxMessage.idempotency_key.in_(keys[start : start + 500])
                )
            )
        )
    added = 0
    for alert in alerts:
        if not set(wanted[alert.id]) <= present:
            added += notify_staff_of_alert(
                session,
                settings=settings,
                organization_id=alert.organization_id,
                alert_key=f"alert:{alert.id}",
            )
    return added


def enqueue_due_reminders(
    session: Session, *, settings: NotifySettings, on: dt.date | None = None
) -> int:
    """Enqueue reminders of the questionnaires due today for every patient who chose
    reminders (services.care decides what is due, as the portal shows it): one message per
    patient and due date, however many questionnaires fell due that day, and each sent once
    however often this runs (its key is the patient and the due date). The reading of each
    patient's schedule is audited as one event of the worker per organization. Commits.
    Returns how many were added."""
    if settings.smtp is None:
        return 0
    day = on or today()
    rows = session.execute(
        select(ReminderPreference, User, Organization)
        .join(User, User.id == ReminderPreference.user_id)
        .join(Organization, Organization.id == User.organization_id)
        .where(
            ReminderPreference.enabled.is_(True),
            ReminderPreference.email.is_not(None),
            User.active.is_(True),
            User.role == "patient",
        )
        .order_by(User.organization_id, User.id)
    ).all()
    added = 0
    read: dict[int, list[int]] = {}
    for preference, user, organization in rows:
        assert user.patient_id is not None  # a patient user always has its record
        read.setdefault(organization.id, []).append(user.patient_id)
        due = portal_due_occasions_in(
            session, organization_id=organization.id, patient_id=user.patient_id, on=day
        )
        dates = sorted({d.due.isoformat() if d.due else "first" for d in due})
        for when in dates:
            added += enqueue(
                session,
                kind="reminder",
                recipient=str(preference.email),
                template="patient-reminder",
                context={"site": organization.name, "link": f"{settings.base_url}/portal"},
                idempotency_key=f"reminder/{user.patient_id}/{when}",
                organization_id=organization.id,
                patient_id=user.patient_id,
            )
    for organization_id, patients in read.items():
        audit.record(
            session,
            actor=None,
            organization_id=organization_id,
            username="worker",
            action="notification.reminders",
            resource="worker reminders",
            outcome="success",
            status=200,
            client="worker",
            disclosed=patients,
        )
    session.commit()
    return added


# -- a patient's choice of reminders --------------------------------------------------------------


@dataclass(frozen=True)
class Reminders:
    """A patient's reminder choice. Never chosen: reminders off, version 1 (the default is a
    version like any other, so the first choice takes If-Match "1" as every later one)."""

    enabled: bool
    email: str | None
    version: int


def _preference(session: Session, access: Access) -> ReminderPreference | None:
    return session.get(ReminderPreference, access.principal.user_id)


def reminders(session: Session, *, access: Access) -> Reminders:
    """The signed-in patient's reminder choice."""
    with audited(session, access, "reminder.read", patient_id=access.principal.patient_id):
        found = _preference(session, access)
        if found is None:
            return Reminders(enabled=False, email=None, version=1)
        return Reminders(enabled=found.enabled, email=found.email, version=found.version)


def set_reminders(
    session: Session,
    *,
    access: Access,
    enabled: bool,
    email: str | None,
    if_match: IfMatchVersion,
) -> Reminders:
    """Choose or stop reminders. Turning them on needs an email address; stopping keeps the
    address for next time. If-Match with the version read (``"1"`` before the first choice):
    428 without, 412 when the choice changed in between."""
    with audited(session, access, "reminder.update", patient_id=access.principal.patient_id):
        address = " ".join((email or "").split()) or None
        if address is not None and not _EMAIL.fullmatch(address):
            raise Refused(
                422,
                "that is not an email address (name@example.org)",
                kind="reminders-invalid",
                title="Invalid reminder choice",
                errors=[FieldProblem("email", "not an email address")],
            )
        if enabled and address is None:
            raise Refused(
                422,
                "reminders need an email address to be sent to",
                kind="reminders-invalid",
                title="Invalid reminder choice",
                errors=[FieldProblem("email", "required to turn reminders on")],
            )
        expected = if_match.required()
        found = _preference(session, access)
        current = found.version if found is not None else 1
        if expected != current:
            raise Refused(
                412,
                "your reminder choice was changed elsewhere; reload and choose again",
                kind="stale-version",
            )
        if found is None:
            found = ReminderPreference(
                user_id=access.principal.user_id,
                organization_id=access.organization_id,
                version=0,
            )
            session.add(found)
        found.enabled = enabled
        found.email = address
        found.version = current + 1
        found.updated_at = utcnow()
        session.flush()
        return Reminders(enabled=found.enabled, email=found.email, version=found.version)


def outbox_counts(session: Session) -> dict[str, int]:
    """How many outbox rows are in each status (for the worker's report and the tests)."""
    rows = session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all()
    return {str(status): int(count) for status, count in rows}
