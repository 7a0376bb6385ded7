"""The terminal and Markdown reports: flags kept apart, words instead of codes."""

from __future__ import annotations

import re
from typing import Any

import pytest

from secondlook.case import parse_case
from secondlook.engine import assess
from secondlook.examples import load_example
from secondlook.reports.text import render_markdown, render_text


@pytest.fixture(scope="module")
def cauda_equina() -> dict[str, Any]:
    return assess(parse_case(load_example("cauda-equina")))


def test_markdown_gives_each_red_flag_its_own_item_with_its_reasons_nested(
    cauda_equina: dict[str, Any],
) -> None:
    markdown = render_markdown(cauda_equina)
    lines = markdown.splitlines()
    flags = cauda_equina["red_flags"]
    for flag in flags:
        [at] = [i for i, line in enumerate(lines) if f"** {flag['name']}: " in line]
        assert lines[at].startswith(f"- **{flag['urgency'].upper()}** ")
        reasons = lines[at + 1 : at + 1 + len(flag["because"])]
        assert reasons == [f"  - because {b}" for b in flag["because"]]
    # a blank line after the heading, so the list is a list and not part of the heading
    heading = lines.index("## Red flags: act first")
    assert lines[heading + 1] == ""


def test_reports_show_words_not_codes(cauda_equina: dict[str, Any]) -> None:
    for report in (render_text(cauda_equina), render_markdown(cauda_equina)):
        assert "failed-back-surgery-syndrome" not in report
        assert "transient-post-surgical" not in report
        assert "Failed back surgery syndrome" in report
        assert not re.search(r"\bspine-anatomy\b|\bpain-management\b", report)


def test_markdown_folds_the_unlikely_causes_into_one_line(cauda_equina: dict[str, Any]) -> None:
    markdown = render_markdown(cauda_equina)
    unlikely = [d["name"] for d in cauda_equina["differential"] if d["likelihood"] == "unlikely"]
    assert unlikely
    assert f"Unlikely on present information: {', '.join(unlikely)}." in markdown
    table_rows = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert not any("| unlikely |" in row for row in table_rows)
