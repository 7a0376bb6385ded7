"""The stored alerts (docs/care.md, "Alerts"): one row per condition raised for a patient, with
its current state and version, and the append-only history of what happened to it.

The same condition raised again while its alert is open is the same alert: a unique partial
index on (patient, condition key) among the unresolved alerts makes a duplicate impossible,
whatever code writes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from secondlook.care import alerts as vocabulary
from secondlook.store.models import Base, JSONDocument, UTCDateTime, one_of, utcnow

UNRESOLVED = "status <> 'resolved'"


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint(one_of("severity", vocabulary.SEVERITIES), name="severity_known"),
        CheckConstraint(one_of("status", vocabulary.STATUSES), name="status_known"),
        CheckConstraint("version >= 1", name="version_positive"),
        Index(
            "uq_alerts_open_condition",
            "patient_id",
            "condition_key",
            unique=True,
            sqlite_where=text(UNRESOLVED),
            postgresql_where=text(UNRESOLVED),
        ),
        # The inbox: the organization's unresolved alerts.
        Index(
            "ix_alerts_inbox",
            "organization_id",
            "raised_at",
            sqlite_where=text(UNRESOLVED),
            postgresql_where=text(UNRESOLVED),
        ),
        Index("ix_alerts_patient_id_id", "patient_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    condition_key: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(80))
    severity: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="open")
    version: Mapped[int] = mapped_column(Integer, default=1)
    raised_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_raised_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class AlertEvent(Base):
    """Raised, raised again, acknowledged, resolved: append-only (the migration's triggers)."""

    __tablename__ = "alert_events"
    __table_args__ = (
        CheckConstraint(one_of("kind", vocabulary.EVENT_KINDS), name="kind_known"),
        Index("ix_alert_events_alert_id_id", "alert_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: what raised it: assessment / questionnaire / import (raised and raised-again only)
    source: Mapped[str | None] = mapped_column(String(20))
    assessment_id: Mapped[int | None] = mapped_column(ForeignKey("assessments.id"))
    response_id: Mapped[int | None] = mapped_column(ForeignKey("questionnaire_responses.id"))
    facts: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    #: the structured action of a resolution (care.alerts.RESOLUTION_ACTIONS)
    resolution: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
