"""A clinician builds a care plan in the browser: accepts items, rejects a recommended one
without a reason (the error is shown at that item), adds the reason, submits, and sees the
task board; axe finds no serious or critical violation on the plan builder (with its error)
and the filled task board."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

pytestmark = pytest.mark.browser

PATIENT = 2  # the demo's cervical case


def sign_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("secondlook-demo")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def axe(page: Page, script: Path) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations on the page as it is now."""
    page.add_script_tag(path=str(script))
    result: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [v for v in result["violations"] if v.get("impact") in ("serious", "critical")]


def test_clinician_builds_a_plan(
    chromium: Browser, base_url: str, screenshots: Path, axe_script: Path
) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"{message.text} {message.location.get('url')}")

    page.on("console", on_console)
    sign_in(page, base_url, "demo-clinician")
    page.goto(f"{base_url}/clinic/patients/{PATIENT}")
    page.get_by_role("link", name="Build a care plan").click()
    expect(page.get_by_role("heading", name="Suggested items")).to_be_visible()

    # Options to consider start undecided: the team chooses each one (here: not now).
    considered = page.locator("fieldset.plan-item.rec-consider")
    for n in range(considered.count()):
        expect(considered.nth(n).locator("input[type=radio]:checked")).to_have_count(0)
        considered.nth(n).get_by_label("Reject", exact=True).check()
    mri = page.locator("fieldset.plan-item", has_text="MRI").first
    mri.get_by_label("Accept", exact=True).check()
    psych = page.locator("fieldset.plan-item", has_text="Psychological evaluation").first
    psych.get_by_label("Accept with changes").check()
    psych.locator("summary").click()
    psych.get_by_label("Due date").fill("2030-02-01")
    exercise = page.locator("fieldset.plan-item", has_text="Exercise therapy").first
    exercise.get_by_label("Reject", exact=True).check()  # recommended: needs a reason, none given
    page.get_by_role("button", name="Create the plan").click()

    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("a reason is required for rejecting")
    exercise = page.locator("fieldset.plan-item.invalid")
    expect(exercise).to_have_count(1)
    expect(exercise.locator("legend")).to_contain_text("Exercise therapy")
    expect(exercise.locator(".error")).to_contain_text("a reason is required")
    reason = exercise.get_by_label("Reason (required to reject: recommended)")
    expect(reason).to_have_attribute("aria-invalid", "true")
    expect(exercise.get_by_label("Reject", exact=True)).to_be_checked()  # the choice is kept
    page.screenshot(path=str(screenshots / "care-plan-builder-error.png"), full_page=False)
    violations = axe(page, axe_script)
    assert not violations, violations

    reason.fill("Patient wants to start with psychological therapy first")
    page.get_by_role("button", name="Create the plan").click()

    expect(page).to_have_url(f"{base_url}/clinic/patients/{PATIENT}/tasks")
    expect(page.get_by_role("heading", name="Task board", exact=False)).to_be_visible()
    expect(page.get_by_role("heading", name="psychology")).to_be_visible()
    due = page.locator("li.card", has_text="Psychological evaluation").first.locator("time")
    expect(due.first).to_have_attribute("datetime", "2030-02-01")
    page.screenshot(path=str(screenshots / "care-task-board.png"), full_page=True)
    violations = axe(page, axe_script)
    assert not violations, violations

    # accept a task from the board
    card = page.locator("li.card", has_text="Psychological evaluation").first
    card.get_by_role("button", name="Accept: Psychological evaluation").click()
    accepted = page.locator(".column", has_text="accepted (1)")
    expect(accepted.first).to_contain_text("Psychological evaluation")

    # expected: the plan answered 422 once; the browser's own favicon request
    assert not [p for p in problems if "status of 422" not in p and "favicon" not in p], problems
    context.close()
