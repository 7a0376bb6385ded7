"""The care rules as data: who owns each item, which tasks must come first, what an accepted
item brings with it, and how soon each is due. Code in ``tasks.py`` only interprets these
tables; a new rule is a new row here (and its test), with its citation beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from secondlook.care.models import Discipline, Priority

# -- citations ------------------------------------------------------------------------------------

NICE_TA159: Final = (
    "NICE TA159. Spinal cord stimulation for chronic pain of neuropathic or ischaemic origin. "
    "2008: multidisciplinary assessment and a successful trial before implantation."
)
NICE_NG59: Final = (
    "NICE NG59. Low back pain and sciatica in over 16s: assessment and management. 2016 "
    "(updated 2020), 1.3.1-1.3.2: radiofrequency denervation only after a positive diagnostic "
    "medial branch block."
)
COHEN_2020: Final = (
    "Cohen SP, Bhaskar A, Bhatia A, et al. Consensus practice guidelines on interventions for "
    "lumbar facet joint pain. Reg Anesth Pain Med 2020;45(6):424-467."
)
SI_BLOCK: Final = (
    "CLINICAL.md §2: SI joint block before SI treatment (thresholds 50-80%; a single block has "
    "about 12.5% false positives, a confirmatory block strengthens it)."
)
SECOND_OPINION: Final = "CLINICAL.md §4: a second surgical opinion before any revision."
RECORDS: Final = (
    "CLINICAL.md §4: all prior records of the original surgery, its indication, rehabilitation "
    "and recovery are part of every work-up."
)
REVISION_BUNDLE: Final = (
    "CLINICAL.md §5: when revision is planned, the plan is made up front: pain management after "
    "surgery, rehabilitation, diet and home exercise, and a realistic return to work and "
    "activities (Phillips & Cunningham, Spine 2002; Fritsch, Spine 1996)."
)

# -- owners ---------------------------------------------------------------------------------------

#: The discipline that owns each work-up item and treatment (and each implied task) by default.
#: A clinician's edit may name another discipline or a person.
OWNER_OF: Final[dict[str, Discipline]] = {
    # work-up
    "mri-gadolinium": "spine-surgery",
    "mri": "spine-surgery",
    "ct": "spine-surgery",
    "ct-myelogram": "spine-surgery",
    "xray-flexion-extension": "spine-surgery",
    "xray-standing-full-spine": "spine-surgery",
    "emg-ncs": "internal-medicine",
    "bone-scan-spect": "spine-surgery",
    "dexa": "internal-medicine",
    "inflammatory-markers": "internal-medicine",
    "blood-cultures": "internal-medicine",
    "post-void-residual": "nursing-coordination",
    "medial-branch-block": "pain-medicine",
    "sacroiliac-joint-block": "pain-medicine",
    "selective-nerve-root-block": "pain-medicine",
    "hip-evaluation": "spine-surgery",
    "shoulder-evaluation": "spine-surgery",
    "peripheral-nerve-evaluation": "internal-medicine",
    "visceral-evaluation": "internal-medicine",
    "rib-evaluation": "physical-therapy",
    "psychological-evaluation": "psychology",
    "prior-records-review": "nursing-coordination",
    "spine-surgery-opinion": "spine-surgery",
    "medication-review": "pain-medicine",
    "functional-assessment": "physical-therapy",
    # treatments
    "exercise-therapy": "physical-therapy",
    "multidisciplinary-rehabilitation": "physical-therapy",
    "psychological-therapy": "psychology",
    "neuropathic-medication": "pain-medicine",
    "non-opioid-analgesia": "pain-medicine",
    "opioid-taper": "pain-medicine",
    "epidural-steroid-injection": "pain-medicine",
    "adhesiolysis": "pain-medicine",
    "radiofrequency-denervation": "pain-medicine",
    "sacroiliac-joint-treatment": "pain-medicine",
    "spinal-cord-stimulation": "pain-medicine",
    "intrathecal-drug-delivery": "pain-medicine",
    "revision-surgery": "spine-surgery",
    "weight-management": "internal-medicine",
    "smoking-cessation": "internal-medicine",
    "sleep-management": "psychology",
    # implied tasks (below)
    "spinal-cord-stimulation-trial": "pain-medicine",
    "post-operative-pain-plan": "pain-medicine",
    "post-operative-rehabilitation-plan": "physical-therapy",
    "diet-and-home-exercise-plan": "nursing-coordination",
    "return-to-activity-plan": "physical-therapy",
    "opioid-taper-follow-up": "pain-medicine",
}

# -- tasks an accepted item brings with it --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImpliedTask:
    """A task that exists only because another item was accepted (``brought_by``)."""

    key: str
    brought_by: str
    name: str
    citation: str


IMPLIED_TASKS: Final[tuple[ImpliedTask, ...]] = (
    # The trial is its own task: a failed trial must stop the permanent implant (NICE TA159).
    ImpliedTask(
        "spinal-cord-stimulation-trial",
        "spinal-cord-stimulation",
        "Spinal cord stimulation trial",
        NICE_TA159,
    ),
    # Revision surgery brings its whole recovery plan up front, agreed before the operation.
    ImpliedTask(
        "post-operative-pain-plan",
        "revision-surgery",
        "Agree the post-operative pain management plan",
        REVISION_BUNDLE,
    ),
    ImpliedTask(
        "post-operative-rehabilitation-plan",
        "revision-surgery",
        "Agree the post-operative rehabilitation plan",
        REVISION_BUNDLE,
    ),
    ImpliedTask(
        "diet-and-home-exercise-plan",
        "revision-surgery",
        "Agree diet and home exercise before and after surgery",
        REVISION_BUNDLE,
    ),
    ImpliedTask(
        "return-to-activity-plan",
        "revision-surgery",
        "Agree a realistic return to activities and work",
        REVISION_BUNDLE,
    ),
)

# -- prerequisites --------------------------------------------------------------------------------

#: What happens to a waiting task when its prerequisite fails or is cancelled:
#: ``cancel`` it (with the reason), or ``proceed`` without it (the reason is recorded).
IfNotDone = Literal["cancel", "proceed"]


@dataclass(frozen=True, slots=True)
class PrerequisiteRule:
    """``requires`` must be completed before ``task`` may start.

    ``gap_days``: the earliest the dependent is due after its prerequisite's due date.
    ``waived_for``: priorities of the dependent for which the rule does not hold (an emergency
    surgical review never waits for old records).
    """

    id: str
    task: str
    requires: str
    if_not_done: IfNotDone
    gap_days: int
    citation: str
    waived_for: tuple[Priority, ...] = ()


PREREQUISITES: Final[tuple[PrerequisiteRule, ...]] = (
    PrerequisiteRule(
        "scs-trial-after-psychological-evaluation",
        "spinal-cord-stimulation-trial",
        "psychological-evaluation",
        "cancel",
        14,
        NICE_TA159,
    ),
    PrerequisiteRule(
        "scs-after-psychological-evaluation",
        "spinal-cord-stimulation",
        "psychological-evaluation",
        "cancel",
        14,
        NICE_TA159,
    ),
    PrerequisiteRule(
        "scs-after-successful-trial",
        "spinal-cord-stimulation",
        "spinal-cord-stimulation-trial",
        "cancel",
        28,
        NICE_TA159,
    ),
    PrerequisiteRule(
        "revision-after-second-opinion",
        "revision-surgery",
        "spine-surgery-opinion",
        "cancel",
        14,
        SECOND_OPINION,
    ),
    # Records inform the opinion but their absence must not stop it: proceed, and say so.
    PrerequisiteRule(
        "opinion-after-prior-records",
        "spine-surgery-opinion",
        "prior-records-review",
        "proceed",
        0,
        RECORDS,
        waived_for=("emergency", "urgent"),
    ),
    PrerequisiteRule(
        "rf-after-medial-branch-block",
        "radiofrequency-denervation",
        "medial-branch-block",
        "cancel",
        28,
        f"{NICE_NG59} {COHEN_2020}",
    ),
    PrerequisiteRule(
        "si-treatment-after-si-block",
        "sacroiliac-joint-treatment",
        "sacroiliac-joint-block",
        "cancel",
        28,
        SI_BLOCK,
    ),
    *(
        PrerequisiteRule(
            f"revision-after-{key}", "revision-surgery", key, "proceed", 0, REVISION_BUNDLE
        )
        for key in (
            "post-operative-pain-plan",
            "post-operative-rehabilitation-plan",
            "diet-and-home-exercise-plan",
            "return-to-activity-plan",
        )
    ),
)

#: Work-up that is due by the plan's start (the first visit), whatever its priority: the
#: records of the original surgery are requested before the patient is first seen (RECORDS).
DUE_AT_START: Final[frozenset[str]] = frozenset({"prior-records-review"})

# -- due dates ------------------------------------------------------------------------------------

#: Days from the plan's start to a task's due date, by the engine's priority (work-up) or
#: recommendation (treatment). A clinician's edit may set another date.
DUE_DAYS: Final[dict[str, int]] = {
    "emergency": 0,
    "urgent": 7,
    "routine": 28,
    "recommended": 28,
    "consider": 42,
    "not-recommended": 42,
    "contraindicated": 42,
    "implied": 28,
}
