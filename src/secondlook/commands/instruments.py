"""Command line: ``secondlook score`` and ``secondlook instruments list``.

``register(app)`` adds both to the main Typer app. Exit codes: 0 ok, 2 invalid input (one line
per problem on stderr, no traceback), 1 internal error.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer

from secondlook.instruments.model import AnswersInvalid, Instrument, ScoreResult
from secondlook.instruments.registry import INSTRUMENTS
from secondlook.instruments.scoring import score

EXIT_INVALID = 2
EXIT_INTERNAL = 1


class OutputFormat(StrEnum):
    """Output format of the commands."""

    text = "text"
    json = "json"


def parse_answers(raw: str) -> list[int | None]:
    """``"1,,2,null"`` -> ``[1, None, 2, None]``; a non-integer is an :class:`AnswersInvalid`."""
    answers: list[int | None] = []
    problems: list[str] = []
    for number, part in enumerate(raw.split(","), start=1):
        token = part.strip()
        if token == "" or token.lower() == "null":
            answers.append(None)
            continue
        try:
            answers.append(int(token, 10))
        except ValueError:
            problems.append(f"answer {number}: {token!r} is not an integer (use null to skip)")
            answers.append(None)
    if problems:
        raise AnswersInvalid(problems)
    return answers


def _format_number(value: float | int | None) -> str:
    if value is None:
        return "not computed"
    if isinstance(value, int):
        return str(value)
    return f"{value:.1f}"


def render_text(result: ScoreResult) -> str:
    """Human-readable lines for a score result."""
    instrument = INSTRUMENTS[result.instrument]
    lines = [
        f"{instrument.name} ({result.instrument})",
        f"score: {_format_number(result.score)} / {result.max}",
        f"band: {result.band if result.band is not None else '-'}",
    ]
    if result.subscales:
        parts = ", ".join(f"{k} {_format_number(v)}" for k, v in result.subscales.items())
        lines.append(f"subscales: {parts}")
    lines.append(f"alerts: {', '.join(result.alerts) if result.alerts else 'none'}")
    lines.extend(f"problem: {p}" for p in result.problems)
    return "\n".join(lines)


def _range(instrument: Instrument) -> str:
    lows, highs = set(instrument.item_min), set(instrument.item_max)
    if len(lows) == 1 and len(highs) == 1:
        return f"{instrument.item_min[0]}–{instrument.item_max[0]}"
    common = max(set(instrument.item_max), key=instrument.item_max.count)
    odd = [
        f"item {n}: {lo}–{hi}"
        for n, (lo, hi) in enumerate(zip(instrument.item_min, instrument.item_max, strict=True), 1)
        if hi != common
    ]
    return f"{instrument.item_min[0]}–{common} ({'; '.join(odd)})"


def _fail_invalid(problems: list[str]) -> typer.Exit:
    for problem in problems:
        typer.echo(f"error: {problem}", err=True)
    return typer.Exit(code=EXIT_INVALID)


def _fail_internal(error: Exception) -> typer.Exit:
    typer.echo(f"internal error: {type(error).__name__}: {error}", err=True)
    return typer.Exit(code=EXIT_INTERNAL)


def score_command(
    instrument: Annotated[str, typer.Argument(help="Instrument id, e.g. phq-9 or odi.")],
    answers: Annotated[
        str,
        typer.Option(
            "--answers",
            help="Item answers in published order, comma-separated; an empty slot or 'null' "
            "marks a skipped item (e.g. 1,,2,null).",
        ),
    ],
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="Output format.")
    ] = OutputFormat.text,
) -> None:
    """Score one questionnaire: score, band, subscales and alerts."""
    try:
        result = score(instrument, parse_answers(answers))
        if output_format is OutputFormat.json:
            typer.echo(json.dumps(result.to_json(), ensure_ascii=False))
        else:
            typer.echo(render_text(result))
    except AnswersInvalid as error:
        raise _fail_invalid(error.problems) from None
    except Exception as error:  # exit code 1, no traceback
        raise _fail_internal(error) from None


def list_command(
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="Output format.")
    ] = OutputFormat.text,
) -> None:
    """List the instruments: id, name, items, answer range, whether item text ships, LOINC."""
    try:
        rows = [
            {
                "id": i.id,
                "name": i.name,
                "items": i.item_count,
                "range": _range(i),
                "item_text": "shipped" if i.ships_item_text else "site-loaded (licensed)",
                "loinc": i.loinc,
            }
            for i in INSTRUMENTS.values()
        ]
        if output_format is OutputFormat.json:
            typer.echo(json.dumps(rows, ensure_ascii=False))
            return
        header = ("id", "name", "items", "range", "item text", "LOINC")
        table = [header] + [
            (
                str(r["id"]),
                str(r["name"]),
                str(r["items"]),
                str(r["range"]),
                str(r["item_text"]),
                str(r["loinc"] or "-"),
            )
            for r in rows
        ]
        widths = [max(len(row[c]) for row in table) for c in range(len(header))]
        for row in table:
            typer.echo(
                "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            )
    except Exception as error:  # exit code 1, no traceback
        raise _fail_internal(error) from None


def register(app: typer.Typer) -> None:
    """Add ``score`` and the ``instruments`` group (``list``) to the main app."""
    app.command("score")(score_command)
    group = typer.Typer(help="Outcome instruments: list what SecondLook can score.")
    group.command("list")(list_command)
    app.add_typer(group, name="instruments")
