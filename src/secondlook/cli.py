"""The `secondlook` command line.

Exit codes, for every command: 0 ok, 2 invalid input (each problem on stderr with its JSON path),
1 internal error (a short message; set SECONDLOOK_DEBUG=1 for the traceback).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from secondlook import __version__

if TYPE_CHECKING:
    from secondlook.case.models import Case
    from secondlook.instruments import SafetyText

EXIT_INVALID = 2
EXIT_INTERNAL = 1

# Commands whose modules are imported only when the command runs (or help lists it), so that a
# command pays only for what it uses: `secondlook score` does not load the database layer, the
# FHIR models or the web server (bench/cli_startup_bench.py measures it).
LAZY_COMMANDS: dict[str, str] = {
    "score": "secondlook.commands.instruments",
    "instruments": "secondlook.commands.instruments",
    "fhir": "secondlook.commands.fhir",
    "serve": "secondlook.commands.server",
    "demo-data": "secondlook.commands.server",
    "db": "secondlook.commands.server",
    "users": "secondlook.commands.server",
    "tokens": "secondlook.commands.server",
    "care": "secondlook.commands.care",
    "worker": "secondlook.commands.worker",
}


class LazyGroup(TyperGroup):
    """The top-level group: eager commands as usual, the others from their module's
    ``register(app)`` when first asked for."""

    # Typer vendors its own click; its Context and Command types are typed as Any here.
    def list_commands(self, ctx: Any) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name not in LAZY_COMMANDS:
            return command
        module = importlib.import_module(LAZY_COMMANDS[cmd_name])
        holder = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        module.register(holder)
        built = typer.main.get_command(holder)
        if hasattr(built, "get_command"):  # a group: the module registered several commands
            return built.get_command(ctx, cmd_name)
        return built if built.name == cmd_name else None


app = typer.Typer(
    name="secondlook",
    help="SecondLook: evaluation of persistent pain after spine surgery. "
    "It supports clinicians' decisions; it does not make them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=LazyGroup,
)
knowledge_app = typer.Typer(help="The knowledge base: rules with their references.")


@app.callback()
def settings_file(
    env_file: Annotated[
        Path | None,
        typer.Option(
            "--env-file",
            help="read settings (SECONDLOOK_*=value lines) from this file; the environment "
            "wins over it (docs/deployment.md)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Before any command: the env file, handed on as SECONDLOOK_ENV_FILE so that every
    process started from here (the server's workers) reads the same one."""
    if env_file is not None:
        if not env_file.is_file():
            raise typer.BadParameter(f"no file at {env_file}", param_hint="--env-file")
        os.environ["SECONDLOOK_ENV_FILE"] = str(env_file.resolve())


app.add_typer(knowledge_app, name="knowledge")


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
    from secondlook.case import CaseInvalid, load_case_text

    try:
        return load_case_text(_read(path))
    except CaseInvalid as exc:
        name = "<stdin>" if path == "-" else path
        raise _fail([f"{name}: {p}" for p in exc.problems]) from None


def _render(assessment: dict[str, Any], fmt: Format) -> str:
    from secondlook.reports.text import render_markdown, render_text

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
    from secondlook.engine import assess
    from secondlook.instruments import SafetyTextsInvalid, load_site_safety_texts

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
    from secondlook.case import CaseInvalid, load_case_text
    from secondlook.engine import assess

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
    from secondlook.case.models import Case
    from secondlook.engine.document import Assessment

    model = Case if name is SchemaName.case else Assessment
    schema = model.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"secondlook.{name.value}/1"
    typer.echo(json.dumps(schema, indent=2))


@knowledge_app.command("list")
def knowledge_list() -> None:
    """Every record of the knowledge base: kind, id and name."""
    from secondlook.knowledge import book, default_knowledge

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
    from secondlook.knowledge import book, default_knowledge

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
    from secondlook.case.facts import FACTS

    for spec in FACTS.values():
        codes = f" [{', '.join(spec.codes)}]" if spec.codes else ""
        typer.echo(f"{spec.name:<32} {spec.kind:<7} {spec.doc}{codes}")


@knowledge_app.command("digest")
def knowledge_digest() -> None:
    """The digest of the rule files, to record in manifest.yaml with a new version."""
    from secondlook.knowledge import default_knowledge

    typer.echo(default_knowledge().digest)


@app.command("demo")
def demo_command(
    name: Annotated[str, typer.Argument(help="which bundled example")] = "recurrent-disc",
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.text,
) -> None:
    """Assess a bundled example case and print the report."""
    from secondlook.case import load_case_text
    from secondlook.engine import assess
    from secondlook.examples import example_names, load_example

    if name not in example_names():
        raise _fail([f"unknown example {name!r}; examples: {', '.join(example_names())}"])
    typer.echo(_render(assess(load_case_text(json.dumps(load_example(name)))), fmt), nl=False)


@app.command("version")
def version_command() -> None:
    """Versions of SecondLook, the engine and the knowledge base."""
    from secondlook.engine import ENGINE_VERSION
    from secondlook.knowledge import default_knowledge

    kb = default_knowledge()
    typer.echo(f"secondlook {__version__}, engine {ENGINE_VERSION}, knowledge {kb.version}")


def main() -> None:
    try:
        app()
    except Exception as exc:  # the last line of defence: no traceback for users
        # A knowledge error can only come from a command that loaded the knowledge base; asking
        # the loaded module keeps the other commands from importing it.
        knowledge = sys.modules.get("secondlook.knowledge")
        if knowledge is not None and isinstance(exc, knowledge.KnowledgeError):
            typer.echo(f"knowledge base error: {exc}", err=True)
            sys.exit(EXIT_INTERNAL)
        from secondlook.settings import SettingsError, settings

        if isinstance(exc, SettingsError):  # a setting a command needed is unusable
            typer.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_INVALID)
        try:
            debug = settings().debug  # SECONDLOOK_DEBUG
        except SettingsError:
            debug = False
        if debug:
            raise
        typer.echo(f"internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    main()
