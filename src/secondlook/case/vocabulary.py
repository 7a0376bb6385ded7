"""The coded vocabulary of the case document (CONTRACT.md §1).

Each tuple is the closed set of codes one field accepts. The case model builds its types from
these tuples and the knowledge loader checks every code literal in a rule against them, so a typo
in either place fails loudly instead of silently never matching.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

SCHEMA_ID: Final = "secondlook.case/1"

Region = Literal["lumbar", "cervical", "thoracic"]
REGIONS: Final[tuple[Region, ...]] = get_args(Region)
Sex = Literal["female", "male", "other", "unknown"]
SEXES: Final[tuple[Sex, ...]] = get_args(Sex)
WorkStatus = Literal["working", "modified-duty", "off-work", "unemployed", "retired", "other"]
WORK_STATUSES: Final[tuple[WorkStatus, ...]] = get_args(WorkStatus)

Procedure = Literal[
    "discectomy",
    "microdiscectomy",
    "endoscopic-discectomy",
    "laminectomy",
    "laminotomy",
    "foraminotomy",
    "posterolateral-fusion",
    "tlif",
    "plif",
    "alif",
    "xlif",
    "acdf",
    "cervical-disc-arthroplasty",
    "posterior-cervical-fusion",
    "laminoplasty",
    "lumbar-disc-arthroplasty",
    "other",
]
PROCEDURES: Final[tuple[Procedure, ...]] = get_args(Procedure)
FUSION_PROCEDURES: Final = (
    "posterolateral-fusion",
    "tlif",
    "plif",
    "alif",
    "xlif",
    "acdf",
    "posterior-cervical-fusion",
)
DECOMPRESSION_PROCEDURES: Final = (
    "discectomy",
    "microdiscectomy",
    "endoscopic-discectomy",
    "laminectomy",
    "laminotomy",
    "foraminotomy",
    "laminoplasty",
)
DISCECTOMY_PROCEDURES: Final = ("discectomy", "microdiscectomy", "endoscopic-discectomy")
ARTHROPLASTY_PROCEDURES: Final = ("cervical-disc-arthroplasty", "lumbar-disc-arthroplasty")

Side = Literal["left", "right", "bilateral", "central"]
SIDES: Final[tuple[Side, ...]] = get_args(Side)
Indication = Literal[
    "disc-herniation",
    "stenosis",
    "spondylolisthesis",
    "degenerative-disc",
    "fracture",
    "deformity",
    "other",
]
INDICATIONS: Final[tuple[Indication, ...]] = get_args(Indication)
Complication = Literal["dural-tear", "infection", "hematoma", "nerve-injury", "other"]
COMPLICATIONS: Final[tuple[Complication, ...]] = get_args(Complication)

Relief = Literal["none", "partial", "complete"]
RELIEF: Final[tuple[Relief, ...]] = get_args(Relief)
Compared = Literal["same", "worse", "different"]
COMPARED: Final[tuple[Compared, ...]] = get_args(Compared)
Trend = Literal["improving", "stable", "worsening"]
TRENDS: Final[tuple[Trend, ...]] = get_args(Trend)
LimbSide = Literal["left", "right", "bilateral", "none"]
LIMB_SIDES: Final[tuple[LimbSide, ...]] = get_args(LimbSide)
LimbDistribution = Literal["dermatomal", "below-knee", "above-knee", "non-dermatomal", "none"]
LIMB_DISTRIBUTIONS: Final[tuple[LimbDistribution, ...]] = get_args(LimbDistribution)
ARM_DISTRIBUTIONS: Final = ("dermatomal", "non-dermatomal", "none")
PainCharacter = Literal[
    "aching",
    "dull",
    "sharp",
    "stabbing",
    "burning",
    "electric",
    "shooting",
    "pins-and-needles",
    "numbness",
    "cramping",
]
PAIN_CHARACTERS: Final[tuple[PainCharacter, ...]] = get_args(PainCharacter)
NEUROPATHIC_DESCRIPTORS: Final = ("burning", "electric", "shooting", "pins-and-needles", "numbness")
Aggravator = Literal[
    "sitting",
    "standing",
    "walking",
    "bending-forward",
    "extension",
    "rotation",
    "lying",
    "coughing",
    "neck-movement",
]
AGGRAVATORS: Final[tuple[Aggravator, ...]] = get_args(Aggravator)

MotorDeficit = Literal["none", "stable", "new", "progressive"]
MOTOR_DEFICITS: Final[tuple[MotorDeficit, ...]] = get_args(MotorDeficit)
SlrResult = Literal["positive", "negative"]
SLR: Final[tuple[SlrResult, ...]] = get_args(SlrResult)
Wound = Literal["healed", "erythema", "drainage", "dehiscence", "fluctuant-swelling"]
WOUNDS: Final[tuple[Wound, ...]] = get_args(Wound)

Modality = Literal[
    "xray",
    "xray-flexion-extension",
    "xray-standing-full-spine",
    "mri",
    "mri-gadolinium",
    "ct",
    "ct-myelogram",
    "bone-scan-spect",
    "dexa",
]
MODALITIES: Final[tuple[Modality, ...]] = get_args(Modality)
Finding = Literal[
    "no-significant-findings",
    "recurrent-disc-herniation",
    "residual-disc-fragment",
    "epidural-fibrosis",
    "foraminal-stenosis",
    "lateral-recess-stenosis",
    "central-stenosis",
    "adjacent-segment-degeneration",
    "spondylolisthesis",
    "dynamic-instability",
    "pseudarthrosis",
    "hardware-loosening",
    "hardware-breakage",
    "screw-malposition",
    "cage-subsidence",
    "fluid-collection",
    "pseudomeningocele",
    "epidural-abscess",
    "discitis-osteomyelitis",
    "epidural-hematoma",
    "arachnoiditis",
    "vertebral-fracture",
    "sagittal-imbalance",
    "facet-arthropathy",
    "sacroiliac-arthropathy",
    "disc-degeneration",
    "modic-changes",
    "mass-lesion",
    "solid-fusion",
    "bone-density",
]
FINDINGS: Final[tuple[Finding, ...]] = get_args(Finding)

CrpTrend = Literal["rising", "falling", "not-falling"]
CRP_TRENDS: Final[tuple[CrpTrend, ...]] = get_args(CrpTrend)
BlockTarget = Literal[
    "medial-branch",
    "sacroiliac-joint",
    "selective-nerve-root",
    "facet-intraarticular",
    "hip-joint",
]
BLOCK_TARGETS: Final[tuple[BlockTarget, ...]] = get_args(BlockTarget)
EmgResult = Literal[
    "normal",
    "acute-radiculopathy",
    "chronic-radiculopathy",
    "peripheral-neuropathy",
    "entrapment-neuropathy",
]
EMG_RESULTS: Final[tuple[EmgResult, ...]] = get_args(EmgResult)
Treatment = Literal[
    "exercise-therapy",
    "multidisciplinary-rehabilitation",
    "psychological-therapy",
    "neuropathic-medication",
    "non-opioid-analgesia",
    "opioid-taper",
    "epidural-steroid-injection",
    "adhesiolysis",
    "radiofrequency-denervation",
    "sacroiliac-joint-treatment",
    "spinal-cord-stimulation",
    "intrathecal-drug-delivery",
    "revision-surgery",
    "weight-management",
    "smoking-cessation",
    "sleep-management",
]
TREATMENTS: Final[tuple[Treatment, ...]] = get_args(Treatment)
Response = Literal["none", "partial", "good", "not-tolerated"]
RESPONSES: Final[tuple[Response, ...]] = get_args(Response)
SurgeryPreference = Literal["open", "unsure", "declines"]
SURGERY_PREFERENCES: Final[tuple[SurgeryPreference, ...]] = get_args(SurgeryPreference)

InstrumentId = Literal[
    "nrs-pain", "phq-9", "gad-7", "odi", "ndi", "start-back", "pcs", "dn4", "paindetect"
]
INSTRUMENT_IDS: Final[tuple[InstrumentId, ...]] = get_args(InstrumentId)

# The eight psychosocial factors weighed by the European SCS-referral consensus
# (Thomson et al., Eur J Pain 2020;24:1169).
SCS_PSYCHOSOCIAL_FACTORS: Final = (
    "low_engagement",
    "dysfunctional_coping",
    "unrealistic_expectations",
    "low_activity_level",
    "poor_social_support",
    "secondary_gain",
    "psychological_distress",
    "unwilling_to_reduce_opioids",
)

# -- the vocabulary of conclusions (CONTRACT.md §3) ---------------------------------------------
RED_FLAG_IDS: Final = (
    "cauda-equina",
    "epidural-hematoma",
    "progressive-neurological-deficit",
    "infection",
    "malignancy",
    "fracture",
    "csf-leak",
)
SAFETY_ALERT_IDS: Final = (
    "self-harm-risk",
    "opioid-overdose-risk",
    "opioid-dose-unknown",
    "severe-depression",
)
ETIOLOGY_IDS: Final = (
    "inadequate-decompression",
    "same-level-recurrent-compression",
    "wrong-level-or-wrong-diagnosis",
    "retained-disc-fragment",
    "recurrent-disc-herniation",
    "epidural-fibrosis",
    "arachnoiditis",
    "nerve-root-injury",
    "hardware-malposition",
    "pseudarthrosis",
    "instability",
    "adjacent-segment-disease",
    "new-level-pathology",
    "sacroiliac-joint-pain",
    "facet-joint-pain",
    "discogenic-pain",
    "sagittal-imbalance",
    "myofascial-deconditioning",
    "infection",
    "epidural-hematoma",
    "pseudomeningocele",
    "fracture",
    "non-spinal-pain-generator",
    "central-sensitization",
)
WORKUP_IDS: Final = (
    "mri-gadolinium",
    "mri",
    "ct",
    "ct-myelogram",
    "xray-flexion-extension",
    "xray-standing-full-spine",
    "emg-ncs",
    "bone-scan-spect",
    "dexa",
    "inflammatory-markers",
    "blood-cultures",
    "post-void-residual",
    "medial-branch-block",
    "sacroiliac-joint-block",
    "selective-nerve-root-block",
    "hip-evaluation",
    "shoulder-evaluation",
    "peripheral-nerve-evaluation",
    "visceral-evaluation",
    "rib-evaluation",
    "psychological-evaluation",
    "prior-records-review",
    "spine-surgery-opinion",
    "medication-review",
    "functional-assessment",
)
