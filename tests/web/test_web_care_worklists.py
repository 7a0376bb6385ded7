"""The worklists page, server side: every list, the discipline chosen in a form, links by
opaque id only, staff only, audited."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from secondlook.care import Decision
from secondlook.store import care_records
from secondlook.store.care_models import CareTask
from secondlook.store.models import AuditEvent
from secondlook.web import data


def _plan_with_an_overdue_task(engine: Engine, patient_id: int) -> None:
    with Session(engine) as session:
        assessment = data.latest_assessment(session, organization_id=1, patient_id=patient_id)
        assert assessment is not None
        today = dt.datetime.now(dt.UTC).date()
        draft = care_records.propose(
            session,
            organization_id=1,
            patient_id=patient_id,
            assessment_id=assessment.id,
            today=today,
        )
        plan = care_records.create_plan(
            session,
            organization_id=1,
            patient_id=patient_id,
            assessment_id=assessment.id,
            decisions=[
                Decision(i.id, "reject" if i.id == "treatment:opioid-taper" else "accept", "test")
                for i in draft.items
            ],
            decided_on=today,
            decided_by="test",
            user_id=None,
        )
        first = session.scalars(
            select(CareTask.id).where(CareTask.plan_id == plan.id, CareTask.kind == "care")
        ).first()
        session.execute(
            update(CareTask)
            .where(CareTask.id == first)
            .values(due=today - dt.timedelta(days=10), owner="psychology")
        )
        session.commit()


def test_worklists_show_every_list(clinician: tuple[TestClient, str], web_engine: Engine) -> None:
    client, _ = clinician
    _plan_with_an_overdue_task(web_engine, 5)
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
    assert "(overdue)" in overdue and "Lena Novak" in overdue
    flags = html.split('id="wl-flags"', 1)[1].split("</section>", 1)[0]
    assert "Cauda equina syndrome" in flags
    assert '<select id="discipline" name="discipline">' in html
    # links carry opaque ids only
    for link in re.findall(r'href="([^"]+)"', html):
        assert re.fullmatch(r"#main|/(static/app\.css|clinic/[a-z/0-9]*|portal|)", link), link

    chosen = client.get("/clinic/worklists", params={"discipline": "psychology"}).text
    theirs = chosen.split('id="wl-discipline"', 1)[1].split("</section>", 1)[0]
    assert "Lena Novak" in theirs and 'value="psychology" selected' in chosen
    ignored = client.get("/clinic/worklists", params={"discipline": "<script>"})
    assert ignored.status_code == 200 and "<script>" not in ignored.text
    with web_engine.connect() as connection:
        outcomes = set(
            connection.execute(
                select(AuditEvent.outcome).where(
                    AuditEvent.action == "care.worklist.read",
                    AuditEvent.resource == "GET /clinic/worklists",
                )
            ).scalars()
        )
    assert outcomes == {"success"}


def test_worklists_are_for_staff_only(browser: TestClient, sign_in: Callable[..., str]) -> None:
    sign_in(browser, "demo-patient")
    assert browser.get("/clinic/worklists").status_code == 403
    browser.cookies.clear()
    assert browser.get("/clinic/worklists").headers.get("location") == "/login"
    sign_in(browser, "demo-coordinator")
    assert browser.get("/clinic/worklists").status_code == 200
