"""The clinician workspace in Chromium: the patient page's header and graded banner, the patient
list's orders and paging, the worklists, and a task board that fits a screen at 1280 and 1024
px (columns never overlap, cards stay inside their column, the eleven taper follow-ups are one
row), keeps its place after an action and narrows by discipline. axe-core finds no serious or
critical violation on any of them. Screenshots go to test-output/e2e/."""

from __future__ import annotations

import itertools
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
    """Serious and critical axe-core violations on the page as it is now."""
    page.add_script_tag(path=str(script))
    result: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [v for v in result["violations"] if v.get("impact") in ("serious", "critical")]


def describe(violations: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}" for v in violations
    )


PATIENT = 6  # the demo's thoracic case on 60 MME/day; no other browser test decides its plan


def _assert_fits(page: Page) -> None:
    """Within each discipline, the columns sit side by side without overlapping, and every
    visible card stays inside its column."""
    for section in page.locator("section.discipline").all():
        columns = section.locator(":scope > .board > .column").all()
        boxes = [c.bounding_box() for c in columns]
        assert all(boxes)
        for left, right in itertools.pairwise(boxes):
            assert left and right and left["x"] + left["width"] <= right["x"] + 0.5
        for column, box in zip(columns, boxes, strict=True):
            assert box is not None
            for card in column.locator("li.card:visible, li.group").all():
                inner = card.bounding_box()
                assert inner is not None
                assert inner["x"] >= box["x"] - 0.5
                assert inner["x"] + inner["width"] <= box["x"] + box["width"] + 0.5


def _decide_plan(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/clinic/patients/{PATIENT}/plan")
    # accept every item left undecided (the options to consider), then create the plan
    for name in set(
        page.locator("input[type=radio][value=accept]").evaluate_all("els => els.map(e => e.name)")
    ):
        if not page.locator(f"input[name='{name}']:checked").count():
            page.locator(f"input[name='{name}'][value=accept]").check()
    page.get_by_role("button", name="Create the plan").click()
    page.wait_for_url(f"**/clinic/patients/{PATIENT}/tasks")


def test_the_workspace_pages_read_as_a_product(
    chromium: Browser, base_url: str, axe_script: Path, screenshots: Path
) -> None:
    context = chromium.new_context(
        viewport={"width": 1280, "height": 900}, bypass_csp=True, locale="en-US"
    )
    page = context.new_page()
    sign_in(page, base_url, "demo-clinician")
    violations: dict[str, str] = {}

    def check(name: str) -> None:
        found = axe(page, axe_script)
        if found:
            violations[name] = describe(found)
        page.screenshot(path=str(screenshots / f"workspace-{name}.png"), full_page=True)

    # the patient page: the graded banner first, then who the patient is and one primary action
    page.goto(f"{base_url}/clinic/patients/{PATIENT}")
    banner = page.get_by_role("alert").first
    expect(banner.locator(".grade-urgent h3")).to_contain_text("URGENT")
    expect(banner.locator(".grade-safety h3")).to_contain_text("SAFETY")
    header = page.locator(".patient-header")
    expect(header).to_contain_text("Thoracic spine")
    expect(header).to_contain_text("T11-T12")
    expect(header).to_contain_text("months")
    expect(header.locator("abbr", has_text="PHQ-9")).to_be_visible()
    expect(page.locator(".action-bar .primary")).to_have_count(1)
    expect(page.locator(".action-bar .primary")).to_have_text("Build a care plan")
    check("patient")

    # the list: by open alerts, the most urgent first, with its badge; then by name
    page.goto(f"{base_url}/clinic/patients")
    expect(page.locator("nav.sort [aria-current]")).to_have_text("Open alerts")  # the default
    first = page.locator("table.patients tbody tr").first
    expect(first.locator(".severity")).to_have_text("Emergency")
    expect(page.locator("table.patients time.date").first).to_have_attribute(
        "datetime", re.compile(r"\d{4}-\d\d-\d\d")
    )
    check("patient-list")
    page.get_by_role("link", name="Name").click()
    expect(page.locator("nav.sort [aria-current]")).to_have_text("Name")

    # the task board: eleven follow-ups in one row, columns that fit at 1280 and at 1024 px
    _decide_plan(page, base_url)
    group = page.locator("li.group", has_text="Opioid taper follow-up")
    expect(group.locator(".count")).to_have_text(re.compile(r"× \d+"))
    assert int(group.locator(".count").inner_text().strip("× ")) >= 10
    _assert_fits(page)
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 6000, height
    check("task-board")
    page.set_viewport_size({"width": 1024, "height": 800})
    _assert_fits(page)
    page.screenshot(path=str(screenshots / "workspace-task-board-1024.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    # an action inside the group comes back to the same task, its group open
    group.locator("summary").first.click()
    follow_up = group.locator("li.card").nth(1)
    task_id = (follow_up.get_attribute("id") or "").removeprefix("task-")
    follow_up.get_by_role("button", name=re.compile(r"^Accept: ")).click()
    page.wait_for_url(re.compile(rf"at={task_id}#task-{task_id}$"))
    moved = page.locator(f"#task-{task_id}")
    expect(moved).to_be_visible()
    accepted = page.locator(".column.status-accepted", has=moved)
    expect(accepted).to_have_count(1)
    _assert_fits(page)
    check("task-board-after-accept")

    # narrowed to one discipline by the GET form
    page.get_by_label("Discipline").select_option("psychology")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("section.discipline h2")).to_have_text(["Psychology"])
    expect(page.get_by_role("status").first).to_contain_text("Showing")
    check("task-board-psychology")

    # worklists: red flags right after the inbox, dates that never wrap
    page.goto(f"{base_url}/clinic/worklists")
    headings = page.locator("main h2").all_inner_texts()
    assert headings.index("Patients with open red flags") < headings.index("My tasks")
    for cell in page.locator("table.worklist td.nowrap").all()[:20]:
        box = cell.locator("time").first.bounding_box() if cell.locator("time").count() else None
        if box:
            assert box["height"] < 30, box  # one line
    check("worklists")
    context.close()
    assert not violations, violations


def test_dates_follow_the_browsers_language(
    chromium: Browser, base_url: str, screenshots: Path
) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    sign_in(page, base_url, "demo-clinician")
    page.goto(f"{base_url}/clinic/patients/{PATIENT}")
    surgery = page.locator(".patient-header time[datetime='2025-02-03']")
    expect(surgery).to_have_text("3 Feb 2025")
    expect(surgery).to_have_attribute("title", "2025-02-03")
    context.close()
