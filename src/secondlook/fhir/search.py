"""The FHIR REST API's search rules (docs/fhir.md, "REST API"): which parameters each served
type takes, paging, ``_sort``, ``_summary``, ``_total`` and the formats served. Pure: the
services check a search with these before and after loading the patient's resources, and the
HTTP adapter only renders the result as a Bundle.

A refusal is a :class:`Refused` whose kind starts with :data:`FHIR_KIND`, followed by the FHIR
issue type (``fhir-not-supported`` → issue code ``not-supported``)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from secondlook.fhir.server import PATIENT_TYPES, SERVED_TYPES
from secondlook.platform.errors import FieldProblem, Refused
from secondlook.platform.ids import MAX_ID

FHIR_JSON: Final = "application/fhir+json"
DEFAULT_COUNT: Final = 50
MAX_COUNT: Final = 200
#: Where problem kinds that name a FHIR issue type start (``fhir-not-supported`` → not-supported).
FHIR_KIND: Final = "fhir-"
_FORMATS: Final = frozenset({"json", "application/json", FHIR_JSON})
_JSON_RANGES: Final = frozenset({"*/*", "application/*", "application/json", FHIR_JSON})
_PAGING: Final = ("_count", "_offset", "_format", "_summary", "_total", "_sort")
#: Where the served resources' dates are, for ``_sort`` (besides ``_id`` and ``_lastUpdated``).
SORT_DATES: Final[dict[str, tuple[str, str]]] = {
    "Patient": ("birthdate", "birthDate"),
    "Observation": ("date", "effectiveDateTime"),
    "DetectedIssue": ("identified", "identifiedDateTime"),
    "QuestionnaireResponse": ("authored", "authored"),
    "Provenance": ("recorded", "recorded"),
    "Task": ("authored-on", "authoredOn"),
    "ServiceRequest": ("authored", "authoredOn"),
    "CarePlan": ("date", "created"),
    "Condition": ("recorded-date", "recordedDate"),
}
SEARCH_PARAMS: Final[dict[str, dict[str, tuple[str, str]]]] = {
    "Patient": {
        "_id": ("token", "the patient's id"),
        "identifier": (
            "token",
            "the medical record number (`value`, or `system|value` with the configured MRN system)",
        ),
    },
    "Questionnaire": {
        "_id": ("token", "the instrument id (nrs-pain, phq-9, gad-7)"),
        "url": ("uri", "the canonical URL"),
    },
    **{
        kind: {
            "patient": ("reference", "the patient (`123` or `Patient/123`); required unless _id"),
            "subject": ("reference", "the same as patient"),
            "_id": ("token", "the resource id"),
        }
        for kind in PATIENT_TYPES
    },
}
_DIGITS: Final = re.compile(r"^[1-9][0-9]{0,9}$")

Params = Mapping[str, str]


def fhir_problem(status: int, code: str, detail: str, expression: str | None = None) -> Refused:
    """A refusal answered as an OperationOutcome with issue code ``code``."""
    errors = [FieldProblem(expression, detail)] if expression else None
    return Refused(status, detail, kind=FHIR_KIND + code, errors=errors)


def not_found(resource_type: str, resource_id: str) -> Refused:
    return fhir_problem(404, "not-found", f"no {resource_type}/{resource_id} that you can see")


def check_type(resource_type: str) -> None:
    if resource_type not in SERVED_TYPES:
        raise fhir_problem(
            404,
            "not-supported",
            f"resource type {resource_type!r} is not served here; see /fhir/metadata",
        )


def check_format(accept: str | None, params: Params) -> None:
    """Only JSON is served: ``_format`` or, without it, the ``Accept`` header must admit it."""
    wanted = params.get("_format")
    if wanted is not None and wanted.split(";")[0].strip() not in _FORMATS:
        raise fhir_problem(406, "not-supported", f"_format {wanted!r}: only JSON is served")
    if wanted is None and not accepts_json(accept):
        raise fhir_problem(
            406, "not-supported", f"Accept {accept!r}: only JSON ({FHIR_JSON}) is served"
        )


def accepts_json(accept: str | None) -> bool:
    if accept is None or not accept.strip():
        return True
    for item in accept.split(","):
        media, *options = (part.strip() for part in item.split(";"))
        quality = 1.0
        for option in options:
            name, _, value = option.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0 and media.lower() in _JSON_RANGES:
            return True
    return False


def paging(params: Params) -> tuple[int, int]:
    """(count, offset) of a search."""

    def number(name: str, default: int, low: int, high: int) -> int:
        raw = params.get(name)
        if raw is None:
            return default
        # ASCII digits only (str.isdigit also takes other scripts' digits), and few enough
        # for int() (which refuses more than 4,300).
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 12) or not low <= int(raw) <= high:
            raise fhir_problem(
                400, "value", f"{name} must be a whole number from {low} to {high}", name
            )
        return int(raw)

    return number("_count", DEFAULT_COUNT, 1, MAX_COUNT), number("_offset", 0, 0, MAX_ID)


def check_params(accept: str | None, params: Params, resource_type: str) -> None:
    """Every parameter is one the type supports, with a value it takes."""
    allowed = set(SEARCH_PARAMS[resource_type]) | set(_PAGING)
    for name in params:
        if name not in allowed:
            raise fhir_problem(
                400,
                "not-supported",
                f"unknown search parameter {name!r} for {resource_type}; supported: "
                + ", ".join(sorted(allowed)),
                name,
            )
    summary = params.get("_summary")
    if summary is not None and summary not in ("count", "false"):
        raise fhir_problem(
            400, "not-supported", f"_summary {summary!r}: only count (or false)", "_summary"
        )
    total = params.get("_total")
    if total is not None and total not in ("none", "estimate", "accurate"):
        raise fhir_problem(
            400, "value", f"_total {total!r}: expected none, estimate or accurate", "_total"
        )
    sort_keys(params, resource_type)
    check_format(accept, params)


def sort_keys(params: Params, resource_type: str) -> list[tuple[str, bool]]:
    """(key, descending) of `_sort`; the keys are _id, _lastUpdated and the type's date."""
    raw = params.get("_sort")
    if raw is None:
        return []
    dated = SORT_DATES.get(resource_type)
    known = {"_id", "_lastUpdated", *([dated[0]] if dated else [])}
    keys = []
    for part in raw.split(","):
        name = part.strip()
        descending = name.startswith("-")
        name = name.removeprefix("-")
        if name not in known:
            raise fhir_problem(
                400,
                "not-supported",
                f"_sort {name!r} is not supported for {resource_type}; supported: "
                + ", ".join(sorted(known)),
                "_sort",
            )
        keys.append((name, descending))
    return keys


def sorted_resources(
    found: list[dict[str, Any]], keys: Sequence[tuple[str, bool]], resource_type: str
) -> list[dict[str, Any]]:
    dated = SORT_DATES.get(resource_type)
    for name, descending in reversed(keys):  # stable sorts, last key first
        if name == "_id":
            found = sorted(found, key=lambda r: _id_key(str(r["id"])), reverse=descending)
            continue
        element = "meta" if name == "_lastUpdated" else (dated[1] if dated else "")

        def value(resource: dict[str, Any], element: str = element) -> str:
            if element == "meta":
                return str(resource.get("meta", {}).get("lastUpdated", ""))
            return str(resource.get(element) or "")

        # Resources without the date go last, whatever the direction.
        present = [r for r in found if value(r)]
        absent = [r for r in found if not value(r)]
        found = sorted(present, key=value, reverse=descending) + absent
    return found


def _id_key(resource_id: str) -> tuple[Any, ...]:
    """Ids compare by their numeric parts as numbers (2 before 10)."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in re.split(r"(\d+)", resource_id)
        if part
    )


def patient_reference(value: str) -> int | None:
    """The patient id of ``123`` or ``Patient/123``; None for anything else."""
    value = value.removeprefix("Patient/")
    return int(value) if _DIGITS.fullmatch(value) and int(value) <= MAX_ID else None
