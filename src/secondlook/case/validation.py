"""Validation of case documents: every problem, with its JSON path and a hint, never a traceback.

`parse_case` is the one door into the clinical core. It runs the structural checks of the typed
model, then the checks that need the whole document (dates against `assessed_on`, questionnaire
answers against their instrument), and reports all problems found in one go.
"""

from __future__ import annotations

import difflib
import json
import types
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Union

from pydantic import BaseModel, TypeAdapter, ValidationError

from secondlook.case.models import LEVEL_RE, Case, IsoDate, Questionnaire
from secondlook.case.strict_json import loads_strict
from secondlook.case.vocabulary import ARM_DISTRIBUTIONS, SCHEMA_ID
from secondlook.instruments import AnswersInvalid, score, score_total


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a document: where (JSON path), what, and how to fix it."""

    path: str
    message: str
    hint: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"path": self.path, "message": self.message, "hint": self.hint}

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" + (f" ({self.hint})" if self.hint else "")


class CaseInvalid(ValueError):
    """The document is not a valid case; `problems` lists every problem found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


def json_path(loc: Sequence[int | str]) -> str:
    path = "$"
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def load_case_text(text: str | bytes, *, today: date | None = None) -> Case:
    """Parse a case document from JSON text (a file's content, a request body, a JSONL line)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CaseInvalid(
                [Problem("$", f"not UTF-8 text (byte {exc.start})", "save the file as UTF-8")]
            ) from None
    if not text.strip():
        raise CaseInvalid(
            [Problem("$", "the document is empty", "write a case as one JSON object")]
        )
    try:
        data, strict = loads_strict(text)
    except RecursionError:
        raise CaseInvalid(
            [Problem("$", "the document nests too deeply", "a case is a few levels deep")]
        ) from None
    except json.JSONDecodeError as exc:
        raise CaseInvalid(
            [
                Problem(
                    "$",
                    f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                    "check quotes, commas and brackets near that position",
                )
            ]
        ) from None
    if strict:
        raise CaseInvalid([Problem(p.path, p.message, p.hint) for p in strict])
    return parse_case(data, today=today)


def parse_case(data: object, *, today: date | None = None) -> Case:
    """Validate a decoded JSON value as a case document; raise CaseInvalid listing every problem.

    `today` (default: the real date) only serves to refuse evaluations dated in the future; every
    interval inside the case is computed against `assessed_on`.
    """
    if not isinstance(data, dict):
        raise CaseInvalid(
            [Problem("$", f"expected a JSON object, got {_json_type(data)}", _schema_hint())]
        )
    try:
        case = Case.model_validate(data)
    except ValidationError as exc:
        problems = [_problem_from_error(err, data) for err in exc.errors()]
        # Report in the same pass what can be judged of the parts that are well formed (a
        # PHQ-9 with eight answers), rather than after the other problems are fixed.
        problems += _problems_of_valid_parts(data, today or date.today())
        raise CaseInvalid(problems) from None
    problems = list(_semantic_problems(case, today or date.today()))
    if problems:
        raise CaseInvalid(problems)
    return case


def _schema_hint() -> str:
    return f'a case document starts {{"schema": "{SCHEMA_ID}", "assessed_on": "YYYY-MM-DD", ...}}'


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


# -- structural problems -----------------------------------------------------------------------


def _problem_from_error(err: Any, data: object) -> Problem:
    loc: tuple[int | str, ...] = tuple(err["loc"])
    # pydantic appends the validator name for tagged/annotated types; keep only data keys
    loc = tuple(p for p in loc if isinstance(p, int) or not p.startswith("function-"))
    path = json_path(loc)
    kind: str = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        key = str(loc[-1])
        allowed = sorted(_fields_at(loc[:-1]))
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"allowed keys: {', '.join(allowed)}"
        return Problem(path, f"unknown key '{key}'", hint)
    if kind == "missing":
        return Problem(path, "required value is missing", _missing_hint(loc))
    if kind == "literal_error":
        expected = str(err.get("ctx", {}).get("expected", ""))
        options = [o.strip().strip("'") for o in expected.replace(" or ", ", ").split(",")]
        close = (
            difflib.get_close_matches(str(value), options, n=1) if isinstance(value, str) else []
        )
        hint = f"did you mean '{close[0]}'? " if close else ""
        if loc == ("schema",):
            return Problem(path, f"unknown schema {value!r}", f"this version reads '{SCHEMA_ID}'")
        return Problem(path, f"unknown code {value!r}", f"{hint}expected one of: {expected}")
    if kind == "string_pattern_mismatch":
        return Problem(
            path, f"{value!r} is not a spinal level", 'write levels like "L4-L5" or "C5-C6"'
        )
    if kind in {"int_type", "int_from_float", "bool_type", "float_type", "string_type"}:
        wanted = {
            "int_type": "a whole number",
            "int_from_float": "a whole number",
            "bool_type": "true or false",
            "float_type": "a number",
            "string_type": "a string",
        }[kind]
        return Problem(path, f"expected {wanted}, got {_json_type(value)}", None)
    if kind in {"list_type", "model_type", "model_attributes_type", "dict_type"}:
        wanted = "a list" if kind == "list_type" else "an object"
        return Problem(path, f"expected {wanted}, got {_json_type(value)}", None)
    if kind == "too_short":
        return Problem(path, "must not be empty", "list at least one surgery, the most recent last")
    if kind in {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}:
        return Problem(path, f"{value!r} is out of range: {err['msg'].lower()}", None)
    message = str(err["msg"])
    message = message.removeprefix("Value error, ")
    return Problem(path, message, None)


def _missing_hint(loc: tuple[int | str, ...]) -> str | None:
    hints: dict[tuple[int | str, ...], str] = {
        ("assessed_on",): "the date of this evaluation, YYYY-MM-DD",
        ("region",): "lumbar, cervical or thoracic",
        ("schema",): f"'{SCHEMA_ID}'",
        ("surgeries",): "list the operations, each with date and procedure",
        ("patient",): 'at least {"age": ...}',
    }
    return hints.get(loc)


def _fields_at(loc: tuple[int | str, ...]) -> set[str]:
    """The keys the model accepts at a JSON location (for 'did you mean' hints)."""
    model: type[BaseModel] | None = Case
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part) or next(
            (f for f in model.model_fields.values() if f.alias == part), None
        )
        model = _model_in(field.annotation) if field else None
    if model is None:
        return set()
    return {f.alias or name for name, f in model.model_fields.items()}


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType, list, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


# -- problems that need the whole document ------------------------------------------------------


def _in_the_future(on: date) -> Problem:
    return Problem("$.assessed_on", f"{on} is in the future", "use the date of the evaluation")


def _after_assessed(path: str, when: date, on: date) -> Problem:
    return Problem(
        path, f"{when} is after assessed_on ({on})", "a case describes what was known then"
    )


def _semantic_problems(case: Case, today: date) -> Iterator[Problem]:
    on = case.assessed_on
    if on > today:
        yield _in_the_future(on)
    for path, when in _dated(case):
        if when > on:
            yield _after_assessed(path, when, on)
    yield from _surgery_problems(case)
    yield from _pain_problems(case)
    for i, img in enumerate(case.imaging or []):
        for j, f in enumerate(img.findings):
            where = f"$.imaging[{i}].findings[{j}]"
            if f.finding == "bone-density" and (img.modality != "dexa" or f.t_score is None):
                yield Problem(where, "bone-density needs a DEXA with its t_score", None)
            if f.t_score is not None and f.finding != "bone-density":
                yield Problem(f"{where}.t_score", "t_score belongs to a bone-density finding", None)
        if img.findings_coded is False and img.findings:
            yield Problem(
                f"$.imaging[{i}].findings_coded",
                "findings_coded is false but the study has coded findings",
                "omit findings_coded (or set it true) when findings are listed",
            )
    yield from _medication_problems(case)
    for i, q in enumerate(case.questionnaires or []):
        yield from _questionnaire_problems(i, q.instrument, q.answers, q.score)


_ISO_DATE: TypeAdapter[date] = TypeAdapter(IsoDate)


def _problems_of_valid_parts(data: dict[str, Any], today: date) -> list[Problem]:
    """The document-wide checks that need only one entry (a questionnaire's answers, an entry's
    date against assessed_on), for the entries that are well formed in a document that is not.
    Checks that need the whole case (the index surgery, the pain's timing) wait for it."""
    try:
        on: date | None = _ISO_DATE.validate_python(data.get("assessed_on"))
    except ValidationError:
        on = None  # reported with the structural problems
    out: list[Problem] = []
    if on is not None and on > today:
        out.append(_in_the_future(on))
    entries = data.get("questionnaires")
    for i, raw in enumerate(entries if isinstance(entries, list) else []):
        try:
            q = Questionnaire.model_validate(raw)
        except ValidationError:
            continue  # its own problems are already reported
        if on is not None and q.date > on:
            out.append(_after_assessed(f"$.questionnaires[{i}].date", q.date, on))
        out.extend(_questionnaire_problems(i, q.instrument, q.answers, q.score))
    return out


def _medication_problems(case: Case) -> Iterator[Problem]:
    m = case.medications
    if m is None:
        return
    dosed = (m.opioid_mme_per_day or 0) > 0 or (m.opioid_mme_per_day_at_least or 0) > 0
    if m.opioid is False and dosed:
        yield Problem(
            "$.medications.opioid",
            "opioid is false but an opioid dose is given",
            "set opioid true, or remove the opioid dose",
        )
    if m.opioid_mme_per_day is not None and m.opioid_mme_per_day_at_least is not None:
        yield Problem(
            "$.medications.opioid_mme_per_day_at_least",
            "a lower bound is given together with the full daily dose",
            "give opioid_mme_per_day when every dose is known, else only the lower bound",
        )


def _dated(case: Case) -> Iterator[tuple[str, date]]:
    for i, s in enumerate(case.surgeries):
        yield f"$.surgeries[{i}].date", s.date
    for i, img in enumerate(case.imaging or []):
        yield f"$.imaging[{i}].date", img.date
    if case.labs and case.labs.date:
        yield "$.labs.date", case.labs.date
    for i, b in enumerate(case.blocks or []):
        if b.date:
            yield f"$.blocks[{i}].date", b.date
    if case.electrodiagnostics and case.electrodiagnostics.date:
        yield "$.electrodiagnostics.date", case.electrodiagnostics.date
    for i, t in enumerate(case.prior_treatments or []):
        if t.date:
            yield f"$.prior_treatments[{i}].date", t.date
    for i, q in enumerate(case.questionnaires or []):
        yield f"$.questionnaires[{i}].date", q.date


_REGION_LETTERS = {"lumbar": ("L", "S"), "cervical": ("C",), "thoracic": ("T",)}


def _surgery_problems(case: Case) -> Iterator[Problem]:
    index = case.surgeries.index(case.index_surgery)
    levels = case.index_surgery.levels or []
    letters = _REGION_LETTERS[case.region]
    if levels and not any(
        lv[0] in letters or lv.split("-")[1][0] in letters for lv in levels if LEVEL_RE.match(lv)
    ):
        yield Problem(
            f"$.surgeries[{index}].levels",
            f"the index surgery's levels {levels} are not in the {case.region} spine",
            "region names the operated spine; check region or the most recent surgery",
        )


def _pain_problems(case: Case) -> Iterator[Problem]:
    pain = case.pain
    if pain.relief_after_surgery == "none" and pain.returned_after_weeks is not None:
        yield Problem(
            "$.pain.returned_after_weeks",
            "pain cannot return when surgery never relieved it",
            "omit returned_after_weeks when relief_after_surgery is none",
        )
    if pain.returned_after_weeks is not None:
        weeks_since = (case.assessed_on - case.index_surgery.date).days / 7
        if pain.returned_after_weeks > weeks_since:
            yield Problem(
                "$.pain.returned_after_weeks",
                f"{pain.returned_after_weeks:g} weeks is later than assessed_on "
                f"({weeks_since:.0f} weeks after the index surgery)",
                None,
            )
    if (
        case.region == "cervical"
        and pain.limb_distribution is not None
        and pain.limb_distribution not in ARM_DISTRIBUTIONS
    ):
        yield Problem(
            "$.pain.limb_distribution",
            f"'{pain.limb_distribution}' describes a leg; the limb of a cervical case is the arm",
            f"expected one of: {', '.join(ARM_DISTRIBUTIONS)}",
        )


def _questionnaire_problems(
    i: int, instrument: str, answers: list[int | None] | None, total: float | None
) -> Iterator[Problem]:
    where = f"$.questionnaires[{i}]"
    if answers is None and total is None:
        yield Problem(where, "neither answers nor score", "give the item answers or the total")
        return
    if answers is not None and total is not None:
        yield Problem(
            where, "both answers and score", "give the item answers or the total, not both"
        )
        return
    try:
        if answers is not None:
            score(instrument, answers)
        elif total is not None:
            score_total(instrument, total)
    except AnswersInvalid as exc:
        field = "answers" if answers is not None else "score"
        for message in exc.problems:
            yield Problem(f"{where}.{field}", message, None)
