"""The worklists page, server side: every list, the discipline chosen in a form, links by
opaque id only, staff only, audited."""

from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

import factories
from secondlook.store.care_models import CareTask
from secondlook.store.models import AuditEvent


def _plan_with_an_overdue_task(engine: Engine, organization_id: int) -> str:
    """An SCS candidate of the organization whose plan has a psychology task 10 days overdue;
    returns the patient's name."""
    with factories.committed(engine) as session:
        record = factories.patient(
            session, organization_id=organization_id, example="scs-candidate", assessed=True
        )
        plan = factories.plan(
            session,
            organization_id=organization_id,
            patient_id=record.id,
            accept=lambda item: item.id != "treatment:opioid-taper",
        )
        first = factories.care_tasks(session, plan_id=plan.id)[0]
        session.execute(
            update(CareTask)
            .where(CareTask.id == first.id)
            .values(due=factories.today() - dt.timedelta(days=10), owner="psychology")
        )
        return record.name


def test_worklists_show_every_list(
    clinician: tuple[TestClient, str], web_engine: Engine, clinic: factories.Clinic
) -> None:
    client, _ = clinician
    name = _plan_with_an_overdue_task(web_engine, clinic.id)
    with factories.committed(web_engine) as session:
        other = factories.organization(session).id
    elsewhere = _plan_with_an_overdue_task(web_engine, other)  # another organization's
    page = client.get("/clinic/worklists")
    assert page.status_code == 200
    html = page.text
    for heading in (
        "My tasks",
        "My discipline's tasks",
        "Overdue tasks",
        "Patients with questionnaires due or overdue",
        "Patients with open red flags",
        "Plans due for review",
    ):
        assert heading in html, heading
    overdue = html.split('id="wl-overdue"', 1)[1].split("</section>", 1)[0]
    assert '<strong class="overdue">overdue</strong>' in overdue and name in overdue
    flags = html.split('id="wl-flags"', 1)[1].split("</section>", 1)[0]
    assert "Cauda equina syndrome" in flags and clinic.patient.name in flags
    assert elsewhere not in html
    assert '<select id="discipline" name="discipline">' in html
    # links carry opaque ids only (a task link returns to the task on its patient's board)
    for link in re.findall(r'href="([^"]+)"', html):
        assert re.fullmatch(
            r"#main|/(static/(app\.css|favicon\.svg)|clinic/[a-z/0-9]*(\?at=\d+#task-\d+)?"
            r"|portal|)",
            link,
        ), link

    chosen = client.get("/clinic/worklists", params={"discipline": "psychology"}).text
    theirs = chosen.split('id="wl-discipline"', 1)[1].split("</section>", 1)[0]
    assert name in theirs and 'value="psychology" selected' in chosen
    assert elsewhere not in chosen
    ignored = client.get("/clinic/worklists", params={"discipline": "<script>"})
    assert ignored.status_code == 200 and "<script>" not in ignored.text
    with web_engine.connect() as connection:
        outcomes = set(
            connection.execute(
                select(AuditEvent.outcome).where(
                    AuditEvent.action == "care.worklist.read",
                    AuditEvent.resource == "GET /clinic/worklists",
                    AuditEvent.actor_user_id == clinic.clinician.user_id,
                )
            ).scalars()
        )
    assert outcomes == {"success"}


def test_worklists_are_for_staff_only(browser: TestClient, clinic: factories.Clinic) -> None:
    factories.signed_in(browser, clinic.patient_user)
    assert browser.get("/clinic/worklists").status_code == 403
    browser.cookies.clear()
    assert browser.get("/clinic/worklists").headers.get("location") == "/login"
    factories.signed_in(browser, clinic.coordinator)
    assert browser.get("/clinic/worklists").status_code == 200
