"""The clinicians' words for the codes of the case document (docs/contract.md).

Codes are the contract: documents, the API and FHIR keep them. Text the engine writes for a
clinician (a perspective's finding, a reason) and the pages show these words instead, so nobody
reads "modified-duty" or "mri-gadolinium". A code that is already a plain word ("sitting",
"left") is its own word; every other code of the case vocabulary has an entry here, which a test
checks. Spelling is American, as in the knowledge base and the case's field names
("anesthesia", "hematoma").
"""

from __future__ import annotations

from typing import Final

WORDS: Final[dict[str, str]] = {
    # sides and distributions
    "above-knee": "above the knee",
    "below-knee": "below the knee",
    "non-dermatomal": "non-dermatomal",
    # procedures
    "acdf": "ACDF (anterior cervical discectomy and fusion)",
    "alif": "ALIF (anterior lumbar interbody fusion)",
    "plif": "PLIF (posterior lumbar interbody fusion)",
    "tlif": "TLIF (transforaminal lumbar interbody fusion)",
    "xlif": "XLIF (lateral lumbar interbody fusion)",
    "posterolateral-fusion": "posterolateral fusion",
    "posterior-cervical-fusion": "posterior cervical fusion",
    "cervical-disc-arthroplasty": "cervical disc arthroplasty",
    "lumbar-disc-arthroplasty": "lumbar disc arthroplasty",
    "endoscopic-discectomy": "endoscopic discectomy",
    # indications and complications
    "disc-herniation": "disc herniation",
    "degenerative-disc": "degenerative disc disease",
    "dural-tear": "dural tear",
    "nerve-injury": "nerve injury",
    # pain and examination
    "bending-forward": "bending forward",
    "neck-movement": "neck movement",
    "pins-and-needles": "pins and needles",
    "acute-radiculopathy": "acute radiculopathy",
    "chronic-radiculopathy": "chronic radiculopathy",
    "peripheral-neuropathy": "peripheral neuropathy",
    "entrapment-neuropathy": "entrapment neuropathy",
    "fluctuant-swelling": "fluctuant swelling",
    "not-falling": "not falling",
    # imaging and tests
    "xray": "X-ray",
    "xray-flexion-extension": "flexion-extension X-rays",
    "xray-standing-full-spine": "standing full-spine X-ray",
    "mri": "MRI",
    "mri-gadolinium": "MRI with gadolinium",
    "ct": "CT",
    "ct-myelogram": "CT myelogram",
    "bone-scan-spect": "bone scan (SPECT)",
    "bone-density": "bone density",
    "dexa": "DEXA scan",
    # imaging findings
    "no-significant-findings": "no significant findings",
    "recurrent-disc-herniation": "recurrent disc herniation",
    "residual-disc-fragment": "residual disc fragment",
    "epidural-fibrosis": "epidural fibrosis",
    "foraminal-stenosis": "foraminal stenosis",
    "lateral-recess-stenosis": "lateral recess stenosis",
    "central-stenosis": "central stenosis",
    "adjacent-segment-degeneration": "adjacent segment degeneration",
    "cage-subsidence": "cage subsidence",
    "disc-degeneration": "disc degeneration",
    "discitis-osteomyelitis": "discitis or osteomyelitis",
    "dynamic-instability": "dynamic instability",
    "epidural-abscess": "epidural abscess",
    "epidural-hematoma": "epidural hematoma",
    "facet-arthropathy": "facet arthropathy",
    "fluid-collection": "fluid collection",
    "hardware-breakage": "broken hardware",
    "hardware-loosening": "loose hardware",
    "mass-lesion": "mass lesion",
    "modic-changes": "Modic changes",
    "sacroiliac-arthropathy": "sacroiliac arthropathy",
    "sagittal-imbalance": "sagittal imbalance",
    "screw-malposition": "screw malposition",
    "solid-fusion": "solid fusion",
    "vertebral-fracture": "vertebral fracture",
    # blocks
    "medial-branch": "medial branch block",
    "sacroiliac-joint": "sacroiliac joint",
    "selective-nerve-root": "selective nerve root block",
    "facet-intraarticular": "intra-articular facet injection",
    "hip-joint": "hip joint",
    # treatments tried
    "exercise-therapy": "exercise therapy",
    "multidisciplinary-rehabilitation": "multidisciplinary rehabilitation",
    "psychological-therapy": "psychological therapy",
    "neuropathic-medication": "neuropathic pain medication",
    "non-opioid-analgesia": "non-opioid analgesia",
    "opioid-taper": "opioid taper",
    "epidural-steroid-injection": "epidural steroid injection",
    "radiofrequency-denervation": "radiofrequency denervation",
    "spinal-cord-stimulation": "spinal cord stimulation",
    "intrathecal-drug-delivery": "intrathecal drug delivery",
    "revision-surgery": "revision surgery",
    "sacroiliac-joint-treatment": "sacroiliac joint treatment",
    "sleep-management": "sleep management",
    "smoking-cessation": "smoking cessation",
    "weight-management": "weight management",
    "not-tolerated": "not tolerated",
    # comorbidities and risk factors (a derived fact, case/facts.py)
    "long-term-steroids": "long-term steroids",
    "cancer-history": "a history of cancer",
    # questionnaire bands and the neuropathic grade (derived facts)
    "bed-bound": "bed-bound",
    "moderately-severe": "moderately severe",
    "clinically-relevant": "clinically relevant",
    "not-clinically-relevant": "not clinically relevant",
    "not-graded": "not graded",
    # work and course
    "modified-duty": "modified duty",
    "off-work": "off work",
    "transient-post-surgical": "expected post-surgical pain",
}


def word(code: str) -> str:
    """The word for a code of the case vocabulary; any other text is returned as it is."""
    return WORDS.get(code, code)
