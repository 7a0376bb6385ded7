"""A patient signs in on a phone-sized screen, fills in the due PHQ-9 one question per screen,
answers item 9 above 0 and sees the safety message at once; the care team sees the alert."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect
from pypdf import PdfReader

from secondlook.instruments import INSTRUMENTS, safety_text

pytestmark = pytest.mark.browser
PHONE: ViewportSize = {"width": 375, "height": 812}


def sign_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("secondlook-demo")
    page.get_by_role("button", name="Sign in").click()


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"page is {width}px wide on a {PHONE['width']}px screen"


def test_patient_completes_phq9_and_sees_the_safety_message(
    chromium: Browser, base_url: str, screenshots: Path, tmp_path: Path
) -> None:
    context = chromium.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, accept_downloads=True
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(page, base_url, "demo-patient")
    expect(page).to_have_url(f"{base_url}/portal")
    no_sideways_scroll(page)
    page.screenshot(path=str(screenshots / "patient-home-375.png"), full_page=True)

    phq9 = INSTRUMENTS["phq-9"].item_text
    assert phq9 is not None
    page.get_by_role("link", name=phq9.title).click()
    for number, item in enumerate(phq9.items, start=1):
        expect(page.get_by_text(f"Question {number} of 9")).to_be_visible()
        expect(page.locator(".question")).to_have_text(item.text)
        no_sideways_scroll(page)
        if number == 1:
            page.screenshot(path=str(screenshots / "patient-phq9-item1-375.png"), full_page=True)
        answer = "Several days" if number == 9 else "Not at all"
        page.get_by_label(answer, exact=True).check()
        page.get_by_role("button", name="Finish" if number == 9 else "Next").click()

    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text(safety_text("self-harm-risk").patient)
    expect(alert).to_contain_text("sent to your care team")
    no_sideways_scroll(page)
    page.screenshot(path=str(screenshots / "patient-safety-message-375.png"), full_page=True)

    page.goto(f"{base_url}/portal")
    expect(page.get_by_role("link", name=phq9.title)).to_have_count(0)  # no longer due

    page.get_by_role("link", name="My plan", exact=True).first.click()
    expect(page.get_by_role("heading", name="My plan")).to_be_visible()
    no_sideways_scroll(page)
    page.screenshot(path=str(screenshots / "patient-plan-375.png"), full_page=True)
    with page.expect_download() as info:
        page.get_by_role("link", name="Download my plan (PDF)").click()
    target = tmp_path / "handout.pdf"
    info.value.save_as(target)
    content = target.read_bytes()
    assert content.startswith(b"%PDF-")
    assert len(PdfReader(io.BytesIO(content)).pages) >= 1
    (screenshots / "patient-handout.pdf").write_bytes(content)

    page.get_by_role("link", name="Learn", exact=True).click()
    expect(page.get_by_role("heading", name="What it is")).to_be_visible()
    no_sideways_scroll(page)
    assert not errors, errors
    context.close()

    # The care team sees the alert at the top of the patient's page.
    staff = chromium.new_context()
    clinic = staff.new_page()
    sign_in(clinic, base_url, "demo-clinician")
    clinic.goto(f"{base_url}/clinic/patients/1")
    banner = clinic.get_by_role("alert")
    expect(banner).to_contain_text("PHQ-9 answered")
    expect(banner).to_contain_text("same-day safety assessment")
    clinic.screenshot(path=str(screenshots / "clinician-sees-phq9-alert.png"))
    staff.close()
