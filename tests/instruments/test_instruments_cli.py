"""``score`` and ``instruments list`` registered on a throwaway Typer app."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from secondlook.commands import instruments as instruments_cli
from secondlook.commands.instruments import parse_answers, register

runner = CliRunner()


def make_app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_score_json_has_exactly_the_documented_keys() -> None:
    result = runner.invoke(
        make_app(), ["score", "phq-9", "--answers", "1,1,1,1,1,1,1,1,1", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "instrument": "phq-9",
        "score": 9,
        "max": 27,
        "band": "mild",
        "subscales": {},
        "alerts": ["self-harm-risk"],
        "problems": [],
    }


def test_score_json_with_skipped_items_via_empty_slot_and_null() -> None:
    result = runner.invoke(
        make_app(),
        ["score", "odi", "--answers", "2,2,2,2,2,2,2,,1,1", "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["score"] == pytest.approx(16 / 45 * 100)
    assert payload["band"] == "moderate"

    result = runner.invoke(
        make_app(), ["score", "odi", "--answers", "2,2,2,2,2,2,2,null,NULL,1", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["score"] is None
    assert "items 8, 9 skipped" in payload["problems"][0]


def test_score_text_shows_score_band_subscales_and_alerts() -> None:
    result = runner.invoke(make_app(), ["score", "pcs", "--answers", ",".join(["3"] * 13)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Pain Catastrophizing Scale (pcs)",
        "score: 39 / 52",
        "band: clinically-relevant",
        "subscales: rumination 12, magnification 9, helplessness 18",
        "alerts: none",
    ]


def test_score_text_shows_problems_and_fractional_scores() -> None:
    result = runner.invoke(make_app(), ["score", "ndi", "--answers", "2,2,2,2,2,2,2,2,3,"])
    assert result.exit_code == 0, result.output
    assert "score: 21.1 / 50" in result.stdout


def test_invalid_answers_exit_2_with_one_line_per_problem_on_stderr() -> None:
    result = runner.invoke(make_app(), ["score", "phq-9", "--answers", "4,0,0,0,0,0,0,0,x"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: answer 9: 'x' is not an integer (use null to skip)"
    ]
    assert "Traceback" not in result.output

    result = runner.invoke(make_app(), ["score", "phq-9", "--answers", "4,0,0,0,0,0,0,0,9"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: item 1 of phq-9: 4 is outside 0–3",
        "error: item 9 of phq-9: 9 is outside 0–3",
    ]


def test_wrong_count_and_unknown_instrument_exit_2() -> None:
    result = runner.invoke(make_app(), ["score", "gad-7", "--answers", "1,2"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: gad-7: expected 7 answers, got 2"
    result = runner.invoke(make_app(), ["score", "sf-36", "--answers", "1"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: unknown instrument 'sf-36'")


def test_internal_error_exits_1_without_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(instrument_id: str, answers: object) -> object:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(instruments_cli, "score", broken)
    result = runner.invoke(make_app(), ["score", "nrs-pain", "--answers", "3"])
    assert result.exit_code == 1
    assert result.stderr.strip() == "internal error: RuntimeError: disk on fire"
    assert "Traceback" not in result.output


def test_instruments_list_shows_every_instrument_with_range_text_and_loinc() -> None:
    result = runner.invoke(make_app(), ["instruments", "list"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["id", "name", "items", "range", "item", "text", "LOINC"]
    body = "\n".join(lines[1:])
    for instrument_id in (
        *("nrs-pain", "phq-9", "gad-7", "odi", "ndi"),
        *("start-back", "pcs", "dn4", "paindetect"),
    ):
        assert instrument_id in body
    phq9 = next(line for line in lines if line.startswith("phq-9"))
    assert "0–3" in phq9
    assert "shipped" in phq9
    assert "44249-1" in phq9
    start_back = next(line for line in lines if line.startswith("start-back"))
    assert "0–1 (item 9: 0–4)" in start_back
    assert "site-loaded (licensed)" in start_back


def test_instruments_list_json() -> None:
    result = runner.invoke(make_app(), ["instruments", "list", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["id"] for r in rows] == [
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
    assert rows[0] == {
        "id": "nrs-pain",
        "name": "Pain intensity numeric rating scale (0-10)",
        "items": 1,
        "range": "0–10",
        "item_text": "shipped",
        "loinc": "72514-3",
    }


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [("1,,2,null", [1, None, 2, None]), ("", [None]), (" 3 , 4 ", [3, 4]), ("-1", [-1])],
)
def test_parse_answers(raw: str, parsed: list[int | None]) -> None:
    assert parse_answers(raw) == parsed
