"""Opioid taper schedules (CDC 2022, Recommendation 5 and its implementation notes).

Rules, each enforced by the generator and checked by property tests:

* Steps are a fraction of the ORIGINAL daily dose per period, never of the current dose (a
  fraction of the current dose would also be slower, but never reaches zero).
* Long-term use (a year or more, or unknown duration): 10% of the original dose per month or
  slower (``monthly``; ``slow-monthly`` is 5%). Faster tapers are refused.
* Shorter use (under a year): additionally ``weekly``, 10% of the original dose per week; CDC
  2022 notes this may be tolerated after opioid use for weeks to months rather than years.
* Doses are rounded UP to the dispensing resolution, so rounding can only make a step smaller.
  When one allowance is smaller than the resolution (tiny doses), the steps are spaced further
  apart instead of made larger: a step never exceeds the allowance times the periods since the
  previous step. Never an abrupt stop; the schedule ends at 0 or at an agreed floor.
* A taper can be paused (the dose is held) or slowed (the allowance halved) from any date; both
  only ever lengthen it. Follow-up is at least monthly while tapering.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace
from typing import Final, Literal

from secondlook.care.models import CareInvalid, Discipline, Task, add_months

CDC_2022: Final = (
    "Dowell D, Ragan KR, Jones CM, Baldwin GT, Chou R. CDC Clinical Practice Guideline for "
    "Prescribing Opioids for Pain - United States, 2022. MMWR Recomm Rep 2022;71(No. RR-3):1-95. "
    "Recommendation 5: taper by 10% of the original dose per month or slower after a year or "
    "more of use; 10% per week may be tolerated after shorter use; follow up at least monthly; "
    "pause or slow the taper as needed; do not stop abruptly."
)

Pace = Literal["monthly", "slow-monthly", "weekly"]
Period = Literal["month", "week"]
StepKind = Literal["start", "reduce", "pause", "slow"]

#: Fraction of the original dose per period, and the period, for each pace.
PACES: Final[dict[Pace, tuple[float, Period]]] = {
    "monthly": (0.10, "month"),
    "slow-monthly": (0.05, "month"),
    "weekly": (0.10, "week"),
}
#: Paces allowed after long-term use (12 months or more, or unknown): monthly only.
LONG_TERM_MONTHS: Final = 12.0
LONG_TERM_PACES: Final[frozenset[Pace]] = frozenset({"monthly", "slow-monthly"})
#: Guards against a runaway schedule (a dose 1000 times the resolution at 0.1%...).
MAX_STEPS: Final = 2000
_EPS: Final = 1e-9


@dataclass(frozen=True, slots=True)
class TaperStep:
    """One row of the schedule: from ``start_on`` the daily dose is ``mme_per_day``.

    ``reduction``: MME/day less than the previous row; ``periods``: the whole periods this
    reduction was spread over (after a pause, the real time since the previous change is
    longer still); ``allowance``: MME/day the rule allowed per period. Always
    ``reduction <= allowance * periods``.
    """

    number: int
    kind: StepKind
    start_on: dt.date
    mme_per_day: float
    reduction: float
    periods: int
    allowance: float
    note: str = ""


@dataclass(frozen=True, slots=True)
class TaperSchedule:
    original_mme: float
    months_of_use: float | None
    long_term: bool
    pace: Pace
    period: Period
    floor_mme: float
    resolution: float
    start_on: dt.date
    steps: tuple[TaperStep, ...]
    citation: str = CDC_2022

    @property
    def end_on(self) -> dt.date:
        return self.steps[-1].start_on

    @property
    def final_mme(self) -> float:
        return self.steps[-1].mme_per_day

    def dose_on(self, day: dt.date) -> float:
        """The scheduled daily dose on ``day`` (the original dose before the start)."""
        dose = self.original_mme
        for step in self.steps:
            if step.start_on <= day:
                dose = step.mme_per_day
        return dose


def _advance(day: dt.date, period: Period, count: int) -> dt.date:
    return add_months(day, count) if period == "month" else day + dt.timedelta(weeks=count)


def _round_up(value: float, resolution: float) -> float:
    units = math.ceil(value / resolution - _EPS)
    return round(units * resolution, 9)


def _reductions(
    *,
    dose: float,
    anchor: dt.date,
    allowance: float,
    period: Period,
    floor: float,
    resolution: float,
    first_number: int,
) -> list[TaperStep]:
    """Reduction steps from ``dose`` down to ``floor``; the first comes at least one period
    after ``anchor``; each is as large as allowed but never larger."""
    steps: list[TaperStep] = []
    elapsed = 0
    while dose > floor + _EPS:
        if len(steps) >= MAX_STEPS:
            raise CareInvalid(
                [f"taper: more than {MAX_STEPS} steps; use a coarser resolution or a floor"]
            )
        k = 1
        while True:
            target = dose - allowance * k
            if target <= floor + _EPS:
                following = floor
            else:
                following = min(_round_up(target, resolution), dose)
            if following < dose - _EPS:
                break
            k += 1
        elapsed += k
        steps.append(
            TaperStep(
                number=first_number + len(steps),
                kind="reduce",
                start_on=_advance(anchor, period, elapsed),
                mme_per_day=following,
                reduction=round(dose - following, 9),
                periods=k,
                allowance=allowance,
            )
        )
        dose = following
    return steps


def taper_schedule(
    *,
    mme_per_day: float,
    months_of_use: float | None,
    start_on: dt.date,
    pace: Pace = "monthly",
    floor_mme: float = 0.0,
    resolution: float = 1.0,
) -> TaperSchedule:
    """A taper from ``mme_per_day`` to ``floor_mme`` (0 = stop) following the module's rules.

    ``months_of_use`` unknown counts as long-term (the slower, safer rule).
    """
    problems: list[str] = []
    if not mme_per_day > 0:
        problems.append(f"mme_per_day: {mme_per_day} is not a dose to taper (must be above 0)")
    if months_of_use is not None and months_of_use < 0:
        problems.append(f"months_of_use: {months_of_use} cannot be negative")
    if not 0 <= floor_mme < mme_per_day:
        problems.append(f"floor_mme: {floor_mme} must be at least 0 and below the current dose")
    if not resolution > 0:
        problems.append(f"resolution: {resolution} must be above 0")
    if pace not in PACES:
        problems.append(f"pace: unknown pace {pace!r}; use one of {', '.join(PACES)}")
    long_term = months_of_use is None or months_of_use >= LONG_TERM_MONTHS
    if long_term and pace not in LONG_TERM_PACES:
        problems.append(
            f"pace: {pace!r} is only for use under {LONG_TERM_MONTHS:g} months; after long-term "
            "use taper by 10% of the original dose per month or slower (CDC 2022)"
        )
    if problems:
        raise CareInvalid(problems)
    fraction, period = PACES[pace]
    allowance = fraction * mme_per_day
    start = TaperStep(0, "start", start_on, mme_per_day, 0.0, 0, allowance, "Starting dose.")
    steps = _reductions(
        dose=mme_per_day,
        anchor=start_on,
        allowance=allowance,
        period=period,
        floor=floor_mme,
        resolution=resolution,
        first_number=1,
    )
    return TaperSchedule(
        original_mme=mme_per_day,
        months_of_use=months_of_use,
        long_term=long_term,
        pace=pace,
        period=period,
        floor_mme=floor_mme,
        resolution=resolution,
        start_on=start_on,
        steps=(start, *steps),
    )


def _split(schedule: TaperSchedule, on: dt.date) -> tuple[tuple[TaperStep, ...], TaperStep]:
    if on < schedule.start_on:
        raise CareInvalid([f"on: {on} is before the taper starts ({schedule.start_on})"])
    kept = tuple(s for s in schedule.steps if s.start_on < on or s.kind == "start")
    return kept, kept[-1]


def pause_taper(
    schedule: TaperSchedule, *, on: dt.date, periods: int, reason: str
) -> TaperSchedule:
    """Hold the dose from ``on`` for ``periods`` periods, then continue at the same allowance
    (the next reduction one period after the hold). Steps from ``on`` on are recomputed."""
    if periods < 1:
        raise CareInvalid([f"periods: a pause lasts at least 1 {schedule.period}"])
    if not reason.strip():
        raise CareInvalid(["reason: say why the taper is paused"])
    kept, last = _split(schedule, on)
    if last.mme_per_day <= schedule.floor_mme + _EPS:
        raise CareInvalid([f"on: the taper has already ended by {on}"])
    pause = TaperStep(
        len(kept), "pause", on, last.mme_per_day, 0.0, 0, last.allowance, reason.strip()
    )
    rest = _reductions(
        dose=last.mme_per_day,
        anchor=_advance(on, schedule.period, periods),
        allowance=last.allowance,
        period=schedule.period,
        floor=schedule.floor_mme,
        resolution=schedule.resolution,
        first_number=len(kept) + 1,
    )
    return replace(schedule, steps=(*kept, pause, *rest))


def slow_taper(
    schedule: TaperSchedule, *, on: dt.date, reason: str, factor: float = 0.5
) -> TaperSchedule:
    """From ``on``, reduce by ``factor`` (default half) of the allowance in force; the next
    reduction comes one period after ``on``."""
    if not 0 < factor < 1:
        raise CareInvalid([f"factor: {factor} must be between 0 and 1 (a slower taper)"])
    if not reason.strip():
        raise CareInvalid(["reason: say why the taper is slowed"])
    kept, last = _split(schedule, on)
    if last.mme_per_day <= schedule.floor_mme + _EPS:
        raise CareInvalid([f"on: the taper has already ended by {on}"])
    allowance = last.allowance * factor
    marker = TaperStep(len(kept), "slow", on, last.mme_per_day, 0.0, 0, allowance, reason.strip())
    rest = _reductions(
        dose=last.mme_per_day,
        anchor=on,
        allowance=allowance,
        period=schedule.period,
        floor=schedule.floor_mme,
        resolution=schedule.resolution,
        first_number=len(kept) + 1,
    )
    return replace(schedule, steps=(*kept, marker, *rest))


def taper_follow_ups(
    schedule: TaperSchedule,
    *,
    plan_id: str,
    plan_item_id: str | None,
    owner: Discipline = "pain-medicine",
) -> list[Task]:
    """Monthly follow-up tasks from the first month after the start until a month after the
    last step (CDC 2022: follow up at least monthly while tapering). Ids are stable by month,
    so a paused or slowed schedule re-derives the same ids for the months both share.
    ``owner``: the follow-up's owner by the care rules (``opioid-taper-follow-up``)."""
    out: list[Task] = []
    month = 1
    while True:
        day = add_months(schedule.start_on, month)
        out.append(
            Task(
                id=f"{plan_id}/opioid-taper-follow-up-{month:03d}",
                plan_id=plan_id,
                plan_item_id=plan_item_id,
                key="opioid-taper-follow-up",
                name=f"Opioid taper follow-up, month {month} "
                f"(scheduled dose {schedule.dose_on(day):g} MME/day)",
                owner=owner,
                due=day,
                priority="routine",
            )
        )
        if day > schedule.end_on:
            return out
        month += 1
