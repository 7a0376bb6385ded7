"""The instrument definitions themselves: ids, order, ranges, codes, licensing."""

from __future__ import annotations

import dataclasses

import pytest

import secondlook.instruments as api
from secondlook.instruments import INSTRUMENTS, LOCAL_CODE_SYSTEM, Instrument, ScoreResult

PUBLIC_API = {
    "INSTRUMENTS",
    "Instrument",
    "ScoreResult",
    "AnswersInvalid",
    "score",
    "score_total",
    "band_for",
    "change_status",
    "trajectory",
    "to_fhir_questionnaire",
    "score_questionnaire_response",
    "load_item_text",
}


def test_public_api_is_importable_from_the_package() -> None:
    missing = {name for name in PUBLIC_API if not hasattr(api, name)}
    assert missing == set()
    assert set(api.__all__) >= PUBLIC_API


def test_instruments_are_keyed_by_contract_id_in_contract_order() -> None:
    assert list(INSTRUMENTS) == [
        "nrs-pain",
        "phq-9",
        "gad-7",
        "odi",
        "ndi",
        "start-back",
        "pcs",
        "dn4",
        "paindetect",
    ]
    assert all(key == instrument.id for key, instrument in INSTRUMENTS.items())


def test_instruments_mapping_is_read_only() -> None:
    with pytest.raises(TypeError):
        INSTRUMENTS["x"] = INSTRUMENTS["odi"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("instrument_id", "items", "low", "high", "max_score"),
    [
        ("nrs-pain", 1, 0, 10, 10),
        ("phq-9", 9, 0, 3, 27),
        ("gad-7", 7, 0, 3, 21),
        ("odi", 10, 0, 5, 100),
        ("ndi", 10, 0, 5, 50),
        ("pcs", 13, 0, 4, 52),
        ("dn4", 10, 0, 1, 10),
    ],
)
def test_item_counts_and_answer_ranges_match_contract_1_11(
    instrument_id: str, items: int, low: int, high: int, max_score: int
) -> None:
    instrument = INSTRUMENTS[instrument_id]
    assert instrument.item_count == items
    assert instrument.item_min == (low,) * items
    assert instrument.item_max == (high,) * items
    assert instrument.max_score == max_score
    assert instrument.min_score == 0


def test_start_back_items_1_to_8_are_binary_and_item_9_has_five_points() -> None:
    instrument = INSTRUMENTS["start-back"]
    assert instrument.item_max == (1,) * 8 + (4,)
    assert instrument.max_score == 9


def test_every_instrument_is_internally_consistent() -> None:
    for instrument in INSTRUMENTS.values():
        n = instrument.item_count
        assert len(instrument.item_min) == len(instrument.item_max) == n
        assert len(instrument.item_labels) == n
        assert all(label.strip() for label in instrument.item_labels)
        assert instrument.item_loinc == () or len(instrument.item_loinc) == n
        assert instrument.citation
        if instrument.meaningful_change is not None:
            assert instrument.meaningful_change.citation
        if instrument.item_text is not None:
            assert len(instrument.item_text.items) == n
        assert instrument.ships_item_text == (instrument.item_text is not None)


@pytest.mark.parametrize(
    ("instrument_id", "loinc", "total"),
    [
        ("phq-9", "44249-1", "44261-6"),
        ("gad-7", "69737-5", "70274-6"),
        ("nrs-pain", "72514-3", "72514-3"),
    ],
)
def test_loinc_codes(instrument_id: str, loinc: str, total: str) -> None:
    instrument = INSTRUMENTS[instrument_id]
    assert instrument.loinc == loinc
    assert instrument.loinc_total == total
    assert instrument.code_system == "http://loinc.org"
    assert instrument.code == loinc


def test_phq9_item9_loinc_is_44260_8() -> None:
    assert INSTRUMENTS["phq-9"].item_loinc[8] == "44260-8"


@pytest.mark.parametrize("instrument_id", ["odi", "ndi", "start-back", "pcs", "dn4", "paindetect"])
def test_instruments_without_loinc_use_the_one_local_code_system(instrument_id: str) -> None:
    instrument = INSTRUMENTS[instrument_id]
    assert instrument.loinc is None
    assert instrument.code_system == LOCAL_CODE_SYSTEM
    assert instrument.code == instrument_id


def test_only_nrs_phq9_and_gad7_ship_item_text() -> None:
    shipped = {i.id for i in INSTRUMENTS.values() if i.ships_item_text}
    assert shipped == {"nrs-pain", "phq-9", "gad-7"}


@pytest.mark.parametrize(
    ("instrument_id", "points", "percent"),
    [
        ("nrs-pain", 2, 30),
        ("odi", 10, None),
        ("ndi", 5, None),
        ("phq-9", 5, None),
        ("gad-7", 4, None),
    ],
)
def test_meaningful_change_thresholds(
    instrument_id: str, points: float, percent: float | None
) -> None:
    threshold = INSTRUMENTS[instrument_id].meaningful_change
    assert threshold is not None
    assert (threshold.points, threshold.percent) == (points, percent)


@pytest.mark.parametrize("instrument_id", ["start-back", "pcs", "dn4", "paindetect"])
def test_no_threshold_where_none_is_published(instrument_id: str) -> None:
    assert INSTRUMENTS[instrument_id].meaningful_change is None


@pytest.mark.parametrize(
    ("instrument_id", "bands"),
    [
        ("phq-9", ["minimal", "mild", "moderate", "moderately-severe", "severe"]),
        ("gad-7", ["minimal", "mild", "moderate", "severe"]),
        ("odi", ["minimal", "moderate", "severe", "crippled", "bed-bound"]),
        ("ndi", ["none", "mild", "moderate", "severe", "complete"]),
        ("start-back", ["low", "medium", "high"]),
        ("pcs", ["not-clinically-relevant", "clinically-relevant"]),
        ("dn4", ["negative", "positive"]),
        ("paindetect", ["negative", "unclear", "positive"]),
        ("nrs-pain", ["none", "mild", "moderate", "severe"]),
    ],
)
def test_band_ids_are_exactly_those_of_contract_2(instrument_id: str, bands: list[str]) -> None:
    assert [b.id for b in INSTRUMENTS[instrument_id].bands] == bands


def test_instrument_and_score_result_are_frozen() -> None:
    instrument: Instrument = INSTRUMENTS["odi"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        instrument.max_score = 50  # type: ignore[misc]
    result = ScoreResult(instrument="odi", score=1, max=100, band="minimal")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.score = 2  # type: ignore[misc]
