"""ODI: Oswestry Disability Index, version 2.1a.

Ten sections (pain intensity, personal care, lifting, walking, sitting, standing, sleeping, sex
life, social life, travelling), each 0-5. The index is the sum divided by the maximum possible
for the sections answered, as a percentage: ``sum / (5 x answered) x 100``, 0-100.
Licensed (Mapi Research Trust): only scoring and SecondLook's own section labels ship; a site
loads its licensed item text with ``load_item_text``.
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

ID = "odi"

FAIRBANK_2000 = (
    "Fairbank JC, Pynsent PB. The Oswestry Disability Index. Spine 2000;25(22):2940-2953."
)
FAIRBANK_1980 = (
    "Fairbank JC, Couper J, Davies JB, O'Brien JP. The Oswestry low back pain disability "
    "questionnaire. Physiotherapy 1980;66(8):271-273."
)
OSTELO_2008 = (
    "Ostelo RW, Deyo RA, Stratford P, et al. Interpreting change scores for pain and functional "
    "status in low back pain: towards international consensus regarding minimal important "
    "change. Spine 2008;33(1):90-94."
)

#: At most this many sections may be skipped (or "not applicable", e.g. sex life).
MAX_SKIPPED = 1


def score(answers: tuple[int | None, ...]) -> Computation:
    """``sum / (5 x answered) x 100``.

    Fairbank & Pynsent 2000 (scoring appendix): all ten answered, 16 points -> 16/50 = 32%;
    one section missed or not applicable -> 16/45 = 35.5%. CLINICAL.md §6 allows at most one
    skipped section; with two or more the index is not computed.
    """
    missing = skipped(answers)
    if len(missing) > MAX_SKIPPED:
        return Computation(
            score=None,
            problems=(
                f"{ID}: {item_list(missing)} skipped; the index allows at most "
                f"{MAX_SKIPPED} skipped section (Fairbank & Pynsent 2000)",
            ),
        )
    answered = [a for a in answers if a is not None]
    return Computation(score=sum(answered) / (5 * len(answered)) * 100)


INSTRUMENT = Instrument(
    id=ID,
    name="Oswestry Disability Index v2.1a",
    item_count=10,
    item_min=(0,) * 10,
    item_max=(5,) * 10,
    min_score=0,
    max_score=100,
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
        "Walking",
        "Sitting",
        "Standing",
        "Sleeping",
        "Sex life",
        "Social life",
        "Travelling",
    ),
    # Bands 0-20 minimal, 21-40 moderate, 41-60 severe, 61-80 crippled, 81-100 bed-bound:
    # Fairbank 1980, restated in Fairbank & Pynsent 2000. The published bands are whole
    # percentages; a fractional index falls in the band whose lower bound it has reached
    # (20.5 -> minimal). With 9 or 10 sections answered no index falls between two bands.
    bands=(
        Band("minimal", 0, "Minimal disability (0-20)"),
        Band("moderate", 21, "Moderate disability (21-40)"),
        Band("severe", 41, "Severe disability (41-60)"),
        Band("crippled", 61, "Crippled (61-80)"),
        Band("bed-bound", 81, "Bed-bound or exaggerating (81-100)"),
    ),
    # Meaningful change: 10 points on the 0-100 index (CLINICAL.md §6; Ostelo 2008 consensus).
    # Ostelo 2008 also proposes a 30% improvement from baseline as a threshold for all measures;
    # CLINICAL.md adopts only the 10 points, so percent stays None here.
    meaningful_change=MeaningfulChange(points=10, percent=None, citation=OSTELO_2008),
    missing_rule="sum / (5 x sections answered) x 100; at most 1 section may be skipped "
    "(Fairbank & Pynsent 2000; CLINICAL.md §6). Two or more skipped: no index.",
    citation=FAIRBANK_2000,
    licence="Licensed by Mapi Research Trust (fees for organisations): item text does not ship.",
    scorer=score,
    max_skipped=MAX_SKIPPED,
)
