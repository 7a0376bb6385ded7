"""Clinical patterns of issue 15, each checked on cases paraphrased from published reports.

Every case below is written in this project's words from the report named in its docstring,
reduced to the facts the case contract can hold; where a report was not about a post-surgical
patient, the docstring says how it was adapted. Each pattern has cases that fire it and cases
that do not, lumbar, cervical and thoracic where the pattern applies.
"""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

from secondlook.case.validation import parse_case
from secondlook.engine.assess import assess
from secondlook.engine.document import Assessment

TODAY = date(2026, 3, 2)
Doc = dict[str, Any]

ELECTIVE = (
    "epidural-steroid-injection",
    "adhesiolysis",
    "radiofrequency-denervation",
    "sacroiliac-joint-treatment",
    "spinal-cord-stimulation",
    "intrathecal-drug-delivery",
    "revision-surgery",
)


def doc(region: str, surgery: dict[str, Any], **sections: Any) -> Doc:
    """A case document assessed on TODAY; `age` and `sex` may be given in `patient`."""
    patient = {"age": 55, **sections.pop("patient", {})}
    return {
        "schema": "secondlook.case/1",
        "id": "pattern",
        "assessed_on": TODAY.isoformat(),
        "region": region,
        "patient": patient,
        "surgeries": [surgery],
        **sections,
    }


def run(document: Doc) -> dict[str, Any]:
    result: dict[str, Any] = assess(parse_case(copy.deepcopy(document), today=TODAY))
    Assessment.model_validate(result)
    return result


def option(result: dict[str, Any], treatment_id: str) -> dict[str, Any]:
    rows: list[dict[str, Any]] = [t for t in result["treatment_options"] if t["id"] == treatment_id]
    assert len(rows) == 1, f"{treatment_id} is stated exactly once"
    return rows[0]


def rank(result: dict[str, Any], etiology_id: str) -> int:
    return int(next(d["rank"] for d in result["differential"] if d["id"] == etiology_id))


def row(result: dict[str, Any], etiology_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(d for d in result["differential"] if d["id"] == etiology_id)
    return found


def imaging(modality: str, *findings: tuple[str, str | None], on: str = "2026-02-01") -> Doc:
    return {
        "date": on,
        "modality": modality,
        "findings": [{"finding": f, **({"level": lv} if lv else {})} for f, lv in findings],
    }


def workup_ids(result: dict[str, Any]) -> set[str]:
    return {w["id"] for w in result["workup"]}


# -- 1. stated negatives ------------------------------------------------------------------------


def hip_after_lumbar_fusion() -> Doc:
    """After Moore MR, Wilmarth MA, Corkery MB, "Differentiating hip versus back pathology with a
    patient status post laminectomy and fusion: a case study" (docslib.org/doc/6539469): a woman
    of 56 with groin and thigh pain after a lumbar laminectomy and fusion, whose examination
    pointed to the hip; here a hip injection that relieved most of the pain confirms it (the
    hip-spine syndrome, Devin 2012)."""
    return doc(
        "lumbar",
        {
            "date": "2025-09-01",
            "procedure": "posterolateral-fusion",
            "levels": ["L4-L5"],
            "instrumented": True,
            "indication": "stenosis",
        },
        patient={"age": 56, "sex": "female"},
        pain={
            "relief_after_surgery": "partial",
            "axial_nrs": 3,
            "limb_nrs": 6,
            "limb_distribution": "above-knee",
            "aggravated_by": ["walking"],
        },
        blocks=[{"target": "hip-joint", "relief_percent": 80}],
        imaging=[imaging("ct", ("solid-fusion", "L4-L5"))],
    )


def test_revision_is_stated_as_not_recommended_when_the_hip_is_the_source() -> None:
    result = run(hip_after_lumbar_fusion())
    assert row(result, "non-spinal-pain-generator")["likelihood"] == "likely"
    revision = option(result, "revision-surgery")
    assert revision["recommendation"] == "not-recommended"
    assert any("outside the spine" in b for b in revision["because"]), revision
    assert any("solid fusion" in b for b in revision["because"]), revision
    stimulation = option(result, "spinal-cord-stimulation")
    assert stimulation["recommendation"] == "not-recommended"
    assert any("outside the spine" in b for b in stimulation["because"]), stimulation


def double_crush_after_acdf() -> Doc:
    """After Gullborg EJ et al., J Hand Surg Glob Online 2025;7(5):100770: numbness that
    persists after ACDF in patients whose carpal tunnel syndrome was confirmed by nerve
    conduction (double crush, Upton 1973)."""
    return doc(
        "cervical",
        {"date": "2025-01-15", "procedure": "acdf", "levels": ["C5-C6"], "indication": "stenosis"},
        pain={
            "relief_after_surgery": "partial",
            "axial_nrs": 2,
            "limb_nrs": 5,
            "limb_distribution": "non-dermatomal",
            "character": ["numbness", "pins-and-needles"],
        },
        electrodiagnostics={"result": "entrapment-neuropathy"},
    )


def test_revision_is_not_recommended_for_a_peripheral_entrapment_after_acdf() -> None:
    result = run(double_crush_after_acdf())
    revision = option(result, "revision-surgery")
    assert revision["recommendation"] == "not-recommended"
    assert any("outside the spine" in b for b in revision["because"]), revision
    assert "peripheral-nerve-evaluation" in workup_ids(result)


def sacroiliac_after_fusion_to_sacrum() -> Doc:
    """After Katz V, Schofferman J, Reynolds J, J Spinal Disord Tech 2003;16:96: new buttock
    pain after a fusion to the sacrum, confirmed as sacroiliac by two blocks."""
    return doc(
        "lumbar",
        {
            "date": "2024-11-04",
            "procedure": "tlif",
            "levels": ["L5-S1"],
            "instrumented": True,
            "fused_to_sacrum": True,
            "indication": "spondylolisthesis",
        },
        pain={"relief_after_surgery": "partial", "axial_nrs": 6, "limb_nrs": 2},
        blocks=[
            {"target": "sacroiliac-joint", "relief_percent": 80},
            {"target": "sacroiliac-joint", "relief_percent": 75, "confirmatory": True},
        ],
    )


def test_joint_pain_argues_against_revision_and_stimulation_by_name() -> None:
    result = run(sacroiliac_after_fusion_to_sacrum())
    revision = option(result, "revision-surgery")
    assert revision["recommendation"] == "not-recommended"
    assert any("sacroiliac or facet joints" in b for b in revision["because"]), revision
    stimulation = option(result, "spinal-cord-stimulation")
    assert stimulation["recommendation"] == "not-recommended"
    assert any("joint pain" in b.lower() for b in stimulation["because"]), stimulation
    assert option(result, "sacroiliac-joint-treatment")["recommendation"] == "recommended"


def sensitized_after_thoracic_fusion() -> Doc:
    """A teaching case built on Woolf CJ, Pain 2011;152:S2 (central sensitization) and Mannion
    AF, Elfering A, Eur Spine J 2006;15:S93 (distress and the outcome of surgery): widespread
    pain, high catastrophizing and severe depression a year after a thoracic fusion that CT
    shows to be solid."""
    return doc(
        "thoracic",
        {
            "date": "2024-12-02",
            "procedure": "posterolateral-fusion",
            "levels": ["T10-T11", "T11-T12"],
            "instrumented": True,
            "indication": "fracture",
        },
        pain={
            "relief_after_surgery": "none",
            "axial_nrs": 7,
            "limb_nrs": 4,
            "limb_distribution": "non-dermatomal",
            "widespread_pain": True,
        },
        psychosocial={"sleep_disturbance": True},
        imaging=[imaging("ct", ("solid-fusion", "T10-T11"), ("solid-fusion", "T11-T12"))],
        questionnaires=[
            {"instrument": "pcs", "date": "2026-02-20", "score": 38},
            {"instrument": "phq-9", "date": "2026-02-20", "score": 22},
        ],
    )


def test_solid_fusion_severe_depression_and_sensitization_each_argue_against_revision() -> None:
    result = run(sensitized_after_thoracic_fusion())
    revision = option(result, "revision-surgery")
    assert revision["recommendation"] == "not-recommended"
    because = " ".join(revision["because"])
    assert "solid fusion" in because
    assert "Severe depression (PHQ-9 22)" in because
    assert "Central sensitization is likely" in because


def test_without_any_argument_the_negative_says_what_is_missing() -> None:
    """The stated negative when nothing argues for or against: the reason names what is
    missing, and what could not be judged is listed."""
    result = run(
        doc(
            "cervical",
            {"date": "2025-01-15", "procedure": "acdf", "levels": ["C5-C6"]},
            pain={"axial_nrs": 6},
        )
    )
    revision = option(result, "revision-surgery")
    assert revision["recommendation"] == "not-recommended"
    assert any("no discrete, surgically correctable lesion" in b for b in revision["because"])
    stimulation = option(result, "spinal-cord-stimulation")
    assert any("neither is established" in b for b in stimulation["because"]), stimulation
    assert stimulation.get("not_known"), stimulation


def test_every_treatment_is_stated_in_every_case() -> None:
    for case in (hip_after_lumbar_fusion(), double_crush_after_acdf(), late_abscess_after_plif()):
        result = run(case)
        assert len(result["treatment_options"]) == 16
        assert all(t["because"] for t in result["treatment_options"])


def test_a_correctable_lesion_is_not_talked_down_by_the_stated_negatives() -> None:
    """Does-not-fire side: cage subsidence with foraminal narrowing (pattern 4) keeps revision
    an option, so none of the arguments against is given."""
    revision = option(run(subsidence_after_tlif()), "revision-surgery")
    assert revision["recommendation"] in ("recommended", "consider"), revision


# -- 2. neuropathic pain graded (NeuPSIG, Finnerup 2016) -----------------------------------------


def radiculopathy_after_microdiscectomy(**neuro: Any) -> Doc:
    """After the SpineUniverse case library (Kapural), "Intractable chronic pain in a patient
    with post-laminectomy syndrome": sharp, shooting left leg pain into the foot after surgery
    for a disc herniation, with scar around the L5 root and foraminal narrowing on MRI. The
    grading follows the worked steps of Finnerup NB et al., Pain 2016;157:1599."""
    return doc(
        "lumbar",
        {
            "date": "2024-06-03",
            "procedure": "microdiscectomy",
            "levels": ["L4-L5"],
            "side": "left",
            "indication": "disc-herniation",
        },
        pain={
            "relief_after_surgery": "partial",
            "axial_nrs": 3,
            "limb_nrs": 7,
            "limb_side": "left",
            "limb_distribution": "below-knee",
            "character": ["sharp", "shooting"],
        },
        neuro=neuro,
        prior_treatments=[{"treatment": "exercise-therapy", "response": "partial"}],
    )


def test_radicular_pain_with_a_dermatomal_sensory_deficit_is_probable_and_gets_medication() -> None:
    result = run(radiculopathy_after_microdiscectomy(sensory_deficit=True))
    graded = result["classification"]["neuropathic_pain"]
    assert graded["grade"] == "probable"
    assert any("sensory deficit" in b for b in graded["because"]), graded
    medication = option(result, "neuropathic-medication")
    assert medication["recommendation"] == "recommended"
    assert any("graded probable" in b for b in medication["because"]), medication


def test_without_a_sensory_examination_neuropathic_pain_is_only_possible() -> None:
    result = run(radiculopathy_after_microdiscectomy())
    assert result["classification"]["neuropathic_pain"]["grade"] == "possible"
    medication = option(result, "neuropathic-medication")
    assert medication["recommendation"] == "consider"
    assert any("sensation not recorded" in b for b in medication["because"]), medication


def test_imaging_of_the_root_lesion_makes_it_definite() -> None:
    case = radiculopathy_after_microdiscectomy(sensory_deficit=True)
    case["imaging"] = [imaging("mri", ("foraminal-stenosis", "L4-L5"))]
    graded = run(case)["classification"]["neuropathic_pain"]
    assert graded["grade"] == "definite"
    assert any("imaging confirms" in b.lower() for b in graded["because"]), graded


def arachnoiditis_after_fusion() -> Doc:
    """After Mansour A et al., "Post-lumbar laminectomy arachnoiditis", Ann Case Report
    2024;9:1856, and the postoperative arachnoiditis case of PMC6391232 (J Chiropr Med 2018):
    burning pain in both legs after lumbar surgery with a dural tear, clumped roots on MRI and
    reduced sensation in the legs."""
    return doc(
        "lumbar",
        {
            "date": "2024-05-06",
            "procedure": "laminectomy",
            "levels": ["L4-L5"],
            "indication": "stenosis",
            "complications": ["dural-tear"],
        },
        pain={
            "relief_after_surgery": "none",
            "axial_nrs": 4,
            "limb_nrs": 7,
            "limb_side": "bilateral",
            "limb_distribution": "non-dermatomal",
            "character": ["burning"],
        },
        neuro={"sensory_deficit": True},
        imaging=[imaging("mri", ("arachnoiditis", "L4-L5"))],
        prior_treatments=[{"treatment": "exercise-therapy", "response": "none"}],
        psychosocial=dict.fromkeys(
            (
                "low_engagement",
                "dysfunctional_coping",
                "unrealistic_expectations",
                "low_activity_level",
                "poor_social_support",
                "secondary_gain",
                "psychological_distress",
                "unwilling_to_reduce_opioids",
            ),
            False,
        ),
    )


def test_arachnoiditis_reaches_neuropathic_medication_and_stimulation() -> None:
    result = run(arachnoiditis_after_fusion())
    assert result["classification"]["neuropathic_pain"]["grade"] == "definite"
    assert option(result, "neuropathic-medication")["recommendation"] == "recommended"
    stimulation = option(result, "spinal-cord-stimulation")
    assert stimulation["recommendation"] == "recommended", stimulation
    assert any("NeuPSIG grade definite" in b for b in stimulation["because"]), stimulation
    assert option(result, "revision-surgery")["recommendation"] == "not-recommended"


def root_injury_after_acdf() -> Doc:
    """After the C5 palsy and root injuries of anterior cervical surgery reviewed by van de
    Minkelis et al., Pain Pract 2024;24:919 (PSPS-T2): new burning arm pain in the C6 territory
    from the day of an ACDF recorded with a nerve-root injury, and reduced sensation there."""
    return doc(
        "cervical",
        {
            "date": "2025-04-07",
            "procedure": "acdf",
            "levels": ["C5-C6"],
            "complications": ["nerve-injury"],
        },
        pain={
            "relief_after_surgery": "none",
            "compared_to_before": "different",
            "axial_nrs": 2,
            "limb_nrs": 6,
            "limb_distribution": "dermatomal",
        },
        neuro={"sensory_deficit": True},
    )


def test_a_nerve_root_injury_with_sensory_signs_reaches_neuropathic_medication() -> None:
    result = run(root_injury_after_acdf())
    graded = result["classification"]["neuropathic_pain"]
    assert graded["grade"] == "probable"
    assert any("nerve injury recorded at surgery" in b for b in graded["because"]), graded
    assert option(result, "neuropathic-medication")["recommendation"] in ("recommended", "consider")
    assert row(result, "nerve-root-injury")["likelihood"] == "likely"


def test_thoracic_band_pain_after_discectomy_is_graded_and_non_dermatomal_pain_is_not() -> None:
    """After the thoracic discectomy series summarised by van de Minkelis 2024: band-like pain
    in a thoracic dermatome with reduced sensation after surgery for a thoracic disc
    herniation (intercostal neuralgia)."""
    surgery = {
        "date": "2025-02-03",
        "procedure": "discectomy",
        "levels": ["T7-T8"],
        "indication": "disc-herniation",
    }
    banded = run(
        doc(
            "thoracic",
            surgery,
            pain={"axial_nrs": 3, "limb_nrs": 6, "limb_distribution": "dermatomal"},
            neuro={"sensory_deficit": True},
        )
    )
    assert banded["classification"]["neuropathic_pain"]["grade"] == "probable"
    diffuse = run(
        doc(
            "thoracic",
            surgery,
            pain={"axial_nrs": 3, "limb_nrs": 6, "limb_distribution": "non-dermatomal"},
            neuro={"sensory_deficit": True},
        )
    )
    assert diffuse["classification"]["neuropathic_pain"]["grade"] == "unlikely"
    medication = option(diffuse, "neuropathic-medication")
    assert medication["recommendation"] == "not-recommended"
    assert any("NeuPSIG grade unlikely" in b for b in medication["because"]), medication


# -- 3. findings judged at their levels ---------------------------------------------------------


def two_level_fusion(region: str, levels: list[str], procedure: str, *findings: Any) -> Doc:
    return doc(
        region,
        {
            "date": "2024-12-02",
            "procedure": procedure,
            "levels": levels,
            "instrumented": True,
            "indication": "degenerative-disc",
        },
        patient={"smoker": True},
        pain={"relief_after_surgery": "partial", "axial_nrs": 6, "limb_nrs": 2},
        imaging=[imaging("ct", *findings)],
    )


def test_a_solid_level_does_not_speak_for_the_other_level_of_a_lumbar_fusion() -> None:
    """After the L4-L5 interbody non-union after TLIF of J Surg Case Rep 2025 (rjaf385),
    here inside a two-level fusion whose upper level did fuse: CT shows solid bone at L4-L5
    and a loosened screw at L5-S1."""
    result = run(
        two_level_fusion(
            "lumbar",
            ["L4-L5", "L5-S1"],
            "tlif",
            ("solid-fusion", "L4-L5"),
            ("hardware-loosening", "L5-S1"),
        )
    )
    pseudarthrosis = row(result, "pseudarthrosis")
    assert pseudarthrosis["likelihood"] == "possible", pseudarthrosis
    assert not pseudarthrosis["against"], pseudarthrosis
    assert "bone-scan-spect" in workup_ids(result)
    revision = option(result, "revision-surgery")
    assert not any("solid fusion" in b for b in revision["because"]), revision


def test_a_non_union_at_one_level_of_a_two_level_acdf_is_not_talked_down() -> None:
    """After Leven D, Cho SK, Asian Spine J 2016;10:776 (cervical pseudarthrosis after ACDF):
    CT after a C5-C7 ACDF with a solid C5-C6 and a non-union at C6-C7."""
    result = run(
        two_level_fusion(
            "cervical",
            ["C5-C6", "C6-C7"],
            "acdf",
            ("solid-fusion", "C5-C6"),
            ("pseudarthrosis", "C6-C7"),
        )
    )
    assert row(result, "pseudarthrosis")["likelihood"] == "likely"
    assert result["surgical_review"]["indicated"] is True


def test_solid_at_every_level_still_counts_strongly_against_non_union() -> None:
    result = run(
        two_level_fusion(
            "lumbar",
            ["L4-L5", "L5-S1"],
            "tlif",
            ("solid-fusion", "L4-L5"),
            ("solid-fusion", "L5-S1"),
        )
    )
    pseudarthrosis = row(result, "pseudarthrosis")
    assert any("every operated level" in a for a in pseudarthrosis["against"]), pseudarthrosis
    assert pseudarthrosis["likelihood"] == "unlikely"


# -- 4. recurrent compression at the operated level ---------------------------------------------


def subsidence_after_tlif() -> Doc:
    """After Lewandrowski KU, Ransom NA, Yeung A, J Spine Surg (jss.amegroups.org/article/view/
    4818): L5 and S1 radiculopathy that came back six months after a successful interbody fusion,
    with CT showing cage subsidence and foraminal narrowing at the fused level."""
    return doc(
        "lumbar",
        {
            "date": "2025-03-03",
            "procedure": "tlif",
            "levels": ["L5-S1"],
            "instrumented": True,
            "indication": "spondylolisthesis",
        },
        pain={
            "relief_after_surgery": "complete",
            "returned_after_weeks": 26,
            "compared_to_before": "same",
            "axial_nrs": 3,
            "limb_nrs": 7,
            "limb_distribution": "below-knee",
        },
        imaging=[imaging("ct", ("cage-subsidence", "L5-S1"), ("foraminal-stenosis", "L5-S1"))],
        prior_treatments=[{"treatment": "exercise-therapy", "response": "none"}],
    )


def test_cage_subsidence_with_a_returning_radiculopathy_goes_to_a_surgeon() -> None:
    result = run(subsidence_after_tlif())
    assert row(result, "same-level-recurrent-compression")["likelihood"] == "likely"
    assert result["differential"][0]["id"] == "same-level-recurrent-compression"
    assert result["surgical_review"]["indicated"] is True
    assert option(result, "revision-surgery")["recommendation"] == "recommended"


def test_restenosis_after_cervical_foraminotomy_is_recurrent_compression() -> None:
    """After the cervical adjacent and same-level restenosis case of the Journal of Orthopedics
    for Physician Assistants (clinicalpainadvisor.com case study, ACDF six years earlier): arm
    pain back after years of relief, with foraminal stenosis at the operated level."""
    result = run(
        doc(
            "cervical",
            {"date": "2020-02-03", "procedure": "foraminotomy", "levels": ["C6-C7"]},
            pain={"relief_after_surgery": "complete", "returned_after_weeks": 250},
            imaging=[imaging("mri", ("foraminal-stenosis", "C6-C7"))],
        )
    )
    assert row(result, "same-level-recurrent-compression")["likelihood"] == "likely"
    assert row(result, "inadequate-decompression")["likelihood"] == "unlikely"


def test_stenosis_never_relieved_is_inadequate_decompression_not_recurrence() -> None:
    result = run(
        doc(
            "lumbar",
            {"date": "2025-02-03", "procedure": "laminectomy", "levels": ["L4-L5"]},
            pain={"relief_after_surgery": "none"},
            imaging=[imaging("mri", ("lateral-recess-stenosis", "L4-L5"))],
        )
    )
    assert row(result, "inadequate-decompression")["likelihood"] == "likely"
    assert row(result, "same-level-recurrent-compression")["likelihood"] != "likely"


# -- 5. any red flag defers elective procedures -------------------------------------------------


def elective_levels(result: dict[str, Any]) -> dict[str, str]:
    return {t: option(result, t)["recommendation"] for t in ELECTIVE}


def test_cauda_equina_defers_an_epidural_injection_that_would_otherwise_be_considered() -> None:
    """After the cauda equina syndrome after lumbar discectomy described by Finucane LM et al.,
    JOSPT 2020;50:350 (IFOMPT framework): severe recurrent sciatica six weeks after relief, now
    with urinary retention."""
    base = doc(
        "lumbar",
        {"date": "2025-06-02", "procedure": "microdiscectomy", "levels": ["L5-S1"]},
        pain={
            "relief_after_surgery": "complete",
            "returned_after_weeks": 30,
            "axial_nrs": 3,
            "limb_nrs": 8,
        },
    )
    quiet = run(base)
    assert option(quiet, "epidural-steroid-injection")["recommendation"] == "consider"
    flagged = copy.deepcopy(base)
    flagged["neuro"] = {"urinary_retention": True}
    result = run(flagged)
    assert result["red_flags"][0]["id"] == "cauda-equina"
    injection = option(result, "epidural-steroid-injection")
    assert injection["recommendation"] == "not-recommended"
    assert any("Deferred until the red flags" in b for b in injection["because"]), injection
    assert set(elective_levels(result).values()) <= {"not-recommended", "contraindicated"}


def test_a_malignancy_flag_defers_stimulation_in_a_candidate() -> None:
    """After Zucherman J, Schofferman J, "Pathology of failed back surgery syndrome"
    (neoplasms): the arachnoiditis candidate above, now with unexplained weight loss."""
    base = arachnoiditis_after_fusion()
    assert option(run(base), "spinal-cord-stimulation")["recommendation"] == "recommended"
    flagged = copy.deepcopy(base)
    flagged["systemic"] = {"unexplained_weight_loss": True}
    result = run(flagged)
    stimulation = option(result, "spinal-cord-stimulation")
    assert stimulation["recommendation"] == "not-recommended"
    assert any("malignancy" in b for b in stimulation["because"]), stimulation


def test_cervical_myelopathy_with_sphincter_signs_defers_radiofrequency() -> None:
    """After the cord-compression red flags of Finucane 2020: neck pain with a positive medial
    branch block, then myelopathic signs and incontinence after an ACDF."""
    base = doc(
        "cervical",
        {"date": "2024-10-07", "procedure": "acdf", "levels": ["C5-C6"]},
        pain={"axial_nrs": 7, "limb_nrs": 2},
        blocks=[{"target": "medial-branch", "relief_percent": 80}],
        prior_treatments=[{"treatment": "exercise-therapy", "response": "none"}],
    )
    assert option(run(base), "radiofrequency-denervation")["recommendation"] == "recommended"
    flagged = copy.deepcopy(base)
    flagged["neuro"] = {"myelopathic_signs": True, "urinary_incontinence": True}
    result = run(flagged)
    assert result["red_flags"][0]["urgency"] == "emergency"
    assert option(result, "radiofrequency-denervation")["recommendation"] == "not-recommended"


def test_a_fracture_after_thoracic_fusion_defers_elective_revision() -> None:
    """After the proximal junctional and adjacent fractures after thoracic fusion in
    osteoporotic bone (Kanis 1994 for the T-score): a fall, new pain, and a recorded
    pseudarthrosis that would otherwise make revision an option."""
    result = run(
        doc(
            "thoracic",
            {
                "date": "2024-09-02",
                "procedure": "posterolateral-fusion",
                "levels": ["T11-T12"],
                "instrumented": True,
            },
            systemic={"recent_trauma": True},
            imaging=[imaging("ct", ("pseudarthrosis", "T11-T12"))],
        )
    )
    assert "fracture" in {f["id"] for f in result["red_flags"]}
    revision = option(result, "revision-surgery")
    assert revision["recommendation"] == "not-recommended"
    assert any("Elective revision is deferred" in b for b in revision["because"]), revision
    assert result["surgical_review"]["indicated"] is True


# -- 6. work-up by region -----------------------------------------------------------------------


def test_a_neck_gets_shoulder_and_entrapment_work_up_never_a_hip_examination() -> None:
    """After Jo HJ et al., Korean J Spine 2012;9:223 (unrecognised shoulder disorders in 15.8%
    after cervical surgery) and Ampat G et al., J Orthop Case Rep 2022;12(4) (a cervical
    discectomy for what was shoulder pain)."""
    result = run(
        doc(
            "cervical",
            {"date": "2025-01-06", "procedure": "acdf", "levels": ["C5-C6"]},
            pain={
                "relief_after_surgery": "none",
                "compared_to_before": "same",
                "axial_nrs": 6,
                "limb_nrs": 5,
                "limb_distribution": "non-dermatomal",
            },
        )
    )
    ids = workup_ids(result)
    assert {"shoulder-evaluation", "peripheral-nerve-evaluation"} <= ids
    assert not ids & {"hip-evaluation", "sacroiliac-joint-block", "visceral-evaluation"}


def test_a_thoracic_case_gets_visceral_and_rib_work_up_never_a_hip_examination() -> None:
    """After Baek JH et al., "Mid-back pain due to a penetrating atherosclerotic aortic ulcer",
    Ann Palliat Med (apm.amegroups.org/article/view/56214): mid-back pain to the lateral chest,
    worse lying and standing, not helped by medial branch blocks; adapted here to a patient a
    year after a thoracic decompression."""
    result = run(
        doc(
            "thoracic",
            {"date": "2025-01-06", "procedure": "laminectomy", "levels": ["T7-T8"]},
            patient={"age": 65, "sex": "male"},
            pain={
                "relief_after_surgery": "none",
                "compared_to_before": "different",
                "axial_nrs": 7,
                "limb_nrs": 3,
                "limb_distribution": "above-knee",
                "aggravated_by": ["lying", "standing", "rotation"],
            },
            blocks=[{"target": "medial-branch", "relief_percent": 10}],
        )
    )
    ids = workup_ids(result)
    assert {"visceral-evaluation", "rib-evaluation"} <= ids
    assert not ids & {"hip-evaluation", "shoulder-evaluation", "sacroiliac-joint-block"}


def test_a_lumbar_case_gets_hip_work_up_and_no_shoulder_or_visceral_items() -> None:
    result = run(hip_after_lumbar_fusion())
    ids = workup_ids(result)
    assert "hip-evaluation" in ids
    assert not ids & {"shoulder-evaluation", "peripheral-nerve-evaluation", "visceral-evaluation"}


# -- 7. strong, specific findings dominate the ranking -------------------------------------------


def late_abscess_after_plif() -> Doc:
    """After "Epidural abscess and discitis complicating instrumented posterior lumbar interbody
    fusion: a case report", Spine 2004 (PMID 15564903): back pain much improved at 6 weeks,
    then at 12 weeks intense back pain with fevers, ESR 118 and CRP 38, and a first MRI that
    showed nothing; here a gadolinium MRI reports scar, the finding that misled the ranking."""
    return doc(
        "lumbar",
        {
            "date": "2025-12-08",
            "procedure": "plif",
            "levels": ["L4-L5"],
            "instrumented": True,
            "indication": "degenerative-disc",
        },
        patient={"age": 35, "sex": "male"},
        pain={
            "relief_after_surgery": "partial",
            "returned_after_weeks": 6,
            "axial_nrs": 9,
            "limb_nrs": 3,
            "trend": "worsening",
        },
        systemic={"fever": True},
        labs={"esr_mm_h": 118, "crp_mg_l": 38},
        imaging=[imaging("mri-gadolinium", ("epidural-fibrosis", "L4-L5"), on="2026-02-28")],
    )


def test_fever_esr_118_and_crp_38_put_infection_above_epidural_fibrosis() -> None:
    result = run(late_abscess_after_plif())
    assert result["differential"][0]["id"] == "infection"
    assert rank(result, "infection") < rank(result, "epidural-fibrosis")
    infection = row(result, "infection")
    assert any("ESR 118" in s and s.endswith("[strong]") for s in infection["supporting"])


def test_a_normal_esr_early_after_surgery_is_not_strong_evidence() -> None:
    case = late_abscess_after_plif()
    case["labs"] = {"esr_mm_h": 40, "crp_mg_l": 5}
    case["systemic"] = {"fever": False}
    infection = row(run(case), "infection")
    assert not any(s.endswith("[strong]") for s in infection["supporting"]), infection


def recurrent_thoracic_myelopathy() -> Doc:
    """After Ando K et al., Asian Spine J 2014;8:835 and Kanno H et al., Eur Spine J 2018:
    myelopathy from ossified ligamentum flavum that came back at the same level years after a
    thoracic laminectomy, with leg numbness and a worsening gait; the patient also reports
    widespread pain and poor sleep."""
    return doc(
        "thoracic",
        {
            "date": "2019-03-04",
            "procedure": "laminectomy",
            "levels": ["T3-T4", "T4-T5"],
            "indication": "stenosis",
        },
        patient={"age": 43, "sex": "male"},
        pain={
            "relief_after_surgery": "complete",
            "returned_after_weeks": 260,
            "compared_to_before": "same",
            "axial_nrs": 4,
            "limb_nrs": 5,
            "limb_side": "bilateral",
            "limb_distribution": "non-dermatomal",
            "widespread_pain": True,
        },
        neuro={"myelopathic_signs": True, "gait_disturbance": True, "sensory_deficit": True},
        psychosocial={"sleep_disturbance": True},
        imaging=[imaging("mri", ("central-stenosis", "T4-T5"))],
    )


def test_recurrent_compressive_myelopathy_outranks_sensitization_and_non_spinal_pain() -> None:
    result = run(recurrent_thoracic_myelopathy())
    top = result["differential"][0]
    assert top["id"] == "same-level-recurrent-compression", result["differential"][:3]
    assert rank(result, "same-level-recurrent-compression") < rank(result, "central-sensitization")
    assert rank(result, "same-level-recurrent-compression") < rank(
        result, "non-spinal-pain-generator"
    )
    assert result["surgical_review"]["indicated"] is True


def test_adjacent_segment_disease_outranks_many_weak_findings_after_acdf() -> None:
    """After the Journal of Orthopedics for Physician Assistants case (clinicalpainadvisor.com):
    a woman of 42, six years after ACDF, with shoulder-to-biceps pain and wrist extensor
    weakness from adjacent segment degeneration; she also catastrophizes and sleeps badly."""
    result = run(
        doc(
            "cervical",
            {"date": "2020-01-06", "procedure": "acdf", "levels": ["C5-C6"]},
            patient={"age": 42, "sex": "female"},
            pain={
                "relief_after_surgery": "complete",
                "returned_after_weeks": 300,
                "axial_nrs": 3,
                "limb_nrs": 6,
                "limb_distribution": "non-dermatomal",
                "widespread_pain": True,
            },
            psychosocial={"sleep_disturbance": True},
            questionnaires=[{"instrument": "pcs", "date": "2026-02-20", "score": 34}],
            imaging=[imaging("mri", ("foraminal-stenosis", "C6-C7"))],
        )
    )
    assert rank(result, "adjacent-segment-disease") < rank(result, "central-sensitization")
    assert row(result, "central-sensitization")["likelihood"] == "likely"


# -- 8. course undetermined ---------------------------------------------------------------------


def test_course_is_undetermined_without_the_relief_history_in_every_region() -> None:
    """The aortic-ulcer (Baek), double-crush (Gullborg 2025) and hip-spine (Moore) cases
    without their relief history: the engine says the course is undetermined, and the schema
    accepts it."""
    cases = [
        doc("thoracic", {"date": "2025-01-06", "procedure": "laminectomy", "levels": ["T7-T8"]}),
        doc("cervical", {"date": "2025-01-15", "procedure": "acdf", "levels": ["C5-C6"]}),
        doc("lumbar", {"date": "2025-09-01", "procedure": "tlif", "levels": ["L4-L5"]}),
    ]
    for case in cases:
        classification = run(case)["classification"]
        assert classification["course"] == "undetermined"
        assert any("undetermined" in b for b in classification["because"])
    early = doc("lumbar", {"date": "2026-02-02", "procedure": "tlif", "levels": ["L4-L5"]})
    assert run(early)["classification"]["course"] == "transient-post-surgical"


def test_a_missing_sensory_examination_is_listed_when_limb_pain_needs_grading() -> None:
    ungraded = run(radiculopathy_after_microdiscectomy())
    assert "sensory-examination" in {m["id"] for m in ungraded["missing_information"]}
    examined = run(radiculopathy_after_microdiscectomy(sensory_deficit=True))
    assert "sensory-examination" not in {m["id"] for m in examined["missing_information"]}
