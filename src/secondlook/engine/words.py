"""The clinicians' words for the codes of the assessment document (docs/contract.md).

The document keeps its codes (they are the contract); every report and page shows these words
instead, so a clinician never reads "transient-post-surgical". A test checks that each code the
document can carry has its word here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from secondlook.case.words import word as case_word
from secondlook.knowledge import default_knowledge

CONDITION: Final[dict[str, str]] = {
    "failed-back-surgery-syndrome": "Failed back surgery syndrome",
    "failed-neck-surgery-syndrome": "Failed neck surgery syndrome",
    "persistent-pain-after-thoracic-surgery": "Persistent pain after thoracic spine surgery",
}
COURSE: Final[dict[str, str]] = {
    "persistent": "persistent since surgery",
    "recurrent": "recurrent after a pain-free interval",
    "new": "new pain, different from before surgery",
    "transient-post-surgical": "expected post-surgical pain",
    "undetermined": "course not determined",
}
LIKELIHOOD: Final[dict[str, str]] = {
    "likely": "likely",
    "possible": "possible",
    "unlikely": "unlikely",
}
URGENCY: Final[dict[str, str]] = {
    "emergency": "emergency",
    "urgent": "urgent",
    "routine": "routine",
}
RECOMMENDATION: Final[dict[str, str]] = {
    "recommended": "recommended",
    "consider": "consider",
    "not-recommended": "not recommended",
    "contraindicated": "contraindicated",
}
NEUROPATHIC_GRADE: Final[dict[str, str]] = {
    "not-graded": "not graded",
    "unlikely": "unlikely",
    "possible": "possible",
    "probable": "probable",
    "definite": "definite",
}
STANCE: Final[dict[str, str]] = {
    "for": "For",
    "against": "Against",
    "mixed": "Mixed",
}
PERSPECTIVE: Final[dict[str, str]] = {
    "spine-anatomy": "Spine anatomy",
    "pain-management": "Pain management",
    "medical": "Medical",
    "functional": "Functional",
    "psychological": "Psychological",
}

#: Each code list of the document, by the name the pages' ``words`` filter uses.
WORDS: Final[dict[str, dict[str, str]]] = {
    "condition": CONDITION,
    "course": COURSE,
    "likelihood": LIKELIHOOD,
    "urgency": URGENCY,
    "recommendation": RECOMMENDATION,
    "neuropathic-grade": NEUROPATHIC_GRADE,
    "perspective": PERSPECTIVE,
    "stance": STANCE,
}


def word(vocabulary: str, code: str) -> str:
    """The word for ``code``; a code without one is shown as it is, never hidden."""
    return WORDS[vocabulary].get(code, code)


def test_names(assessment: Mapping[str, Any], ids: Sequence[str]) -> list[str]:
    """The names of the work-up items that tell a cause apart: from this assessment's work-up,
    else the knowledge base's, else the code's words (an item is never dropped)."""
    names = {item["id"]: item["name"] for item in assessment.get("workup", [])}
    known = default_knowledge().workup
    return [names.get(i) or (known[i].name if i in known else case_word(i)) for i in ids]
