"""Data types shared by every instrument definition.

An instrument is data (a frozen :class:`Instrument`) plus one small pure scoring function that
lives beside its citation in the instrument's own module (``phq9.py``, ``odi.py``, ...).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

#: One local code system for everything that has no LOINC code (instruments without a LOINC
#: panel, their items and their answers). The only place this URL is spelled out.
LOCAL_CODE_SYSTEM = "https://secondlook.example/fhir/CodeSystem/instrument"

#: Canonical base for the FHIR Questionnaires this package builds
#: (``{QUESTIONNAIRE_BASE}/{instrument id}``).
QUESTIONNAIRE_BASE = "https://secondlook.example/fhir/Questionnaire"

LOINC_SYSTEM = "http://loinc.org"

#: Alert ids (CONTRACT.md §3, "Safety alerts").
SELF_HARM_RISK = "self-harm-risk"


class AnswersInvalid(ValueError):
    """Answers (or a total) that cannot be scored: wrong count, out of range, wrong type.

    ``problems`` holds one human-readable sentence per problem, each naming the item.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems: list[str] = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class Band:
    """A severity band: applies from ``lower`` (inclusive) up to the next band's ``lower``."""

    id: str
    lower: float
    label: str


@dataclass(frozen=True)
class MeaningfulChange:
    """Smallest change that counts as meaningful, with its source.

    ``points``: absolute change on the instrument's own scale. ``percent``: change relative to
    the earlier score (only applied to improvement, see ``change.py``), or ``None``.
    """

    points: float
    percent: float | None
    citation: str


@dataclass(frozen=True)
class Computation:
    """What an instrument's scoring function returns: the total (or ``None``) and why."""

    score: float | None
    subscales: Mapping[str, int | float] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


#: An instrument's scoring function: validated answers (``None`` = skipped) -> computation.
Scorer = Callable[[tuple[int | None, ...]], Computation]


@dataclass(frozen=True)
class AnswerText:
    """Label of one answer option (value = the score of that option)."""

    value: int
    label: str


@dataclass(frozen=True)
class ItemEntry:
    """Text of one item and its answer labels, lowest value first."""

    text: str
    answers: tuple[AnswerText, ...]


@dataclass(frozen=True)
class ItemText:
    """Full item text of one instrument: either shipped (NRS, PHQ-9, GAD-7) or site-loaded."""

    instrument: str
    title: str
    items: tuple[ItemEntry, ...]
    preamble: str | None = None
    copyright: str | None = None
    source: str = "shipped with SecondLook"


@dataclass(frozen=True)
class Instrument:
    """Everything SecondLook knows about one instrument. Scores: higher = worse, always."""

    id: str
    name: str
    item_count: int
    item_min: tuple[int, ...]
    item_max: tuple[int, ...]
    min_score: int
    max_score: int
    #: LOINC code of the panel / questionnaire, or ``None`` when LOINC has none.
    loinc: str | None
    #: LOINC code of the total score observation, when it differs from ``loinc``.
    loinc_total: str | None
    #: LOINC code of each item (empty when the instrument has no LOINC codes).
    item_loinc: tuple[str, ...]
    code_system: str
    code: str
    ships_item_text: bool
    #: Short labels of SecondLook's own wording (never the licensed item text).
    item_labels: tuple[str, ...]
    bands: tuple[Band, ...]
    meaningful_change: MeaningfulChange | None
    #: How skipped items are handled, in words, with its source.
    missing_rule: str
    citation: str
    licence: str
    scorer: Scorer = field(repr=False, compare=False)
    #: Item text (only for instruments whose text may ship).
    item_text: ItemText | None = field(default=None, repr=False, compare=False)
    #: Answer codings per item for FHIR: ``(system, code)`` for each value ``item_min..item_max``.
    #: Empty = local codes ``{id}-{value}`` in :data:`LOCAL_CODE_SYSTEM`.
    answer_codes: tuple[tuple[tuple[str, str], ...], ...] = ()
    #: Band rule that needs more than the total (STarT Back: the distress subscale). Given the
    #: total and the subscales of a scored result, returns the band.
    band_rule: Callable[[float, Mapping[str, int | float]], str | None] | None = field(
        default=None, repr=False, compare=False
    )
    #: With ``band_rule``: what can be told from a total alone (may be ``None``).
    band_from_total: Callable[[float], str | None] | None = field(
        default=None, repr=False, compare=False
    )
    #: Item-level safety alerts (PHQ-9 item 9): answers -> alert ids. Runs even when the total
    #: cannot be computed.
    alert_rule: Callable[[tuple[int | None, ...]], tuple[str, ...]] | None = field(
        default=None, repr=False, compare=False
    )
    #: Said in ``problems`` when only a total is entered (what is lost without the items).
    total_only_note: str | None = None
    #: Items that may be skipped with the total still computed (the published missing rule).
    max_skipped: int = 0

    def answer_coding(self, item: int, value: int) -> tuple[str, str]:
        """FHIR ``(system, code)`` for answer ``value`` of 1-based ``item``."""
        if self.answer_codes:
            return self.answer_codes[item - 1][value - self.item_min[item - 1]]
        return (LOCAL_CODE_SYSTEM, f"{self.id}-{value}")


@dataclass(frozen=True)
class ScoreResult:
    """The scored result of one questionnaire (or of a total entered without items)."""

    instrument: str
    score: float | int | None
    max: int
    band: str | None
    subscales: dict[str, int | float] = field(default_factory=dict)
    alerts: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        """The JSON shape of ``secondlook score --format json``."""
        return {
            "instrument": self.instrument,
            "score": self.score,
            "max": self.max,
            "band": self.band,
            "subscales": dict(self.subscales),
            "alerts": list(self.alerts),
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class TrajectoryPoint:
    """One dated score in a trajectory, with its change from the first and previous score.

    Changes are ``current - earlier`` (negative = better, as higher is worse everywhere).
    The first point is the baseline: its changes and statuses are ``None``.
    """

    date: dt.date
    score: float
    change_from_first: float | None
    change_from_previous: float | None
    status_from_first: str | None
    status_from_previous: str | None


def tidy_number(value: float) -> int | float:
    """``32.0`` -> ``32``; a fractional score stays a float."""
    if float(value).is_integer():
        return int(value)
    return value
