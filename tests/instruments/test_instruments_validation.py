"""Invalid input is rejected with a message that names the item."""

from __future__ import annotations

import math
from typing import Any

import pytest

from secondlook.instruments import AnswersInvalid, band_for, score, score_total


def problems_of(instrument: str, answers: Any) -> list[str]:
    with pytest.raises(AnswersInvalid) as caught:
        score(instrument, answers)
    assert isinstance(caught.value, ValueError)
    return caught.value.problems


def test_out_of_range_answer_names_item_and_range() -> None:
    problems = problems_of("phq-9", [0, 0, 4, 0, 0, 0, 0, 0, 0])
    assert problems == ["item 3 of phq-9: 4 is outside 0–3"]


def test_negative_answer_is_out_of_range() -> None:
    assert problems_of("odi", [-1, 0, 0, 0, 0, 0, 0, 0, 0, 0]) == [
        "item 1 of odi: -1 is outside 0–5"
    ]


def test_start_back_item9_has_its_own_range_and_other_items_are_binary() -> None:
    assert problems_of("start-back", [2, 0, 0, 0, 0, 0, 0, 0, 5]) == [
        "item 1 of start-back: 2 is outside 0–1",
        "item 9 of start-back: 5 is outside 0–4",
    ]


def test_boolean_answers_are_rejected_even_though_bool_is_an_int() -> None:
    problems = problems_of("dn4", [True, 0, 0, 0, 0, 0, 0, 0, 0, False])
    assert len(problems) == 2
    assert problems[0].startswith("item 1 of dn4: True is not an integer answer")
    assert problems[1].startswith("item 10 of dn4: False is not an integer answer")


@pytest.mark.parametrize("bad", [1.0, "1", 1.5])
def test_non_integer_answers_are_rejected(bad: object) -> None:
    problems = problems_of("nrs-pain", [bad])
    assert problems == [
        f"item 1 of nrs-pain: {bad!r} is not an integer answer (expected 0–10 or null)"
    ]


@pytest.mark.parametrize(("count", "instrument"), [(8, "phq-9"), (10, "phq-9"), (0, "gad-7")])
def test_wrong_item_count_is_rejected(count: int, instrument: str) -> None:
    expected = 9 if instrument == "phq-9" else 7
    assert problems_of(instrument, [0] * count) == [
        f"{instrument}: expected {expected} answers, got {count}"
    ]


@pytest.mark.parametrize("answers", ["012345678", {"1": 0}, 5, None])
def test_answers_that_are_not_a_list_are_rejected(answers: object) -> None:
    problems = problems_of("phq-9", answers)
    assert len(problems) == 1
    assert problems[0].startswith("phq-9: answers must be a list")


def test_every_problem_is_reported_at_once() -> None:
    problems = problems_of("gad-7", [9, 0, "x", 0, 0, 0, -2])
    assert [p.split(":")[0] for p in problems] == [
        "item 1 of gad-7",
        "item 3 of gad-7",
        "item 7 of gad-7",
    ]


def test_unknown_instrument_is_answers_invalid_listing_the_known_ones() -> None:
    problems = problems_of("phq-8", [0] * 8)
    assert len(problems) == 1
    assert problems[0].startswith("unknown instrument 'phq-8'")
    assert "phq-9" in problems[0]


@pytest.mark.parametrize("total", [-1, 28, math.nan, math.inf])
def test_score_total_out_of_range_or_not_finite_is_rejected(total: float) -> None:
    with pytest.raises(AnswersInvalid) as caught:
        score_total("phq-9", total)
    assert caught.value.problems[0].startswith("total of phq-9:")


@pytest.mark.parametrize("total", [True, "12", None])
def test_score_total_that_is_not_a_number_is_rejected(total: Any) -> None:
    with pytest.raises(AnswersInvalid) as caught:
        score_total("phq-9", total)
    assert "is not a number" in caught.value.problems[0]


def test_band_for_out_of_range_score_is_rejected() -> None:
    with pytest.raises(AnswersInvalid, match="score of odi: 101 is outside 0–100"):
        band_for("odi", 101)
