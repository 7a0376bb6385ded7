"""GAD-7: Generalized Anxiety Disorder scale.

Seven items, each 0 ("not at all") to 3 ("nearly every day") over the last 2 weeks; the total is
their sum, 0-21 (Spitzer, Kroenke, Williams & Löwe 2006).
Free to use; its text ships with the developers' copyright line.
"""

from __future__ import annotations

from secondlook.instruments._common import all_items_required, complete
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
from secondlook.instruments.phq9 import ANSWER_CODES, COPYRIGHT, FREQUENCY_LABELS

ID = "gad-7"

SPITZER_2006 = (
    "Spitzer RL, Kroenke K, Williams JB, Löwe B. A brief measure for assessing generalized "
    "anxiety disorder: the GAD-7. Arch Intern Med 2006;166(10):1092-1097."
)
TOUSSAINT_2020 = (
    "Toussaint A, Hüsing P, Gumz A, et al. Sensitivity to change and minimal clinically "
    "important difference of the 7-item Generalized Anxiety Disorder Questionnaire (GAD-7). "
    "J Affect Disord 2020;265:395-401."
)

# LOINC: panel 69737-5, total score 70274-6, items in published order; same answer list as the
# PHQ-9 (LA6568-5 ... LA6571-9). Checked against the LOINC-based GAD-7 Questionnaire (HL7 PCO IG
# "Questionnaire-69737-5" and LHC-Forms).
LOINC_PANEL = "69737-5"
LOINC_TOTAL = "70274-6"
ITEM_LOINC = ("69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7")


def score(answers: tuple[int | None, ...]) -> Computation:
    """Sum of the seven items.

    Missing items: neither Spitzer 2006 nor the PHQ/GAD-7 instruction manual gives a rule for
    skipped items, so none is invented and all seven are required.
    """
    incomplete = all_items_required(ID, answers, "the GAD-7 manual gives no missing-item rule")
    if incomplete is not None:
        return incomplete
    return Computation(score=sum(complete(answers)))


ITEM_TEXT = ItemText(
    instrument=ID,
    title="Generalized Anxiety Disorder scale (GAD-7)",
    preamble="Over the last 2 weeks, how often have you been bothered by the following problems?",
    items=tuple(
        ItemEntry(
            text=text,
            answers=tuple(AnswerText(v, label) for v, label in enumerate(FREQUENCY_LABELS)),
        )
        for text in (
            "Feeling nervous, anxious or on edge",
            "Not being able to stop or control worrying",
            "Worrying too much about different things",
            "Trouble relaxing",
            "Being so restless that it is hard to sit still",
            "Becoming easily annoyed or irritable",
            "Feeling afraid as if something awful might happen",
        )
    ),
    copyright=COPYRIGHT,
)

INSTRUMENT = Instrument(
    id=ID,
    name="Generalized Anxiety Disorder-7 (anxiety)",
    item_count=7,
    item_min=(0,) * 7,
    item_max=(3,) * 7,
    min_score=0,
    max_score=21,
    loinc=LOINC_PANEL,
    loinc_total=LOINC_TOTAL,
    item_loinc=ITEM_LOINC,
    code_system=LOINC_SYSTEM,
    code=LOINC_PANEL,
    ships_item_text=True,
    item_labels=(
        "Nervousness",
        "Uncontrollable worry",
        "Excessive worry",
        "Trouble relaxing",
        "Restlessness",
        "Irritability",
        "Dread",
    ),
    # Severity bands 0-4 minimal, 5-9 mild, 10-14 moderate, 15-21 severe: Spitzer 2006
    # (cut-points 5, 10 and 15).
    bands=(
        Band("minimal", 0, "Minimal (0-4)"),
        Band("mild", 5, "Mild (5-9)"),
        Band("moderate", 10, "Moderate (10-14)"),
        Band("severe", 15, "Severe (15-21)"),
    ),
    # CLINICAL.md §6 gives no threshold; one is cited here: Toussaint 2020 estimated the minimal
    # clinically important difference at 4 points (anchor: HRSD-24, in a chronic-depression
    # trial; the authors ask for confirmation in anxiety-focused samples).
    meaningful_change=MeaningfulChange(points=4, percent=None, citation=TOUSSAINT_2020),
    missing_rule="All 7 items are required: the GAD-7 manual gives no rule for skipped items.",
    citation=SPITZER_2006,
    licence="Free to use; the item text ships with the developers' copyright line.",
    scorer=score,
    item_text=ITEM_TEXT,
    answer_codes=tuple(tuple((LOINC_SYSTEM, code) for code in ANSWER_CODES) for _ in range(7)),
)
