"""Care pages, server side: the case conference form and the plan builder (decisions with the
reasons the care domain asks for, shown at their item), with CSRF, roles, organizations and
audit."""

from __future__ import annotations

import io
import re

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

import factories
from secondlook.store import care_records
from secondlook.store.care_models import CareConference, CarePlan, CareTask
from secondlook.store.models import AuditEvent, User


@pytest.fixture
def cervical(web_engine: Engine, clinic: factories.Clinic) -> int:
    """A patient of the clinic with the cervical example case (recommended and
    not-recommended items), assessed."""
    with factories.committed(web_engine) as session:
        return factories.patient(
            session, organization_id=clinic.id, example="cervical-nonunion", assessed=True
        ).id


def form_defaults(html: str, token: str, considered: str | None = "reject") -> dict[str, str]:
    """What a browser would send for the plan form as the page shows it, with the items left
    undecided (options to consider) decided as ``considered`` (None: left undecided)."""
    values: dict[str, str] = {"csrf_token": token}
    if considered is not None:
        for name in re.findall(r'name="(action-\d+)" value="accept"', html):
            values[name] = considered
    for name, value in re.findall(r'name="(action-\d+)" value="(\w+)" checked', html):
        values[name] = value
    for name, value in re.findall(r'name="(goal-\d+-keep)" value="(yes)" checked', html):
        values[name] = value
    for name, value in re.findall(
        r'<input type="date" id="[^"]+" name="([^"]+)" value="([^"]*)"', html
    ):
        values[name] = value
    return values


def item_number(html: str, name: str) -> int:
    found = re.search(r'id="item-(\d+)">\s*<legend>' + re.escape(name) + " ", html)
    assert found, name
    return int(found.group(1))


def events(engine: Engine, action: str, patient_id: int) -> list[tuple[str, int]]:
    with engine.connect() as connection:
        return [
            (r.outcome, r.status)
            for r in connection.execute(
                select(AuditEvent.outcome, AuditEvent.status)
                .where(AuditEvent.action == action, AuditEvent.patient_id == patient_id)
                .order_by(AuditEvent.id)
            )
        ]


def test_plan_builder_lists_every_item_with_its_reason_rule(
    clinician: tuple[TestClient, str], cervical: int
) -> None:
    client, _ = clinician
    page = client.get(f"/clinic/patients/{cervical}/plan")
    assert page.status_code == 200
    html = page.text
    assert "Exercise therapy" in html and "Spinal cord stimulation" in html
    assert "required to reject: recommended" in html
    assert "required to accept: not-recommended" in html
    assert 'name="goal-0-keep" value="yes" checked' in html  # suggested goals pre-filled
    assert 'id="review_on" name="review_on" value="20' in html
    assert 'name="csrf_token"' in html
    # not-recommended items start as rejected, the rest as accepted
    n = item_number(html, "Spinal cord stimulation")
    assert f'name="action-{n}" value="reject" checked' in html


def test_rejecting_a_recommended_item_needs_a_reason_shown_at_the_item(
    clinician: tuple[TestClient, str], web_engine: Engine, cervical: int
) -> None:
    client, token = clinician
    pid = cervical
    html = client.get(f"/clinic/patients/{pid}/plan").text
    form = form_defaults(html, token)
    n = item_number(html, "Exercise therapy")
    form[f"action-{n}"] = "reject"
    response = client.post(f"/clinic/patients/{pid}/plan", data=form)
    assert response.status_code == 422
    page = response.text
    fieldset = page.split(f'id="item-{n}">', 1)[1].split("</fieldset>", 1)[0]
    assert "a reason is required for rejecting" in fieldset
    assert 'aria-invalid="true"' in fieldset
    assert f'name="action-{n}" value="reject" checked' in page  # the entries are kept
    assert 'role="alert"' in page
    with Session(web_engine) as session:
        assert session.scalar(select(CarePlan.id).where(CarePlan.patient_id == pid)) is None
    assert events(web_engine, "care.plan.create", pid) == [("failed", 422)]

    form[f"reason-{n}"] = "Patient prefers to start with psychological therapy"
    m = item_number(html, "MRI")
    form[f"action-{m}"] = "edit"
    form[f"owner-{m}"] = "nursing-coordination"
    form[f"due-{m}"] = "2030-01-15"
    response = client.post(f"/clinic/patients/{pid}/plan", data=form)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/clinic/patients/{pid}/tasks"
    with Session(web_engine) as session:
        plan = session.scalars(select(CarePlan).where(CarePlan.patient_id == pid)).one()
        entries = {e["item"]["id"]: e for e in plan.entries}
        assert entries["treatment:exercise-therapy"]["action"] == "reject"
        assert entries["treatment:exercise-therapy"]["reason"].startswith("Patient prefers")
        assert entries["workup:mri"]["edit"]["owner"] == "nursing-coordination"
        mri = session.scalars(
            select(CareTask).where(
                CareTask.plan_id == plan.id, CareTask.plan_item_id == "workup:mri"
            )
        ).first()
        assert mri is not None and mri.owner == "nursing-coordination"
        assert str(mri.due) == "2030-01-15"
    assert events(web_engine, "care.plan.create", pid) == [("failed", 422), ("success", 201)]
    board = client.get(f"/clinic/patients/{pid}/tasks")
    assert board.status_code == 200 and "Nursing and care coordination" in board.text


def test_conference_form_has_the_agenda_and_records_decisions(
    clinician: tuple[TestClient, str], web_engine: Engine, clinic: factories.Clinic
) -> None:
    client, token = clinician
    pid = clinic.patient.id
    with factories.committed(web_engine) as session:
        session.execute(
            update(User)
            .where(User.id == clinic.coordinator.user_id)
            .values(discipline="nursing-coordination")
        )
    html = client.get(f"/clinic/patients/{pid}/conference").text  # cauda equina: a red flag
    assert "Red flag: Cauda equina syndrome" in html
    assert html.index("Red flag:") < html.index("Spine anatomy")
    for seat in ("Spine anatomy", "Pain management", "Psychological", "Functional", "Medical"):
        assert seat in html
    # The team is listed with each member's discipline; one without a discipline is asked for it.
    assert f"{clinic.coordinator.username} · Nursing and care coordination" in html
    assert f"{clinic.clinician.username} · no discipline on record" in html
    assert clinic.admin.username not in html  # administrators do not attend conferences
    bad = client.post(
        f"/clinic/patients/{pid}/conference",
        data={
            "csrf_token": token,
            "held_on": "2026-11-20",
            "guest-0-name": "Dr A",
            "guest-0-discipline": "spine-surgery",
            "decision-0": "Emergency MRI today",
            "decision-0-dissent-by": "Somebody Absent",
            "decision-0-dissent": "Wait",
        },
    )
    assert bad.status_code == 422
    assert "Somebody Absent" in bad.text and 'role="alert"' in bad.text
    # The problem names the agenda item the decision was written under, never the form's id.
    assert "Red flag: Cauda equina syndrome: dissent by" in bad.text
    assert "decision &#39;d1&#39;" not in bad.text and "decision 'd1'" not in bad.text
    good = client.post(
        f"/clinic/patients/{pid}/conference",
        data={
            "csrf_token": token,
            "held_on": "2026-11-20",
            "attendee-user": [str(clinic.coordinator.user_id), str(clinic.clinician.user_id)],
            f"attendee-user-{clinic.clinician.user_id}-discipline": "spine-surgery",
            "guest-0-name": "Dr A",
            "guest-0-discipline": "pain-medicine",
            "decision-0": "Emergency MRI today",
            "decision-0-dissent-by": clinic.coordinator.username,
            "decision-0-dissent": "Would add a bladder scan first",
        },
    )
    assert good.status_code == 303
    with Session(web_engine) as session:
        row = session.scalars(select(CareConference).where(CareConference.patient_id == pid)).one()
        assert row.decisions[0]["agenda_key"] == "cauda-equina"
        assert row.decisions[0]["dissent"][0]["attendee"] == clinic.coordinator.username
        assert [(a["name"], a["discipline"], a["user_id"]) for a in row.attendees] == [
            (clinic.coordinator.username, "nursing-coordination", clinic.coordinator.user_id),
            (clinic.clinician.username, "spine-surgery", clinic.clinician.user_id),
            ("Dr A", "pain-medicine", None),
        ]
    # After recording, the minutes, not the plan builder; the builder is one link away.
    assert good.headers["location"] == f"/clinic/patients/{pid}/conferences/{row.id}"
    minutes = client.get(good.headers["location"]).text
    assert "Build the plan from this conference" in minutes
    assert f"/clinic/patients/{pid}/plan?conference={row.id}" in minutes
    assert "Emergency MRI today" in minutes and "Would add a bladder scan first" in minutes
    assert "Dr A · Pain medicine (guest)" in minutes
    assert f"Recorded by {clinic.clinician.username}" in minutes
    patient_page = client.get(f"/clinic/patients/{pid}").text
    assert f'href="/clinic/patients/{pid}/conferences/{row.id}"' in patient_page
    assert events(web_engine, "care.conference.create", pid) == [("failed", 422), ("success", 201)]


def test_a_conference_decision_about_a_plan_item_is_kept_and_read_back(
    clinician: tuple[TestClient, str], web_engine: Engine, clinic: factories.Clinic
) -> None:
    client, token = clinician
    pid = clinic.patient.id
    html = client.get(f"/clinic/patients/{pid}/conference").text
    item = re.search(r'<option value="(workup:[^"]+)">([^<]+)</option>', html)
    assert item is not None
    made = client.post(
        f"/clinic/patients/{pid}/conference",
        data={
            "csrf_token": token,
            "held_on": "2026-11-20",
            "guest-0-name": "Dr A",
            "guest-0-discipline": "spine-surgery",
            "decision-5": "Not now: the examination comes first",
            "decision-5-item": item.group(1),
            "decision-5-action": "reject",
        },
    )
    assert made.status_code == 303
    minutes = client.get(made.headers["location"]).text
    assert f"Reject: {item.group(2)}." in minutes
    assert "Not now: the examination comes first" in minutes


def test_care_forms_need_the_csrf_token(
    clinician: tuple[TestClient, str], clinic: factories.Clinic
) -> None:
    client, _ = clinician
    pid = clinic.patient.id
    for path in (f"/clinic/patients/{pid}/plan", f"/clinic/patients/{pid}/conference"):
        response = client.post(path, data={"held_on": "2026-11-20"})
        assert response.status_code == 403 and "security token" in response.text


def test_patients_and_admins_cannot_reach_care_pages(
    browser: TestClient, clinic: factories.Clinic
) -> None:
    pid = clinic.patient.id  # the patient's own record
    for who in (clinic.patient_user, clinic.admin):
        token = factories.signed_in(browser, who)
        for path in ("plan", "conference", "tasks"):
            assert browser.get(f"/clinic/patients/{pid}/{path}").status_code == 403
        assert (
            browser.post(f"/clinic/patients/{pid}/plan", data={"csrf_token": token}).status_code
            == 403
        )


def test_coordinator_reads_the_proposal_but_cannot_decide(
    browser: TestClient, web_engine: Engine, clinic: factories.Clinic
) -> None:
    token = factories.signed_in(browser, clinic.coordinator)
    pid = clinic.patient.id
    html = browser.get(f"/clinic/patients/{pid}/plan").text
    assert "Only a clinician can decide a plan" in html
    response = browser.post(f"/clinic/patients/{pid}/plan", data=form_defaults(html, token))
    assert response.status_code == 403
    assert events(web_engine, "care.plan.create", pid) == [("denied", 403)]


def test_another_organizations_clinician_gets_404(
    browser: TestClient, web_engine: Engine, clinic: factories.Clinic
) -> None:
    pid = clinic.patient.id
    with factories.committed(web_engine) as session:
        plan = factories.plan(session, organization_id=clinic.id, patient_id=pid)
        task = factories.care_tasks(session, plan_id=plan.id)[0]
        other = factories.user(session, organization_id=factories.organization(session).id)
    token = factories.signed_in(browser, other)
    for path in ("plan", "conference", "tasks"):
        assert browser.get(f"/clinic/patients/{pid}/{path}").status_code == 404
    response = browser.post(
        f"/clinic/patients/{pid}/tasks/{task.id}",
        data={"csrf_token": token, "status": "accepted", "version": str(task.version)},
    )
    assert response.status_code == 404
    assert events(web_engine, "care.plan.propose", pid) == [("denied", 404)]
    assert events(web_engine, "care.task.update", pid) == [("denied", 404)]


def test_an_option_to_consider_enters_the_plan_only_by_a_choice(
    clinician: tuple[TestClient, str], web_engine: Engine, clinic: factories.Clinic
) -> None:
    """Spinal cord stimulation ("consider") is not pre-accepted: creating the plan as the page
    comes asks for a decision on it, at the item; choosing one creates the plan."""
    client, token = clinician
    with factories.committed(web_engine) as session:
        pid = factories.patient(
            session, organization_id=clinic.id, example="scs-candidate", assessed=True
        ).id
    html = client.get(f"/clinic/patients/{pid}/plan").text
    considered = re.findall(
        r'id="item-(\d+)">\s*<legend>([^<]+) <span class="badge rec-consider">Consider</span>',
        html,
    )
    assert considered, "the example has options to consider"
    form = form_defaults(html, token, considered=None)
    for n, name in considered:
        assert f"action-{n}" not in form, f"{name} is pre-selected"
    response = client.post(f"/clinic/patients/{pid}/plan", data=form)
    assert response.status_code == 422
    n, _ = considered[0]
    fieldset = response.text.split(f'id="item-{n}">', 1)[1].split("</fieldset>", 1)[0]
    assert "no decision" in fieldset
    with Session(web_engine) as session:
        assert session.scalar(select(CarePlan.id).where(CarePlan.patient_id == pid)) is None
    for n, _ in considered:
        form[f"action-{n}"] = "reject"
    response = client.post(f"/clinic/patients/{pid}/plan", data=form)
    assert response.status_code == 303, response.text[:3000]


def _decided(client: TestClient, token: str, pid: int) -> int:
    """Decide a plan from the builder as it comes (options to consider rejected)."""
    html = client.get(f"/clinic/patients/{pid}/plan").text
    response = client.post(f"/clinic/patients/{pid}/plan", data=form_defaults(html, token))
    assert response.status_code == 303, response.text[:2000]
    found = re.search(
        r"/clinic/patients/\d+/plans/(\d+)", client.get(response.headers["location"]).text
    )
    assert found
    return int(found.group(1))


def test_the_builder_amends_an_active_plan_from_its_decisions_and_checks_the_version(
    clinician: tuple[TestClient, str], web_engine: Engine, cervical: int
) -> None:
    client, token = clinician
    pid = cervical
    plan_id = _decided(client, token, pid)
    html = client.get(f"/clinic/patients/{pid}/plan").text
    assert "Amend the plan" in html and "Save version 2 of the plan" in html
    n = item_number(html, "Exercise therapy")
    assert f'name="action-{n}" value="accept" checked' in html  # the plan's decision
    form = form_defaults(html, token, considered=None)
    version = re.search(r'name="version" value="(\d+)"', html)
    assert version
    form["version"] = version.group(1)
    form[f"action-{n}"] = "reject"
    form[f"reason-{n}"] = "Prefers psychological therapy first"
    refused = client.post(f"/clinic/patients/{pid}/plan", data=form)
    assert refused.status_code == 422 and "say why the plan is amended" in refused.text
    stale = {**form, "amend_reason": "Review visit", "version": "99"}
    response = client.post(f"/clinic/patients/{pid}/plan", data=stale)
    assert response.status_code == 412 and "Someone else changed this plan" in response.text
    response = client.post(
        f"/clinic/patients/{pid}/plan", data={**form, "amend_reason": "Review visit"}
    )
    assert response.status_code == 303, response.text[:2000]
    assert response.headers["location"] == f"/clinic/patients/{pid}/plans/{plan_id}"
    page = client.get(response.headers["location"]).text
    assert "Care plan " + str(plan_id) + ", version 2" in page
    assert "Removed:</strong>" in page and "Prefers psychological therapy first" in page
    with Session(web_engine) as session:
        plan = session.get(CarePlan, plan_id)
        assert plan is not None and plan.plan_version == 2 and plan.status == "active"
        assert (
            session.scalar(
                select(CarePlan.id).where(CarePlan.patient_id == pid, CarePlan.id != plan_id)
            )
            is None
        )
    assert [s for _, s in events(web_engine, "care.plan.amend", pid)] == [422, 412, 201]


def test_closing_a_plan_from_its_page_needs_a_reason(
    clinician: tuple[TestClient, str], web_engine: Engine, cervical: int
) -> None:
    client, token = clinician
    pid = cervical
    plan_id = _decided(client, token, pid)
    page = client.get(f"/clinic/patients/{pid}/plans/{plan_id}").text
    version = re.search(r'name="version" value="(\d+)"', page)
    assert version and "Close the plan" in page
    url = f"/clinic/patients/{pid}/plans/{plan_id}/closing"
    data = {"csrf_token": token, "version": version.group(1), "outcome": "discharged"}
    refused = client.post(url, data=data)
    assert refused.status_code == 422 and "A discharge needs a reason." in refused.text
    done = client.post(url, data={**data, "reason": "Moved to another city"})
    assert done.status_code == 303
    page = client.get(done.headers["location"]).text
    assert (
        "Closed on" in page
        and "Moved to another city" in page
        and "Close the plan</h2>" not in page
    )
    with Session(web_engine) as session:
        open_tasks = session.scalars(
            select(CareTask.id).where(
                CareTask.plan_id == plan_id,
                CareTask.status.in_(("requested", "accepted", "in-progress")),
            )
        ).all()
        assert open_tasks == []
    assert [s for _, s in events(web_engine, "care.plan.close", pid)] == [422, 200]


def test_a_coordinator_reads_the_plan_and_its_versions_but_cannot_amend_or_close_it(
    clinician: tuple[TestClient, str], web_engine: Engine, cervical: int, clinic: factories.Clinic
) -> None:
    client, token = clinician
    plan_id = _decided(client, token, cervical)
    coordinator_token = factories.signed_in(client, clinic.coordinator)
    page = client.get(f"/clinic/patients/{cervical}/plans/{plan_id}")
    assert page.status_code == 200 and "Version 1 (current)" in page.text
    assert "Close the plan" not in page.text and "Amend the plan" not in page.text
    refused = client.post(
        f"/clinic/patients/{cervical}/plans/{plan_id}/closing",
        data={
            "csrf_token": coordinator_token,
            "version": "1",
            "outcome": "discharged",
            "reason": "x",
        },
    )
    assert refused.status_code == 403
    with Session(web_engine) as session:
        plan = session.get(CarePlan, plan_id)
        assert plan is not None and plan.status == "active"


def test_the_summary_pdf_has_the_teams_decisions_tasks_conference_and_taper(
    clinician: tuple[TestClient, str], web_engine: Engine, clinic: factories.Clinic
) -> None:
    client, token = clinician
    with factories.committed(web_engine) as session:
        pid = factories.patient(
            session, organization_id=clinic.id, example="scs-candidate", assessed=True
        ).id
    made = client.post(
        f"/clinic/patients/{pid}/conference",
        data={
            "csrf_token": token,
            "held_on": "2026-11-20",
            "guest-0-name": "Dr A",
            "guest-0-discipline": "psychology",
            "decision-4": "Evaluate first, then decide on stimulation",
            "decision-4-dissent-by": "Dr A",
            "decision-4-dissent": "Would start the trial sooner",
        },
    )
    assert made.status_code == 303
    conference_id = int(made.headers["location"].rsplit("/", 1)[1])
    with factories.committed(web_engine) as session:
        plan = factories.plan(
            session,
            organization_id=clinic.id,
            patient_id=pid,
            accept=lambda item: item.ref != "spinal-cord-stimulation",
            reason="Not before the psychological evaluation",
        )
        care_records.link_plan_to_conference(session, plan=plan, conference_id=conference_id)
        psych = factories.task(session, plan_id=plan.id, item_id="workup:psychological-evaluation")
        psych_id, version = psych.id, psych.version
    assigned = client.post(
        f"/clinic/patients/{pid}/tasks/{psych_id}/assign",
        data={
            "csrf_token": token,
            "version": str(version),
            "assignee": str(clinic.coordinator.user_id),
            "due": "2031-01-15",
        },
    )
    assert assigned.status_code == 303
    answer = client.get(f"/clinic/patients/{pid}/summary.pdf")
    assert answer.status_code == 200
    reader = PdfReader(io.BytesIO(answer.content))
    text = " ".join(" ".join(p.extract_text() for p in reader.pages).split())
    decisions = text[text.index("The team's decisions") :]
    rejected = decisions[decisions.index("Not in the plan") : decisions.index("Tasks")]
    assert "Spinal cord stimulation" in rejected
    assert "Not before the psychological evaluation" in rejected
    accepted = decisions[decisions.index("In the plan") : decisions.index("Not in the plan")]
    assert "Spinal cord stimulation" not in accepted and "Psychological evaluation" in accepted
    tasks = decisions[decisions.index("Tasks") :]
    assert f"Psychological evaluation {clinic.coordinator.username} 2031-01-15" in tasks
    assert "Case conference of 2026-11-20" in decisions
    assert "Evaluate first, then decide on stimulation" in decisions
    assert "Dissent: Dr A: Would start the trial sooner" in decisions
    assert "Opioid taper" in decisions and "MME/day" in decisions


def test_a_plan_built_from_a_conference_starts_from_its_decisions_and_records_it(
    clinician: tuple[TestClient, str], web_engine: Engine, cervical: int
) -> None:
    client, token = clinician
    pid = cervical
    builder = client.get(f"/clinic/patients/{pid}/plan").text
    n = item_number(builder, "Exercise therapy")
    form_page = client.get(f"/clinic/patients/{pid}/conference").text
    item_id = re.search(r'<option value="([^"]+)"[^>]*>Exercise therapy</option>', form_page)
    assert item_id, "the conference form offers the plan's items"
    made = client.post(
        f"/clinic/patients/{pid}/conference",
        data={
            "csrf_token": token,
            "held_on": "2026-11-20",
            "guest-0-name": "Dr A",
            "guest-0-discipline": "physical-therapy",
            "decision-0": "Psychological therapy first; exercise later",
            "decision-0-item": item_id.group(1),
            "decision-0-action": "reject",
        },
    )
    assert made.status_code == 303, made.text[:2000]
    conference_id = int(made.headers["location"].rsplit("/", 1)[1])
    minutes = client.get(made.headers["location"]).text
    assert f"/clinic/patients/{pid}/plan?conference={conference_id}" in minutes
    html = client.get(f"/clinic/patients/{pid}/plan?conference={conference_id}").text
    assert (
        "Built from the" in html
        and (
            'case conference of <time class="date" datetime="2026-11-20" title="2026-11-20">'
            "Nov 20, 2026</time>"
        )
        in html
    )
    assert f'name="action-{n}" value="reject" checked' in html
    assert "Psychological therapy first; exercise later" in html
    assert f'name="conference_id" value="{conference_id}"' in html
    # A conference that is not this patient's is not found.
    assert client.get(f"/clinic/patients/{pid}/plan?conference=999999").status_code == 404
    # Saved, the plan names its conference and keeps the conference's decision.
    form = {
        **form_defaults(html, token),
        "conference_id": str(conference_id),
        f"reason-{n}": "Psychological therapy first; exercise later",
    }
    saved = client.post(f"/clinic/patients/{pid}/plan", data=form)
    assert saved.status_code == 303, saved.text[:2000]
    with Session(web_engine) as session:
        plan = session.scalars(select(CarePlan).where(CarePlan.patient_id == pid)).one()
        assert plan.conference_id == conference_id
        [entry] = [e for e in plan.entries if e["item"]["id"] == item_id.group(1)]
        assert entry["action"] == "reject"
