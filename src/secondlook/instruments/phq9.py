"""PHQ-9: Patient Health Questionnaire, depression module.

Nine items, each 0 ("not at all") to 3 ("nearly every day") over the last 2 weeks; the total is
their sum, 0-27 (Kroenke, Spitzer & Williams 2001). Item 9 asks about thoughts of being better
off dead or of self-harm: any answer above 0 raises the ``self-harm-risk`` alert, whatever the
total and even when the total cannot be computed (see ``scoring.py``).
Free to use; its text ships with the developers' copyright line.
"""

from __future__ import annotations

from secondlook.instruments._common import all_items_required, complete
from secondlook.instruments.model import (
    LOINC_SYSTEM,
    SELF_HARM_RISK,
    AnswerText,
    Band,
    Computation,
    Instrument,
    ItemEntry,
    ItemText,
    MeaningfulChange,
)

ID = "phq-9"

KROENKE_2001 = (
    "Kroenke K, Spitzer RL, Williams JB. The PHQ-9: validity of a brief depression severity "
    "measure. J Gen Intern Med 2001;16(9):606-613."
)
LOWE_2004 = (
    "Löwe B, Unützer J, Callahan CM, Perkins AJ, Kroenke K. Monitoring depression treatment "
    "outcomes with the Patient Health Questionnaire-9. Med Care 2004;42(12):1194-1201."
)
COPYRIGHT = (
    "Developed by Drs. Robert L. Spitzer, Janet B.W. Williams, Kurt Kroenke and colleagues, "
    "with an educational grant from Pfizer Inc. No permission required to reproduce, translate, "
    "display or distribute."
)

# LOINC: panel 44249-1, total score 44261-6, items in published order (44260-8 = item 9).
# Answer list LA6568-5 / LA6569-3 / LA6570-1 / LA6571-9 (0-3). Checked against the LOINC-based
# PHQ-9 Questionnaire published with the LHC-Forms / US Core examples.
LOINC_PANEL = "44249-1"
LOINC_TOTAL = "44261-6"
ITEM_LOINC = (
    "44250-9",
    "44255-8",
    "44259-0",
    "44254-1",
    "44251-7",
    "44258-2",
    "44252-5",
    "44253-3",
    "44260-8",
)
ANSWER_CODES = ("LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9")
FREQUENCY_LABELS = ("Not at all", "Several days", "More than half the days", "Nearly every day")

#: 1-based number of the self-harm item.
SELF_HARM_ITEM = 9


def score(answers: tuple[int | None, ...]) -> Computation:
    """Sum of the nine items.

    Missing items: the PHQ instruction manual (Pfizer; Kroenke 2001) gives no rule for skipped
    items, so none is invented and all nine are required. (Some studies prorate up to two
    skipped items, e.g. Arrieta J et al., J Clin Psychol 2017;73:1076-1090; that is a study
    convention, not the developers' rule, and is not used here.)
    """
    incomplete = all_items_required(ID, answers, "the PHQ-9 manual gives no missing-item rule")
    if incomplete is not None:
        return incomplete
    return Computation(score=sum(complete(answers)))


def alerts(answers: tuple[int | None, ...]) -> tuple[str, ...]:
    """``self-harm-risk`` when item 9 is above 0, whatever the other answers.

    CONTRACT.md §3: any positive answer to item 9 is a safety alert. It does not depend on the
    total, so it is raised even when skipped items leave the total uncomputable.
    """
    item9 = answers[SELF_HARM_ITEM - 1]
    return (SELF_HARM_RISK,) if item9 is not None and item9 > 0 else ()


ITEM_TEXT = ItemText(
    instrument=ID,
    title="Patient Health Questionnaire (PHQ-9)",
    preamble="Over the last 2 weeks, how often have you been bothered by any of the following "
    "problems?",
    items=tuple(
        ItemEntry(
            text=text,
            answers=tuple(AnswerText(v, label) for v, label in enumerate(FREQUENCY_LABELS)),
        )
        for text in (
            "Little interest or pleasure in doing things",
            "Feeling down, depressed, or hopeless",
            "Trouble falling or staying asleep, or sleeping too much",
            "Feeling tired or having little energy",
            "Poor appetite or overeating",
            "Feeling bad about yourself — or that you are a failure or have let yourself or "
            "your family down",
            "Trouble concentrating on things, such as reading the newspaper or watching television",
            "Moving or speaking so slowly that other people could have noticed? Or the "
            "opposite — being so fidgety or restless that you have been moving around a lot "
            "more than usual",
            "Thoughts that you would be better off dead or of hurting yourself in some way",
        )
    ),
    copyright=COPYRIGHT,
)

INSTRUMENT = Instrument(
    id=ID,
    name="Patient Health Questionnaire-9 (depression)",
    item_count=9,
    item_min=(0,) * 9,
    item_max=(3,) * 9,
    min_score=0,
    max_score=27,
    loinc=LOINC_PANEL,
    loinc_total=LOINC_TOTAL,
    item_loinc=ITEM_LOINC,
    code_system=LOINC_SYSTEM,
    code=LOINC_PANEL,
    ships_item_text=True,
    item_labels=(
        "Anhedonia",
        "Low mood",
        "Sleep",
        "Energy",
        "Appetite",
        "Self-worth",
        "Concentration",
        "Psychomotor change",
        "Thoughts of death or self-harm",
    ),
    # Severity bands 0-4 minimal, 5-9 mild, 10-14 moderate, 15-19 moderately severe,
    # 20-27 severe: Kroenke 2001 (cut-points 5, 10, 15, 20).
    bands=(
        Band("minimal", 0, "Minimal (0-4)"),
        Band("mild", 5, "Mild (5-9)"),
        Band("moderate", 10, "Moderate (10-14)"),
        Band("moderately-severe", 15, "Moderately severe (15-19)"),
        Band("severe", 20, "Severe (20-27)"),
    ),
    # Meaningful change: 5 points. Löwe 2004 (a change of 5 points is the clinically significant
    # change for an individual patient).
    meaningful_change=MeaningfulChange(points=5, percent=None, citation=LOWE_2004),
    missing_rule="All 9 items are required: the PHQ-9 manual gives no rule for skipped items. "
    "Item 9 above 0 raises the self-harm alert even when the total cannot be computed.",
    citation=KROENKE_2001,
    licence="Free to use; the item text ships with the developers' copyright line.",
    scorer=score,
    alert_rule=alerts,
    total_only_note="phq-9 entered as a total: item 9 (thoughts of death or self-harm) is not "
    "known, so the self-harm check could not run; ask item 9",
    item_text=ITEM_TEXT,
    answer_codes=tuple(tuple((LOINC_SYSTEM, code) for code in ANSWER_CODES) for _ in range(9)),
)
