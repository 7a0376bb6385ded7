"""The SMART EHR launch's import (docs/fhir.md, "SMART EHR launch"): the patient's record read
from the EHR becomes a new case version of the SecondLook patient linked to that EHR patient,
and is assessed, so the clinician's patient page shows its red flags and safety alerts.

Which SecondLook patient: the one this EHR patient id was linked to before (the CDS Hooks link
table), else the one whose MRN (of the configured identifier system) is the EHR patient's, when
the birth date does not contradict it, else a new patient. Each step is the same audited act as
anywhere else (``patient.create``, ``case.write``, ``assessment.create``); the link itself is on
the audit trail as ``smart.patient-link``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from secondlook.case import CaseInvalid
from secondlook.fhir.lenient import import_leniently, prune_case
from secondlook.fhir.outcome import BundleInvalid
from secondlook.platform.access import Access
from secondlook.platform.errors import Refused
from secondlook.services import records
from secondlook.store import audit
from secondlook.store.cds_models import CdsPatientLink
from secondlook.store.models import Patient


@dataclass(frozen=True)
class Imported:
    patient_id: int
    case_version: int
    created_patient: bool
    #: What the record held that SecondLook did not map, and what was left out, as sentences.
    report: Sequence[str]


def import_launch(
    session: Session,
    *,
    access: Access,
    issuer: str,
    ehr_patient_id: str,
    bundle: dict[str, Any],
    problems: Sequence[str],
    mrn_system: str,
    today: dt.date,
) -> Imported:
    """Import ``bundle`` (the record read from the EHR, its Patient first; ``problems``: what
    could not be read) leniently, as CDS Hooks does (an entry the importer refuses is left out
    and reported), store the case as the linked patient's next case version and assess it
    (422 when the record does not make a valid case, saying why; 409 when the MRN's patient
    has another birth date)."""
    report = list(problems)
    try:
        result = import_leniently(bundle, ehr_patient_id, today, report)
    except BundleInvalid as invalid:
        lines = "; ".join(f"{i.diagnostics} ({i.expression or 'Bundle'})" for i in invalid.issues)
        raise Refused(422, f"the EHR's record could not be read: {lines[:1000]}") from None
    # As CDS Hooks: a value the case refuses is left out (and reported), not the whole record;
    # checked before any patient is made or linked, so a refusal stores nothing.
    try:
        document = prune_case(result.case, report)
    except CaseInvalid as invalid:
        lacks = "; ".join(f"{p.path}: {p.message}" for p in invalid.problems[:20])
        raise Refused(
            422, f"the EHR's record does not make a case SecondLook can assess: {lacks}"
        ) from None
    report += [u.as_issue().diagnostics for u in result.unmapped]
    ehr_patient = bundle["entry"][0]["resource"]
    patient_id, created = _linked_patient(
        session, access, issuer, ehr_patient_id, ehr_patient, mrn_system
    )
    current = records.case_version_in(
        session, organization_id=access.organization_id, patient_id=patient_id
    )
    version = records.save_case(
        session,
        access=access,
        patient_id=patient_id,
        expected=current.number if current is not None else 0,
        document=dict(document),
    )
    records.assess(session, access=access, patient_id=patient_id, case_version=version.number)
    # What the EHR's record held that is not in the case stays on record with the import.
    _audit(
        session,
        access,
        patient_id,
        f"case version {version.number} imported from the EHR; "
        + (f"{len(report)} item(s) not mapped or left out: " + " | ".join(report))
        if report
        else f"case version {version.number} imported from the EHR; everything was mapped",
        action="smart.import",
    )
    return Imported(patient_id, version.number, created, tuple(report))


def _linked_patient(
    session: Session,
    access: Access,
    issuer: str,
    ehr_patient_id: str,
    ehr_patient: Mapping[str, Any],
    mrn_system: str,
) -> tuple[int, bool]:
    org = access.organization_id
    linked = session.scalars(
        select(CdsPatientLink.patient_id).where(
            CdsPatientLink.organization_id == org,
            CdsPatientLink.issuer == issuer,
            CdsPatientLink.ehr_patient_id == ehr_patient_id,
        )
    ).first()
    if linked is not None:
        _audit(session, access, linked, "linked EHR patient")
        return linked, False
    mrn = _mrn(ehr_patient, mrn_system)
    birth = _birth_date(ehr_patient)
    created = False
    found = (
        session.scalars(
            select(Patient).where(Patient.organization_id == org, Patient.mrn == mrn)
        ).first()
        if mrn
        else None
    )
    if found is not None:
        if found.birth_date is not None and birth is not None and found.birth_date != birth:
            _audit(session, access, found.id, "MRN matches but the birth date differs", "denied")
            raise Refused(
                409,
                "a SecondLook patient has this EHR patient's MRN but another birth date; "
                "check the patient in both systems before launching again",
            )
        patient_id = found.id
        _audit(session, access, patient_id, "matched by MRN, linked")
    else:
        patient = records.create_patient(
            session, access=access, name=_name(ehr_patient), mrn=mrn, birth_date=birth
        )
        patient_id, created = patient.id, True
        _audit(session, access, patient_id, "new patient from the EHR, linked")
    session.add(
        CdsPatientLink(
            organization_id=org, issuer=issuer, ehr_patient_id=ehr_patient_id, patient_id=patient_id
        )
    )
    try:
        session.commit()
    except IntegrityError:  # a second launch linked it at the same moment: use that link
        session.rollback()
        again = session.scalars(
            select(CdsPatientLink.patient_id).where(
                CdsPatientLink.organization_id == org,
                CdsPatientLink.issuer == issuer,
                CdsPatientLink.ehr_patient_id == ehr_patient_id,
            )
        ).first()
        if again is None:
            raise
        patient_id = again
    return patient_id, created


def ehr_links_of(
    session: Session, *, organization_id: int, patient_id: int
) -> list[tuple[str, str]]:
    """The (issuer, EHR patient id) pairs the patient is linked to (for write-back)."""
    rows = session.execute(
        select(CdsPatientLink.issuer, CdsPatientLink.ehr_patient_id)
        .where(
            CdsPatientLink.organization_id == organization_id,
            CdsPatientLink.patient_id == patient_id,
        )
        .order_by(CdsPatientLink.id)
    ).all()
    return [(str(r[0]), str(r[1])) for r in rows]


def _audit(
    session: Session,
    access: Access,
    patient_id: int,
    why: str,
    outcome: str = "success",
    action: str = "smart.patient-link",
) -> None:
    """Linking reads the patient's MRN and birth date: on the audit trail, committed at once."""
    audit.record(
        session,
        actor=access.principal,
        action=action,
        resource=access.via,
        outcome=outcome,
        status=200 if outcome == "success" else 409,
        patient_id=patient_id,
        client=access.client,
        detail=why[:500],
    )
    session.commit()


def _mrn(patient: Mapping[str, Any], system: str) -> str | None:
    """The MRN of the configured identifier system only (a payer member id is no MRN)."""
    for identifier in patient.get("identifier") or []:
        if (
            isinstance(identifier, Mapping)
            and identifier.get("system") == system
            and isinstance(identifier.get("value"), str)
            and 0 < len(identifier["value"]) <= 64
        ):
            return str(identifier["value"])
    return None


def _birth_date(patient: Mapping[str, Any]) -> dt.date | None:
    value = patient.get("birthDate")
    if isinstance(value, str) and len(value) == 10:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _name(patient: Mapping[str, Any]) -> str:
    """The official (else first usable) name as the EHR writes it, else the EHR's id."""
    names = [n for n in patient.get("name") or [] if isinstance(n, Mapping)]
    names.sort(key=lambda n: n.get("use") != "official")
    for name in names:
        if name.get("use") in ("old", "anonymous"):
            continue
        if isinstance(name.get("text"), str) and name["text"].strip():
            return str(name["text"]).strip()[:200]
        given = [g for g in name.get("given") or [] if isinstance(g, str)]
        family = str(name["family"]) if isinstance(name.get("family"), str) else ""
        text = " ".join([*given, family]).strip()
        if text:
            return text[:200]
    return f"EHR patient {patient.get('id', '')}"[:200]
