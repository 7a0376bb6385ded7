"""NDI: Neck Disability Index (Vernon & Mior 1991).

Ten items (pain intensity, personal care, lifting, reading, headaches, concentration, work,
driving, sleeping, recreation), each 0-5; the raw score is their sum, 0-50 (x2 = percent).
Licensing unclear (CLINICAL.md §6): treated as licensed, so only scoring and SecondLook's own
item labels ship; a site loads its item text with ``load_item_text``.
"""

from __future__ import annotations

from secondlook.instruments._common import item_list, skipped
from secondlook.instruments.model import (
    LOCAL_CODE_SYSTEM,
    Band,
    Computation,
    Instrument,
    MeaningfulChange,
)

ID = "ndi"

VERNON_1991 = (
    "Vernon H, Mior S. The Neck Disability Index: a study of reliability and validity. "
    "J Manipulative Physiol Ther 1991;14(7):409-415."
)
VERNON_2008 = (
    "Vernon H. The Neck Disability Index: state-of-the-art, 1991-2008. "
    "J Manipulative Physiol Ther 2008;31(7):491-502."
)

#: Skipped items that may be replaced by the mean of the answered ones. The developer's scoring
#: note (H. Vernon) describes the rule for a respondent who leaves out a question: "the average
#: of all other items is then added to the completed items". A published upper limit on how
#: many items may be imputed this way could not be verified from the sources available (the
#: full text of Vernon 2008 was not reachable), so SecondLook applies the rule to the single
#: skipped item it is stated for and computes no score when two or more are skipped.
MAX_SKIPPED = 1


def score(answers: tuple[int | None, ...]) -> Computation:
    """Raw sum 0-50; one skipped item is replaced by the mean of the other nine."""
    missing = skipped(answers)
    if len(missing) > MAX_SKIPPED:
        return Computation(
            score=None,
            problems=(
                f"{ID}: {item_list(missing)} skipped; the mean of the answered items replaces "
                f"at most {MAX_SKIPPED} skipped item (Vernon's scoring rule)",
            ),
        )
    answered = [a for a in answers if a is not None]
    total = float(sum(answered))
    if missing:
        total += sum(answered) / len(answered) * len(missing)
    return Computation(score=total)


INSTRUMENT = Instrument(
    id=ID,
    name="Neck Disability Index",
    item_count=10,
    item_min=(0,) * 10,
    item_max=(5,) * 10,
    min_score=0,
    max_score=50,
    # No LOINC code (CLINICAL.md §6): local code system.
    loinc=None,
    loinc_total=None,
    item_loinc=(),
    code_system=LOCAL_CODE_SYSTEM,
    code=ID,
    ships_item_text=False,
    item_labels=(
        "Pain intensity",
        "Personal care",
        "Lifting",
        "Reading",
        "Headaches",
        "Concentration",
        "Work",
        "Driving",
        "Sleeping",
        "Recreation",
    ),
    # Bands on the raw 0-50 score: 0-4 none, 5-14 mild, 15-24 moderate, 25-34 severe,
    # >34 complete (Vernon & Mior 1991; restated in Vernon 2008). A fractional score (only
    # possible after imputation, e.g. 34.4) falls in the band whose lower bound it has reached.
    bands=(
        Band("none", 0, "No disability (0-4)"),
        Band("mild", 5, "Mild disability (5-14)"),
        Band("moderate", 15, "Moderate disability (15-24)"),
        Band("severe", 25, "Severe disability (25-34)"),
        Band("complete", 35, "Complete disability (35-50)"),
    ),
    # Meaningful change: 5 raw points (CLINICAL.md §6; Vernon 2008: the minimal clinically
    # important difference and the minimal detectable change are both about 5 NDI points).
    meaningful_change=MeaningfulChange(points=5, percent=None, citation=VERNON_2008),
    missing_rule="One skipped item is replaced by the mean of the answered items (Vernon). "
    "Two or more skipped: no score (no published limit could be verified; see ndi.py).",
    citation=VERNON_1991,
    licence="Licensing unclear: treated as licensed, item text does not ship.",
    scorer=score,
    max_skipped=MAX_SKIPPED,
)
