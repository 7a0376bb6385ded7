"""The command line, run as a user runs it: a real process, real files, real exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from secondlook.examples import example_names, load_example

SHARED_EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "examples"


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "secondlook.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def case_file(tmp_path: Path) -> Path:
    path = tmp_path / "case.json"
    path.write_text(json.dumps(load_example("cauda-equina")))
    return path


def test_text_report_puts_red_flags_on_top(case_file: Path) -> None:
    result = run("assess", str(case_file))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    first_section = next(i for i, line in enumerate(lines) if line.startswith("!!"))
    assert first_section < next(i for i, line in enumerate(lines) if line == "CLASSIFICATION")
    assert "[EMERGENCY] Cauda equina syndrome" in result.stdout
    assert "does not make them" in result.stdout


def test_json_report_is_the_assessment_document(case_file: Path) -> None:
    result = run("assess", str(case_file), "--format", "json")
    doc = json.loads(result.stdout)
    assert doc["schema"] == "secondlook.assessment/1"
    assert doc["red_flags"][0]["urgency"] == "emergency"


def test_markdown_report_has_sections_and_references(case_file: Path) -> None:
    result = run("assess", str(case_file), "--format", "markdown")
    assert result.returncode == 0
    assert "## Red flags" in result.stdout and "## References" in result.stdout


def test_jsonl_batch_keeps_going_past_a_bad_line() -> None:
    good = json.dumps(load_example("recurrent-disc"))
    lines = "\n".join([good, "{not json", "", json.dumps({"schema": "x"}), good]) + "\n"
    result = run("assess", "-", "--jsonl", stdin=lines)
    assert result.returncode == 2
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == 4
    assert out[0]["case_id"] == "demo-recurrent-disc" and out[3]["case_id"] == "demo-recurrent-disc"
    assert out[1]["line"] == 2 and out[1]["problems"][0]["path"] == "$"
    assert out[2]["line"] == 4 and out[2]["error"] == "invalid case"


def test_jsonl_batch_of_good_lines_exits_zero() -> None:
    good = json.dumps(load_example("scs-candidate"))
    result = run("assess", "-", "--jsonl", stdin=f"{good}\n{good}\n")
    assert result.returncode == 0
    assert len(result.stdout.splitlines()) == 2


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "the document is empty"),
        ("not json", "not valid JSON"),
        ('{"schema": "secondlook.case/1"}', "$.assessed_on: required value is missing"),
        (
            json.dumps({**load_example("recurrent-disc"), "assessed_on": "2099-01-01"}),
            "$.assessed_on: 2099-01-01 is in the future",
        ),
    ],
)
def test_bad_input_exits_2_with_a_message_per_problem(
    tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    for command in ("assess", "validate"):
        result = run(command, str(path))
        assert result.returncode == 2
        assert expected in result.stderr
        assert "Traceback" not in result.stderr


def test_missing_file_exits_2() -> None:
    result = run("assess", "/nonexistent/case.json")
    assert result.returncode == 2
    assert "no such file" in result.stderr


def test_validate_accepts_a_valid_case(case_file: Path) -> None:
    result = run("validate", str(case_file))
    assert result.returncode == 0
    assert "valid secondlook.case/1 document" in result.stdout


@pytest.mark.parametrize("name", ["case", "assessment"])
def test_schema_prints_json_schema(name: str) -> None:
    result = run("schema", name)
    schema = json.loads(result.stdout)
    assert schema["$id"] == f"secondlook.{name}/1"
    assert "properties" in schema


def test_knowledge_list_and_show() -> None:
    listing = run("knowledge", "list").stdout
    assert "spinal-cord-stimulation" in listing and "cauda-equina" in listing
    page = run("knowledge", "show", "spinal-cord-stimulation").stdout
    assert "NICE" in page and "Kumar K" in page and "when " in page
    unknown = run("knowledge", "show", "no-such-rule")
    assert unknown.returncode == 2


def test_knowledge_show_suggests_the_id_meant_for_a_mistyped_one() -> None:
    result = run("knowledge", "show", "pseudoarthrosis")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "unknown id 'pseudoarthrosis'; did you mean 'pseudarthrosis'?" in result.stderr
    assert "secondlook knowledge list" in result.stderr
    assert "Traceback" not in result.stderr


def test_knowledge_show_prints_the_care_rules_of_a_treatment() -> None:
    page = run("knowledge", "show", "radiofrequency-denervation").stdout
    assert "Task owner: pain-medicine" in page
    assert "waits for Diagnostic medial branch block" in page
    assert "rule rf-after-medial-branch-block" in page
    assert "[nice-ng59, cohen-2020]" in page


def test_demo_assesses_a_bundled_example() -> None:
    result = run("demo")
    assert result.returncode == 0
    assert "Recurrent disc herniation: likely" in result.stdout


def test_every_bundled_example_assesses() -> None:
    for name in example_names():
        assert run("demo", name, "--format", "json").returncode == 0


def test_shared_examples_validate_from_the_command_line(tmp_path: Path) -> None:
    for path in sorted(SHARED_EXAMPLES.glob("*.json")):
        case = tmp_path / path.name
        case.write_text(json.dumps(json.loads(path.read_text())["case"]))
        assert run("validate", str(case)).returncode == 0
