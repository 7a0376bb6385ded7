"""A Spanish-speaking patient on a phone-sized screen: a browser set to Spanish gets the portal
in Spanish (page language, headings, the PHQ-9 in its official Spanish), with nothing wider
than the screen. The screenshots are looked at (docs/web.md, "Language")."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

pytestmark = pytest.mark.browser
PHONE: ViewportSize = {"width": 375, "height": 812}


def _no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"page is {width}px wide on a {PHONE['width']}px screen"


def test_a_spanish_browser_gets_the_portal_in_spanish_at_375px(
    chromium: Browser, base_url: str, screenshots: Path
) -> None:
    context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="es-US")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{base_url}/login")
    page.get_by_label("Username").fill("demo-patient")
    page.get_by_label("Password").fill("secondlook-demo")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base_url}/portal")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", name="Cuestionarios para llenar")).to_be_visible()
    expect(page.get_by_role("button", name="Cerrar sesión")).to_be_visible()
    _no_sideways_scroll(page)
    page.screenshot(path=str(screenshots / "patient-home-es-375.png"), full_page=True)

    page.get_by_role("link", name="Cuestionario sobre la Salud del Paciente (PHQ-9)").click()
    expect(page.get_by_text("Pregunta 1 de 9")).to_be_visible()
    expect(page.locator(".question")).to_have_text("Poco interés o placer en hacer cosas")
    expect(page.get_by_label("Ningún día", exact=True)).to_be_visible()
    _no_sideways_scroll(page)
    page.screenshot(path=str(screenshots / "patient-phq9-es-375.png"), full_page=True)
    page.get_by_role("button", name="Volver al inicio").click()
    expect(page).to_have_url(f"{base_url}/portal")

    for path, heading in (
        ("/portal/plan", "Mi plan"),
        ("/portal/learn", "El dolor después de una cirugía de columna"),
        ("/portal/language", "Idioma"),
    ):
        page.goto(f"{base_url}{path}")
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        _no_sideways_scroll(page)
        name = path.rsplit("/", 1)[1]
        page.screenshot(path=str(screenshots / f"patient-{name}-es-375.png"), full_page=True)
    assert not errors, errors
    context.close()
