"""Site-provided item text for licensed instruments: loading and validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from secondlook.instruments import INSTRUMENTS, ItemTextInvalid, load_item_text


def fake_text(instrument_id: str) -> dict[str, Any]:
    """Placeholder text in the file format (not the licensed wording)."""
    instrument = INSTRUMENTS[instrument_id]
    return {
        "title": f"{instrument.name} (site licence)",
        "copyright": "Placeholder copyright line",
        "items": [
            {
                "text": f"Placeholder question {n}",
                "answers": [f"Option {v}" for v in range(lo, hi + 1)],
            }
            for n, (lo, hi) in enumerate(
                zip(instrument.item_min, instrument.item_max, strict=True), start=1
            )
        ],
    }


def write_yaml(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "licensed.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_valid_file_for_every_licensed_instrument_loads(tmp_path: Path) -> None:
    licensed = [i for i in INSTRUMENTS.values() if not i.ships_item_text]
    assert {i.id for i in licensed} == {"odi", "ndi", "start-back", "pcs", "dn4", "paindetect"}
    path = write_yaml(tmp_path, {i.id: fake_text(i.id) for i in licensed})
    texts = load_item_text(path)
    assert set(texts) == {i.id for i in licensed}
    start_back = texts["start-back"]
    assert len(start_back.items) == 9
    assert [a.value for a in start_back.items[8].answers] == [0, 1, 2, 3, 4]
    assert [a.value for a in start_back.items[0].answers] == [0, 1]
    assert texts["odi"].copyright == "Placeholder copyright line"
    assert texts["odi"].source == str(path)


def test_json_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "licensed.json"
    path.write_text(json.dumps({"dn4": fake_text("dn4")}), encoding="utf-8")
    assert load_item_text(path)["dn4"].items[0].text == "Placeholder question 1"


def test_unknown_instrument_is_named_with_the_file(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, {"oswestry": fake_text("odi")})
    with pytest.raises(ItemTextInvalid) as caught:
        load_item_text(path)
    assert caught.value.problems[0].startswith(f"{path}: unknown instrument 'oswestry'")


def test_wrong_item_count_is_named_with_file_and_instrument(tmp_path: Path) -> None:
    data = fake_text("odi")
    data["items"] = data["items"][:9]
    path = write_yaml(tmp_path, {"odi": data})
    with pytest.raises(ItemTextInvalid) as caught:
        load_item_text(path)
    assert caught.value.problems == [f"{path}: odi: expected 10 items, got 9"]


def test_empty_item_text_is_named_with_file_instrument_and_item(tmp_path: Path) -> None:
    data = fake_text("ndi")
    data["items"][3]["text"] = "   "
    path = write_yaml(tmp_path, {"ndi": data})
    with pytest.raises(ItemTextInvalid) as caught:
        load_item_text(path)
    assert caught.value.problems == [f"{path}: ndi item 4: text is empty or missing"]


def test_missing_or_short_or_empty_answer_labels_are_named(tmp_path: Path) -> None:
    data = fake_text("pcs")
    del data["items"][0]["answers"]
    data["items"][1]["answers"] = ["a", "b", "c", "d"]
    data["items"][2]["answers"][2] = ""
    path = write_yaml(tmp_path, {"pcs": data})
    with pytest.raises(ItemTextInvalid) as caught:
        load_item_text(path)
    assert caught.value.problems == [
        f"{path}: pcs item 1: answer labels missing (expected a list of 5 labels for values 0–4)",
        f"{path}: pcs item 2: expected 5 answer labels (values 0–4), got 4",
        f"{path}: pcs item 3: answer label for value 2 is empty",
    ]


def test_unknown_keys_are_rejected_not_silently_dropped(tmp_path: Path) -> None:
    data = fake_text("dn4")
    data["language"] = "fr"
    data["items"][0]["hint"] = "x"
    path = write_yaml(tmp_path, {"dn4": data})
    with pytest.raises(ItemTextInvalid) as caught:
        load_item_text(path)
    assert caught.value.problems == [
        f"{path}: dn4: unknown key 'language'",
        f"{path}: dn4 item 1: unknown key 'hint'",
    ]


@pytest.mark.parametrize("content", ["", "- odi\n", "odi: [unclosed\n"])
def test_file_that_is_not_a_mapping_or_not_yaml_is_rejected(tmp_path: Path, content: str) -> None:
    path = tmp_path / "licensed.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ItemTextInvalid) as caught:
        load_item_text(path)
    assert caught.value.problems[0].startswith(f"{path}:")


def test_missing_file_is_reported_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(ItemTextInvalid, match="cannot be read"):
        load_item_text(path)


def test_shipped_instruments_may_be_given_site_text_such_as_a_translation(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, {"gad-7": fake_text("gad-7")})
    assert len(load_item_text(path)["gad-7"].items) == 7
