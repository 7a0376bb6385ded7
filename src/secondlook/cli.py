"""The `secondlook` command line.

Exit codes, for every command: 0 ok, 2 invalid input (each problem on stderr with its JSON path),
1 internal error (a short message; set SECONDLOOK_DEBUG=1 for the traceback).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from secondlook import __version__
from secondlook.api.care_cli import register as register_care
from secondlook.api.cli import register as register_api
from secondlook.case import CaseInvalid, load_case_text
from secondlook.case.facts import FACTS
from secondlook.case.models import Case
from secondlook.engine import ENGINE_VERSION, assess
from secondlook.engine.document import Assessment
from secondlook.examples import example_names, load_example
from secondlook.fhir.cli import register as register_fhir
from secondlook.instruments import SafetyText, SafetyTextsInvalid, load_site_safety_texts
from secondlook.instruments.cli import register as register_instruments
from secondlook.knowledge import KnowledgeError, book, default_knowledge
from secondlook.reports.text import render_markdown, render_text

EXIT_INVALID = 2
EXIT_INTERNAL = 1

app = typer.Typer(
    name="secondlook",
    help="SecondLook: evaluation of persistent pain after spine surgery. "
    "It supports clinicians' decisions; it does not make them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
knowledge_app = typer.Typer(help="The knowledge base: rules with their references.")
app.add_typer(knowledge_app, name="knowledge")
register_instruments(app)
register_fhir(app)
register_api(app)
register_care(app)


class Format(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


class SchemaName(StrEnum):
    case = "case"
    assessment = "assessment"


def _fail(problems: list[str], code: int = EXIT_INVALID) -> typer.Exit:
    for line in problems:
        typer.echo(line, err=True)
    return typer.Exit(code)


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise _fail([f"{path}: no such file"]) from None
    except IsADirectoryError:
        raise _fail([f"{path}: is a directory, not a case file"]) from None
    except PermissionError:
        raise _fail([f"{path}: permission denied"]) from None


def _load(path: str) -> Case:
    try:
        return load_case_text(_read(path))
    except CaseInvalid as exc:
        name = "<stdin>" if path == "-" else path
        raise _fail([f"{name}: {p}" for p in exc.problems]) from None


def _render(assessment: dict[str, Any], fmt: Format) -> str:
    if fmt is Format.json:
        return json.dumps(assessment, indent=2, ensure_ascii=False) + "\n"
    if fmt is Format.markdown:
        return render_markdown(assessment)
    return render_text(assessment)


@app.command("assess")
def assess_command(
    case_file: Annotated[str, typer.Argument(help="case document (JSON), or - for stdin")],
    fmt: Annotated[Format, typer.Option("--format", "-f", help="report format")] = Format.text,
    jsonl: Annotated[
        bool, typer.Option("--jsonl", help="read JSON Lines, write one assessment per line")
    ] = False,
    safety_texts: Annotated[
        Path | None,
        typer.Option("--safety-texts", help="the site's wording of safety alerts (YAML/JSON)"),
    ] = None,
) -> None:
    """Assess a case: red flags first, then the differential, work-up and options."""
    texts = None
    if safety_texts is not None:
        try:
            texts = load_site_safety_texts(safety_texts)
        except SafetyTextsInvalid as exc:
            raise _fail(exc.problems) from None
    if jsonl:
        raise typer.Exit(_assess_lines(_read(case_file), texts))
    typer.echo(_render(assess(_load(case_file), safety_texts=texts), fmt), nl=False)


def _assess_lines(data: bytes, texts: Mapping[str, SafetyText] | None = None) -> int:
    """Batch mode: a bad line gives an error object for that line; the others go on."""
    status = 0
    out = sys.stdout
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            result: dict[str, Any] = assess(load_case_text(raw), safety_texts=texts)
        except CaseInvalid as exc:
            status = EXIT_INVALID
            result = {
                "line": number,
                "error": "invalid case",
                "problems": [p.as_dict() for p in exc.problems],
            }
        out.write(json.dumps(result, ensure_ascii=False, separators=(",", ":")) + "\n")
    out.flush()
    return status


@app.command("validate")
def validate_command(
    case_file: Annotated[str, typer.Argument(help="case document (JSON), or - for stdin")],
) -> None:
    """Check a case document and list every problem with its JSON path."""
    case = _load(case_file)
    typer.echo(f"valid {case.schema_} document" + (f" (id {case.id})" if case.id else ""))


@app.command("schema")
def schema_command(
    name: Annotated[SchemaName, typer.Argument(help="case or assessment")],
) -> None:
    """Print the JSON Schema of the case or the assessment document."""
    model = Case if name is SchemaName.case else Assessment
    schema = model.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"secondlook.{name.value}/1"
    typer.echo(json.dumps(schema, indent=2))


@knowledge_app.command("list")
def knowledge_list() -> None:
    """Every record of the knowledge base: kind, id and name."""
    kb = default_knowledge()
    typer.echo(f"knowledge base {kb.version}")
    for kind, record_id, name in book.record_index(kb):
        typer.echo(f"{kind:<13} {record_id:<34} {name}")


@knowledge_app.command("show")
def knowledge_show(
    record_ids: Annotated[
        list[str],
        typer.Argument(
            help="ids of red flags, etiologies, tests or treatments (kind:id for one kind)"
        ),
    ],
) -> None:
    """Records as pages of the book: texts, rules, care rules and references."""
    kb = default_knowledge()
    pages: list[str] = []
    problems: list[str] = []
    for record_id in record_ids:
        entries = book.book_entries(kb, record_id)
        if not entries:
            close = book.similar_ids(kb, record_id)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            problems.append(
                f"unknown id {record_id!r}{hint} (`secondlook knowledge list` shows the ids)"
            )
        pages += [book.render_text(e) for e in entries]
    if problems:
        raise _fail(problems)
    typer.echo("\n\n".join(pages))


@knowledge_app.command("facts")
def knowledge_facts() -> None:
    """The facts that rule conditions may use, with their kinds and codes."""
    for spec in FACTS.values():
        codes = f" [{', '.join(spec.codes)}]" if spec.codes else ""
        typer.echo(f"{spec.name:<32} {spec.kind:<7} {spec.doc}{codes}")


@knowledge_app.command("digest")
def knowledge_digest() -> None:
    """The digest of the rule files, to record in manifest.yaml with a new version."""
    typer.echo(default_knowledge().digest)


@app.command("demo")
def demo_command(
    name: Annotated[str, typer.Argument(help="which bundled example")] = "recurrent-disc",
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.text,
) -> None:
    """Assess a bundled example case and print the report."""
    if name not in example_names():
        raise _fail([f"unknown example {name!r}; examples: {', '.join(example_names())}"])
    typer.echo(_render(assess(load_case_text(json.dumps(load_example(name)))), fmt), nl=False)


@app.command("version")
def version_command() -> None:
    """Versions of SecondLook, the engine and the knowledge base."""
    kb = default_knowledge()
    typer.echo(f"secondlook {__version__}, engine {ENGINE_VERSION}, knowledge {kb.version}")


def main() -> None:
    try:
        app()
    except KnowledgeError as exc:
        typer.echo(f"knowledge base error: {exc}", err=True)
        sys.exit(EXIT_INTERNAL)
    except Exception as exc:  # the last line of defence: no traceback for users
        if os.environ.get("SECONDLOOK_DEBUG"):
            raise
        typer.echo(f"internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    main()
