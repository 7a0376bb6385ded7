"""Validation of case documents: every problem, with its path and a hint; never a traceback."""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

import pytest

from secondlook.case import CaseInvalid, load_case_text, parse_case
from secondlook.case.facts import derive_facts
from secondlook.examples import load_example

TODAY = date(2026, 11, 21)


def base() -> dict[str, Any]:
    return copy.deepcopy(load_example("recurrent-disc"))


def problems(doc: object) -> list[tuple[str, str]]:
    with pytest.raises(CaseInvalid) as info:
        parse_case(doc, today=TODAY)
    return [(p.path, p.message) for p in info.value.problems]


def test_a_valid_example_parses_and_round_trips() -> None:
    doc = base()
    case = parse_case(doc, today=TODAY)
    assert case.to_document() == doc


def test_every_problem_is_reported_at_once_with_its_path() -> None:
    doc = base()
    doc["region"] = "lumbr"
    doc["patient"]["age"] = "40"
    doc["pain"]["axial_nrs"] = 11
    doc["surgeries"][0]["levels"] = ["L4L5"]
    found = dict(problems(doc))
    assert set(found) == {
        "$.region",
        "$.patient.age",
        "$.pain.axial_nrs",
        "$.surgeries[0].levels[0]",
    }
    assert "lumbr" in found["$.region"]


def test_a_questionnaire_problem_is_reported_with_the_structural_ones_in_one_pass() -> None:
    doc = base()
    doc["patient"]["age"] = "40"
    doc["questionnaires"] = [
        {"instrument": "phq-9", "date": "2026-01-10", "answers": [1] * 8},
        {"instrument": "odi", "date": "2099-01-01", "score": 30},
        {"instrument": "gad-7", "date": "2026-01-10", "answers": "many"},
    ]
    found = problems(doc)
    paths = [path for path, _ in found]
    assert "$.patient.age" in paths
    assert ("$.questionnaires[0].answers", "phq-9: expected 9 answers, got 8") in found
    assert any(p == "$.questionnaires[1].date" and "after assessed_on" in m for p, m in found)
    # the malformed entry is reported once, by its structure
    assert paths.count("$.questionnaires[2].answers") == 1
    # and a document without structural problems reports the same questionnaire problem
    doc["patient"]["age"] = 40
    del doc["questionnaires"][1:]
    assert problems(doc) == [("$.questionnaires[0].answers", "phq-9: expected 9 answers, got 8")]


def test_unknown_code_hint_suggests_the_close_one() -> None:
    doc = base()
    doc["surgeries"][0]["procedure"] = "microdiscetomy"
    with pytest.raises(CaseInvalid) as info:
        parse_case(doc, today=TODAY)
    (problem,) = info.value.problems
    assert problem.path == "$.surgeries[0].procedure"
    assert problem.hint is not None and "did you mean 'microdiscectomy'" in problem.hint


def test_unknown_key_is_an_error_not_a_silent_drop() -> None:
    doc = base()
    doc["patient"]["smokes"] = True
    [(path, message)] = problems(doc)
    assert path == "$.patient.smokes"
    assert "unknown key" in message


@pytest.mark.parametrize(
    ("field", "value"),
    [("smoker", 1), ("smoker", "yes"), ("age", 40.5), ("age", True), ("height_cm", "180")],
)
def test_wrong_types_are_rejected_not_coerced(field: str, value: object) -> None:
    doc = base()
    doc["patient"][field] = value
    assert problems(doc)[0][0] == f"$.patient.{field}"


def test_dates_after_the_assessment_are_errors() -> None:
    doc = base()
    doc["imaging"][0]["date"] = "2026-03-05"
    assert problems(doc) == [("$.imaging[0].date", "2026-03-05 is after assessed_on (2026-03-02)")]


def test_an_assessment_dated_in_the_future_is_an_error() -> None:
    doc = base()
    doc["assessed_on"] = "2026-12-01"
    assert ("$.assessed_on", "2026-12-01 is in the future") in problems(doc)


def test_a_timestamp_is_not_a_date() -> None:
    doc = base()
    doc["assessed_on"] = 1767225600
    assert problems(doc)[0][0] == "$.assessed_on"


def test_pain_cannot_return_when_never_relieved() -> None:
    doc = base()
    doc["pain"]["relief_after_surgery"] = "none"
    assert problems(doc)[0][0] == "$.pain.returned_after_weeks"


def test_questionnaire_needs_answers_or_score_not_both() -> None:
    doc = base()
    doc["questionnaires"][0] = {"instrument": "odi", "date": "2026-03-02"}
    assert problems(doc) == [("$.questionnaires[0]", "neither answers nor score")]
    doc["questionnaires"][0] = {
        "instrument": "odi",
        "date": "2026-03-02",
        "score": 4,
        "answers": [1],
    }
    assert problems(doc) == [("$.questionnaires[0]", "both answers and score")]


def test_questionnaire_answers_out_of_range_name_the_item() -> None:
    doc = base()
    doc["questionnaires"][1]["answers"][3] = 4  # PHQ-9 items are 0-3
    [(path, message)] = problems(doc)
    assert path == "$.questionnaires[1].answers"
    assert "item 4" in message


def test_a_leg_distribution_in_a_cervical_case_is_an_error() -> None:
    doc = copy.deepcopy(load_example("cervical-nonunion"))
    doc["pain"]["limb_distribution"] = "below-knee"
    assert problems(doc)[0][0] == "$.pain.limb_distribution"


def test_index_surgery_levels_must_be_in_the_region() -> None:
    doc = base()
    doc["surgeries"][0]["levels"] = ["C5-C6"]
    assert problems(doc)[0][0] == "$.surgeries[0].levels"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the document is empty"),
        ("   \n", "the document is empty"),
        ("{", "not valid JSON"),
        ("[1, 2]", "expected a JSON object, got a list"),
        ("null", "expected a JSON object, got null"),
    ],
)
def test_text_that_is_not_a_case_document(text: str, message: str) -> None:
    with pytest.raises(CaseInvalid) as info:
        load_case_text(text, today=TODAY)
    assert info.value.problems[0].path == "$"
    assert message in info.value.problems[0].message


def test_bytes_that_are_not_utf8() -> None:
    with pytest.raises(CaseInvalid, match="not UTF-8"):
        load_case_text(b"\xff\xfe{", today=TODAY)


def test_json_schema_of_the_case_lists_the_contract_fields() -> None:
    from secondlook.case.models import Case

    schema = Case.model_json_schema(by_alias=True)
    assert {"schema", "assessed_on", "region", "patient", "surgeries"} <= set(schema["required"])
    json.dumps(schema)


# -- derived facts -------------------------------------------------------------------------------


def test_derived_facts_are_computed_once_from_the_case() -> None:
    facts = derive_facts(parse_case(base(), today=TODAY)).values
    assert facts["bmi"] == 28.4  # 92 kg / 1.80 m squared
    assert facts["months_since_surgery"] == 13.5
    assert facts["limb_dominant"] is True and facts["axial_dominant"] is False
    assert facts["pain_free_interval_weeks"] == 52.0
    assert facts["neuropathic_component"] is True  # shooting + electric, dermatomal
    assert facts["odi_score"] == 44.0 and facts["odi_band"] == "severe"
    assert facts["course"] == "recurrent"


def test_unknown_facts_are_absent_not_false() -> None:
    doc = base()
    del doc["neuro"]
    del doc["pain"]["character"]
    facts = derive_facts(parse_case(doc, today=TODAY)).values
    assert "saddle_anesthesia" not in facts
    assert "pain_character" not in facts
    assert "imaging_findings" in facts  # imaging was documented


def test_imaging_before_the_index_surgery_does_not_describe_its_result() -> None:
    doc = base()
    doc["imaging"][0]["date"] = "2024-12-01"
    facts = derive_facts(parse_case(doc, today=TODAY)).values
    assert facts["imaging_modalities"] == ()
    assert "imaging_findings" not in facts


def test_findings_are_placed_by_level_relative_to_the_operation() -> None:
    doc = base()
    doc["imaging"][0]["findings"] += [
        {"finding": "foraminal-stenosis", "level": "L4-L5"},
        {"finding": "central-stenosis", "level": "L2-L3"},
    ]
    facts = derive_facts(parse_case(doc, today=TODAY)).values
    assert facts["findings_at_operated_levels"] == ("recurrent-disc-herniation",)
    assert facts["findings_at_adjacent_levels"] == ("foraminal-stenosis",)
    assert facts["findings_at_other_levels"] == ("central-stenosis",)


@pytest.mark.parametrize(
    ("relief", "compared", "days", "course"),
    [
        ("complete", "same", 400, "recurrent"),
        ("partial", "same", 400, "persistent"),
        ("none", "same", 400, "persistent"),
        ("complete", "different", 400, "new"),
        (None, "same", 400, "undetermined"),
        ("complete", "same", 60, "transient-post-surgical"),
    ],
)
def test_course_categories(relief: str | None, compared: str, days: int, course: str) -> None:
    from datetime import timedelta

    doc = base()
    doc["surgeries"][0]["date"] = (date(2026, 3, 2) - timedelta(days=days)).isoformat()
    doc["pain"] = {"compared_to_before": compared, "axial_nrs": 3, "limb_nrs": 7}
    if relief:
        doc["pain"]["relief_after_surgery"] = relief
    assert derive_facts(parse_case(doc, today=TODAY)).values["course"] == course
