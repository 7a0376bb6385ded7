"""The site's settings as administrators read them (``settings.read``): the numbers patients are
given, the escalation windows of alerts and where notifications go.

They are environment settings read when the server starts (docs/deployment.md), so they are
shown, never changed, from a page; each says the variable it comes from and whether it is set
or a default. Secrets (the SMTP password, the webhook's secret and its address, which may carry
a token) are never shown: only whether they are set."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from secondlook.care.warnings import (
    CARE_TEAM_VARIABLE,
    CRISIS_VARIABLE,
    EMERGENCY_VARIABLE,
    site_contacts,
)
from secondlook.platform.access import Access
from secondlook.services.alerts import (
    DEFAULT_ESCALATION_MINUTES,
    ESCALATION_VARIABLE,
)
from secondlook.services.notifications import load_settings
from secondlook.services.unit import audited
from secondlook.settings import PREFIX, Settings


@dataclass(frozen=True)
class Setting:
    """One setting: what it is, its value as words (``None``: not set), the variable it comes
    from, and whether that variable is set (else a default applies)."""

    label: str
    value: str | None
    variable: str
    configured: bool
    note: str = ""


@dataclass(frozen=True)
class SiteSettings:
    contacts: tuple[Setting, ...]
    escalation: tuple[Setting, ...]
    notifications: tuple[Setting, ...]


def _minutes(window: dt.timedelta) -> str:
    minutes = int(window.total_seconds() // 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def read(session: Session, *, access: Access, source: Settings | Mapping[str, str]) -> SiteSettings:
    """The installation's settings (secondlook.settings: the environment and the env file; a
    mapping of ``SECONDLOOK_*`` names is read as such), read as the server reads them
    (care/warnings.py for contacts, services/notifications.py for notifications)."""
    with audited(session, access, "settings.read"):
        given = source if isinstance(source, Settings) else Settings.of(source)

        def is_set(name: str) -> bool:
            field = name.removeprefix(PREFIX).lower()
            return field in given.model_fields_set and getattr(given, field) is not None

        contacts = site_contacts(given)
        notify = load_settings(given)
        contact_rows = (
            Setting(
                "Emergency number",
                contacts.emergency,
                EMERGENCY_VARIABLE,
                is_set(EMERGENCY_VARIABLE),
                "" if contacts.emergency else 'Patients are told "your local emergency number".',
            ),
            Setting(
                "Crisis lines",
                "; ".join(contacts.crisis_lines) or None,
                CRISIS_VARIABLE,
                is_set(CRISIS_VARIABLE),
                "Shown to a patient after a self-harm answer.",
            ),
            Setting(
                "Care-team contact",
                contacts.care_team,
                CARE_TEAM_VARIABLE,
                is_set(CARE_TEAM_VARIABLE),
                "How patients reach the team about an urgent finding.",
            ),
        )
        escalation_rows = tuple(
            Setting(
                f"{severity.capitalize()} alerts",
                _minutes(window),
                ESCALATION_VARIABLE,
                is_set(ESCALATION_VARIABLE),
                f"default {_minutes(dt.timedelta(minutes=DEFAULT_ESCALATION_MINUTES[severity]))}"
                if severity in DEFAULT_ESCALATION_MINUTES and is_set(ESCALATION_VARIABLE)
                else "",
            )
            for severity, window in notify.escalation_windows.items()
        )
        smtp = notify.smtp
        notification_rows = (
            Setting(
                "Address of SecondLook in messages",
                notify.base_url,
                "SECONDLOOK_BASE_URL",
                is_set("SECONDLOOK_BASE_URL"),
            ),
            Setting(
                "Email relay",
                f"{smtp.host}:{smtp.port}" + (" with STARTTLS" if smtp.starttls else "")
                if smtp
                else None,
                "SECONDLOOK_SMTP_HOST",
                smtp is not None,
                ""
                if smtp
                else "Without a relay no email is sent (reminders, alerts, invitations wait).",
            ),
            Setting(
                "Sender address",
                smtp.sender if smtp else None,
                "SECONDLOOK_SMTP_FROM",
                is_set("SECONDLOOK_SMTP_FROM"),
            ),
            Setting(
                "Relay sign-in",
                ("set (not shown)" if smtp.password else "none") if smtp else None,
                "SECONDLOOK_SMTP_USERNAME",
                is_set("SECONDLOOK_SMTP_USERNAME"),
            ),
            Setting(
                "Alert emails",
                "; ".join(notify.alert_emails) or None,
                "SECONDLOOK_ALERT_EMAILS",
                is_set("SECONDLOOK_ALERT_EMAILS"),
                "Who is emailed when an urgent alert is raised or escalated.",
            ),
            Setting(
                "Alert webhook",
                "set (address not shown)" if notify.webhook_url else None,
                "SECONDLOOK_NOTIFY_WEBHOOK_URL",
                notify.webhook_url is not None,
                "signed" if notify.webhook_secret else "",
            ),
        )
        return SiteSettings(contact_rows, escalation_rows, notification_rows)
