"""Property tests: for every instrument, raising one answer never lowers the total, and every
total stays inside the published range."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secondlook.instruments import INSTRUMENTS, Instrument, score


@st.composite
def answers_and_item_to_raise(
    draw: st.DrawFn, instrument: Instrument
) -> tuple[list[int | None], int]:
    """Valid answers (within the missing rule) and the index of an item that can go up."""
    answers: list[int | None] = [
        draw(st.integers(lo, hi))
        for lo, hi in zip(instrument.item_min, instrument.item_max, strict=True)
    ]
    raisable = [i for i, a in enumerate(answers) if a is not None and a < instrument.item_max[i]]
    if not raisable:
        answers[0] = instrument.item_min[0]
        raisable = [0]
    target = draw(st.sampled_from(raisable))
    others = [i for i in range(instrument.item_count) if i != target]
    if instrument.max_skipped and others:
        for index in draw(
            st.lists(st.sampled_from(others), max_size=instrument.max_skipped, unique=True)
        ):
            answers[index] = None
    return answers, target


@pytest.mark.parametrize("instrument_id", list(INSTRUMENTS))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_raising_one_answer_never_lowers_the_total_and_totals_stay_in_range(
    instrument_id: str, data: st.DataObject
) -> None:
    instrument = INSTRUMENTS[instrument_id]
    answers, target = data.draw(answers_and_item_to_raise(instrument))
    before = score(instrument_id, answers)
    current = answers[target]
    assert current is not None
    raised = list(answers)
    raised[target] = data.draw(st.integers(current + 1, instrument.item_max[target]))
    after = score(instrument_id, raised)

    assert before.score is not None
    assert after.score is not None
    assert after.score >= before.score - 1e-9
    for result in (before, after):
        assert result.score is not None
        assert instrument.min_score <= result.score <= instrument.max_score
        assert result.max == instrument.max_score
        assert result.band is not None


@pytest.mark.parametrize("instrument_id", list(INSTRUMENTS))
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_subscales_are_monotone_too(instrument_id: str, data: st.DataObject) -> None:
    instrument = INSTRUMENTS[instrument_id]
    answers, target = data.draw(answers_and_item_to_raise(instrument))
    current = answers[target]
    assert current is not None
    raised = list(answers)
    raised[target] = instrument.item_max[target]
    before, after = score(instrument_id, answers), score(instrument_id, raised)
    assert before.subscales.keys() == after.subscales.keys()
    for name, value in before.subscales.items():
        assert after.subscales[name] >= value
