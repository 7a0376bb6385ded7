"""Property: EHR-shaped bundles never lose a red flag or safety alert their facts support.

Hypothesis builds bundles the way EHRs send them (random resource order, references to
resources that are not there, contained and referenced Medications, partial dates, several
dosage instructions, PHQ-9 as a LOINC form, as item Observations or as item 9 alone). The same
facts are written directly as a case document; import + assess() must raise at least the red
flags and safety alerts that assessing that document raises.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secondlook.case import parse_case
from secondlook.engine import assess
from secondlook.fhir import codes as c
from secondlook.fhir import import_bundle

ON = date(2026, 12, 1)
PATIENT = "Patient/p1"
#: ingredient -> CDC 2022 factor (None: no factor, the dose stays unknown).
OPIOIDS: dict[str, float | None] = {
    "oxycodone": 1.5,
    "morphine": 1.0,
    "hydrocodone": 1.0,
    "hydromorphone": 5.0,
    "buprenorphine": None,
}
PHQ9_ITEMS = (
    "44250-9",
    "44255-8",
    "44259-0",
    "44254-1",
    "44251-7",
    "44258-2",
    "44252-5",
    "44253-3",
    "44260-8",
)
ANSWER_CODES = ("LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9")


def _loinc_answer(value: int) -> dict[str, Any]:
    return {"system": "http://loinc.org", "code": ANSWER_CODES[value]}


@st.composite
def timing(draw: st.DrawFn) -> tuple[dict[str, Any], float]:
    """A Timing and its administrations per day."""
    kind = draw(st.sampled_from(["repeat-h", "repeat-d", "code", "when"]))
    if kind == "repeat-h":
        hours = draw(st.sampled_from([4, 6, 8, 12]))
        return {"repeat": {"frequency": 1, "period": hours, "periodUnit": "h"}}, 24 / hours
    if kind == "repeat-d":
        times = draw(st.integers(1, 4))
        return {"repeat": {"frequency": times, "period": 1, "periodUnit": "d"}}, float(times)
    if kind == "code":
        code, per_day = draw(st.sampled_from([("BID", 2.0), ("TID", 3.0), ("QID", 4.0)]))
        return {"code": {"coding": [{"code": code}]}}, per_day
    return {"repeat": {"when": ["HS"]}}, 1.0


@st.composite
def opioid(draw: st.DrawFn, n: int) -> tuple[list[dict[str, Any]], float | None]:
    """A MedicationRequest (and the Medication it may refer to) and its daily MME."""
    ingredient = draw(st.sampled_from(sorted(OPIOIDS)))
    strength = draw(st.sampled_from([2.0, 5.0, 10.0, 15.0]))
    name = f"{ingredient} {strength:g} MG Oral Tablet"
    instructions = []
    mg_per_day = 0.0
    for _ in range(draw(st.integers(1, 3))):
        when, per_day = draw(timing())
        tablets = draw(st.integers(1, 2))
        as_mg = draw(st.booleans())
        dose = (
            {"value": tablets * strength, "unit": "mg", "code": "mg"}
            if as_mg
            else {"value": tablets, "unit": "tablet", "code": "{tbl}"}
        )
        dose_and_rate = [{"doseQuantity": dose}]
        if as_mg and draw(st.booleans()):  # Epic: an admin-amount in tablets first
            dose_and_rate.insert(
                0,
                {
                    "type": {"coding": [{"code": "admin-amount"}]},
                    "doseQuantity": {"value": tablets, "unit": "tablet", "code": "{tbl}"},
                },
            )
        instructions.append({"timing": when, "doseAndRate": dose_and_rate})
        mg_per_day += tablets * strength * per_day
    factor = OPIOIDS[ingredient]
    mme = None if factor is None else mg_per_day * factor
    request: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": f"mr{n}",
        "status": "active",
        "intent": "order",
        "subject": {"reference": PATIENT},
        "requester": {"reference": f"Practitioner/not-here-{n}"},
        "dosageInstruction": instructions,
    }
    entries = [request]
    form = draw(st.sampled_from(["concept", "contained", "referenced", "missing"]))
    if form == "concept":
        request["medicationCodeableConcept"] = {"text": name}
    elif form == "contained":
        request["contained"] = [{"resourceType": "Medication", "id": "m", "code": {"text": name}}]
        request["medicationReference"] = {"reference": "#m"}
    elif form == "referenced":
        request["medicationReference"] = {"reference": f"Medication/med{n}"}
        entries.append({"resourceType": "Medication", "id": f"med{n}", "code": {"text": name}})
    else:  # not in the bundle: the display names it
        request["medicationReference"] = {"reference": f"Medication/gone{n}", "display": name}
    return entries, mme


@st.composite
def phq9(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[int | None]]:
    """PHQ-9 in one of the standard FHIR forms, and the answers it holds."""
    item9 = draw(st.integers(0, 3))
    form = draw(st.sampled_from(["loinc-form", "items", "item-9-only"]))
    answers: list[int | None] = [*(draw(st.integers(0, 3)) for _ in range(8)), item9]
    authored = "2026-11-20T10:00:00Z"
    if form == "loinc-form":
        items = [
            {"linkId": f"/{code}", "answer": [{"valueCoding": _loinc_answer(a)}]}
            for code, a in zip(PHQ9_ITEMS, answers, strict=True)
            if a is not None
        ]
        items += [
            {"linkId": "/44261-6", "answer": [{"valueInteger": 0}]},
            {
                "linkId": "/69722-7",
                "answer": [{"valueCoding": {"system": "http://loinc.org", "code": "LA6572-7"}}],
            },
        ]
        response = {
            "resourceType": "QuestionnaireResponse",
            "id": "qr",
            "status": "completed",
            "questionnaire": draw(
                st.sampled_from(
                    [
                        "http://loinc.org/q/44249-1",
                        "http://hl7.org/fhir/us/core/Questionnaire/phq-9-example",
                        "https://ehr.example/Questionnaire/phq",
                    ]
                )
            ),
            "subject": {"reference": PATIENT},
            "authored": authored,
            "item": items,
        }
        return [response], answers
    if form == "item-9-only":
        answers = [None] * 8 + [item9]
    entries = [
        {
            "resourceType": "Observation",
            "id": f"i{code}",
            "status": "final",
            "subject": {"reference": PATIENT},
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "effectiveDateTime": authored,
            "valueCodeableConcept": {"coding": [_loinc_answer(a)]},
            "derivedFrom": [{"reference": "QuestionnaireResponse/not-in-bundle"}],
        }
        for code, a in zip(PHQ9_ITEMS, answers, strict=True)
        if a is not None
    ]
    return entries, answers


@st.composite
def ehr_bundles(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """(bundle, the case document its facts make)."""
    resources: list[dict[str, Any]] = [
        {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1970-05-05"},
        {
            "resourceType": "Procedure",
            "id": "tlif",
            "status": "completed",
            "subject": {"reference": PATIENT},
            "code": {"coding": [{"system": c.CPT, "code": "22633"}], "text": "TLIF L4-L5"},
            "performedDateTime": "2025-06-01",
            "performer": [{"actor": {"reference": "Practitioner/surgeon-not-here"}}],
            "encounter": {"reference": "Encounter/not-here"},
        },
    ]
    surgeries: list[dict[str, Any]] = [
        {"date": "2025-06-01", "procedure": "tlif", "levels": ["L4-L5"]}
    ]
    if draw(st.booleans()):  # an older operation with a partial date
        choices: list[tuple[dict[str, Any], str, str]] = [
            ({"performedString": "2012"}, "2012-01-01", "year"),
            ({"performedDateTime": "2013-04"}, "2013-04-01", "month"),
            ({"performedPeriod": {"start": "2014"}}, "2014-01-01", "year"),
        ]
        performed, when, precision = draw(st.sampled_from(choices))
        resources.append(
            {
                "resourceType": "Procedure",
                "id": "old",
                "status": "completed",
                "subject": {"reference": PATIENT},
                "code": {"text": "Lumbar discectomy L5-S1"},
                **performed,
            }
        )
        surgeries.append(
            {
                "date": when,
                "date_precision": precision,
                "procedure": "discectomy",
                "levels": ["L5-S1"],
            }
        )
    if draw(st.booleans()):  # an injection after the surgery: never the index surgery
        resources.append(
            {
                "resourceType": "Procedure",
                "id": "esi",
                "status": "completed",
                "subject": {"reference": PATIENT},
                "code": {"coding": [{"system": c.CPT, "code": "64483"}]},
                "performedDateTime": "2026-11-01",
            }
        )
    case: dict[str, Any] = {
        "schema": "secondlook.case/1",
        "assessed_on": ON.isoformat(),
        "region": "lumbar",
        "patient": {"age": 56, "sex": "female"},
        "surgeries": surgeries,
    }
    if draw(st.booleans()):  # a red flag fact in SecondLook's own code
        resources.append(
            {
                "resourceType": "Observation",
                "id": "retention",
                "status": "final",
                "subject": {"reference": PATIENT},
                "code": {"coding": [{"system": c.CASE_SYSTEM, "code": "neuro.urinary_retention"}]},
                "valueBoolean": True,
            }
        )
        case["neuro"] = {"urinary_retention": True}
    if draw(st.booleans()):
        entries, answers = draw(phq9())
        resources += entries
        case["questionnaires"] = [{"instrument": "phq-9", "date": "2026-11-20", "answers": answers}]
    doses: list[float | None] = []
    for n in range(draw(st.integers(0, 3))):
        entries, mme = draw(opioid(n))
        resources += entries
        doses.append(mme)
    if doses:
        known = sum(d for d in doses if d is not None)
        meds: dict[str, Any] = {"opioid": True}
        if all(d is not None for d in doses):
            meds["opioid_mme_per_day"] = round(known, 1)
        elif known > 0:
            meds["opioid_mme_per_day_at_least"] = round(known, 1)
        case["medications"] = meds
    order = draw(st.permutations(resources))
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {"fullUrl": f"https://ehr.example/fhir/{r['resourceType']}/{r['id']}", "resource": r}
            for r in order
        ],
    }
    return bundle, case


def _conclusions(assessment: dict[str, Any]) -> set[str]:
    return {f["id"] for f in assessment["red_flags"]} | {
        a["id"] for a in assessment["safety_alerts"]
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ehr_bundles())
def test_import_never_loses_a_red_flag_or_safety_alert(
    made: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    bundle, intended = made
    result = import_bundle(bundle, assessed_on=ON, strict_references=False)
    assert result.problems == [], result.problems
    imported = assess(parse_case(result.case, today=ON))
    expected = assess(parse_case(intended, today=ON))
    assert _conclusions(expected) <= _conclusions(imported)
    # The facts themselves arrive: the index surgery, the opioid state, PHQ-9 item 9.
    assert parse_case(result.case, today=ON).index_surgery.procedure == "tlif"
    assert result.case.get("medications", {}).get("opioid") == intended.get("medications", {}).get(
        "opioid"
    )
    for key in ("opioid_mme_per_day", "opioid_mme_per_day_at_least"):
        got = result.case.get("medications", {}).get(key)
        want = intended.get("medications", {}).get(key)
        assert (got is None) == (want is None)
        if want is not None:
            assert abs(got - want) < 0.2
    if "questionnaires" in intended:
        item9 = [q["answers"][8] for q in result.case["questionnaires"] if "answers" in q]
        assert item9 == [intended["questionnaires"][0]["answers"][8]]
