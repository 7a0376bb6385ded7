"""Behaviour of the engine beyond single rules: unknowns, evidence, classification, citations."""

from __future__ import annotations

import copy
import json
import shutil
from datetime import date, timedelta
from importlib.resources import as_file
from pathlib import Path
from typing import Any

import pytest

from secondlook.case.validation import parse_case
from secondlook.engine.assess import ENGINE_VERSION, assess
from secondlook.examples import load_example
from secondlook.knowledge.loader import default_data_dir, default_knowledge, load_knowledge

TODAY = date(2026, 6, 30)
ASSESSED = date(2026, 3, 2)
BASE: dict[str, Any] = {
    "schema": "secondlook.case/1",
    "id": "engine-test",
    "assessed_on": ASSESSED.isoformat(),
    "region": "lumbar",
    "patient": {"age": 52, "sex": "female"},
    "surgeries": [{"date": "2025-03-03", "procedure": "microdiscectomy", "levels": ["L5-S1"]}],
}
CERVICAL = {
    "region": "cervical",
    "surgeries": [
        {"date": "2025-03-03", "procedure": "acdf", "levels": ["C5-C6"], "instrumented": True}
    ],
}
THORACIC = {
    "region": "thoracic",
    "surgeries": [{"date": "2025-03-03", "procedure": "laminectomy", "levels": ["T10-T11"]}],
}
NEURO_CLEAR = {
    "saddle_anesthesia": False,
    "urinary_retention": False,
    "urinary_incontinence": False,
    "bowel_dysfunction": False,
}


def _merge(into: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)
    return into


def case(**patch: Any) -> dict[str, Any]:
    return _merge(copy.deepcopy(BASE), patch)


def run(doc: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = assess(parse_case(doc, today=TODAY))
    return result


def missing_ids(result: dict[str, Any]) -> set[str]:
    return {m.get("id", m["item"]) for m in result["missing_information"]}


def option(result: dict[str, Any], treatment_id: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        t for t in result["treatment_options"] if t["id"] == treatment_id
    ]
    assert len(found) == 1, [t["id"] for t in result["treatment_options"]]
    return found[0]


# -- unknown is not no ----------------------------------------------------------------------------


def test_without_a_neurological_examination_there_is_no_flag_but_the_screen_is_asked_for() -> None:
    result = run(case())
    assert "neuro" not in BASE
    assert "cauda-equina" not in {f["id"] for f in result["red_flags"]}
    assert "red-flag-screen" in missing_ids(result)
    item = next(m for m in result["missing_information"] if m.get("id") == "red-flag-screen")
    assert item["why_it_matters"]
    assert "unknown is not the same as absent" in item["why_it_matters"].lower()


def test_a_full_sphincter_and_saddle_examination_removes_the_screen_from_missing() -> None:
    result = run(case(neuro=NEURO_CLEAR))
    assert "red-flag-screen" not in missing_ids(result)
    assert result["red_flags"] == []


def test_a_saddle_examination_alone_does_not_answer_the_bladder_and_bowel_questions() -> None:
    result = run(case(neuro={"saddle_anesthesia": False}))
    assert "red-flag-screen" in missing_ids(result)


def test_the_cauda_equina_screen_is_not_asked_for_outside_the_lumbar_spine() -> None:
    result = run(case(**CERVICAL))
    assert "red-flag-screen" not in missing_ids(result)
    assert "myelopathy-screen" in missing_ids(result)


def test_not_known_lists_the_unknown_facts_behind_an_etiology() -> None:
    result = run(case())
    row = next(d for d in result["differential"] if d["id"] == "recurrent-disc-herniation")
    assert row["likelihood"] == "unlikely"
    assert "findings of any imaging since the index surgery" in row["not_known"]
    assert "straight-leg-raise test" in row["not_known"]


def test_not_known_shrinks_when_the_fact_is_documented() -> None:
    doc = case(neuro={"straight_leg_raise": "negative"}, pain={"axial_nrs": 2, "limb_nrs": 6})
    row = next(d for d in run(doc)["differential"] if d["id"] == "recurrent-disc-herniation")
    assert "straight-leg-raise test" not in row.get("not_known", [])


def test_a_treatment_reports_what_kept_it_from_a_higher_level() -> None:
    doc = case(medications={"opioid_mme_per_day": 30, "opioid_months": 24})
    taper = option(run(doc), "opioid-taper")
    assert taper["recommendation"] == "consider"
    assert "takes: benzodiazepine" in taper["not_known"]


# -- evidence, prerequisites, versions ------------------------------------------------------------


def test_conflicting_evidence_on_epidural_injections_is_shown() -> None:
    doc = case(
        pain={
            "axial_nrs": 3,
            "limb_nrs": 8,
            "relief_after_surgery": "complete",
            "returned_after_weeks": 45,
        }
    )
    esi = option(run(doc), "epidural-steroid-injection")
    assert esi["recommendation"] == "consider"
    stances = {e["stance"] for e in esi["evidence"]}
    assert {"for", "against"} <= stances
    assert esi["evidence_conflict"] is True
    assert any("conflicts" in b for b in esi["because"])
    assert all(e["references"] for e in esi["evidence"])


def test_evidence_without_a_conflict_is_not_called_one() -> None:
    exercise = option(run(case()), "exercise-therapy")
    assert exercise["evidence_conflict"] is False


NEUROPATHIC_LEG = {
    "pain": {
        "axial_nrs": 3,
        "limb_nrs": 7,
        "limb_distribution": "below-knee",
        "character": ["burning", "electric"],
    },
    "prior_treatments": [{"treatment": "exercise-therapy", "response": "none"}],
}


def test_spinal_cord_stimulation_needs_a_psychological_evaluation_and_a_trial() -> None:
    scs = option(run(case(**NEUROPATHIC_LEG)), "spinal-cord-stimulation")
    assert scs["recommendation"] in ("recommended", "consider")
    prerequisites = " | ".join(scs["prerequisites"]).lower()
    assert "psychological evaluation" in prerequisites
    assert "successful trial" in prerequisites
    workup = {w["id"] for w in run(case(**NEUROPATHIC_LEG))["workup"]}
    assert "psychological-evaluation" in workup


def test_versions_of_knowledge_and_engine_are_recorded() -> None:
    result = run(case())
    assert result["knowledge_version"] == default_knowledge().version
    assert result["knowledge_version"]
    assert result["engine_version"] == ENGINE_VERSION
    assert result["engine_version"]
    assert result["schema"] == "secondlook.assessment/1"
    assert result["case_id"] == "engine-test"


# -- classification -------------------------------------------------------------------------------


def _after(days: int, **pain: Any) -> dict[str, Any]:
    surgery = {**BASE["surgeries"][0], "date": (ASSESSED - timedelta(days=days)).isoformat()}
    return case(surgeries=[surgery], pain=pain)


def test_89_days_after_surgery_is_not_yet_chronic() -> None:
    c = run(_after(89, relief_after_surgery="none"))["classification"]
    assert c["chronic"] is False
    assert c["psps_type"] is None
    assert c["course"] == "transient-post-surgical"
    assert c["months_since_surgery"] < 3


def test_92_days_after_surgery_is_chronic_psps_type_2() -> None:
    c = run(_after(92, relief_after_surgery="none"))["classification"]
    assert c["chronic"] is True
    assert c["psps_type"] == 2
    assert c["course"] == "persistent"
    assert c["months_since_surgery"] >= 3


@pytest.mark.parametrize(
    ("days", "pain", "course"),
    [
        (400, {"relief_after_surgery": "none"}, "persistent"),
        (400, {"relief_after_surgery": "partial"}, "persistent"),
        (400, {"relief_after_surgery": "complete", "returned_after_weeks": 30}, "recurrent"),
        (400, {"relief_after_surgery": "complete", "compared_to_before": "different"}, "new"),
        (
            40,
            {"relief_after_surgery": "complete", "compared_to_before": "different"},
            "transient-post-surgical",
        ),
        (400, {}, "undetermined"),
    ],
    ids=["never-relieved", "partly-relieved", "came-back", "new-pain", "early", "no-history"],
)
def test_course_of_the_pain(days: int, pain: dict[str, Any], course: str) -> None:
    c = run(_after(days, **pain))["classification"]
    assert c["course"] == course
    assert any(course.split("-")[0] in b.lower() for b in c["because"]), c["because"]


@pytest.mark.parametrize(
    ("patch", "condition"),
    [
        ({}, "failed-back-surgery-syndrome"),
        (CERVICAL, "failed-neck-surgery-syndrome"),
        (THORACIC, "persistent-pain-after-thoracic-surgery"),
    ],
    ids=["lumbar", "cervical", "thoracic"],
)
def test_condition_follows_the_region(patch: dict[str, Any], condition: str) -> None:
    assert run(case(**patch))["classification"]["condition"] == condition


def test_a_cervical_case_with_myelopathy_and_gait_disturbance_is_urgent() -> None:
    doc = case(**CERVICAL, neuro={"myelopathic_signs": True, "gait_disturbance": True})
    flags = {f["id"]: f for f in run(doc)["red_flags"]}
    assert flags["progressive-neurological-deficit"]["urgency"] == "urgent"
    assert "cauda-equina" not in flags


def test_sacroiliac_joint_pain_is_not_applicable_to_a_thoracic_case() -> None:
    row = next(
        d for d in run(case(**THORACIC))["differential"] if d["id"] == "sacroiliac-joint-pain"
    )
    assert row["likelihood"] == "unlikely"
    assert row["against"][0].startswith("Not applicable")


def test_lumbar_only_treatments_are_not_offered_for_the_neck() -> None:
    result = run(case(**CERVICAL))
    option = next(t for t in result["treatment_options"] if t["id"] == "adhesiolysis")
    # Stated, not left out: not recommended, and the reason says why.
    assert option["recommendation"] == "not-recommended"
    assert any("lumbar spine only" in b for b in option["because"]), option


@pytest.mark.parametrize(
    "patch",
    [
        {**CERVICAL, "neuro": {"myelopathic_signs": True, "urinary_retention": True}},
        {
            "imaging": [
                {
                    "date": "2026-02-20",
                    "modality": "mri-gadolinium",
                    "findings": [{"finding": "epidural-abscess", "level": "L5-S1"}],
                }
            ]
        },
    ],
    ids=["cord-compression", "epidural-abscess"],
)
def test_an_emergency_red_flag_calls_for_an_emergency_surgical_review(
    patch: dict[str, Any],
) -> None:
    result = run(case(**patch))
    assert result["red_flags"][0]["urgency"] == "emergency"
    assert result["surgical_review"]["urgency"] == "emergency"


# -- references -----------------------------------------------------------------------------------


def _cited(node: Any, top: bool = True) -> set[str]:
    out: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "references" and not top:
                out |= set(value)
            else:
                out |= _cited(value, top=False)
    elif isinstance(node, list):
        for item in node:
            out |= _cited(item, top=False)
    return out


EXAMPLE_DIRS = [
    Path(__file__).resolve().parents[2] / "src" / "secondlook" / "examples",
    Path("/work/shared/examples"),
]
EXAMPLES = sorted(p for d in EXAMPLE_DIRS if d.is_dir() for p in d.glob("*.json"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[f"{p.parent.name}/{p.stem}" for p in EXAMPLES])
def test_references_are_exactly_the_ones_cited(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    doc = (
        data["case"] if "case" in data and "schema" not in data else data
    )  # shared: {case, expect}
    result = assess(parse_case(doc, today=date(2100, 1, 1)))
    listed = [r["id"] for r in result["references"]]
    assert len(listed) == len(set(listed))
    assert set(listed) == _cited(result)
    kb = default_knowledge()
    assert all(r["citation"] == kb.references[r["id"]].citation for r in result["references"])


def test_references_of_a_red_flag_case_include_the_flag_sources() -> None:
    result = run(case(neuro={"urinary_retention": True}))
    listed = {r["id"] for r in result["references"]}
    assert {"finucane-2020", "nice-ng59"} <= listed
    assert listed == _cited(result)


def test_examples_exist() -> None:
    assert len(EXAMPLES) >= 6


SHARED = sorted(Path("/work/shared/examples").glob("*.json"))


@pytest.mark.parametrize("path", SHARED, ids=[p.stem for p in SHARED])
def test_shared_example_meets_the_clinicians_expectations(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    expect: dict[str, Any] = data["expect"]
    result = assess(parse_case(data["case"], today=date(2100, 1, 1)))
    flags = {f["id"] for f in result["red_flags"]}
    assert set(expect.get("red_flags", [])) <= flags
    if expect.get("no_red_flags"):
        assert flags == set()
    for key in ("condition", "chronic", "course"):
        if key in expect:
            assert result["classification"][key] == expect[key], key
    top3 = {d["id"] for d in result["differential"][:3] if d["likelihood"] != "unlikely"}
    assert set(expect.get("top3", [])) <= top3, result["differential"][:3]
    assert set(expect.get("workup", [])) <= {w["id"] for w in result["workup"]}
    levels = {t["id"]: t["recommendation"] for t in result["treatment_options"]}
    for treatment, acceptable in expect.get("treat", {}).items():
        assert levels.get(treatment) in acceptable, (treatment, levels.get(treatment))
    if "surgical_review" in expect:
        assert result["surgical_review"]["indicated"] is expect["surgical_review"]


# -- work-up already documented (workup.yaml `done_when`) -----------------------------------------


def _proposed(document: dict[str, Any]) -> set[str]:
    return {w["id"] for w in document["workup"]}


def test_a_documented_test_is_not_proposed_again_to_tell_causes_apart(tmp_path: Path) -> None:
    """`done_when` in the knowledge data decides; without it the same test is proposed."""
    case = load_example("thoracic-sacroiliac")  # pseudarthrosis is open: flexion films help
    assert "xray-flexion-extension" in _proposed(assess(parse_case(case)))
    case["imaging"].append(
        {
            "date": "2026-07-01",
            "modality": "xray-flexion-extension",
            "findings": [{"finding": "no-significant-findings"}],
        }
    )
    documented = parse_case(case)
    assert "xray-flexion-extension" not in _proposed(assess(documented))
    target = tmp_path / "data"
    with as_file(default_data_dir()) as source:
        shutil.copytree(source, target)
    path = target / "workup.yaml"
    text = path.read_text(encoding="utf-8")
    rule = "  done_when: \"'xray-flexion-extension' in imaging_modalities\"\n"
    assert rule in text
    path.write_text(text.replace(rule, ""), encoding="utf-8")
    without = assess(documented, load_knowledge(target))
    assert "xray-flexion-extension" in _proposed(without)


def test_every_imaging_and_block_test_says_when_it_counts_as_done() -> None:
    kb = default_knowledge()
    for test in ("mri", "mri-gadolinium", "ct", "ct-myelogram", "xray-flexion-extension", "dexa"):
        assert kb.workup[test].done is not None, test
    for test in ("medial-branch-block", "sacroiliac-joint-block", "selective-nerve-root-block"):
        assert kb.workup[test].done is not None, test
