"""A clinician signs in, enters a case through the intake form (first with a mistake, shown at
its field), sees the red-flag banner, and downloads the care-plan summary PDF."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect
from pypdf import PdfReader

pytestmark = pytest.mark.browser


def sign_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("secondlook-demo")
    page.get_by_role("button", name="Sign in").click()


def test_clinician_enters_a_case_and_sees_the_red_flag_banner(
    chromium: Browser, base_url: str, screenshots: Path, tmp_path: Path
) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", on_console)

    sign_in(page, base_url, "demo-clinician")
    expect(page).to_have_url(f"{base_url}/clinic/patients")
    expect(page.get_by_role("heading", name="Patients")).to_be_visible()
    page.screenshot(path=str(screenshots / "clinician-patients.png"), full_page=True)

    page.get_by_role("link", name="New patient").click()
    page.get_by_label("Name (required)").fill("Test Person")
    page.get_by_label("MRN").fill("E2E-001")
    page.locator("#f-region").select_option("lumbar")
    page.locator("#f-patient-age").fill("fifty")  # a mistake, caught by the case model
    page.locator("#f-surgeries-0-date").fill("2026-06-28")
    page.locator("#f-surgeries-0-procedure").select_option("microdiscectomy")
    page.locator("#f-surgeries-0-levels").fill("L4-L5")
    page.locator("#f-pain-axial_nrs").fill("7")
    page.locator("#f-pain-limb_nrs").fill("8")
    page.locator("#f-neuro-motor_deficit").select_option("progressive")
    page.locator("#f-neuro-saddle_anesthesia").select_option("yes")
    page.locator("#f-neuro-urinary_retention").select_option("yes")
    page.locator("#f-neuro-bilateral_limb_symptoms").select_option("yes")
    page.locator("#f-systemic-fever").select_option("no")
    page.get_by_role("button", name="Create patient and save case and assess").click()

    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_have_attribute("role", "alert")
    age = page.locator("#f-patient-age")
    expect(age).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-patient-age-error")).to_contain_text("whole number")
    page.screenshot(path=str(screenshots / "clinician-intake-error.png"), full_page=False)
    summary.get_by_role("link").first.click()  # the summary links to the field
    expect(age).to_be_focused()
    expect(page.locator("#f-neuro-saddle_anesthesia")).to_have_value("yes")  # entries kept

    age.fill("55")
    page.get_by_role("button", name="Create patient and save case and assess").click()

    banner = page.get_by_role("alert")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Cauda equina syndrome")
    expect(banner).to_contain_text("EMERGENCY")
    expect(page.get_by_role("heading", name="Test Person")).to_be_visible()
    # the banner is the first thing in the page's main content, above the fold
    first = page.locator("main > *").first
    expect(first).to_have_attribute("role", "alert")
    box = banner.bounding_box()
    assert box is not None and box["y"] < 150
    assert "Test" not in page.url and "E2E-001" not in page.url
    page.screenshot(path=str(screenshots / "clinician-red-flag-banner.png"), full_page=False)

    # citations are one click away
    sources = page.locator(".treatments details.refs").first
    sources.locator("summary").click()
    expect(sources.locator("li").first).to_be_visible()

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Care-plan summary (PDF)").click()
    download = download_info.value
    target = tmp_path / "summary.pdf"
    download.save_as(target)
    content = target.read_bytes()
    assert content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(content))
    assert len(reader.pages) >= 1
    text = "".join(p.extract_text() for p in reader.pages)
    assert "Care-plan summary" in text
    assert "Cauda equina" in text
    (screenshots / "care-plan-summary.pdf").write_bytes(content)

    # the one expected error: the invalid form was answered 422 (Unprocessable Entity)
    assert not [p for p in problems if "status of 422" not in p], problems
    context.close()


def test_keyboard_reaches_the_skip_link_and_sign_in(
    chromium: Browser, base_url: str, screenshots: Path
) -> None:
    context = chromium.new_context()
    page = context.new_page()
    page.goto(f"{base_url}/login")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Username")).to_be_focused()
    page.keyboard.type("demo-clinician")
    page.keyboard.press("Tab")
    page.keyboard.type("secondlook-demo")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{base_url}/clinic/patients")
    page.screenshot(path=str(screenshots / "keyboard-signed-in.png"))
    context.close()
