"""PHQ-9 item 9 safety alert and the site-configurable alert texts."""

from __future__ import annotations

from pathlib import Path

import pytest

from secondlook.instruments import (
    DEFAULT_SAFETY_TEXTS,
    SafetyTextsInvalid,
    load_site_safety_texts,
    safety_text,
    score,
    score_total,
)


@pytest.mark.parametrize("item9", [1, 2, 3])
def test_phq9_item9_above_zero_raises_self_harm_alert_even_with_a_minimal_total(
    item9: int,
) -> None:
    result = score("phq-9", [0, 0, 0, 0, 0, 0, 0, 0, item9])
    assert result.band == "minimal"
    assert result.alerts == ("self-harm-risk",)


def test_phq9_item9_zero_raises_no_alert_even_with_a_severe_total() -> None:
    result = score("phq-9", [3, 3, 3, 3, 3, 3, 3, 3, 0])
    assert result.band == "severe"
    assert result.alerts == ()


def test_self_harm_alert_is_raised_even_when_the_total_cannot_be_computed() -> None:
    result = score("phq-9", [None, None, None, None, None, None, None, None, 1])
    assert result.score is None
    assert result.alerts == ("self-harm-risk",)
    assert result.problems


def test_skipped_item9_raises_no_alert() -> None:
    assert score("phq-9", [1, 1, 1, 1, 1, 1, 1, 1, None]).alerts == ()


def test_a_phq9_total_alone_cannot_raise_the_alert_and_says_item9_is_unknown() -> None:
    result = score_total("phq-9", 27)
    assert result.alerts == ()
    assert "item 9" in result.problems[0]


@pytest.mark.parametrize("instrument", ["gad-7", "pcs"])
def test_other_instruments_raise_no_alerts(instrument: str) -> None:
    answers: list[int | None] = [3] * (7 if instrument == "gad-7" else 13)
    assert score(instrument, answers).alerts == ()


def test_default_self_harm_texts_ask_for_same_day_assessment_and_tell_patient_what_to_do() -> None:
    text = safety_text("self-harm-risk")
    assert "same-day safety assessment" in text.clinician
    assert "contact your care team today" in text.patient
    assert "emergency" in text.patient
    assert "crisis line" in text.patient


def test_every_contract_safety_alert_has_default_texts() -> None:
    assert set(DEFAULT_SAFETY_TEXTS) == {
        "self-harm-risk",
        "opioid-overdose-risk",
        "opioid-dose-unknown",
        "severe-depression",
    }
    for text in DEFAULT_SAFETY_TEXTS.values():
        assert text.clinician.strip()
        assert text.patient.strip()


def test_site_file_overrides_one_text_and_keeps_the_other_defaults(tmp_path: Path) -> None:
    path = tmp_path / "safety.yaml"
    path.write_text(
        "self-harm-risk:\n  patient: Call the spine centre on 555-0100 today, or 112 now.\n",
        encoding="utf-8",
    )
    texts = load_site_safety_texts(path)
    assert texts["self-harm-risk"].patient == "Call the spine centre on 555-0100 today, or 112 now."
    assert texts["self-harm-risk"].clinician == DEFAULT_SAFETY_TEXTS["self-harm-risk"].clinician
    assert texts["severe-depression"] == DEFAULT_SAFETY_TEXTS["severe-depression"]
    assert safety_text("self-harm-risk", texts).patient.startswith("Call the spine centre")


def test_site_file_in_json_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "safety.json"
    path.write_text('{"self-harm-risk": {"clinician": "Page the on-call psychiatrist."}}')
    assert load_site_safety_texts(path)["self-harm-risk"].clinician == (
        "Page the on-call psychiatrist."
    )


def test_site_file_with_unknown_alert_id_key_or_empty_text_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "safety.yaml"
    path.write_text(
        "self-harm:\n  patient: x\nself-harm-risk:\n  patient: ''\n  pager: '123'\n",
        encoding="utf-8",
    )
    with pytest.raises(SafetyTextsInvalid) as caught:
        load_site_safety_texts(path)
    problems = caught.value.problems
    assert problems[0].startswith(f"{path}: unknown alert id 'self-harm'")
    assert f"{path}: self-harm-risk: patient text is empty" in problems
    assert f"{path}: self-harm-risk: unknown key 'pager'" in problems


def test_site_file_that_is_not_a_mapping_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "safety.yaml"
    path.write_text("- self-harm-risk\n", encoding="utf-8")
    with pytest.raises(SafetyTextsInvalid, match="expected a mapping"):
        load_site_safety_texts(path)


def test_unknown_alert_id_has_no_text() -> None:
    with pytest.raises(KeyError, match="unknown alert id"):
        safety_text("bleeding")
