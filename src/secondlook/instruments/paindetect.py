"""painDETECT: a screening questionnaire for a neuropathic pain component (Freynhagen et al. 2006).

Nine scored items: seven on how the pain feels (burning, tingling or prickling, pain on light
touch, sudden electric attacks, pain from cold or heat, numbness, pain on slight pressure), each
"never" (0) to "very strongly" (5); the course of the pain (one of four patterns: persistent with
slight fluctuations 0, persistent with pain attacks -1, attacks without pain between them +1,
attacks with pain between them +1); and radiating pain (yes +2). Total -1 to 38: 12 or less a
neuropathic component unlikely (< 15%), 13-18 unclear, 19 or more likely (> 90%).

SecondLook stores the course as the pattern chosen, ordered by its points so that a higher
answer never lowers the total (0 persistent with attacks, 1 persistent with slight fluctuations,
2 attacks without pain between them, 3 attacks with pain between them), and radiating pain as
no (0) / yes (1); the points each carries are the scoring rule's, here. The three pain
intensity ratings of the form are not scored and are recorded with the NRS instead.
Copyright Pfizer Pharma GmbH: only scoring and SecondLook's own item labels ship; a site loads
its licensed item text with ``load_item_text``.
"""

from __future__ import annotations

from secondlook.instruments._common import all_items_required, complete
from secondlook.instruments.model import LOCAL_CODE_SYSTEM, Band, Computation, Instrument

ID = "paindetect"

FREYNHAGEN_2006 = (
    "Freynhagen R, Baron R, Gockel U, Tolle TR. painDETECT: a new screening questionnaire to "
    "identify neuropathic components in patients with back pain. Curr Med Res Opin. "
    "2006;22(10):1911-1920."
)

# Points of each course pattern (Freynhagen 2006), in SecondLook's order of the patterns.
COURSE_POINTS = (-1, 0, 1, 1)
# Radiating pain: yes adds 2 points (Freynhagen 2006).
RADIATING_POINTS = 2


def score(answers: tuple[int | None, ...]) -> Computation:
    """Sum of the seven quality items, plus the course pattern's points and 2 for radiating
    pain. Freynhagen 2006 gives no rule for skipped items, so none is invented."""
    incomplete = all_items_required(ID, answers, "Freynhagen 2006 gives no missing-item rule")
    if incomplete is not None:
        return incomplete
    values = complete(answers)
    quality, course, radiating = values[:7], values[7], values[8]
    total = sum(quality) + COURSE_POINTS[course] + RADIATING_POINTS * radiating
    return Computation(score=total, subscales={"pain_quality": sum(quality)})


INSTRUMENT = Instrument(
    id=ID,
    name="painDETECT neuropathic pain questionnaire",
    item_count=9,
    item_min=(0,) * 9,
    item_max=(5,) * 7 + (3, 1),
    min_score=-1,
    max_score=38,
    # No LOINC panel in use for painDETECT: local code system (see docs/instruments.md).
    loinc=None,
    loinc_total=None,
    item_loinc=(),
    code_system=LOCAL_CODE_SYSTEM,
    code=ID,
    ships_item_text=False,
    item_labels=(
        "Burning",
        "Tingling or prickling",
        "Pain on light touch",
        "Sudden pain attacks, like electric shocks",
        "Pain from cold or heat",
        "Numbness",
        "Pain on slight pressure",
        "Course of the pain (pattern 1-4)",
        "Pain radiates to other parts of the body",
    ),
    # Cut-offs of the validation study (Freynhagen 2006): <= 12 a neuropathic component is
    # unlikely (< 15%), 13-18 the result is unclear, >= 19 it is likely (> 90%); sensitivity
    # 85% and specificity 80% at 19.
    bands=(
        Band("negative", -1, "Neuropathic component unlikely (-1 to 12)"),
        Band("unclear", 13, "Unclear: a neuropathic component may be present (13-18)"),
        Band("positive", 19, "Neuropathic component likely (19-38)"),
    ),
    # A diagnostic screening tool: no meaningful-change threshold.
    meaningful_change=None,
    missing_rule="All 9 scored items are required: Freynhagen 2006 gives no missing-item rule.",
    citation=FREYNHAGEN_2006,
    licence="Copyright Pfizer Pharma GmbH: item text does not ship; a site loads its own.",
    scorer=score,
)
