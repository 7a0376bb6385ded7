"""The case document (CONTRACT.md §1): typed model, validation and derived facts."""

from secondlook.case.facts import FACTS, CaseFacts, derive_facts
from secondlook.case.models import Case
from secondlook.case.validation import CaseInvalid, Problem, load_case_text, parse_case

__all__ = [
    "FACTS",
    "Case",
    "CaseFacts",
    "CaseInvalid",
    "Problem",
    "derive_facts",
    "load_case_text",
    "parse_case",
]
