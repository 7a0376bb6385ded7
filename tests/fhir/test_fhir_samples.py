"""Every FHIR sample written by others (../shared/fhir-samples) imports without a traceback.

Each result is checked against what a clinician expects of that record: none of these
patients had spine surgery (so no procedure may become one), the opioid prescriptions are
recognised with their doses, PHQ-9 keeps item 9, vitals are the latest ones, deceased patients
are refused, and everything the mapping does not use is reported.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from secondlook.case import parse_case
from secondlook.engine import assess
from secondlook.fhir import ImportResult, dose, import_bundle
from secondlook.fhir import codes as c

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "fhir-samples"
SYNTHEA = sorted((SAMPLES / "synthea").glob("*.json"))
US_CORE = SAMPLES / "us-core"
ON = date(2026, 12, 1)
#: The opioid products the Synthea patients were prescribed (RxNorm SCD/SBD).
SYNTHEA_OPIOIDS = {"1049221", "1860154", "1310197"}
DECEASED = {"Chadwick_Von", "Carlton_Ledner", "Werner_Funk"}


def read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data


def test_the_samples_are_there() -> None:
    assert len(SYNTHEA) == 4
    assert (US_CORE / "QuestionnaireResponse-phq-9-example.json").is_file()


def _latest(bundle: dict[str, Any], loinc: str) -> Any:
    found = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation"
        and any(cd.get("code") == loinc for cd in e["resource"]["code"].get("coding", []))
    ]
    return max(found, key=lambda r: r["effectiveDateTime"]) if found else None


@pytest.mark.parametrize("path", SYNTHEA, ids=[p.stem for p in SYNTHEA])
def test_synthea_patient(path: Path) -> None:
    bundle = read(path)
    result = import_bundle(bundle, assessed_on=ON, strict_references=False)
    case = result.case
    # No spine surgery in these records: nothing may be imported as one.
    assert "surgeries" not in case
    assert any(p.path == "$.surgeries" for p in result.problems)
    # Deceased patients are refused, with the age at death rather than at today.
    deceased = [p for p in result.problems if "deceased" in p.message]
    assert bool(deceased) == (path.stem in DECEASED)
    patient = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    if path.stem in DECEASED:
        assert case["patient"]["age"] <= 110
        died = date.fromisoformat(patient["deceasedDateTime"][:10])
        born = date.fromisoformat(patient["birthDate"])
        assert case["patient"]["age"] == died.year - born.year - (
            (died.month, died.day) < (born.month, born.day)
        )
    # The latest weight and height by date (Synthea lists them oldest first).
    for loinc, field in (("29463-7", "weight_kg"), ("8302-2", "height_cm")):
        latest = _latest(bundle, loinc)
        if latest is not None:
            assert case["patient"][field] == round(latest["valueQuantity"]["value"], 3)
    smoking = _latest(bundle, c.LOINC_SMOKING)
    if smoking is not None:
        code = smoking["valueCodeableConcept"]["coding"][0]["code"]
        assert case["patient"]["smoker"] is (code in c.SMOKER_TRUE)
    # Every opioid prescription is recognised as an opioid; these are all stopped, so none is
    # current use, and each says so.
    opioid_ids = [
        e["resource"]["id"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "MedicationRequest"
        and e["resource"].get("medicationCodeableConcept", {}).get("coding", [{}])[0].get("code")
        in SYNTHEA_OPIOIDS
    ]
    if path.stem != "Chadwick_Von" or opioid_ids:
        assert opioid_ids, "the README says this patient has opioid prescriptions"
    by_id = {u.id: u.reason for u in result.unmapped if u.path.endswith(".status")}
    for rid in opioid_ids:
        assert "an opioid" in by_id[rid] and "not current use" in by_id[rid]
    assert "opioid" not in case.get("medications", {})
    _everything_is_accounted_for(bundle, result)


def _everything_is_accounted_for(bundle: dict[str, Any], result: ImportResult) -> None:
    """Each entry is either named in the report or is data the case holds."""
    named = {
        int(u.path.split("[")[1].split("]")[0])
        for u in result.unmapped
        if u.path.startswith("Bundle.entry[")
    }
    used_codes = set(c.LOINC_LABS) | {c.LOINC_SMOKING, c.LOINC_PAIN} | set(c.LOINC_SCORES)
    for i, entry in enumerate(bundle["entry"]):
        resource = entry["resource"]
        if i in named or resource["resourceType"] == "Patient":
            continue
        assert resource["resourceType"] in ("Observation", "Condition"), (
            i,
            resource["resourceType"],
        )
        if resource["resourceType"] == "Observation":
            codes = {cd.get("code") for cd in resource["code"].get("coding", [])}
            assert codes & used_codes, (i, codes)


def test_synthea_opioid_dose_gives_its_mme() -> None:
    # Carlton Ledner, 1928: oxycodone 5 mg / acetaminophen 325 mg, 1 tablet every 6 hours:
    # 20 mg oxycodone a day x 1.5 (CDC 2022) = 30 MME.
    bundle = read(SAMPLES / "synthea" / "Carlton_Ledner.json")
    request = next(
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "MedicationRequest"
        and e["resource"]["authoredOn"].startswith("1928")
    )
    product = dose.identify(request["medicationCodeableConcept"])
    assert product == dose.Product("opioid", "oxycodone", 5.0)
    assert dose.daily_mme(request, product) == pytest.approx(30.0)
    # As current use, it reaches the case with its MME and a TLIF to make it a complete case.
    request = dict(request, status="active")
    patient = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    alive = json.loads(json.dumps(patient))
    alive["resource"].pop("deceasedDateTime")
    tlif = {
        "resource": {
            "resourceType": "Procedure",
            "status": "completed",
            "code": {"coding": [{"system": c.CPT, "code": "22633"}], "text": "TLIF L4-L5"},
            "performedDateTime": "1927-01-01",
        }
    }
    small = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [alive, {"resource": request}, tlif],
    }
    result = import_bundle(small, assessed_on=date(1928, 7, 1), strict_references=False)
    assert result.case["medications"] == {"opioid_mme_per_day": 30.0, "opioid": True}


# -- US Core examples ---------------------------------------------------------------------------


def us_core_bundle(*, without: tuple[str, ...] = ()) -> dict[str, Any]:
    """All US Core examples about Patient/example (and what they refer to), as a collection."""
    entries = []
    for path in sorted(US_CORE.glob("*.json")):
        resource = read(path)
        subject = resource.get("subject") or resource.get("patient") or {}
        ref = subject.get("reference") if isinstance(subject, dict) else None
        if resource["resourceType"] == "Patient" and resource["id"] != "example":
            continue
        if ref not in (None, "Patient/example") or resource["resourceType"] in without:
            continue
        entries.append(
            {
                "fullUrl": f"http://example.org/fhir/{resource['resourceType']}/{resource['id']}",
                "resource": resource,
            }
        )
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def test_us_core_examples_import_with_the_phq9_and_its_item_9() -> None:
    result = import_bundle(us_core_bundle(), assessed_on=ON, strict_references=False)
    phq9 = [q for q in result.case["questionnaires"] if q["instrument"] == "phq-9"]
    # The QuestionnaireResponse (US Core's PHQ-9 Questionnaire address, total and difficulty
    # items) is read; its item Observations and total are not counted a second time.
    assert phq9 == [
        {"instrument": "phq-9", "date": "2022-11-29", "answers": [2, 2, 2, 2, 1, 1, 2, 0, 0]}
    ]
    assert any(
        "imported as answers" in u.reason
        for u in result.unmapped
        if u.id == "PHQ9-item-example-44260-8"
    )
    # No spine surgery among them (a defibrillator implant and alcohol rehabilitation).
    assert "surgeries" not in result.case
    # The chest X-ray report is not spine imaging; the DXA is a bone density study.
    assert [i["modality"] for i in result.case.get("imaging", [])] == ["dexa"]
    assert result.case["imaging"][0]["findings_coded"] is False
    assert "opioid" not in result.case.get("medications", {})
    assert result.unmapped  # and everything else is reported


def test_us_core_phq9_item_observations_alone_give_the_answers() -> None:
    bundle = us_core_bundle(without=("QuestionnaireResponse",))
    result = import_bundle(bundle, assessed_on=ON, strict_references=False)
    phq9 = [q for q in result.case["questionnaires"] if q["instrument"] == "phq-9"]
    assert phq9 == [
        {"instrument": "phq-9", "date": "2022-11-29", "answers": [2, 2, 2, 2, 1, 1, 2, 0, 0]}
    ]
    # The total Observation (hasMember / derivedFrom) is not imported beside complete answers.
    assert any(
        "answers are imported" in u.reason
        for u in result.unmapped
        if u.id == "PHQ9-item-example-44261-6"
    )


def test_us_core_item_9_alone_is_item_9_and_alerts_when_positive() -> None:
    item9 = read(US_CORE / "Observation-PHQ9-item-example-44260-8.json")
    item9["valueCodeableConcept"] = {"coding": [{"system": "http://loinc.org", "code": "LA6571-9"}]}
    patient = read(US_CORE / "patient-example.json")
    tlif = {
        "resourceType": "Procedure",
        "status": "completed",
        "subject": {"reference": "Patient/example"},
        "code": {"coding": [{"system": c.CPT, "code": "22633"}], "text": "TLIF L4-L5"},
        "performedDateTime": "2022-01-10",
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "http://example.org/fhir/Patient/example", "resource": patient},
            {"resource": item9},
            {"resource": tlif},
        ],
    }
    result = import_bundle(bundle, assessed_on=date(2022, 12, 1), strict_references=False)
    assert result.case["questionnaires"] == [
        {"instrument": "phq-9", "date": "2022-11-29", "answers": [None] * 8 + [3]}
    ]
    assessment = assess(parse_case(result.case, today=date(2022, 12, 1)))
    assert "self-harm-risk" in {a["id"] for a in assessment["safety_alerts"]}


def test_us_core_deceased_patient_is_refused() -> None:
    patient = read(US_CORE / "patient-deceased-example.json")
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": patient}]}
    result = import_bundle(bundle, assessed_on=ON)
    assert any("deceased" in p.message for p in result.problems)


@pytest.mark.parametrize("path", sorted(US_CORE.glob("*.json")), ids=lambda p: p.stem)
def test_every_us_core_example_imports_on_its_own(path: Path) -> None:
    resource = read(path)
    bundle = (
        resource
        if resource["resourceType"] == "Bundle"
        else {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": resource}]}
    )
    result = import_bundle(bundle, assessed_on=ON, strict_references=False)
    assert result.unmapped or result.case.get("patient")
