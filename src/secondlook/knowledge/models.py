"""The records of the knowledge base (docs/knowledge.md describes each field for authors).

A record is data a clinician can review: names, texts, references, and criteria. A criterion is a
condition over case facts (secondlook.knowledge.expressions) with the sentence that explains it
when it holds. Sentences may quote facts: `"Leg pain {limb_nrs}/10"`.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from secondlook.case.facts import FACTS
from secondlook.knowledge.expressions import Condition, ConditionError, compile_condition

Urgency = Literal["emergency", "urgent", "routine"]
RedFlagUrgency = Literal["emergency", "urgent"]
Weight = Literal["strong", "moderate"]
Perspective = Literal["spine-anatomy", "pain-management", "medical", "functional", "psychological"]
Level = Literal["contraindicated", "not-recommended", "recommended", "consider"]
PERSPECTIVES: tuple[Perspective, ...] = (
    "spine-anatomy",
    "pain-management",
    "medical",
    "functional",
    "psychological",
)
# Groups of causes after van de Minkelis et al. (Pain Practice, PSPS-T2 guideline).
Group = Literal[
    "inappropriate-procedure", "technical-failure", "biomechanical", "complication", "undetermined"
]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def placeholders(text: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(text) if name]


class Criterion(_Record):
    when: str
    because: str
    weight: Weight = "moderate"
    _condition: Condition = PrivateAttr()

    @model_validator(mode="after")
    def _compile(self) -> Criterion:
        try:
            self._condition = compile_condition(self.when)
        except ConditionError as exc:
            raise ValueError(f"condition {self.when!r}: {exc}") from None
        unknown = [p for p in placeholders(self.because) if p not in FACTS]
        if unknown:
            raise ValueError(f"because text quotes unknown fact {', '.join(unknown)}")
        return self

    @property
    def condition(self) -> Condition:
        # Read the private slot directly: pydantic's attribute fallback is slow on the hot path.
        condition: Condition = self.__pydantic_private__["_condition"]  # type: ignore[index]
        return condition


class UrgentCriterion(Criterion):
    priority: Urgency = "routine"


class Reference(_Record):
    id: str
    citation: str


class _Described(_Record):
    id: str
    name: str
    clinician: str
    patient: str
    references: list[str] = Field(min_length=1)

    @field_validator("clinician", "patient", "name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()


class FlagTrigger(Criterion):
    urgency: RedFlagUrgency | None = None  # raises the flag's urgency when this trigger holds


class RedFlag(_Described):
    urgency: RedFlagUrgency
    action: str
    triggers: list[FlagTrigger] = Field(min_length=1)
    # work-up this flag calls for, with its priority
    workup: dict[str, Urgency] = Field(default_factory=dict)
    surgical_review: Urgency | None = None


class SafetyAlert(_Described):
    action: str
    triggers: list[Criterion] = Field(min_length=1)


class Etiology(_Described):
    group: Group
    perspective: Perspective = "spine-anatomy"
    context: str | None = None  # published frequencies, shown as context, never as probability
    applies_when: str | None = None  # e.g. only after a fusion; otherwise listed as not applicable
    not_applicable: str | None = None  # why, when applies_when does not hold
    supporting: list[Criterion] = Field(min_length=1)
    against: list[Criterion] = Field(default_factory=list)
    discriminating_tests: list[str] = Field(default_factory=list)
    # A diagnosis of exclusion (central sensitization, deconditioning): among causes of the same
    # likelihood and strong evidence it ranks after the specific ones (docs/knowledge.md).
    exclusion: bool = False
    # Red flags that point to this cause: among causes of the same likelihood it ranks first
    # when one of them is raised.
    red_flags: list[str] = Field(default_factory=list)
    _applies: Condition | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _compile_applies(self) -> Etiology:
        if (self.applies_when is None) != (self.not_applicable is None):
            raise ValueError("applies_when and not_applicable go together")
        if self.applies_when is not None:
            try:
                self._applies = compile_condition(self.applies_when)
            except ConditionError as exc:
                raise ValueError(f"applies_when {self.applies_when!r}: {exc}") from None
        return self

    @property
    def applies(self) -> Condition | None:
        applies: Condition | None = self.__pydantic_private__["_applies"]  # type: ignore[index]
        return applies


class Workup(_Described):
    perspective: Perspective
    indications: list[UrgentCriterion] = Field(default_factory=list)
    # When the case already documents this test: it is then not proposed again as a test that
    # tells causes apart (an indication still proposes it when its own condition holds).
    done_when: str | None = None
    _done: Condition | None = PrivateAttr(default=None)
    # Where the item makes sense at all (e.g. a hip examination for lumbar cases only): an item
    # whose condition does not hold is neither indicated nor proposed as a discriminating test.
    applies_when: str | None = None
    _applies: Condition | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _compile_conditions(self) -> Workup:
        for name, text, slot in (
            ("done_when", self.done_when, "_done"),
            ("applies_when", self.applies_when, "_applies"),
        ):
            if text is not None:
                try:
                    self.__pydantic_private__[slot] = compile_condition(text)  # type: ignore[index]
                except ConditionError as exc:
                    raise ValueError(f"{name} {text!r}: {exc}") from None
        return self

    @property
    def done(self) -> Condition | None:
        done: Condition | None = self.__pydantic_private__["_done"]  # type: ignore[index]
        return done

    @property
    def applies(self) -> Condition | None:
        applies: Condition | None = self.__pydantic_private__["_applies"]  # type: ignore[index]
        return applies


class Prerequisite(_Record):
    text: str
    met_when: str | None = None
    _met: Condition | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _compile(self) -> Prerequisite:
        if self.met_when is not None:
            try:
                self._met = compile_condition(self.met_when)
            except ConditionError as exc:
                raise ValueError(f"met_when {self.met_when!r}: {exc}") from None
        return self

    @property
    def met(self) -> Condition | None:
        met: Condition | None = self.__pydantic_private__["_met"]  # type: ignore[index]
        return met


class Evidence(_Record):
    stance: Literal["for", "against", "mixed"]
    summary: str
    references: list[str] = Field(min_length=1)


class Treatment(_Described):
    perspective: Perspective
    contraindicated: list[Criterion] = Field(default_factory=list)
    not_recommended: list[Criterion] = Field(default_factory=list)
    recommended: list[Criterion] = Field(default_factory=list)
    consider: list[Criterion] = Field(default_factory=list)
    prerequisites: list[Prerequisite] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    # The stated negative: why the option is not recommended when none of its criteria holds.
    # Every treatment appears in every assessment, so "not indicated" is said, not left out.
    otherwise: str = Field(min_length=1)

    def levels(self) -> list[tuple[Level, list[Criterion]]]:
        """The levels in the order they are decided: the most restrictive first."""
        return [
            ("contraindicated", self.contraindicated),
            ("not-recommended", self.not_recommended),
            ("recommended", self.recommended),
            ("consider", self.consider),
        ]


class SurgicalReviewRule(UrgentCriterion):
    id: str


class MissingItem(_Record):
    id: str
    facts: list[str] = Field(min_length=1)
    item: str
    why_it_matters: str
    when: str | None = None
    _when: Condition | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check(self) -> MissingItem:
        unknown = [f for f in self.facts if f not in FACTS]
        if unknown:
            raise ValueError(f"unknown fact {', '.join(unknown)}")
        if self.when is not None:
            try:
                self._when = compile_condition(self.when)
            except ConditionError as exc:
                raise ValueError(f"when {self.when!r}: {exc}") from None
        return self

    @property
    def condition(self) -> Condition | None:
        when: Condition | None = self.__pydantic_private__["_when"]  # type: ignore[index]
        return when


class PerspectiveFinding(Criterion):
    perspective: Perspective


# -- care rules (care_rules.yaml): owners, implied tasks, prerequisites, due dates ---------------

#: The disciplines of the care team, the owners of care tasks (the care domain's vocabulary
#: takes them from here).
Discipline = Literal[
    "spine-surgery",
    "pain-medicine",
    "internal-medicine",
    "physical-therapy",
    "psychology",
    "nursing-coordination",
]
DISCIPLINES: tuple[Discipline, ...] = get_args(Discipline)
#: What happens to a waiting task when its prerequisite fails or is cancelled.
IfNotDone = Literal["cancel", "proceed"]
#: The keys of ``due_days``: the engine's priorities, the treatment levels, and implied tasks.
DueKey = Literal[
    "emergency",
    "urgent",
    "routine",
    "recommended",
    "consider",
    "not-recommended",
    "contraindicated",
    "implied",
]
DUE_KEYS: tuple[DueKey, ...] = get_args(DueKey)


class _CareRule(_Record):
    id: str
    because: str
    references: list[str] = Field(min_length=1)

    @field_validator("because")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()


class CareTask(_CareRule):
    """A task that is not a plan item: brought by an accepted item (``brought_by``), or made by
    a schedule when ``brought_by`` is empty (the opioid taper's monthly follow-ups)."""

    name: str
    owner: Discipline
    brought_by: str | None = None


class PrerequisiteRule(_CareRule):
    """``requires`` must be completed before ``task`` may start.

    ``gap_days``: the earliest the dependent is due after its prerequisite's due date.
    ``waived_for``: priorities of the dependent for which the rule does not hold (an emergency
    surgical review never waits for old records).
    """

    task: str
    requires: str
    if_not_done: IfNotDone
    gap_days: int = Field(ge=0)
    waived_for: tuple[Urgency, ...] = ()


class DueAtStart(_CareRule):
    """Work-up due by the plan's start (the first visit), whatever its priority."""


@dataclass(frozen=True)
class CareRules:
    """The care rules of one knowledge base, checked against its work-up and treatments."""

    due_days: Mapping[DueKey, int]
    due_at_start: tuple[DueAtStart, ...]
    owners: Mapping[str, Discipline]
    tasks: tuple[CareTask, ...]
    prerequisites: tuple[PrerequisiteRule, ...]

    @property
    def implied(self) -> tuple[CareTask, ...]:
        """The tasks an accepted item brings with it, in the file's order."""
        return tuple(t for t in self.tasks if t.brought_by is not None)

    def task(self, key: str) -> CareTask | None:
        return next((t for t in self.tasks if t.id == key), None)

    def owner_of(self, key: str) -> Discipline:
        """The default owner of a work-up item, treatment or care task (KeyError if none)."""
        if key in self.owners:
            return self.owners[key]
        task = self.task(key)
        if task is None:
            raise KeyError(key)
        return task.owner

    def is_due_at_start(self, key: str) -> bool:
        return any(d.id == key for d in self.due_at_start)

    def gap_days(self, rule_id: str) -> int:
        """The rule's gap; 0 for a rule id this knowledge base does not know (an old plan)."""
        return next((r.gap_days for r in self.prerequisites if r.id == rule_id), 0)
