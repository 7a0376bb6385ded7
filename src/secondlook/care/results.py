"""What a diagnostic task finds, as the case records it (CONTRACT.md §1.6 imaging[], §1.8
blocks[]): which plan items ask for a result when their task is completed, the result each
takes, its checks (every problem at once, each naming its field), and the case document with
the result added. Pure: the service stores the new case version.

A block's result is the relief it gave and whether it was the confirmatory (second) block of a
dual-block protocol: the knowledge base judges the relief (e.g. ≥80% after a medial branch
block, SIS 2nd edition, Bogduk 2013), so no threshold is decided here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from secondlook.care.models import CareInvalid
from secondlook.case.models import LEVEL_RE
from secondlook.case.vocabulary import BlockTarget, Finding, Modality, Side

ResultKind = Literal["block", "imaging"]

#: The work-up items whose task records a block's result, and the block's target.
BLOCK_ITEMS: Final[dict[str, BlockTarget]] = {
    "workup:medial-branch-block": "medial-branch",
    "workup:sacroiliac-joint-block": "sacroiliac-joint",
    "workup:selective-nerve-root-block": "selective-nerve-root",
}
#: The work-up items whose task records an imaging study, and its modality.
IMAGING_ITEMS: Final[dict[str, Modality]] = {
    f"workup:{m}": m
    for m in (
        "mri",
        "mri-gadolinium",
        "ct",
        "ct-myelogram",
        "xray-flexion-extension",
        "xray-standing-full-spine",
        "bone-scan-spect",
        "dexa",
    )
}
FINDINGS: Final[tuple[str, ...]] = get_args(Finding)
SIDES: Final[tuple[str, ...]] = get_args(Side)


def result_kind(plan_item_id: str | None) -> ResultKind | None:
    """The result a task of this plan item records when completed, or None."""
    if plan_item_id in BLOCK_ITEMS:
        return "block"
    if plan_item_id in IMAGING_ITEMS:
        return "imaging"
    return None


@dataclass(frozen=True, slots=True)
class BlockResult:
    relief_percent: float
    confirmatory: bool
    level: str | None = None
    side: str | None = None


@dataclass(frozen=True, slots=True)
class ImagingResult:
    finding: str
    level: str | None = None
    side: str | None = None
    report: str | None = None


def _place(problems: list[str], level: str | None, side: str | None) -> None:
    if level is not None and (not isinstance(level, str) or not LEVEL_RE.match(level)):
        problems.append(f"result.level: {level!r} is not a spinal level such as L4-L5 or L5-S1")
    if side is not None and side not in SIDES:
        problems.append(f"result.side: {side!r} is not one of {', '.join(SIDES)}")


def check_block(data: Mapping[str, Any]) -> BlockResult:
    """A block's result from what the clinician entered (CareInvalid naming each field)."""
    problems: list[str] = []
    relief = data.get("relief_percent")
    if isinstance(relief, bool) or not isinstance(relief, int | float):
        problems.append("result.relief_percent: enter the relief the block gave, 0 to 100 %")
    elif not 0 <= relief <= 100:
        problems.append(f"result.relief_percent: {relief:g} is outside 0 to 100 %")
    confirmatory = data.get("confirmatory")
    if not isinstance(confirmatory, bool):
        problems.append("result.confirmatory: say whether this was the confirmatory (second) block")
    _place(problems, data.get("level"), data.get("side"))
    if problems:
        raise CareInvalid(problems)
    assert isinstance(relief, int | float) and isinstance(confirmatory, bool)
    return BlockResult(float(relief), confirmatory, data.get("level"), data.get("side"))


def check_imaging(data: Mapping[str, Any]) -> ImagingResult:
    problems: list[str] = []
    finding = data.get("finding")
    if finding not in FINDINGS:
        problems.append(
            "result.finding: choose the study's main finding "
            "(no-significant-findings when it found nothing)"
        )
    report = data.get("report")
    if report is not None and (not isinstance(report, str) or len(report) > 4000):
        problems.append("result.report: the report is text of at most 4000 characters")
    _place(problems, data.get("level"), data.get("side"))
    if problems:
        raise CareInvalid(problems)
    return ImagingResult(str(finding), data.get("level"), data.get("side"), report or None)


def with_result(
    case: Mapping[str, Any],
    plan_item_id: str,
    result: BlockResult | ImagingResult,
    on: dt.date,
) -> dict[str, Any]:
    """The case document with the task's result added, dated ``on``. The case then describes
    what is known on ``on``, so its ``assessed_on`` moves there when it was earlier; nothing
    else changes."""
    document = dict(case)
    known = case.get("assessed_on")
    if not isinstance(known, str) or known < on.isoformat():
        document["assessed_on"] = on.isoformat()
    if isinstance(result, BlockResult):
        block: dict[str, Any] = {
            "target": BLOCK_ITEMS[plan_item_id],
            "relief_percent": result.relief_percent,
            "confirmatory": result.confirmatory,
            "date": on.isoformat(),
        }
        block.update({k: v for k, v in (("level", result.level), ("side", result.side)) if v})
        document["blocks"] = [*case.get("blocks", []), block]
    else:
        finding: dict[str, Any] = {"finding": result.finding}
        finding.update({k: v for k, v in (("level", result.level), ("side", result.side)) if v})
        study: dict[str, Any] = {
            "date": on.isoformat(),
            "modality": IMAGING_ITEMS[plan_item_id],
            "findings": [finding],
        }
        if result.report:
            study["report"] = result.report
        document["imaging"] = [*case.get("imaging", []), study]
    return document
