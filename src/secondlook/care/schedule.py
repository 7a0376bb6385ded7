"""Reassessment: which questionnaires a patient answers, when, and what is due or overdue.

Time points: baseline, 3, 6, 12 and 24 months, after the ICHOM low back pain set (Clement et
al., Acta Orthop 2015;86(5):523-533: 6, 12 and 24 months recommended, 3 months optional; used
by spine registries), plus every plan review date. The choice of instruments is data
(``QUESTIONNAIRE_SETS``), one row per instrument with the condition that brings it in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from secondlook.care.models import InstrumentResult, Region, Task, add_months
from secondlook.case.models import Case

ICHOM_LBP: Final = (
    "Clement RC, Welander A, Stowell C, et al. A proposed set of metrics for standardized "
    "outcome reporting in the management of low back pain. Acta Orthop 2015;86(5):523-533."
)
#: (time point, months after the start). 3 months is ICHOM's optional point; SecondLook keeps
#: it because the plan's first review falls there.
TIME_POINTS: Final[tuple[tuple[str, int], ...]] = (
    ("baseline", 0),
    ("3m", 3),
    ("6m", 6),
    ("12m", 12),
    ("24m", 24),
)
#: Days either side of a due date in which an answer counts for it; past it, overdue.
GRACE_DAYS: Final = 14

Timing = Literal["every", "baseline"]
When = Literal["always", "if-neuropathic", "if-catastrophizing", "if-anxiety-measured"]


@dataclass(frozen=True, slots=True)
class InstrumentChoice:
    instrument: str
    timing: Timing
    when: When
    why: str


_PAIN = InstrumentChoice(
    "nrs-pain", "every", "always", "Pain intensity (ICHOM; Farrar 2001 for meaningful change)."
)
_PHQ9 = InstrumentChoice(
    "phq-9", "every", "always", "Depression, and the item-9 safety question every time."
)
_GAD7 = InstrumentChoice(
    "gad-7", "every", "if-anxiety-measured", "Anxiety, where the service measures it."
)
_DN4 = InstrumentChoice(
    "dn4", "every", "if-neuropathic", "Neuropathic component (Bouhassira 2005), when suspected."
)
_PCS = InstrumentChoice(
    "pcs", "every", "if-catastrophizing", "Catastrophizing (Sullivan 1995), when relevant."
)

QUESTIONNAIRE_SETS: Final[Mapping[Region, tuple[InstrumentChoice, ...]]] = {
    "lumbar": (
        InstrumentChoice("odi", "every", "always", "Back-related disability (ICHOM)."),
        _PAIN,
        _PHQ9,
        _GAD7,
        InstrumentChoice(
            "start-back", "baseline", "always", "Risk stratification at baseline (Hill 2008)."
        ),
        _DN4,
        _PCS,
    ),
    "cervical": (
        InstrumentChoice("ndi", "every", "always", "Neck-related disability (Vernon 1991)."),
        _PAIN,
        _PHQ9,
        _GAD7,
        _DN4,
        _PCS,
    ),
    # No thoracic-specific disability index is validated; ODI is the usual stand-in.
    "thoracic": (
        InstrumentChoice("odi", "every", "always", "Disability (ODI as the stand-in)."),
        _PAIN,
        _PHQ9,
        _GAD7,
        _DN4,
        _PCS,
    ),
}


@dataclass(frozen=True, slots=True)
class QuestionnaireOptions:
    neuropathic: bool = False
    catastrophizing: bool = False
    anxiety_measured: bool = False


_NEUROPATHIC_WORDS: Final = frozenset({"burning", "electric", "pins-and-needles", "numbness"})


def questionnaire_options(case: Case, assessment: Mapping[str, Any]) -> QuestionnaireOptions:
    """Options from a case: neuropathic when the DN4 was positive or the pain is described in
    DN4's own words; catastrophizing when PCS was used, STarT Back was high, or coping or
    distress is reported; anxiety when GAD-7 was used or anxiety is diagnosed."""
    scores = assessment.get("scores", [])
    used = {s["instrument"] for s in scores}
    bands = {(s["instrument"], s.get("band")) for s in scores}
    social = case.psychosocial
    return QuestionnaireOptions(
        neuropathic=("dn4", "positive") in bands
        or bool(_NEUROPATHIC_WORDS & set(case.pain.character or ())),
        catastrophizing="pcs" in used
        or ("start-back", "high") in bands
        or bool(social.dysfunctional_coping or social.psychological_distress),
        anxiety_measured="gad-7" in used or bool(social.anxiety_diagnosis),
    )


@dataclass(frozen=True, slots=True)
class ScheduledQuestionnaire:
    """One questionnaire a patient is due to answer. ``months`` is ``None`` at a review."""

    id: str
    time_point: str
    instrument: str
    due: dt.date
    months: int | None


def _wanted(choice: InstrumentChoice, options: QuestionnaireOptions) -> bool:
    return {
        "always": True,
        "if-neuropathic": options.neuropathic,
        "if-catastrophizing": options.catastrophizing,
        "if-anxiety-measured": options.anxiety_measured,
    }[choice.when]


def questionnaire_schedule(
    start: dt.date,
    region: Region,
    *,
    options: QuestionnaireOptions | None = None,
    review_dates: Sequence[dt.date] = (),
    grace_days: int = GRACE_DAYS,
) -> list[ScheduledQuestionnaire]:
    """Every questionnaire due from ``start``, by date then instrument order. A review date
    within ``grace_days`` of a time point adds nothing (the time point covers it)."""
    options = options or QuestionnaireOptions()
    chosen = [c for c in QUESTIONNAIRE_SETS[region] if _wanted(c, options)]
    points: list[tuple[str, dt.date, int | None]] = [
        (name, add_months(start, months), months) for name, months in TIME_POINTS
    ]
    for review in sorted(set(review_dates)):
        if review > start and all(abs((review - d).days) > grace_days for _, d, _ in points):
            points.append((f"review-{review.isoformat()}", review, None))
    points.sort(key=lambda p: p[1])
    out: list[ScheduledQuestionnaire] = []
    for name, due, months in points:
        for choice in chosen:
            if choice.timing == "baseline" and name != "baseline":
                continue
            out.append(
                ScheduledQuestionnaire(
                    f"{name}/{choice.instrument}", name, choice.instrument, due, months
                )
            )
    return out


QuestionnaireState = Literal["completed", "due", "overdue", "upcoming"]


@dataclass(frozen=True, slots=True)
class QuestionnaireStatus:
    item: ScheduledQuestionnaire
    state: QuestionnaireState
    answered_on: dt.date | None


@dataclass(frozen=True, slots=True)
class DueReport:
    completed: tuple[QuestionnaireStatus, ...]
    due: tuple[QuestionnaireStatus, ...]
    overdue: tuple[QuestionnaireStatus, ...]
    upcoming: tuple[QuestionnaireStatus, ...]


def due_and_overdue(
    schedule: Sequence[ScheduledQuestionnaire],
    completed: Iterable[InstrumentResult],
    today: dt.date,
    *,
    grace_days: int = GRACE_DAYS,
) -> DueReport:
    """Each scheduled questionnaire's state on ``today``.

    An answer counts for a time point when it falls from ``grace_days`` before it up to
    ``grace_days`` before the instrument's next time point (a late answer still counts; the
    earliest answer in the window is used). Unanswered: ``due`` from ``grace_days`` before the
    due date to ``grace_days`` after it, ``overdue`` after that, ``upcoming`` before.
    """
    answers: dict[str, list[dt.date]] = {}
    for result in completed:
        answers.setdefault(result.instrument, []).append(result.date)
    by_instrument: dict[str, list[ScheduledQuestionnaire]] = {}
    for item in sorted(schedule, key=lambda s: s.due):
        by_instrument.setdefault(item.instrument, []).append(item)
    grace = dt.timedelta(days=grace_days)
    states: dict[str, QuestionnaireStatus] = {}
    for instrument, items in by_instrument.items():
        for index, item in enumerate(items):
            opens = item.due - grace
            closes = items[index + 1].due - grace if index + 1 < len(items) else None
            hits = sorted(
                d
                for d in answers.get(instrument, [])
                if d >= opens and (closes is None or d < closes) and d <= today
            )
            if hits:
                states[item.id] = QuestionnaireStatus(item, "completed", hits[0])
            elif today > item.due + grace:
                states[item.id] = QuestionnaireStatus(item, "overdue", None)
            elif today >= opens:
                states[item.id] = QuestionnaireStatus(item, "due", None)
            else:
                states[item.id] = QuestionnaireStatus(item, "upcoming", None)
    ordered = [states[item.id] for item in schedule]
    return DueReport(
        completed=tuple(s for s in ordered if s.state == "completed"),
        due=tuple(s for s in ordered if s.state == "due"),
        overdue=tuple(s for s in ordered if s.state == "overdue"),
        upcoming=tuple(s for s in ordered if s.state == "upcoming"),
    )


def questionnaire_tasks(schedule: Sequence[ScheduledQuestionnaire], *, plan_id: str) -> list[Task]:
    """The schedule as patient tasks (one per questionnaire and time point)."""
    return [
        Task(
            id=f"{plan_id}/questionnaire/{item.id}",
            plan_id=plan_id,
            plan_item_id=None,
            key=f"questionnaire:{item.instrument}",
            name=f"Questionnaire {item.instrument} ({item.time_point})",
            owner="patient",
            due=item.due,
            priority="routine",
        )
        for item in schedule
    ]
