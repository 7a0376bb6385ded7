"""The alert inbox in the browser: the emergency comes first on the clinic home, a clinician
acknowledges it and then resolves it with what was done, and the patient's page shows both
events under the banner; axe finds no serious or critical violation on the inbox."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser


def sign_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("secondlook-demo")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def axe(page: Page, script: Path) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(script))
    result: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [v for v in result["violations"] if v.get("impact") in ("serious", "critical")]


def test_the_inbox_acknowledge_resolve_and_the_patients_events(
    chromium: Browser, base_url: str, screenshots: Path, axe_script: Path
) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    sign_in(page, base_url, "demo-clinician")
    page.goto(f"{base_url}/clinic/patients")
    inbox = page.locator("section.inbox")
    # The inbox comes before the patient list, and the most urgent alert first.
    assert page.locator("h2#h-inbox, h1").first.inner_text().startswith("Alert inbox")
    first = inbox.locator("tr.alert-row").first
    expect(first.locator(".severity")).to_have_text("Emergency")
    name = first.locator("td").nth(1).locator("strong").inner_text()
    patient = first.get_by_role("link").first
    patient_name = patient.inner_text()
    patient_href = str(patient.get_attribute("href"))
    row_id = str(first.get_attribute("id"))
    assert axe(page, axe_script) == []
    page.screenshot(path=str(screenshots / "alerts-inbox.png"), full_page=True)

    first.get_by_role("button", name="Acknowledge").click()
    row = page.locator(f"tr#{row_id}")
    expect(row).to_contain_text("demo-clinician")
    expect(row.get_by_role("button", name="Acknowledge")).to_have_count(0)

    row.locator("summary", has_text="Resolve").click()
    row.get_by_label("What was done").select_option("sent-to-emergency-department")
    row.get_by_label(re.compile("^Note")).fill("Sent to the emergency department by ambulance")
    row.get_by_role("button", name="Resolve").click()
    page.wait_for_url(re.compile(r"/clinic/patients$"))
    expect(page.locator(f"tr#{row_id}")).to_have_count(0)

    page.goto(f"{base_url}{patient_href}")
    expect(page.get_by_role("heading", name=patient_name, level=1)).to_be_visible()
    card = page.locator(f"article#{row_id}")
    expect(card).to_contain_text(f"{name} — Resolved")
    events = card.locator("ol.alert-events > li")
    expect(events).to_have_count(3)
    expect(events.nth(0)).to_contain_text("raised by an assessment")
    expect(events.nth(1)).to_contain_text("acknowledged by demo-clinician")
    expect(events.nth(2)).to_contain_text(
        "resolved by demo-clinician: Sent to the emergency department"
    )
    expect(events.nth(2)).to_contain_text("by ambulance")
    # The red-flag banner still stands above: resolving an alert hides nothing of the case.
    expect(page.locator(".banner").first).to_contain_text(name)
    page.screenshot(path=str(screenshots / "alerts-patient.png"), full_page=True)
    context.close()
