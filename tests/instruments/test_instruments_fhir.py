"""FHIR R4 Questionnaire building (validated with fhir.resources' R4B model) and
QuestionnaireResponse scoring."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from secondlook.instruments import (
    INSTRUMENTS,
    LOCAL_CODE_SYSTEM,
    AnswersInvalid,
    ItemTextUnavailable,
    load_item_text,
    score,
    score_questionnaire_response,
    to_fhir_questionnaire,
)
from secondlook.instruments.fhir import read_questionnaire_response

ORDINAL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
PHQ9_COPYRIGHT = (
    "Developed by Drs. Robert L. Spitzer, Janet B.W. Williams, Kurt Kroenke and colleagues, "
    "with an educational grant from Pfizer Inc. No permission required to reproduce, translate, "
    "display or distribute."
)


def response_from(questionnaire: dict[str, Any], answers: list[int | None]) -> dict[str, Any]:
    """A QuestionnaireResponse choosing, for each item, the option whose ordinal is the answer."""
    items = []
    choice_items = [i for i in questionnaire["item"] if i["type"] == "choice"]
    for item, answer in zip(choice_items, answers, strict=True):
        entry: dict[str, Any] = {"linkId": item["linkId"]}
        if answer is not None:
            option = next(
                o for o in item["answerOption"] if o["extension"][0]["valueDecimal"] == answer
            )
            entry["answer"] = [{"valueCoding": dict(option["valueCoding"])}]
        items.append(entry)
    return {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "questionnaire": questionnaire["url"],
        "item": items,
    }


@pytest.mark.parametrize("instrument_id", ["nrs-pain", "phq-9", "gad-7"])
def test_shipped_questionnaires_are_valid_r4_resources(instrument_id: str) -> None:
    resource = to_fhir_questionnaire(instrument_id)
    parsed = Questionnaire.model_validate(resource)
    instrument = INSTRUMENTS[instrument_id]
    choice = [i for i in parsed.item or [] if i.type == "choice"]
    assert len(choice) == instrument.item_count
    assert [i.linkId for i in choice] == [str(n) for n in range(1, instrument.item_count + 1)]
    for item, low, high in zip(choice, instrument.item_min, instrument.item_max, strict=True):
        options = item.answerOption or []
        ordinals = [o.extension[0].valueDecimal for o in options if o.extension]
        assert ordinals == list(range(low, high + 1))
        assert all(o.extension and o.extension[0].url == ORDINAL for o in options)


def test_phq9_questionnaire_carries_loinc_codes_and_the_copyright_line() -> None:
    resource = to_fhir_questionnaire("phq-9")
    assert resource["code"] == [
        {"system": "http://loinc.org", "code": "44249-1", "display": INSTRUMENTS["phq-9"].name}
    ]
    assert resource["copyright"] == PHQ9_COPYRIGHT
    choice = [i for i in resource["item"] if i["type"] == "choice"]
    assert choice[8]["code"][0]["code"] == "44260-8"
    assert [o["valueCoding"]["code"] for o in choice[0]["answerOption"]] == [
        "LA6568-5",
        "LA6569-3",
        "LA6570-1",
        "LA6571-9",
    ]
    assert resource["item"][0] == {
        "linkId": "intro",
        "type": "display",
        "text": "Over the last 2 weeks, how often have you been bothered by any of the "
        "following problems?",
    }


def test_gad7_and_nrs_questionnaires_use_their_loinc_panel_codes() -> None:
    assert to_fhir_questionnaire("gad-7")["code"][0]["code"] == "69737-5"
    assert to_fhir_questionnaire("gad-7")["copyright"] == PHQ9_COPYRIGHT
    nrs = to_fhir_questionnaire("nrs-pain")
    assert nrs["code"][0]["code"] == "72514-3"
    assert [o["valueCoding"]["code"] for o in nrs["item"][0]["answerOption"]][-1] == "LA13942-0"


@pytest.mark.parametrize("instrument_id", ["odi", "ndi", "start-back", "pcs", "dn4", "paindetect"])
def test_licensed_instruments_have_no_questionnaire_without_site_text(instrument_id: str) -> None:
    with pytest.raises(ItemTextUnavailable, match="load_item_text"):
        to_fhir_questionnaire(instrument_id)


def test_licensed_questionnaire_is_built_from_site_loaded_text(tmp_path: Path) -> None:
    path = tmp_path / "odi.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "odi": {
                    "copyright": "Site licence 2024",
                    "items": [
                        {"text": f"Section {n}", "answers": [f"S{n} level {v}" for v in range(6)]}
                        for n in range(1, 11)
                    ],
                }
            }
        ),
        encoding="utf-8",
    )
    texts = load_item_text(path)
    resource = to_fhir_questionnaire("odi", item_text=texts["odi"])
    Questionnaire.model_validate(resource)
    assert resource["code"] == [
        {"system": LOCAL_CODE_SYSTEM, "code": "odi", "display": INSTRUMENTS["odi"].name}
    ]
    assert resource["copyright"] == "Site licence 2024"
    first = resource["item"][0]
    assert first["text"] == "Section 1"
    assert first["required"] is False  # ODI allows one skipped section
    assert first["answerOption"][3]["valueCoding"] == {
        "system": LOCAL_CODE_SYSTEM,
        "code": "odi-3",
        "display": "S1 level 3",
    }
    # Round trip: a response to the site's questionnaire scores like the answer list.
    answers: list[int | None] = [2, 2, 2, 2, 2, 2, 2, None, 1, 1]
    response = response_from(resource, answers)
    QuestionnaireResponse.model_validate(response)
    assert score_questionnaire_response(response) == score("odi", answers)


def test_text_for_another_instrument_is_refused(tmp_path: Path) -> None:
    gad = INSTRUMENTS["gad-7"].item_text
    assert gad is not None
    with pytest.raises(ValueError, match="item text is for 'gad-7', not for 'phq-9'"):
        to_fhir_questionnaire("phq-9", item_text=gad)


@pytest.mark.parametrize(
    ("instrument_id", "answers"),
    [
        ("nrs-pain", [7]),
        ("phq-9", [1, 2, 3, 0, 1, 2, 3, 0, 1]),
        ("phq-9", [1, None, 3, 0, 1, 2, 3, 0, 2]),
        ("gad-7", [3, 3, 3, 3, 3, 3, 3]),
        ("gad-7", [None] * 7),
    ],
)
def test_questionnaire_response_scores_exactly_like_the_answer_list(
    instrument_id: str, answers: list[int | None]
) -> None:
    response = response_from(to_fhir_questionnaire(instrument_id), answers)
    QuestionnaireResponse.model_validate(response)
    assert score_questionnaire_response(response) == score(instrument_id, answers)


def test_questionnaire_response_with_value_integer_and_versioned_canonical() -> None:
    response = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "questionnaire": "https://secondlook.example/fhir/Questionnaire/start-back|1",
        "item": [{"linkId": str(n), "answer": [{"valueInteger": 1}]} for n in range(1, 9)]
        + [{"linkId": "9", "answer": [{"valueInteger": 3}]}],
    }
    result = score_questionnaire_response(response)
    assert result == score("start-back", [1, 1, 1, 1, 1, 1, 1, 1, 3])
    assert result.band == "high"


def test_questionnaire_response_from_a_loinc_form_with_loinc_link_ids_and_groups() -> None:
    # LHC-Forms style: canonical ending in the LOINC panel code, linkIds "/<item LOINC>",
    # items nested in a group; item 9 answered "Several days" -> self-harm alert.
    codes = INSTRUMENTS["phq-9"].item_loinc
    several_days = {"valueCoding": {"system": "http://loinc.org", "code": "LA6569-3"}}
    items: list[dict[str, Any]] = [
        {"linkId": f"/{code}", "answer": [several_days]} for code in codes
    ]
    response: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "questionnaire": "http://loinc.org/q/44249-1",
        "item": [{"linkId": "group", "item": items}],
    }
    # A group (no answer of its own) is structure: its items are read.
    result = score_questionnaire_response(response)
    assert result.score == 9
    assert result.alerts == ("self-harm-risk",)
    response["item"] = items
    assert score_questionnaire_response(response) == result
    # An answered item that is not one of the PHQ-9's still rejects the strict reader.
    response["item"] = [*items, {"linkId": "/12345-6", "answer": [several_days]}]
    with pytest.raises(AnswersInvalid, match="linkId '/12345-6' is not one of its items"):
        score_questionnaire_response(response)


def _loinc_phq9(item9: str = "LA6569-3") -> dict[str, Any]:
    """A LOINC-form PHQ-9 as LHC-Forms and US Core write it: total and difficulty items too."""
    codes = INSTRUMENTS["phq-9"].item_loinc
    answers = ["LA6568-5"] * 8 + [item9]
    items: list[dict[str, Any]] = [
        {
            "linkId": f"/{code}",
            "answer": [{"valueCoding": {"system": "http://loinc.org", "code": a}}],
        }
        for code, a in zip(codes, answers, strict=True)
    ]
    items.append({"linkId": "/44261-6", "answer": [{"valueDecimal": 1}]})
    items.append(
        {
            "linkId": "/69722-7",
            "answer": [{"valueCoding": {"system": "http://loinc.org", "code": "LA6572-7"}}],
        }
    )
    return {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "questionnaire": "http://loinc.org/q/44249-1",
        "item": items,
    }


def test_loinc_form_with_total_and_difficulty_items_is_read_and_item_9_alerts() -> None:
    result = score_questionnaire_response(_loinc_phq9())
    assert result.score == 1
    assert result.alerts == ("self-harm-risk",)
    reading = read_questionnaire_response(_loinc_phq9())
    assert reading.answers[8] == 1
    assert any("69722-7" in n and "difficulty" in n for n in reading.notes)
    assert any("44261-6" in n and "total" in n for n in reading.notes)


def test_us_core_phq9_address_and_unknown_address_with_loinc_items_are_recognised() -> None:
    response = _loinc_phq9()
    response["questionnaire"] = "http://hl7.org/fhir/us/core/Questionnaire/phq-9-example"
    assert read_questionnaire_response(response).instrument.id == "phq-9"
    response["questionnaire"] = "https://ehr.example/Questionnaire/depression-screen"
    # By its items' LOINC codes.
    assert read_questionnaire_response(response).instrument.id == "phq-9"
    # By the code of the Questionnaire it answers.
    response["item"] = [{"linkId": str(n), "answer": [{"valueInteger": 0}]} for n in range(1, 10)]
    questionnaire = {
        "resourceType": "Questionnaire",
        "code": [{"system": "http://loinc.org", "code": "44249-1"}],
    }
    assert read_questionnaire_response(response, questionnaire).instrument.id == "phq-9"
    with pytest.raises(AnswersInvalid, match="not a known instrument"):
        read_questionnaire_response(response)


def test_lenient_reading_keeps_item_9_when_another_answer_is_unreadable() -> None:
    response = _loinc_phq9(item9="LA6571-9")
    response["item"][0]["answer"] = [{"valueString": "often"}]
    with pytest.raises(AnswersInvalid):
        score_questionnaire_response(response)
    reading = read_questionnaire_response(response)
    assert reading.answers[0] is None
    assert reading.answers[8] == 3
    assert any("valueString" in n for n in reading.notes)


def test_questionnaire_response_uses_ordinal_value_when_the_code_is_foreign() -> None:
    response = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "questionnaire": "https://secondlook.example/fhir/Questionnaire/nrs-pain",
        "item": [
            {
                "linkId": "1",
                "answer": [
                    {
                        "valueCoding": {
                            "system": "urn:example:site",
                            "code": "six",
                            "extension": [{"url": ORDINAL, "valueDecimal": 6}],
                        }
                    }
                ],
            }
        ],
    }
    assert score_questionnaire_response(response).score == 6


def test_questionnaire_response_problems_name_the_item() -> None:
    response = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "questionnaire": "https://secondlook.example/fhir/Questionnaire/gad-7",
        "item": [
            {"linkId": "1", "answer": [{"valueCoding": {"system": "urn:x", "code": "y"}}]},
            {"linkId": "2", "answer": [{"valueString": "often"}]},
            {"linkId": "3", "answer": [{"valueInteger": 1}, {"valueInteger": 2}]},
            {"linkId": "4", "answer": [{"valueInteger": 1}]},
            {"linkId": "4", "answer": [{"valueInteger": 1}]},
            {"linkId": "99"},
        ],
    }
    with pytest.raises(AnswersInvalid) as caught:
        score_questionnaire_response(response)
    assert caught.value.problems == [
        "item 1 of gad-7: answer code urn:x|y is not one of its answers",
        "item 2 of gad-7: answer has valueString; expected valueCoding or valueInteger",
        "item 3 of gad-7: 2 answers, expected 1",
        "item 4 of gad-7: answered more than once",
        "gad-7: linkId '99' is not one of its items",
    ]


def test_questionnaire_response_out_of_range_answer_is_rejected_like_an_answer_list() -> None:
    response = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "questionnaire": "https://secondlook.example/fhir/Questionnaire/dn4",
        "item": [{"linkId": "1", "answer": [{"valueInteger": 2}]}],
    }
    with pytest.raises(AnswersInvalid, match="item 1 of dn4: 2 is outside 0–1"):
        score_questionnaire_response(response)


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        ({"resourceType": "Questionnaire"}, "expected a FHIR QuestionnaireResponse"),
        ({"resourceType": "QuestionnaireResponse"}, "questionnaire is missing"),
        (
            {"resourceType": "QuestionnaireResponse", "questionnaire": "urn:x/Questionnaire/sf-36"},
            "is not a known instrument",
        ),
    ],
)
def test_questionnaire_response_without_a_known_instrument_is_rejected(
    resource: dict[str, Any], message: str
) -> None:
    with pytest.raises(AnswersInvalid, match=message):
        score_questionnaire_response(resource)
