"""An administrator's round in Chromium: add a colleague, change their discipline, deactivate
them, invite a patient to the portal, filter the audit trail; axe-core checks every page seen
(the refusal and confirmation pages included), and each page is screenshotted for review."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

PASSWORD = "walnut harbour violin sketch"


def sign_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("secondlook-demo")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def axe(page: Page, script: Path) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page (injected: the context
    bypasses CSP for the checker alone)."""
    page.add_script_tag(path=str(script))
    result: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [v for v in result["violations"] if v.get("impact") in ("serious", "critical")]


def describe(violations: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}" for v in violations
    )


def _check(page: Page, axe_script: Path, screenshots: Path, name: str) -> None:
    page.screenshot(path=str(screenshots / f"admin-{name}.png"), full_page=True)
    violations = axe(page, axe_script)
    assert not violations, describe(violations)


def test_an_administrator_manages_accounts_from_the_pages(
    chromium: Browser, base_url: str, axe_script: Path, screenshots: Path
) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    sign_in(page, base_url, "demo-admin")
    assert page.url.endswith("/admin/users")
    _check(page, axe_script, screenshots, "users")

    name = f"nurse-{uuid.uuid4().hex[:6]}"
    page.get_by_label("Username").fill(name)
    page.get_by_label("Role").select_option("coordinator")
    page.get_by_label("Temporary password", exact=True).fill("short")
    page.get_by_label("Temporary password again").fill("short")
    # The browser's own minlength check would stop the form; the server's answer is tested here.
    page.evaluate("document.getElementById('password').removeAttribute('minlength')")
    page.get_by_role("button", name="Add user").click()
    assert "at least 15 characters" in page.locator(".error-summary").inner_text()
    _check(page, axe_script, screenshots, "users-refused")
    page.get_by_label("Temporary password", exact=True).fill(PASSWORD)
    page.get_by_label("Temporary password again").fill(PASSWORD)
    page.get_by_role("button", name="Add user").click()
    assert "The user was added." in page.locator("main").inner_text()

    page.locator("select#discipline").select_option("psychology")
    page.get_by_role("button", name="Save role and discipline").click()
    assert "Psychology" in page.locator("p.meta").inner_text()
    page.get_by_role("button", name=f"Deactivate {name}").click()
    assert "deactivated" in page.locator("p.meta").inner_text()
    _check(page, axe_script, screenshots, "user")

    page.goto(f"{base_url}/admin/invitations")
    page.get_by_label("Patient record number").fill("2")
    page.get_by_label("Username for the patient").fill(f"portal-{uuid.uuid4().hex[:6]}")
    page.get_by_label("Patient's email address").fill("patient@example.org")
    page.get_by_role("button", name="Send invitation").click()
    assert "in the outbox" in page.locator("main").inner_text()
    assert "Waiting for the patient" in page.locator("table").inner_text()
    _check(page, axe_script, screenshots, "invitations")

    page.goto(f"{base_url}/admin/audit")
    page.get_by_label("Action").fill("invitation.create")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.audit tbody tr")
    assert rows.count() == 1 and "invitation.create" in rows.first.inner_text()
    _check(page, axe_script, screenshots, "audit")
    for path in ("/admin/tokens", "/admin/settings"):
        page.goto(f"{base_url}{path}")
        _check(page, axe_script, screenshots, path.rsplit("/", 1)[-1])
    context.close()


def test_an_expired_or_unknown_invitation_link_is_a_clear_page(
    chromium: Browser, base_url: str, axe_script: Path, screenshots: Path
) -> None:
    context = chromium.new_context(viewport={"width": 375, "height": 812}, bypass_csp=True)
    page = context.new_page()
    answer = page.goto(f"{base_url}/welcome?token=not-a-real-link")
    assert answer is not None and answer.status == 404
    assert "This link no longer works" in page.locator("h1").inner_text()
    _check(page, axe_script, screenshots, "welcome-unknown")
    context.close()
