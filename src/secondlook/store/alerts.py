"""Alert records (store/alert_models.py): raise them in the transaction that stores what raised
them, read the inbox, and append acknowledgements and resolutions.

Deduplication is by condition key per patient: while an alert with that key is unresolved, the
same condition raised again appends a "raised-again" event to it instead of a new alert. Only a
person closes an alert; a record that no longer raises the condition changes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql import Subquery

from secondlook.care import alerts as vocabulary
from secondlook.care.alerts import RaisedAlert
from secondlook.store.alert_models import Alert, AlertEvent
from secondlook.store.errors import Conflict, NotFound, StaleVersion
from secondlook.store.models import User, utcnow


def raise_alerts(
    session: Session,
    *,
    organization_id: int,
    patient_id: int,
    raised: Sequence[RaisedAlert],
    source: str,
    user_id: int | None,
    assessment_id: int | None = None,
    response_id: int | None = None,
    at: dt.datetime | None = None,
) -> list[tuple[Alert, bool]]:
    """Record each raised condition: a new alert (True) or a "raised-again" event on the
    unresolved alert with its key (False). Runs inside the caller's transaction."""
    now = at or utcnow()
    out: list[tuple[Alert, bool]] = []
    for condition in raised:
        alert = _unresolved(session, patient_id, condition.key)
        created = False
        if alert is None:
            alert = Alert(
                organization_id=organization_id,
                patient_id=patient_id,
                condition_key=condition.key,
                kind=condition.kind,
                severity=condition.severity,
                name=condition.name[:200],
                action=condition.action,
                status="open",
                version=1,
                raised_at=now,
                last_raised_at=now,
            )
            try:
                # A concurrent writer may raise the same condition at the same moment: the
                # unique index refuses the second alert, which then joins the first.
                with session.begin_nested():
                    session.add(alert)
                    session.flush()
                created = True
            except IntegrityError:
                alert = _unresolved(session, patient_id, condition.key)
                if alert is None:
                    raise
        if not created:
            alert.last_raised_at = now
        session.add(
            AlertEvent(
                alert_id=alert.id,
                organization_id=organization_id,
                patient_id=patient_id,
                kind="raised" if created else "raised-again",
                at=now,
                user_id=user_id,
                source=source,
                assessment_id=assessment_id,
                response_id=response_id,
                facts={**condition.facts, "severity": condition.severity, "name": condition.name},
            )
        )
        out.append((alert, created))
    session.flush()
    return out


def _unresolved(session: Session, patient_id: int, key: str) -> Alert | None:
    return session.scalars(
        select(Alert)
        .where(
            Alert.patient_id == patient_id,
            Alert.condition_key == key,
            Alert.status != "resolved",
        )
        .with_for_update()
    ).first()


def _most_urgent_first() -> object:
    return case({s: i for i, s in enumerate(vocabulary.SEVERITIES)}, value=Alert.severity, else_=-1)


def open_by_patient(organization_id: int) -> Subquery:
    """Per patient with an unresolved alert: ``worst``, the rank of the most urgent one
    (0 = emergency, as ``SEVERITIES``), and ``open``, how many there are. Uses the inbox
    index's predicate, so the database reads only the unresolved alerts."""
    return (
        select(
            Alert.patient_id.label("patient_id"),
            func.min(_most_urgent_first()).label("worst"),
            func.count(Alert.id).label("open"),
        )
        .where(Alert.organization_id == organization_id, Alert.status != "resolved")
        .group_by(Alert.patient_id)
        .subquery("open_alerts")
    )


def open_summary(
    session: Session, *, organization_id: int, patient_ids: Sequence[int]
) -> dict[int, tuple[int, str]]:
    """(how many unresolved alerts, the most urgent severity) of each of ``patient_ids`` that
    has one: one query for a page of patients."""
    if not patient_ids:
        return {}
    rank = _most_urgent_first()
    rows = session.execute(
        select(
            Alert.patient_id,
            func.min(rank).label("worst"),
            func.count(Alert.id).label("open"),
        )
        .where(
            Alert.organization_id == organization_id,
            Alert.status != "resolved",
            Alert.patient_id.in_(list(patient_ids)),
        )
        .group_by(Alert.patient_id)
    )
    out: dict[int, tuple[int, str]] = {}
    for row in rows:
        worst = int(row.worst)
        severity = vocabulary.SEVERITIES[worst] if 0 <= worst < len(vocabulary.SEVERITIES) else ""
        out[int(row.patient_id)] = (int(row.open), severity)
    return out


def list_alerts(
    session: Session,
    *,
    organization_id: int,
    patient_id: int | None = None,
    statuses: Sequence[str] = vocabulary.OPEN_STATUSES,
    limit: int = 200,
) -> list[Alert]:
    """Alerts of the organization (or one patient) in ``statuses``, most urgent first, then
    the oldest first: the order the inbox shows them in."""
    query = select(Alert).where(Alert.organization_id == organization_id)
    if patient_id is not None:
        query = query.where(Alert.patient_id == patient_id)
    if tuple(statuses) == vocabulary.OPEN_STATUSES:
        # The inbox index's own predicate, so the database uses it.
        query = query.where(Alert.status != "resolved")
    else:
        query = query.where(Alert.status.in_(list(statuses)))
    order = _most_urgent_first()
    return list(
        session.scalars(
            query.order_by(order, Alert.raised_at, Alert.id).limit(limit)  # type: ignore[arg-type]
        )
    )


def get_alert(session: Session, *, organization_id: int, alert_id: int) -> Alert | None:
    return session.scalars(
        select(Alert).where(Alert.organization_id == organization_id, Alert.id == alert_id)
    ).first()


def events_of(session: Session, *, alert_ids: Sequence[int]) -> dict[int, list[AlertEvent]]:
    """Each alert's events, oldest first."""
    out: dict[int, list[AlertEvent]] = {i: [] for i in alert_ids}
    if not alert_ids:
        return out
    for event in session.scalars(
        select(AlertEvent)
        .where(AlertEvent.alert_id.in_(list(alert_ids)))
        .order_by(AlertEvent.alert_id, AlertEvent.id)
    ):
        out[event.alert_id].append(event)
    return out


def _locked(session: Session, organization_id: int, alert_id: int, expected: int) -> Alert:
    alert = session.scalars(
        select(Alert)
        .where(Alert.organization_id == organization_id, Alert.id == alert_id)
        .with_for_update()
    ).first()
    if alert is None:
        raise NotFound("alert")
    if alert.version != expected:
        raise StaleVersion(expected=expected, current=alert.version)
    return alert


def acknowledge(
    session: Session,
    *,
    organization_id: int,
    alert_id: int,
    expected_version: int,
    user_id: int | None,
    note: str | None,
    at: dt.datetime | None = None,
) -> Alert:
    """Record that ``user_id`` has seen the alert and is dealing with it (409 once resolved;
    acknowledging again appends another event and keeps the first acknowledgement)."""
    alert = _locked(session, organization_id, alert_id, expected_version)
    if alert.status == "resolved":
        raise Conflict(f"alert {alert_id} is already resolved")
    now = at or utcnow()
    _acknowledge(session, alert, user_id, note, now)
    alert.version += 1
    session.flush()
    return alert


def _acknowledge(
    session: Session, alert: Alert, user_id: int | None, note: str | None, now: dt.datetime
) -> None:
    if alert.acknowledged_at is None:
        alert.acknowledged_at = now
        alert.acknowledged_by = user_id
        alert.status = "acknowledged"
    session.add(
        AlertEvent(
            alert_id=alert.id,
            organization_id=alert.organization_id,
            patient_id=alert.patient_id,
            kind="acknowledged",
            at=now,
            user_id=user_id,
            facts={},
            note=note,
        )
    )


def resolve(
    session: Session,
    *,
    organization_id: int,
    alert_id: int,
    expected_version: int,
    user_id: int | None,
    resolution: str,
    note: str,
    at: dt.datetime | None = None,
) -> Alert:
    """Close the alert with what was done. Resolving an alert nobody acknowledged records the
    acknowledgement first (the person resolving it has seen it)."""
    alert = _locked(session, organization_id, alert_id, expected_version)
    if alert.status == "resolved":
        raise Conflict(f"alert {alert_id} is already resolved")
    now = at or utcnow()
    if alert.acknowledged_at is None:
        _acknowledge(session, alert, user_id, None, now)
    alert.status = "resolved"
    alert.resolved_at = now
    alert.resolved_by = user_id
    alert.version += 1
    session.add(
        AlertEvent(
            alert_id=alert.id,
            organization_id=alert.organization_id,
            patient_id=alert.patient_id,
            kind="resolved",
            at=now,
            user_id=user_id,
            facts={},
            resolution=resolution,
            note=note,
        )
    )
    session.flush()
    return alert


def usernames(session: Session, ids: Iterable[int]) -> dict[int, str]:
    """The usernames of the people who acted on alerts, by user id."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.username).where(User.id.in_(wanted)))
    return {row.id: row.username for row in rows}


def unacknowledged_with_last_escalation(
    session: Session, *, limit: int = 1000
) -> list[tuple[Alert, dt.datetime | None, int]]:
    """Every organization's open, unacknowledged alerts, oldest first, each with the time of
    its last "escalated" event (None: never escalated) and how many it has had."""
    last = (
        select(
            AlertEvent.alert_id,
            func.max(AlertEvent.at).label("last_at"),
            func.count(AlertEvent.id).label("times"),
        )
        .where(AlertEvent.kind == "escalated")
        .group_by(AlertEvent.alert_id)
        .subquery()
    )
    rows = session.execute(
        select(Alert, last.c.last_at, last.c.times)
        .outerjoin(last, last.c.alert_id == Alert.id)
        .where(Alert.status == "open")
        .order_by(Alert.raised_at, Alert.id)
        .limit(limit)
    )
    out = []
    for alert, last_at, times in rows:
        if last_at is not None and last_at.tzinfo is None:
            last_at = last_at.replace(tzinfo=dt.UTC)  # SQLite's aggregate drops the type
        out.append((alert, last_at, int(times or 0)))
    return out


def record_escalation(
    session: Session, *, alert: Alert, at: dt.datetime, level: int, window_minutes: int
) -> AlertEvent:
    """Append an "escalated" event (who is told is decided and sent elsewhere)."""
    event = AlertEvent(
        alert_id=alert.id,
        organization_id=alert.organization_id,
        patient_id=alert.patient_id,
        kind="escalated",
        at=at,
        user_id=None,
        facts={"level": level, "window_minutes": window_minutes},
    )
    session.add(event)
    session.flush()
    return event


def unresolved_counts(session: Session) -> dict[tuple[str, str], int]:
    """How many alerts are unresolved, by (severity, status), across every organization: the
    operational figure /metrics shows (no patient, no organization in it)."""
    rows = session.execute(
        select(Alert.severity, Alert.status, func.count())
        # The inbox index's own predicate, so the database uses it.
        .where(Alert.status != "resolved")
        .group_by(Alert.severity, Alert.status)
    ).all()
    return {(str(severity), str(status)): int(count) for severity, status, count in rows}
