"""The clinicians' words for the codes of the assessment document (docs/contract.md).

The document keeps its codes (they are the contract); every report and page shows these words
instead, so a clinician never reads "transient-post-surgical". A test checks that each code the
document can carry has its word here.
"""

from __future__ import annotations

from typing import Final

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
}


def word(vocabulary: str, code: str) -> str:
    """The word for ``code``; a code without one is shown as it is, never hidden."""
    return WORDS[vocabulary].get(code, code)
