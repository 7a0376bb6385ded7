"""Named facts derived once from a case: the vocabulary that knowledge-base conditions speak.

A fact that is not known is *absent* from the result, never `false` or `0`: conditions over an
absent fact evaluate to "unknown" (see secondlook.knowledge.expressions), so a missing examination
neither supports nor refutes anything.

`FACTS` declares every fact with its kind and, for coded facts, the codes it can take. The
knowledge loader checks each condition against this catalogue, and `secondlook knowledge facts`
prints it for the clinicians who write rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from secondlook.case.models import Case, Imaging
from secondlook.case.vocabulary import (
    AGGRAVATORS,
    ARTHROPLASTY_PROCEDURES,
    BLOCK_TARGETS,
    COMPARED,
    COMPLICATIONS,
    CRP_TRENDS,
    DECOMPRESSION_PROCEDURES,
    DISCECTOMY_PROCEDURES,
    EMG_RESULTS,
    ETIOLOGY_IDS,
    FINDINGS,
    FUSION_PROCEDURES,
    INDICATIONS,
    INSTRUMENT_IDS,
    LIMB_DISTRIBUTIONS,
    LIMB_SIDES,
    MODALITIES,
    MOTOR_DEFICITS,
    NEUROPATHIC_DESCRIPTORS,
    PAIN_CHARACTERS,
    PROCEDURES,
    RED_FLAG_IDS,
    REGIONS,
    RELIEF,
    SAFETY_ALERT_IDS,
    SCS_PSYCHOSOCIAL_FACTORS,
    SEXES,
    SLR,
    TREATMENTS,
    TRENDS,
    WORK_STATUSES,
    WOUNDS,
)
from secondlook.instruments import INSTRUMENTS, ScoreResult, score, score_total

FactValue = bool | float | str | tuple[str, ...]
FactKind = Literal["bool", "number", "code", "codes"]

COURSES = ("persistent", "recurrent", "new", "transient-post-surgical", "undetermined")
ALERT_CODES = ("self-harm-risk",)

# Chronic post-surgical pain persists at least 3 months after surgery
# (ICD-11 MG30.21; Schug et al., Pain 2019;160:45-52).
CHRONIC_AFTER_MONTHS = 3.0
DAYS_PER_MONTH = 365.25 / 12

# DN4 >= 4/10 indicates a neuropathic component (Bouhassira et al., Pain 2005;114:29-36).
DN4_NEUROPATHIC_CUTOFF = 4.0
# painDETECT (Freynhagen 2006): >= 19 a neuropathic component is likely (> 90%), <= 12 unlikely
# (< 15%), between the two unclear.
PAINDETECT_LIKELY = 19.0
PAINDETECT_UNLIKELY = 12.0

# The NeuPSIG grading of neuropathic pain (Finnerup NB et al., Pain 2016;157(8):1599-1606):
# a history of a relevant lesion with a neuroanatomically plausible distribution -> possible;
# plus sensory signs in that distribution -> probable; plus a test confirming the lesion ->
# definite. "unlikely" when the distribution is not plausible; "not-graded" when the case does
# not say enough to grade (unknown is not no).
NEUPSIG_GRADES = ("not-graded", "unlikely", "possible", "probable", "definite")
# The reasons a grade rests on, in words; each names the case facts it comes from.
NEUPSIG_REASONS = {
    "nerve-injury": "a nerve injury recorded at surgery (index_complications)",
    "arachnoiditis": "arachnoiditis on imaging since surgery (imaging)",
    "root-lesion-imaging": "a lesion compressing a nerve root on imaging since surgery (imaging)",
    "radiculopathy-emg": "radiculopathy on EMG (electrodiagnostics)",
    "radicular-indication": (
        "operated for a disc herniation or stenosis, lesions of the nerve roots (index_indication)"
    ),
    "dermatomal": "limb pain in a dermatomal distribution (limb_distribution)",
    "below-knee": "leg pain below the knee, the territory of the L5 and S1 roots "
    "(limb_distribution)",
    "bilateral-multiroot": "bilateral limb pain, as arachnoiditis involves several roots "
    "(limb_side)",
    "sensory-deficit": "a sensory deficit on examination (neuro.sensory_deficit)",
    "no-sensory-deficit": "no sensory deficit on examination (neuro.sensory_deficit)",
    "sensory-not-examined": "sensation not recorded (neuro.sensory_deficit)",
    "implausible-distribution": "the limb pain does not follow a nerve root's territory "
    "(limb_distribution)",
    "no-limb-pain": "no limb pain in a nerve territory (limb_distribution)",
    "distribution-unknown": "the distribution of the limb pain is not recorded (limb_distribution)",
    "above-knee-undecided": "thigh pain above the knee fits an upper lumbar root and the hip "
    "alike (limb_distribution)",
    "no-lesion-documented": "no relevant lesion of a nerve root documented yet",
    "confirmed-imaging": "imaging confirms the lesion (imaging)",
    "confirmed-emg": "EMG confirms a radiculopathy (electrodiagnostics)",
    "no-confirmatory-test": "no confirmatory imaging or electrodiagnostic test yet",
}
# Imaging findings that are lesions of a nerve root (a relevant lesion, and its confirmation).
ROOT_LESION_FINDINGS = (
    "recurrent-disc-herniation",
    "residual-disc-fragment",
    "foraminal-stenosis",
    "lateral-recess-stenosis",
)


# Yes/no facts copied as they are from a section of the case; the catalogue and the derivation
# both read these lists, so they cannot drift apart.
PATIENT_FLAGS = (
    "smoker",
    "diabetes",
    "osteoporosis",
    "immunosuppressed",
    "long_term_steroids",
    "cancer_history",
    "iv_drug_use",
)
# The comorbidities and risk factors the medical perspective names, from the patient flags that
# raise them (perspectives.yaml), so a clinician reads which ones are present.
MEDICAL_RISK_FACTORS = {
    "diabetes": "diabetes",
    "immunosuppressed": "immunosuppression",
    "osteoporosis": "osteoporosis",
    "long_term_steroids": "long-term-steroids",
    "cancer_history": "cancer-history",
    "smoker": "smoking",
}
PAIN_FLAGS = (
    "neurogenic_claudication",
    "rest_or_night_pain",
    "positional_headache",
    "widespread_pain",
)
NEURO_FLAGS = (
    "sensory_deficit",
    "saddle_anesthesia",
    "urinary_retention",
    "urinary_incontinence",
    "bowel_dysfunction",
    "bilateral_limb_symptoms",
    "gait_disturbance",
    "myelopathic_signs",
)
SYSTEMIC_FLAGS = (
    "fever",
    "chills_or_night_sweats",
    "unexplained_weight_loss",
    "recent_trauma",
    "recent_spinal_injection",
)
MEDICATION_FLAGS = (
    "benzodiazepine",
    "gabapentinoid",
    "snri_or_tca",
    "nsaid",
    "muscle_relaxant",
)


@dataclass(frozen=True, slots=True)
class FactSpec:
    name: str
    kind: FactKind
    doc: str
    codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ScoredQuestionnaire:
    """One questionnaire of the case with its score (answers scored, or a total as given)."""

    index: int
    instrument: str
    date: date
    result: ScoreResult
    answers: tuple[int | None, ...] | None


@dataclass(frozen=True, slots=True)
class CaseFacts:
    values: dict[str, FactValue]
    scored: tuple[ScoredQuestionnaire, ...] = field(default=())

    def get(self, name: str) -> FactValue | None:
        return self.values.get(name)


def _specs() -> dict[str, FactSpec]:
    out: dict[str, FactSpec] = {}

    def add(name: str, kind: FactKind, doc: str, codes: Iterable[str] = ()) -> None:
        out[name] = FactSpec(name, kind, doc, tuple(codes))

    b: FactKind = "bool"
    n: FactKind = "number"
    c: FactKind = "code"
    cs: FactKind = "codes"
    add("region", c, "region of the operated spine and the complaint", REGIONS)
    add("months_since_surgery", n, "months from the index surgery to assessed_on")
    add("weeks_since_surgery", n, "weeks from the index surgery to assessed_on")
    add("chronic", b, "pain has lasted at least 3 months since the index surgery")
    add("course", c, "persistent, recurrent, new, transient post-surgical or undetermined", COURSES)
    # patient
    add("age", n, "age in years")
    add("sex", c, "sex", SEXES)
    add("bmi", n, "body-mass index, kg/m², from height and weight")
    for flag in PATIENT_FLAGS:
        add(flag, b, f"patient: {flag.replace('_', ' ')}")
    add("work_status", c, "work status", WORK_STATUSES)
    add(
        "medical_risk_factors",
        cs,
        "comorbidities and risk factors present (diabetes, immunosuppression, osteoporosis, "
        "long-term steroids, cancer history, smoking)",
        MEDICAL_RISK_FACTORS.values(),
    )
    # surgery
    add("index_procedure", c, "procedure of the most recent surgery", PROCEDURES)
    add("index_is_fusion", b, "the index surgery was a fusion")
    add("index_is_decompression", b, "the index surgery was a decompression without fusion")
    add("index_is_discectomy", b, "the index surgery was a discectomy of any kind")
    add("index_is_arthroplasty", b, "the index surgery was a disc arthroplasty")
    add("index_instrumented", b, "the index surgery placed instrumentation")
    add("index_fused_to_sacrum", b, "the index fusion extends to the sacrum")
    add("index_indication", c, "indication of the index surgery", INDICATIONS)
    add("index_complications", cs, "complications of the index surgery", COMPLICATIONS)
    add("index_level_count", n, "number of levels operated at the index surgery")
    add("surgery_count", n, "number of spine surgeries listed")
    add("any_fusion", b, "any listed surgery was a fusion")
    # pain
    add("relief_after_surgery", c, "did the index surgery relieve the pain", RELIEF)
    add("returned_after_weeks", n, "weeks after the index surgery when pain came back")
    add("pain_free_interval_weeks", n, "weeks of relief before the pain returned")
    add("compared_to_before", c, "pain compared to before the surgery", COMPARED)
    add("pain_trend", c, "trend of the pain", TRENDS)
    add("axial_nrs", n, "back or neck pain, 0-10")
    add("limb_nrs", n, "leg or arm pain, 0-10")
    add("max_nrs", n, "the worse of axial and limb pain, 0-10")
    add("limb_dominant", b, "limb pain is worse than axial pain")
    add("axial_dominant", b, "axial pain is worse than limb pain")
    add("limb_side", c, "side of the limb pain", LIMB_SIDES)
    add("limb_distribution", c, "distribution of the limb pain", LIMB_DISTRIBUTIONS)
    add("pain_character", cs, "words that describe the pain", PAIN_CHARACTERS)
    add("neuropathic_descriptor_count", n, "how many neuropathic descriptors the pain has")
    add(
        "neuropathic_component",
        b,
        "NeuPSIG probable or definite, DN4 positive, or neuropathic descriptors in a limb pattern",
    )
    add(
        "neuropathic_grade",
        c,
        "NeuPSIG grade of neuropathic pain (Finnerup 2016); always known, 'not-graded' when the "
        "case does not say enough",
        NEUPSIG_GRADES,
    )
    add(
        "neuropathic_grade_because",
        cs,
        "the case facts the NeuPSIG grade rests on, in words",
        tuple(NEUPSIG_REASONS.values()),
    )
    add("aggravated_by", cs, "what makes the pain worse", AGGRAVATORS)
    for flag in PAIN_FLAGS:
        add(flag, b, f"pain: {flag.replace('_', ' ')}")
    # neurology
    add("motor_deficit", c, "motor deficit", MOTOR_DEFICITS)
    add("straight_leg_raise", c, "straight-leg-raise test", SLR)
    for flag in NEURO_FLAGS:
        add(flag, b, f"neurology: {flag.replace('_', ' ')}")
    # systemic
    for flag in SYSTEMIC_FLAGS:
        add(flag, b, f"systemic: {flag.replace('_', ' ')}")
    add("wound", c, "state of the surgical wound", WOUNDS)
    # imaging (only imaging dated on or after the index surgery describes the result of it)
    add("imaging_modalities", cs, "modalities imaged since the index surgery", MODALITIES)
    add("imaging_findings", cs, "findings of any imaging since the index surgery", FINDINGS)
    add(
        "uncoded_imaging",
        cs,
        "modalities of studies since the index surgery whose findings are not coded (report only)",
        MODALITIES,
    )
    add(
        "mri_findings",
        cs,
        "findings of MRI since the index surgery (known if one was done)",
        FINDINGS,
    )
    add("gad_mri_findings", cs, "findings of gadolinium MRI since the index surgery", FINDINGS)
    add("ct_findings", cs, "findings of CT or CT myelogram since the index surgery", FINDINGS)
    add(
        "xray_findings", cs, "findings of plain or dynamic X-rays since the index surgery", FINDINGS
    )
    add(
        "fusion_solid_at_every_level",
        b,
        "CT since the surgery shows a solid fusion at every operated level (known once CT is done)",
    )
    add("findings_at_operated_levels", cs, "findings at an operated level", FINDINGS)
    add("findings_at_adjacent_levels", cs, "findings at a level next to an operated one", FINDINGS)
    add(
        "findings_at_other_levels", cs, "findings at levels neither operated nor adjacent", FINDINGS
    )
    add(
        "root_lesions_on_other_side_only",
        cs,
        "nerve-root lesions on imaging only on the side opposite the one-sided limb symptoms",
        ROOT_LESION_FINDINGS,
    )
    add("t_score", n, "lowest DEXA T-score")
    # labs
    add("crp_mg_l", n, "C-reactive protein, mg/L")
    add("esr_mm_h", n, "erythrocyte sedimentation rate, mm/h")
    add("wbc_10e9_l", n, "white cell count, 10^9/L")
    add("crp_trend", c, "trend of CRP", CRP_TRENDS)
    add("blood_culture_positive", b, "a blood culture grew an organism")
    # blocks: the best relief from any block of each target
    add("medial_branch_block_relief", n, "best relief from a medial branch block, %")
    add("medial_branch_block_confirmed", b, "a confirmatory medial branch block gave >= 50% relief")
    add("si_joint_block_relief", n, "best relief from a sacroiliac joint block, %")
    add("si_joint_block_confirmed", b, "a confirmatory SI joint block gave >= 50% relief")
    add("nerve_root_block_relief", n, "best relief from a selective nerve root block, %")
    add("facet_block_relief", n, "best relief from an intra-articular facet block, %")
    add("hip_block_relief", n, "best relief from a hip joint injection, %")
    add("emg_result", c, "result of EMG / nerve conduction studies", EMG_RESULTS)
    # medication
    add("opioid_mme_per_day", n, "opioid dose, morphine milligram equivalents per day")
    add(
        "opioid_mme_per_day_at_least",
        n,
        "opioid dose known only in part: at least this many MME per day",
    )
    add("opioid_months", n, "months of opioid use")
    add("on_opioids", b, "takes opioids")
    add("opioid_dose_unknown", b, "takes an opioid whose total daily dose (MME) is not known")
    for flag in MEDICATION_FLAGS:
        add(flag, b, f"takes: {flag.replace('_', ' ')}")
    # prior treatments
    add("tried_treatments", cs, "treatments tried since surgery", TREATMENTS)
    add("failed_treatments", cs, "treatments tried with no response or not tolerated", TREATMENTS)
    add("partial_treatments", cs, "treatments that helped partly", TREATMENTS)
    add("helped_treatments", cs, "treatments that helped well", TREATMENTS)
    add("conservative_care_failed", b, "exercise or rehabilitation tried without full benefit")
    # psychosocial
    for flag in (
        "depression_diagnosis",
        "anxiety_diagnosis",
        "sleep_disturbance",
        "substance_use_disorder",
        *SCS_PSYCHOSOCIAL_FACTORS,
    ):
        add(flag, b, f"psychosocial: {flag.replace('_', ' ')}")
    add("scs_psychosocial_flags", n, "how many of the eight SCS-referral factors are present")
    add("scs_psychosocial_unknown", n, "how many of the eight SCS-referral factors are unknown")
    # questionnaires: the latest score of each instrument, and its band
    for inst in INSTRUMENTS.values():
        key = _score_key(inst.id)
        add(f"{key}_score", n, f"latest {inst.name} score")
        add(f"{key}_band", c, f"band of the latest {inst.name} score", BAND_CODES[inst.id])
    add("phq9_item9_max", n, "highest answer to PHQ-9 item 9 in any PHQ-9 of the case")
    add("questionnaire_alerts", cs, "safety alerts raised by any questionnaire", ALERT_CODES)
    add(
        "surgery_preference",
        c,
        "the patient's view of further surgery",
        ("open", "unsure", "declines"),
    )
    add(
        "blocks_done",
        cs,
        "targets of the diagnostic blocks documented (empty when none)",
        BLOCK_TARGETS,
    )
    add("instruments_done", cs, "questionnaires documented (empty when none)", INSTRUMENT_IDS)
    # Conclusions of earlier steps of the assessment, available to later steps only
    # (ASSESSMENT_FACTS says which step may use which).
    add("red_flags", cs, "red flags raised by this assessment", RED_FLAG_IDS)
    add("safety_alerts", cs, "safety alerts raised by this assessment", SAFETY_ALERT_IDS)
    add("likely_causes", cs, "causes rated likely in this assessment's differential", ETIOLOGY_IDS)
    add(
        "possible_causes",
        cs,
        "causes rated possible in this assessment's differential",
        ETIOLOGY_IDS,
    )
    add("treatment_candidates", cs, "treatments rated recommended or consider", TREATMENTS)
    return out


# Fact-name stem and band codes of each instrument (CONTRACT.md §2).
SCORE_KEYS: dict[str, str] = {
    "nrs-pain": "nrs_pain",
    "phq-9": "phq9",
    "gad-7": "gad7",
    "odi": "odi",
    "ndi": "ndi",
    "start-back": "start_back",
    "pcs": "pcs",
    "dn4": "dn4",
    "paindetect": "paindetect",
}
BAND_CODES: dict[str, tuple[str, ...]] = {
    "nrs-pain": ("none", "mild", "moderate", "severe"),
    "phq-9": ("minimal", "mild", "moderate", "moderately-severe", "severe"),
    "gad-7": ("minimal", "mild", "moderate", "severe"),
    "odi": ("minimal", "moderate", "severe", "crippled", "bed-bound"),
    "ndi": ("none", "mild", "moderate", "severe", "complete"),
    "start-back": ("low", "medium", "high"),
    "pcs": ("not-clinically-relevant", "clinically-relevant"),
    "dn4": ("negative", "positive"),
    "paindetect": ("negative", "unclear", "positive"),
}


def _score_key(instrument_id: str) -> str:
    return SCORE_KEYS[instrument_id]


FACTS: dict[str, FactSpec] = _specs()

# Facts the engine adds as it goes, and the first step whose rules may use each.
ASSESSMENT_FACTS: dict[str, str] = {
    "red_flags": "etiologies",
    "safety_alerts": "etiologies",
    "likely_causes": "treatments",
    "possible_causes": "treatments",
    "treatment_candidates": "workup",
}


def derive_facts(case: Case) -> CaseFacts:
    """All facts of one case, each computed once; unknown facts are left out."""
    v: dict[str, FactValue] = {}

    def put(name: str, value: object) -> None:
        if value is None:
            return
        if isinstance(value, bool | str):
            v[name] = value
        elif isinstance(value, int | float):
            v[name] = float(value)
        elif isinstance(value, list | tuple):
            v[name] = tuple(str(x) for x in value)
        else:  # pragma: no cover - a programming error, not bad input
            raise TypeError(f"fact {name} has unsupported type {type(value).__name__}")

    index = case.index_surgery
    days = (case.assessed_on - index.date).days
    months = days / DAYS_PER_MONTH
    put("region", case.region)
    put("months_since_surgery", round(months, 1))
    put("weeks_since_surgery", round(days / 7, 1))
    put("chronic", months >= CHRONIC_AFTER_MONTHS)
    put("course", classify_course(case))

    p = case.patient
    put("age", p.age)
    put("sex", p.sex)
    if p.height_cm and p.weight_kg:
        put("bmi", round(p.weight_kg / (p.height_cm / 100) ** 2, 1))
    for flag in (*PATIENT_FLAGS, "work_status"):
        put(flag, getattr(p, flag))
    # Only those present: the perspective names them. A flag not given is not "no", so the
    # finding says "present", never that the others are absent.
    present = [code for flag, code in MEDICAL_RISK_FACTORS.items() if getattr(p, flag) is True]
    put("medical_risk_factors", sorted(present))

    put("index_procedure", index.procedure)
    if index.procedure != "other":
        put("index_is_fusion", index.procedure in FUSION_PROCEDURES)
        put("index_is_decompression", index.procedure in DECOMPRESSION_PROCEDURES)
        put("index_is_discectomy", index.procedure in DISCECTOMY_PROCEDURES)
        put("index_is_arthroplasty", index.procedure in ARTHROPLASTY_PROCEDURES)
    put("index_instrumented", index.instrumented)
    put("index_fused_to_sacrum", index.fused_to_sacrum)
    put("index_indication", index.indication)
    put("index_complications", index.complications)
    if index.levels:
        put("index_level_count", len(index.levels))
    put("surgery_count", len(case.surgeries))
    put("any_fusion", any(s.procedure in FUSION_PROCEDURES for s in case.surgeries) or None)
    if "any_fusion" not in v and all(s.procedure != "other" for s in case.surgeries):
        put("any_fusion", False)

    _pain_facts(case, put)
    n = case.neuro
    for name in type(n).model_fields:
        put(name, getattr(n, name))
    s = case.systemic
    for name in type(s).model_fields:
        put(name, getattr(s, name))
    _imaging_facts(case, put)
    if case.labs:
        for name in ("crp_mg_l", "esr_mm_h", "wbc_10e9_l", "crp_trend", "blood_culture_positive"):
            put(name, getattr(case.labs, name))
    _block_facts(case, put)
    if case.electrodiagnostics:
        put("emg_result", case.electrodiagnostics.result)
    _medication_facts(case, put)
    _treatment_facts(case, put)
    _psychosocial_facts(case, put)
    scored = score_questionnaires(case)
    _questionnaire_facts(scored, put)
    if case.preferences:
        put("surgery_preference", case.preferences.surgery_preference)
    # The neuropathic grade and component draw on pain, examination, imaging and DN4, so they
    # come last.
    grade, reasons = neupsig_grade(v)
    put("neuropathic_grade", grade)
    put("neuropathic_grade_because", [NEUPSIG_REASONS[r] for r in reasons])
    component = _neuropathic(v)
    put("neuropathic_component", True if grade in ("probable", "definite") else component)
    return CaseFacts(values=v, scored=scored)


def neupsig_grade(v: dict[str, FactValue]) -> tuple[str, list[str]]:
    """The NeuPSIG grade (Finnerup et al., Pain 2016;157:1599) and the keys of its reasons.

    The grading is hierarchical: a relevant lesion and a plausible distribution make neuropathic
    pain possible; sensory signs in that distribution make it probable; a test confirming the
    lesion makes it definite. A screening score (DN4) is not part of the grade.
    """

    def codes(name: str) -> tuple[str, ...]:
        value = v.get(name)
        return value if isinstance(value, tuple) else ()

    findings = codes("imaging_findings")
    lesion: list[str] = []
    if "nerve-injury" in codes("index_complications"):
        lesion.append("nerve-injury")
    if "arachnoiditis" in findings:
        lesion.append("arachnoiditis")
    root_on_imaging = any(f in findings for f in ROOT_LESION_FINDINGS)
    if root_on_imaging:
        lesion.append("root-lesion-imaging")
    radiculopathy = v.get("emg_result") in ("acute-radiculopathy", "chronic-radiculopathy")
    if radiculopathy:
        lesion.append("radiculopathy-emg")
    if v.get("index_indication") in ("disc-herniation", "stenosis"):
        lesion.append("radicular-indication")

    distribution = v.get("limb_distribution")
    region = v.get("region")
    plausible: str | None = None
    if distribution == "dermatomal":
        plausible = "dermatomal"
    elif distribution == "below-knee" and region == "lumbar":
        plausible = "below-knee"
    elif (
        "arachnoiditis" in lesion
        and v.get("limb_side") == "bilateral"
        and distribution
        not in (
            "none",
            None,
        )
    ):
        plausible = "bilateral-multiroot"
    if plausible is None:
        if distribution is None:
            return "not-graded", ["distribution-unknown"]
        if distribution == "above-knee":
            return "not-graded", ["above-knee-undecided"]
        if distribution == "none":
            return "unlikely", ["no-limb-pain"]
        return "unlikely", ["implausible-distribution"]
    if not lesion:
        return "not-graded", [plausible, "no-lesion-documented"]
    reasons = [*lesion, plausible]
    sensory = v.get("sensory_deficit")
    if sensory is not True:
        reasons.append("sensory-not-examined" if sensory is None else "no-sensory-deficit")
        return "possible", reasons
    reasons.append("sensory-deficit")
    if root_on_imaging or "arachnoiditis" in lesion:
        return "definite", [*reasons, "confirmed-imaging"]
    if radiculopathy:
        return "definite", [*reasons, "confirmed-emg"]
    return "probable", [*reasons, "no-confirmatory-test"]


def classify_course(case: Case) -> str:
    """The course categories of spine pain clinics (CLINICAL.md §1).

    Pain still settling in the first three months is transient post-surgical; later, pain in a
    new place or of a new kind is "new", pain that went away fully and came back is "recurrent",
    pain that was never (fully) relieved is "persistent". Without the relief history the course
    cannot be told, and the engine says so instead of guessing.
    """
    months = (case.assessed_on - case.index_surgery.date).days / DAYS_PER_MONTH
    pain = case.pain
    if months < CHRONIC_AFTER_MONTHS:
        return "transient-post-surgical"
    if pain.compared_to_before == "different":
        return "new"
    if pain.relief_after_surgery == "complete":
        return "recurrent"
    if pain.relief_after_surgery in ("none", "partial"):
        return "persistent"
    return "undetermined"


Put = Callable[[str, object], None]


def _pain_facts(case: Case, put: Put) -> None:
    pain = case.pain
    put("relief_after_surgery", pain.relief_after_surgery)
    put("returned_after_weeks", pain.returned_after_weeks)
    if pain.relief_after_surgery in ("partial", "complete"):
        put("pain_free_interval_weeks", pain.returned_after_weeks)
    put("compared_to_before", pain.compared_to_before)
    put("pain_trend", pain.trend)
    put("axial_nrs", pain.axial_nrs)
    put("limb_nrs", pain.limb_nrs)
    known = [x for x in (pain.axial_nrs, pain.limb_nrs) if x is not None]
    if known:
        put("max_nrs", max(known))
    if pain.axial_nrs is not None and pain.limb_nrs is not None:
        put("limb_dominant", pain.limb_nrs > pain.axial_nrs)
        put("axial_dominant", pain.axial_nrs > pain.limb_nrs)
    put("limb_side", pain.limb_side)
    put("limb_distribution", pain.limb_distribution)
    put("pain_character", pain.character)
    if pain.character is not None:
        put(
            "neuropathic_descriptor_count",
            sum(w in NEUROPATHIC_DESCRIPTORS for w in pain.character),
        )
    put("aggravated_by", pain.aggravated_by)
    for flag in PAIN_FLAGS:
        put(flag, getattr(pain, flag))


def _neuropathic(v: dict[str, FactValue]) -> bool | None:
    """A neuropathic component: DN4 positive, else painDETECT, else neuropathic words in a
    radicular pattern.

    DN4 >= 4 (Bouhassira 2005) decides when it is known; then painDETECT outside its unclear
    range (Freynhagen 2006). Without either, two or more neuropathic
    descriptors (burning, electric, shooting, pins and needles, numbness) in a dermatomal or
    below-knee distribution, or with a sensory deficit, count as a neuropathic component, in the
    spirit of the NeuPSIG grading (Finnerup et al., Pain 2016;157:1599): a plausible
    distribution plus sensory signs.
    """
    dn4 = v.get("dn4_score")
    if isinstance(dn4, float):
        return dn4 >= DN4_NEUROPATHIC_CUTOFF
    # painDETECT decides at its validated cut-offs (Freynhagen 2006): 19 or more likely, 12 or
    # less unlikely; an unclear 13-18 leaves the question to the pain's words below.
    pd = v.get("paindetect_score")
    if isinstance(pd, float):
        if pd >= PAINDETECT_LIKELY:
            return True
        if pd <= PAINDETECT_UNLIKELY:
            return False
    count = v.get("neuropathic_descriptor_count")
    if not isinstance(count, float):
        return None
    if count == 0:
        return False
    radicular = v.get("limb_distribution") in ("dermatomal", "below-knee") or v.get(
        "sensory_deficit"
    )
    if count >= 2 and radicular:
        return True
    if v.get("limb_distribution") is None and v.get("sensory_deficit") is None:
        return None
    return False


_MRI = ("mri", "mri-gadolinium")
_CT = ("ct", "ct-myelogram")
_XRAY = ("xray", "xray-flexion-extension", "xray-standing-full-spine")


def _imaging_facts(case: Case, put: Put) -> None:
    # What was documented is always known (an empty list when nothing was); what imaging showed
    # is known only when some imaging since the surgery exists.
    since = [img for img in case.imaging or [] if img.date >= case.index_surgery.date]
    t_scores = [
        f.t_score for img in case.imaging or [] for f in img.findings if f.t_score is not None
    ]
    if t_scores:
        put("t_score", min(t_scores))

    put("imaging_modalities", sorted({img.modality for img in since}))
    # A study whose findings are only in its report text says nothing about what was seen.
    put("uncoded_imaging", sorted({i.modality for i in since if i.findings_coded is False}))
    since = [img for img in since if img.findings_coded is not False]
    if not since:
        return
    put("imaging_findings", _findings(since))

    def of(modalities: tuple[str, ...]) -> list[str] | None:
        done = [img for img in since if img.modality in modalities]
        return _findings(done) if done else None

    put("mri_findings", of(_MRI))
    put("gad_mri_findings", of(("mri-gadolinium",)))
    put("ct_findings", of(_CT))
    cts = [img for img in since if img.modality in _CT]
    if cts:
        put("fusion_solid_at_every_level", _solid_everywhere(case, cts))
    put("xray_findings", of(_XRAY))

    operated = _vertebrae(case.index_surgery.levels or [])
    if operated:
        at_op: set[str] = set()
        adjacent: set[str] = set()
        other: set[str] = set()
        for img in since:
            for f in img.findings:
                if not f.level:
                    continue
                verts = _vertebrae([f.level])
                if f.level in (case.index_surgery.levels or []):
                    at_op.add(f.finding)
                elif verts & operated:
                    adjacent.add(f.finding)
                else:
                    other.add(f.finding)
        put("findings_at_operated_levels", sorted(at_op))
        put("findings_at_adjacent_levels", sorted(adjacent))
        put("findings_at_other_levels", sorted(other))
    put("root_lesions_on_other_side_only", _other_side_only(case, since))


def _other_side_only(case: Case, since: list[Imaging]) -> list[str] | None:
    """Nerve-root lesions seen only on the side away from one-sided limb symptoms: a left
    foraminal stenosis does not explain right leg pain. Imaging findings are common without
    symptoms, so a lesion counts where it matches them (Boden 1990). Judged only when the limb
    pain is on one side; a lesion without a side, central or on both sides can match it."""
    symptoms = case.pain.limb_side
    if symptoms not in ("left", "right"):
        return None
    matching: set[str] = set()
    opposite: set[str] = set()
    for img in since:
        for f in img.findings:
            if f.finding not in ROOT_LESION_FINDINGS:
                continue
            if f.side in ("left", "right") and f.side != symptoms:
                opposite.add(f.finding)
            else:
                matching.add(f.finding)
    return sorted(opposite - matching)


def _solid_everywhere(case: Case, cts: list[Imaging]) -> bool:
    """Findings are judged at their levels: a solid fusion at one level of a two-level fusion
    says nothing about the other. A finding without a level speaks for a single-level fusion
    only; without recorded levels, any solid fusion and no non-union reported counts."""
    levels = case.index_surgery.levels or []
    findings = [f for img in cts for f in img.findings]
    if not levels:
        kinds = {f.finding for f in findings}
        return "solid-fusion" in kinds and "pseudarthrosis" not in kinds
    solid = {f.level for f in findings if f.finding == "solid-fusion"}
    failed = {f.level for f in findings if f.finding == "pseudarthrosis"}
    if None in solid and len(levels) == 1:
        solid.add(levels[0])
    return all(level in solid and level not in failed for level in levels)


def _findings(images: list[Imaging]) -> list[str]:
    return sorted({f.finding for img in images for f in img.findings})


def _vertebrae(levels: list[str]) -> set[str]:
    return {v for level in levels for v in level.split("-")}


def _block_facts(case: Case, put: Put) -> None:
    blocks = case.blocks or []
    put("blocks_done", sorted({b.target for b in blocks}))

    def best(target: str) -> float | None:
        reliefs = [b.relief_percent for b in blocks if b.target == target]
        return max(reliefs) if reliefs else None

    def confirmed(target: str) -> bool | None:
        done = [b for b in blocks if b.target == target]
        if not done:
            return None
        # A single block has a high false-positive rate (about 12.5% for the SI joint); a
        # confirmatory block with >= 50% relief strengthens it (CLINICAL.md §2; NICE NG59 uses
        # >= 50% for medial branch blocks).
        return any(b.confirmatory and b.relief_percent >= 50 for b in done)

    put("medial_branch_block_relief", best("medial-branch"))
    put("medial_branch_block_confirmed", confirmed("medial-branch"))
    put("si_joint_block_relief", best("sacroiliac-joint"))
    put("si_joint_block_confirmed", confirmed("sacroiliac-joint"))
    put("nerve_root_block_relief", best("selective-nerve-root"))
    put("facet_block_relief", best("facet-intraarticular"))
    put("hip_block_relief", best("hip-joint"))


def _medication_facts(case: Case, put: Put) -> None:
    m = case.medications
    if m is None:
        return
    put("opioid_mme_per_day", m.opioid_mme_per_day)
    put("opioid_mme_per_day_at_least", m.opioid_mme_per_day_at_least)
    put("opioid_months", m.opioid_months)
    on: bool | None = m.opioid
    if on is None and m.opioid_mme_per_day is not None:
        on = m.opioid_mme_per_day > 0
    if on is None and m.opioid_mme_per_day_at_least:
        on = True
    put("on_opioids", on)
    if on is not None:
        # Unknown is not "no": an opioid without a computable daily dose is its own state.
        put("opioid_dose_unknown", on and m.opioid_mme_per_day is None)
    for flag in MEDICATION_FLAGS:
        put(flag, getattr(m, flag))


def _treatment_facts(case: Case, put: Put) -> None:
    tried = case.prior_treatments
    if tried is None:
        return
    put("tried_treatments", sorted({t.treatment for t in tried}))
    put(
        "failed_treatments",
        sorted({t.treatment for t in tried if t.response in ("none", "not-tolerated")}),
    )
    put("partial_treatments", sorted({t.treatment for t in tried if t.response == "partial"}))
    put("helped_treatments", sorted({t.treatment for t in tried if t.response == "good"}))
    conservative = [
        t for t in tried if t.treatment in ("exercise-therapy", "multidisciplinary-rehabilitation")
    ]
    put("conservative_care_failed", any(t.response != "good" for t in conservative))


def _psychosocial_facts(case: Case, put: Put) -> None:
    ps = case.psychosocial
    for name in type(ps).model_fields:
        put(name, getattr(ps, name))
    values = [getattr(ps, f) for f in SCS_PSYCHOSOCIAL_FACTORS]
    put("scs_psychosocial_flags", sum(x is True for x in values))
    put("scs_psychosocial_unknown", sum(x is None for x in values))


def score_questionnaires(case: Case) -> tuple[ScoredQuestionnaire, ...]:
    """Score every questionnaire of a (validated) case, in date order."""
    out: list[ScoredQuestionnaire] = []
    for i, q in enumerate(case.questionnaires or []):
        if q.answers is not None:
            result = score(q.instrument, q.answers)
            answers: tuple[int | None, ...] | None = tuple(q.answers)
        else:
            assert q.score is not None  # validation guarantees answers or score
            result = score_total(q.instrument, q.score)
            answers = None
        out.append(ScoredQuestionnaire(i, q.instrument, q.date, result, answers))
    out.sort(key=lambda s: (s.date, s.index))
    return tuple(out)


def _questionnaire_facts(scored: tuple[ScoredQuestionnaire, ...], put: Put) -> None:
    for s in scored:  # date order: the last one of each instrument wins
        key = _score_key(s.instrument)
        if s.result.score is not None:
            put(f"{key}_score", s.result.score)
            put(f"{key}_band", s.result.band)
    item9 = [
        s.answers[8]
        for s in scored
        if s.instrument == "phq-9" and s.answers and s.answers[8] is not None
    ]
    if item9:
        put("phq9_item9_max", max(a for a in item9 if a is not None))
    put("instruments_done", sorted({s.instrument for s in scored}))
    if scored:
        put("questionnaire_alerts", sorted({a for s in scored for a in s.result.alerts}))
