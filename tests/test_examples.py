"""What a clinician insists the assessment of each example shows (../shared/examples)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from secondlook.case import parse_case
from secondlook.engine import assess
from secondlook.engine.document import Assessment
from secondlook.examples import example_names, load_example

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "examples"
SHARED_FILES = sorted(SHARED.glob("*.json"))


def test_the_shared_examples_are_there() -> None:
    assert len(SHARED_FILES) >= 4, f"expected the example cases in {SHARED}"


@pytest.mark.parametrize("path", SHARED_FILES, ids=lambda p: p.stem)
def test_shared_example_expectations_hold(path: Path) -> None:
    data = json.loads(path.read_text())
    a = assess(parse_case(data["case"]))
    check_expectations(a, data["expect"])


def check_expectations(a: dict[str, Any], expect: dict[str, Any]) -> None:
    flags = [f["id"] for f in a["red_flags"]]
    for key, wanted in expect.items():
        if key == "red_flags":
            assert set(wanted) <= set(flags), flags
        elif key == "no_red_flags":
            assert (flags == []) is wanted, flags
        elif key in ("condition", "chronic", "course"):
            assert a["classification"][key] == wanted
        elif key == "top3":
            top = {d["id"]: d["likelihood"] for d in a["differential"][:3]}
            for cause in wanted:
                assert cause in top and top[cause] != "unlikely", a["differential"][:3]
        elif key == "workup":
            assert set(wanted) <= {w["id"] for w in a["workup"]}
        elif key == "treat":
            levels = {t["id"]: t["recommendation"] for t in a["treatment_options"]}
            for treatment, acceptable in wanted.items():
                assert levels.get(treatment) in acceptable, (treatment, levels.get(treatment))
        elif key == "surgical_review":
            assert a["surgical_review"]["indicated"] is wanted
        else:
            raise AssertionError(f"unknown expectation {key!r}")


@pytest.mark.parametrize("name", example_names())
def test_bundled_examples_assess_to_valid_documents(name: str) -> None:
    a = assess(parse_case(load_example(name)))
    Assessment.model_validate(a)


BUNDLED_EXPECT: dict[str, dict[str, Any]] = {
    "recurrent-disc": {
        "no_red_flags": True,
        "course": "recurrent",
        "top3": ["recurrent-disc-herniation"],
        "surgical_review": True,
        "treat": {
            "revision-surgery": ["recommended", "consider"],
            "smoking-cessation": ["recommended"],
        },
        "workup": ["spine-surgery-opinion"],
    },
    "scs-candidate": {
        "no_red_flags": True,
        "course": "persistent",
        "top3": ["epidural-fibrosis"],
        "treat": {
            "spinal-cord-stimulation": ["recommended"],
            "revision-surgery": ["not-recommended", "contraindicated"],
        },
        "workup": ["psychological-evaluation"],
    },
    "postoperative-infection": {
        "red_flags": ["infection"],
        "chronic": False,
        "course": "transient-post-surgical",
        "workup": ["inflammatory-markers", "blood-cultures", "mri-gadolinium"],
        "surgical_review": True,
        "treat": {"spinal-cord-stimulation": ["contraindicated"]},
    },
    "cervical-nonunion": {
        "no_red_flags": True,
        "condition": "failed-neck-surgery-syndrome",
        "top3": ["pseudarthrosis"],
        "surgical_review": True,
        "treat": {"smoking-cessation": ["recommended"]},
    },
    "cauda-equina": {"red_flags": ["cauda-equina", "epidural-hematoma"], "surgical_review": True},
    "thoracic-sacroiliac": {
        "condition": "persistent-pain-after-thoracic-surgery",
        "red_flags": ["fracture"],
        "treat": {"opioid-taper": ["recommended"]},
    },
}


def test_every_bundled_example_has_expectations() -> None:
    assert set(BUNDLED_EXPECT) == set(example_names())


@pytest.mark.parametrize("name", sorted(BUNDLED_EXPECT))
def test_bundled_example_expectations_hold(name: str) -> None:
    check_expectations(assess(parse_case(load_example(name))), BUNDLED_EXPECT[name])


def test_cauda_equina_example_is_an_emergency_on_top() -> None:
    a = assess(parse_case(load_example("cauda-equina")))
    assert a["red_flags"][0]["urgency"] == "emergency"
    assert a["surgical_review"]["urgency"] == "emergency"
    assert a["workup"][0]["priority"] == "emergency"


def test_thoracic_example_raises_its_safety_alerts() -> None:
    a = assess(parse_case(load_example("thoracic-sacroiliac")))
    assert {s["id"] for s in a["safety_alerts"]} == {"self-harm-risk", "opioid-overdose-risk"}
