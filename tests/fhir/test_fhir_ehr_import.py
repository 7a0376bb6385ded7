"""Import of EHR-shaped records: what a clinician expects to find, and nothing invented.

The fixtures in tests/fhir/ehr/ are written in the shapes Epic and Cerner return (searchsets,
``medicationReference``, contained Medications, ``admin-amount`` doses, OperationOutcome
entries); each test names the defect it guards against.
"""

from __future__ import annotations

import copy
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))

from secondlook.case import parse_case
from secondlook.commands.fhir import register
from secondlook.engine import assess
from secondlook.fhir import BundleInvalid, ImportResult, import_bundle
from secondlook.fhir.importer import partial_date

EHR = Path(__file__).resolve().parent / "ehr"
ON = date(2026, 12, 1)
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CPT = "http://www.ama-assn.org/go/cpt"
LOINC = "http://loinc.org"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EHR / f"{name}.json").read_text("utf-8"))
    return data


def imported(bundle: dict[str, Any], **kwargs: Any) -> ImportResult:
    kwargs.setdefault("strict_references", False)
    return import_bundle(bundle, assessed_on=ON, **kwargs)


def assessed(result: ImportResult) -> dict[str, Any]:
    assert result.problems == [], result.problems
    out: dict[str, Any] = assess(parse_case(result.case, today=ON))
    return out


def alert_ids(result: ImportResult) -> set[str]:
    return {a["id"] for a in assessed(result)["safety_alerts"]}


def reasons(result: ImportResult, resource_id: str) -> list[str]:
    return [u.reason for u in result.unmapped if u.id == resource_id]


# -- the Epic-shaped record -------------------------------------------------------------------


def test_epic_record_gives_the_case_a_clinician_expects() -> None:
    result = imported(load("epic_like"))
    case = result.case
    # Only the TLIF is a surgery: the epidural (CPT 64483) and the obstetric cerclage are not.
    assert [(s["procedure"], s["date"]) for s in case["surgeries"]] == [("tlif", "2025-08-14")]
    # Norco 5-325, 10 mg (calculated) every 6 h: 40 MME; morphine 2 x 15 mg tablets twice daily
    # plus 15 mg at night: 75 MME. Total 115 (CDC 2022 factors 1.0 and 1.0).
    assert case["medications"]["opioid_mme_per_day"] == 115.0
    assert case["medications"]["opioid"] is True
    # PHQ-9 item 9 "Several days" from a LOINC form that also carries total and difficulty items.
    (phq9,) = case["questionnaires"]
    assert phq9["answers"] == [1, 1, 0, 0, 0, 0, 0, 0, 1]
    # The latest weight by date, although the older one comes later in the bundle.
    assert case["patient"]["weight_kg"] == 82.0
    # "WO CONTRAST" is a plain MRI; the chest X-ray is not spine imaging.
    (mri,) = case["imaging"]
    assert mri["modality"] == "mri"
    assert mri["findings_coded"] is False
    assert "Interbody cage at L4-L5" in mri["report"]
    # A provisional depression is not a diagnosis; only the patient's own active goal is kept.
    assert "psychosocial" not in case
    assert case["preferences"]["goals"] == ["Walk my dog for 30 minutes"]
    alerts = alert_ids(result)
    assert {"self-harm-risk", "opioid-overdose-risk"} <= alerts
    assert "opioid-dose-unknown" not in alerts


def test_epic_record_reports_what_it_does_not_use_and_keeps_notes() -> None:
    result = imported(load("epic_like"))
    assert any("Incidental durotomy" in n for n in result.notes)
    assert any("uncomplicated recovery" in n for n in result.notes)
    assert any("PEEK interbody cage" in n for n in result.notes)
    assert any("injection history" in n and "64483" in n for n in result.notes)
    assert any("winter clothes" in n for n in result.notes)
    paths = {u.path for u in result.unmapped}
    assert "Bundle.entry[4].resource.performer" in paths  # the TLIF's surgeon
    assert "Bundle.entry[2].resource.requester" in paths
    assert any("interpretation" in p for p in paths)
    assert any("not of the spine" in r for r in reasons(result, "dr-cxr"))
    assert any("provisional" in r for r in reasons(result, "c-dep"))
    assert any("cancelled" in r for r in reasons(result, "g-cancelled"))
    assert any("clinical target" in r for r in reasons(result, "g-a1c"))
    # An EHR's care plan is not "SecondLook's assessment output".
    (care_plan,) = reasons(result, "cp1")
    assert "assessment output" not in care_plan
    # The Medication read through the request is not reported as unread.
    assert reasons(result, "med-norco") == []


def test_an_injection_never_becomes_the_index_surgery() -> None:
    # 15 months after a TLIF with an epidural last month: chronic, not "transient".
    result = imported(load("epic_like"))
    classification = assessed(result)["classification"]
    assert classification["chronic"] is True
    assert classification["months_since_surgery"] > 15


@pytest.mark.parametrize(
    ("code", "text"),
    [
        ({"coding": [{"system": CPT, "code": "64483"}]}, "transforaminal epidural"),
        ({"coding": [{"system": CPT, "code": "64493"}]}, "medial branch"),
        ({"coding": [{"system": CPT, "code": "64635"}]}, "radiofrequency"),
        ({"coding": [{"system": CPT, "code": "62270"}]}, "lumbar puncture"),
        ({"coding": [{"system": CPT, "code": "63650"}]}, "neurostimulator"),
        ({"text": "Lumbar puncture, diagnostic"}, "not a spine surgery"),
        ({"text": "MRI lumbar spine without contrast"}, "not a spine surgery"),
        ({"text": "Physical therapy evaluation, low back"}, "not a spine surgery"),
        ({"text": "Cervical cerclage"}, "not a spine surgery"),
        ({"text": "Cervical biopsy"}, "not a spine surgery"),
        ({"text": "Lumbar epidural steroid injection L5-S1"}, "spinal injection"),
    ],
)
def test_non_surgical_procedures_are_not_surgeries(code: dict[str, Any], text: str) -> None:
    bundle = load("epic_like")
    procedure = next(e for e in bundle["entry"] if e["resource"]["id"] == "p-esi")["resource"]
    procedure["code"] = code
    result = imported(bundle)
    assert [s["procedure"] for s in result.case["surgeries"]] == ["tlif"]
    assert any(text in r.lower() for r in reasons(result, "p-esi")), reasons(result, "p-esi")


def test_spine_surgery_is_recognised_by_cpt_family_and_category() -> None:
    bundle = load("epic_like")
    procedure = next(e for e in bundle["entry"] if e["resource"]["id"] == "p-esi")["resource"]
    procedure["code"] = {"coding": [{"system": CPT, "code": "63056"}]}  # an unlisted 63xxx
    result = imported(bundle)
    assert [s["procedure"] for s in result.case["surgeries"]] == ["tlif", "other"]
    procedure["code"] = {"text": "Revision of lumbar spine hardware"}
    procedure["category"] = {"coding": [{"system": "http://snomed.info/sct", "code": "387713003"}]}
    assert [s["procedure"] for s in imported(bundle).case["surgeries"]] == ["tlif", "other"]


# -- opioids ----------------------------------------------------------------------------------


def _with_only(bundle: dict[str, Any], *keep: str) -> dict[str, Any]:
    """The bundle without the medication requests not named in ``keep``."""
    out = copy.deepcopy(bundle)
    out["entry"] = [
        e
        for e in out["entry"]
        if e["resource"]["resourceType"] != "MedicationRequest" or e["resource"]["id"] in keep
    ]
    return out


def _request(name: str) -> dict[str, Any]:
    bundle = load("epic_like")
    found: dict[str, Any] = next(e for e in bundle["entry"] if e["resource"]["id"] == name)
    resource: dict[str, Any] = found["resource"]
    return resource


def test_every_dosage_instruction_is_summed() -> None:
    # morphine 30 mg twice daily + 15 mg at night = 75 mg/day oral morphine = 75 MME.
    result = imported(_with_only(load("epic_like"), "mr-morphine"))
    assert result.case["medications"]["opioid_mme_per_day"] == 75.0


def test_admin_amount_in_tablets_is_not_read_as_milligrams() -> None:
    bundle = _with_only(load("epic_like"), "mr-norco")
    assert imported(bundle).case["medications"]["opioid_mme_per_day"] == 40.0
    # Without the mg entry, 2 tablets x 5 mg (from the Medication's name) every 6 h is the same.
    request = next(e for e in bundle["entry"] if e["resource"]["id"] == "mr-norco")["resource"]
    request["dosageInstruction"][0]["doseAndRate"].pop()
    assert imported(bundle).case["medications"]["opioid_mme_per_day"] == 40.0


@pytest.mark.parametrize(
    ("concept", "mme"),
    [
        ({"text": "Norco 5-325"}, 20.0),  # hydrocodone 5 mg x 4 a day
        ({"text": "Percocet 10/325 mg tablet"}, 60.0),  # oxycodone 10 mg x 4 x 1.5
        ({"coding": [{"system": RXNORM, "code": "1049221"}]}, 30.0),  # oxycodone 5 mg SCD
        (
            {
                "coding": [
                    {
                        "system": RXNORM,
                        "code": "999999",
                        "display": "HYDROmorphone HCl 2 MG Oral Tablet",
                    }
                ]
            },
            40.0,  # an SCD read from its RxNorm name: 2 mg x 4 x 5
        ),
    ],
)
def test_brand_names_and_rxnorm_products_give_strength(concept: dict[str, Any], mme: float) -> None:
    bundle = _with_only(load("epic_like"), "mr-norco")
    request = next(e for e in bundle["entry"] if e["resource"]["id"] == "mr-norco")["resource"]
    del request["medicationReference"]
    request["medicationCodeableConcept"] = concept
    request["dosageInstruction"][0]["doseAndRate"] = [
        {"doseQuantity": {"value": 1, "unit": "tablet", "code": "{tbl}"}}
    ]
    assert imported(bundle).case["medications"]["opioid_mme_per_day"] == mme


def test_an_opioid_without_a_computable_dose_is_explicitly_unknown() -> None:
    bundle = _with_only(load("epic_like"), "mr-norco", "mr-morphine")
    request = next(e for e in bundle["entry"] if e["resource"]["id"] == "mr-morphine")["resource"]
    request["contained"][0] = {
        "resourceType": "Medication",
        "id": "m1",
        "code": {"text": "Butrans 10 mcg/hr patch"},
    }
    result = imported(bundle)
    meds = result.case["medications"]
    # The known part (Norco, 40 MME) is a lower bound, never the total.
    assert "opioid_mme_per_day" not in meds
    assert meds["opioid_mme_per_day_at_least"] == 40.0
    assert meds["opioid"] is True
    assert any("buprenorphine" in r for r in reasons(result, "mr-morphine"))
    alerts = alert_ids(result)
    assert "opioid-dose-unknown" in alerts
    assert "opioid-overdose-risk" not in alerts  # at least 40 is below 50


def test_a_medication_reference_outside_the_bundle_is_read_from_its_display() -> None:
    bundle = _with_only(load("epic_like"), "mr-norco")
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["id"] != "med-norco"]
    result = imported(bundle)
    assert result.case["medications"]["opioid_mme_per_day"] == 40.0
    assert any("not in the bundle" in r for r in reasons(result, "mr-norco"))
    with pytest.raises(BundleInvalid):
        imported(bundle, strict_references=True)


# -- the Cerner-shaped record ------------------------------------------------------------------


def test_cerner_searchset_with_operation_outcomes_imports() -> None:
    result = imported(load("cerner_like"))
    case = result.case
    # performedString "2015" and a year-month period keep both laminectomies.
    assert case["surgeries"] == [
        {
            "date": "2015-01-01",
            "date_precision": "year",
            "procedure": "laminectomy",
            "levels": ["L4-L5"],
        },
        {
            "date": "2026-03-01",
            "date_precision": "month",
            "procedure": "laminectomy",
            "levels": ["L5-S1"],
        },
    ]
    # Item 9 alone (LOINC 44260-8) is item 9; the EHR's total stays, as the answers are partial.
    by_kind = {("answers" in q): q for q in case["questionnaires"]}
    assert by_kind[True]["answers"] == [None] * 8 + [2]
    assert by_kind[False]["score"] == 14.0
    assert any("confidentiality" in n for n in result.notes)
    assert any(
        "no place" in u.reason for u in result.unmapped if u.resource_type == "MedicinalProduct"
    )
    alerts = alert_ids(result)
    assert "self-harm-risk" in alerts
    assert "opioid-dose-unknown" in alerts  # buprenorphine has no MME factor


def test_item_9_observation_alone_raises_the_self_harm_alert() -> None:
    bundle = load("cerner_like")
    bundle["entry"] = [
        e for e in bundle["entry"] if e["resource"]["resourceType"] in ("Patient", "Procedure")
    ] + [e for e in bundle["entry"] if e["resource"].get("id") == "i9"]
    result = imported(bundle)
    assert "self-harm-risk" in alert_ids(result)
    value = bundle["entry"][-1]["resource"]["valueCodeableConcept"]["coding"][0]
    value["code"] = "LA6568-5"  # "Not at all"
    assert "self-harm-risk" not in alert_ids(imported(bundle))


# -- small rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015", ("2015-01-01", "year")),
        ("2015-06", ("2015-06-01", "month")),
        ("2015-06-30T10:00:00Z", ("2015-06-30", None)),
        ("about 2009, at another hospital", ("2009-01-01", "year")),
        ("many years ago", (None, None)),
        ("2015-02-30", (None, None)),
    ],
)
def test_partial_dates_keep_their_precision(text: str, expected: tuple[Any, Any]) -> None:
    assert partial_date(text) == expected


@pytest.mark.parametrize(
    ("text", "modality"),
    [
        ("MRI LUMBAR SPINE WO CONTRAST", "mri"),
        ("MR L SPINE W/O CONTRAST", "mri"),
        ("MRI lumbar spine without contrast", "mri"),
        ("MR L SPINE W AND WO CONTRAST", "mri-gadolinium"),
        ("MRI LUMBAR SPINE W/ & W/O CONTRAST", "mri-gadolinium"),
        ("MRI lumbar spine without and with contrast", "mri-gadolinium"),
        ("MRI lumbar spine with gad", "mri-gadolinium"),
        ("MRI lumbar spine with contrast", "mri-gadolinium"),
        ("MRI lumbar spine", "mri"),
    ],
)
def test_contrast_wording(text: str, modality: str) -> None:
    bundle = load("epic_like")
    report = next(e for e in bundle["entry"] if e["resource"]["id"] == "dr-mri")["resource"]
    report["code"] = {"text": text}
    (study,) = imported(bundle).case["imaging"]
    assert study["modality"] == modality


@pytest.mark.parametrize(
    "text", ["CT HEAD WO CONTRAST", "XR KNEE 3 VIEWS", "XR CHEST 2 VIEWS", "CT thorax"]
)
def test_imaging_of_other_anatomy_is_not_spine_imaging(text: str) -> None:
    bundle = load("epic_like")
    report = next(e for e in bundle["entry"] if e["resource"]["id"] == "dr-mri")["resource"]
    report["code"] = {"text": text}
    result = imported(bundle)
    assert "imaging" not in result.case
    assert any("not of the spine" in r for r in reasons(result, "dr-mri"))
    report["bodySite"] = [{"coding": [{"system": "http://snomed.info/sct", "code": "122496007"}]}]
    assert "imaging" in imported(bundle).case  # a spinal body site makes it spine imaging


@pytest.mark.parametrize(
    ("verification", "clinical", "expected"),
    [
        ("confirmed", "active", True),
        ("provisional", "active", None),
        ("differential", "active", None),
        ("unconfirmed", "active", None),
        ("refuted", "active", False),
        ("confirmed", "resolved", None),
        ("confirmed", "inactive", None),
        ("entered-in-error", "active", None),
    ],
)
def test_condition_verification_and_clinical_status(
    verification: str, clinical: str, expected: bool | None
) -> None:
    bundle = load("epic_like")
    condition = next(e for e in bundle["entry"] if e["resource"]["id"] == "c-dep")["resource"]
    condition["verificationStatus"]["coding"][0]["code"] = verification
    condition["clinicalStatus"]["coding"][0]["code"] = clinical
    case = imported(bundle).case
    assert case.get("psychosocial", {}).get("depression_diagnosis") == expected


def test_a_deceased_patient_is_refused_with_the_reason_and_the_age_at_death() -> None:
    bundle = load("cerner_like")
    patient = bundle["entry"][1]["resource"]
    patient["deceasedDateTime"] = "2020-05-01"
    result = imported(bundle)
    assert any("deceased" in p.message for p in result.problems)
    assert result.case["patient"]["age"] == 60
    del patient["deceasedDateTime"]
    patient["deceasedBoolean"] = True
    assert any("deceased" in p.message for p in imported(bundle).problems)
    patient["deceasedBoolean"] = False
    assert not any("deceased" in p.message for p in imported(bundle).problems)


def test_unknown_but_valid_r4_types_are_reported_and_made_up_types_refused() -> None:
    bundle = load("cerner_like")
    bundle["entry"].append({"resource": {"resourceType": "EffectEvidenceSynthesis", "id": "e"}})
    result = imported(bundle)
    assert {"MedicinalProduct", "EffectEvidenceSynthesis"} <= {
        u.resource_type for u in result.unmapped
    }
    bundle["entry"].append({"resource": {"resourceType": "SpineThing", "id": "s"}})
    with pytest.raises(BundleInvalid, match="SpineThing"):
        imported(bundle)


# -- command line -----------------------------------------------------------------------------


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """A throwaway app."""

    register(app)
    return app


def test_cli_import_is_lenient_about_references_it_does_not_need(app: typer.Typer) -> None:
    path = str(EHR / "epic_like.json")
    result = CliRunner().invoke(app, ["fhir", "import", path, "--assessed-on", "2026-12-01"])
    assert result.exit_code == 0, result.stderr
    case = json.loads(result.stdout)
    assert case["medications"]["opioid_mme_per_day"] == 115.0
    assert "note: tlif of 2025-08-14: Incidental durotomy" in result.stderr
    strict = CliRunner().invoke(
        app, ["fhir", "import", path, "--strict", "--assessed-on", "2026-12-01"]
    )
    assert strict.exit_code == 2
    assert "Practitioner/surgeon9" in strict.stderr


def test_a_statement_based_on_a_counted_request_is_not_counted_twice() -> None:
    bundle = _with_only(load("epic_like"), "mr-morphine")
    bundle["entry"].append(
        {
            "resource": {
                "resourceType": "MedicationStatement",
                "id": "ms-morphine",
                "status": "active",
                "subject": {"reference": "Patient/eX1"},
                "basedOn": [{"reference": "MedicationRequest/mr-morphine"}],
                "medicationCodeableConcept": {"text": "morphine 15 MG tablet"},
                "effectivePeriod": {"start": "2026-01-01"},
                "dosage": [
                    {
                        "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                        "doseAndRate": [
                            {"doseQuantity": {"value": 30, "unit": "mg", "code": "mg"}}
                        ],
                    }
                ],
            }
        }
    )
    result = imported(bundle)
    assert result.case["medications"]["opioid_mme_per_day"] == 75.0
    assert result.case["medications"]["opioid_months"] == 11.0  # since 2026-01-01
    assert any("based on" in r for r in reasons(result, "ms-morphine"))


def test_a_malformed_list_element_is_reported_not_silently_skipped() -> None:
    bundle = load("epic_like")
    procedure = next(e for e in bundle["entry"] if e["resource"]["id"] == "p-tlif")["resource"]
    procedure["note"] = {"text": "not a list"}
    result = imported(bundle)
    assert any("note must be a list" in r for r in reasons(result, "p-tlif"))
