"""Item text: what ships (NRS, PHQ-9, GAD-7) and what a site loads for licensed instruments.

SecondLook ships the full text only of instruments free to reproduce. For ODI, NDI, STarT Back,
PCS and DN4 a site that holds a licence provides the text in a YAML or JSON file::

    odi:                          # instrument id (CONTRACT.md §1.11)
      title: Oswestry Disability Index 2.1a
      preamble: ...               # optional: instructions shown before the items
      copyright: ...              # optional: the licensor's copyright line
      items:                      # exactly one entry per item, in published order
        - text: "Section 1: ..."
          answers:                # one label per answer value, lowest value first
            - "..."               # (ODI: 6 labels for values 0-5)

``load_item_text(path)`` validates the whole file and reports every problem at once, each
naming the file, the instrument and the item.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from os import PathLike
from pathlib import Path

import yaml

from secondlook.instruments.model import AnswerText, Instrument, ItemEntry, ItemText
from secondlook.instruments.registry import INSTRUMENTS

_INSTRUMENT_KEYS = {"title", "preamble", "copyright", "items"}
_ITEM_KEYS = {"text", "answers"}


class ItemTextInvalid(ValueError):
    """An item-text file that cannot be used; ``problems`` names file, instrument and item."""

    def __init__(self, problems: list[str]) -> None:
        self.problems: list[str] = list(problems)
        super().__init__("; ".join(self.problems))


class ItemTextUnavailable(LookupError):
    """The item text of a licensed instrument is not shipped and none was loaded."""


def shipped_item_text(instrument_id: str) -> ItemText | None:
    """The shipped text of an instrument, or ``None`` for a licensed one."""
    instrument = INSTRUMENTS.get(instrument_id)
    return instrument.item_text if instrument is not None else None


def _read(path: Path) -> object:
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ItemTextInvalid([f"{path}: cannot be read ({error.strerror or error})"]) from error
    try:
        if path.suffix.lower() == ".json":
            return json.loads(raw)
        return yaml.safe_load(raw)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise ItemTextInvalid([f"{path}: not valid YAML/JSON ({error})"]) from error


def _optional_text(
    where: str, block: Mapping[object, object], key: str, problems: list[str]
) -> str | None:
    value = block.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: {key} must be non-empty text")
        return None
    return value.strip()


def _parse_item(
    where: str, instrument: Instrument, number: int, raw: object, problems: list[str]
) -> ItemEntry | None:
    here = f"{where} item {number}"
    if not isinstance(raw, Mapping):
        problems.append(f"{here}: expected a mapping with 'text' and 'answers'")
        return None
    for key in sorted(set(map(str, raw)) - _ITEM_KEYS):
        problems.append(f"{here}: unknown key {key!r}")
    text = raw.get("text")
    ok = True
    if not isinstance(text, str) or not text.strip():
        problems.append(f"{here}: text is empty or missing")
        ok = False
    low, high = instrument.item_min[number - 1], instrument.item_max[number - 1]
    expected = high - low + 1
    answers = raw.get("answers")
    labels: list[AnswerText] = []
    if not isinstance(answers, list):
        problems.append(
            f"{here}: answer labels missing (expected a list of {expected} labels for values "
            f"{low}–{high})"
        )
        ok = False
    elif len(answers) != expected:
        problems.append(
            f"{here}: expected {expected} answer labels (values {low}–{high}), got {len(answers)}"
        )
        ok = False
    else:
        for value, label in zip(range(low, high + 1), answers, strict=True):
            if not isinstance(label, str) or not label.strip():
                problems.append(f"{here}: answer label for value {value} is empty")
                ok = False
            else:
                labels.append(AnswerText(value, label.strip()))
    if not ok or not isinstance(text, str):
        return None
    return ItemEntry(text=text.strip(), answers=tuple(labels))


def _parse_instrument(
    path: Path, instrument: Instrument, block: object, problems: list[str]
) -> ItemText | None:
    where = f"{path}: {instrument.id}"
    if not isinstance(block, Mapping):
        problems.append(f"{where}: expected a mapping with 'items'")
        return None
    for key in sorted(set(map(str, block)) - _INSTRUMENT_KEYS):
        problems.append(f"{where}: unknown key {key!r}")
    before = len(problems)
    title = _optional_text(where, block, "title", problems) or instrument.name
    preamble = _optional_text(where, block, "preamble", problems)
    copyright_line = _optional_text(where, block, "copyright", problems)
    items = block.get("items")
    if not isinstance(items, list):
        problems.append(f"{where}: 'items' missing (expected {instrument.item_count} items)")
        return None
    if len(items) != instrument.item_count:
        problems.append(f"{where}: expected {instrument.item_count} items, got {len(items)}")
        return None
    entries = [
        _parse_item(where, instrument, number, raw, problems)
        for number, raw in enumerate(items, start=1)
    ]
    if len(problems) > before:
        return None
    return ItemText(
        instrument=instrument.id,
        title=title,
        items=tuple(e for e in entries if e is not None),
        preamble=preamble,
        copyright=copyright_line,
        source=str(path),
    )


def load_item_text(path: str | PathLike[str]) -> dict[str, ItemText]:
    """Load a site's item text (YAML, or JSON for a ``.json`` file), validated.

    Raises :class:`ItemTextInvalid` listing every problem: unknown instrument, wrong item count,
    empty text, missing or empty answer labels, unknown keys; each names file, instrument and
    item. A site may also load text for NRS, PHQ-9 or GAD-7 (e.g. a translation).
    """
    file = Path(path)
    data = _read(file)
    if not isinstance(data, Mapping) or not data:
        raise ItemTextInvalid([f"{file}: expected a mapping from instrument id to its item text"])
    problems: list[str] = []
    out: dict[str, ItemText] = {}
    for key, block in data.items():
        instrument = INSTRUMENTS.get(key) if isinstance(key, str) else None
        if instrument is None:
            known = ", ".join(INSTRUMENTS)
            problems.append(f"{file}: unknown instrument {key!r} (known: {known})")
            continue
        parsed = _parse_instrument(file, instrument, block, problems)
        if parsed is not None:
            out[instrument.id] = parsed
    if problems:
        raise ItemTextInvalid(problems)
    return out
