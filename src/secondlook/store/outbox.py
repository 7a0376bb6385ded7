"""The worker's queries on the outbox: claim a batch under a lease, record a send or a retry.

A claim is a compare-and-set: a row is taken only while it is pending and due, or while the
lease of the worker that took it has run out (that worker died or hung). On PostgreSQL the
rows are first locked with ``FOR UPDATE SKIP LOCKED``, so concurrent workers take disjoint
batches without waiting on each other; SQLite has one writer at a time (store/db.py takes the
write lock at BEGIN), so the same statements are safe there for the one worker it supports."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from secondlook.store.notify_models import OutboxMessage


def _claimable(now: dt.datetime) -> object:
    return or_(
        and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == "sending", OutboxMessage.claimed_until < now),
    )


def claim(
    session: Session, *, worker: str, now: dt.datetime, lease: dt.timedelta, limit: int
) -> list[OutboxMessage]:
    """Take up to ``limit`` due rows for ``worker`` until ``now + lease``, oldest due first;
    each claim counts as an attempt. Does not commit: the caller commits the claim before it
    sends, so that the lease is visible to every other worker."""
    ids = list(
        session.scalars(
            select(OutboxMessage.id)
            .where(_claimable(now))  # type: ignore[arg-type]
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not ids:
        return []
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), _claimable(now))  # type: ignore[arg-type]
        .values(
            status="sending",
            claimed_by=worker,
            claimed_until=now + lease,
            attempts=OutboxMessage.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.id.in_(ids),
                OutboxMessage.status == "sending",
                OutboxMessage.claimed_by == worker,
            )
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .execution_options(populate_existing=True)
        )
    )


def release_own(session: Session, *, worker: str, now: dt.datetime) -> int:
    """Hand back what a worker of this name had claimed when it stopped (a restart after a
    crash): those rows are not being sent by anyone. Does not commit."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == "sending", OutboxMessage.claimed_by == worker)
        .values(status="pending", claimed_by=None, claimed_until=None, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0))


def mark_sent(session: Session, *, message_id: int, worker: str, now: dt.datetime) -> bool:
    """Record a send; False when the lease was lost meanwhile (another worker took the row
    over and will send it again, with the same idempotency key). Does not commit."""
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.status == "sending",
            OutboxMessage.claimed_by == worker,
        )
        .values(status="sent", sent_at=now, claimed_by=None, claimed_until=None, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def mark_unsent(
    session: Session,
    *,
    message_id: int,
    worker: str,
    error: str,
    retry_at: dt.datetime | None,
) -> bool:
    """Record a failed attempt: pending again from ``retry_at``, or ``failed`` for good when
    it is None. Does not commit."""
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.status == "sending",
            OutboxMessage.claimed_by == worker,
        )
        .values(
            status="pending" if retry_at is not None else "failed",
            next_attempt_at=retry_at if retry_at is not None else OutboxMessage.next_attempt_at,
            claimed_by=None,
            claimed_until=None,
            last_error=error[:500],
        )
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))
