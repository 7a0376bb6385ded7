"""The CDS Hooks service in the application (docs/fhir.md, "CDS Hooks in the server").

Mounted at the root (``/cds-services``, as CDS Hooks requires). With a configuration
(``--cds-config FILE`` or ``SECONDLOOK_CDS_CONFIG``) every call is verified with the configured
issuers' keys. Its state is in the database, so that every worker process shares it
(``store/cds_models.py``): the ``jti`` of each accepted token until it expires (a replay is
refused by any worker), the EHR patient ids linked to SecondLook patients, every card returned
with the alert it states, and the feedback on those cards. Without a configuration, discovery
answers and every service and feedback call is 401 "CDS Hooks not configured".

The cards link to the SecondLook patient of the configured organization whose MRN is the EHR
Patient's identifier *of the configured MRN system* (another system's value, such as a payer
member id, is never taken for an MRN), and only when the demographics agree: at least one of
birth date and family name matches and neither contradicts. The link is then remembered by the
EHR's patient id (and checked against the demographics again on every call). Without such a
patient the cards link to SecondLook's start page (never to a guessed patient).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import time
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi import APIRouter
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from secondlook.fhir.cds import IssuedCard, PatientLink, cds_router, unconfigured_cds_router
from secondlook.fhir.cds_config import CdsConfig
from secondlook.store import audit, records
from secondlook.store.cds_models import CdsCard, CdsFeedback, CdsPatientLink, CdsSeenJti
from secondlook.store.models import Patient

log = logging.getLogger("secondlook.api")


class DatabaseJtiStore:
    """Seen token ids in ``cds_seen_jtis``: the unique (issuer, jti) constraint decides, so
    that of two workers receiving the same token at once exactly one accepts it."""

    def __init__(
        self, sessionmaker: Callable[[], Session], clock: Callable[[], float] = time.time
    ) -> None:
        self._sessionmaker = sessionmaker
        self._clock = clock

    def seen_before(self, jti: str, issuer: str, expires_at: float) -> bool:
        now = dt.datetime.fromtimestamp(self._clock(), dt.UTC)
        try:
            with self._sessionmaker() as session:  # forget tokens that can no longer be used
                session.execute(delete(CdsSeenJti).where(CdsSeenJti.expires_at < now))
                session.commit()
        except SQLAlchemyError:
            log.warning("CDS Hooks: expired jti rows not removed", exc_info=True)
        with self._sessionmaker() as session:
            session.add(
                CdsSeenJti(
                    issuer=issuer,
                    jti=jti,
                    expires_at=dt.datetime.fromtimestamp(expires_at, dt.UTC),
                )
            )
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                return True
        return False


class DatabaseCardStore:
    """Cards in ``cds_cards`` and feedback in ``cds_feedback``, tied to the card's alert."""

    def __init__(self, sessionmaker: Callable[[], Session]) -> None:
        self._sessionmaker = sessionmaker

    def issued(
        self,
        *,
        issuer: str,
        service_id: str,
        hook_instance: str,
        ehr_patient_id: str,
        patient_id: int | None,
        cards: Sequence[IssuedCard],
    ) -> None:
        with self._sessionmaker() as session:
            for card in cards:
                session.add(
                    CdsCard(
                        uuid=card.uuid,
                        service_id=service_id,
                        hook_instance=hook_instance[:100],
                        issuer=issuer,
                        ehr_patient_id=ehr_patient_id,
                        patient_id=patient_id,
                        kind=card.kind,
                        alert_id=card.alert_id,
                        summary=card.summary[:200],
                    )
                )
            session.commit()

    def feedback(
        self, *, issuer: str, service_id: str, items: Sequence[Mapping[str, Any]]
    ) -> list[int]:
        with self._sessionmaker() as session:
            uuids = {str(item["card"]) for item in items}
            cards = {
                card.uuid: card
                for card in session.scalars(
                    select(CdsCard).where(
                        CdsCard.uuid.in_(uuids),
                        CdsCard.issuer == issuer,
                        CdsCard.service_id == service_id,
                    )
                )
            }
            unknown = [i for i, item in enumerate(items) if str(item["card"]) not in cards]
            if unknown:
                return unknown
            for item in items:
                card = cards[str(item["card"])]
                timestamp = item.get("outcomeTimestamp")
                session.add(
                    CdsFeedback(
                        card_id=card.id,
                        card_uuid=card.uuid,
                        alert_id=card.alert_id,
                        issuer=issuer,
                        outcome=str(item["outcome"]),
                        outcome_timestamp=str(timestamp)[:40] if timestamp is not None else None,
                        override_reason=item.get("overrideReason"),
                        accepted_suggestions=item.get("acceptedSuggestions"),
                    )
                )
            session.commit()
        return []


# -- linking the EHR's patient ----------------------------------------------------------------


def patient_linker(
    config: CdsConfig, sessionmaker: Callable[[], Session]
) -> Callable[[str, str, Mapping[str, Any] | None], PatientLink]:
    base = config.settings.app_base_url.rstrip("/")

    def link(issuer: str, ehr_patient_id: str, patient: Mapping[str, Any] | None) -> PatientLink:
        try:
            found, why = _find(config, issuer, ehr_patient_id, patient, sessionmaker)
        except SQLAlchemyError:
            log.exception("CDS Hooks: looking up the patient failed")
            found, why = None, "SecondLook could not look the patient up"
        if found is not None:
            return PatientLink(
                {
                    "label": "Open in SecondLook",
                    "url": f"{base}/patients/{found}",
                    "type": "absolute",
                },
                found,
            )
        return PatientLink(
            {"label": f"Open SecondLook ({why})", "url": f"{base}/", "type": "absolute"}
        )

    return link


def _find(
    config: CdsConfig,
    issuer: str,
    ehr_patient_id: str,
    patient: Mapping[str, Any] | None,
    sessionmaker: Callable[[], Session],
) -> tuple[int | None, str]:
    if config.organization is None or config.mrn_system is None:
        return None, "no SecondLook organization is configured"
    with sessionmaker() as session:
        org = records.organization_by_slug(session, slug=config.organization)
        if org is None:
            return None, "the configured organization does not exist"
        linked = session.scalars(
            select(Patient)
            .join(CdsPatientLink, CdsPatientLink.patient_id == Patient.id)
            .where(
                CdsPatientLink.organization_id == org.id,
                CdsPatientLink.issuer == issuer,
                CdsPatientLink.ehr_patient_id == ehr_patient_id,
                Patient.organization_id == org.id,
            )
        ).first()
        if linked is not None:
            if _demographics(linked, patient) == "disagree":
                _audit_link(
                    session, org.id, issuer, linked.id, "denied", "birth date or name differs"
                )
                return None, "the linked SecondLook patient's birth date or name differs"
            _audit_link(session, org.id, issuer, linked.id, "success", "linked EHR patient")
            return linked.id, ""
        mrns = _mrns(patient, config.mrn_system)
        if not mrns:
            return None, "the EHR patient has no MRN of the configured system"
        candidates = session.scalars(
            select(Patient).where(Patient.organization_id == org.id, Patient.mrn.in_(mrns)).limit(2)
        ).all()
        if len(candidates) != 1:
            return None, "no SecondLook patient with this MRN"
        (candidate,) = candidates
        if _demographics(candidate, patient) != "agree":
            _audit_link(
                session, org.id, issuer, candidate.id, "denied", "birth date or name differs"
            )
            return None, "a SecondLook patient has this MRN, but the birth date or name differs"
        _audit_link(session, org.id, issuer, candidate.id, "success", "matched by MRN, linked")
        session.add(
            CdsPatientLink(
                organization_id=org.id,
                issuer=issuer,
                ehr_patient_id=ehr_patient_id,
                patient_id=candidate.id,
            )
        )
        try:
            session.commit()
        except IntegrityError:  # another worker linked it at the same moment
            session.rollback()
        return candidate.id, ""


def _audit_link(
    session: Session, organization_id: int, issuer: str, patient_id: int, outcome: str, why: str
) -> None:
    """Looking a SecondLook patient up for the EHR reads their MRN, name and birth date: on the
    audit trail like any access to patient data, under the EHR (the token's issuer) as client.
    Committed at once; the link, when one is made, commits after it."""
    audit.record(
        session,
        actor=None,
        action="cds.patient-link",
        resource="POST /cds-services (patient link)",
        outcome=outcome,
        status=200 if outcome == "success" else 409,
        patient_id=patient_id,
        organization_id=organization_id,
        client=issuer[:100],
        detail=why,
    )
    session.commit()


def _mrns(patient: Mapping[str, Any] | None, system: str) -> list[str]:
    identifiers = patient.get("identifier") if isinstance(patient, Mapping) else None
    return sorted(
        {
            str(i["value"])
            for i in (identifiers if isinstance(identifiers, list) else [])
            if isinstance(i, Mapping)
            and i.get("system") == system
            and isinstance(i.get("value"), str)
            and i["value"]
        }
    )


def _words(text: str) -> set[str]:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold()
    return {w for w in re.split(r"[^a-z0-9]+", plain) if w}


def _demographics(stored: Patient, patient: Mapping[str, Any] | None) -> str:
    """``agree`` (one of birth date and family name matches, neither contradicts),
    ``disagree`` (one contradicts) or ``unknown`` (nothing to compare)."""
    if not isinstance(patient, Mapping):
        return "unknown"
    results = []
    birth = patient.get("birthDate")
    if stored.birth_date is not None and isinstance(birth, str) and birth:
        results.append(birth[:10] == stored.birth_date.isoformat())
    families: set[str] = set()
    names = patient.get("name")
    for name in names if isinstance(names, list) else []:
        if isinstance(name, Mapping) and name.get("use") not in ("old", "anonymous"):
            family = name.get("family")
            if isinstance(family, str):
                families |= _words(family)
            elif isinstance(name.get("text"), str):
                words = str(name["text"]).replace(",", " ").split()
                families |= _words(words[-1]) if words else set()
    if families and stored.name:
        results.append(bool(families & _words(stored.name)))
    if not results:
        return "unknown"
    return "agree" if all(results) else "disagree"


def cds_routes(
    config: CdsConfig | None,
    sessionmaker: Callable[[], Session],
    *,
    smart_launch_url: str | None = None,
) -> APIRouter:
    """The CDS Hooks router for the app: configured, or answering "not configured". With
    ``smart_launch_url`` the cards carry a SMART app link to SecondLook's EHR launch."""
    if config is None:
        return unconfigured_cds_router()
    settings = dataclasses.replace(
        config.settings,
        patient_link=patient_linker(config, sessionmaker),
        card_store=DatabaseCardStore(sessionmaker),
        smart_launch_url=smart_launch_url,
        jwt=dataclasses.replace(config.settings.jwt, jti_store=DatabaseJtiStore(sessionmaker)),
    )
    return cds_router(settings)
