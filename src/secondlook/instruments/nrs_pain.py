"""Pain intensity, 0-10 numeric rating scale (NRS).

One item, 0 (no pain) to 10 (worst pain imaginable); the answer is the score.
Generic scale, free to use: its text ships.
"""

from __future__ import annotations

from secondlook.instruments.model import (
    LOINC_SYSTEM,
    AnswerText,
    Band,
    Computation,
    Instrument,
    ItemEntry,
    ItemText,
    MeaningfulChange,
)

ID = "nrs-pain"

FARRAR_2001 = (
    "Farrar JT, Young JP Jr, LaMoreaux L, Werth JL, Poole RM. Clinical importance of changes in "
    "chronic pain intensity measured on an 11-point numerical pain rating scale. "
    "Pain 2001;94(2):149-158."
)
OSTELO_2008 = (
    "Ostelo RW, Deyo RA, Stratford P, et al. Interpreting change scores for pain and functional "
    "status in low back pain: towards international consensus regarding minimal important "
    "change. Spine 2008;33(1):90-94."
)

# LOINC 72514-3 "Pain severity - 0-10 verbal numeric rating [Score] - Reported" and its answer
# list (LA6111-4 = 0 ... LA13942-0 = 10), as expanded by the HL7 Belgium patient-monitoring IG
# value set "pain-scale".
LOINC = "72514-3"
ANSWER_CODES = (
    "LA6111-4",
    "LA6112-2",
    "LA6113-0",
    "LA6114-8",
    "LA6115-5",
    "LA10137-0",
    "LA10138-8",
    "LA10139-6",
    "LA10140-4",
    "LA10141-2",
    "LA13942-0",
)


def score(answers: tuple[int | None, ...]) -> Computation:
    """The single answer is the score; a skipped answer leaves nothing to score."""
    (value,) = answers
    if value is None:
        return Computation(score=None, problems=(f"{ID}: the only item was skipped",))
    return Computation(score=value)


ITEM_TEXT = ItemText(
    instrument=ID,
    title="Pain intensity (0-10 numeric rating scale)",
    preamble=None,
    items=(
        ItemEntry(
            text=(
                "On average over the past 24 hours, how strong was your pain? Choose one number "
                "from 0 (no pain) to 10 (the worst pain you can imagine)."
            ),
            answers=tuple(
                AnswerText(
                    v,
                    "0 - No pain"
                    if v == 0
                    else "10 - Worst pain imaginable"
                    if v == 10
                    else str(v),
                )
                for v in range(11)
            ),
        ),
    ),
    copyright=None,
)

INSTRUMENT = Instrument(
    id=ID,
    name="Pain intensity numeric rating scale (0-10)",
    item_count=1,
    item_min=(0,),
    item_max=(10,),
    min_score=0,
    max_score=10,
    loinc=LOINC,
    loinc_total=LOINC,
    item_loinc=(LOINC,),
    code_system=LOINC_SYSTEM,
    code=LOINC,
    ships_item_text=True,
    item_labels=("Pain intensity",),
    # Bands as fixed by CONTRACT.md §2 (none 0, mild 1-3, moderate 4-6, severe 7-10), the
    # usual clinical convention. Published cut-points vary by population (e.g. Serlin RC et al.,
    # Pain 1995;61:277-284 found 1-4 / 5-6 / 7-10 in cancer pain); shown for orientation only.
    bands=(
        Band("none", 0, "No pain"),
        Band("mild", 1, "Mild pain (1-3)"),
        Band("moderate", 4, "Moderate pain (4-6)"),
        Band("severe", 7, "Severe pain (7-10)"),
    ),
    # Meaningful change: 2 points or 30% of the earlier score. Farrar 2001 (a reduction of about
    # 2 points or about 30% matched "much improved" on the patient global impression of change)
    # and Ostelo 2008 (consensus MIC for the 0-10 NRS: 2 points, or a 30% improvement).
    meaningful_change=MeaningfulChange(
        points=2, percent=30, citation=f"{FARRAR_2001} {OSTELO_2008}"
    ),
    missing_rule="One item: if it is skipped there is no score.",
    citation=FARRAR_2001,
    licence="Generic 0-10 numeric rating scale: free to use; the item text ships.",
    scorer=score,
    item_text=ITEM_TEXT,
    answer_codes=(tuple((LOINC_SYSTEM, code) for code in ANSWER_CODES),),
)
