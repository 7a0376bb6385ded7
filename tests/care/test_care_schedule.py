"""Reassessment schedules: which questionnaires, when, and what is due or overdue."""

from __future__ import annotations

import datetime as dt

import pytest

from secondlook.care import (
    InstrumentResult,
    QuestionnaireOptions,
    due_and_overdue,
    questionnaire_options,
    questionnaire_schedule,
    questionnaire_tasks,
)
from secondlook.care.schedule import QUESTIONNAIRE_SETS
from secondlook.case import parse_case
from secondlook.engine import assess
from secondlook.examples import load_example
from secondlook.instruments import INSTRUMENTS

START = dt.date(2026, 1, 31)


def test_a_lumbar_schedule_follows_the_ichom_time_points() -> None:
    schedule = questionnaire_schedule(START, "lumbar")
    points = sorted({(s.time_point, s.due) for s in schedule}, key=lambda p: p[1])
    assert points == [
        ("baseline", dt.date(2026, 1, 31)),
        ("3m", dt.date(2026, 4, 30)),
        ("6m", dt.date(2026, 7, 31)),
        ("12m", dt.date(2027, 1, 31)),
        ("24m", dt.date(2028, 1, 31)),
    ]
    baseline = [s.instrument for s in schedule if s.time_point == "baseline"]
    assert baseline == ["odi", "nrs-pain", "phq-9", "start-back"]
    assert [s.instrument for s in schedule if s.time_point == "6m"] == ["odi", "nrs-pain", "phq-9"]


def test_a_cervical_schedule_uses_the_ndi_and_no_start_back() -> None:
    schedule = questionnaire_schedule(START, "cervical")
    assert {s.instrument for s in schedule} == {"ndi", "nrs-pain", "phq-9"}


def test_options_bring_in_dn4_pcs_and_gad7() -> None:
    options = QuestionnaireOptions(neuropathic=True, catastrophizing=True, anxiety_measured=True)
    schedule = questionnaire_schedule(START, "lumbar", options=options)
    assert [s.instrument for s in schedule if s.time_point == "3m"] == [
        "odi",
        "nrs-pain",
        "phq-9",
        "gad-7",
        "dn4",
        "pcs",
    ]


def test_options_come_from_the_case() -> None:
    case = parse_case(load_example("scs-candidate"))
    options = questionnaire_options(case, assess(case))
    assert options == QuestionnaireOptions(
        neuropathic=True, catastrophizing=False, anxiety_measured=False
    )


def test_every_instrument_of_the_sets_exists() -> None:
    for choices in QUESTIONNAIRE_SETS.values():
        assert {c.instrument for c in choices} <= set(INSTRUMENTS)


def test_review_dates_add_time_points_unless_one_is_already_near() -> None:
    schedule = questionnaire_schedule(
        START, "lumbar", review_dates=[dt.date(2026, 5, 5), dt.date(2026, 10, 1)]
    )
    reviews = sorted({s.time_point for s in schedule if s.months is None})
    assert reviews == ["review-2026-10-01"]  # 5 May is within 14 days of the 3-month point


def test_due_and_overdue_with_a_grace_window() -> None:
    schedule = questionnaire_schedule(START, "cervical")
    answered = [
        InstrumentResult("ndi", START, 20),
        InstrumentResult("nrs-pain", START, 7),
        InstrumentResult("phq-9", START - dt.timedelta(days=10), 6),  # early, within grace
        InstrumentResult("ndi", dt.date(2026, 5, 20), 15),  # 20 days late: still the 3m answer
    ]
    report = due_and_overdue(schedule, answered, dt.date(2026, 5, 20))
    assert {s.item.id for s in report.completed} == {
        "baseline/ndi",
        "baseline/nrs-pain",
        "baseline/phq-9",
        "3m/ndi",
    }
    assert {s.item.id for s in report.overdue} == {"3m/nrs-pain", "3m/phq-9"}
    assert report.due == ()
    on_time = due_and_overdue(schedule, answered, dt.date(2026, 4, 20))
    # On 20 April the late NDI answer has not happened yet: all three are due.
    assert {s.item.id for s in on_time.due} == {"3m/ndi", "3m/nrs-pain", "3m/phq-9"}
    assert "6m/ndi" in {s.item.id for s in on_time.upcoming}


@pytest.mark.parametrize(
    ("today", "state"),
    [
        (dt.date(2026, 4, 15), "upcoming"),
        (dt.date(2026, 4, 16), "due"),
        (dt.date(2026, 5, 14), "due"),
        (dt.date(2026, 5, 15), "overdue"),
    ],
)
def test_the_grace_window_edges(today: dt.date, state: str) -> None:
    schedule = [s for s in questionnaire_schedule(START, "cervical") if s.id == "3m/ndi"]
    report = due_and_overdue(schedule, [], today)
    assert {"upcoming": report.upcoming, "due": report.due, "overdue": report.overdue}[state]


def test_an_answer_in_the_future_does_not_count_yet() -> None:
    schedule = [s for s in questionnaire_schedule(START, "cervical") if s.id == "baseline/ndi"]
    report = due_and_overdue(
        schedule, [InstrumentResult("ndi", START, 20)], START - dt.timedelta(days=1)
    )
    assert report.due and not report.completed


def test_the_schedule_becomes_patient_tasks() -> None:
    tasks = questionnaire_tasks(questionnaire_schedule(START, "lumbar"), plan_id="p1")
    assert {t.owner for t in tasks} == {"patient"}
    assert tasks[0].id == "p1/questionnaire/baseline/odi"
    assert len({t.id for t in tasks}) == len(tasks)
