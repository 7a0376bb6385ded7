"""Opioid taper schedules: CDC 2022 rules at their edges, and as properties."""

from __future__ import annotations

import datetime as dt
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secondlook.care import CareInvalid
from secondlook.care.taper import (
    PACES,
    TaperSchedule,
    pause_taper,
    slow_taper,
    taper_follow_ups,
    taper_schedule,
)

START = dt.date(2026, 5, 1)


def reductions(schedule: TaperSchedule) -> list[float]:
    return [s.reduction for s in schedule.steps if s.kind == "reduce"]


def check_rules(schedule: TaperSchedule) -> None:
    """The invariants every schedule keeps, whatever was done to it."""
    doses = [s.mme_per_day for s in schedule.steps]
    fraction = PACES[schedule.pace][0]
    assert doses[0] == schedule.original_mme
    assert all(b <= a + 1e-9 for a, b in pairwise(doses))
    for step in schedule.steps[1:]:
        assert step.allowance <= fraction * schedule.original_mme + 1e-9
        if step.kind == "reduce":
            assert step.periods >= 1
            assert step.reduction > 0
            assert step.reduction <= step.allowance * step.periods + 1e-6
        else:
            assert step.reduction == 0
    assert schedule.final_mme == pytest.approx(schedule.floor_mme)
    dates = [s.start_on for s in schedule.steps]
    assert dates == sorted(dates)


def test_long_term_use_tapers_by_ten_percent_of_the_original_dose_a_month() -> None:
    schedule = taper_schedule(mme_per_day=30, months_of_use=24, start_on=START)
    assert [s.mme_per_day for s in schedule.steps] == [30, 27, 24, 21, 18, 15, 12, 9, 6, 3, 0]
    assert [s.start_on.day for s in schedule.steps] == [1] * 11
    assert schedule.end_on == dt.date(2027, 3, 1)
    assert schedule.long_term
    check_rules(schedule)


def test_the_step_stays_a_fraction_of_the_original_dose_even_near_the_end() -> None:
    schedule = taper_schedule(mme_per_day=200, months_of_use=36, start_on=START)
    assert set(reductions(schedule)) == {20.0}
    assert len(reductions(schedule)) == 10


def test_rounding_up_never_makes_a_step_larger_than_allowed() -> None:
    # 10% of 95 is 9.5; on a 1-MME grid every step is rounded down to 9, never up to 10.
    schedule = taper_schedule(mme_per_day=95, months_of_use=24, start_on=START)
    assert max(reductions(schedule)) <= 9.5
    assert reductions(schedule)[:10] == [9.0] * 10
    check_rules(schedule)


def test_a_tiny_dose_is_tapered_in_one_mme_steps_spaced_further_apart() -> None:
    # 10% of 5 MME is 0.5 a month: a 1-MME step comes every second month instead.
    schedule = taper_schedule(mme_per_day=5, months_of_use=24, start_on=START)
    assert [s.mme_per_day for s in schedule.steps] == [5, 4, 3, 2, 1, 0]
    assert [s.periods for s in schedule.steps[1:]] == [2] * 5
    assert schedule.end_on == dt.date(2027, 3, 1)
    check_rules(schedule)


def test_one_mme_a_day_is_still_tapered_not_stopped() -> None:
    schedule = taper_schedule(mme_per_day=1, months_of_use=24, start_on=START)
    assert [(s.mme_per_day, s.periods) for s in schedule.steps[1:]] == [(0.0, 10)]
    check_rules(schedule)


def test_an_off_grid_dose_reaches_the_grid_without_a_large_step() -> None:
    schedule = taper_schedule(mme_per_day=37.5, months_of_use=24, start_on=START)
    assert schedule.steps[1].mme_per_day == 34  # 37.5 - 3.75 = 33.75, rounded up
    check_rules(schedule)


def test_a_finer_resolution_follows_the_allowance_more_closely() -> None:
    schedule = taper_schedule(mme_per_day=5, months_of_use=24, start_on=START, resolution=0.5)
    assert set(reductions(schedule)) == {0.5}
    check_rules(schedule)


def test_the_schedule_ends_at_an_agreed_floor() -> None:
    schedule = taper_schedule(mme_per_day=90, months_of_use=24, start_on=START, floor_mme=20)
    assert schedule.final_mme == 20
    assert [s.mme_per_day for s in schedule.steps][-2:] == [27, 20]
    check_rules(schedule)


def test_a_long_schedule_at_the_slow_pace_takes_twenty_months() -> None:
    schedule = taper_schedule(
        mme_per_day=400, months_of_use=60, start_on=START, pace="slow-monthly"
    )
    assert len(reductions(schedule)) == 20
    assert schedule.end_on == dt.date(2028, 1, 1)
    check_rules(schedule)


def test_weekly_tapering_is_refused_after_long_term_use() -> None:
    with pytest.raises(CareInvalid, match="10% of the original dose per month"):
        taper_schedule(mme_per_day=60, months_of_use=14, start_on=START, pace="weekly")


def test_unknown_duration_of_use_counts_as_long_term() -> None:
    with pytest.raises(CareInvalid, match="pace"):
        taper_schedule(mme_per_day=60, months_of_use=None, start_on=START, pace="weekly")
    assert taper_schedule(mme_per_day=60, months_of_use=None, start_on=START).long_term


def test_shorter_use_may_taper_by_ten_percent_a_week() -> None:
    schedule = taper_schedule(mme_per_day=40, months_of_use=4, start_on=START, pace="weekly")
    assert not schedule.long_term
    assert schedule.end_on == START + dt.timedelta(weeks=10)
    check_rules(schedule)


def test_eleven_point_nine_months_is_shorter_use_and_twelve_is_long_term() -> None:
    taper_schedule(mme_per_day=40, months_of_use=11.9, start_on=START, pace="weekly")
    with pytest.raises(CareInvalid):
        taper_schedule(mme_per_day=40, months_of_use=12, start_on=START, pace="weekly")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"mme_per_day": 0}, "mme_per_day"),
        ({"mme_per_day": 30, "floor_mme": 30}, "floor_mme"),
        ({"mme_per_day": 30, "floor_mme": -1}, "floor_mme"),
        ({"mme_per_day": 30, "resolution": 0}, "resolution"),
        ({"mme_per_day": 30, "months_of_use": -2}, "months_of_use"),
    ],
)
def test_impossible_tapers_are_refused_naming_the_field(
    kwargs: dict[str, float], field: str
) -> None:
    args: dict[str, float] = {"months_of_use": 24, **kwargs}
    with pytest.raises(CareInvalid, match=field):
        taper_schedule(
            mme_per_day=args["mme_per_day"],
            months_of_use=args["months_of_use"],
            start_on=START,
            floor_mme=args.get("floor_mme", 0.0),
            resolution=args.get("resolution", 1.0),
        )


def test_a_pause_holds_the_dose_and_only_lengthens_the_taper() -> None:
    plan = taper_schedule(mme_per_day=30, months_of_use=24, start_on=START)
    paused = pause_taper(plan, on=dt.date(2026, 8, 1), periods=2, reason="Withdrawal symptoms")
    kinds = [(s.kind, s.start_on.isoformat(), s.mme_per_day) for s in paused.steps[:6]]
    assert kinds == [
        ("start", "2026-05-01", 30),
        ("reduce", "2026-06-01", 27),
        ("reduce", "2026-07-01", 24),
        ("pause", "2026-08-01", 24),
        ("reduce", "2026-11-01", 21),
        ("reduce", "2026-12-01", 18),
    ]
    assert paused.steps[3].note == "Withdrawal symptoms"
    assert paused.end_on > plan.end_on
    assert paused.dose_on(dt.date(2026, 10, 15)) == 24
    check_rules(paused)


def test_slowing_halves_the_allowance_from_that_date() -> None:
    plan = taper_schedule(mme_per_day=30, months_of_use=24, start_on=START)
    slowed = slow_taper(plan, on=dt.date(2026, 8, 15), reason="Pain flare")
    after = [s for s in slowed.steps if s.start_on > dt.date(2026, 8, 15) and s.kind == "reduce"]
    # Half of 3 MME is 1.5; on a 1-MME grid each step rounds down to 1, never up to 2.
    assert {s.reduction for s in after} == {1.0}
    assert all(s.allowance == 1.5 for s in after)
    assert slowed.end_on > plan.end_on
    check_rules(slowed)


def test_pausing_or_slowing_needs_a_reason_and_a_running_taper() -> None:
    plan = taper_schedule(mme_per_day=10, months_of_use=24, start_on=START)
    with pytest.raises(CareInvalid, match="reason"):
        pause_taper(plan, on=dt.date(2026, 7, 1), periods=1, reason=" ")
    with pytest.raises(CareInvalid, match="already ended"):
        slow_taper(plan, on=dt.date(2030, 1, 1), reason="late")
    with pytest.raises(CareInvalid, match="before the taper starts"):
        pause_taper(plan, on=dt.date(2026, 1, 1), periods=1, reason="early")
    with pytest.raises(CareInvalid, match="factor"):
        slow_taper(plan, on=dt.date(2026, 7, 1), reason="x", factor=1.5)


def test_follow_up_is_monthly_until_a_month_after_the_last_step() -> None:
    plan = taper_schedule(mme_per_day=30, months_of_use=24, start_on=START)
    tasks = taper_follow_ups(plan, plan_id="p1", plan_item_id="treatment:opioid-taper")
    assert [t.due for t in tasks][:2] == [dt.date(2026, 6, 1), dt.date(2026, 7, 1)]
    assert tasks[-1].due == dt.date(2027, 4, 1)
    assert len(tasks) == 11
    assert all(t.owner == "pain-medicine" for t in tasks)
    assert len({t.id for t in tasks}) == len(tasks)


def test_a_weekly_taper_is_still_followed_up_at_least_monthly() -> None:
    plan = taper_schedule(mme_per_day=40, months_of_use=3, start_on=START, pace="weekly")
    tasks = taper_follow_ups(plan, plan_id="p1", plan_item_id=None)
    # Ten weekly steps end on 10 July; monthly follow-up continues until after that.
    assert plan.end_on == dt.date(2026, 7, 10)
    assert [t.due for t in tasks] == [dt.date(2026, 6, 1), dt.date(2026, 7, 1), dt.date(2026, 8, 1)]


doses = st.floats(min_value=0.5, max_value=600, allow_nan=False).map(lambda x: round(x, 2))


@settings(max_examples=200, deadline=None)
@given(
    dose=doses,
    months=st.one_of(st.none(), st.floats(min_value=0, max_value=240)),
    pace=st.sampled_from(sorted(PACES)),
    resolution=st.sampled_from([0.5, 1.0, 2.5, 5.0]),
    floor_share=st.sampled_from([0.0, 0.0, 0.25, 0.5]),
)
def test_every_schedule_keeps_the_rules(
    dose: float, months: float | None, pace: str, resolution: float, floor_share: float
) -> None:
    long_term = months is None or months >= 12
    if pace == "weekly" and long_term:
        return
    schedule = taper_schedule(
        mme_per_day=dose,
        months_of_use=months,
        start_on=START,
        pace=pace,  # type: ignore[arg-type]
        floor_mme=round(dose * floor_share, 2),
        resolution=resolution,
    )
    check_rules(schedule)


@settings(max_examples=150, deadline=None)
@given(
    dose=doses,
    actions=st.lists(
        st.tuples(st.sampled_from(["pause", "slow"]), st.integers(0, 30), st.integers(1, 4)),
        max_size=4,
    ),
)
def test_pauses_and_slowing_never_break_the_rules(
    dose: float, actions: list[tuple[str, int, int]]
) -> None:
    schedule = taper_schedule(mme_per_day=dose, months_of_use=24, start_on=START)
    for kind, months_in, periods in actions:
        on = dt.date(2026, 5, 1) + dt.timedelta(days=30 * months_in)
        ended = on > schedule.end_on
        if ended:
            with pytest.raises(CareInvalid, match="already ended"):
                pause_taper(schedule, on=on, periods=periods, reason="r")
            continue
        if kind == "pause":
            schedule = pause_taper(schedule, on=on, periods=periods, reason="r")
        else:
            schedule = slow_taper(schedule, on=on, reason="r")
        check_rules(schedule)
