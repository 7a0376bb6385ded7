"""DN4: Douleur Neuropathique en 4 questions (Bouhassira et al. 2005).

Ten yes (1) / no (0) items: seven from the interview (burning, painful cold, electric shocks,
tingling, pins and needles, numbness, itching) and three from the examination (hypoaesthesia to
touch, hypoaesthesia to pin prick, pain caused or increased by brushing). Total 0-10; 4 or more
suggests neuropathic pain.
Licensed (Mapi Research Trust): only scoring and SecondLook's own item labels ship; a site
loads its licensed item text with ``load_item_text``.
"""

from __future__ import annotations

from secondlook.instruments._common import all_items_required, complete
from secondlook.instruments.model import (
    LOCAL_CODE_SYSTEM,
    Band,
    Computation,
    Instrument,
)

ID = "dn4"

BOUHASSIRA_2005 = (
    "Bouhassira D, Attal N, Alchaar H, et al. Comparison of pain syndromes associated with "
    "nervous or somatic lesions and development of a new neuropathic pain diagnostic "
    "questionnaire (DN4). Pain 2005;114(1-2):29-36."
)


def score(answers: tuple[int | None, ...]) -> Computation:
    """Count of "yes" answers, 0-10.

    Missing items: Bouhassira 2005 gives no rule for skipped items, so none is invented and all
    ten are required (three of them need a clinical examination).
    """
    incomplete = all_items_required(ID, answers, "Bouhassira 2005 gives no missing-item rule")
    if incomplete is not None:
        return incomplete
    return Computation(score=sum(complete(answers)))


INSTRUMENT = Instrument(
    id=ID,
    name="DN4 neuropathic pain questionnaire",
    item_count=10,
    item_min=(0,) * 10,
    item_max=(1,) * 10,
    min_score=0,
    max_score=10,
    # No LOINC code used: local code system (see docs/instruments.md).
    loinc=None,
    loinc_total=None,
    item_loinc=(),
    code_system=LOCAL_CODE_SYSTEM,
    code=ID,
    ships_item_text=False,
    item_labels=(
        "Burning",
        "Painful cold",
        "Electric shocks",
        "Tingling",
        "Pins and needles",
        "Numbness",
        "Itching",
        "Touch hypoaesthesia (examination)",
        "Pin-prick hypoaesthesia (examination)",
        "Brushing provokes pain (examination)",
    ),
    # Cut-off: a total of 4/10 or more classifies the pain as neuropathic (Bouhassira 2005:
    # sensitivity 82.9%, specificity 89.9% in the validation sample).
    bands=(
        Band("negative", 0, "Below the neuropathic cut-off (0-3)"),
        Band("positive", 4, "Neuropathic pain likely (4-10)"),
    ),
    # A diagnostic screening tool: no meaningful-change threshold (CLINICAL.md §6 gives none).
    meaningful_change=None,
    missing_rule="All 10 items are required: Bouhassira 2005 gives no missing-item rule.",
    citation=BOUHASSIRA_2005,
    licence="Licensed by Mapi Research Trust (fees for organisations): item text does not ship.",
    scorer=score,
)
