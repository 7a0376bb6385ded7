"""Every rule of the knowledge base has a case that fires it and a near-identical one that does not.

Each table row is (patch that produces the conclusion, patch that flips the decisive fact). Both
patches are deep-merged into the same small, realistic base case and assessed end to end through
`assess(parse_case(doc))`. The completeness tests compare the table keys with the ids of the
knowledge base, so a rule added without a test fails here.
"""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from secondlook.case.facts import derive_facts
from secondlook.case.validation import parse_case
from secondlook.case.vocabulary import SCS_PSYCHOSOCIAL_FACTORS
from secondlook.engine.assess import assess
from secondlook.knowledge.loader import default_knowledge

TODAY = date(2026, 3, 2)

# A lumbar microdiscectomy a year ago with nothing else known: quiet on every rule.
BASE: dict[str, Any] = {
    "schema": "secondlook.case/1",
    "id": "rule-test",
    "assessed_on": "2026-03-02",
    "region": "lumbar",
    "patient": {"age": 45, "sex": "male"},
    "surgeries": [
        {
            "date": "2025-03-03",
            "procedure": "microdiscectomy",
            "levels": ["L4-L5"],
            "side": "left",
            "indication": "disc-herniation",
        }
    ],
}

Patch = dict[str, Any]


def _merge(into: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)
    return into


def case(**patch: Any) -> dict[str, Any]:
    """The base case with `patch` deep-merged in (dicts merge, lists and values replace)."""
    return _merge(copy.deepcopy(BASE), patch)


def run(doc: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = assess(parse_case(doc, today=TODAY))
    return result


# -- building blocks of patches -----------------------------------------------------------------


def mri(*findings: tuple[str, str | None], modality: str = "mri") -> Patch:
    return {
        "imaging": [
            {
                "date": "2026-01-10",
                "modality": modality,
                "findings": [{"finding": f, **({"level": lv} if lv else {})} for f, lv in findings],
            }
        ]
    }


def fusion(**extra: Any) -> Patch:
    surgery = {
        "date": "2025-03-03",
        "procedure": "posterolateral-fusion",
        "levels": ["L4-L5"],
        "instrumented": True,
        "indication": "degenerative-disc",
        **extra,
    }
    return {"surgeries": [surgery]}


def both(*patches: Patch) -> Patch:
    out: dict[str, Any] = {}
    for p in patches:
        _merge(out, copy.deepcopy(p))
    return out


FEVER: Patch = {"systemic": {"fever": True}}
NO_FEVER: Patch = {"systemic": {"fever": False}}
EARLY: Patch = {"surgeries": [{**BASE["surgeries"][0], "date": "2026-02-09"}]}  # 3 weeks
NEUROPATHIC: Patch = {
    "pain": {
        "axial_nrs": 3,
        "limb_nrs": 7,
        "limb_side": "left",
        "limb_distribution": "below-knee",
        "character": ["burning", "pins-and-needles"],
    }
}
# Aching pain off a root's territory: neither the descriptors nor the NeuPSIG grade (a plausible
# distribution is its first step) make it neuropathic.
NOT_NEUROPATHIC: Patch = {
    "pain": {**NEUROPATHIC["pain"], "character": ["aching"], "limb_distribution": "non-dermatomal"}
}
AXIAL: Patch = {"pain": {"axial_nrs": 6, "limb_nrs": 2}}
CONSERVATIVE_FAILED: Patch = {
    "prior_treatments": [{"treatment": "exercise-therapy", "response": "none"}]
}
CONSERVATIVE_HELPED: Patch = {
    "prior_treatments": [{"treatment": "exercise-therapy", "response": "good"}]
}
RECURRENT_DISC = mri(("recurrent-disc-herniation", "L4-L5"))
NOTHING_ON_MRI = mri(("no-significant-findings", None))
GAD_FIBROSIS = mri(("epidural-fibrosis", "L4-L5"), modality="mri-gadolinium")
GAD_NOTHING = mri(("no-significant-findings", None), modality="mri-gadolinium")
LIMB: Patch = {"pain": {"axial_nrs": 2, "limb_nrs": 7}}
NO_SCS_FACTORS = dict.fromkeys(SCS_PSYCHOSOCIAL_FACTORS, False)


CERVICAL: dict[str, Any] = {"date": "2025-03-03", "procedure": "acdf", "levels": ["C5-C6"]}
THORACIC: dict[str, Any] = {"date": "2025-03-03", "procedure": "laminectomy", "levels": ["T7-T8"]}


def block(target: str, relief: float, confirmatory: bool = False) -> Patch:
    return {"blocks": [{"target": target, "relief_percent": relief, "confirmatory": confirmatory}]}


# -- red flags ------------------------------------------------------------------------------------

# id: (fires, does not fire, expected urgency, words the `because` must contain)
RED_FLAGS: dict[str, tuple[Patch, Patch, str, str]] = {
    "cauda-equina": (
        {"neuro": {"urinary_retention": True}},
        {"neuro": {"urinary_retention": False}},
        "emergency",
        "urinary retention",
    ),
    "epidural-hematoma": (
        mri(("epidural-hematoma", "L4-L5")),
        NOTHING_ON_MRI,
        "emergency",
        "epidural hematoma",
    ),
    "progressive-neurological-deficit": (
        {"neuro": {"motor_deficit": "progressive"}},
        {"neuro": {"motor_deficit": "stable"}},
        "urgent",
        "progressing",
    ),
    "infection": (FEVER, NO_FEVER, "urgent", "fever"),
    "malignancy": (
        {"systemic": {"unexplained_weight_loss": True}},
        {"systemic": {"unexplained_weight_loss": False}},
        "urgent",
        "weight loss",
    ),
    "fracture": (
        {"systemic": {"recent_trauma": True}},
        {"systemic": {"recent_trauma": False}},
        "urgent",
        "trauma",
    ),
    "csf-leak": (
        {"pain": {"positional_headache": True}},
        {"pain": {"positional_headache": False}},
        "urgent",
        "positional headache",
    ),
}


@pytest.mark.parametrize("flag_id", list(RED_FLAGS), ids=list(RED_FLAGS))
def test_red_flag_fires_and_does_not(flag_id: str) -> None:
    fires, quiet, urgency, words = RED_FLAGS[flag_id]
    result = run(case(**fires))
    flags = {f["id"]: f for f in result["red_flags"]}
    assert flag_id in flags
    flag = flags[flag_id]
    assert flag["urgency"] == urgency
    assert any(words in b.lower() for b in flag["because"]), flag["because"]
    assert flag["references"]
    assert flag["action"]
    cited = {r["id"] for r in result["references"]}
    assert set(flag["references"]) <= cited

    assert flag_id not in {f["id"] for f in run(case(**quiet))["red_flags"]}


# -- safety alerts --------------------------------------------------------------------------------


def phq9(answers: list[int] | None = None, score: float | None = None) -> Patch:
    item: dict[str, Any] = {"instrument": "phq-9", "date": "2026-03-02"}
    if answers is not None:
        item["answers"] = answers
    else:
        item["score"] = score
    return {"questionnaires": [item]}


SAFETY_ALERTS: dict[str, tuple[Patch, Patch, str]] = {
    "self-harm-risk": (
        phq9([0, 0, 0, 0, 0, 0, 0, 0, 1]),
        phq9([1, 0, 0, 0, 0, 0, 0, 0, 0]),
        "item 9",
    ),
    "opioid-overdose-risk": (
        {"medications": {"opioid_mme_per_day": 60, "benzodiazepine": False}},
        {"medications": {"opioid_mme_per_day": 30, "benzodiazepine": False}},
        "60 mme/day",
    ),
    "opioid-dose-unknown": (
        {"medications": {"opioid": True}},
        {"medications": {"opioid": True, "opioid_mme_per_day": 30}},
        "daily dose in mme is not known",
    ),
    "severe-depression": (phq9(score=22), phq9(score=15), "phq-9 total 22"),
}


def test_opioid_dose_known_only_in_part_still_raises_overdose_risk_above_50() -> None:
    # 65 MME known plus an opioid without a conversion: at least 65, so the risk stands (CDC 2022).
    meds = {"opioid": True, "opioid_mme_per_day_at_least": 65}
    alerts = {a["id"]: a for a in run(case(medications=meds))["safety_alerts"]}
    assert {"opioid-overdose-risk", "opioid-dose-unknown"} <= set(alerts)
    assert any("65" in b for b in alerts["opioid-overdose-risk"]["because"])
    low = {
        a["id"]
        for a in run(case(medications={**meds, "opioid_mme_per_day_at_least": 20}))["safety_alerts"]
    }
    assert "opioid-overdose-risk" not in low
    assert "opioid-dose-unknown" in low


def test_no_opioid_and_unknown_opioid_use_raise_no_dose_alert() -> None:
    for meds in ({"opioid": False}, {"nsaid": True}):
        ids = {a["id"] for a in run(case(medications=meds))["safety_alerts"]}
        assert "opioid-dose-unknown" not in ids, meds


@pytest.mark.parametrize("alert_id", list(SAFETY_ALERTS), ids=list(SAFETY_ALERTS))
def test_safety_alert_fires_and_does_not(alert_id: str) -> None:
    fires, quiet, words = SAFETY_ALERTS[alert_id]
    result = run(case(**fires))
    alerts = {a["id"]: a for a in result["safety_alerts"]}
    assert alert_id in alerts
    assert any(words in b.lower() for b in alerts[alert_id]["because"]), alerts[alert_id]
    assert alerts[alert_id]["action"]
    assert alerts[alert_id]["references"]

    assert alert_id not in {a["id"] for a in run(case(**quiet))["safety_alerts"]}


# -- differential ---------------------------------------------------------------------------------

# id: (likely or possible, unlikely)
ETIOLOGIES: dict[str, tuple[Patch, Patch]] = {
    "recurrent-disc-herniation": (RECURRENT_DISC, NOTHING_ON_MRI),
    "retained-disc-fragment": (mri(("residual-disc-fragment", "L4-L5")), NOTHING_ON_MRI),
    "inadequate-decompression": (
        both({"pain": {"relief_after_surgery": "none"}}, mri(("foraminal-stenosis", "L4-L5"))),
        both({"pain": {"relief_after_surgery": "none"}}, NOTHING_ON_MRI),
    ),
    "same-level-recurrent-compression": (
        both({"pain": {"relief_after_surgery": "complete"}}, mri(("foraminal-stenosis", "L4-L5"))),
        both({"pain": {"relief_after_surgery": "complete"}}, NOTHING_ON_MRI),
    ),
    "wrong-level-or-wrong-diagnosis": (
        {"pain": {"relief_after_surgery": "none", "compared_to_before": "same"}},
        {"pain": {"relief_after_surgery": "partial", "compared_to_before": "same"}},
    ),
    "epidural-fibrosis": (GAD_FIBROSIS, GAD_NOTHING),
    "arachnoiditis": (mri(("arachnoiditis", None)), NOTHING_ON_MRI),
    "nerve-root-injury": (
        {"surgeries": [{**BASE["surgeries"][0], "complications": ["nerve-injury"]}]},
        {"surgeries": [{**BASE["surgeries"][0], "complications": ["other"]}]},
    ),
    "hardware-malposition": (
        both(fusion(), mri(("screw-malposition", "L4-L5"), modality="ct")),
        both(fusion(), mri(("no-significant-findings", None), modality="ct")),
    ),
    "pseudarthrosis": (
        both(fusion(), mri(("pseudarthrosis", "L4-L5"), modality="ct")),
        both(fusion(), mri(("solid-fusion", "L4-L5"), modality="ct")),
    ),
    "instability": (
        mri(("dynamic-instability", "L4-L5"), modality="xray-flexion-extension"),
        mri(("no-significant-findings", None), modality="xray-flexion-extension"),
    ),
    "adjacent-segment-disease": (
        both(fusion(), mri(("adjacent-segment-degeneration", "L3-L4"))),
        both(fusion(), NOTHING_ON_MRI),
    ),
    "new-level-pathology": (mri(("central-stenosis", "L2-L3")), NOTHING_ON_MRI),
    "sacroiliac-joint-pain": (
        block("sacroiliac-joint", 80, confirmatory=True),
        block("sacroiliac-joint", 30, confirmatory=True),
    ),
    "facet-joint-pain": (
        block("medial-branch", 80, confirmatory=True),
        block("medial-branch", 30, confirmatory=True),
    ),
    "discogenic-pain": (
        {"pain": {"axial_nrs": 6, "limb_nrs": 2, "aggravated_by": ["sitting"]}},
        {"pain": {"axial_nrs": 6, "limb_nrs": 2, "aggravated_by": ["walking"]}},
    ),
    "sagittal-imbalance": (
        mri(("sagittal-imbalance", None), modality="xray-standing-full-spine"),
        mri(("no-significant-findings", None), modality="xray-standing-full-spine"),
    ),
    "myofascial-deconditioning": (
        {"psychosocial": {"low_activity_level": True}},
        {"psychosocial": {"low_activity_level": False}},
    ),
    "infection": (
        {"labs": {"blood_culture_positive": True}},
        {"labs": {"blood_culture_positive": False}},
    ),
    "epidural-hematoma": (
        both(EARLY, {"surgeries": [{**EARLY["surgeries"][0], "complications": ["hematoma"]}]}),
        both(EARLY, {"surgeries": [{**EARLY["surgeries"][0], "complications": ["other"]}]}),
    ),
    "pseudomeningocele": (
        {"pain": {"positional_headache": True}},
        {"pain": {"positional_headache": False}},
    ),
    "fracture": ({"systemic": {"recent_trauma": True}}, {"systemic": {"recent_trauma": False}}),
    "non-spinal-pain-generator": (
        {"electrodiagnostics": {"result": "peripheral-neuropathy"}},
        {"electrodiagnostics": {"result": "normal"}},
    ),
    "central-sensitization": (
        {"pain": {"widespread_pain": True}},
        {"pain": {"widespread_pain": False}},
    ),
}


def _row(result: dict[str, Any], etiology_id: str) -> dict[str, Any]:
    rows: list[dict[str, Any]] = [d for d in result["differential"] if d["id"] == etiology_id]
    assert len(rows) == 1
    return rows[0]


@pytest.mark.parametrize("etiology_id", list(ETIOLOGIES), ids=list(ETIOLOGIES))
def test_etiology_is_considered_and_ruled_down(etiology_id: str) -> None:
    fires, quiet = ETIOLOGIES[etiology_id]
    row = _row(run(case(**fires)), etiology_id)
    assert row["likelihood"] in ("likely", "possible"), row
    assert row["supporting"], row
    assert row["references"]
    assert row["discriminating_tests"]

    other = _row(run(case(**quiet)), etiology_id)
    assert other["likelihood"] == "unlikely", other


def test_recurrent_disc_on_imaging_after_discectomy_is_likely() -> None:
    row = _row(run(case(**RECURRENT_DISC)), "recurrent-disc-herniation")
    assert row["likelihood"] == "likely"
    assert any(
        "recurrent disc herniation" in s and s.endswith("[strong]") for s in row["supporting"]
    )


def test_recurrent_disc_is_not_applicable_after_a_fusion() -> None:
    row = _row(run(case(**both(fusion(), RECURRENT_DISC))), "recurrent-disc-herniation")
    assert row["likelihood"] == "unlikely"
    assert any(a.startswith("Not applicable") for a in row["against"])


def test_gadolinium_mri_without_recurrence_rules_a_recurrent_disc_down() -> None:
    doc = case(**both(GAD_NOTHING, {"pain": {"relief_after_surgery": "complete"}}))
    row = _row(run(doc), "recurrent-disc-herniation")
    assert row["likelihood"] == "unlikely"
    assert any("gadolinium" in a for a in row["against"])


# -- treatments -----------------------------------------------------------------------------------

# "treatment-id:level": (gets that level, does not)
TREATMENTS: dict[str, tuple[Patch, Patch]] = {
    "exercise-therapy:not-recommended": (FEVER, NO_FEVER),
    "exercise-therapy:recommended": ({}, EARLY),
    "exercise-therapy:consider": (EARLY, {}),
    "multidisciplinary-rehabilitation:not-recommended": (FEVER, NO_FEVER),
    "multidisciplinary-rehabilitation:recommended": (
        {"patient": {"work_status": "off-work"}},
        {"patient": {"work_status": "working"}},
    ),
    "multidisciplinary-rehabilitation:consider": ({}, EARLY),
    "psychological-therapy:recommended": (
        {"psychosocial": {"psychological_distress": True}},
        {"psychosocial": {"psychological_distress": False}},
    ),
    "psychological-therapy:consider": ({}, EARLY),
    "neuropathic-medication:recommended": (
        both(NEUROPATHIC, {"prior_treatments": []}),
        both(
            NEUROPATHIC,
            {"prior_treatments": [{"treatment": "neuropathic-medication", "response": "partial"}]},
        ),
    ),
    "neuropathic-medication:consider": (
        both(
            NEUROPATHIC,
            {"prior_treatments": [{"treatment": "neuropathic-medication", "response": "partial"}]},
        ),
        both(
            NOT_NEUROPATHIC,
            {"prior_treatments": [{"treatment": "neuropathic-medication", "response": "partial"}]},
        ),
    ),
    "non-opioid-analgesia:consider": ({"pain": {"axial_nrs": 5}}, {"pain": {"axial_nrs": 2}}),
    "opioid-taper:recommended": (
        {"medications": {"opioid_mme_per_day": 60, "opioid_months": 1}},
        {"medications": {"opioid_mme_per_day": 30, "opioid_months": 1}},
    ),
    "opioid-taper:consider": (
        {"medications": {"opioid_mme_per_day": 30, "opioid_months": 24}},
        {"medications": {"opioid_mme_per_day": 30, "opioid_months": 1}},
    ),
    "epidural-steroid-injection:contraindicated": (FEVER, NO_FEVER),
    "epidural-steroid-injection:not-recommended": (
        {"prior_treatments": [{"treatment": "epidural-steroid-injection", "response": "none"}]},
        {"prior_treatments": [{"treatment": "epidural-steroid-injection", "response": "good"}]},
    ),
    "epidural-steroid-injection:consider": (
        {
            "pain": {
                "axial_nrs": 3,
                "limb_nrs": 8,
                "relief_after_surgery": "complete",
                "returned_after_weeks": 45,
            }
        },
        {
            "pain": {
                "axial_nrs": 3,
                "limb_nrs": 8,
                "relief_after_surgery": "complete",
                "returned_after_weeks": 20,
            }
        },
    ),
    "adhesiolysis:contraindicated": (FEVER, NO_FEVER),
    "adhesiolysis:not-recommended": (
        both(GAD_FIBROSIS, LIMB, {"pain": {"positional_headache": True}}),
        both(GAD_FIBROSIS, LIMB, {"pain": {"positional_headache": False}}),
    ),
    "adhesiolysis:consider": (both(GAD_FIBROSIS, LIMB), both(GAD_FIBROSIS, AXIAL)),
    "radiofrequency-denervation:contraindicated": (FEVER, NO_FEVER),
    "radiofrequency-denervation:not-recommended": (
        block("medial-branch", 30),
        block("medial-branch", 80),
    ),
    "radiofrequency-denervation:recommended": (
        both(block("medial-branch", 80), AXIAL, CONSERVATIVE_FAILED),
        both(
            block("medial-branch", 80),
            {"pain": {"axial_nrs": 4, "limb_nrs": 2}},
            CONSERVATIVE_FAILED,
        ),
    ),
    "radiofrequency-denervation:consider": (
        both(AXIAL, {"pain": {"aggravated_by": ["extension"]}}),
        both(AXIAL, {"pain": {"aggravated_by": ["walking"]}}),
    ),
    "sacroiliac-joint-treatment:contraindicated": (FEVER, NO_FEVER),
    "sacroiliac-joint-treatment:not-recommended": (
        block("sacroiliac-joint", 30),
        block("sacroiliac-joint", 80),
    ),
    "sacroiliac-joint-treatment:recommended": (
        block("sacroiliac-joint", 80, confirmatory=True),
        block("sacroiliac-joint", 80, confirmatory=False),
    ),
    "sacroiliac-joint-treatment:consider": (
        block("sacroiliac-joint", 80),
        block("sacroiliac-joint", 30),
    ),
    "spinal-cord-stimulation:contraindicated": (FEVER, NO_FEVER),
    "spinal-cord-stimulation:not-recommended": (both(EARLY, NEUROPATHIC), NEUROPATHIC),
    "spinal-cord-stimulation:recommended": (
        both(NEUROPATHIC, CONSERVATIVE_FAILED, {"psychosocial": NO_SCS_FACTORS}),
        both(
            NEUROPATHIC,
            CONSERVATIVE_FAILED,
            {"psychosocial": {**NO_SCS_FACTORS, "low_engagement": True}},
        ),
    ),
    "spinal-cord-stimulation:consider": (
        both(NEUROPATHIC, {"psychosocial": {"low_engagement": True}}),
        both(NOT_NEUROPATHIC, {"psychosocial": {"low_engagement": True}}),
    ),
    "intrathecal-drug-delivery:contraindicated": (FEVER, NO_FEVER),
    "intrathecal-drug-delivery:not-recommended": (
        {
            "pain": {"axial_nrs": 8},
            "systemic": {"unexplained_weight_loss": True},
            "prior_treatments": [{"treatment": "spinal-cord-stimulation", "response": "none"}],
        },
        {
            "pain": {"axial_nrs": 8},
            "systemic": {"unexplained_weight_loss": False},
            "prior_treatments": [{"treatment": "spinal-cord-stimulation", "response": "none"}],
        },
    ),
    "intrathecal-drug-delivery:consider": (
        {
            "pain": {"axial_nrs": 8},
            "prior_treatments": [{"treatment": "spinal-cord-stimulation", "response": "none"}],
        },
        {
            "pain": {"axial_nrs": 8},
            "prior_treatments": [{"treatment": "spinal-cord-stimulation", "response": "good"}],
        },
    ),
    "revision-surgery:not-recommended": (
        GAD_FIBROSIS,
        mri(
            ("epidural-fibrosis", "L4-L5"),
            ("recurrent-disc-herniation", "L4-L5"),
            modality="mri-gadolinium",
        ),
    ),
    "revision-surgery:recommended": (both(RECURRENT_DISC, CONSERVATIVE_FAILED), RECURRENT_DISC),
    "revision-surgery:consider": (
        both(RECURRENT_DISC, CONSERVATIVE_HELPED),
        both(NOTHING_ON_MRI, CONSERVATIVE_HELPED),
    ),
    "weight-management:recommended": (
        {"patient": {"height_cm": 175, "weight_kg": 100}},
        {"patient": {"height_cm": 175, "weight_kg": 80}},
    ),
    "weight-management:consider": (
        {"patient": {"height_cm": 175, "weight_kg": 80}},
        {"patient": {"height_cm": 175, "weight_kg": 65}},
    ),
    "smoking-cessation:recommended": (
        {"patient": {"smoker": True}},
        {"patient": {"smoker": False}},
    ),
    "sleep-management:recommended": (
        {"psychosocial": {"sleep_disturbance": True}},
        {"psychosocial": {"sleep_disturbance": False}},
    ),
}


def _option(result: dict[str, Any], treatment_id: str) -> dict[str, Any] | None:
    rows = [t for t in result["treatment_options"] if t["id"] == treatment_id]
    assert len(rows) <= 1
    return rows[0] if rows else None


@pytest.mark.parametrize("key", list(TREATMENTS), ids=list(TREATMENTS))
def test_treatment_level_fires_and_does_not(key: str) -> None:
    treatment_id, level = key.split(":")
    fires, quiet = TREATMENTS[key]
    option = _option(run(case(**fires)), treatment_id)
    assert option is not None
    assert option["recommendation"] == level, option
    assert option["because"]
    assert option["references"]

    other = _option(run(case(**quiet)), treatment_id)
    assert other is not None, "every treatment is stated, negatives included"
    assert other["because"]
    if level == "not-recommended" and other["recommendation"] == level:
        # Not recommended for another reason (often the stated negative): never this one.
        reasons = {b for b in option["because"] if not b.startswith("The evidence conflicts")}
        assert reasons.isdisjoint(other["because"]), other
    else:
        assert other["recommendation"] != level, other


def test_neuropathic_medication_is_only_considered_when_prior_treatments_are_not_documented() -> (
    None
):
    # Unknown is not no: without a treatment history the engine cannot say the class is untried.
    option = _option(run(case(**NEUROPATHIC)), "neuropathic-medication")
    assert option is not None
    assert option["recommendation"] == "consider"
    assert "not_known" in option


def test_spinal_cord_stimulation_waits_for_the_psychosocial_assessment() -> None:
    option = _option(run(case(**both(NEUROPATHIC, CONSERVATIVE_FAILED))), "spinal-cord-stimulation")
    assert option is not None
    assert option["recommendation"] != "recommended"


def test_spinal_cord_stimulation_prerequisite_shows_unassessed_psychosocial_factors() -> None:
    option = _option(run(case(**both(NEUROPATHIC, CONSERVATIVE_FAILED))), "spinal-cord-stimulation")
    assert option is not None
    assert any(
        "eight psychosocial factors" in p and "(not met)" in p for p in option["prerequisites"]
    )


def test_radiofrequency_denervation_quotes_the_block_and_the_back_pain() -> None:
    doc = case(**both(block("medial-branch", 80), AXIAL, CONSERVATIVE_FAILED))
    option = _option(run(doc), "radiofrequency-denervation")
    assert option is not None
    assert any("80%" in b and "6/10" in b for b in option["because"])
    assert all("(met)" in p for p in option["prerequisites"])


# -- work-up --------------------------------------------------------------------------------------

# id: (indicated, not indicated, words of the indication's `because`)
WORKUP: dict[str, tuple[Patch, Patch, str]] = {
    "mri-gadolinium": (LIMB, AXIAL, "tells scar from recurrent disc"),
    "mri": ({}, NOTHING_ON_MRI, "no mri or ct myelogram"),
    "ct": (fusion(), both(fusion(), mri(("solid-fusion", "L4-L5"), modality="ct")), "no ct since"),
    "ct-myelogram": (
        both(fusion(), {"pain": {"limb_nrs": 6}}),
        both(fusion(), {"pain": {"limb_nrs": 3}}),
        "significant limb pain after instrumentation",
    ),
    "xray-flexion-extension": (
        {"surgeries": [{**BASE["surgeries"][0], "indication": "spondylolisthesis"}]},
        {"surgeries": [{**BASE["surgeries"][0], "indication": "stenosis"}]},
        "spondylolisthesis",
    ),
    "xray-standing-full-spine": (
        fusion(levels=["L3-L4", "L4-L5", "L5-S1"]),
        fusion(levels=["L4-L5"]),
        "long fusion",
    ),
    "emg-ncs": (
        {"pain": {"limb_nrs": 6, "limb_distribution": "non-dermatomal"}},
        {"pain": {"limb_nrs": 6, "limb_distribution": "dermatomal"}},
        "does not follow a nerve root",
    ),
    "bone-scan-spect": (
        both(fusion(), AXIAL, mri(("no-significant-findings", None), modality="ct")),
        both(fusion(), AXIAL, mri(("solid-fusion", "L4-L5"), modality="ct")),
        "neither confirms nor excludes non-union",
    ),
    "dexa": (
        both(RECURRENT_DISC, {"patient": {"osteoporosis": True}}),
        both(RECURRENT_DISC, {"patient": {"osteoporosis": False}}),
        "bone fragility",
    ),
    "inflammatory-markers": (
        {"systemic": {"chills_or_night_sweats": True}},
        {"systemic": {"chills_or_night_sweats": False}},
        "infection remains possible",
    ),
    "blood-cultures": (
        FEVER,
        {"systemic": {"fever": False, "chills_or_night_sweats": True}},
        "fever with possible infection",
    ),
    "post-void-residual": (
        {"neuro": {"urinary_incontinence": True}},
        {"neuro": {"urinary_incontinence": False}},
        "bladder symptom",
    ),
    "medial-branch-block": (
        both(AXIAL, CONSERVATIVE_FAILED),
        both(AXIAL, CONSERVATIVE_FAILED, block("medial-branch", 30)),
        "no medial branch block yet",
    ),
    "sacroiliac-joint-block": (
        both(fusion(levels=["L5-S1"], fused_to_sacrum=True), {"pain": {"axial_nrs": 5}}),
        both(fusion(levels=["L5-S1"], fused_to_sacrum=False), {"pain": {"axial_nrs": 5}}),
        "fusion to the sacrum",
    ),
    "selective-nerve-root-block": (
        both(LIMB, mri(("foraminal-stenosis", "L4-L5"), ("central-stenosis", "L2-L3"))),
        both(LIMB, mri(("foraminal-stenosis", "L4-L5"))),
        "findings at several levels",
    ),
    "hip-evaluation": (
        {"pain": {"limb_distribution": "above-knee"}},
        {"pain": {"limb_distribution": "below-knee"}},
        "above the knee",
    ),
    "shoulder-evaluation": (
        {
            "region": "cervical",
            "surgeries": [CERVICAL],
            "pain": {"axial_nrs": 5, "limb_distribution": "none"},
        },
        {
            "region": "cervical",
            "surgeries": [CERVICAL],
            "pain": {"axial_nrs": 5, "limb_distribution": "dermatomal"},
        },
        "the shoulder is a common mimic",
    ),
    "peripheral-nerve-evaluation": (
        {
            "region": "cervical",
            "surgeries": [CERVICAL],
            "electrodiagnostics": {"result": "entrapment-neuropathy"},
        },
        {
            "region": "cervical",
            "surgeries": [CERVICAL],
            "electrodiagnostics": {"result": "chronic-radiculopathy"},
        },
        "entrapment neuropathy",
    ),
    "visceral-evaluation": (
        {"region": "thoracic", "surgeries": [THORACIC], "pain": {"rest_or_night_pain": True}},
        {"region": "thoracic", "surgeries": [THORACIC], "pain": {"rest_or_night_pain": False}},
        "visceral causes mimic it",
    ),
    "rib-evaluation": (
        {
            "region": "thoracic",
            "surgeries": [THORACIC],
            "pain": {"axial_nrs": 6, "limb_nrs": 1, "aggravated_by": ["rotation"]},
        },
        {
            "region": "thoracic",
            "surgeries": [THORACIC],
            "pain": {"axial_nrs": 6, "limb_nrs": 1, "aggravated_by": ["sitting"]},
        },
        "ribs and their joints",
    ),
    "psychological-evaluation": (phq9(score=12), phq9(score=5), "phq-9 or gad-7 at 10"),
    # surgery_count >= 1 holds for every valid case (a case has at least one surgery): there is
    # no document that does not call for it; the "not indicated" side is None.
    "prior-records-review": ({}, {}, "records of the original surgery"),
    "spine-surgery-opinion": (RECURRENT_DISC, NOTHING_ON_MRI, "revision surgery is an option"),
    "medication-review": (
        {"medications": {"opioid_mme_per_day": 30}},
        {"medications": {"opioid_mme_per_day": 0, "benzodiazepine": False, "gabapentinoid": False}},
        "takes opioids",
    ),
    "functional-assessment": (
        {},
        {"questionnaires": [{"instrument": "odi", "date": "2026-03-02", "score": 20}]},
        "no odi recorded",
    ),
}
ALWAYS_INDICATED = {"prior-records-review"}


def _workup_reasons(result: dict[str, Any], item_id: str) -> list[str]:
    for item in result["workup"]:
        if item["id"] == item_id:
            assert item["references"]
            return [str(b).lower() for b in item["because"]]
    return []


@pytest.mark.parametrize("item_id", list(WORKUP), ids=list(WORKUP))
def test_workup_indication_fires_and_does_not(item_id: str) -> None:
    fires, quiet, words = WORKUP[item_id]
    reasons = _workup_reasons(run(case(**fires)), item_id)
    assert any(words in r for r in reasons), reasons
    if item_id in ALWAYS_INDICATED:
        return
    reasons = _workup_reasons(run(case(**quiet)), item_id)
    assert not any(words in r for r in reasons), reasons


def test_prior_records_review_is_asked_for_in_every_case() -> None:
    for patch in ({}, FEVER, both(fusion(), AXIAL)):
        assert _workup_reasons(run(case(**patch)), "prior-records-review")


# -- surgical review ------------------------------------------------------------------------------

SURGICAL_REVIEW: dict[str, tuple[Patch, Patch, str, str]] = {
    "correctable-cause": (
        RECURRENT_DISC,
        NOTHING_ON_MRI,
        "routine",
        "cause is likely (recurrent disc herniation",
    ),
    "revision-option": (RECURRENT_DISC, NOTHING_ON_MRI, "routine", "revision surgery is among"),
    "neurological-deficit": (
        {"neuro": {"motor_deficit": "new"}},
        {"neuro": {"motor_deficit": "stable"}},
        "urgent",
        "a new motor deficit",
    ),
}


@pytest.mark.parametrize("rule_id", list(SURGICAL_REVIEW), ids=list(SURGICAL_REVIEW))
def test_surgical_review_rule_fires_and_does_not(rule_id: str) -> None:
    fires, quiet, urgency, words = SURGICAL_REVIEW[rule_id]
    review = run(case(**fires))["surgical_review"]
    assert review["indicated"] is True
    assert review["urgency"] == urgency
    assert any(words in b.lower() for b in review["because"]), review

    review = run(case(**quiet))["surgical_review"]
    assert not any(words in b.lower() for b in review["because"]), review


# -- headline behaviour ---------------------------------------------------------------------------


def test_urinary_retention_after_microdiscectomy_is_an_emergency() -> None:
    result = run(case(neuro={"urinary_retention": True}))
    first = result["red_flags"][0]
    assert first["id"] == "cauda-equina"
    assert first["urgency"] == "emergency"
    assert result["surgical_review"] == {
        "indicated": True,
        "urgency": "emergency",
        "because": ["Red flag: cauda equina syndrome."],
    }
    priorities = {w["id"]: w["priority"] for w in result["workup"]}
    assert priorities["mri"] == "emergency"
    assert priorities["post-void-residual"] == "emergency"


def test_urinary_retention_in_the_first_weeks_also_raises_an_epidural_hematoma() -> None:
    result = run(case(**both(EARLY, {"neuro": {"urinary_retention": True}})))
    ids = [f["id"] for f in result["red_flags"]]
    assert ids[:2] == ["cauda-equina", "epidural-hematoma"]
    hematoma = result["red_flags"][1]
    assert any("3 weeks after surgery" in b for b in hematoma["because"]), hematoma


def test_sphincter_signs_in_a_cervical_case_are_not_cauda_equina() -> None:
    doc = case(
        region="cervical",
        surgeries=[{"date": "2025-03-03", "procedure": "acdf", "levels": ["C5-C6"]}],
        neuro={"urinary_retention": True, "myelopathic_signs": True},
    )
    flags = {f["id"]: f for f in run(doc)["red_flags"]}
    assert "cauda-equina" not in flags
    assert flags["progressive-neurological-deficit"]["urgency"] == "emergency"


def test_epidural_abscess_on_imaging_makes_infection_an_emergency() -> None:
    flags = {f["id"]: f for f in run(case(**mri(("epidural-abscess", "L4-L5"))))["red_flags"]}
    assert flags["infection"]["urgency"] == "emergency"


def test_possible_infection_contraindicates_every_implant_and_injection() -> None:
    result = run(case(**FEVER))
    contraindicated = {
        t["id"] for t in result["treatment_options"] if t["recommendation"] == "contraindicated"
    }
    assert {
        "epidural-steroid-injection",
        "adhesiolysis",
        "radiofrequency-denervation",
        "sacroiliac-joint-treatment",
        "spinal-cord-stimulation",
        "intrathecal-drug-delivery",
    } <= contraindicated


# -- completeness: every id of the knowledge base is in a table ---------------------------------


def test_every_red_flag_and_safety_alert_has_a_row() -> None:
    kb = default_knowledge()
    assert set(RED_FLAGS) == {f.id for f in kb.red_flags}
    assert set(SAFETY_ALERTS) == {a.id for a in kb.safety_alerts}


def test_every_etiology_has_a_row() -> None:
    assert set(ETIOLOGIES) == {e.id for e in default_knowledge().etiologies}


def test_every_treatment_level_with_criteria_has_a_row() -> None:
    expected = {
        f"{t.id}:{level}"
        for t in default_knowledge().treatments
        for level, crit in t.levels()
        if crit
    }
    assert set(TREATMENTS) == expected


def test_every_workup_item_with_indications_has_a_row() -> None:
    kb = default_knowledge()
    assert set(WORKUP) == {w.id for w in kb.workup.values() if w.indications}


def test_every_surgical_review_rule_has_a_row() -> None:
    assert set(SURGICAL_REVIEW) == {r.id for r in default_knowledge().surgical_review}


# -- findings that are not known must not read as "none" -----------------------------------------


def _perspective(result: dict[str, Any], seat: str) -> list[str]:
    findings: list[str] = next(p["findings"] for p in result["perspectives"] if p["id"] == seat)
    return findings


def test_an_imaging_study_with_uncoded_findings_says_so_and_is_not_no_findings() -> None:
    study = {"date": "2026-01-10", "modality": "mri", "findings": [], "findings_coded": False}
    result = run(case(imaging=[{**study, "report": "Recurrent disc L4-L5 on the left."}]))
    spine = _perspective(result, "spine-anatomy")
    assert any("not coded" in f and "MRI" in f for f in spine)
    # Unknown is not "no": a recurrent disc is not made unlikely by an uncoded MRI.
    coded_empty = run(case(imaging=[{**study, "findings_coded": True}]))
    assert not any("not coded" in f for f in _perspective(coded_empty, "spine-anatomy"))
    missing = {m["id"] for m in result["missing_information"]}
    assert "imaging-since-surgery" in missing
    assert "imaging-since-surgery" not in {m["id"] for m in coded_empty["missing_information"]}


def test_pain_management_names_an_unknown_opioid_dose() -> None:
    unknown = _perspective(run(case(medications={"opioid": True})), "pain-management")
    assert any("daily dose not known" in f for f in unknown)
    known = _perspective(
        run(case(medications={"opioid": True, "opioid_mme_per_day": 30})), "pain-management"
    )
    assert any("30" in f and "MME/day" in f for f in known)
    assert not any("not known" in f for f in known)


def test_the_medical_perspective_names_the_risk_factors_present_and_only_those() -> None:
    result = run(case(patient={"diabetes": True, "smoker": True, "osteoporosis": False}))
    medical = _perspective(result, "medical")
    [line] = [f for f in medical if f.startswith("Comorbidities")]
    assert line == "Comorbidities and risk factors present: diabetes, smoking."
    # none present (false or not given): no line, and nothing said of the ones not given
    quiet = run(case(patient={"diabetes": False, "smoker": False}))
    assert not [f for f in _perspective(quiet, "medical") if f.startswith("Comorbidities")]


def test_perspectives_read_codes_as_words() -> None:
    result = run(case(patient={"work_status": "modified-duty"}))
    functional = _perspective(result, "functional")
    assert "Work status: modified duty." in functional
    assert not any("modified-duty" in f for p in result["perspectives"] for f in p["findings"])


def test_missing_information_names_the_part_not_known() -> None:
    neuro = {"saddle_anesthesia": False, "urinary_retention": False}
    result = run(case(neuro=neuro))
    [item] = [m for m in result["missing_information"] if m["id"] == "red-flag-screen"]
    assert item["item"] == (
        "Bladder, bowel and saddle sensation (not known: urinary incontinence, bowel dysfunction)"
    )
    # nothing given: the item as it is
    [whole] = [m for m in run(case())["missing_information"] if m["id"] == "red-flag-screen"]
    assert whole["item"] == "Bladder, bowel and saddle sensation"


def _imaging_with_sides(*findings: tuple[str, str]) -> Patch:
    return {
        "imaging": [
            {
                "date": "2026-01-10",
                "modality": "mri",
                "findings": [{"finding": f, "level": "L4-L5", "side": s} for f, s in findings],
            }
        ]
    }


OTHER_SIDE = "on the other side from the limb symptoms"


@pytest.mark.parametrize(
    ("etiology_id", "finding"),
    [
        ("recurrent-disc-herniation", "recurrent-disc-herniation"),
        ("retained-disc-fragment", "residual-disc-fragment"),
        ("inadequate-decompression", "foraminal-stenosis"),
        ("same-level-recurrent-compression", "lateral-recess-stenosis"),
    ],
)
def test_a_root_lesion_on_the_other_side_counts_against_and_a_matching_one_does_not(
    etiology_id: str, finding: str
) -> None:
    leg = {"pain": {"limb_side": "right", "limb_nrs": 7}}
    opposite = run(case(**leg, **_imaging_with_sides((finding, "left"))))
    assert any(OTHER_SIDE in a for a in _row(opposite, etiology_id)["against"])
    assert "Boden" in next(a for a in _row(opposite, etiology_id)["against"] if OTHER_SIDE in a)
    for side in ("right", "bilateral", "central"):
        matching = run(case(**leg, **_imaging_with_sides((finding, side))))
        assert not any(OTHER_SIDE in a for a in _row(matching, etiology_id)["against"]), side
    # the same lesion on both sides matches; pain in both legs is not judged by side
    both = run(case(**leg, **_imaging_with_sides((finding, "left"), (finding, "right"))))
    assert not any(OTHER_SIDE in a for a in _row(both, etiology_id)["against"])
    bilateral_pain = {"pain": {"limb_side": "bilateral", "limb_nrs": 7}}
    judged = run(case(**bilateral_pain, **_imaging_with_sides((finding, "left"))))
    assert not any(OTHER_SIDE in a for a in _row(judged, etiology_id)["against"])


@pytest.mark.parametrize(
    ("answers", "words", "neuropathic"),
    [
        ([3, 3, 3, 3, 3, 1, 0, 3, 1], [], True),  # 19: likely (Freynhagen 2006)
        # 12: unlikely, whatever the words
        ([2, 2, 2, 2, 2, 1, 1, 1, 0], ["burning", "electric"], False),
        # 13, unclear: the words decide
        ([2, 2, 2, 2, 2, 2, 1, 1, 0], ["burning", "electric"], True),
        ([2, 2, 2, 2, 2, 2, 1, 1, 0], ["aching"], False),
    ],
)
def test_paindetect_decides_the_neuropathic_component_outside_its_unclear_range(
    answers: list[int], words: list[str], neuropathic: bool
) -> None:
    doc = case(
        pain={"limb_nrs": 6, "limb_distribution": "below-knee", "character": words},
        questionnaires=[{"instrument": "paindetect", "date": "2026-03-01", "answers": answers}],
    )
    facts = derive_facts(parse_case(doc, today=TODAY)).values
    assert facts["neuropathic_component"] is neuropathic
