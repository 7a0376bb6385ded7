"""Dates in the reader's own format (web/dates.py): the browser's language picks the CLDR
format, the ISO date stays in <time datetime> and on hover, and nothing breaks on a header a
browser would never send."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from babel.dates import format_date
from fastapi.testclient import TestClient

import factories
from secondlook.examples import load_example
from secondlook.web.dates import date_html, datetime_html, locale_from_header

DAY = dt.date(2026, 12, 1)


@pytest.mark.parametrize(
    ("header", "shown"),
    [
        (None, "Dec 1, 2026"),  # en_US by default
        ("en-US,en;q=0.9", "Dec 1, 2026"),
        ("en-GB,en;q=0.8", "1 Dec 2026"),
        ("es-ES,es;q=0.9,en;q=0.5", "1 dic 2026"),
        ("de-DE", "01.12.2026"),
        ("fr;q=0.1, es;q=0.9", "1 dic 2026"),  # by q-value, not by position
        ("xx-YY, en-GB;q=0.5", "1 Dec 2026"),  # an unknown language is skipped
        ("*", "Dec 1, 2026"),
        ("en;q=abc", "Dec 1, 2026"),  # a broken q-value counts as 0: not chosen
        ("x" * 5000, "Dec 1, 2026"),
    ],
)
def test_the_locale_comes_from_accept_language(header: str | None, shown: str) -> None:
    html = str(date_html(DAY, locale_from_header(header)))
    assert html == (f'<time class="date" datetime="2026-12-01" title="2026-12-01">{shown}</time>')


def test_iso_text_datetimes_and_non_dates() -> None:
    en = locale_from_header(None)
    assert 'datetime="2026-12-01"' in date_html("2026-12-01", en)
    assert str(date_html(None, en)) == "" and str(date_html("", en)) == ""
    # a text that is not a date is shown as it is, escaped
    assert str(date_html("<b>soon</b>", en)) == "&lt;b&gt;soon&lt;/b&gt;"
    stamp = datetime_html(dt.datetime(2026, 12, 1, 14, 5, tzinfo=dt.UTC), en)
    assert 'datetime="2026-12-01T14:05Z"' in stamp and "UTC</time>" in stamp
    assert "Dec 1, 2026" in stamp


def test_pages_render_dates_in_the_browsers_language(
    browser: TestClient, clinic: factories.Clinic
) -> None:
    factories.signed_in(browser, clinic.clinician)
    path = f"/clinic/patients/{clinic.patient.id}"
    surgery = dt.date.fromisoformat(load_example("cauda-equina")["surgeries"][0]["date"])
    iso = surgery.isoformat()
    shown = {}
    for language in ("en-US", "en-GB", "es"):
        html = browser.get(path, headers={"Accept-Language": language}).text
        found = re.search(
            rf'<time class="date" datetime="{iso}" title="{iso}">([^<]+)</time>', html
        )
        assert found, language
        shown[language] = found.group(1)
    assert shown["en-US"] == format_date(surgery, "medium", locale="en_US")
    assert shown["en-GB"] == format_date(surgery, "medium", locale="en_GB")
    assert shown["es"] == format_date(surgery, "medium", locale="es")
    assert len(set(shown.values())) == 3
