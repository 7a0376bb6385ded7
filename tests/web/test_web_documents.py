"""SVG charts and the PDF documents (WeasyPrint)."""

from __future__ import annotations

import datetime as dt
import io
import xml.etree.ElementTree as ET

import pytest
from pypdf import PdfReader

from secondlook.care.warnings import SiteContacts, patient_warnings
from secondlook.case import parse_case
from secondlook.engine import assess
from secondlook.examples import load_examples
from secondlook.knowledge import default_knowledge
from secondlook.reports import pdf
from secondlook.reports.charts import trajectory_svg

SVG = "{http://www.w3.org/2000/svg}"
POINTS = [(dt.date(2026, 1, 5), 18.0), (dt.date(2026, 3, 1), 12.0), (dt.date(2026, 6, 1), 7.0)]


def _chart(**kw: object) -> ET.Element:
    args: dict[str, object] = {
        "title": "PHQ-9 <depression>",
        "points": POINTS,
        "min_score": 0,
        "max_score": 27,
        "meaningful_points": 5,
        "goal": 13,
    }
    args.update(kw)
    return ET.fromstring(trajectory_svg(**args))  # type: ignore[arg-type]


def test_chart_is_valid_accessible_svg_with_goal_and_band() -> None:
    root = _chart()
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    label = root.get("aria-label") or ""
    assert "2026-01-05: 18" in label and "Goal: 13 or less" in label
    assert "PHQ-9 <depression>" in label  # escaped in the markup, intact once parsed
    assert len(root.findall(f"{SVG}circle")) == 3
    dashed = [e for e in root.iter(f"{SVG}line") if e.get("stroke-dasharray")]
    assert len(dashed) == 1  # the goal line
    band = [e for e in root.iter(f"{SVG}rect") if e.get("fill") == "#dbe7f3"]
    assert len(band) == 1
    # no script and no inline style: safe under the pages' CSP
    assert not list(root.iter(f"{SVG}script"))
    assert all("style" not in e.attrib for e in root.iter())


def test_goal_line_sits_where_the_score_would_be() -> None:
    root = _chart()
    goal_y = next(
        float(e.get("y1", 0)) for e in root.iter(f"{SVG}line") if e.get("stroke-dasharray")
    )
    circles = root.findall(f"{SVG}circle")
    ys = [float(c.get("cy", 0)) for c in circles]
    assert ys[0] < goal_y < ys[2]  # 18 is above the goal line of 13, 7 below it


def test_single_point_and_no_threshold() -> None:
    root = _chart(points=[(dt.date(2026, 1, 1), 4.0)], meaningful_points=None, goal=None)
    assert len(root.findall(f"{SVG}circle")) == 1
    assert not [e for e in root.iter(f"{SVG}line") if e.get("stroke-dasharray")]
    with pytest.raises(ValueError, match="at least one point"):
        _chart(points=[])


def test_care_plan_summary_pdf() -> None:
    assessment = assess(parse_case(load_examples()["cauda-equina"]))
    chart = pdf.Chart(
        "PHQ-9", trajectory_svg(title="PHQ-9", points=POINTS, min_score=0, max_score=27)
    )
    content = pdf.care_plan_summary_pdf(
        patient_label="Test Person (MRN T-1)",
        assessment=assessment,
        assessed_on="2026-07-03",
        charts=[chart],
        today=dt.date(2026, 7, 3),
    )
    assert content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(content))
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert len(reader.pages) >= 2
    assert text.index("Red flags and safety alerts") < text.index("Differential")
    assert "Cauda equina syndrome" in text and "Test Person" in text
    assert "page 1 of" in text


def test_patient_handout_pdf_puts_what_to_do_now_first() -> None:
    warnings = patient_warnings(
        red_flags=[{"id": "cauda-equina", "urgency": "emergency"}],
        alert_ids=["self-harm-risk"],
        knowledge=default_knowledge(),
        contacts=SiteContacts(emergency="112", crisis_lines=("Crisis line 0800 111 0 111",)),
    )
    content = pdf.patient_handout_pdf(
        patient_label="Test Person",
        treatments=[pdf.HandoutItem("Exercise therapy", "Regular, guided exercise ...", "note")],
        warnings=warnings,
    )
    reader = PdfReader(io.BytesIO(content))
    text = " ".join(" ".join(p.extract_text() for p in reader.pages).split())
    assert "Your care plan" in text and "Exercise therapy" in text
    emergency = text.index("Go to an emergency department now")
    assert emergency < text.index("Please read this now") < text.index("Treatments in your plan")
    assert "the emergency number (112)" in text
    assert "Crisis line 0800 111 0 111" in text


def test_documents_load_nothing_from_outside() -> None:
    html = '<img src="http://127.0.0.1:9/x.png"><img src="file:///etc/hostname">'
    assert pdf.html_to_pdf(html).startswith(b"%PDF-")  # refused quietly, no fetch
