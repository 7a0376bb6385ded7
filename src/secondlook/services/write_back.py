"""Write-back (docs/fhir.md, "Write-back"): the patient's newest assessment, its summary PDF
and the team's decided plan as a FHIR transaction for the EHR, read under one audited
``assessment.read`` of the patient. The FHIR shape is ``fhir.write_back``'s."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from secondlook.case import parse_case
from secondlook.fhir.exporter import export_bundle
from secondlook.fhir.write_back import (
    DecidedItem,
    EhrLink,
    decided_care_plan,
    transaction,
)
from secondlook.instruments import safety_text
from secondlook.platform.access import Access
from secondlook.platform.errors import Refused
from secondlook.reports import pdf
from secondlook.services import care, records
from secondlook.services.smart import ehr_links_of
from secondlook.services.unit import audited
from secondlook.store import records as stored


def write_back(
    session: Session, *, access: Access, patient_id: int, mrn_system: str, now: dt.datetime
) -> dict[str, Any]:
    """The transaction Bundle (404 when the patient has no assessment yet)."""
    org = access.organization_id
    with audited(session, access, "assessment.read", patient_id=patient_id) as scope:
        patient = scope.patient
        assert patient is not None
        seen = records.overview_in(session, organization_id=org, patient=patient)
        if seen.assessment is None:
            raise Refused(404, f"patient {patient_id} has no assessment to write back yet")
        number = stored.case_version_numbers(session, ids=[seen.assessment.case_version_id])
        version = records.case_version_in(
            session,
            organization_id=org,
            patient_id=patient_id,
            number=number.get(seen.assessment.case_version_id),
        )
        if version is None:
            raise Refused(404, f"patient {patient_id}'s assessed case version is not stored")
        assessment = seen.assessment.document
        exported = export_bundle(parse_case(version.document), assessment)
        # The same alerts as the summary PDF of the clinic: questionnaire safety alerts too.
        extra = [
            f"Questionnaire {r.instrument} of {r.answered_on}: "
            + " ".join(safety_text(a).clinician for a in r.alerts)
            for r in seen.responses
            if r.alerts
        ]
        content = pdf.care_plan_summary_pdf(
            patient_label=f"{patient.name} (MRN {patient.mrn or '-'})",
            assessment=assessment,
            assessed_on=seen.assessed_on,
            extra_alerts=extra,
            today=now.date(),
        )
        decided = care.decided_items_in(session, organization_id=org, patient_id=patient_id)
        plan = None
        if decided is not None:
            plan = decided_care_plan(
                [
                    DecidedItem(e.item.name, e.item.kind)
                    for e in [*decided.tests, *decided.treatments]
                ],
                subject="",
                start_on=decided.plan.start_on.isoformat(),
                plan_id=str(decided.plan.id),
            )
        links = [
            EhrLink(issuer, ehr_id)
            for issuer, ehr_id in ehr_links_of(session, organization_id=org, patient_id=patient_id)
        ]
    return transaction(
        exported,
        pdf=content,
        pdf_title=f"SecondLook assessment summary of {seen.assessed_on or now.date().isoformat()}",
        recorded=now.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        links=links,
        mrn=(mrn_system, patient.mrn) if patient.mrn else None,
        plan=plan,
    )
