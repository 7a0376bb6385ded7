"""Outcomes on the clinician's patient page: responder status and goal statuses against the
care plan, and the plan's goal as the charts' goal line (with the meaningful-change band)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from secondlook.care import Decision
from secondlook.reports.charts import trajectory_svg
from secondlook.services import care
from secondlook.store import care_records, flows
from secondlook.web import data

PATIENT = 5  # the demo's SCS candidate


def test_chart_names_its_goal_line() -> None:
    points = [(dt.date(2026, 1, 1), 40.0), (dt.date(2026, 7, 1), 28.0)]
    svg = trajectory_svg(
        title="ODI",
        points=points,
        min_score=0,
        max_score=100,
        meaningful_points=10,
        goal=30,
        goal_label="plan goal",
    )
    assert "plan goal 30</text>" in svg and "Plan goal: 30 or less." in svg
    assert "meaningful-change band" in svg and 'stroke-dasharray="6 4"' in svg
    assert ">goal 30</text>" in trajectory_svg(
        title="ODI", points=points, min_score=0, max_score=100, goal=30
    )


def test_patient_page_without_a_plan_says_so(clinician: tuple[TestClient, str]) -> None:
    client, _ = clinician
    html = client.get(f"/clinic/patients/{PATIENT}").text
    assert "No care plan yet: responder status" in html
    assert ">meaningful improvement " in html  # the default line: the smallest meaningful drop


def test_patient_page_shows_responder_status_and_plan_goals(
    clinician: tuple[TestClient, str], web_engine: Engine
) -> None:
    client, _ = clinician
    with Session(web_engine) as session:
        assessment = data.latest_assessment(session, organization_id=1, patient_id=PATIENT)
        assert assessment is not None
        today = dt.datetime.now(dt.UTC).date()
        draft = care_records.propose(
            session, organization_id=1, patient_id=PATIENT, assessment_id=assessment.id, today=today
        )
        care_records.create_plan(
            session,
            organization_id=1,
            patient_id=PATIENT,
            assessment_id=assessment.id,
            decisions=[Decision(i.id, "reject", "test") for i in draft.items],
            decided_on=today,
            decided_by="test",
            user_id=None,
        )
        flows.submit_questionnaire(
            session,
            organization_id=1,
            patient_id=PATIENT,
            instrument="nrs-pain",
            answers=[7],
            answered_on=today,
            user_id=None,
        )
        session.commit()
        outcome = care.outcomes_in(session, organization_id=1, patient_id=PATIENT)
    lines = {c.instrument: c.goal_line for c in outcome.charts}
    targets = {g.goal.instrument: g.target for g in outcome.goals if g.goal.instrument}
    assert outcome.plan is not None and outcome.primary_instrument == "odi"
    assert targets["odi"] == 34.0  # baseline 44, down by 10
    html = client.get(f"/clinic/patients/{PATIENT}").text
    responder = html.split('id="responder"', 1)[1].split("</p>", 1)[0]
    assert "at 6 months <strong>" in responder and "at 12 months <strong>" in responder
    assert "Walk to the market and back without stopping" in html
    assert lines["nrs-pain"] == targets["nrs-pain"] == 5.0  # the line is the goal's own target
    assert "plan goal 5</text>" in html and "Dashed: plan goal 5." in html


def test_patients_cannot_open_the_clinician_outcomes(
    browser: TestClient, sign_in: Callable[..., str]
) -> None:
    sign_in(browser, "demo-patient")
    assert browser.get(f"/clinic/patients/{PATIENT}").status_code == 403
