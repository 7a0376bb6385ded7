"""Scoring entry points: validate answers, apply the instrument's rule, band, raise alerts."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from secondlook.instruments.model import (
    AnswersInvalid,
    Instrument,
    ScoreResult,
    tidy_number,
)
from secondlook.instruments.registry import get_instrument


def _range_text(low: float, high: float) -> str:
    return f"{low}–{high}"


def validate_answers(instrument: Instrument, answers: object) -> tuple[int | None, ...]:
    """Check count, type and range of every answer; collect every problem, naming the item."""
    iid = instrument.id
    if isinstance(answers, str | bytes | Mapping) or not isinstance(answers, Sequence):
        raise AnswersInvalid(
            [
                f"{iid}: answers must be a list of {instrument.item_count} integers or null, "
                f"got {type(answers).__name__}"
            ]
        )
    if len(answers) != instrument.item_count:
        raise AnswersInvalid(
            [f"{iid}: expected {instrument.item_count} answers, got {len(answers)}"]
        )
    problems: list[str] = []
    for number, value in enumerate(answers, start=1):
        low, high = instrument.item_min[number - 1], instrument.item_max[number - 1]
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(
                f"item {number} of {iid}: {value!r} is not an integer answer "
                f"(expected {_range_text(low, high)} or null)"
            )
        elif not low <= value <= high:
            problems.append(f"item {number} of {iid}: {value} is outside {_range_text(low, high)}")
    if problems:
        raise AnswersInvalid(problems)
    return tuple(a for a in answers)


def check_total(instrument: Instrument, total: object, what: str) -> float:
    iid = instrument.id
    if isinstance(total, bool) or not isinstance(total, int | float):
        raise AnswersInvalid([f"{what} of {iid}: {total!r} is not a number"])
    if not math.isfinite(total):
        raise AnswersInvalid([f"{what} of {iid}: {total!r} is not a finite number"])
    if not instrument.min_score <= total <= instrument.max_score:
        raise AnswersInvalid(
            [
                f"{what} of {iid}: {tidy_number(total)} is outside "
                f"{_range_text(instrument.min_score, instrument.max_score)}"
            ]
        )
    return float(total)


def _generic_band(instrument: Instrument, value: float) -> str | None:
    band: str | None = None
    for candidate in instrument.bands:
        if value >= candidate.lower:
            band = candidate.id
    return band


def _band_of_total(instrument: Instrument, value: float) -> str | None:
    if instrument.band_from_total is not None:
        return instrument.band_from_total(value)
    return _generic_band(instrument, value)


def score(instrument_id: str, answers: Sequence[int | None]) -> ScoreResult:
    """Score item answers (``None`` = skipped) in the instrument's published order.

    Raises :class:`AnswersInvalid` for an unknown instrument, a wrong number of answers, an
    answer that is not an integer (``bool`` is not accepted) or one out of range. Too many
    skipped items is not an error: the score is ``None`` and ``problems`` says why.
    """
    instrument = get_instrument(instrument_id)
    values = validate_answers(instrument, answers)
    computed = instrument.scorer(values)
    alerts = instrument.alert_rule(values) if instrument.alert_rule is not None else ()
    band: str | None = None
    total: float | int | None = None
    if computed.score is not None:
        total = tidy_number(computed.score)
        if instrument.band_rule is not None:
            band = instrument.band_rule(computed.score, computed.subscales)
        else:
            band = _generic_band(instrument, computed.score)
    return ScoreResult(
        instrument=instrument.id,
        score=total,
        max=instrument.max_score,
        band=band,
        subscales={k: tidy_number(v) for k, v in computed.subscales.items()},
        alerts=alerts,
        problems=computed.problems,
    )


def score_total(instrument_id: str, total: float) -> ScoreResult:
    """A total entered without item answers: range-checked and banded, no item-level alerts."""
    instrument = get_instrument(instrument_id)
    value = check_total(instrument, total, "total")
    band = _band_of_total(instrument, value)
    problems: list[str] = []
    if instrument.total_only_note is not None and (
        band is None or instrument.alert_rule is not None
    ):
        problems.append(instrument.total_only_note)
    return ScoreResult(
        instrument=instrument.id,
        score=tidy_number(value),
        max=instrument.max_score,
        band=band,
        problems=tuple(problems),
    )


def band_for(instrument_id: str, score: float) -> str | None:
    """The band id (CONTRACT.md §2) of a total; ``None`` when a total alone cannot tell."""
    instrument = get_instrument(instrument_id)
    return _band_of_total(instrument, check_total(instrument, score, "score"))
