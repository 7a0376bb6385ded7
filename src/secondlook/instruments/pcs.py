"""PCS: Pain Catastrophizing Scale (Sullivan, Bishop & Pivik 1995).

Thirteen items, each 0 ("not at all") to 4 ("all the time"); the total is their sum, 0-52.
Subscales (PCS User Manual): rumination = items 8, 9, 10, 11 (0-16); magnification = items 6,
7, 13 (0-12); helplessness = items 1, 2, 3, 4, 5, 12 (0-24).
Licensed (Mapi Research Trust): only scoring and SecondLook's own item labels ship; a site
loads its licensed item text with ``load_item_text``.
"""

from __future__ import annotations

from secondlook.instruments._common import all_items_required, complete, subscale_sums
from secondlook.instruments.model import (
    LOCAL_CODE_SYSTEM,
    Band,
    Computation,
    Instrument,
)

ID = "pcs"

SULLIVAN_1995 = (
    "Sullivan MJL, Bishop SR, Pivik J. The Pain Catastrophizing Scale: development and "
    "validation. Psychol Assess 1995;7(4):524-532."
)
SULLIVAN_MANUAL = (
    "Sullivan MJL. The Pain Catastrophizing Scale: User Manual. McGill University, Montreal, 2009."
)

SUBSCALES: dict[str, tuple[int, ...]] = {
    "rumination": (8, 9, 10, 11),
    "magnification": (6, 7, 13),
    "helplessness": (1, 2, 3, 4, 5, 12),
}


def score(answers: tuple[int | None, ...]) -> Computation:
    """Total 0-52 and the three subscales.

    Missing items: the PCS User Manual gives no rule for skipped items, so none is invented:
    the total needs all 13 items. A subscale is still reported when all of its own items are
    answered (it is simply their sum).
    """
    subscales = subscale_sums(answers, SUBSCALES)
    incomplete = all_items_required(ID, answers, "the PCS manual gives no missing-item rule")
    if incomplete is not None:
        return Computation(score=None, subscales=subscales, problems=incomplete.problems)
    return Computation(score=sum(complete(answers)), subscales=subscales)


INSTRUMENT = Instrument(
    id=ID,
    name="Pain Catastrophizing Scale",
    item_count=13,
    item_min=(0,) * 13,
    item_max=(4,) * 13,
    min_score=0,
    max_score=52,
    # No LOINC code used: local code system (see docs/instruments.md).
    loinc=None,
    loinc_total=None,
    item_loinc=(),
    code_system=LOCAL_CODE_SYSTEM,
    code=ID,
    ships_item_text=False,
    item_labels=(
        "Worry the pain will not end",
        "Feeling unable to go on",
        "Feeling it will never improve",
        "Feeling overwhelmed",
        "Feeling unable to bear it",
        "Fear of worsening",
        "Recalling other painful events",
        "Anxious wish for relief",
        "Pain stays on the mind",
        "Dwelling on how much it hurts",
        "Dwelling on wanting it to stop",
        "Feeling nothing helps",
        "Worry about something serious",
    ),
    # A total of 30 or more is a clinically relevant level of catastrophising (PCS User Manual:
    # the 75th percentile of chronic-pain patients; CLINICAL.md §6 ">=30").
    bands=(
        Band("not-clinically-relevant", 0, "Below the clinically relevant level (0-29)"),
        Band("clinically-relevant", 30, "Clinically relevant catastrophising (30-52)"),
    ),
    # No meaningful-change threshold in CLINICAL.md §6 and none adopted here.
    meaningful_change=None,
    missing_rule="All 13 items are required for the total: the PCS manual gives no "
    "missing-item rule. Each subscale is reported when its own items are all answered.",
    citation=f"{SULLIVAN_1995} {SULLIVAN_MANUAL}",
    licence="Licensed by Mapi Research Trust (fees for organisations): item text does not ship.",
    scorer=score,
)
