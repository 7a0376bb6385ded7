"""The alerts of the organization (docs/care.md, "Alerts"): the inbox, a patient's alerts with
their events, acknowledge and resolve. The one service that decides what an alert shows; the
API, the pages and the command line render what it returns.

Alerts are raised by the store in the transaction of the record that raises them
(``store.flows``, from ``care.alerts``); nothing here raises or closes one on its own."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from secondlook.care import alerts as vocabulary
from secondlook.platform.access import Access, may
from secondlook.platform.errors import Refused
from secondlook.platform.preconditions import IfMatchVersion
from secondlook.services.errors import invalid
from secondlook.services.unit import audited, record_refusal
from secondlook.store import alerts as store
from secondlook.store import care_worklists
from secondlook.store.alert_models import Alert, AlertEvent
from secondlook.store.models import utcnow

#: How many alerts a list returns at most.
LIST_LIMIT = 200
#: The longest note a person may write on an acknowledgement or resolution.
NOTE_LIMIT = 4000

RESOLUTION_ACTIONS = vocabulary.RESOLUTION_ACTIONS
SEVERITY_LABELS = vocabulary.SEVERITY_LABELS


@dataclass(frozen=True)
class AlertView:
    """An alert as every surface shows it: the record, its patient's name, its events oldest
    first, who acknowledged and who resolved it (usernames), and how long it has been open."""

    alert: Alert
    patient_name: str
    events: list[AlertEvent]
    acknowledged_by: str | None
    resolved_by: str | None
    open_for: dt.timedelta
    usernames: dict[int, str]

    @property
    def severity_label(self) -> str:
        return SEVERITY_LABELS.get(self.alert.severity, self.alert.severity)

    @property
    def open_for_text(self) -> str:
        return duration_text(self.open_for)


def duration_text(span: dt.timedelta) -> str:
    """ "12 min", "3 h 5 min", "2 days 4 h": how long an alert has been open, in words."""
    minutes = max(0, int(span.total_seconds() // 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} day{'s' if days != 1 else ''} {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def _views(session: Session, rows: Sequence[Alert], now: dt.datetime) -> list[AlertView]:
    events = store.events_of(session, alert_ids=[a.id for a in rows])
    user_ids = {
        u
        for a in rows
        for u in (a.acknowledged_by, a.resolved_by, *(e.user_id for e in events[a.id]))
        if u is not None
    }
    usernames = store.usernames(session, user_ids)
    names = care_worklists.patient_names(session, (a.patient_id for a in rows))
    return [
        AlertView(
            alert=a,
            patient_name=names.get(a.patient_id, f"patient {a.patient_id}"),
            events=events[a.id],
            acknowledged_by=usernames.get(a.acknowledged_by) if a.acknowledged_by else None,
            resolved_by=usernames.get(a.resolved_by) if a.resolved_by else None,
            open_for=(a.resolved_at or now) - a.raised_at,
            usernames=usernames,
        )
        for a in rows
    ]


def _statuses(status: str | None) -> tuple[str, ...]:
    if status is None or status == "unresolved":
        return vocabulary.OPEN_STATUSES
    if status == "all":
        return vocabulary.STATUSES
    if status not in vocabulary.STATUSES:
        raise invalid(
            "$.status",
            f"unknown status {status[:40]!r}; one of: unresolved, all, "
            + ", ".join(vocabulary.STATUSES),
        )
    return (status,)


def inbox(
    session: Session,
    *,
    access: Access,
    patient_id: int | None = None,
    status: str | None = None,
    limit: int = LIST_LIMIT,
) -> list[AlertView]:
    """The organization's alerts (by default the unresolved ones), most urgent then oldest
    first; only one patient's with ``patient_id`` (404 for a patient the actor cannot see)."""
    with audited(session, access, "alert.read", patient_id=patient_id) as scope:
        rows = store.list_alerts(
            session,
            organization_id=access.organization_id,
            patient_id=patient_id,
            statuses=_statuses(status),
            limit=limit,
        )
        scope.disclosed = sorted({a.patient_id for a in rows})
        return _views(session, rows, utcnow())


def patient_alerts_in(
    session: Session, *, organization_id: int, patient_id: int
) -> list[AlertView]:
    """Every alert of the patient, unresolved first (most urgent, oldest), then the resolved
    ones, for a page that is already audited for that patient."""
    rows = store.list_alerts(
        session, organization_id=organization_id, patient_id=patient_id, limit=LIST_LIMIT
    )
    resolved = store.list_alerts(
        session,
        organization_id=organization_id,
        patient_id=patient_id,
        statuses=("resolved",),
        limit=LIST_LIMIT,
    )
    return _views(session, [*rows, *resolved], utcnow())


def open_summary_in(
    session: Session, *, organization_id: int, patient_ids: Sequence[int]
) -> dict[int, tuple[int, str]]:
    """(how many unresolved alerts, the most urgent severity) of each listed patient that has
    one, for a list already audited for those patients: one query for the page."""
    return store.open_summary(session, organization_id=organization_id, patient_ids=patient_ids)


def patient_alerts(session: Session, *, access: Access, patient_id: int) -> list[AlertView]:
    """Every alert of the patient with its events (the patient's page, the API)."""
    with audited(session, access, "alert.read", patient_id=patient_id):
        return patient_alerts_in(
            session, organization_id=access.organization_id, patient_id=patient_id
        )


def _alert_patient(session: Session, access: Access, alert_id: int, action: str) -> int:
    """The patient of an alert of the actor's organization; for any other alert a 404, on
    record as a denied attempt (as a patient the actor cannot see is)."""
    if not may(access.principal.role, action):
        with audited(session, access, action):
            pass  # refuses the role (403), on record
    alert = store.get_alert(session, organization_id=access.organization_id, alert_id=alert_id)
    if alert is None:
        detail = f"no alert {alert_id} that you can see"
        record_refusal(
            session,
            principal=access.principal,
            action=action,
            status=404,
            via=access.via,
            client=access.client,
            patient_id=None,
            detail=detail,
        )
        raise Refused(404, detail)
    return alert.patient_id


def _note(note: str | None, *, required: bool, why: str = "") -> str | None:
    text = (note or "").strip()
    if "\x00" in text:
        raise invalid("$.note", "the note must not contain NUL characters")
    if len(text) > NOTE_LIMIT:
        raise invalid("$.note", f"the note is longer than {NOTE_LIMIT} characters")
    if required and not text:
        raise invalid("$.note", f"a note is needed {why}".strip())
    return text or None


def read_alert(session: Session, *, access: Access, alert_id: int) -> AlertView:
    """One alert of the organization with its events (404 for any other)."""
    patient_id = _alert_patient(session, access, alert_id, "alert.read")
    with audited(session, access, "alert.read", patient_id=patient_id):
        alert = store.get_alert(session, organization_id=access.organization_id, alert_id=alert_id)
        assert alert is not None
        return _views(session, [alert], utcnow())[0]


def acknowledge(
    session: Session,
    *,
    access: Access,
    alert_id: int,
    expected: IfMatchVersion,
    note: str | None = None,
) -> AlertView:
    """Record that the actor has seen the alert and is dealing with it (If-Match: 428 without
    it, 412 when it changed; 409 once resolved)."""
    patient_id = _alert_patient(session, access, alert_id, "alert.update")
    with audited(session, access, "alert.update", patient_id=patient_id):
        text = _note(note, required=False)
        alert = store.acknowledge(
            session,
            organization_id=access.organization_id,
            alert_id=alert_id,
            expected_version=expected.required(),
            user_id=access.principal.user_id,
            note=text,
        )
        return _views(session, [alert], utcnow())[0]


def resolve(
    session: Session,
    *,
    access: Access,
    alert_id: int,
    expected: IfMatchVersion,
    resolution: str,
    note: str | None,
) -> AlertView:
    """Close the alert with what was done: ``resolution`` from :data:`RESOLUTION_ACTIONS`
    and a note (needed for "no-action-needed", which must say why, and "other"). Implies the
    acknowledgement when nobody had acknowledged it."""
    patient_id = _alert_patient(session, access, alert_id, "alert.update")
    with audited(session, access, "alert.update", patient_id=patient_id):
        if resolution not in RESOLUTION_ACTIONS:
            raise invalid(
                "$.resolution",
                f"unknown resolution {resolution[:40]!r}; one of: " + ", ".join(RESOLUTION_ACTIONS),
            )
        why = {
            "no-action-needed": "to say why no action is needed",
            "other": "to say what was done",
        }.get(resolution)
        text = _note(note, required=why is not None, why=why or "")
        alert = store.resolve(
            session,
            organization_id=access.organization_id,
            alert_id=alert_id,
            expected_version=expected.required(),
            user_id=access.principal.user_id,
            resolution=resolution,
            note=text or "",
        )
        return _views(session, [alert], utcnow())[0]


# -- escalation -----------------------------------------------------------------------------------

#: How long an alert may stay unacknowledged before it is escalated, and escalated again, by
#: severity. A site sets its own with SECONDLOOK_ESCALATION_MINUTES ("emergency=15,urgent=240,
#: safety=240"). These defaults are service levels, not clinical thresholds: an emergency red
#: flag asks for action "now" (the engine's urgency and the red flag's own references in the
#: knowledge base), so a quarter of an hour; a same-day safety assessment (PHQ-9 item 9,
#: Kroenke 2001; instruments/safety.py) and an urgent red flag are same-day matters, so four
#: hours still leaves the working day to act.
DEFAULT_ESCALATION_MINUTES: dict[str, int] = {"emergency": 15, "urgent": 240, "safety": 240}
ESCALATION_VARIABLE = "SECONDLOOK_ESCALATION_MINUTES"


def escalation_windows(setting: str | None) -> dict[str, dt.timedelta]:
    """The windows a setting names (unnamed severities keep their default); a ValueError that
    says which part is wrong for anything else."""
    minutes = dict(DEFAULT_ESCALATION_MINUTES)
    for part in (setting or "").split(","):
        if not part.strip():
            continue
        severity, sep, value = part.partition("=")
        severity = severity.strip()
        if not sep or severity not in minutes:
            raise ValueError(
                f"{ESCALATION_VARIABLE}: {part.strip()[:40]!r} is not severity=minutes with a "
                f"severity of {', '.join(minutes)}"
            )
        if not value.strip().isdigit() or not 1 <= int(value) <= 7 * 24 * 60:
            raise ValueError(
                f"{ESCALATION_VARIABLE}: the {severity} window must be whole minutes from 1 to "
                f"10080, not {value.strip()[:20]!r}"
            )
        minutes[severity] = int(value)
    return {s: dt.timedelta(minutes=m) for s, m in minutes.items()}


@dataclass(frozen=True)
class Escalation:
    """An alert escalated now: the level (1 the first time) and the window that ran out."""

    alert: Alert
    level: int
    window: dt.timedelta


Waiting = Sequence[tuple[Alert, dt.datetime | None, int]]


def waiting_alerts(session: Session) -> Waiting:
    """Every organization's open alerts nobody has acknowledged, oldest first, each with the
    time of its last escalation (None: never) and how many it has had."""
    return store.unacknowledged_with_last_escalation(session)


def due_escalations(
    session: Session,
    *,
    now: dt.datetime,
    windows: dict[str, dt.timedelta] | None = None,
    waiting: Waiting | None = None,
) -> list[Escalation]:
    """Escalate every open, unacknowledged alert whose window has run out since it was raised
    or last escalated: append an "escalated" event to each (in the caller's transaction; commit
    it with what sends the news) and return them. Run by the worker, not by a person, so not
    audited as an access: it shows nothing to anyone. An alert of an unknown severity gets
    the shortest window, never none."""
    windows = windows or escalation_windows(None)
    shortest = min(windows.values())
    out = []
    for alert, last_at, times in waiting_alerts(session) if waiting is None else waiting:
        window = windows.get(alert.severity, shortest)
        since = last_at or alert.raised_at
        if now - since >= window:
            store.record_escalation(
                session,
                alert=alert,
                at=now,
                level=times + 1,
                window_minutes=int(window.total_seconds() // 60),
            )
            out.append(Escalation(alert, times + 1, window))
    return out
