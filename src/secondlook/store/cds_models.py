"""The CDS Hooks service's state (docs/fhir.md, "CDS Hooks in the server"), shared by every
worker process through the database:

- ``cds_seen_jtis``: the ``jti`` of every accepted EHR token until it expires; the unique
  constraint on (issuer, jti) is what refuses a replay, so two workers cannot both accept one;
- ``cds_patient_links``: which SecondLook patient an EHR patient id was linked to (after the MRN
  of the configured identifier system and the demographics agreed);
- ``cds_cards``: each card returned, with the red flag or safety alert it states;
- ``cds_feedback``: the EHR's feedback on a card, tied to that card and its alert.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from secondlook.store.models import Base, JSONDocument, UTCDateTime, utcnow

#: What a card states: a red flag, a safety alert, the summary, or a problem with the data.
CARD_KINDS = ("red-flag", "safety-alert", "summary", "data-problem")


class CdsSeenJti(Base):
    __tablename__ = "cds_seen_jtis"
    __table_args__ = (UniqueConstraint("issuer", "jti", name="uq_cds_seen_jtis_issuer_jti"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer: Mapped[str] = mapped_column(String(500))
    jti: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class CdsPatientLink(Base):
    __tablename__ = "cds_patient_links"
    __table_args__ = (
        UniqueConstraint(
            "organization_id",
            "issuer",
            "ehr_patient_id",
            name="uq_cds_patient_links_organization_id_issuer_ehr_patient_id",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    issuer: Mapped[str] = mapped_column(String(500))
    ehr_patient_id: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CdsCard(Base):
    __tablename__ = "cds_cards"
    __table_args__ = (Index("ix_cds_cards_hook_instance", "hook_instance"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    service_id: Mapped[str] = mapped_column(String(64))
    hook_instance: Mapped[str] = mapped_column(String(100))
    issuer: Mapped[str] = mapped_column(String(500))
    ehr_patient_id: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    #: The red flag or safety alert id the card states (None for the summary and data cards).
    alert_id: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CdsFeedback(Base):
    __tablename__ = "cds_feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cds_cards.id"), index=True)
    card_uuid: Mapped[str] = mapped_column(String(36))
    alert_id: Mapped[str | None] = mapped_column(String(64))
    issuer: Mapped[str] = mapped_column(String(500))
    outcome: Mapped[str] = mapped_column(String(20))
    outcome_timestamp: Mapped[str | None] = mapped_column(String(40))
    override_reason: Mapped[Any | None] = mapped_column(JSONDocument)
    accepted_suggestions: Mapped[Any | None] = mapped_column(JSONDocument)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
