"""The audit trail: who read or wrote which patient's data, when, and with what outcome.

Events are only ever inserted; the database refuses UPDATE and DELETE on the table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session

from secondlook.platform.access import Principal
from secondlook.store.models import AuditDisclosure, AuditEvent, utcnow
from secondlook.store.text import printable


def record(
    session: Session,
    *,
    actor: Principal | None,
    action: str,
    resource: str,
    outcome: str,
    status: int,
    patient_id: int | None = None,
    organization_id: int | None = None,
    client: str | None = None,
    detail: str | None = None,
    username: str | None = None,
    disclosed: Iterable[int] = (),
) -> AuditEvent:
    """Record an act; ``disclosed`` are the patients a list showed (besides ``patient_id``)."""
    event = AuditEvent(
        at=utcnow(),
        organization_id=actor.organization_id if actor else organization_id,
        actor_user_id=actor.user_id if actor else None,
        actor_username=actor.username if actor else printable(username),
        actor_role=actor.role if actor else None,
        action=action,
        patient_id=patient_id,
        resource=(printable(resource) or "")[:300],
        outcome=outcome,
        status=status,
        client=printable(client),
        detail=printable(detail),
    )
    session.add(event)
    session.flush()
    shown = sorted(set(disclosed))
    if shown:
        session.execute(
            insert(AuditDisclosure), [{"event_id": event.id, "patient_id": p} for p in shown]
        )
    return event


def disclosures(session: Session, *, event_ids: Iterable[int]) -> dict[int, list[int]]:
    """The patients each event showed in a list, by event id (events without: absent)."""
    ids = list(set(event_ids))
    out: dict[int, list[int]] = {}
    if not ids:
        return out
    rows = session.execute(
        select(AuditDisclosure.event_id, AuditDisclosure.patient_id)
        .where(AuditDisclosure.event_id.in_(ids))
        .order_by(AuditDisclosure.event_id, AuditDisclosure.patient_id)
    )
    for event_id, patient_id in rows:
        out.setdefault(event_id, []).append(patient_id)
    return out


def query(
    session: Session,
    *,
    organization_id: int,
    limit: int,
    after_id: int = 0,
    patient_id: int | None = None,
    actor_user_id: int | None = None,
    action: str | None = None,
    outcome: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    newest_first: bool = False,
    before_id: int | None = None,
) -> list[AuditEvent]:
    """The organization's events, oldest first after ``after_id``; with ``newest_first``,
    newest first before ``before_id`` (the pages' order)."""
    statement = select(AuditEvent).where(
        AuditEvent.organization_id == organization_id, AuditEvent.id > after_id
    )
    if before_id is not None:
        statement = statement.where(AuditEvent.id < before_id)
    if patient_id is not None:  # the patient's own records, and the lists that showed them
        statement = statement.where(
            or_(
                AuditEvent.patient_id == patient_id,
                AuditEvent.id.in_(
                    select(AuditDisclosure.event_id).where(AuditDisclosure.patient_id == patient_id)
                ),
            )
        )
    if actor_user_id is not None:
        statement = statement.where(AuditEvent.actor_user_id == actor_user_id)
    if action is not None:
        statement = statement.where(AuditEvent.action == action)
    if outcome is not None:
        statement = statement.where(AuditEvent.outcome == outcome)
    if since is not None:
        statement = statement.where(AuditEvent.at >= since)
    if until is not None:
        statement = statement.where(AuditEvent.at < until)
    order = AuditEvent.id.desc() if newest_first else AuditEvent.id
    return list(session.scalars(statement.order_by(order).limit(limit)))
