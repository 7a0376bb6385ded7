"""Outcomes: goal status, responders, the cohort report and its CSV."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io

import pytest

from secondlook.care import (
    COHORT_COLUMNS,
    CohortRow,
    Goal,
    GoalCheck,
    InstrumentResult,
    cohort_csv,
    cohort_report,
    goal_status,
    goal_target,
    responder_status,
    trajectories,
)

BASE = dt.date(2026, 1, 15)
ODI = Goal(
    "odi",
    "instrument",
    "ODI down 10",
    dt.date(2027, 1, 15),
    instrument="odi",
    baseline=44,
    baseline_on=BASE,
    improve_points=10,
)
NRS = Goal(
    "nrs",
    "instrument",
    "NRS down 2 or 30%",
    dt.date(2027, 1, 15),
    instrument="nrs-pain",
    baseline=5,
    baseline_on=BASE,
    improve_points=2,
    improve_percent=30,
)


@pytest.mark.parametrize(
    ("goal", "score", "status"),
    [
        (ODI, 34, "met"),
        (ODI, 35, "not-met"),
        (ODI, 50, "not-met"),
        (NRS, 4, "not-met"),  # 1 point, 20%
        (NRS, 3, "met"),  # 2 points
    ],
)
def test_instrument_goal_status_at_its_threshold(goal: Goal, score: float, status: str) -> None:
    results = [InstrumentResult(goal.instrument or "", dt.date(2026, 7, 15), score)]
    assert goal_status(goal, results) == status


def test_thirty_percent_meets_the_nrs_goal_even_below_two_points() -> None:
    goal = Goal(
        "nrs",
        "instrument",
        "x",
        dt.date(2027, 1, 1),
        instrument="nrs-pain",
        baseline=3,
        baseline_on=BASE,
        improve_points=2,
        improve_percent=30,
    )
    assert goal_status(goal, [InstrumentResult("nrs-pain", dt.date(2026, 6, 1), 2)]) == "met"


def test_a_goal_without_a_measurement_since_baseline_is_not_yet_measurable() -> None:
    assert goal_status(ODI, [InstrumentResult("odi", BASE, 44)]) == "not-yet-measurable"
    assert (
        goal_status(ODI, [InstrumentResult("ndi", dt.date(2026, 6, 1), 4)]) == "not-yet-measurable"
    )
    no_baseline = Goal(
        "x", "instrument", "x", dt.date(2027, 1, 1), instrument="odi", improve_points=10
    )
    assert goal_status(no_baseline, []) == "not-yet-measurable"


def test_the_latest_measurement_decides_and_as_of_looks_back() -> None:
    results = [
        InstrumentResult("odi", dt.date(2026, 4, 15), 30),
        InstrumentResult("odi", dt.date(2026, 7, 15), 40),
    ]
    assert goal_status(ODI, results) == "not-met"
    assert goal_status(ODI, results, as_of=dt.date(2026, 5, 1)) == "met"


def test_a_patient_goal_is_met_by_its_latest_check() -> None:
    goal = Goal("patient-1", "patient", "Play football with my son", dt.date(2027, 1, 1))
    assert goal_status(goal, []) == "not-yet-measurable"
    checks = [
        GoalCheck("patient-1", dt.date(2026, 6, 1), False),
        GoalCheck("patient-1", dt.date(2026, 12, 1), True),
    ]
    assert goal_status(goal, checks) == "met"
    assert goal_status(goal, checks[:1]) == "not-met"


def scores(*points: tuple[int, float], instrument: str = "odi") -> list[InstrumentResult]:
    from secondlook.care import add_months

    return [InstrumentResult(instrument, add_months(BASE, m), s) for m, s in points]


@pytest.mark.parametrize(
    ("points", "months", "status"),
    [
        (((0, 44), (6, 34)), 6, "responder"),
        (((0, 44), (6, 35)), 6, "non-responder"),
        (((0, 44), (12, 20)), 6, "not-measurable"),  # nothing near 6 months
        (((0, 44), (6, 30), (12, 40)), 12, "non-responder"),
        (((6, 30),), 6, "not-measurable"),  # no baseline
    ],
)
def test_responder_at_six_and_twelve_months(
    points: tuple[tuple[int, float], ...], months: int, status: str
) -> None:
    assert responder_status("odi", scores(*points), baseline_on=BASE, months=months) == status


def test_an_ndi_responder_improves_by_five_raw_points() -> None:
    results = scores((0, 20), (12, 15), instrument="ndi")
    assert responder_status("ndi", results, baseline_on=BASE, months=12) == "responder"


def test_the_follow_up_nearest_the_time_point_counts() -> None:
    results = [
        InstrumentResult("odi", BASE, 44),
        InstrumentResult("odi", dt.date(2026, 6, 20), 30),  # 25 days early
        InstrumentResult("odi", dt.date(2026, 7, 20), 40),  # 5 days late: nearest
    ]
    assert responder_status("odi", results, baseline_on=BASE, months=6) == "non-responder"


def test_an_instrument_without_a_threshold_has_no_responders() -> None:
    results = scores((0, 8), (6, 2), instrument="dn4")
    assert responder_status("dn4", results, baseline_on=BASE, months=6) == "not-measurable"


def test_trajectories_use_the_instruments_meaningful_change() -> None:
    paths = trajectories([*scores((0, 44), (6, 30)), GoalCheck("g", BASE, True)])
    assert list(paths) == ["odi"]
    assert paths["odi"][1].status_from_first == "improved"


ROWS = [
    CohortRow(
        "p1",
        "lumbar",
        "recurrent",
        "recurrent-disc-herniation",
        BASE,
        "off-work",
        "working",
        "responder",
        "responder",
    ),
    CohortRow(
        "p2",
        "lumbar",
        "persistent",
        "epidural-fibrosis",
        BASE,
        "working",
        "working",
        "non-responder",
        "not-measurable",
    ),
    CohortRow(
        "p3", "cervical", "persistent", None, BASE, None, None, "not-measurable", "not-measurable"
    ),
]


def test_the_cohort_report_counts_of_those_measured() -> None:
    report = cohort_report(ROWS)
    assert report.patients == 3
    assert report.by_course == {"persistent": 2, "recurrent": 1}
    assert report.by_etiology == {
        "epidural-fibrosis": 1,
        "recurrent-disc-herniation": 1,
        "unknown": 1,
    }
    assert report.by_course_and_etiology[("persistent", "unknown")] == 1
    assert (report.responders_6m.responders, report.responders_6m.measured) == (1, 2)
    assert report.responders_6m.rate == 0.5
    assert (report.responders_12m.responders, report.responders_12m.measured) == (1, 1)
    assert report.work_status_12m == {"unknown": 1, "working": 2}
    assert cohort_report([]).responders_6m.rate is None


def test_the_cohort_csv_has_a_stable_header_and_rfc4180_quoting() -> None:
    rows = [
        *ROWS,
        CohortRow(
            'p,4 "x"', "lumbar", "new", "line\nbreak", BASE, None, None, "responder", "responder"
        ),
    ]
    text = cohort_csv(rows)
    lines = text.split("\r\n")
    assert lines[0] == ",".join(COHORT_COLUMNS)
    assert lines[1] == (
        "p1,lumbar,recurrent,recurrent-disc-herniation,2026-01-15,off-work,working,responder,responder"
    )
    assert lines[3] == "p3,cervical,persistent,,2026-01-15,,,not-measurable,not-measurable"
    assert '"p,4 ""x""",lumbar,new,"line\nbreak",' in text
    assert text.endswith("\r\n")
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert parsed[4][0] == 'p,4 "x"' and parsed[4][3] == "line\nbreak"
    assert cohort_csv([]) == ",".join(COHORT_COLUMNS) + "\r\n"


def test_goal_line_is_the_score_the_goal_status_is_judged_against() -> None:
    """A goal of 2 points or 30% on an NRS baseline of 5 is met at 3.5 (30% is the smaller
    drop), so the charts' goal line must be 3.5, not 3."""
    day = dt.date(2025, 1, 1)
    goal = Goal(
        id="g",
        kind="instrument",
        text="Less pain",
        target_on=day + dt.timedelta(days=180),
        instrument="nrs-pain",
        baseline=5,
        baseline_on=day,
        improve_points=2,
        improve_percent=30,
    )
    assert goal_target(goal) == pytest.approx(3.5)
    later = day + dt.timedelta(days=90)
    assert goal_status(goal, [InstrumentResult("nrs-pain", later, 3.5)]) == "met"
    assert goal_status(goal, [InstrumentResult("nrs-pain", later, 3.6)]) == "not-met"
    points_only = dataclasses.replace(goal, improve_percent=None)
    assert goal_target(points_only) == 3
    zero_baseline = dataclasses.replace(goal, baseline=0, improve_points=None)
    assert goal_target(zero_baseline) is None  # a percentage of nothing is no target
    assert goal_target(dataclasses.replace(goal, baseline=None)) is None
