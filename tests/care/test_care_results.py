"""Results of diagnostic tasks: which tasks ask for one, the checks of what is entered (every
problem at once, each naming its field), and the case document with the result added."""

from __future__ import annotations

import datetime as dt

import pytest

from secondlook.care import CareInvalid
from secondlook.care.results import (
    BlockResult,
    ImagingResult,
    check_block,
    check_imaging,
    result_kind,
    with_result,
)
from secondlook.case import parse_case
from secondlook.examples import load_example


@pytest.mark.parametrize(
    ("item", "kind"),
    [
        ("workup:sacroiliac-joint-block", "block"),
        ("workup:medial-branch-block", "block"),
        ("workup:selective-nerve-root-block", "block"),
        ("workup:mri", "imaging"),
        ("workup:dexa", "imaging"),
        ("workup:psychological-evaluation", None),
        ("treatment:spinal-cord-stimulation", None),
        (None, None),
    ],
)
def test_which_tasks_record_a_result(item: str | None, kind: str | None) -> None:
    assert result_kind(item) == kind


def test_a_block_result_is_checked_field_by_field() -> None:
    assert check_block({"relief_percent": 80, "confirmatory": False}) == BlockResult(80.0, False)
    with pytest.raises(CareInvalid) as refused:
        check_block({"relief_percent": 101, "level": "L4", "side": "up"})
    problems = refused.value.problems
    assert [p.split(":", 1)[0] for p in problems] == [
        "result.relief_percent",
        "result.confirmatory",
        "result.level",
        "result.side",
    ]
    assert "101 is outside 0 to 100 %" in problems[0]
    for relief in (None, "80", True, -1):
        with pytest.raises(CareInvalid, match="relief_percent"):
            check_block({"relief_percent": relief, "confirmatory": True})


def test_an_imaging_result_needs_a_known_finding() -> None:
    found = check_imaging({"finding": "pseudarthrosis", "level": "L4-L5", "report": "Non-union."})
    assert found == ImagingResult("pseudarthrosis", "L4-L5", None, "Non-union.")
    with pytest.raises(CareInvalid, match=r"result\.finding"):
        check_imaging({"finding": "looks bad"})
    with pytest.raises(CareInvalid, match=r"result\.report"):
        check_imaging({"finding": "no-significant-findings", "report": "x" * 4001})


def test_the_result_is_added_to_the_case_and_the_case_stays_valid() -> None:
    case = load_example("scs-candidate")
    on = dt.date(2026, 6, 1)
    block = with_result(
        case, "workup:sacroiliac-joint-block", BlockResult(75, True, None, "left"), on
    )
    assert block["blocks"][-1] == {
        "target": "sacroiliac-joint",
        "relief_percent": 75,
        "confirmatory": True,
        "date": "2026-06-01",
        "side": "left",
    }
    assert block["assessed_on"] == "2026-06-01"  # the case now tells what is known on that day
    assert {k: v for k, v in block.items() if k not in ("blocks", "assessed_on")} == {
        k: v for k, v in case.items() if k not in ("blocks", "assessed_on")
    }
    parse_case(block)  # still a valid case document
    study = with_result(case, "workup:ct", ImagingResult("solid-fusion"), on)
    assert study["imaging"][-1] == {
        "date": "2026-06-01",
        "modality": "ct",
        "findings": [{"finding": "solid-fusion"}],
    }
    assert len(study["imaging"]) == len(case.get("imaging", [])) + 1
    parse_case(study)
    # an earlier result leaves a later case date as it is
    earlier = with_result(case, "workup:ct", ImagingResult("solid-fusion"), dt.date(2020, 1, 1))
    assert earlier["assessed_on"] == case["assessed_on"]
