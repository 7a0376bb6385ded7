"""Write-back (docs/fhir.md, "Write-back"): the assessment summary and the decided plan as one
FHIR R4 transaction Bundle an EHR can store.

The transaction holds the exported assessment (``exporter.export_bundle``: the case's facts,
the red flags and safety alerts as DetectedIssues, the work-up and treatment options...), the
clinician's summary PDF as a DocumentReference (base64 in ``content.attachment``), the team's
decided plan as a CarePlan (``decided_care_plan``, kept apart so a full CarePlan export of stored
plans can replace it), and a Provenance naming SecondLook as author and the EHR patient ids the
SecondLook patient is linked to. Every entry is a POST with a ``urn:uuid`` fullUrl, so the
EHR assigns ids and resolves the references in one transaction (FHIR R4 3.1.0.11.2). When the
patient is linked to an EHR patient, references to the patient point at ``Patient/{EHR id}``
and no Patient is created; otherwise the Patient is created only if none has the MRN
(``ifNoneExist``)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from secondlook.fhir import codes as c

NAMESPACE: Final = uuid.UUID("6b0f5f0e-3f61-4c8e-9a57-2b9d1c2a7e41")
#: LOINC 11488-4 "Consult note": the summary is a specialist's consultation document.
CONSULT_NOTE: Final = {"system": "http://loinc.org", "code": "11488-4", "display": "Consult note"}


@dataclass(frozen=True)
class EhrLink:
    issuer: str  # the EHR's FHIR base URL (SMART ``iss`` or CDS Hooks issuer)
    patient_id: str  # the EHR's Patient.id


@dataclass(frozen=True)
class DecidedItem:
    name: str
    kind: str  # "workup" or "treatment"
    note: str = ""


def decided_care_plan(
    items: Sequence[DecidedItem], *, subject: str, start_on: str, plan_id: str
) -> dict[str, Any]:
    """The decided plan, minimal: one activity per accepted item (work-up and treatments)."""
    return {
        "resourceType": "CarePlan",
        "identifier": [{"system": c.CASE_ID_SYSTEM + "/care-plan", "value": plan_id}],
        "status": "active",
        "intent": "plan",
        "title": "Care plan decided by the team (SecondLook)",
        "subject": {"reference": subject},
        "period": {"start": start_on},
        "activity": [
            {
                "detail": {
                    "kind": "ServiceRequest",
                    "code": {"text": item.name},
                    "status": "not-started",
                    "description": (item.note or item.name)[:1000],
                }
            }
            for item in items
        ]
        or [{"detail": {"status": "not-started", "description": "No item accepted"}}],
    }


def transaction(
    exported: Mapping[str, Any],
    *,
    pdf: bytes,
    pdf_title: str,
    recorded: str,
    links: Sequence[EhrLink],
    mrn: tuple[str, str] | None,
    plan: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The write-back transaction (see the module docstring). ``exported``: export_bundle's
    collection, its Patient first; ``recorded``: an instant; ``mrn``: (system, value)."""
    entries = [dict(e) for e in json.loads(json.dumps(exported["entry"]))]
    patient_url = str(entries[0]["fullUrl"])
    seed = str(exported.get("id") or patient_url)
    subject = f"Patient/{links[0].patient_id}" if links else patient_url
    if links:
        entries = entries[1:]  # the EHR has its patient: point at it, create none
        text = json.dumps(entries).replace(json.dumps(patient_url), json.dumps(subject))
        entries = json.loads(text)
    out: list[dict[str, Any]] = []
    for entry in entries:
        resource = entry["resource"]
        request: dict[str, Any] = {"method": "POST", "url": resource["resourceType"]}
        if resource["resourceType"] == "Patient" and mrn is not None:
            request["ifNoneExist"] = f"identifier={mrn[0]}|{mrn[1]}"
        out.append({"fullUrl": entry["fullUrl"], "resource": resource, "request": request})

    def add(kind: str, resource: dict[str, Any]) -> str:
        url = f"urn:uuid:{uuid.uuid5(NAMESPACE, f'{seed}/{kind}/{recorded}')}"
        out.append(
            {
                "fullUrl": url,
                "resource": resource,
                "request": {"method": "POST", "url": resource["resourceType"]},
            }
        )
        return url

    add(
        "document",
        {
            "resourceType": "DocumentReference",
            "status": "current",
            "docStatus": "final",
            "type": {"coding": [CONSULT_NOTE], "text": "SecondLook assessment summary"},
            "subject": {"reference": subject},
            "date": recorded,
            "description": pdf_title,
            "content": [
                {
                    "attachment": {
                        "contentType": "application/pdf",
                        "data": base64.b64encode(pdf).decode("ascii"),
                        "title": pdf_title,
                        "creation": recorded,
                    }
                }
            ],
        },
    )
    targets = [e["fullUrl"] for e in out]
    if plan is not None:
        targets.append(add("plan", {**plan, "subject": {"reference": subject}}))
    provenance: dict[str, Any] = {
        "resourceType": "Provenance",
        "target": [{"reference": url} for url in targets],
        "recorded": recorded,
        "activity": {"text": "Assessment of persistent pain after spine surgery"},
        "agent": [{"who": {"display": "SecondLook"}}],
    }
    if links:  # the EHR's own ids: which of its patients (and which EHR) this is about
        provenance["entity"] = [
            {
                "role": "source",
                "what": {
                    "reference": f"Patient/{link.patient_id}",
                    "identifier": {"system": link.issuer, "value": link.patient_id},
                    "display": "The EHR patient this record is about",
                },
            }
            for link in links
        ]
    add("provenance", provenance)
    return {"resourceType": "Bundle", "type": "transaction", "entry": out}
