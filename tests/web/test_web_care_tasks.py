"""The task board, server side: tasks by discipline in status columns, moves through the state
machine, a refused start naming the unfinished prerequisites, reasons to cancel or fail."""

from __future__ import annotations

import copy
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

import factories
from secondlook.examples import load_example
from secondlook.store import flows
from secondlook.store.care_models import CareTask, CareTaskAssignment
from secondlook.store.models import AuditEvent, CaseVersion, Patient, User


@pytest.fixture
def scs_plan(web_engine: Engine, clinic: factories.Clinic) -> tuple[int, int]:
    """An SCS candidate of the clinic (spinal cord stimulation waits on the psychological
    evaluation) with an active plan: (patient id, plan id)."""
    with factories.committed(web_engine) as session:
        pid = factories.patient(
            session, organization_id=clinic.id, example="scs-candidate", assessed=True
        ).id
        return pid, factories.plan(session, organization_id=clinic.id, patient_id=pid).id


def _task(engine: Engine, plan_id: int, item: str) -> CareTask:
    with Session(engine) as session:
        task = factories.task(session, plan_id=plan_id, item_id=item)
        session.expunge(task)
        return task


def test_board_without_a_plan(clinician: tuple[TestClient, str], clinic: factories.Clinic) -> None:
    client, _ = clinician
    page = client.get(f"/clinic/patients/{clinic.patient.id}/tasks")
    assert page.status_code == 200 and "No care plan yet" in page.text


def test_board_moves_and_refusals(
    clinician: tuple[TestClient, str], web_engine: Engine, scs_plan: tuple[int, int]
) -> None:
    client, token = clinician
    pid, plan_id = scs_plan
    html = client.get(f"/clinic/patients/{pid}/tasks").text
    assert ">Psychology</h2>" in html and ">Pain medicine</h2>" in html
    # the open statuses are the board's columns; the finished ones are folded until there are any
    for status in ("Requested", "Accepted", "In progress"):
        assert f"<h3>{status} (" in html
    assert "<h3>Cancelled (" not in html and "Nothing completed, cancelled or failed yet" in html
    scs = _task(web_engine, plan_id, "treatment:spinal-cord-stimulation")
    card = html.split(f'id="task-{scs.id}"', 1)[1].split("</li>", 1)[0]
    assert "Waiting on: Psychological evaluation" in card
    assert "Due " in card and "Assigned to: " in card
    # a requested task is offered only the moves the state machine allows: no "Start"
    assert 'value="accepted"' in card and 'value="cancelled"' in card
    assert 'value="in-progress"' not in card

    # accept: moves to the accepted column, and the page returns to the card
    moved = client.post(
        f"/clinic/patients/{pid}/tasks/{scs.id}",
        data={"csrf_token": token, "status": "accepted", "version": str(scs.version)},
    )
    assert moved.status_code == 303
    assert moved.headers["location"].endswith(f"#task-{scs.id}")
    scs = _task(web_engine, plan_id, "treatment:spinal-cord-stimulation")
    assert scs.status == "accepted"

    # starting before the prerequisite is done is refused, naming it and the task by name
    refused = client.post(
        f"/clinic/patients/{pid}/tasks/{scs.id}",
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
        f"/clinic/patients/{pid}/tasks/{scs.id}",
        data={"csrf_token": token, "status": "cancelled", "reason": "x", "version": "1"},
    )
    assert stale.status_code == 412 and "changed this task meanwhile" in stale.text

    # cancelling needs a reason
    current = _task(web_engine, plan_id, "treatment:spinal-cord-stimulation")
    no_reason = client.post(
        f"/clinic/patients/{pid}/tasks/{scs.id}",
        data={"csrf_token": token, "status": "cancelled", "version": str(current.version)},
    )
    assert no_reason.status_code == 422 and "a reason is required" in no_reason.text
    done = client.post(
        f"/clinic/patients/{pid}/tasks/{scs.id}",
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
                    AuditEvent.action == "care.task.update", AuditEvent.patient_id == pid
                )
            )
        }
    assert outcomes == {("success", 200), ("failed", 409), ("failed", 412), ("failed", 422)}
    page = client.get(f"/clinic/patients/{pid}/tasks").text
    assert re.search(r"Reason: Patient declined", page)
    assert re.search(r"<h3>Cancelled \([1-9]\d*\)</h3>", page) and "<h3>Completed (0)</h3>" in page


def test_task_moves_need_csrf_and_staff(
    browser: TestClient, web_engine: Engine, clinic: factories.Clinic
) -> None:
    pid = clinic.patient.id
    with factories.committed(web_engine) as session:
        plan = factories.plan(session, organization_id=clinic.id, patient_id=pid)
        task = factories.care_tasks(session, plan_id=plan.id)[0]
    url = f"/clinic/patients/{pid}/tasks/{task.id}"
    factories.signed_in(browser, clinic.clinician)
    response = browser.post(url, data={"status": "accepted"})
    assert response.status_code == 403 and "security token" in response.text
    token = factories.signed_in(browser, clinic.patient_user)  # the patient of this record
    response = browser.post(
        url, data={"csrf_token": token, "status": "accepted", "version": str(task.version)}
    )
    assert response.status_code == 403
    assert _task(web_engine, plan.id, str(task.plan_item_id)).status == "requested"


def test_board_assigns_a_task_to_a_team_member_and_re_dates_it(
    clinician: tuple[TestClient, str],
    web_engine: Engine,
    clinic: factories.Clinic,
    scs_plan: tuple[int, int],
) -> None:
    client, token = clinician
    pid, plan_id = scs_plan
    with factories.committed(web_engine) as session:
        session.execute(
            update(User)
            .where(User.id == clinic.coordinator.user_id)
            .values(discipline="nursing-coordination")
        )
    task = _task(web_engine, plan_id, "treatment:spinal-cord-stimulation")
    html = client.get(f"/clinic/patients/{pid}/tasks").text
    card = html.split(f'id="task-{task.id}"', 1)[1].split("</li>", 1)[0]
    assert "Assigned to: nobody in particular" in card
    assert f"{clinic.coordinator.username} · Nursing and care coordination</option>" in card
    assert clinic.admin.username not in card  # only clinicians and coordinators take tasks

    # a date that is not one is refused on the card, and nothing changes
    bad = client.post(
        f"/clinic/patients/{pid}/tasks/{task.id}/assign",
        data={"csrf_token": token, "version": str(task.version), "due": "next week"},
    )
    assert bad.status_code == 422 and "Enter the due date" in bad.text
    assert _task(web_engine, plan_id, "treatment:spinal-cord-stimulation").version == task.version

    moved = client.post(
        f"/clinic/patients/{pid}/tasks/{task.id}/assign",
        data={
            "csrf_token": token,
            "version": str(task.version),
            "assignee": str(clinic.coordinator.user_id),
            "due": "2031-03-04",
        },
    )
    assert moved.status_code == 303
    after = _task(web_engine, plan_id, "treatment:spinal-cord-stimulation")
    assert after.assignee_user_id == clinic.coordinator.user_id
    assert str(after.due) == "2031-03-04" and after.version == task.version + 1
    card = client.get(f"/clinic/patients/{pid}/tasks").text.split(f'id="task-{task.id}"', 1)[1]
    assert (
        f"Assigned to: {clinic.coordinator.username} (Nursing and care coordination)"
        in card.split("</li>", 1)[0]
    )
    with Session(web_engine) as session:
        history = session.scalars(
            select(CareTaskAssignment).where(CareTaskAssignment.task_id == task.id)
        ).all()
        assert [
            (h.from_assignee_user_id, h.to_assignee_user_id, h.from_due, h.to_due, h.by_user_id)
            for h in history
        ] == [
            (
                None,
                clinic.coordinator.user_id,
                task.due,
                after.due,
                clinic.clinician.user_id,
            )
        ]

    # a form sent from the old version is refused as stale, and shows the task as it is now
    stale = client.post(
        f"/clinic/patients/{pid}/tasks/{task.id}/assign",
        data={"csrf_token": token, "version": str(task.version), "due": "2031-05-01"},
    )
    assert stale.status_code == 412 and "Someone else changed this task" in stale.text
    # the coordinator now finds the task under "My tasks"
    factories.signed_in(client, clinic.coordinator)
    mine = client.get("/clinic/worklists").text.split('id="wl-mine"', 1)[1].split("</section>")[0]
    assert "Spinal cord stimulation" in mine


def _sij_patient(engine: Engine, clinic: factories.Clinic) -> tuple[int, int]:
    """A patient whose fusion reaches the sacrum, with axial pain: the plan holds a
    diagnostic sacroiliac joint block (Katz 2003). (patient id, plan id)"""
    document = copy.deepcopy(load_example("scs-candidate"))
    document["surgeries"][0]["fused_to_sacrum"] = True
    document["pain"]["axial_nrs"] = 6
    with factories.committed(engine) as session:
        pid = factories.patient(session, organization_id=clinic.id, example=None).id
        flows.save_case(
            session,
            organization_id=clinic.id,
            patient_id=pid,
            expected_version=0,
            document=document,
            user_id=None,
        )
        flows.assess_and_store(session, organization_id=clinic.id, patient_id=pid, user_id=None)
        return pid, factories.plan(session, organization_id=clinic.id, patient_id=pid).id


def test_completing_a_block_asks_for_its_result_and_makes_a_new_case_version(
    clinician: tuple[TestClient, str], web_engine: Engine, clinic: factories.Clinic
) -> None:
    client, token = clinician
    pid, plan_id = _sij_patient(web_engine, clinic)
    block = _task(web_engine, plan_id, "workup:sacroiliac-joint-block")
    for status in ("accepted", "in-progress"):
        moved = client.post(
            f"/clinic/patients/{pid}/tasks/{block.id}",
            data={"csrf_token": token, "status": status, "version": str(block.version)},
        )
        assert moved.status_code == 303
        block = _task(web_engine, plan_id, "workup:sacroiliac-joint-block")
    card = client.get(f"/clinic/patients/{pid}/tasks").text.split(f'id="task-{block.id}"', 1)[1]
    card = card.split("</li>", 1)[0]
    # the plain "Complete" is replaced by the result form
    assert 'value="completed"' not in card and "Complete with the result" in card
    assert 'name="relief_percent"' in card and 'name="confirmatory"' in card
    with Session(web_engine) as session:
        before = session.scalars(select(Patient.case_version).where(Patient.id == pid)).one()

    for data, problem in (
        ({"relief_percent": "150", "confirmatory": "no"}, "150 is outside 0 to 100"),
        ({"relief_percent": "lots", "confirmatory": "no"}, "is not a number of percent"),
        ({"relief_percent": "80"}, "confirmatory (second) block"),
        ({"relief_percent": "80", "confirmatory": "no", "level": "hip"}, "not a spinal level"),
    ):
        refused = client.post(
            f"/clinic/patients/{pid}/tasks/{block.id}/result",
            data={"csrf_token": token, "version": str(block.version), **data},
        )
        assert refused.status_code == 422, data
        assert problem in refused.text
    with Session(web_engine) as session:
        assert (
            session.scalars(select(Patient.case_version).where(Patient.id == pid)).one() == before
        )
    assert _task(web_engine, plan_id, "workup:sacroiliac-joint-block").status == "in-progress"

    done = client.post(
        f"/clinic/patients/{pid}/tasks/{block.id}/result",
        data={
            "csrf_token": token,
            "version": str(block.version),
            "relief_percent": "80",
            "confirmatory": "no",
            "side": "left",
        },
    )
    assert done.status_code == 303
    assert done.headers["location"] == (
        f"/clinic/patients/{pid}/tasks?result={before + 1}&at={block.id}#reassess"
    )
    assert _task(web_engine, plan_id, "workup:sacroiliac-joint-block").status == "completed"
    with Session(web_engine) as session:
        version = session.scalars(
            select(CaseVersion).where(
                CaseVersion.patient_id == pid, CaseVersion.number == before + 1
            )
        ).one()
        assert version.document["blocks"][-1] == {
            "target": "sacroiliac-joint",
            "relief_percent": 80.0,
            "confirmatory": False,
            "date": factories.today().isoformat(),
            "side": "left",
        }
        assert version.created_by == clinic.clinician.user_id
    board = client.get(done.headers["location"].split("#")[0]).text
    assert "The result is in the case (version" in board and "Assess the case again" in board
    page = client.get(f"/clinic/patients/{pid}").text
    assert "The case has changed since this assessment" in page
