"""``secondlook fhir import|export``; ``register(app)`` adds the group to a typer app.

Exit codes as for every command: 0 ok, 2 invalid input (one OperationOutcome-style line per
problem on stderr, and the OperationOutcome itself on stdout), 1 internal error.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from secondlook.case import CaseInvalid, load_case_text
from secondlook.engine import assess
from secondlook.fhir.exporter import export_bundle
from secondlook.fhir.importer import import_bundle
from secondlook.fhir.outcome import BundleInvalid, Issue, issue_line, operation_outcome

EXIT_INVALID = 2
EXIT_INTERNAL = 1


class ImportFormat(StrEnum):
    json = "json"


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _invalid(issues: list[Issue]) -> typer.Exit:
    for issue in issues:
        typer.echo(issue_line(issue), err=True)
    _print_json(operation_outcome(issues))
    return typer.Exit(EXIT_INVALID)


def _read(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise _invalid([Issue("fatal", "exception", f"cannot read {path}: {error}")]) from None


def import_command(
    bundle: Annotated[Path, typer.Argument(help="a FHIR R4 Bundle (JSON)")],
    format: Annotated[
        ImportFormat, typer.Option("--format", help="output format of the case document")
    ] = ImportFormat.json,
    assessed_on: Annotated[
        str | None, typer.Option(help="date of the evaluation, YYYY-MM-DD (default: the bundle's)")
    ] = None,
    region: Annotated[
        str | None, typer.Option(help="lumbar, cervical or thoracic (default: from the bundle)")
    ] = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="refuse the bundle when any reference does not resolve inside it (default: "
            "only references to the subject must; others are reported)",
        ),
    ] = False,
) -> None:
    """Import a FHIR Bundle as a case document; unmapped items and notes are listed on stderr.

    EHR output (Epic and US Core searchsets, Synthea's conditional references) refers to
    Practitioners, Encounters and Organizations that are not in the bundle; the mapping does
    not need them, so by default they are reported, not refused.
    """
    text = _read(bundle)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise _invalid(
            [Issue("fatal", "structure", f"not valid JSON: {error.msg} at line {error.lineno}")]
        ) from None
    when: date | None = None
    if assessed_on is not None:
        try:
            when = date.fromisoformat(assessed_on)
        except ValueError:
            raise _invalid(
                [Issue("fatal", "value", f"--assessed-on {assessed_on!r} is not YYYY-MM-DD")]
            ) from None
    try:
        result = import_bundle(data, assessed_on=when, region=region, strict_references=strict)
    except BundleInvalid as invalid:
        raise _invalid(invalid.issues) from None
    for item in result.unmapped:
        typer.echo(f"unmapped: {item}", err=True)
    for note in result.notes:
        typer.echo(f"note: {note}", err=True)
    if result.problems:
        issues = [
            Issue(
                "error",
                "invalid",
                p.message + (f" ({p.hint})" if p.hint else ""),
                p.path,
            )
            for p in result.problems
        ]
        raise _invalid(issues)
    _print_json(result.case)


def export_command(
    case_file: Annotated[Path, typer.Argument(help="a case document (JSON)")],
) -> None:
    """Export a case and its assessment as a FHIR R4 collection Bundle."""
    text = _read(case_file)
    try:
        case = load_case_text(text)
    except CaseInvalid as invalid:
        raise _invalid(
            [
                Issue("error", "invalid", p.message + (f" ({p.hint})" if p.hint else ""), p.path)
                for p in invalid.problems
            ]
        ) from None
    _print_json(export_bundle(case, assess(case)))


def register(app: typer.Typer) -> None:
    """Add the ``fhir`` command group (``import``, ``export``) to ``app``."""
    group = typer.Typer(help="FHIR R4: import a Bundle as a case, export a case's assessment.")
    group.command("import")(_guarded(import_command))
    group.command("export")(_guarded(export_command))
    app.add_typer(group, name="fhir")


def _guarded(command: Any) -> Any:
    """Exit 1 with a one-line message (no traceback) on an unexpected error."""
    import functools

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except Exception as error:  # exit code 1, no traceback
            typer.echo(f"internal error: {type(error).__name__}: {error}", err=True)
            sys.stderr.flush()
            raise typer.Exit(EXIT_INTERNAL) from None

    return run
