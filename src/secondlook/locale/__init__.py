"""The patient's language: gettext catalogs, read from their ``.po`` files when first needed.

Two catalogs per language, under ``locale/<lang>/LC_MESSAGES/``:

- ``messages.po``: the portal's pages, the patient handout, the safety texts (``care.warnings``,
  ``instruments.safety``), the patients' words of the care vocabulary and the item text of the
  questionnaires whose translation may ship (CLINICAL.md section 6);
- ``knowledge.po``: the knowledge base's names and patient texts, each message id being the
  English text itself, so a changed English text has no translation until a translator
  confirms one: the page shows the new English, never a translation of the old text.

The ``.po`` files are read directly (no compiled ``.mo``): a clean clone installs and tests with
nothing to build and no binary file in git. A message without a translation, with an empty or
fuzzy one, or whose translation does not carry the same ``{placeholders}`` is given in English:
never blank, and never a format error on a page. English is the source language and has no
catalog.
"""

from __future__ import annotations

import gettext as _gettext
import io
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

HERE: Final = Path(__file__).parent
DEFAULT_LANGUAGE: Final = "en"
#: The languages a patient may choose, each named in its own language (the chooser shows them).
LANGUAGES: Final[Mapping[str, str]] = {"en": "English", "es": "Español"}
DOMAINS: Final = ("messages", "knowledge")


def po_path(language: str, domain: str) -> Path:
    return HERE / language / "LC_MESSAGES" / f"{domain}.po"


_PERCENT_FIELD = re.compile(r"%\((\w+)\)s|%%")


def placeholders(text: str) -> set[str]:
    """The fields of a message: ``{name}`` (Python code) and ``%(name)s`` (templates'
    ``{% trans %}``); ``{{``, ``}}`` and ``%%`` are literal."""
    fields = {f"%({m.group(1)})" for m in _PERCENT_FIELD.finditer(text) if m.group(1)}
    try:
        fields |= {f"{{{n}}}" for _, n, _, _ in string.Formatter().parse(text) if n is not None}
    except ValueError:  # an unbalanced brace: treated as a field set of its own
        fields.add("<unbalanced>")
    return fields


def _usable(catalog: Catalog) -> Catalog:
    """The catalog without the translations that would show wrong: a translation whose
    placeholders differ from its message's (the page would fail to format it) is dropped, so
    the English is shown. (Fuzzy and empty ones are dropped by ``write_mo``.)"""
    for message in list(catalog):
        if not message.id or not isinstance(message.id, str):
            continue
        if isinstance(message.string, str) and message.string.strip():
            if placeholders(message.string) != placeholders(message.id):
                message.string = ""
        elif isinstance(message.string, str):
            message.string = ""
    return catalog


def read_catalog(language: str, domain: str) -> Catalog | None:
    path = po_path(language, domain)
    if not path.is_file():
        return None
    with path.open("rb") as handle:
        return read_po(handle, locale=language, domain=domain)


def _gnu(catalog: Catalog) -> _gettext.GNUTranslations:
    buffer = io.BytesIO()
    write_mo(buffer, _usable(catalog), use_fuzzy=False)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


@dataclass(frozen=True)
class Translator:
    """The words of one language. Every method returns the English message when there is no
    usable translation, and never an empty string for a non-empty message."""

    language: str
    _catalog: _gettext.NullTranslations
    #: (context, message) of every usable translation: whether a whole text is translated.
    _translated: frozenset[tuple[str | None, str]] = frozenset()

    def has(self, message: str, context: str | None = None) -> bool:
        """Whether ``message`` has a usable translation (always, in English)."""
        return self.language == DEFAULT_LANGUAGE or (context, message) in self._translated

    def gettext(self, message: str) -> str:
        if not message:
            return message
        found = self._catalog.gettext(message)
        return found if found.strip() else message

    def pgettext(self, context: str, message: str) -> str:
        if not message:
            return message
        found = self._catalog.pgettext(context, message)
        return found if found.strip() else message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        found = self._catalog.ngettext(singular, plural, n)
        return found if found.strip() else (singular if n == 1 else plural)

    def format(self, message: str, **values: object) -> str:
        """The translation of ``message`` with its ``{placeholders}`` filled in."""
        return self.gettext(message).format(**values)

    @property
    def babel_locale(self) -> str:
        return "en_US" if self.language == "en" else f"{self.language}_US"


@cache
def translator(language: str) -> Translator:
    """The translator of a language (English for an unknown one): the portal's messages, then
    the knowledge base's texts, then the English message itself."""
    if language not in LANGUAGES or language == DEFAULT_LANGUAGE:
        return Translator(DEFAULT_LANGUAGE, _gettext.NullTranslations())
    found = (read_catalog(language, domain) for domain in DOMAINS)
    return from_catalogs(language, [c for c in found if c is not None])


def from_catalogs(language: str, catalogs: Sequence[Catalog]) -> Translator:
    """A translator looking messages up in ``catalogs`` in order, then giving the English."""
    chain: _gettext.NullTranslations = _gettext.NullTranslations()
    translated: set[tuple[str | None, str]] = set()
    for catalog in reversed(catalogs):
        translations = _gnu(catalog)
        translated.update(
            (m.context, m.id)
            for m in catalog
            if isinstance(m.id, str) and m.id and m.string and not m.fuzzy
        )
        translations.add_fallback(chain)
        chain = translations
    return Translator(language, chain, frozenset(translated))


ENGLISH: Final = translator(DEFAULT_LANGUAGE)


def negotiate(accept_language: str | None) -> str:
    """The language to use from an ``Accept-Language`` header (``es-US,es;q=0.9,en;q=0.8``):
    the first offered language with the highest weight, else English. A malformed header is
    read as far as it makes sense, never refused."""
    best: tuple[float, int, str] | None = None
    for position, part in enumerate((accept_language or "")[:1000].split(",")):
        pieces = part.strip().split(";")
        tag = pieces[0].strip().lower().replace("_", "-")
        primary = tag.split("-", 1)[0]
        if primary not in LANGUAGES:
            continue
        weight = 1.0
        for parameter in pieces[1:]:
            name, _, value = parameter.strip().partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if not 0 < weight <= 1:
            continue
        candidate = (-weight, position, primary)
        if best is None or candidate < best:
            best = candidate
    return best[2] if best is not None else DEFAULT_LANGUAGE


def language_of(chosen: str | None, accept_language: str | None) -> str:
    """The patient's language: their own choice, else the browser's, else English."""
    if chosen is not None and chosen in LANGUAGES:
        return chosen
    return negotiate(accept_language)
