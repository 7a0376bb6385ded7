"""The stored records of notifications (docs/notifications.md): the outbox the worker sends
from, and each patient user's choice of reminders.

The outbox is written in the same transaction as the event that causes a notification, so a
committed event always has its notification and a rolled-back one never does; the worker only
ever moves a row forward (pending -> sending -> sent, or back to pending to retry)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from secondlook.store.models import Base, UTCDateTime, one_of, utcnow

CHANNELS = ("email", "webhook")
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed")


class OutboxMessage(Base):
    """One notification to send, already rendered: the worker sends exactly this text.

    ``idempotency_key`` is unique: enqueuing the same notification twice (a reminder computed
    again the next day, an alert raised again) adds nothing, and the key travels with every
    send so that a receiver can drop a repeat after a crash between sending and recording."""

    __tablename__ = "notification_outbox"
    __table_args__ = (
        CheckConstraint(one_of("channel", CHANNELS), name="channel_known"),
        CheckConstraint(one_of("status", OUTBOX_STATUSES), name="status_known"),
        # The worker's claim: what is due, oldest first.
        Index("ix_notification_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str] = mapped_column(String(500))
    template: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))


class ReminderPreference(Base):
    """A patient user's choice: whether to be reminded of due questionnaires, and where.
    Absent means never chosen: no reminders (a patient opts in)."""

    __tablename__ = "reminder_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    email: Mapped[str | None] = mapped_column(String(320))
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
