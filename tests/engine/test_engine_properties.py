"""Property tests of the engine over generated, valid case documents."""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from secondlook.case.facts import derive_facts
from secondlook.case.validation import CaseInvalid, parse_case
from secondlook.case.vocabulary import (
    AGGRAVATORS,
    ARM_DISTRIBUTIONS,
    BLOCK_TARGETS,
    COMPARED,
    COMPLICATIONS,
    CRP_TRENDS,
    EMG_RESULTS,
    ETIOLOGY_IDS,
    FINDINGS,
    INDICATIONS,
    LIMB_DISTRIBUTIONS,
    LIMB_SIDES,
    MODALITIES,
    MOTOR_DEFICITS,
    PAIN_CHARACTERS,
    PROCEDURES,
    REGIONS,
    RESPONSES,
    SCS_PSYCHOSOCIAL_FACTORS,
    SEXES,
    SIDES,
    SLR,
    SURGERY_PREFERENCES,
    TREATMENTS,
    TRENDS,
    WORK_STATUSES,
    WOUNDS,
)
from secondlook.engine.assess import assess
from secondlook.instruments import INSTRUMENTS
from secondlook.knowledge.expressions import Context
from secondlook.knowledge.loader import default_knowledge

TODAY = date(2026, 6, 30)
ASSESSMENT_KEYS = {
    "schema",
    "case_id",
    "knowledge_version",
    "engine_version",
    "red_flags",
    "safety_alerts",
    "classification",
    "differential",
    "workup",
    "treatment_options",
    "surgical_review",
    "perspectives",
    "scores",
    "missing_information",
    "references",
}
URGENCY = {"emergency": 0, "urgent": 1}
LEVELS = {
    "lumbar": ["L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1"],
    "cervical": ["C3-C4", "C4-C5", "C5-C6", "C6-C7", "C7-T1"],
    "thoracic": ["T4-T5", "T7-T8", "T10-T11", "T11-T12"],
}
PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

Doc = dict[str, Any]


def _iso(d: date) -> str:
    return d.isoformat()


@st.composite
def optional_fields(draw: st.DrawFn, fields: dict[str, st.SearchStrategy[Any]]) -> dict[str, Any]:
    """Each field present or absent (absent = not known)."""
    out: dict[str, Any] = {}
    for name, strategy in fields.items():
        if draw(st.booleans()):
            out[name] = draw(strategy)
    return out


def codes(values: tuple[str, ...] | list[str]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(list(values)), unique=True, max_size=4)


def a_date(start: date, end: date) -> st.SearchStrategy[date]:
    return st.dates(min_value=start, max_value=end)


@st.composite
def questionnaire(draw: st.DrawFn, day: date) -> dict[str, Any]:
    inst = INSTRUMENTS[draw(st.sampled_from(sorted(INSTRUMENTS)))]
    item: dict[str, Any] = {"instrument": inst.id, "date": _iso(day)}
    if draw(st.booleans()):
        item["answers"] = [
            draw(
                st.one_of(st.integers(low, high), st.none())
                if draw(st.integers(0, 9)) == 0
                else st.integers(low, high)
            )
            for low, high in zip(inst.item_min, inst.item_max, strict=True)
        ]
    else:
        item["score"] = draw(st.integers(inst.min_score, inst.max_score))
    return item


@st.composite
def case_documents(draw: st.DrawFn) -> Doc:
    region = draw(st.sampled_from(REGIONS))
    levels = LEVELS[region]
    assessed = draw(a_date(date(2020, 1, 1), TODAY))
    index_day = assessed - timedelta(days=draw(st.integers(0, 3650)))
    since = (assessed, index_day)

    def surgery(day: date) -> dict[str, Any]:
        s: dict[str, Any] = {"date": _iso(day), "procedure": draw(st.sampled_from(PROCEDURES))}
        s.update(
            draw(
                optional_fields(
                    {
                        "levels": st.lists(
                            st.sampled_from(levels), min_size=1, max_size=3, unique=True
                        ),
                        "side": st.sampled_from(SIDES),
                        "instrumented": st.booleans(),
                        "fused_to_sacrum": st.booleans(),
                        "indication": st.sampled_from(INDICATIONS),
                        "complications": codes(COMPLICATIONS),
                    }
                )
            )
        )
        return s

    earlier = [
        surgery(index_day - timedelta(days=draw(st.integers(1, 3000))))
        for _ in range(draw(st.integers(0, 2)))
    ]
    surgeries = [surgery(index_day), *earlier]
    surgeries = draw(st.permutations(surgeries))

    doc: Doc = {
        "schema": "secondlook.case/1",
        "id": draw(st.text(alphabet="abcdefghij-0123456789", min_size=1, max_size=12)),
        "assessed_on": _iso(assessed),
        "region": region,
        "patient": {
            "age": draw(st.integers(18, 110)),
            **draw(
                optional_fields(
                    {
                        "sex": st.sampled_from(SEXES),
                        "height_cm": st.integers(140, 200),
                        "weight_kg": st.integers(40, 160),
                        **{
                            flag: st.booleans()
                            for flag in (
                                "smoker",
                                "diabetes",
                                "osteoporosis",
                                "immunosuppressed",
                                "long_term_steroids",
                                "cancer_history",
                                "iv_drug_use",
                            )
                        },
                        "work_status": st.sampled_from(WORK_STATUSES),
                    }
                )
            ),
        },
        "surgeries": surgeries,
    }

    weeks_since = (assessed - index_day).days // 7
    relief = draw(st.one_of(st.none(), st.sampled_from(["none", "partial", "complete"])))
    distributions = ARM_DISTRIBUTIONS if region == "cervical" else LIMB_DISTRIBUTIONS
    pain = draw(
        optional_fields(
            {
                "compared_to_before": st.sampled_from(COMPARED),
                "trend": st.sampled_from(TRENDS),
                "axial_nrs": st.integers(0, 10),
                "limb_nrs": st.integers(0, 10),
                "limb_side": st.sampled_from(LIMB_SIDES),
                "limb_distribution": st.sampled_from(distributions),
                "character": codes(PAIN_CHARACTERS),
                "aggravated_by": codes(AGGRAVATORS),
                **{
                    flag: st.booleans()
                    for flag in (
                        "neurogenic_claudication",
                        "rest_or_night_pain",
                        "positional_headache",
                        "widespread_pain",
                    )
                },
            }
        )
    )
    if relief is not None:
        pain["relief_after_surgery"] = relief
        if relief != "none" and draw(st.booleans()):
            pain["returned_after_weeks"] = draw(st.integers(0, weeks_since))
    keep_empty_pain = draw(st.booleans())
    if pain or keep_empty_pain:
        doc["pain"] = pain

    neuro = draw(
        optional_fields(
            {
                "motor_deficit": st.sampled_from(MOTOR_DEFICITS),
                "straight_leg_raise": st.sampled_from(SLR),
                **{
                    flag: st.booleans()
                    for flag in (
                        "sensory_deficit",
                        "saddle_anesthesia",
                        "urinary_retention",
                        "urinary_incontinence",
                        "bowel_dysfunction",
                        "bilateral_limb_symptoms",
                        "gait_disturbance",
                        "myelopathic_signs",
                    )
                },
            }
        )
    )
    if neuro:
        doc["neuro"] = neuro
    systemic = draw(
        optional_fields(
            {
                **{
                    flag: st.booleans()
                    for flag in (
                        "fever",
                        "chills_or_night_sweats",
                        "unexplained_weight_loss",
                        "recent_trauma",
                        "recent_spinal_injection",
                    )
                },
                "wound": st.sampled_from(WOUNDS),
            }
        )
    )
    if systemic:
        doc["systemic"] = systemic

    def day_between(start: date, end: date) -> str:
        return _iso(draw(a_date(start, end)))

    if draw(st.booleans()):
        images = []
        for _ in range(draw(st.integers(0, 3))):
            modality = draw(st.sampled_from(MODALITIES))
            if modality == "dexa":
                findings = [{"finding": "bone-density", "t_score": draw(st.integers(-40, 20)) / 10}]
            else:
                findings = [
                    {
                        "finding": draw(
                            st.sampled_from([f for f in FINDINGS if f != "bone-density"])
                        ),
                        **draw(
                            optional_fields(
                                {"level": st.sampled_from(levels), "side": st.sampled_from(SIDES)}
                            )
                        ),
                    }
                    for _ in range(draw(st.integers(0, 3)))
                ]
            images.append(
                {
                    "date": day_between(index_day - timedelta(days=400), assessed),
                    "modality": modality,
                    "findings": findings,
                }
            )
        doc["imaging"] = images
    if draw(st.booleans()):
        doc["labs"] = draw(
            optional_fields(
                {
                    "crp_mg_l": st.integers(0, 300),
                    "esr_mm_h": st.integers(0, 120),
                    "wbc_10e9_l": st.integers(1, 30),
                    "crp_trend": st.sampled_from(CRP_TRENDS),
                    "blood_culture_positive": st.booleans(),
                }
            )
        )
    if draw(st.booleans()):
        doc["blocks"] = [
            {
                "target": draw(st.sampled_from(BLOCK_TARGETS)),
                "relief_percent": draw(st.integers(0, 100)),
                **draw(
                    optional_fields(
                        {"confirmatory": st.booleans(), "level": st.sampled_from(levels)}
                    )
                ),
            }
            for _ in range(draw(st.integers(0, 2)))
        ]
    if draw(st.booleans()):
        doc["electrodiagnostics"] = {
            "result": draw(st.sampled_from(EMG_RESULTS)),
            "date": day_between(index_day, assessed),
        }
    if draw(st.booleans()):
        doc["medications"] = draw(
            optional_fields(
                {
                    "opioid_mme_per_day": st.integers(0, 300),
                    "opioid_months": st.integers(0, 120),
                    **{
                        flag: st.booleans()
                        for flag in (
                            "benzodiazepine",
                            "gabapentinoid",
                            "snri_or_tca",
                            "nsaid",
                            "muscle_relaxant",
                        )
                    },
                }
            )
        )
    if draw(st.booleans()):
        doc["prior_treatments"] = [
            {
                "treatment": draw(st.sampled_from(TREATMENTS)),
                "response": draw(st.sampled_from(RESPONSES)),
            }
            for _ in range(draw(st.integers(0, 3)))
        ]
    psychosocial = draw(
        optional_fields(
            {
                flag: st.booleans()
                for flag in (
                    "depression_diagnosis",
                    "anxiety_diagnosis",
                    "sleep_disturbance",
                    "substance_use_disorder",
                    *SCS_PSYCHOSOCIAL_FACTORS,
                )
            }
        )
    )
    if psychosocial:
        doc["psychosocial"] = psychosocial
    if draw(st.booleans()):
        doc["questionnaires"] = [
            draw(questionnaire(draw(a_date(since[1], since[0]))))
            for _ in range(draw(st.integers(0, 3)))
        ]
    if draw(st.booleans()):
        doc["preferences"] = draw(
            optional_fields(
                {
                    "goals": st.lists(st.sampled_from(["walk", "work", "sleep"]), max_size=2),
                    "surgery_preference": st.sampled_from(SURGERY_PREFERENCES),
                }
            )
        )
    return doc


def run(doc: Doc) -> dict[str, Any]:
    result: dict[str, Any] = assess(parse_case(doc, today=TODAY))
    return result


# -- (a) any valid case assesses, with the contract's shape ---------------------------------------


@PROPERTY_SETTINGS
@given(case_documents())
def test_any_valid_case_assesses_with_the_contract_shape(doc: Doc) -> None:
    result = run(doc)
    assert set(result) >= ASSESSMENT_KEYS
    assert result["schema"] == "secondlook.assessment/1"
    assert result["case_id"] == doc["id"]

    differential = result["differential"]
    assert sorted(d["id"] for d in differential) == sorted(ETIOLOGY_IDS)
    assert [d["rank"] for d in differential] == list(range(1, len(differential) + 1))
    order = {"likely": 0, "possible": 1, "unlikely": 2}
    levels = [order[d["likelihood"]] for d in differential]
    assert levels == sorted(levels)

    urgencies = [URGENCY[f["urgency"]] for f in result["red_flags"]]
    assert urgencies == sorted(urgencies)
    assert len({f["id"] for f in result["red_flags"]}) == len(result["red_flags"])

    review = result["surgical_review"]
    assert review["indicated"] is (review["urgency"] is not None)
    if result["red_flags"]:
        # a red flag always asks for a review, an emergency flag for an emergency one
        assert review["indicated"] is True
        if result["red_flags"][0]["urgency"] == "emergency":
            assert review["urgency"] == "emergency"

    # every treatment is stated, with a level and a reason, negatives included
    assert sorted(t["id"] for t in result["treatment_options"]) == sorted(TREATMENTS)
    assert all(t["because"] for t in result["treatment_options"])
    assert result["classification"]["neuropathic_pain"]["because"]

    cited = {r["id"] for r in result["references"]}
    for section in ("red_flags", "differential", "treatment_options"):
        for item in result[section]:
            assert item["references"]
            assert set(item["references"]) <= cited
            assert "because" in item or "supporting" in item
    assert [p["id"] for p in result["perspectives"]] == [
        "spine-anatomy",
        "pain-management",
        "medical",
        "functional",
        "psychological",
    ]


# -- (b) removing information never removes a supported red flag ----------------------------------

REQUIRED = {"schema", "assessed_on", "region", "patient", "surgeries"}
REQUIRED_IN = {
    "patient": {"age"},
    "surgeries": {"date", "procedure"},
    "imaging": {"date", "modality", "findings"},
    "blocks": {"target", "relief_percent"},
    "electrodiagnostics": {"result"},
    "prior_treatments": {"treatment", "response"},
    "questionnaires": {"instrument", "date", "answers", "score"},
}
Path = tuple[str | int, ...]


def removable_paths(doc: Doc) -> list[Path]:
    """Every optional field, object, list or list item of a case document."""
    out: list[Path] = []
    for key, value in doc.items():
        if key not in REQUIRED and key != "id":
            out.append((key,))
        required = REQUIRED_IN.get(key, set())
        if isinstance(value, dict):
            out += [(key, k) for k in value if k not in required]
        elif isinstance(value, list):
            if key != "surgeries" or len(value) > 1:
                out += [(key, i) for i in range(len(value))]
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    out += [(key, i, k) for k in item if k not in required]
    for key in ("character", "aggravated_by"):
        out += [("pain", key, i) for i in range(len(doc.get("pain", {}).get(key, [])))]
    return out


def without(doc: Doc, paths: list[Path]) -> Doc:
    reduced = copy.deepcopy(doc)
    # Delete list items from the back so earlier indices stay valid.
    for path in sorted(
        paths, key=lambda p: [str(type(x)) + str(x).zfill(4) for x in p], reverse=True
    ):
        parent: Any = reduced
        try:
            for step in path[:-1]:
                parent = parent[step]
            del parent[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue  # already gone with a removed parent
    return reduced


def fired_triggers(doc: Doc) -> tuple[dict[str, Any], dict[str, list[tuple[str, ...]]]]:
    """The facts of a case and, per red flag, the facts of each trigger that holds."""
    facts = derive_facts(parse_case(doc, today=TODAY)).values
    context = Context(facts)
    fired: dict[str, list[tuple[str, ...]]] = {}
    for flag in default_knowledge().red_flags:
        for trigger in flag.triggers:
            if trigger.condition.evaluate(context):
                fired.setdefault(flag.id, []).append(trigger.condition.facts)
    return dict(facts), fired


@st.composite
def case_and_removal(draw: st.DrawFn) -> tuple[Doc, list[Path]]:
    doc = draw(case_documents())
    paths = removable_paths(doc)
    assume(paths)
    chosen = draw(st.lists(st.sampled_from(paths), min_size=1, max_size=4, unique=True))
    return doc, chosen


def _parses(doc: Doc) -> bool:
    try:
        parse_case(doc, today=TODAY)
    except CaseInvalid:
        return False
    return True


@PROPERTY_SETTINGS
@given(case_and_removal())
def test_removing_unrelated_information_keeps_every_red_flag(
    example: tuple[Doc, list[Path]],
) -> None:
    doc, paths = example
    reduced = without(doc, paths)
    assume(_parses(reduced))
    before, fired = fired_triggers(doc)
    after, _ = fired_triggers(reduced)
    used = {fact for triggers in fired.values() for facts in triggers for fact in facts}
    changed = {f for f in set(before) | set(after) if before.get(f) != after.get(f)}
    assume(not used & changed)
    flags_before = {f["id"] for f in run(doc)["red_flags"]}
    flags_after = {f["id"] for f in run(reduced)["red_flags"]}
    assert flags_before <= flags_after


@PROPERTY_SETTINGS
@given(case_and_removal())
def test_a_red_flag_whose_trigger_facts_survive_a_deletion_still_fires(
    example: tuple[Doc, list[Path]],
) -> None:
    doc, paths = example
    reduced = without(doc, paths)
    assume(_parses(reduced))
    before, fired = fired_triggers(doc)
    after, _ = fired_triggers(reduced)
    flags_after = {f["id"] for f in run(reduced)["red_flags"]}
    for flag_id, triggers in fired.items():
        for facts in triggers:
            if all(f in after and after[f] == before[f] for f in facts):
                assert flag_id in flags_after, (flag_id, facts, paths)


# -- (c) determinism and (d) JSON -----------------------------------------------------------------


@PROPERTY_SETTINGS
@given(case_documents())
def test_the_same_case_gives_the_same_assessment(doc: Doc) -> None:
    first = json.dumps(run(doc), sort_keys=True)
    assert json.dumps(run(doc), sort_keys=True) == first
    assert json.dumps(run(copy.deepcopy(doc)), sort_keys=True) == first
    # and through a JSON round trip of the document, as an API client would send it
    assert json.dumps(run(json.loads(json.dumps(doc))), sort_keys=True) == first


@PROPERTY_SETTINGS
@given(case_documents())
def test_the_assessment_is_plain_json(doc: Doc) -> None:
    result = run(doc)
    text = json.dumps(result, allow_nan=False)
    assert json.loads(text) == result


# -- (e) red flags defer elective care; (f) stated negatives keep a reason -------------------------

# Procedures that wait while a red flag is open (issue 15; Finucane 2020).
ELECTIVE = (
    "epidural-steroid-injection",
    "adhesiolysis",
    "radiofrequency-denervation",
    "sacroiliac-joint-treatment",
    "spinal-cord-stimulation",
    "intrathecal-drug-delivery",
    "revision-surgery",
)
# A red flag and the facts that raise it whatever else the case says.
FLAG_FACTS: dict[str, dict[str, Any]] = {
    "infection": {"systemic": {"fever": True}},
    "malignancy": {"systemic": {"unexplained_weight_loss": True}},
    "fracture": {"systemic": {"recent_trauma": True}},
    "csf-leak": {"pain": {"positional_headache": True}},
    "progressive-neurological-deficit": {"neuro": {"motor_deficit": "progressive"}},
    "cauda-equina": {"neuro": {"saddle_anesthesia": True}},
    "epidural-hematoma": {"imaging": "epidural-hematoma"},
}


def with_flag(doc: Doc, flag: str) -> Doc:
    flagged = copy.deepcopy(doc)
    for section, values in FLAG_FACTS[flag].items():
        if section == "imaging":
            flagged.setdefault("imaging", []).append(
                {
                    "date": flagged["assessed_on"],
                    "modality": "mri",
                    "findings": [{"finding": values}],
                }
            )
        else:
            flagged.setdefault(section, {}).update(values)
    return flagged


@PROPERTY_SETTINGS
@given(case_documents(), st.sampled_from(sorted(FLAG_FACTS)))
def test_a_red_flag_leaves_no_elective_procedure_above_not_recommended(doc: Doc, flag: str) -> None:
    assume(flag != "cauda-equina" or doc["region"] == "lumbar")
    flagged = with_flag(doc, flag)
    assume(_parses(flagged))
    result = run(flagged)
    assert flag in {f["id"] for f in result["red_flags"]}
    options = {t["id"]: t for t in result["treatment_options"]}
    for treatment in ELECTIVE:
        option = options[treatment]
        assert option["recommendation"] in ("not-recommended", "contraindicated"), option
        # and the option says why: the red flag, by name or as an infection
        assert any("red flag" in b or "infection" in b.lower() for b in option["because"]), option


_CONFLICT = "The evidence conflicts; both sides are listed under evidence."


@PROPERTY_SETTINGS
@given(case_and_removal())
def test_removing_information_never_drops_a_stated_negative_without_a_reason(
    example: tuple[Doc, list[Path]],
) -> None:
    doc, paths = example
    reduced = without(doc, paths)
    assume(_parses(reduced))
    before = run(doc)["treatment_options"]
    after = {t["id"]: t for t in run(reduced)["treatment_options"]}
    assert set(after) == {t["id"] for t in before}, "every treatment stays stated"
    for option in before:
        if option["recommendation"] not in ("not-recommended", "contraindicated"):
            continue
        now = after[option["id"]]
        assert [b for b in now["because"] if b != _CONFLICT], now
        reasons = [b for b in option["because"] if b != _CONFLICT]
        kept = [b for b in reasons if b in now["because"]]
        if kept:
            continue
        # Every reason went: another one replaces it, or the option says what is now unknown.
        gained = [b for b in now["because"] if b not in option["because"]]
        assert gained or now.get("not_known"), (option, now, paths)
