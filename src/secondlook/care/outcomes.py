"""Outcomes: trajectories, goal status, responders, and the organisation's cohort report.

Responder (used at 6 and 12 months): a patient whose score on the region's primary instrument
(ODI for lumbar and thoracic, NDI for cervical) improved from baseline by at least the
instrument's minimal important change, the same threshold ``instruments.change_status`` uses:
ODI 10 points and NRS 2 points or 30% (Ostelo et al., Spine 2008;33(1):90-94; Farrar et al.,
Pain 2001;94(2):149-158), NDI 5 raw points (Vernon, JMPT 2008;31(7):491-502). Time points
follow the ICHOM low back pain set (Clement et al., Acta Orthop 2015;86(5):523-533).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from secondlook.care.models import Goal, GoalCheck, InstrumentResult, Region, Result, add_months
from secondlook.instruments import INSTRUMENTS, TrajectoryPoint, change_status, trajectory

GoalStatus = Literal["met", "not-met", "not-yet-measurable"]
ResponderStatus = Literal["responder", "non-responder", "not-measurable"]

#: The instrument that decides responder status, by region (CLINICAL.md §6).
PRIMARY_INSTRUMENT: Final[dict[Region, str]] = {
    "lumbar": "odi",
    "cervical": "ndi",
    "thoracic": "odi",
}
#: A follow-up counts for a time point when it is this close to it (days either side).
RESPONDER_WINDOW_DAYS: Final = 45
_EPSILON: Final = 1e-9


def trajectories(results: Iterable[Result]) -> dict[str, list[TrajectoryPoint]]:
    """Each instrument's dated scores with change from baseline and meaningful-change status."""
    by_instrument: dict[str, list[tuple[dt.date, float]]] = {}
    for result in results:
        if isinstance(result, InstrumentResult):
            by_instrument.setdefault(result.instrument, []).append((result.date, result.score))
    return {name: trajectory(name, points) for name, points in sorted(by_instrument.items())}


def goal_status(
    goal: Goal, results: Iterable[Result], *, as_of: dt.date | None = None
) -> GoalStatus:
    """Whether a goal is met by the latest measurement after its baseline (up to ``as_of``).

    ``not-yet-measurable``: no baseline, or nothing measured since. ``not-met`` says only that
    the latest measurement falls short; it may still be met by the target date.
    """
    usable = [r for r in results if as_of is None or r.date <= as_of]
    if goal.kind == "patient":
        checks = [r for r in usable if isinstance(r, GoalCheck) and r.goal_id == goal.id]
        if not checks:
            return "not-yet-measurable"
        # The latest check wins; on the same day, the one recorded last.
        return "met" if checks[_latest([c.date for c in checks])].achieved else "not-met"
    if goal.baseline is None or goal.instrument is None:
        return "not-yet-measurable"
    scores = [
        r
        for r in usable
        if isinstance(r, InstrumentResult)
        and r.instrument == goal.instrument
        and (goal.baseline_on is None or r.date > goal.baseline_on)
    ]
    if not scores:
        return "not-yet-measurable"
    latest = scores[_latest([r.date for r in scores])]
    target = goal_target(goal)
    if target is not None and latest.score <= target + _EPSILON:
        return "met"
    return "not-met"


def goal_target(goal: Goal) -> float | None:
    """The score at or below which an instrument goal is met: the baseline less the smaller of
    its required drops (``improve_points``, or ``improve_percent`` of a positive baseline), since
    either one meets it. None for a goal without a baseline or a required drop. The charts'
    goal line is this value, so the line and the goal's status always agree."""
    if goal.kind != "instrument" or goal.baseline is None:
        return None
    drops = []
    if goal.improve_points is not None:
        drops.append(goal.improve_points)
    if goal.improve_percent is not None and goal.baseline > 0:
        drops.append(goal.baseline * goal.improve_percent / 100)
    if not drops:
        return None
    return goal.baseline - min(drops)


def _latest(dates: Sequence[dt.date]) -> int:
    """Index of the latest date; on a tie, the last given."""
    return max(range(len(dates)), key=lambda i: (dates[i], i))


def responder_status(
    instrument: str,
    results: Iterable[Result],
    *,
    baseline_on: dt.date,
    months: int,
    window_days: int = RESPONDER_WINDOW_DAYS,
) -> ResponderStatus:
    """Responder at ``months`` after ``baseline_on`` on ``instrument`` (see the module doc).

    Baseline: the latest score on or before ``baseline_on``. Follow-up: the score nearest to
    ``baseline_on + months`` within ``window_days`` (the earlier on a tie). Without either, or
    for an instrument without a meaningful-change threshold: ``not-measurable``.
    """
    if INSTRUMENTS[instrument].meaningful_change is None:
        return "not-measurable"
    scores = [r for r in results if isinstance(r, InstrumentResult) and r.instrument == instrument]
    before = [r for r in scores if r.date <= baseline_on]
    if not before:
        return "not-measurable"
    baseline = max(before, key=lambda r: r.date)
    target = add_months(baseline_on, months)
    near = [
        r for r in scores if r.date > baseline_on and abs((r.date - target).days) <= window_days
    ]
    if not near:
        return "not-measurable"
    follow_up = min(near, key=lambda r: (abs((r.date - target).days), r.date))
    status = change_status(instrument, baseline.score, follow_up.score)
    return "responder" if status == "improved" else "non-responder"


# -- the organisation's cohort --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CohortRow:
    """One patient of an organisation's cohort, as plain values (one row of a report query)."""

    patient_id: str
    region: str
    course: str
    etiology: str | None
    baseline_on: dt.date
    work_status_baseline: str | None
    work_status_12m: str | None
    responder_6m: ResponderStatus
    responder_12m: ResponderStatus


@dataclass(frozen=True, slots=True)
class ResponderCount:
    responders: int
    measured: int

    @property
    def rate(self) -> float | None:
        """Share of measured patients who responded; ``None`` when nobody was measured."""
        return self.responders / self.measured if self.measured else None


@dataclass(frozen=True, slots=True)
class CohortReport:
    patients: int
    by_course: Mapping[str, int]
    by_etiology: Mapping[str, int]
    by_course_and_etiology: Mapping[tuple[str, str], int]
    responders_6m: ResponderCount
    responders_12m: ResponderCount
    work_status_baseline: Mapping[str, int]
    work_status_12m: Mapping[str, int]


_UNKNOWN: Final = "unknown"


def _count(values: Iterable[str]) -> dict[str, int]:
    return dict(sorted(Counter(values).items()))


def _responders(statuses: Sequence[ResponderStatus]) -> ResponderCount:
    measured = [s for s in statuses if s != "not-measurable"]
    return ResponderCount(sum(s == "responder" for s in measured), len(measured))


def cohort_report(rows: Sequence[CohortRow]) -> CohortReport:
    """Counts by course and etiology, responders at 6 and 12 months (of those measured: a
    patient lost to follow-up is not counted as a non-responder), and work status."""
    return CohortReport(
        patients=len(rows),
        by_course=_count(r.course for r in rows),
        by_etiology=_count(r.etiology or _UNKNOWN for r in rows),
        by_course_and_etiology=dict(
            sorted(Counter((r.course, r.etiology or _UNKNOWN) for r in rows).items())
        ),
        responders_6m=_responders([r.responder_6m for r in rows]),
        responders_12m=_responders([r.responder_12m for r in rows]),
        work_status_baseline=_count(r.work_status_baseline or _UNKNOWN for r in rows),
        work_status_12m=_count(r.work_status_12m or _UNKNOWN for r in rows),
    )


#: The CSV columns, in their fixed order. Add new columns at the end only.
COHORT_COLUMNS: Final[tuple[str, ...]] = (
    "patient_id",
    "region",
    "course",
    "etiology",
    "baseline_on",
    "work_status_baseline",
    "work_status_12m",
    "responder_6m",
    "responder_12m",
)


def cohort_csv(rows: Iterable[CohortRow]) -> str:
    """The cohort as CSV (RFC 4180): a header, CRLF line ends, fields quoted when they hold a
    comma, a quote or a line break (quotes doubled); unknown values are empty fields."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COHORT_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                "" if (value := getattr(row, column)) is None else str(value)
                for column in COHORT_COLUMNS
            ]
        )
    return out.getvalue()
