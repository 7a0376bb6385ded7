"""People and results in the browser: a clinician records a case conference with attendees
chosen from the team and reads its minutes back; gives a task to a colleague and re-dates it on
the board; completes a diagnostic sacroiliac joint block with its result and sees the new case
version and the prompt to assess again; and enters an ODI the patient filled in on paper."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import update

import factories
from secondlook.api.app import create_app
from secondlook.commands.demo import load_demo
from secondlook.examples import load_example
from secondlook.store import accounts, db, flows, migrate
from secondlook.store.models import User
from secondlook.store.pgtemp import free_port

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def people_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """The demo, its clinician and coordinator with disciplines on record, and a patient whose
    fusion reaches the sacrum with a plan holding a sacroiliac joint block: (url, patient id)."""
    engine = db.make_engine(f"sqlite:///{tmp_path_factory.mktemp('people')}/people.db")
    migrate.upgrade(engine)
    with db.make_sessionmaker(engine)() as session:
        load_demo(session)
        clinician = accounts.user_by_username(session, username="demo-clinician")
        assert clinician is not None
        org = clinician.organization_id
        for name, discipline in (
            ("demo-clinician", "pain-medicine"),
            ("demo-coordinator", "nursing-coordination"),
        ):
            session.execute(update(User).where(User.username == name).values(discipline=discipline))
        document = copy.deepcopy(load_example("scs-candidate"))
        document["surgeries"][0]["fused_to_sacrum"] = True
        document["pain"]["axial_nrs"] = 6
        pid = factories.patient(session, organization_id=org, example=None, name="Sacro Iliac").id
        flows.save_case(
            session,
            organization_id=org,
            patient_id=pid,
            expected_version=0,
            document=document,
            user_id=clinician.id,
        )
        flows.assess_and_store(session, organization_id=org, patient_id=pid, user_id=clinician.id)
        factories.plan(session, organization_id=org, patient_id=pid, user_id=clinician.id)
        session.commit()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(engine), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):  # the server starts within a few tenths of a second
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        pytest.fail("the application did not start", pytrace=False)
    yield url, pid
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


def sign_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("secondlook-demo")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def test_conference_tasks_results_and_paper_questionnaires_in_the_browser(
    chromium: Browser, people_site: tuple[str, int], screenshots: Path
) -> None:
    base_url, pid = people_site
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, base_url, "demo-clinician")

    # the conference: attendees from the team, a decision about a plan item, the minutes
    page.goto(f"{base_url}/clinic/patients/{pid}")
    page.get_by_role("link", name="Case conference").click()
    page.get_by_label("demo-clinician · Pain medicine").check()
    page.get_by_label("demo-coordinator · Nursing and care coordination").check()
    page.get_by_label("Name").first.fill("Dr Visiting")
    seat = page.locator("fieldset.group", has_text="Pain management").first
    seat.get_by_label("Decision, with its reason").fill(
        "Diagnostic SI joint block first: the pain may come from the joint"
    )
    seat.get_by_label("About a plan item (optional)").select_option("workup:sacroiliac-joint-block")
    seat.get_by_label("What the team decided about the item").select_option("accept")
    page.screenshot(path=str(screenshots / "people-conference-form.png"), full_page=True)
    page.get_by_role("button", name="Record the conference").click()
    expect(page.get_by_role("heading", name="Case conference of", exact=False)).to_be_visible()
    attendees = page.locator("ul.attendees")
    expect(attendees).to_contain_text("demo-clinician · Pain medicine")
    expect(attendees).to_contain_text("demo-coordinator · Nursing and care coordination")
    expect(attendees).to_contain_text("(guest)")
    expect(page.locator("ul.decisions")).to_contain_text("Accept: Diagnostic sacroiliac joint")
    expect(page.get_by_text("Recorded by demo-clinician")).to_be_visible()
    expect(page.get_by_role("link", name="Build the plan from this conference")).to_be_visible()
    page.screenshot(path=str(screenshots / "people-conference-minutes.png"), full_page=True)
    minutes_url = page.url
    page.goto(f"{base_url}/clinic/patients/{pid}")
    page.get_by_role("link", name="Conference of", exact=False).first.click()
    expect(page).to_have_url(minutes_url)

    # the board: give the block to the coordinator and re-date it
    page.goto(f"{base_url}/clinic/patients/{pid}/tasks")
    card = page.locator("li.card", has_text="Diagnostic sacroiliac joint block").first
    card.locator("summary", has_text="Assign or re-date").click()
    card.get_by_label("Assigned to").select_option(
        label="demo-coordinator · Nursing and care coordination"
    )
    card.get_by_label("Due").fill("2031-03-04")
    card.get_by_role("button", name="Save the assignment", exact=False).click()
    card = page.locator("li.card", has_text="Diagnostic sacroiliac joint block").first
    expect(card).to_contain_text("Assigned to: demo-coordinator (Nursing and care coordination)")
    expect(card.locator("time[datetime='2031-03-04']")).to_be_visible()

    # accept, start, then complete with the result: a new case version and a prompt
    card.get_by_role("button", name="Accept: Diagnostic sacroiliac joint block").click()
    card = page.locator("li.card", has_text="Diagnostic sacroiliac joint block").first
    card.get_by_role("button", name="Start: Diagnostic sacroiliac joint block").click()
    card = page.locator("li.card", has_text="Diagnostic sacroiliac joint block").first
    card.get_by_text("Complete with the result…").click()
    card.get_by_label("Relief (%)").fill("120")
    card.get_by_label("Confirmatory (second) block?").select_option("no")
    card.get_by_role("button", name="Complete with the result", exact=False).click()
    expect(page.locator("#error-summary")).to_contain_text("outside 0 to 100")
    card = page.locator("li.card", has_text="Diagnostic sacroiliac joint block").first
    card.get_by_label("Relief (%)").fill("80")
    card.get_by_label("Confirmatory (second) block?").select_option("no")
    card.get_by_role("button", name="Complete with the result", exact=False).click()
    notice = page.locator("#reassess")
    expect(notice).to_contain_text("The result is in the case (version 2)")
    page.screenshot(path=str(screenshots / "people-task-board-result.png"), full_page=True)
    page.get_by_role("button", name="Assess the case again").click()
    expect(page.get_by_role("heading", name="Sacro Iliac")).to_be_visible()
    expect(page.locator(".record-details")).to_contain_text("Case version 2")

    # a paper ODI: it reaches the outcomes
    page.get_by_role("link", name="Paper questionnaire").click()
    page.get_by_label("Instrument").select_option("odi")
    page.get_by_role("button", name="Choose").click()
    for i in range(10):
        page.locator(f"#item-{i}").fill("2")
    page.get_by_role("button", name="Record the questionnaire").click()
    expect(page.locator("ul.responses")).to_contain_text("ODI 40 of 100 · on paper, entered")
    page.screenshot(path=str(screenshots / "people-patient-paper-odi.png"), full_page=True)
    context.close()
