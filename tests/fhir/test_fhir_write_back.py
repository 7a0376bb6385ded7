"""Write-back's transaction Bundle (fhir/write_back.py): valid R4 (the official JSON schema and
the models, as the other exports), every red flag and safety alert of the assessment in it,
the summary PDF as a DocumentReference, the decided plan as a CarePlan, and a Provenance with
the EHR's patient ids."""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path

import jsonschema
import pypdf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fhir_support import assert_valid_fhir, case_and_assessment, fhir_schema

from secondlook.fhir import export_bundle
from secondlook.fhir.write_back import DecidedItem, EhrLink, decided_care_plan, transaction
from secondlook.reports import pdf

__all__ = ["fhir_schema"]
RECORDED = "2026-12-02T14:00:00Z"


def _pdf(assessment: dict[str, object]) -> bytes:
    return pdf.care_plan_summary_pdf(patient_label="Test Patient (MRN 1)", assessment=assessment)


def test_a_linked_patients_write_back_is_valid_and_points_at_the_ehr_patient(
    fhir_schema: jsonschema.protocols.Validator,
) -> None:
    case, assessment = case_and_assessment("bundled/cauda-equina")
    content = _pdf(assessment)
    plan = decided_care_plan(
        [
            DecidedItem("MRI of the lumbar spine", "workup"),
            DecidedItem("Physiotherapy", "treatment"),
        ],
        subject="",
        start_on="2026-12-01",
        plan_id="7",
    )
    bundle = transaction(
        export_bundle(case, assessment),
        pdf=content,
        pdf_title="SecondLook assessment summary",
        recorded=RECORDED,
        links=[EhrLink("https://ehr.example/fhir/r4", "eX1")],
        mrn=("urn:oid:1.2.3", "E1234"),
        plan=plan,
    )
    assert_valid_fhir(fhir_schema, bundle)
    assert bundle["type"] == "transaction"
    assert all(e["request"]["method"] == "POST" for e in bundle["entry"])
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert "Patient" not in kinds  # the EHR has its patient
    # Every red flag and safety alert of the assessment is in the write-back.
    issues = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "DetectedIssue"
    ]
    expected = len(assessment["red_flags"]) + len(assessment["safety_alerts"])
    assert expected > 0
    assert len(issues) >= expected
    assert all(i["patient"]["reference"] == "Patient/eX1" for i in issues)
    (document,) = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "DocumentReference"
    ]
    attachment = document["content"][0]["attachment"]
    assert attachment["contentType"] == "application/pdf"
    data = base64.b64decode(attachment["data"])
    assert data == content
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages)
    assert "Cauda equina" in text or "cauda equina" in text.lower()
    (care_plan,) = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "CarePlan" and "team" in e["resource"].get("title", "")
    ]
    assert [a["detail"]["code"]["text"] for a in care_plan["activity"]] == [
        "MRI of the lumbar spine",
        "Physiotherapy",
    ]
    assert care_plan["subject"] == {"reference": "Patient/eX1"}
    provenance = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Provenance"
    ][-1]
    (entity,) = provenance["entity"]
    assert entity["what"]["identifier"] == {"system": "https://ehr.example/fhir/r4", "value": "eX1"}
    targets = {t["reference"] for t in provenance["target"]}
    urls = {e["fullUrl"] for e in bundle["entry"] if e["resource"] is not provenance}
    assert targets == urls


def test_an_unlinked_patient_is_created_only_if_the_ehr_has_no_patient_with_the_mrn(
    fhir_schema: jsonschema.protocols.Validator,
) -> None:
    case, assessment = case_and_assessment("bundled/cauda-equina")
    bundle = transaction(
        export_bundle(case, assessment),
        pdf=_pdf(assessment),
        pdf_title="Summary",
        recorded=RECORDED,
        links=[],
        mrn=("urn:oid:1.2.3", "E1234"),
        plan=None,
    )
    assert_valid_fhir(fhir_schema, bundle)
    first = bundle["entry"][0]
    assert first["resource"]["resourceType"] == "Patient"
    assert first["request"]["ifNoneExist"] == "identifier=urn:oid:1.2.3|E1234"
    provenance = bundle["entry"][-1]["resource"]
    assert provenance["resourceType"] == "Provenance"
    assert "entity" not in provenance
