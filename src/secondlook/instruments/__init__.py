"""Outcome instruments: definitions, scoring, bands, meaningful change, FHIR, safety alerts.

One module per instrument (``nrs_pain``, ``phq9``, ``gad7``, ``odi``, ``ndi``, ``start_back``,
``pcs``, ``dn4``) holds everything known about it, each rule beside its citation. See
``docs/instruments.md``.
"""

from secondlook.instruments.change import ChangeStatus, change_status, improved_at, trajectory
from secondlook.instruments.fhir import score_questionnaire_response, to_fhir_questionnaire
from secondlook.instruments.item_text import (
    ItemTextInvalid,
    ItemTextUnavailable,
    load_item_text,
)
from secondlook.instruments.model import (
    LOCAL_CODE_SYSTEM,
    AnswersInvalid,
    AnswerText,
    Band,
    Instrument,
    ItemEntry,
    ItemText,
    MeaningfulChange,
    ScoreResult,
    TrajectoryPoint,
)
from secondlook.instruments.registry import INSTRUMENTS
from secondlook.instruments.safety import (
    DEFAULT_SAFETY_TEXTS,
    SafetyText,
    SafetyTextsInvalid,
    load_site_safety_texts,
    safety_text,
)
from secondlook.instruments.scoring import band_for, score, score_total

__all__ = [
    "DEFAULT_SAFETY_TEXTS",
    "INSTRUMENTS",
    "LOCAL_CODE_SYSTEM",
    "AnswerText",
    "AnswersInvalid",
    "Band",
    "ChangeStatus",
    "Instrument",
    "ItemEntry",
    "ItemText",
    "ItemTextInvalid",
    "ItemTextUnavailable",
    "MeaningfulChange",
    "SafetyText",
    "SafetyTextsInvalid",
    "ScoreResult",
    "TrajectoryPoint",
    "band_for",
    "change_status",
    "improved_at",
    "load_item_text",
    "load_site_safety_texts",
    "safety_text",
    "score",
    "score_questionnaire_response",
    "score_total",
    "to_fhir_questionnaire",
    "trajectory",
]
