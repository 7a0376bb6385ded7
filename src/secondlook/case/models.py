"""Typed model of the case document, `secondlook.case/1` (CONTRACT.md §1).

Every field but the few the contract requires is optional, and `None` means "not known / not
examined": the model never fills in a default that would turn unknown into "no".
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from secondlook.case.vocabulary import (
    Aggravator,
    BlockTarget,
    Compared,
    Complication,
    CrpTrend,
    EmgResult,
    Finding,
    Indication,
    InstrumentId,
    LimbDistribution,
    LimbSide,
    Modality,
    MotorDeficit,
    PainCharacter,
    Procedure,
    Region,
    Relief,
    Response,
    Sex,
    Side,
    SlrResult,
    SurgeryPreference,
    Treatment,
    Trend,
    WorkStatus,
    Wound,
)

LEVEL_PATTERN = r"^[CTL]\d{1,2}-[CTLS]\d{1,2}$"
LEVEL_RE = re.compile(LEVEL_PATTERN)

Level = Annotated[str, StringConstraints(pattern=LEVEL_PATTERN)]


def _iso_date(value: object) -> object:
    """Accept a date or a `YYYY-MM-DD` string; reject timestamps and other loose forms."""
    if isinstance(value, str):
        if not _DATE_RE.match(value):
            raise ValueError("expected a date written YYYY-MM-DD")
        return date.fromisoformat(value)
    return value


_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
Nrs = Annotated[int, Field(ge=0, le=10)]
Percent = Annotated[float, Field(ge=0, le=100)]


def _upto(limit: float) -> object:
    """A non-negative number with a plausible upper bound. The bounds are not clinical
    thresholds: they refuse figures no patient can have (a slipped digit, a wrong unit, 1e400)
    before a rule or a report reads them; each bound's reason is beside its field."""
    return Field(ge=0, le=limit)


class _Part(BaseModel):
    """Common settings: unknown keys are errors, values are strict about their types, and a
    number must be finite (NaN and Infinity are no measurement)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class Patient(_Part):
    age: Annotated[int, Field(ge=18, le=110)]
    sex: Sex | None = None
    height_cm: Annotated[float, Field(gt=50, lt=260)] | None = None
    weight_kg: Annotated[float, Field(gt=20, lt=400)] | None = None
    smoker: bool | None = None
    diabetes: bool | None = None
    osteoporosis: bool | None = None
    immunosuppressed: bool | None = None
    long_term_steroids: bool | None = None
    cancer_history: bool | None = None
    iv_drug_use: bool | None = None
    work_status: WorkStatus | None = None


class Surgery(_Part):
    date: IsoDate
    # How much of `date` the record gave: "year" (the date is 1 January of that year) or "month"
    # (the 1st of that month). Absent means the full date is known. EHR histories often carry
    # only a year for an old operation; keeping it is better than losing the surgery.
    date_precision: Literal["year", "month"] | None = None
    procedure: Procedure
    levels: list[Level] | None = None
    side: Side | None = None
    instrumented: bool | None = None
    fused_to_sacrum: bool | None = None
    indication: Indication | None = None
    complications: list[Complication] | None = None


class Pain(_Part):
    relief_after_surgery: Relief | None = None
    # At most the oldest patient's lifetime (110 years, about 5,740 weeks); the semantic check
    # then holds it to the time since the index surgery.
    returned_after_weeks: Annotated[float, _upto(5740)] | None = None
    compared_to_before: Compared | None = None
    trend: Trend | None = None
    axial_nrs: Nrs | None = None
    limb_nrs: Nrs | None = None
    limb_side: LimbSide | None = None
    limb_distribution: LimbDistribution | None = None
    character: list[PainCharacter] | None = None
    aggravated_by: list[Aggravator] | None = None
    neurogenic_claudication: bool | None = None
    rest_or_night_pain: bool | None = None
    positional_headache: bool | None = None
    widespread_pain: bool | None = None


class Neuro(_Part):
    motor_deficit: MotorDeficit | None = None
    sensory_deficit: bool | None = None
    straight_leg_raise: SlrResult | None = None
    saddle_anesthesia: bool | None = None
    urinary_retention: bool | None = None
    urinary_incontinence: bool | None = None
    bowel_dysfunction: bool | None = None
    bilateral_limb_symptoms: bool | None = None
    gait_disturbance: bool | None = None
    myelopathic_signs: bool | None = None


class Systemic(_Part):
    fever: bool | None = None
    chills_or_night_sweats: bool | None = None
    unexplained_weight_loss: bool | None = None
    recent_trauma: bool | None = None
    recent_spinal_injection: bool | None = None
    wound: Wound | None = None


class ImagingFinding(_Part):
    finding: Finding
    level: Level | None = None
    side: Side | None = None
    # Only for DEXA: the lowest T-score (WHO: osteoporosis at -2.5 or below).
    t_score: Annotated[float, Field(ge=-8, le=6)] | None = None


class Imaging(_Part):
    date: IsoDate
    modality: Modality
    findings: list[ImagingFinding] = Field(default_factory=list)
    # false: the study's findings are in its report text, not coded, so an empty `findings`
    # says nothing (it is not "no findings"). Absent or true: `findings` is the coded result.
    findings_coded: bool | None = None
    # The radiologist's report or conclusion as text, kept with the study for the clinician.
    report: str | None = None


class Labs(_Part):
    # CRP: values beyond about 500 mg/L are exceptional even in septic shock; 1,000 leaves room.
    crp_mg_l: Annotated[float, _upto(1000)] | None = None
    # ESR: the Westergren tube of the reference method is graduated to 200 mm (ICSH 1993), so a
    # one-hour reading cannot be larger.
    esr_mm_h: Annotated[float, _upto(200)] | None = None
    # WBC: hyperleukocytosis in leukaemia starts at 100 x 10^9/L and very rarely reaches several
    # hundred; 1,000 is beyond any count a laboratory reports.
    wbc_10e9_l: Annotated[float, _upto(1000)] | None = None
    crp_trend: CrpTrend | None = None
    blood_culture_positive: bool | None = None
    date: IsoDate | None = None


class Block(_Part):
    target: BlockTarget
    level: Level | None = None
    side: Side | None = None
    relief_percent: Percent
    date: IsoDate | None = None
    confirmatory: bool | None = None


class Electrodiagnostics(_Part):
    date: IsoDate | None = None
    result: EmgResult


class Medications(_Part):
    # MME/day: 20,000 is more than 200 times the CDC 2022 guideline's 90 MME/day and beyond the
    # doses reported even at the end of life; a larger figure is a unit or typing error.
    opioid_mme_per_day: Annotated[float, _upto(20000)] | None = None
    # A lower bound when some opioids' doses are known and others are not: the daily MME is at
    # least this (the known part); `opioid_mme_per_day` is then absent. Bounded as above.
    opioid_mme_per_day_at_least: Annotated[float, _upto(20000)] | None = None
    # Months: at most the oldest patient's lifetime (110 years).
    opioid_months: Annotated[float, _upto(1320)] | None = None
    # Takes an opioid, whether or not its daily dose is known: true with no
    # `opioid_mme_per_day` is the explicit state "opioid present, daily MME unknown".
    opioid: bool | None = None
    benzodiazepine: bool | None = None
    gabapentinoid: bool | None = None
    snri_or_tca: bool | None = None
    nsaid: bool | None = None
    muscle_relaxant: bool | None = None


class PriorTreatment(_Part):
    treatment: Treatment
    response: Response
    date: IsoDate | None = None


class Psychosocial(_Part):
    depression_diagnosis: bool | None = None
    anxiety_diagnosis: bool | None = None
    sleep_disturbance: bool | None = None
    substance_use_disorder: bool | None = None
    low_engagement: bool | None = None
    dysfunctional_coping: bool | None = None
    unrealistic_expectations: bool | None = None
    low_activity_level: bool | None = None
    poor_social_support: bool | None = None
    secondary_gain: bool | None = None
    psychological_distress: bool | None = None
    unwilling_to_reduce_opioids: bool | None = None


class Questionnaire(_Part):
    """Either item answers or a total, never neither (checked in validation)."""

    instrument: InstrumentId
    date: IsoDate
    answers: list[int | None] | None = None
    score: float | None = None


class Preferences(_Part):
    goals: list[str] | None = None
    surgery_preference: SurgeryPreference | None = None


class Case(_Part):
    schema_: Literal["secondlook.case/1"] = Field(alias="schema")
    id: str | None = None
    assessed_on: IsoDate
    region: Region
    patient: Patient
    surgeries: Annotated[list[Surgery], Field(min_length=1)]
    pain: Pain = Field(default_factory=Pain)
    neuro: Neuro = Field(default_factory=Neuro)
    systemic: Systemic = Field(default_factory=Systemic)
    imaging: list[Imaging] | None = None
    labs: Labs | None = None
    blocks: list[Block] | None = None
    electrodiagnostics: Electrodiagnostics | None = None
    medications: Medications | None = None
    prior_treatments: list[PriorTreatment] | None = None
    psychosocial: Psychosocial = Field(default_factory=Psychosocial)
    questionnaires: list[Questionnaire] | None = None
    preferences: Preferences | None = None

    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, populate_by_name=True, allow_inf_nan=False
    )

    @property
    def index_surgery(self) -> Surgery:
        """The most recent surgery (CONTRACT.md §1.2); ties keep document order."""
        return max(self.surgeries, key=lambda s: s.date)

    def to_document(self) -> dict[str, object]:
        """The case as a JSON-ready document, without the unknowns."""
        doc: dict[str, object] = self.model_dump(
            mode="json", by_alias=True, exclude_none=True, exclude_unset=True
        )
        return doc
