"""The assessment document's schema (CONTRACT.md §2), as typed models.

The engine builds plain dicts for speed; these models describe them, give
`secondlook schema assessment`, and let tests check every assessment against the schema.
Fields beyond the contract (name, not_known, context, evidence, ...) are the documented
optional additions the contract allows.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from secondlook.knowledge.models import Perspective


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RedFlagOut(_Doc):
    id: str
    name: str
    urgency: Literal["emergency", "urgent"]
    action: str
    because: list[str]
    references: list[str]


class SafetyAlertOut(_Doc):
    id: str
    name: str
    action: str
    patient_message: str
    because: list[str]
    references: list[str]


class NeuropathicPainOut(_Doc):
    grade: Literal["not-graded", "unlikely", "possible", "probable", "definite"]
    because: list[str]
    references: list[str]


class ClassificationOut(_Doc):
    condition: Literal[
        "failed-back-surgery-syndrome",
        "failed-neck-surgery-syndrome",
        "persistent-pain-after-thoracic-surgery",
    ]
    chronic: bool
    psps_type: Literal[2] | None
    course: Literal["persistent", "recurrent", "new", "transient-post-surgical", "undetermined"]
    months_since_surgery: float
    because: list[str]
    references: list[str]
    neuropathic_pain: NeuropathicPainOut | None = None


class EtiologyOut(_Doc):
    id: str
    name: str
    rank: int
    likelihood: Literal["likely", "possible", "unlikely"]
    supporting: list[str]
    against: list[str]
    discriminating_tests: list[str]
    references: list[str]
    not_known: list[str] | None = None
    context: str | None = None


class WorkupOut(_Doc):
    id: str
    name: str
    priority: Literal["emergency", "urgent", "routine"]
    because: list[str]
    references: list[str]


class EvidenceOut(_Doc):
    stance: Literal["for", "against", "mixed"]
    summary: str
    references: list[str]


class TreatmentOut(_Doc):
    id: str
    name: str
    recommendation: Literal["recommended", "consider", "not-recommended", "contraindicated"]
    prerequisites: list[str]
    because: list[str]
    references: list[str]
    evidence: list[EvidenceOut]
    evidence_conflict: bool
    not_known: list[str] | None = None
    # True when none of the option's criteria holds: "not indicated on present information".
    stated_negative: bool | None = None


class SurgicalReviewOut(_Doc):
    indicated: bool
    urgency: Literal["emergency", "urgent", "routine"] | None
    because: list[str]


class PerspectiveOut(_Doc):
    id: Perspective
    findings: list[str]
    needs: list[str]


class ScoreOut(_Doc):
    instrument: str
    date: str
    score: float | None
    band: str | None
    change_from_first: float | None = None
    meaningful_change: Literal["improved", "no-change", "worsened"] | None = None
    alerts: list[str] | None = None
    problems: list[str] | None = None


class MissingOut(_Doc):
    id: str
    item: str
    why_it_matters: str


class ReferenceOut(_Doc):
    id: str
    citation: str


class Assessment(_Doc):
    schema_: Literal["secondlook.assessment/1"] = Field(alias="schema")
    case_id: str | None
    knowledge_version: str
    engine_version: str
    red_flags: list[RedFlagOut]
    safety_alerts: list[SafetyAlertOut]
    classification: ClassificationOut
    differential: list[EtiologyOut]
    workup: list[WorkupOut]
    treatment_options: list[TreatmentOut]
    surgical_review: SurgicalReviewOut
    perspectives: list[PerspectiveOut]
    scores: list[ScoreOut]
    missing_information: list[MissingOut]
    references: list[ReferenceOut]

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
