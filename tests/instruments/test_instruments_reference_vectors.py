"""Reference vectors from the published scoring rules, every band boundary on both sides, and
every missing-item rule. The source of each vector is named beside it."""

from __future__ import annotations

import pytest

from secondlook.instruments import AnswersInvalid, band_for, score, score_total


def answers_summing_to(total: int, count: int, item_max: int) -> list[int | None]:
    """Answers (highest first) that add up to ``total``."""
    out: list[int | None] = []
    left = total
    for _ in range(count):
        value = min(item_max, left)
        out.append(value)
        left -= value
    assert left == 0, "total too large for this instrument"
    return out


# ---------------------------------------------------------------- NRS (0-10; CONTRACT.md §2)


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (0, "none"),
        (1, "mild"),
        (3, "mild"),
        (4, "moderate"),
        (6, "moderate"),
        (7, "severe"),
        (10, "severe"),
    ],
)
def test_nrs_answer_is_the_score_and_bands_split_at_1_4_7(value: int, band: str) -> None:
    result = score("nrs-pain", [value])
    assert result.score == value
    assert result.max == 10
    assert result.band == band


def test_nrs_with_its_only_item_skipped_has_no_score() -> None:
    result = score("nrs-pain", [None])
    assert result.score is None
    assert result.band is None
    assert result.problems == ("nrs-pain: the only item was skipped",)


# ------------------------------------------------- PHQ-9 (Kroenke, Spitzer & Williams 2001)

PHQ9_BANDS = [
    (0, "minimal"),
    (4, "minimal"),
    (5, "mild"),
    (9, "mild"),
    (10, "moderate"),
    (14, "moderate"),
    (15, "moderately-severe"),
    (19, "moderately-severe"),
    (20, "severe"),
    (27, "severe"),
]


@pytest.mark.parametrize(("total", "band"), PHQ9_BANDS)
def test_phq9_sums_items_and_bands_at_kroenke_2001_cut_points(total: int, band: str) -> None:
    # Kroenke 2001: cut-points 5, 10, 15, 20 for mild, moderate, moderately severe, severe.
    result = score("phq-9", answers_summing_to(total, 9, 3))
    assert result.score == total
    assert result.max == 27
    assert result.band == band
    assert band_for("phq-9", total) == band


def test_phq9_with_one_item_skipped_has_no_total_because_the_manual_gives_no_rule() -> None:
    result = score("phq-9", [1, 1, None, 1, 1, 1, 1, 1, 0])
    assert result.score is None
    assert result.band is None
    assert len(result.problems) == 1
    assert "item 3 skipped" in result.problems[0]
    assert "all 9 items" in result.problems[0]


# ---------------------------------------------------- GAD-7 (Spitzer, Kroenke, Williams, Löwe 2006)

GAD7_BANDS = [
    (0, "minimal"),
    (4, "minimal"),
    (5, "mild"),
    (9, "mild"),
    (10, "moderate"),
    (14, "moderate"),
    (15, "severe"),
    (21, "severe"),
]


@pytest.mark.parametrize(("total", "band"), GAD7_BANDS)
def test_gad7_sums_items_and_bands_at_spitzer_2006_cut_points(total: int, band: str) -> None:
    # Spitzer 2006: cut-points 5, 10 and 15 for mild, moderate and severe anxiety.
    result = score("gad-7", answers_summing_to(total, 7, 3))
    assert result.score == total
    assert result.max == 21
    assert result.band == band


def test_gad7_with_items_skipped_has_no_total() -> None:
    result = score("gad-7", [None, 2, 2, None, 0, 0, 0])
    assert result.score is None
    assert "items 1, 4 skipped" in result.problems[0]


# --------------------------------------------------------- ODI (Fairbank & Pynsent 2000)


def test_odi_fairbank_pynsent_2000_example_all_sections_16_points_is_32_percent() -> None:
    # Fairbank & Pynsent 2000, scoring appendix: 16 (total scored) / 50 x 100 = 32%.
    result = score("odi", [2, 2, 2, 2, 2, 2, 2, 1, 1, 0])
    assert result.score == 32
    assert result.max == 100
    assert result.band == "moderate"


def test_odi_fairbank_pynsent_2000_example_one_section_missed_is_16_of_45() -> None:
    # Fairbank & Pynsent 2000: one section missed or not applicable -> 16 / 45 x 100 = 35.5%.
    result = score("odi", [2, 2, 2, 2, 2, 2, 2, None, 1, 1])
    assert result.score == pytest.approx(16 / 45 * 100)
    assert result.score == pytest.approx(35.56, abs=0.01)
    assert result.problems == ()


def test_odi_with_two_sections_skipped_has_no_index() -> None:
    # CLINICAL.md §6: at most one missing section.
    result = score("odi", [2, 2, 2, 2, 2, 2, 2, None, None, 1])
    assert result.score is None
    assert result.band is None
    assert "items 8, 9 skipped" in result.problems[0]
    assert "at most 1 skipped section" in result.problems[0]


ODI_BANDS = [
    (0, "minimal"),
    (20, "minimal"),
    (21, "moderate"),
    (40, "moderate"),
    (41, "severe"),
    (60, "severe"),
    (61, "crippled"),
    (80, "crippled"),
    (81, "bed-bound"),
    (100, "bed-bound"),
]


@pytest.mark.parametrize(("index", "band"), ODI_BANDS)
def test_odi_bands_follow_fairbank_1980_on_both_sides_of_each_boundary(
    index: int, band: str
) -> None:
    # Fairbank 1980 / Fairbank & Pynsent 2000: 0-20, 21-40, 41-60, 61-80, 81-100.
    assert band_for("odi", index) == band
    assert score_total("odi", index).band == band


@pytest.mark.parametrize(
    ("points", "index", "band"),
    [
        (10, 20, "minimal"),
        (11, 22, "moderate"),
        (20, 40, "moderate"),
        (21, 42, "severe"),
        (30, 60, "severe"),
        (31, 62, "crippled"),
        (40, 80, "crippled"),
        (41, 82, "bed-bound"),
    ],
)
def test_odi_scored_from_ten_sections_lands_on_each_side_of_each_boundary(
    points: int, index: int, band: str
) -> None:
    result = score("odi", answers_summing_to(points, 10, 5))
    assert result.score == index
    assert result.band == band


@pytest.mark.parametrize(
    ("points", "band"),
    [
        (9, "minimal"),
        (10, "moderate"),
        (18, "moderate"),
        (19, "severe"),
        (27, "severe"),
        (28, "crippled"),
        (36, "crippled"),
        (37, "bed-bound"),
    ],
)
def test_odi_scored_from_nine_sections_lands_on_each_side_of_each_boundary(
    points: int, band: str
) -> None:
    # 9 sections answered: index = points / 45 x 100 (20.0 / 22.2, 40.0 / 42.2, ...).
    answers = [*answers_summing_to(points, 9, 5), None]
    result = score("odi", answers)
    assert result.score == pytest.approx(points / 45 * 100)
    assert result.band == band


# --------------------------------------------------------------- NDI (Vernon & Mior 1991)

NDI_BANDS = [
    (0, "none"),
    (4, "none"),
    (5, "mild"),
    (14, "mild"),
    (15, "moderate"),
    (24, "moderate"),
    (25, "severe"),
    (34, "severe"),
    (35, "complete"),
    (50, "complete"),
]


@pytest.mark.parametrize(("raw", "band"), NDI_BANDS)
def test_ndi_raw_sum_and_bands_follow_vernon_mior_1991(raw: int, band: str) -> None:
    # Vernon & Mior 1991 / Vernon 2008: 0-4 none, 5-14 mild, 15-24 moderate, 25-34 severe,
    # >34 complete (raw score out of 50).
    result = score("ndi", answers_summing_to(raw, 10, 5))
    assert result.score == raw
    assert result.max == 50
    assert result.band == band


def test_ndi_one_skipped_item_is_replaced_by_the_mean_of_the_other_nine() -> None:
    # Vernon's rule: the average of the other items is added to the completed items.
    # Nine items answered summing to 18 (mean 2) -> 18 + 2 = 20.
    result = score("ndi", [2, 2, 2, 2, 2, 2, 2, None, 2, 2])
    assert result.score == 20
    assert result.band == "moderate"


def test_ndi_imputed_score_can_be_fractional_and_bands_by_lower_bound() -> None:
    # 9 answered summing to 31 -> 31 x 10/9 = 34.44: not yet "complete" (>34 means 35+ raw).
    answers = [*answers_summing_to(31, 9, 5), None]
    result = score("ndi", answers)
    assert result.score == pytest.approx(310 / 9)
    assert result.band == "severe"
    answers = [*answers_summing_to(32, 9, 5), None]
    assert score("ndi", answers).band == "complete"


def test_ndi_with_two_items_skipped_has_no_score() -> None:
    result = score("ndi", [1, 1, 1, 1, 1, 1, 1, 1, None, None])
    assert result.score is None
    assert "items 9, 10 skipped" in result.problems[0]


# ----------------------------------------- STarT Back (Hill 2008; Keele scoring instructions)


@pytest.mark.parametrize(
    ("item9", "points"),
    [(0, 0), (1, 0), (2, 0), (3, 1), (4, 1)],
)
def test_start_back_item9_counts_only_very_much_or_extremely(item9: int, points: int) -> None:
    # Keele: bothersomeness is positive for "very much" (3) or "extremely" (4).
    result = score("start-back", [0, 0, 0, 0, 0, 0, 0, 0, item9])
    assert result.score == points
    assert result.subscales == {"distress": points}


def test_start_back_overall_3_is_low_risk_whatever_the_distress_items() -> None:
    # Hill 2008 / Keele: overall 0-3 -> low risk.
    result = score("start-back", [0, 0, 0, 0, 1, 1, 1, 0, 0])
    assert result.score == 3
    assert result.subscales == {"distress": 3}
    assert result.band == "low"


def test_start_back_overall_4_with_distress_3_is_medium_risk() -> None:
    result = score("start-back", [1, 0, 0, 0, 1, 1, 1, 0, 2])
    assert result.score == 4
    assert result.subscales == {"distress": 3}
    assert result.band == "medium"


def test_start_back_distress_4_is_high_risk() -> None:
    # Keele: distress subscale 4 or 5 -> high risk.
    result = score("start-back", [0, 0, 0, 0, 1, 1, 1, 0, 4])
    assert result.score == 4
    assert result.subscales == {"distress": 4}
    assert result.band == "high"


def test_start_back_all_positive_is_9_and_high_risk() -> None:
    result = score("start-back", [1, 1, 1, 1, 1, 1, 1, 1, 4])
    assert result.score == 9
    assert result.subscales == {"distress": 5}
    assert result.band == "high"


def test_start_back_with_a_skipped_item_has_no_total_but_keeps_a_complete_distress_subscale() -> (
    None
):
    result = score("start-back", [None, 1, 1, 1, 1, 1, 1, 1, 3])
    assert result.score is None
    assert result.band is None
    assert result.subscales == {"distress": 5}
    assert "item 1 skipped" in result.problems[0]


def test_start_back_total_alone_tells_low_but_not_medium_from_high() -> None:
    assert band_for("start-back", 3) == "low"
    assert band_for("start-back", 4) is None
    entered = score_total("start-back", 6)
    assert entered.band is None
    assert "distress items" in entered.problems[0]
    assert score_total("start-back", 2).problems == ()


# ------------------------------------------------------- PCS (Sullivan 1995; PCS User Manual)


def test_pcs_subscales_use_the_manual_item_sets() -> None:
    # Rumination 8-11, magnification 6, 7, 13, helplessness 1-5, 12 (PCS User Manual).
    answers: list[int | None] = [0] * 13
    for item in (8, 9, 10, 11):
        answers[item - 1] = 4
    for item in (6, 7, 13):
        answers[item - 1] = 2
    for item in (1, 2, 3, 4, 5, 12):
        answers[item - 1] = 1
    result = score("pcs", answers)
    assert result.subscales == {"rumination": 16, "magnification": 6, "helplessness": 6}
    assert result.score == 28
    assert result.max == 52


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "not-clinically-relevant"),
        (29, "not-clinically-relevant"),
        (30, "clinically-relevant"),
        (52, "clinically-relevant"),
    ],
)
def test_pcs_total_of_30_or_more_is_clinically_relevant(total: int, band: str) -> None:
    # PCS User Manual / CLINICAL.md §6: 30 or more is clinically relevant catastrophising.
    result = score("pcs", answers_summing_to(total, 13, 4))
    assert result.score == total
    assert result.band == band


def test_pcs_with_a_skipped_item_has_no_total_and_drops_only_that_subscale() -> None:
    answers: list[int | None] = [1] * 13
    answers[9 - 1] = None  # rumination item
    result = score("pcs", answers)
    assert result.score is None
    assert result.subscales == {"magnification": 3, "helplessness": 6}
    assert "item 9 skipped" in result.problems[0]


# -------------------------------------------------------------------- DN4 (Bouhassira 2005)


@pytest.mark.parametrize(
    ("yes", "band"), [(0, "negative"), (3, "negative"), (4, "positive"), (10, "positive")]
)
def test_dn4_counts_yes_answers_and_is_positive_from_4(yes: int, band: str) -> None:
    # Bouhassira 2005: cut-off 4/10.
    result = score("dn4", answers_summing_to(yes, 10, 1))
    assert result.score == yes
    assert result.max == 10
    assert result.band == band


def test_dn4_with_an_examination_item_skipped_has_no_total() -> None:
    result = score("dn4", [1, 1, 1, 1, 0, 0, 0, None, 0, 0])
    assert result.score is None
    assert "item 8 skipped" in result.problems[0]


@pytest.mark.parametrize(
    ("quality", "course", "radiating", "total", "band"),
    [
        # Freynhagen 2006: quality items 0-5 each; course patterns -1, 0, +1, +1 (SecondLook's
        # order: by points); radiating +2.
        ([0] * 7, 0, 0, -1, "negative"),
        ([0] * 7, 1, 0, 0, "negative"),
        ([2, 2, 2, 2, 2, 1, 0], 0, 1, 12, "negative"),
        ([2, 2, 2, 2, 2, 1, 0], 2, 0, 12, "negative"),
        ([2, 2, 2, 2, 2, 1, 1], 1, 0, 12, "negative"),
        ([2, 2, 2, 2, 2, 2, 1], 1, 0, 13, "unclear"),
        ([3, 3, 3, 3, 3, 1, 0], 3, 0, 17, "unclear"),
        ([3, 3, 3, 3, 3, 1, 0], 3, 1, 19, "positive"),
        ([5] * 7, 2, 1, 38, "positive"),
    ],
)
def test_paindetect_adds_the_course_and_radiation_points_and_bands_at_13_and_19(
    quality: list[int], course: int, radiating: int, total: int, band: str
) -> None:
    result = score("paindetect", [*quality, course, radiating])
    assert result.score == total
    assert result.max == 38
    assert result.band == band


def test_paindetect_with_an_item_skipped_has_no_total_and_refuses_an_unknown_pattern() -> None:
    assert score("paindetect", [1, 1, 1, 1, 1, 1, None, 0, 1]).score is None
    with pytest.raises(AnswersInvalid):
        score("paindetect", [1, 1, 1, 1, 1, 1, 1, 4, 1])
    with pytest.raises(AnswersInvalid):
        score("paindetect", [1, 1, 1, 1, 1, 1, 1, 0, 2])


# ---------------------------------------------------------------- totals entered directly


def test_score_total_bands_without_alerts_or_subscales() -> None:
    result = score_total("gad-7", 10)
    assert result.score == 10
    assert result.band == "moderate"
    assert result.alerts == ()
    assert result.subscales == {}
    assert result.problems == ()


def test_score_total_keeps_a_fractional_odi_index() -> None:
    result = score_total("odi", 35.5)
    assert result.score == 35.5
    assert result.band == "moderate"
