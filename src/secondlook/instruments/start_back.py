"""STarT Back Screening Tool (Keele, 9-item version; Hill et al. 2008).

Items 1-8 are agree (1) / disagree (0). Item 9 (how bothersome the back pain has been over the
last 2 weeks) is answered on its five-point scale, 0 "not at all", 1 "slightly", 2 "moderately",
3 "very much", 4 "extremely", and scores 1 only for "very much" or "extremely" (Keele
scoring instructions, Hill 2008).
Overall score: items 1-9, 0-9. Distress (psychosocial) subscale: items 5-9 (fear, worry,
catastrophising, low mood, bothersomeness), 0-5.
Risk groups: overall 0-3 -> low; otherwise distress 4-5 -> high; otherwise medium.
Free for non-commercial use only (CLINICAL.md §6): item text does not ship.
"""

from __future__ import annotations

from secondlook.instruments._common import all_items_required
from secondlook.instruments.model import (
    LOCAL_CODE_SYSTEM,
    Band,
    Computation,
    Instrument,
)

ID = "start-back"

HILL_2008 = (
    "Hill JC, Dunn KM, Lewis M, et al. A primary care back pain screening tool: identifying "
    "patient subgroups for initial treatment. Arthritis Rheum 2008;59(5):632-641."
)
KEELE_SCORING = (
    "Keele University. Using and scoring the Keele STarT Back Screening Tool (keele.ac.uk/sbst)."
)

#: Item 9 answers that count as positive ("very much", "extremely").
BOTHERSOME_POSITIVE_FROM = 3
DISTRESS_ITEMS = (5, 6, 7, 8, 9)
#: Overall score at or below which the group is low risk (Hill 2008; Keele scoring).
LOW_RISK_MAX = 3
#: Distress subscale at or above which a patient not at low risk is high risk.
HIGH_RISK_DISTRESS_MIN = 4


def item_points(item: int, value: int) -> int:
    """Points an answer contributes: items 1-8 as given, item 9 dichotomised (3 or 4 -> 1)."""
    if item == 9:
        return 1 if value >= BOTHERSOME_POSITIVE_FROM else 0
    return value


def risk_group(total: float, distress: float) -> str:
    """Low / medium / high from the overall score and the distress subscale (Hill 2008)."""
    if total <= LOW_RISK_MAX:
        return "low"
    if distress >= HIGH_RISK_DISTRESS_MIN:
        return "high"
    return "medium"


def band_from_total(total: float) -> str | None:
    """From a total alone only "low" can be told; medium vs high needs the distress items."""
    return "low" if total <= LOW_RISK_MAX else None


def score(answers: tuple[int | None, ...]) -> Computation:
    """Overall score (items 1-9) and the distress subscale (items 5-9).

    Missing items: neither Hill 2008 nor the Keele scoring instructions give a rule for
    skipped items, so none is invented: the overall score needs all nine items. The distress
    subscale is still reported when items 5-9 are all answered.
    """
    points = [
        None if value is None else item_points(item, value)
        for item, value in enumerate(answers, start=1)
    ]
    distress_values = [points[i - 1] for i in DISTRESS_ITEMS]
    subscales: dict[str, int | float] = {}
    if all(v is not None for v in distress_values):
        subscales["distress"] = sum(v for v in distress_values if v is not None)
    incomplete = all_items_required(
        ID, answers, "Hill 2008 and the Keele scoring instructions give no missing-item rule"
    )
    if incomplete is not None:
        return Computation(score=None, subscales=subscales, problems=incomplete.problems)
    return Computation(score=sum(p for p in points if p is not None), subscales=subscales)


INSTRUMENT = Instrument(
    id=ID,
    name="Keele STarT Back Screening Tool (9 items)",
    item_count=9,
    item_min=(0,) * 9,
    item_max=(1, 1, 1, 1, 1, 1, 1, 1, 4),
    min_score=0,
    max_score=9,
    # No LOINC code (CLINICAL.md §6): local code system.
    loinc=None,
    loinc_total=None,
    item_loinc=(),
    code_system=LOCAL_CODE_SYSTEM,
    code=ID,
    ships_item_text=False,
    item_labels=(
        "Leg pain",
        "Shoulder or neck pain",
        "Walking limited",
        "Dressing slower",
        "Fear of activity",
        "Worry",
        "Catastrophising",
        "Low mood",
        "Bothersomeness",
    ),
    # Risk groups (Hill 2008; Keele scoring): overall 0-3 low; overall 4-9 with distress
    # subscale 0-3 medium; distress 4-5 high. The `lower` values below apply to the overall
    # score only as far as a total can tell (low); medium vs high is decided by `risk_group`.
    bands=(
        Band("low", 0, "Low risk (overall 0-3)"),
        Band("medium", 4, "Medium risk (overall 4-9, distress 0-3)"),
        Band("high", 4, "High risk (overall 4-9, distress 4-5)"),
    ),
    # No meaningful-change threshold: a stratification tool, none given in CLINICAL.md §6.
    meaningful_change=None,
    missing_rule="All 9 items are required for the overall score and risk group: no "
    "published missing-item rule. The distress subscale is reported when items 5-9 are "
    "answered.",
    citation=f"{HILL_2008} {KEELE_SCORING}",
    licence="Free for non-commercial use only (Keele University): item text does not ship.",
    scorer=score,
    band_rule=lambda total, subscales: risk_group(total, subscales["distress"]),
    band_from_total=band_from_total,
    total_only_note="start-back entered as a total: a total of 4 or more is medium or high risk "
    "depending on the distress items 5-9, so no risk group is given for it",
)
