"""``fhir import`` / ``fhir export`` on a throwaway typer app."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fhir_support import EXAMPLES

from secondlook.case import parse_case
from secondlook.commands.fhir import register


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """A throwaway app."""

    register(app)
    return app


def runner() -> CliRunner:
    return CliRunner()


def test_export_then_import_gives_the_case_back(app: typer.Typer, tmp_path: Path) -> None:
    doc = EXAMPLES["bundled/thoracic-sacroiliac"]
    case_file = tmp_path / "case.json"
    case_file.write_text(json.dumps(doc))
    exported = runner().invoke(app, ["fhir", "export", str(case_file)])
    assert exported.exit_code == 0, exported.output
    bundle = json.loads(exported.stdout)
    assert bundle["resourceType"] == "Bundle"
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert "DetectedIssue" in kinds
    bundle_file = tmp_path / "bundle.json"
    bundle_file.write_text(exported.stdout)
    imported = runner().invoke(app, ["fhir", "import", str(bundle_file), "--format", "json"])
    assert imported.exit_code == 0, imported.stderr
    assert parse_case(json.loads(imported.stdout)).to_document() == parse_case(doc).to_document()
    assert "unmapped: DetectedIssue/" in imported.stderr


def test_import_of_a_bad_bundle_exits_2_with_an_issue_per_problem(
    app: typer.Typer, tmp_path: Path
) -> None:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "resource": {
                    "resourceType": "Observation",
                    "id": "o",
                    "subject": {"reference": "Patient/x"},
                }
            },
            {"resource": {"resourceType": "Gizmo", "id": "g"}},
        ],
    }
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bundle))
    result = runner().invoke(app, ["fhir", "import", str(path)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1  # unknown type stops reading before references are checked
    assert "Bundle.entry[1].resource.resourceType" in lines[0]
    outcome = json.loads(result.stdout)
    assert outcome["resourceType"] == "OperationOutcome"
    bundle["entry"].pop()
    path.write_text(json.dumps(bundle))
    # --strict: every reference must resolve (by default, one subject outside the bundle is
    # allowed, as in a search result about one patient).
    result = runner().invoke(app, ["fhir", "import", str(path), "--strict"])
    assert result.exit_code == 2
    assert "Bundle.entry[0].resource.subject" in result.stderr


def test_import_of_an_incomplete_case_exits_2_naming_the_missing_fields(
    app: typer.Typer, tmp_path: Path
) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": {"resourceType": "Patient", "id": "p", "gender": "male"}}],
    }
    path = tmp_path / "thin.json"
    path.write_text(json.dumps(bundle))
    result = runner().invoke(app, ["fhir", "import", str(path), "--assessed-on", "2026-01-01"])
    assert result.exit_code == 2
    assert "$.surgeries" in result.stderr
    assert "$.region" in result.stderr


def test_not_json_and_invalid_case_exit_2(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("{nope")
    assert runner().invoke(app, ["fhir", "import", str(path)]).exit_code == 2
    path.write_text(json.dumps({"schema": "secondlook.case/1"}))
    result = runner().invoke(app, ["fhir", "export", str(path)])
    assert result.exit_code == 2
    assert "$.assessed_on" in result.stderr
