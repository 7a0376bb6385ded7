"""Code systems and the mapping tables between FHIR codes and the case document.

Every table here is documented in docs/fhir.md; change both together. Standard codes are only
listed where SecondLook is confident of them; everything else travels in SecondLook's own code
systems, so that an export imports back exactly.
"""

from __future__ import annotations

import re
from typing import Final

# --- code systems ----------------------------------------------------------------------------

SNOMED: Final = "http://snomed.info/sct"
LOINC: Final = "http://loinc.org"
ICD10CM: Final = "http://hl7.org/fhir/sid/icd-10-cm"
ICD11: Final = "http://id.who.int/icd/release/11/mms"
RXNORM: Final = "http://www.nlm.nih.gov/research/umls/rxnorm"
CPT: Final = "http://www.ama-assn.org/go/cpt"
UCUM: Final = "http://unitsofmeasure.org"
CONDITION_CLINICAL: Final = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION: Final = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/condition-category"
OBSERVATION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/observation-category"
DATA_ABSENT_REASON: Final = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
PROVENANCE_AGENT_TYPE: Final = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"

#: Base of every SecondLook FHIR URL (code systems, extensions, naming systems).
BASE: Final = "https://secondlook.example/fhir"
#: The case document's own codes: field paths (``pain.axial_nrs``) and vocabulary values
#: (``microdiscectomy``, ``left``) — CONTRACT.md §1. Field paths always contain a dot or name a
#: list section (``blocks``), so they never collide with a value.
CASE_SYSTEM: Final = f"{BASE}/CodeSystem/case"
#: Assessment vocabularies (CONTRACT.md §2-3), one code system each (ids repeat across them:
#: ``infection`` is a red flag and an etiology).
CONDITION_SYSTEM: Final = f"{BASE}/CodeSystem/condition"
RED_FLAG_SYSTEM: Final = f"{BASE}/CodeSystem/red-flag"
SAFETY_ALERT_SYSTEM: Final = f"{BASE}/CodeSystem/safety-alert"
WORKUP_SYSTEM: Final = f"{BASE}/CodeSystem/workup"
TREATMENT_SYSTEM: Final = f"{BASE}/CodeSystem/treatment"
GOAL_SYSTEM: Final = f"{BASE}/CodeSystem/goal"
CASE_ID_SYSTEM: Final = f"{BASE}/NamingSystem/case-id"
KNOWLEDGE_SYSTEM: Final = f"{BASE}/NamingSystem/knowledge-version"
EXTENSION_BASE: Final = f"{BASE}/StructureDefinition"

EXT_AGE: Final = f"{EXTENSION_BASE}/patient-age"
EXT_LEVEL: Final = f"{EXTENSION_BASE}/surgery-level"
EXT_SIDE: Final = f"{EXTENSION_BASE}/surgery-side"
EXT_INSTRUMENTED: Final = f"{EXTENSION_BASE}/surgery-instrumented"
EXT_FUSED_TO_SACRUM: Final = f"{EXTENSION_BASE}/surgery-fused-to-sacrum"

#: Local codes of SecondLook-specific resources.
CASE_HEADER_CODE: Final = "case"  # Observation: assessed_on + region + case id
IMAGING_FINDING_CODE: Final = "imaging.finding"  # Observation: one finding of a study
#: DiagnosticReport.conclusionCode of a study whose findings are in its text only.
FINDINGS_NOT_CODED: Final = "imaging.findings-not-coded"
#: Procedure.complication for a surgery recorded with no complications (``complications: []``).
NO_COMPLICATIONS_CODE: Final = "surgeries.complications.none"
PATIENT_GOAL_CODE: Final = "patient-goal"
FUNCTIONAL_GOAL_CODE: Final = "functional-goal"

# --- procedures (surgeries[].procedure) ---------------------------------------------------------

#: SNOMED CT concept for each procedure id, where one is known (a parent concept is used for the
#: fusions: 55705006 Spinal fusion).
PROCEDURE_SNOMED: Final[dict[str, tuple[str, str]]] = {
    "discectomy": ("42515009", "Excision of intervertebral disc"),
    "microdiscectomy": ("42515009", "Excision of intervertebral disc"),
    "endoscopic-discectomy": ("42515009", "Excision of intervertebral disc"),
    "laminectomy": ("387731002", "Laminectomy"),
    "posterolateral-fusion": ("55705006", "Spinal fusion"),
    "tlif": ("55705006", "Spinal fusion"),
    "plif": ("55705006", "Spinal fusion"),
    "alif": ("55705006", "Spinal fusion"),
    "xlif": ("55705006", "Spinal fusion"),
    "acdf": ("55705006", "Spinal fusion"),
    "posterior-cervical-fusion": ("55705006", "Spinal fusion"),
}
#: Import: SNOMED CT -> procedure id. 55705006 (fusion, approach unknown) imports as "other".
SNOMED_PROCEDURE: Final[dict[str, str]] = {
    "42515009": "discectomy",
    "387731002": "laminectomy",
    "55705006": "other",
}
#: Import: CPT -> procedure id.
CPT_PROCEDURE: Final[dict[str, str]] = {
    "63030": "microdiscectomy",
    "63042": "laminotomy",
    "63047": "laminectomy",
    "63045": "laminectomy",
    "63005": "laminectomy",
    "22551": "acdf",
    "22554": "acdf",
    "22612": "posterolateral-fusion",
    "22630": "plif",
    "22633": "tlif",
    "22558": "alif",
    "22856": "cervical-disc-arthroplasty",
    "22857": "lumbar-disc-arthroplasty",
    "63050": "laminoplasty",
    "63051": "laminoplasty",
    "22600": "posterior-cervical-fusion",
}
#: Import: words in Procedure.code text or display -> procedure id (first match wins, so the
#: longer, more specific phrases come first).
PROCEDURE_KEYWORDS: Final[tuple[tuple[str, str], ...]] = (
    ("anterior cervical discectomy and fusion", "acdf"),
    ("acdf", "acdf"),
    ("cervical disc arthroplasty", "cervical-disc-arthroplasty"),
    ("cervical disc replacement", "cervical-disc-arthroplasty"),
    ("lumbar disc arthroplasty", "lumbar-disc-arthroplasty"),
    ("lumbar disc replacement", "lumbar-disc-arthroplasty"),
    ("posterior cervical fusion", "posterior-cervical-fusion"),
    ("transforaminal lumbar interbody", "tlif"),
    ("tlif", "tlif"),
    ("posterior lumbar interbody", "plif"),
    ("plif", "plif"),
    ("anterior lumbar interbody", "alif"),
    ("alif", "alif"),
    ("lateral lumbar interbody", "xlif"),
    ("xlif", "xlif"),
    ("posterolateral fusion", "posterolateral-fusion"),
    ("endoscopic discectomy", "endoscopic-discectomy"),
    ("endoscopic diskectomy", "endoscopic-discectomy"),
    ("microdiscectomy", "microdiscectomy"),
    ("microdiskectomy", "microdiscectomy"),
    ("discectomy", "discectomy"),
    ("diskectomy", "discectomy"),
    ("laminoplasty", "laminoplasty"),
    ("laminectomy", "laminectomy"),
    ("laminotomy", "laminotomy"),
    ("foraminotomy", "foraminotomy"),
)

# --- conditions (patient and psychosocial booleans) ---------------------------------------------

#: Case field -> standard codings used on export (and recognised on import).
CONDITION_FIELDS: Final[dict[str, tuple[tuple[str, str, str], ...]]] = {
    "patient.diabetes": ((SNOMED, "73211009", "Diabetes mellitus"),),
    "patient.osteoporosis": ((SNOMED, "64859006", "Osteoporosis"),),
    "patient.immunosuppressed": (),
    "patient.long_term_steroids": (
        (ICD10CM, "Z79.52", "Long term (current) use of systemic steroids"),
    ),
    "patient.cancer_history": ((SNOMED, "363346000", "Malignant neoplastic disease"),),
    "patient.iv_drug_use": (),
    "psychosocial.depression_diagnosis": ((SNOMED, "35489007", "Depressive disorder"),),
    "psychosocial.anxiety_diagnosis": ((SNOMED, "197480006", "Anxiety disorder"),),
    "psychosocial.substance_use_disorder": (),
}
#: Import: SNOMED CT condition -> case field.
SNOMED_CONDITION: Final[dict[str, str]] = {
    "73211009": "patient.diabetes",
    "44054006": "patient.diabetes",  # type 2
    "46635009": "patient.diabetes",  # type 1
    "64859006": "patient.osteoporosis",
    "363346000": "patient.cancer_history",
    "35489007": "psychosocial.depression_diagnosis",
    "370143000": "psychosocial.depression_diagnosis",  # major depressive disorder
    "197480006": "psychosocial.anxiety_diagnosis",
    "21897009": "psychosocial.anxiety_diagnosis",  # generalized anxiety disorder
    "77176002": "patient.smoker",
}
#: Import: ICD-10-CM prefix -> case field (the longest matching prefix wins).
ICD10_CONDITION: Final[dict[str, str]] = {
    "E08": "patient.diabetes",
    "E09": "patient.diabetes",
    "E10": "patient.diabetes",
    "E11": "patient.diabetes",
    "E13": "patient.diabetes",
    "M80": "patient.osteoporosis",
    "M81": "patient.osteoporosis",
    "Z79.52": "patient.long_term_steroids",
    "Z85": "patient.cancer_history",
    "D84.821": "patient.immunosuppressed",
    "F32": "psychosocial.depression_diagnosis",
    "F33": "psychosocial.depression_diagnosis",
    "F41": "psychosocial.anxiety_diagnosis",
    "F11": "psychosocial.substance_use_disorder",
    "F13": "psychosocial.substance_use_disorder",
    "F14": "psychosocial.substance_use_disorder",
    "F15": "psychosocial.substance_use_disorder",
    "F19": "psychosocial.substance_use_disorder",
    "F17.2": "patient.smoker",
    "Z72.0": "patient.smoker",
    "G47.0": "psychosocial.sleep_disturbance",
}
#: ICD-10-CM spine diagnoses: recognised, reported as not mapped to a case field (the engine
#: classifies the case itself), but they tell the region when nothing else does.
ICD10_SPINE_REGION: Final[dict[str, str]] = {
    "M50": "cervical",
    "M48.02": "cervical",
    "M47.12": "cervical",
    "M48.04": "thoracic",
    "M48.06": "lumbar",
    "M48.07": "lumbar",
    "M51.04": "thoracic",
    "M51.14": "thoracic",
    "M51.24": "thoracic",
    "M51.34": "thoracic",
    "M51.06": "lumbar",
    "M51.16": "lumbar",
    "M51.26": "lumbar",
    "M51.36": "lumbar",
    "M51.07": "lumbar",
    "M51.17": "lumbar",
    "M51.27": "lumbar",
    "M51.37": "lumbar",
    "M54.16": "lumbar",
    "M54.17": "lumbar",
    "M54.12": "cervical",
    "M43.16": "lumbar",
    "M43.17": "lumbar",
}
#: Import: recognised diagnoses with no case field (reported, with this reason).
ICD10_RECOGNISED: Final[dict[str, str]] = {
    "M96.1": "post-laminectomy syndrome: SecondLook derives the classification itself",
    "M51": "disc disorder: indication of a surgery is read from Procedure.reasonCode only",
    "M48.0": "spinal stenosis: indication of a surgery is read from Procedure.reasonCode only",
    "M50": "cervical disc disorder: indication is read from Procedure.reasonCode only",
    "G89": "pain diagnosis: SecondLook derives the classification itself",
    "M54": "back pain / radiculopathy: recorded by the pain fields, not by a diagnosis",
}

#: SNOMED CT smoking status values (LOINC 72166-2) -> patient.smoker.
SMOKER_TRUE: Final = frozenset(
    {"77176002", "449868002", "428041000124106", "428071000124103", "428061000124105"}
)
SMOKER_FALSE: Final = frozenset({"8517006", "266919005", "8392000", "405746006"})
SMOKER_EXPORT: Final = {
    True: (SNOMED, "77176002", "Smoker"),
    False: (SNOMED, "8392000", "Non-smoker"),
}

# --- observations ---------------------------------------------------------------------------------

LOINC_PAIN: Final = "72514-3"
LOINC_SMOKING: Final = "72166-2"
#: Case field -> extra standard codings of the field's Observation.
FIELD_CODINGS: Final[dict[str, tuple[tuple[str, str, str], ...]]] = {
    "pain.axial_nrs": (
        (LOINC, LOINC_PAIN, "Pain severity - 0-10 verbal numeric rating [Score] - Reported"),
    ),
    "pain.limb_nrs": (
        (LOINC, LOINC_PAIN, "Pain severity - 0-10 verbal numeric rating [Score] - Reported"),
    ),
    "labs.crp_mg_l": ((LOINC, "1988-5", "C reactive protein [Mass/volume] in Serum or Plasma"),),
    "labs.esr_mm_h": ((LOINC, "30341-2", "Erythrocyte sedimentation rate"),),
    "labs.wbc_10e9_l": ((LOINC, "6690-2", "Leukocytes [#/volume] in Blood by Automated count"),),
    "patient.height_cm": ((LOINC, "8302-2", "Body height"),),
    "patient.weight_kg": ((LOINC, "29463-7", "Body weight"),),
    "patient.smoker": ((LOINC, LOINC_SMOKING, "Tobacco smoking status"),),
}
#: Body site of the pain Observations (SNOMED CT body structures).
PAIN_BODY_SITE: Final[dict[str, dict[str, tuple[str, str]]]] = {
    "pain.axial_nrs": {
        "lumbar": ("37822005", "Lumbar region of back"),
        "thoracic": ("43799004", "Thoracic region of back"),
        "cervical": ("45048000", "Neck"),
    },
    "pain.limb_nrs": {
        "lumbar": ("61685007", "Lower limb"),
        "thoracic": ("61685007", "Lower limb"),
        "cervical": ("53120007", "Upper limb"),
    },
}
AXIAL_SITES: Final = frozenset({"37822005", "43799004", "45048000", "77568009"})
LIMB_SITES: Final = frozenset({"61685007", "53120007"})

#: Import: LOINC lab code -> (case field, accepted units -> factor to the case unit).
LOINC_LABS: Final[dict[str, tuple[str, dict[str, float]]]] = {
    "1988-5": ("labs.crp_mg_l", {"mg/L": 1.0, "mg/dL": 10.0}),
    "30522-7": ("labs.crp_mg_l", {"mg/L": 1.0, "mg/dL": 10.0}),  # high-sensitivity CRP
    "4537-7": ("labs.esr_mm_h", {"mm/h": 1.0, "mm/hr": 1.0}),
    "30341-2": ("labs.esr_mm_h", {"mm/h": 1.0, "mm/hr": 1.0}),
    "6690-2": ("labs.wbc_10e9_l", {"10*3/uL": 1.0, "10*9/L": 1.0, "10^9/L": 1.0, "K/uL": 1.0}),
    "26464-8": ("labs.wbc_10e9_l", {"10*3/uL": 1.0, "10*9/L": 1.0, "10^9/L": 1.0, "K/uL": 1.0}),
    "8302-2": ("patient.height_cm", {"cm": 1.0, "m": 100.0, "[in_i]": 2.54, "in": 2.54}),
    "29463-7": ("patient.weight_kg", {"kg": 1.0, "g": 0.001, "[lb_av]": 0.45359237}),
}
#: Import: LOINC total-score codes -> instrument id (score-only questionnaires).
LOINC_SCORES: Final[dict[str, str]] = {
    "44261-6": "phq-9",
    "70274-6": "gad-7",
    LOINC_PAIN: "nrs-pain",
}
#: Import: panel codes (a panel Observation carries no score itself).
LOINC_PANELS: Final[dict[str, str]] = {"44249-1": "phq-9", "69737-5": "gad-7"}

#: Units of the case's numeric fields on export (UCUM).
FIELD_UNITS: Final[dict[str, tuple[str, str]]] = {
    "crp_mg_l": ("mg/L", "mg/L"),
    "esr_mm_h": ("mm/h", "mm/h"),
    "wbc_10e9_l": ("10*9/L", "10*9/L"),
    "height_cm": ("cm", "cm"),
    "weight_kg": ("kg", "kg"),
    "returned_after_weeks": ("wk", "wk"),
    "opioid_mme_per_day": ("MME/d", "{MME}/d"),
    "opioid_months": ("mo", "mo"),
    "relief_percent": ("%", "%"),
    "t_score": ("{T-score}", "{T-score}"),
}

# --- medications ---------------------------------------------------------------------------------

#: RxNorm ingredient -> (class, name). Classes match the booleans of ``medications`` plus
#: ``opioid``.
RXNORM_INGREDIENTS: Final[dict[str, tuple[str, str]]] = {
    "7052": ("opioid", "morphine"),
    "7804": ("opioid", "oxycodone"),
    "5489": ("opioid", "hydrocodone"),
    "3423": ("opioid", "hydromorphone"),
    "4337": ("opioid", "fentanyl"),
    "10689": ("opioid", "tramadol"),
    "787390": ("opioid", "tapentadol"),
    "6813": ("opioid", "methadone"),
    "2670": ("opioid", "codeine"),
    "7814": ("opioid", "oxymorphone"),
    "1819": ("opioid", "buprenorphine"),
    "25480": ("gabapentinoid", "gabapentin"),
    "187832": ("gabapentinoid", "pregabalin"),
    "72625": ("snri_or_tca", "duloxetine"),
    "39786": ("snri_or_tca", "venlafaxine"),
    "704": ("snri_or_tca", "amitriptyline"),
    "7531": ("snri_or_tca", "nortriptyline"),
    "3322": ("benzodiazepine", "diazepam"),
    "6470": ("benzodiazepine", "lorazepam"),
    "596": ("benzodiazepine", "alprazolam"),
    "2598": ("benzodiazepine", "clonazepam"),
    "5640": ("nsaid", "ibuprofen"),
    "7258": ("nsaid", "naproxen"),
    "3355": ("nsaid", "diclofenac"),
    "140587": ("nsaid", "celecoxib"),
    "41493": ("nsaid", "meloxicam"),
    "21949": ("muscle_relaxant", "cyclobenzaprine"),
    "57258": ("muscle_relaxant", "tizanidine"),
    "1292": ("muscle_relaxant", "baclofen"),
    "6845": ("muscle_relaxant", "methocarbamol"),
}
#: Ingredient names recognised in text when no RxNorm ingredient code is given.
INGREDIENT_NAMES: Final[dict[str, str]] = {
    name: klass for klass, name in RXNORM_INGREDIENTS.values()
}
#: Oral morphine milligram equivalents per mg (per mcg/h for transdermal fentanyl), CDC Clinical
#: Practice Guideline for Prescribing Opioids for Pain, 2022 (Dowell et al., MMWR Recomm Rep
#: 2022;71(3)), Table. Buprenorphine has no MME factor for pain there: not computed.
MME_FACTORS: Final[dict[str, float]] = {
    "morphine": 1.0,
    "oxycodone": 1.5,
    "hydrocodone": 1.0,
    "hydromorphone": 5.0,
    "oxymorphone": 3.0,
    "codeine": 0.15,
    "tramadol": 0.2,
    "tapentadol": 0.4,
    "methadone": 4.7,
    "fentanyl": 2.4,
}

# --- assessment ----------------------------------------------------------------------------------

#: ICD-10-CM M96.1 fits a post-laminectomy syndrome of the lumbar or thoracic spine.
ICD10_POST_LAMINECTOMY: Final = ("M96.1", "Postlaminectomy syndrome, not elsewhere classified")
#: ICD-11 chronic postsurgical pain (only when the classification is chronic).
ICD11_CHRONIC_POSTSURGICAL: Final = ("MG30.21", "Chronic postsurgical pain")

LEVEL_IN_TEXT: Final = re.compile(r"\b([CTL]\d{1,2})\s*[-/]\s*([CTLS]\d{1,2})\b")


def level_region(level: str) -> str | None:
    """Region of a level like ``L4-L5`` (by its upper vertebra)."""
    return {"L": "lumbar", "C": "cervical", "T": "thoracic"}.get(level[:1])


# --- FHIR R4 (4.0.1) resource types ----------------------------------------------------------

#: Every resource type of FHIR R4 4.0.1 (http://hl7.org/fhir/R4/resourcelist.html). Import
#: checks names against this list, not against the R4B models: R4 types that R4B dropped or
#: renamed (MedicinalProduct..., EffectEvidenceSynthesis, RiskEvidenceSynthesis,
#: SubstanceSpecification ...) are valid R4 and are reported as unmapped, never rejected.
R4_RESOURCE_TYPES: Final = frozenset(
    [
        "Account",
        "ActivityDefinition",
        "AdverseEvent",
        "AllergyIntolerance",
        "Appointment",
        "AppointmentResponse",
        "AuditEvent",
        "Basic",
        "Binary",
        "BiologicallyDerivedProduct",
        "BodyStructure",
        "Bundle",
        "CapabilityStatement",
        "CarePlan",
        "CareTeam",
        "CatalogEntry",
        "ChargeItem",
        "ChargeItemDefinition",
        "Claim",
        "ClaimResponse",
        "ClinicalImpression",
        "CodeSystem",
        "Communication",
        "CommunicationRequest",
        "CompartmentDefinition",
        "Composition",
        "ConceptMap",
        "Condition",
        "Consent",
        "Contract",
        "Coverage",
        "CoverageEligibilityRequest",
        "CoverageEligibilityResponse",
        "DetectedIssue",
        "Device",
        "DeviceDefinition",
        "DeviceMetric",
        "DeviceRequest",
        "DeviceUseStatement",
        "DiagnosticReport",
        "DocumentManifest",
        "DocumentReference",
        "EffectEvidenceSynthesis",
        "Encounter",
        "Endpoint",
        "EnrollmentRequest",
        "EnrollmentResponse",
        "EpisodeOfCare",
        "EventDefinition",
        "Evidence",
        "EvidenceVariable",
        "ExampleScenario",
        "ExplanationOfBenefit",
        "FamilyMemberHistory",
        "Flag",
        "Goal",
        "GraphDefinition",
        "Group",
        "GuidanceResponse",
        "HealthcareService",
        "ImagingStudy",
        "Immunization",
        "ImmunizationEvaluation",
        "ImmunizationRecommendation",
        "ImplementationGuide",
        "InsurancePlan",
        "Invoice",
        "Library",
        "Linkage",
        "List",
        "Location",
        "Measure",
        "MeasureReport",
        "Media",
        "Medication",
        "MedicationAdministration",
        "MedicationDispense",
        "MedicationKnowledge",
        "MedicationRequest",
        "MedicationStatement",
        "MedicinalProduct",
        "MedicinalProductAuthorization",
        "MedicinalProductContraindication",
        "MedicinalProductIndication",
        "MedicinalProductIngredient",
        "MedicinalProductInteraction",
        "MedicinalProductManufactured",
        "MedicinalProductPackaged",
        "MedicinalProductPharmaceutical",
        "MedicinalProductUndesirableEffect",
        "MessageDefinition",
        "MessageHeader",
        "MolecularSequence",
        "NamingSystem",
        "NutritionOrder",
        "Observation",
        "ObservationDefinition",
        "OperationDefinition",
        "OperationOutcome",
        "Organization",
        "OrganizationAffiliation",
        "Parameters",
        "Patient",
        "PaymentNotice",
        "PaymentReconciliation",
        "Person",
        "PlanDefinition",
        "Practitioner",
        "PractitionerRole",
        "Procedure",
        "Provenance",
        "Questionnaire",
        "QuestionnaireResponse",
        "RelatedPerson",
        "RequestGroup",
        "ResearchDefinition",
        "ResearchElementDefinition",
        "ResearchStudy",
        "ResearchSubject",
        "RiskAssessment",
        "RiskEvidenceSynthesis",
        "Schedule",
        "SearchParameter",
        "ServiceRequest",
        "Slot",
        "Specimen",
        "SpecimenDefinition",
        "StructureDefinition",
        "StructureMap",
        "Subscription",
        "Substance",
        "SubstanceNucleicAcid",
        "SubstancePolymer",
        "SubstanceProtein",
        "SubstanceReferenceInformation",
        "SubstanceSourceMaterial",
        "SubstanceSpecification",
        "SupplyDelivery",
        "SupplyRequest",
        "Task",
        "TerminologyCapabilities",
        "TestReport",
        "TestScript",
        "ValueSet",
        "VerificationResult",
        "VisionPrescription",
    ]
)

# --- opioid products -------------------------------------------------------------------------

#: RxNorm clinical (SCD) and branded (SBD) drug codes -> (ingredient, mg of it per unit). The
#: names are RxNorm's own (NLM RxNorm, https://www.nlm.nih.gov/research/umls/rxnorm/): every
#: other SCD/SBD is read from its RxNorm name, which states ingredient and strength
#: ("Acetaminophen 325 MG / Oxycodone Hydrochloride 5 MG Oral Tablet").
RXNORM_OPIOID_PRODUCTS: Final[dict[str, tuple[str, float]]] = {
    # Acetaminophen 325 MG / Oxycodone Hydrochloride 5 MG Oral Tablet (SCD)
    "1049221": ("oxycodone", 5.0),
    # Abuse-Deterrent 12 HR Oxycodone Hydrochloride 15 MG Extended Release Oral Tablet (SCD)
    "1860154": ("oxycodone", 15.0),
    # Acetaminophen 300 MG / HYDROcodone Bitartrate 5 MG Oral Tablet [Vicodin] (SBD)
    "1310197": ("hydrocodone", 5.0),
}
#: Brand names -> opioid ingredient. In a combination product's strength ("Norco 5-325",
#: "Percocet 10/325") the opioid's mg comes first.
OPIOID_BRANDS: Final[dict[str, str]] = {
    "norco": "hydrocodone",
    "vicodin": "hydrocodone",
    "lortab": "hydrocodone",
    "lorcet": "hydrocodone",
    "hysingla": "hydrocodone",
    "zohydro": "hydrocodone",
    "percocet": "oxycodone",
    "endocet": "oxycodone",
    "roxicet": "oxycodone",
    "roxicodone": "oxycodone",
    "oxycontin": "oxycodone",
    "xtampza": "oxycodone",
    "ms contin": "morphine",
    "kadian": "morphine",
    "dilaudid": "hydromorphone",
    "exalgo": "hydromorphone",
    "duragesic": "fentanyl",
    "ultram": "tramadol",
    "ultracet": "tramadol",
    "nucynta": "tapentadol",
    "opana": "oxymorphone",
    "dolophine": "methadone",
    "methadose": "methadone",
    "suboxone": "buprenorphine",
    "subutex": "buprenorphine",
    "butrans": "buprenorphine",
    "belbuca": "buprenorphine",
    "tylenol with codeine": "codeine",
    "tylenol #3": "codeine",
}
GTS_ABBREVIATION: Final = "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation"
#: HL7 v3 GTSAbbreviation timing codes (Timing.code) -> administrations per day.
TIMING_CODES_PER_DAY: Final[dict[str, float]] = {
    "QD": 1.0,
    "BID": 2.0,
    "TID": 3.0,
    "QID": 4.0,
    "QOD": 0.5,
    "Q4H": 6.0,
    "Q6H": 4.0,
    "Q8H": 3.0,
    "Q12H": 2.0,
    "AM": 1.0,
    "PM": 1.0,
    "HS": 1.0,
}
#: Units of a counted dose form (tablets, capsules, patches): dose = count x strength.
COUNT_UNITS: Final = frozenset(
    {
        "",  # Synthea and others give a tablet count without a unit
        "1",
        "{tbl}",
        "{tablet}",
        "{tablets}",
        "tablet",
        "tablets",
        "tab",
        "tabs",
        "{cap}",
        "{capsule}",
        "capsule",
        "capsules",
        "cap",
        "{patch}",
        "patch",
        "{each}",
        "each",
        "ea",
    }
)
#: Mass units of a dose, factor to mg.
MASS_UNITS_MG: Final[dict[str, float]] = {"mg": 1.0, "g": 1000.0, "ug": 0.001, "mcg": 0.001}
#: Hourly rate units of transdermal fentanyl.
FENTANYL_RATE_UNITS: Final = frozenset({"ug/h", "mcg/h", "ug/hr", "mcg/hr"})
#: SNOMED CT routes for which the CDC 2022 conversion factors hold (oral; transdermal for
#: fentanyl). Another route leaves the MME unknown.
ORAL_ROUTES: Final = frozenset({"26643006"})  # Oral route
TRANSDERMAL_ROUTES: Final = frozenset({"45890007"})  # Transdermal route

# --- procedures that are not spine surgery -----------------------------------------------------

#: CPT code ranges (inclusive) of spinal injections, blocks and denervation (CPT 2024): never a
#: surgery; reported as injection history with the block target where one is known.
CPT_INJECTIONS: Final[tuple[tuple[int, int, str], ...]] = (
    (62320, 62327, "epidural or intrathecal injection"),
    (64479, 64484, "transforaminal epidural injection"),
    (64490, 64495, "facet joint (medial branch) block"),
    (64633, 64636, "radiofrequency denervation of facet joint nerves"),
    (64451, 64451, "sacroiliac joint nerve block"),
    (27096, 27096, "sacroiliac joint injection"),
    (64625, 64625, "radiofrequency ablation of sacroiliac joint nerves"),
    (62270, 62272, "lumbar puncture"),
    (62280, 62282, "neurolytic epidural injection"),
    (20552, 20553, "trigger point injection"),
)
#: CPT ranges inside the spine families that are not an operation on the spine: closed
#: treatment of a vertebral fracture, and neurostimulator (spinal cord stimulation) electrodes
#: and generators, which are a treatment (prior_treatments), not the index surgery.
CPT_SPINE_NOT_SURGERY: Final[tuple[tuple[int, int, str], ...]] = (
    (22310, 22315, "closed treatment of a vertebral fracture"),
    (63650, 63688, "spinal neurostimulator electrode or generator"),
)
#: Procedure.category (SNOMED CT) of a surgical procedure, and categories that are never one.
SNOMED_SURGICAL_CATEGORY: Final = "387713003"
SNOMED_NOT_SURGICAL_CATEGORIES: Final = frozenset(
    {
        "103693007",  # Diagnostic procedure
        "46947000",  # Chiropractic manipulation
        "410606002",  # Social service procedure
        "24642003",  # Psychiatry procedure or service
        "409063005",  # Counselling
        "409073007",  # Education
        "363679005",  # Imaging
    }
)
#: Words that make a procedure text not a spine operation even when it names the spine.
NOT_SURGERY_WORDS: Final = (
    "injection",
    "block",
    "epidural",
    "puncture",
    "spinal tap",
    "anesthesia",
    "anaesthesia",
    "ablation",
    "radiofrequency",
    "mri",
    "magnetic resonance",
    " ct ",
    "tomography",
    "x-ray",
    "xray",
    "radiograph",
    "imaging",
    "evaluation",
    "assessment",
    "therapy",
    "physiotherapy",
    "rehabilitation",
    "manipulation",
    "cerclage",
    "counsel",
    "education",
    "screening",
)
#: Words that name the spine (bare "cervical" or "thoracic" do not: cervix, thorax).
SPINE_WORDS: Final = (
    "spine",
    "spinal",
    "vertebra",
    "lumbar",
    "lumbosacral",
    "intervertebral",
    "c-spine",
    "l-spine",
    "t-spine",
    "cervical disc",
    "cervical vertebr",
    "thoracic vertebr",
    "sacrum",
)
#: SNOMED CT body structures of the spine (bodySite of imaging and procedures).
SNOMED_SPINE_SITES: Final = frozenset(
    {
        "421060004",  # Structure of vertebral column
        "122496007",  # Lumbar spine structure
        "122494005",  # Cervical spine structure
        "122495006",  # Thoracic spine structure
        "37822005",  # Lumbar region of back
        "77568009",  # Back structure
    }
)
