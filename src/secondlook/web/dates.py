"""Dates on the clinician's pages in the reader's own format (CLDR data through Babel).

A date is shown as the browser's language writes it ("Dec 1, 2026" for en-US, "1 Dec 2026"
for en-GB, "1 dic 2026" for es), inside ``<time datetime="2026-12-01">`` with the ISO date as
its title, so the exact date is one hover away and machines read it unambiguously. The medium
CLDR format is used because it spells the month: "01/12/2026" means two different days on the
two sides of the Atlantic, "1 Dec 2026" only one. Stored data, the API, FHIR, exports and PDFs
keep ISO 8601 (docs/web.md, "Dates")."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape
from starlette.requests import Request

DEFAULT_LOCALE = "en_US"
# A header longer than this is not a browser's: read only its start (it is attacker-chosen).
_HEADER_LIMIT = 200


@lru_cache(maxsize=256)
def _parse(tag: str) -> Locale | None:
    try:
        return Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return None


@lru_cache(maxsize=256)
def locale_from_header(header: str | None) -> Locale:
    """The first language of an ``Accept-Language`` header (by its q-values) that CLDR knows,
    else en_US. A bare language ("en", "de") takes CLDR's default territory for it."""
    choices: list[tuple[float, int, str]] = []
    for i, part in enumerate((header or "")[:_HEADER_LIMIT].split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*":
            continue
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if q > 0:
            choices.append((-q, i, tag))
    for _, _, tag in sorted(choices):
        found = _parse(tag)
        if found is not None:
            return found
    fallback = _parse(DEFAULT_LOCALE)
    assert fallback is not None
    return fallback


def locale_of(request: Request | None) -> Locale:
    return locale_from_header(request.headers.get("accept-language") if request else None)


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def date_html(value: Any, locale: Locale) -> Markup:
    """``<time>`` with the date in the locale's words and the ISO date; an empty value is
    an empty string, and a text that is not a date is shown as it is (escaped)."""
    if value is None or value == "":
        return Markup("")
    day = _as_date(value)
    if day is None:
        return escape(str(value))
    iso = day.isoformat()
    text = format_date(day, format="medium", locale=locale)
    return Markup('<time class="date" datetime="{0}" title="{0}">{1}</time>').format(iso, text)


def datetime_html(value: Any, locale: Locale) -> Markup:
    """A stored UTC time as the locale writes the day and the hour, with "UTC" said (the server
    does not know the reader's time zone), and the ISO timestamp in ``datetime``."""
    if not isinstance(value, dt.datetime):
        return date_html(value, locale)
    moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    moment = moment.astimezone(dt.UTC)
    iso = moment.isoformat(timespec="minutes").replace("+00:00", "Z")
    text = (
        f"{format_date(moment.date(), format='medium', locale=locale)} "
        f"{format_time(moment.time(), format='short', locale=locale)} UTC"
    )
    return Markup('<time class="date" datetime="{0}" title="{0}">{1}</time>').format(iso, text)


@pass_context
def date_filter(context: Context, value: Any) -> Markup:
    return date_html(value, locale_of(context.get("request")))


@pass_context
def datetime_filter(context: Context, value: Any) -> Markup:
    return datetime_html(value, locale_of(context.get("request")))
