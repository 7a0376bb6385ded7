"""Outcomes on the clinician's patient page: responder status and goal statuses against the
care plan, and the plan's goal as the charts' goal line (with the meaningful-change band)."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

import factories
from secondlook.reports.charts import trajectory_svg
from secondlook.services import care


@pytest.fixture
def scs(web_engine: Engine, clinic: factories.Clinic) -> int:
    """An SCS candidate of the clinic, assessed, with the case's questionnaires stored."""
    with factories.committed(web_engine) as session:
        pid = factories.patient(
            session, organization_id=clinic.id, example="scs-candidate", assessed=True
        ).id
        factories.case_questionnaires(session, organization_id=clinic.id, patient_id=pid)
    return pid


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


def test_patient_page_without_a_plan_says_so(clinician: tuple[TestClient, str], scs: int) -> None:
    client, _ = clinician
    html = client.get(f"/clinic/patients/{scs}").text
    assert "No care plan yet: responder status" in html
    assert ">meaningful improvement " in html  # the default line: the smallest meaningful drop


def test_patient_page_shows_responder_status_and_plan_goals(
    clinician: tuple[TestClient, str], web_engine: Engine, clinic: factories.Clinic, scs: int
) -> None:
    client, _ = clinician
    with factories.committed(web_engine) as session:
        factories.plan(session, organization_id=clinic.id, patient_id=scs, accept=factories.nothing)
        factories.questionnaire_response(
            session, organization_id=clinic.id, patient_id=scs, instrument="nrs-pain", answers=[7]
        )
    with Session(web_engine) as session:
        outcome = care.outcomes_in(session, organization_id=clinic.id, patient_id=scs)
    lines = {c.instrument: c.goal_line for c in outcome.charts}
    targets = {g.goal.instrument: g.target for g in outcome.goals if g.goal.instrument}
    assert outcome.plan is not None and outcome.primary_instrument == "odi"
    assert targets["odi"] == 34.0  # baseline 44, down by 10
    html = client.get(f"/clinic/patients/{scs}").text
    responder = html.split('id="responder"', 1)[1].split("</p>", 1)[0]
    assert "at 6 months <strong>" in responder and "at 12 months <strong>" in responder
    assert "Walk to the market and back without stopping" in html
    assert lines["nrs-pain"] == targets["nrs-pain"] == 5.0  # the line is the goal's own target
    assert "plan goal 5</text>" in html and "Dashed: plan goal 5." in html


def test_patients_cannot_open_the_clinician_outcomes(
    patient: tuple[TestClient, str], clinic: factories.Clinic
) -> None:
    client, _ = patient
    assert client.get(f"/clinic/patients/{clinic.patient.id}").status_code == 403
