"""The CDS Hooks service in the application (docs/fhir.md, "CDS Hooks in the server").

Mounted at the root (``/cds-services``, as CDS Hooks requires). With a configuration
(``--cds-config FILE`` or ``SECONDLOOK_CDS_CONFIG``) every call is verified with the configured
issuers' keys; replay protection uses one in-memory ``jti`` store per process (several worker
processes need a shared store: see docs/fhir.md). Without one, discovery answers and every
service and feedback call is 401 "CDS Hooks not configured".

The cards link to the SecondLook patient whose MRN is an identifier value of the EHR's Patient,
in the configured organization; when there is no such single patient, they link to SecondLook's
start page (never to a guessed patient).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from secondlook.fhir.cds import cds_router, unconfigured_cds_router
from secondlook.fhir.cds_config import CdsConfig
from secondlook.store import records
from secondlook.store.models import Patient

log = logging.getLogger("secondlook.api")


def patient_linker(
    config: CdsConfig, sessionmaker: Callable[[], Session]
) -> Callable[[str, Mapping[str, Any] | None], dict[str, str]]:
    base = config.settings.app_base_url.rstrip("/")

    def link(ehr_patient_id: str, patient: Mapping[str, Any] | None) -> dict[str, str]:
        found = _find_by_mrn(config.organization, patient, sessionmaker)
        if found is not None:
            return {
                "label": "Open in SecondLook",
                "url": f"{base}/patients/{found}",
                "type": "absolute",
            }
        return {
            "label": "Open SecondLook (no SecondLook patient with this MRN)",
            "url": f"{base}/",
            "type": "absolute",
        }

    return link


def _find_by_mrn(
    organization: str | None,
    patient: Mapping[str, Any] | None,
    sessionmaker: Callable[[], Session],
) -> int | None:
    if organization is None or not isinstance(patient, Mapping):
        return None
    identifiers = patient.get("identifier")
    values = sorted(
        {
            i["value"]
            for i in identifiers
            if isinstance(i, Mapping) and isinstance(i.get("value"), str) and i["value"]
        }
        if isinstance(identifiers, list)
        else set()
    )
    if not values:
        return None
    try:
        with sessionmaker() as session:
            org = records.organization_by_slug(session, slug=organization)
            if org is None:
                return None
            ids = session.scalars(
                select(Patient.id)
                .where(Patient.organization_id == org.id, Patient.mrn.in_(values))
                .limit(2)
            ).all()
    except SQLAlchemyError:
        log.exception("CDS Hooks: looking up the patient by MRN failed")
        return None
    return ids[0] if len(ids) == 1 else None


def cds_routes(config: CdsConfig | None, sessionmaker: Callable[[], Session]) -> APIRouter:
    """The CDS Hooks router for the app: configured, or answering "not configured"."""
    if config is None:
        return unconfigured_cds_router()
    settings = dataclasses.replace(
        config.settings, patient_link=patient_linker(config, sessionmaker)
    )
    return cds_router(settings)
