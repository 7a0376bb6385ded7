"""Every code the assessment document can carry has a word for clinicians."""

from __future__ import annotations

from typing import Any, Literal, get_args, get_origin

import pytest

from secondlook.engine import document, words
from secondlook.knowledge.models import PERSPECTIVES


def _codes(annotation: Any) -> set[str]:
    """The string literals of an annotation such as ``Literal[...] | None``."""
    if get_origin(annotation) is Literal:
        return {a for a in get_args(annotation) if isinstance(a, str)}
    return {c for arg in get_args(annotation) for c in _codes(arg)}


@pytest.mark.parametrize(
    ("vocabulary", "model", "field"),
    [
        ("condition", document.ClassificationOut, "condition"),
        ("course", document.ClassificationOut, "course"),
        ("likelihood", document.EtiologyOut, "likelihood"),
        ("urgency", document.RedFlagOut, "urgency"),
        ("urgency", document.WorkupOut, "priority"),
        ("urgency", document.SurgicalReviewOut, "urgency"),
        ("recommendation", document.TreatmentOut, "recommendation"),
        ("neuropathic-grade", document.NeuropathicPainOut, "grade"),
        ("stance", document.EvidenceOut, "stance"),
    ],
)
def test_every_code_of_the_document_has_a_word(vocabulary: str, model: Any, field: str) -> None:
    codes = _codes(model.model_fields[field].annotation)
    assert codes, f"{model.__name__}.{field} is not a code list"
    assert codes - set(words.WORDS[vocabulary]) == set(), vocabulary


def test_every_perspective_has_a_word() -> None:
    assert set(PERSPECTIVES) == set(words.PERSPECTIVE)


def test_a_code_without_a_word_is_shown_as_it_is() -> None:
    assert words.word("course", "transient-post-surgical") == "expected post-surgical pain"
    assert words.word("course", "something-new") == "something-new"
