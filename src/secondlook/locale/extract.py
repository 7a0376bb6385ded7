"""What must be translated: the catalog templates (``.pot``) built from the sources.

- ``messages``: the words marked in the portal's templates and the handout's
  (``_("...")``, ``{% trans %}``) and in the Python that makes them (``gettext``,
  ``translate``, ``words.gettext``/``words.format``), plus texts defined as data elsewhere:
  the safety texts for patients (``instruments.safety``), the patients' words of the care
  vocabulary, the instruments' names and the item text of the questionnaires that ship
  (each under its instrument id as context);
- ``knowledge``: the knowledge base's names and patient texts (message id = the English text,
  a comment names the record).

``scripts/update-catalogs`` writes these templates and merges them into every language's
``.po``; the catalog test checks that each message has a translation."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir

import secondlook
from secondlook.care import vocabulary
from secondlook.instruments import INSTRUMENTS
from secondlook.instruments.model import ItemText
from secondlook.instruments.safety import DEFAULT_SAFETY_TEXTS
from secondlook.knowledge import default_knowledge

PACKAGE = Path(secondlook.__file__).parent
#: The files whose marked words are the portal's and the handout's.
SOURCES = (
    "web/templates/base.html",
    "web/templates/portal/*.html",
    "reports/templates/handout.html",
    "web/portal.py",
    "web/data.py",
    "web/clinic.py",
    "reports/pdf.py",
    "care/warnings.py",
)
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "translate": None,
    "format": None,
}


def _method_map() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for pattern in SOURCES:
        out.append((pattern, "jinja2" if pattern.endswith(".html") else "python"))
    return out


def _header(domain: str) -> Catalog:
    return Catalog(
        project=f"SecondLook {domain}",
        version=secondlook.__version__,
        copyright_holder="SecondLook contributors",
        charset="utf-8",
    )


def messages_template() -> Catalog:
    catalog = _header("messages")
    options = {
        pattern: {"extensions": "jinja2.ext.i18n", "trimmed": "false"}
        for pattern, method in _method_map()
        if method == "jinja2"
    }
    for filename, lineno, message, comments, context in extract_from_dir(
        str(PACKAGE),
        method_map=[
            (p, "jinja2.ext:babel_extract" if m == "jinja2" else m) for p, m in _method_map()
        ],
        options_map=options,
        keywords=KEYWORDS,
        comment_tags=("Translators:",),
        strip_comment_tags=True,
    ):
        if isinstance(message, str) and not message.strip():
            continue
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    for alert_id, text in DEFAULT_SAFETY_TEXTS.items():
        catalog.add(text.patient, auto_comments=[f"safety alert {alert_id}: the patient's text"])
    for vocabulary_name, words in (
        ("owner", vocabulary.OWNER_LABELS_FOR_PATIENTS),
        ("task-status", vocabulary.TASK_STATUS_LABELS_FOR_PATIENTS),
    ):
        for code, word in words.items():
            catalog.add(word, auto_comments=[f"care vocabulary {vocabulary_name} {code}"])
    for instrument in INSTRUMENTS.values():
        catalog.add(instrument.name, auto_comments=[f"instrument {instrument.id}: its name"])
    for key in item_text_instruments():
        if key in ENGLISH_ONLY:
            continue
        item_text = INSTRUMENTS[key].item_text
        assert item_text is not None
        comment = [f"{key}: the official translation only (docs/web.md, 'Language')"]
        for part in _item_parts(item_text):
            catalog.add(part, context=key, auto_comments=comment)
    return catalog


#: Shipped questionnaires shown in English in every language, and why: a validated instrument is
#: shown in its developers' own translation or not at all, never in one of ours.
ENGLISH_ONLY = {
    "gad-7": "its Spanish version for the USA is published by the developers, but the text has "
    "not yet been checked word for word against their form",
}


def item_text_instruments() -> tuple[str, ...]:
    """The instruments whose item text ships (CLINICAL.md section 6): the ones the portal
    offers, and the only ones whose translation may be in the catalog."""
    return tuple(k for k, i in INSTRUMENTS.items() if i.item_text is not None)


def _item_parts(text: ItemText) -> Iterable[str]:
    yield text.title
    if text.preamble:
        yield text.preamble
    for item in text.items:
        yield item.text
        for answer in item.answers:
            yield answer.label


def knowledge_template() -> Catalog:
    catalog = _header("knowledge")
    kb = default_knowledge()
    catalog.version = kb.version
    for key, (_, record) in sorted(kb.records.items()):
        if ":" not in key:  # a record is listed under its id and under "kind:id": named once
            continue
        for field in ("name", "patient"):
            value = getattr(record, field, None)
            if isinstance(value, str) and value.strip():
                found = catalog.get(value)
                if found is not None:
                    found.auto_comments.append(f"{key} {field}")
                else:
                    catalog.add(value, auto_comments=[f"{key} {field}"])
    return catalog
