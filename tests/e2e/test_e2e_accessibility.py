"""axe-core, run in Chromium on the main pages, finds no serious or critical violations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, ViewportSize

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


def describe(violations: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}" for v in violations
    )


CLINICIAN_PAGES = [
    "/clinic/patients",
    "/clinic/patients/1",
    "/clinic/patients/new",
    "/clinic/patients/2/intake",
    "/clinic/book",
    "/clinic/book/treatment/spinal-cord-stimulation",
    "/clinic/patients/1/conference",
    "/clinic/patients/3/plan",
    "/clinic/patients/3/tasks",
    "/clinic/worklists",
]
ADMIN_PAGES = [
    "/admin/users",
    "/admin/users/1",
    "/admin/tokens",
    "/admin/invitations",
    "/admin/settings",
    "/admin/audit",
    "/account",
]
PATIENT_PAGES = [
    "/portal",
    "/portal/questionnaires/phq-9",
    "/portal/plan",
    "/portal/learn",
    "/portal/reminders",
    "/portal/language",
]


@pytest.mark.parametrize(
    ("username", "pages", "viewport", "locale"),
    [
        (None, ["/login"], {"width": 1280, "height": 900}, "en-US"),
        ("demo-clinician", CLINICIAN_PAGES, {"width": 1280, "height": 900}, "en-US"),
        ("demo-patient", PATIENT_PAGES, {"width": 375, "height": 812}, "en-US"),
        # The portal in Spanish, with the GAD-7 shown in English (its text marked lang="en").
        (
            "demo-patient",
            [*PATIENT_PAGES, "/portal/questionnaires/gad-7"],
            {"width": 375, "height": 812},
            "es-US",
        ),
        ("demo-admin", ADMIN_PAGES, {"width": 1280, "height": 900}, "en-US"),
    ],
)
def test_no_serious_or_critical_violations(
    chromium: Browser,
    base_url: str,
    axe_script: Path,
    screenshots: Path,
    username: str | None,
    pages: list[str],
    viewport: ViewportSize,
    locale: str,
) -> None:
    # axe is injected as a script, which the pages' CSP (script-src 'self') rightly refuses;
    # this context alone bypasses CSP so that the checker can run.
    context = chromium.new_context(viewport=viewport, bypass_csp=True, locale=locale)
    page = context.new_page()
    if username:
        sign_in(page, base_url, username)
    found = {}
    for path in pages:
        page.goto(f"{base_url}{path}")
        violations = axe(page, axe_script)
        if violations:
            found[path] = describe(violations)
            name = path.strip("/").replace("/", "_") or "root"
            page.screenshot(path=str(screenshots / f"axe-{name}.png"), full_page=True)
    context.close()
    assert not found, found


def test_the_checker_finds_a_known_violation(
    chromium: Browser, base_url: str, axe_script: Path
) -> None:
    """Guard against a check that passes because axe never ran."""
    context = chromium.new_context(bypass_csp=True)
    page = context.new_page()
    page.goto(f"{base_url}/login")
    page.evaluate("document.querySelector('label[for=username]').remove()")
    violations = axe(page, axe_script)
    context.close()
    assert "label" in {v["id"] for v in violations}
