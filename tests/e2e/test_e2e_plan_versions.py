"""A clinician amends and closes a plan in the browser: the plan decided from the builder, a
task started on the board, the plan amended (one item rejected with its reason) into version
2 with the task still in progress and the item's open task cancelled "removed from the plan in
version 2"; both versions listed with what changed; closing as replaced refused without a
reason, then done, and the builder offers a new plan."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser

PATIENT = 4  # the demo's revision candidate; no other browser test decides a plan for it


def sign_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("secondlook-demo")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def test_clinician_amends_and_closes_a_plan(
    chromium: Browser, base_url: str, screenshots: Path
) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, base_url, "demo-clinician")
    page.goto(f"{base_url}/clinic/patients/{PATIENT}/plan")
    considered = page.locator("fieldset.plan-item.rec-consider")
    assert considered.count() > 0
    for n in range(considered.count()):
        expect(considered.nth(n).locator("input[type=radio]:checked")).to_have_count(0)
        considered.nth(n).get_by_label("Reject", exact=True).check()
    page.get_by_role("button", name="Create the plan").click()
    page.wait_for_url(f"**/clinic/patients/{PATIENT}/tasks")

    # Start the functional assessment: its state must survive the amendment.
    card = page.locator("li.card", has_text="Functional assessment").first
    card.get_by_role("button", name="Accept: Functional assessment").click()
    card = page.locator("li.card", has_text="Functional assessment").first
    card.get_by_role("button", name="Start: Functional assessment").click()

    page.get_by_role("link", name="decisions, versions, closing").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("version 1")
    page.get_by_role("link", name="Amend the plan").click()
    expect(page.get_by_role("heading", name="Amend the plan")).to_be_visible()
    smoking = page.locator("fieldset.plan-item", has_text="Smoking cessation").first
    expect(smoking.get_by_label("Accept", exact=True)).to_be_checked()
    smoking.get_by_label("Reject", exact=True).check()
    smoking.get_by_label("Reason").fill("Stopped smoking in November.")
    page.get_by_role("button", name="Save version 2 of the plan").click()
    page.get_by_label("Why the plan is amended").wait_for()
    expect(page.locator("#error-summary")).to_contain_text("say why the plan is amended")
    page.get_by_label("Why the plan is amended").fill("Follow-up: the patient stopped smoking.")
    page.get_by_role("button", name="Save version 2 of the plan").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("version 2")
    version = page.locator("#version-2")
    expect(version).to_contain_text("Removed: Smoking cessation")
    expect(version).to_contain_text("Stopped smoking in November.")
    expect(page.locator("#version-1")).to_be_visible()
    page.screenshot(path=str(screenshots / "plan-versions.png"), full_page=True)

    page.get_by_role("link", name="Task board").click()
    started = page.locator("section", has_text="Functional assessment").locator(
        "li.card", has_text="Functional assessment"
    )
    expect(started.first).to_be_visible()
    in_progress = page.locator(".column", has=page.get_by_role("heading", name="In progress"))
    expect(in_progress.locator("li.card", has_text="Functional assessment")).to_have_count(1)
    page.locator("details.closed > summary").first.click()  # the finished tasks, folded
    cancelled = page.locator(".column", has=page.get_by_role("heading", name="Cancelled"))
    expect(cancelled.locator("li.card", has_text="Smoking cessation")).to_contain_text(
        "removed from the plan in version 2"
    )

    page.get_by_role("link", name="decisions, versions, closing").click()
    page.get_by_label("Replaced by a new plan").check()
    page.get_by_role("button", name="Close the plan").click()
    expect(page.locator("#error-summary")).to_contain_text("A replacement needs a reason.")
    page.get_by_label("Replaced by a new plan").check()
    page.get_by_label("Reason (required to discharge or replace)").fill(
        "New diagnosis after the MRI: a new plan is needed."
    )
    page.get_by_role("button", name="Close the plan").click()
    page.wait_for_url(f"**/clinic/patients/{PATIENT}/plan")
    expect(page.get_by_role("button", name="Create the plan")).to_be_visible()
    context.close()
