"""Meaningful change (higher = worse everywhere) and trajectories."""

from __future__ import annotations

import datetime as dt

import pytest

from secondlook.instruments import AnswersInvalid, change_status, trajectory


@pytest.mark.parametrize(
    ("baseline", "current", "status"),
    [
        (6, 4, "improved"),  # -2 points (Farrar 2001; Ostelo 2008)
        (6, 5, "no-change"),  # -1 point, -16.7%
        (3, 2, "improved"),  # -1 point but -33%: the 30% rule
        (10, 7, "improved"),  # -3 points, -30% exactly
        (5, 3.5, "improved"),  # -1.5 points, -30% exactly
        (8, 6.5, "no-change"),  # -1.5 points, -18.75%
        (0, 0, "no-change"),
        (4, 6, "worsened"),  # +2 points
        (2, 3, "no-change"),  # +1 point (+50%): no relative rule for worsening
        (0, 1, "no-change"),
    ],
)
def test_nrs_meaningful_change_is_2_points_or_30_percent(
    baseline: float, current: float, status: str
) -> None:
    assert change_status("nrs-pain", baseline, current) == status


@pytest.mark.parametrize(
    ("instrument", "threshold", "baseline"),
    [("odi", 10, 50), ("ndi", 5, 25), ("phq-9", 5, 15), ("gad-7", 4, 12)],
)
def test_absolute_thresholds_on_both_sides(instrument: str, threshold: int, baseline: int) -> None:
    # ODI 10 (Ostelo 2008), NDI 5 raw (Vernon 2008), PHQ-9 5 (Löwe 2004), GAD-7 4 (Toussaint 2020).
    assert change_status(instrument, baseline, baseline - threshold) == "improved"
    assert change_status(instrument, baseline, baseline - threshold + 1) == "no-change"
    assert change_status(instrument, baseline, baseline + threshold - 1) == "no-change"
    assert change_status(instrument, baseline, baseline + threshold) == "worsened"


def test_odi_has_no_percentage_rule_so_a_large_relative_drop_under_10_points_is_no_change() -> None:
    # 20 -> 12 is -40% but only -8 points: CLINICAL.md §6 adopts the 10 points only.
    assert change_status("odi", 20, 12) == "no-change"


def test_fractional_odi_change_of_exactly_10_points_counts() -> None:
    assert change_status("odi", 100 * 36 / 45, 100 * 36 / 45 - 10) == "improved"


@pytest.mark.parametrize("instrument", ["start-back", "pcs", "dn4"])
def test_instruments_without_a_threshold_have_no_status(instrument: str) -> None:
    assert change_status(instrument, 9, 0) is None


def test_change_status_rejects_scores_out_of_range() -> None:
    with pytest.raises(AnswersInvalid, match="current score of nrs-pain: 11 is outside 0–10"):
        change_status("nrs-pain", 5, 11)


def test_trajectory_sorts_by_date_and_reports_change_from_first_and_previous() -> None:
    points = [
        (dt.date(2024, 7, 1), 3.0),  # 6 months
        (dt.date(2024, 1, 1), 7.0),  # baseline
        (dt.date(2024, 4, 1), 6.0),  # 3 months
        (dt.date(2025, 1, 1), 5.0),  # 12 months
    ]
    result = trajectory("nrs-pain", points)
    assert [p.date for p in result] == [
        dt.date(2024, 1, 1),
        dt.date(2024, 4, 1),
        dt.date(2024, 7, 1),
        dt.date(2025, 1, 1),
    ]
    baseline, three, six, twelve = result
    assert baseline.score == 7
    assert baseline.change_from_first is None
    assert baseline.change_from_previous is None
    assert baseline.status_from_first is None
    assert baseline.status_from_previous is None

    assert (three.change_from_first, three.change_from_previous) == (-1, -1)
    assert (three.status_from_first, three.status_from_previous) == ("no-change", "no-change")

    assert (six.change_from_first, six.change_from_previous) == (-4, -3)
    assert (six.status_from_first, six.status_from_previous) == ("improved", "improved")

    assert (twelve.change_from_first, twelve.change_from_previous) == (-2, 2)
    assert (twelve.status_from_first, twelve.status_from_previous) == ("improved", "worsened")


def test_trajectory_of_instrument_without_threshold_has_changes_but_no_status() -> None:
    result = trajectory("pcs", [(dt.date(2024, 1, 1), 40), (dt.date(2024, 6, 1), 20)])
    assert result[1].change_from_first == -20
    assert result[1].status_from_first is None
    assert result[1].status_from_previous is None


def test_trajectory_of_one_point_is_just_the_baseline() -> None:
    (only,) = trajectory("odi", [(dt.date(2024, 1, 1), 44)])
    assert only.score == 44
    assert only.change_from_first is None


def test_trajectory_of_no_points_is_empty() -> None:
    assert trajectory("odi", []) == []


def test_trajectory_rejects_bad_points_naming_them() -> None:
    with pytest.raises(AnswersInvalid) as caught:
        trajectory(
            "phq-9",
            [(dt.date(2024, 1, 1), 30), ("2024-02-01", 5)],  # type: ignore[list-item]
        )
    assert caught.value.problems == [
        "point 1 of phq-9: 30 is outside 0–27",
        "point 2 of phq-9: '2024-02-01' is not a date",
    ]


def test_trajectory_changes_of_fractional_scores_are_not_polluted_by_float_error() -> None:
    result = trajectory("odi", [(dt.date(2024, 1, 1), 35.5), (dt.date(2024, 2, 1), 25.5)])
    assert result[1].change_from_first == -10
    assert result[1].status_from_first == "improved"
