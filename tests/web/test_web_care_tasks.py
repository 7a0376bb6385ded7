"""The task board, server side: tasks by discipline in status columns, moves through the state
machine, a refused start naming the unfinished prerequisites, reasons to cancel or fail."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from secondlook.care import Decision
from secondlook.store import care_records
from secondlook.store.care_models import CareTask
from secondlook.store.models import AuditEvent
from secondlook.web import data

PATIENT = 5  # the demo's SCS candidate: SCS waits on the psychological evaluation


def _plan(engine: Engine) -> int:
    with Session(engine) as session:
        assessment = data.latest_assessment(session, organization_id=1, patient_id=PATIENT)
        assert assessment is not None
        today = dt.datetime.now(dt.UTC).date()
        draft = care_records.propose(
            session, organization_id=1, patient_id=PATIENT, assessment_id=assessment.id, today=today
        )
        decisions = [
            Decision(i.id, "accept", "test")
            if i.recommendation in ("recommended", "consider") and i.id != "treatment:opioid-taper"
            else Decision(i.id, "reject", "test")
            for i in draft.items
        ]
        plan = care_records.create_plan(
            session,
            organization_id=1,
            patient_id=PATIENT,
            assessment_id=assessment.id,
            decisions=decisions,
            decided_on=today,
            decided_by="test",
            user_id=None,
        )
        session.commit()
        return plan.id


def _task(engine: Engine, plan_id: int, item: str) -> CareTask:
    with Session(engine) as session:
        task = session.scalars(
            select(CareTask).where(CareTask.plan_id == plan_id, CareTask.plan_item_id == item)
        ).first()
        assert task is not None
        session.expunge(task)
        return task


def test_board_without_a_plan(clinician: tuple[TestClient, str]) -> None:
    client, _ = clinician
    page = client.get("/clinic/patients/4/tasks")
    assert page.status_code == 200 and "No care plan yet" in page.text


def test_board_moves_and_refusals(clinician: tuple[TestClient, str], web_engine: Engine) -> None:
    client, token = clinician
    plan_id = _plan(web_engine)
    html = client.get(f"/clinic/patients/{PATIENT}/tasks").text
    assert ">Psychology</h2>" in html and ">Pain medicine</h2>" in html
    for status in ("Requested", "Accepted", "In progress", "Completed", "Cancelled", "Failed"):
        assert f"<h3>{status} (" in html
    scs = _task(web_engine, plan_id, "treatment:spinal-cord-stimulation")
    card = html.split(f'id="task-{scs.id}"', 1)[1].split("</li>", 1)[0]
    assert "Waiting on: Psychological evaluation" in card
    assert "Owner: " in card and "due " in card
    # a requested task is offered only the moves the state machine allows: no "Start"
    assert 'value="accepted"' in card and 'value="cancelled"' in card
    assert 'value="in-progress"' not in card

    # accept: moves to the accepted column, and the page returns to the card
    moved = client.post(
        f"/clinic/patients/{PATIENT}/tasks/{scs.id}",
        data={"csrf_token": token, "status": "accepted", "version": str(scs.version)},
    )
    assert moved.status_code == 303
    assert moved.headers["location"].endswith(f"#task-{scs.id}")
    scs = _task(web_engine, plan_id, "treatment:spinal-cord-stimulation")
    assert scs.status == "accepted"

    # starting before the prerequisite is done is refused, naming it and the task by name
    refused = client.post(
        f"/clinic/patients/{PATIENT}/tasks/{scs.id}",
        data={"csrf_token": token, "status": "in-progress", "version": str(scs.version)},
    )
    assert refused.status_code == 409
    card = refused.text.split(f'id="task-{scs.id}"', 1)[1].split("</li>", 1)[0]
    error = card.split('class="error">', 1)[1].split("</p>", 1)[0]
    assert "Psychological evaluation" in error and "Spinal cord stimulation" in error
    assert scs.task_key not in refused.text  # never the internal task id
    assert 'role="alert"' in refused.text

    # a stale version is reported, nothing changes
    stale = client.post(
        f"/clinic/patients/{PATIENT}/tasks/{scs.id}",
        data={"csrf_token": token, "status": "cancelled", "reason": "x", "version": "1"},
    )
    assert stale.status_code == 412 and "changed this task meanwhile" in stale.text

    # cancelling needs a reason
    current = _task(web_engine, plan_id, "treatment:spinal-cord-stimulation")
    no_reason = client.post(
        f"/clinic/patients/{PATIENT}/tasks/{scs.id}",
        data={"csrf_token": token, "status": "cancelled", "version": str(current.version)},
    )
    assert no_reason.status_code == 422 and "a reason is required" in no_reason.text
    done = client.post(
        f"/clinic/patients/{PATIENT}/tasks/{scs.id}",
        data={
            "csrf_token": token,
            "status": "cancelled",
            "reason": "Patient declined",
            "version": str(current.version),
        },
    )
    assert done.status_code == 303
    final = _task(web_engine, plan_id, "treatment:spinal-cord-stimulation")
    assert final.status == "cancelled" and final.status_reason == "Patient declined"
    with web_engine.connect() as connection:
        outcomes = {
            (r.outcome, r.status)
            for r in connection.execute(
                select(AuditEvent.outcome, AuditEvent.status).where(
                    AuditEvent.action == "care.task.update"
                )
            )
        }
    assert {("success", 200), ("failed", 409)} <= outcomes
    page = client.get(f"/clinic/patients/{PATIENT}/tasks").text
    assert re.search(r"Reason: Patient declined", page)


def test_task_moves_need_csrf_and_staff(browser: TestClient, sign_in: Callable[..., str]) -> None:
    sign_in(browser, "demo-clinician")
    response = browser.post(f"/clinic/patients/{PATIENT}/tasks/1", data={"status": "accepted"})
    assert response.status_code == 403 and "security token" in response.text
    browser.cookies.clear()
    token = sign_in(browser, "demo-patient")
    response = browser.post(
        f"/clinic/patients/{PATIENT}/tasks/1",
        data={"csrf_token": token, "status": "accepted", "version": "1"},
    )
    assert response.status_code == 403
