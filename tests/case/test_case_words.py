"""Every code of the case vocabulary reads as words."""

from __future__ import annotations

import re

from secondlook.case import vocabulary, words
from secondlook.case.facts import FACTS

# Code lists that are identifiers of the knowledge base (their names come from it) or field
# names, not words shown to a clinician.
NOT_WORDS = {
    "ETIOLOGY_IDS",
    "WORKUP_IDS",
    "RED_FLAG_IDS",
    "SAFETY_ALERT_IDS",
    "SCS_PSYCHOSOCIAL_FACTORS",
    "INSTRUMENT_IDS",
}
# Single words that are abbreviations, which would read wrongly as they are.
ABBREVIATIONS = {"acdf", "alif", "plif", "tlif", "xlif", "xray", "mri", "ct", "dexa"}


def _codes() -> set[str]:
    out: set[str] = set()
    for name in dir(vocabulary):
        value = getattr(vocabulary, name)
        if name in NOT_WORDS or not isinstance(value, tuple):
            continue
        out |= {v for v in value if isinstance(v, str)}
    # and the codes of derived facts (a course, the risk factors present); identifiers of the
    # knowledge base and sentences are not codes to put in words
    ids = {c for name in NOT_WORDS for c in getattr(vocabulary, name)}
    for spec in FACTS.values():
        out |= {c for c in spec.codes if re.fullmatch(r"[a-z0-9-]+", c) and c not in ids}
    return out


def test_every_code_that_is_not_a_plain_word_has_words() -> None:
    codes = _codes()
    assert len(codes) > 100
    missing = sorted(
        c
        for c in codes
        if (not re.fullmatch(r"[a-z]+", c) or c in ABBREVIATIONS) and c not in words.WORDS
    )
    assert missing == []


def test_words_are_for_codes_of_the_vocabulary() -> None:
    codes = _codes()
    assert set(words.WORDS) - codes == set()


# Words that are written with a hyphen in English.
HYPHENATED = {"non-dermatomal", "bed-bound"}


def test_a_word_is_never_a_code() -> None:
    for text in words.WORDS.values():
        assert text in HYPHENATED or not re.fullmatch(r"[a-z]+(-[a-z]+)+", text), text


def test_text_that_is_not_a_code_is_kept() -> None:
    assert words.word("mri-gadolinium") == "MRI with gadolinium"
    assert words.word("sitting") == "sitting"
    assert words.word("A sentence.") == "A sentence."
