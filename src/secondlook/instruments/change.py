"""Meaningful change and trajectories. Every instrument here scores higher = worse.

Rules, per instrument threshold (see each instrument module for the source):

* improved: the score fell by at least ``points``, or, where the literature gives a relative
  threshold (NRS: 30%, Farrar 2001 / Ostelo 2008), by at least ``percent`` of the earlier score;
* worsened: the score rose by at least ``points``. The relative thresholds were derived for
  improvement (a proportion of baseline pain relieved); no relative rule for worsening is
  published, and a percentage of a low baseline would call tiny rises meaningful (NRS 1 -> 2 is
  +100%), so worsening uses the absolute threshold only;
* no-change otherwise; ``None`` when the instrument has no threshold.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

from secondlook.instruments.model import AnswersInvalid, TrajectoryPoint, tidy_number
from secondlook.instruments.registry import get_instrument
from secondlook.instruments.scoring import check_total

ChangeStatus = Literal["improved", "no-change", "worsened"]

#: Tolerance for floating-point scores (ODI percentages, NDI after imputation).
_EPSILON = 1e-9


def improved_at(instrument_id: str, baseline: float) -> float | None:
    """The score at or below which a later score counts as a meaningful improvement on
    ``baseline`` (what :func:`change_status` calls "improved"): the baseline less the smaller of
    the instrument's thresholds, since either one suffices. None without a threshold."""
    threshold = get_instrument(instrument_id).meaningful_change
    if threshold is None:
        return None
    drops = [threshold.points]
    if threshold.percent is not None and baseline > 0:
        drops.append(baseline * threshold.percent / 100)
    return baseline - min(drops)


def change_status(instrument_id: str, baseline: float, current: float) -> ChangeStatus | None:
    """Status of the change from ``baseline`` to ``current`` (both totals of one instrument)."""
    instrument = get_instrument(instrument_id)
    before = check_total(instrument, baseline, "baseline")
    after = check_total(instrument, current, "current score")
    threshold = instrument.meaningful_change
    if threshold is None:
        return None
    delta = after - before
    if delta >= threshold.points - _EPSILON:
        return "worsened"
    if -delta >= threshold.points - _EPSILON:
        return "improved"
    if (
        threshold.percent is not None
        and before > 0
        and -delta / before * 100 >= threshold.percent - _EPSILON
    ):
        return "improved"
    return "no-change"


def trajectory(
    instrument_id: str, points: Sequence[tuple[dt.date, float]]
) -> list[TrajectoryPoint]:
    """Each dated score with its change from the first (baseline) and the previous score.

    Points are sorted by date (ties keep their given order). The first point is the baseline:
    its changes and statuses are ``None``. Statuses are ``None`` throughout for an instrument
    without a meaningful-change threshold.
    """
    instrument = get_instrument(instrument_id)
    problems: list[str] = []
    for number, point in enumerate(points, start=1):
        if not (isinstance(point, tuple) and len(point) == 2):
            problems.append(f"point {number} of {instrument.id}: expected (date, score)")
            continue
        when, value = point
        if not isinstance(when, dt.date) or isinstance(when, dt.datetime):
            problems.append(f"point {number} of {instrument.id}: {when!r} is not a date")
        try:
            check_total(instrument, value, f"point {number}")
        except AnswersInvalid as error:
            problems.extend(error.problems)
    if problems:
        raise AnswersInvalid(problems)
    ordered = sorted(points, key=lambda p: p[0])
    out: list[TrajectoryPoint] = []
    for index, (when, value) in enumerate(ordered):
        if index == 0:
            out.append(TrajectoryPoint(when, tidy_number(value), None, None, None, None))
            continue
        first = ordered[0][1]
        previous = ordered[index - 1][1]
        out.append(
            TrajectoryPoint(
                date=when,
                score=tidy_number(value),
                change_from_first=tidy_number(round(value - first, 9)),
                change_from_previous=tidy_number(round(value - previous, 9)),
                status_from_first=change_status(instrument.id, first, value),
                status_from_previous=change_status(instrument.id, previous, value),
            )
        )
    return out
