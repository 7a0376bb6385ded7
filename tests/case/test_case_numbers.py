"""Numbers in a case document are finite and plausible: NaN, Infinity, 1e400, figures no
patient can have and integers too long to convert are validation errors with their JSON path,
never a stored Infinity or a crash."""

from __future__ import annotations

import copy
import json
import math
from datetime import date
from typing import Any

import pytest

from secondlook.case import CaseInvalid, load_case_text, parse_case
from secondlook.case.strict_json import MAX_INT_DIGITS, loads_strict
from secondlook.examples import load_example

TODAY = date(2026, 11, 21)


def base() -> dict[str, Any]:
    return copy.deepcopy(load_example("recurrent-disc"))


def paths(call: Any, *args: Any) -> list[str]:
    with pytest.raises(CaseInvalid) as info:
        call(*args, today=TODAY)
    return [p.path for p in info.value.problems]


def place(doc: dict[str, Any], path: str, value: object) -> None:
    """Set `value` at a dotted path such as `medications.opioid_mme_per_day`."""
    *parents, last = path.split(".")
    node = doc
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value


# Every float field of the model with a value beyond its bound.
ABSURD = {
    "patient.height_cm": 900.0,
    "patient.weight_kg": 4000.0,
    "pain.returned_after_weeks": 6000.0,
    "labs.crp_mg_l": 5000.0,
    "labs.esr_mm_h": 250.0,
    "labs.wbc_10e9_l": 5000.0,
    "medications.opioid_mme_per_day": 50000.0,
    "medications.opioid_months": 2000.0,
}


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
@pytest.mark.parametrize("field", sorted(ABSURD))
def test_a_non_finite_number_is_refused_with_its_path(field: str, value: float) -> None:
    doc = base()
    place(doc, field, value)
    assert f"$.{field}" in paths(parse_case, doc)


@pytest.mark.parametrize(("field", "value"), sorted(ABSURD.items()))
def test_an_implausible_number_is_refused_with_its_path(field: str, value: float) -> None:
    doc = base()
    place(doc, field, value)
    assert f"$.{field}" in paths(parse_case, doc)


def test_a_non_finite_questionnaire_score_block_relief_or_t_score_is_refused() -> None:
    doc = base()
    doc["questionnaires"] = [{"instrument": "odi", "date": "2026-11-01", "score": math.inf}]
    doc["blocks"] = [{"target": "medial-branch", "relief_percent": math.nan}]
    doc["imaging"] = [
        {
            "date": "2026-10-01",
            "modality": "dexa",
            "findings": [{"finding": "bone-density", "t_score": -math.inf}],
        }
    ]
    found = paths(parse_case, doc)
    assert "$.questionnaires[0].score" in found
    assert "$.blocks[0].relief_percent" in found
    assert "$.imaging[0].findings[0].t_score" in found


def test_plausible_extremes_are_accepted() -> None:
    doc = base()
    place(doc, "medications.opioid_mme_per_day", 1200.0)
    place(doc, "labs.crp_mg_l", 480.0)
    place(doc, "labs.esr_mm_h", 140.0)
    parse_case(doc, today=TODAY)


@pytest.mark.parametrize(
    ("literal", "path"),
    [
        ("1e400", "$.medications.opioid_mme_per_day"),
        ("-1e400", "$.medications.opioid_mme_per_day"),
        ("NaN", "$.medications.opioid_mme_per_day"),
        ("Infinity", "$.medications.opioid_mme_per_day"),
        ("9" * (MAX_INT_DIGITS + 1), "$.medications.opioid_mme_per_day"),
    ],
)
def test_json_text_with_a_number_python_would_mangle_is_refused(literal: str, path: str) -> None:
    doc = base()
    doc["medications"] = {"opioid_mme_per_day": 0}
    text = json.dumps(doc).replace('"opioid_mme_per_day": 0', f'"opioid_mme_per_day": {literal}')
    assert paths(load_case_text, text) == [path]


def test_a_huge_integer_in_an_answer_list_names_the_item() -> None:
    doc = base()
    doc["questionnaires"] = [{"instrument": "nrs-pain", "date": "2026-11-01", "answers": [0]}]
    text = json.dumps(doc).replace('"answers": [0]', '"answers": [' + "7" * 5000 + "]")
    assert paths(load_case_text, text) == ["$.questionnaires[0].answers[0]"]


def test_a_key_given_twice_is_refused_naming_it() -> None:
    text = json.dumps(base()).replace('"region": ', '"region": "cervical", "region": ', 1)
    assert paths(load_case_text, text) == ["$.region"]


def test_strict_parsing_keeps_valid_documents_unchanged() -> None:
    doc = base()
    data, problems = loads_strict(json.dumps(doc))
    assert problems == []
    assert data == doc


def test_the_bounds_keep_every_example_and_the_flags_of_extreme_but_possible_values() -> None:
    """No example case is refused by the bounds, and a case at the edge of every bound still
    raises its red flags and the opioid safety alert."""
    from secondlook.engine import assess
    from secondlook.examples import example_names

    for name in example_names():
        parse_case(load_example(name))
    doc = copy.deepcopy(load_example("postoperative-infection"))
    expected = {f["id"] for f in assess(parse_case(doc))["red_flags"]}
    assert expected
    labs = doc.setdefault("labs", {})
    labs.update({"crp_mg_l": 1000.0, "esr_mm_h": 200.0, "wbc_10e9_l": 1000.0})
    doc["medications"] = {"opioid_mme_per_day": 20000.0, "opioid_months": 1320.0}
    assessment = assess(parse_case(doc))
    assert expected <= {f["id"] for f in assessment["red_flags"]}
    assert "opioid-overdose-risk" in {a["id"] for a in assessment["safety_alerts"]}
