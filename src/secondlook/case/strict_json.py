"""Strict JSON: what `json.loads` lets through that a clinical document must not contain.

Python's parser accepts `NaN` and `Infinity`, turns `1e400` into infinity, keeps the last of
two equal keys and, for an integer of more than 4,300 digits, raises a bare ValueError. Each of
these is reported here with its JSON path instead, so a bad number is a clear validation error
and never a stored Infinity or a crash.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from typing import Any

# Python refuses to convert longer digit strings to int (sys.int_info.default_max_str_digits).
MAX_INT_DIGITS: int = getattr(sys.int_info, "default_max_str_digits", 0) or 4300


@dataclass(frozen=True, slots=True)
class JsonProblem:
    path: str
    message: str
    hint: str


class _Bad:
    """Stands in, while parsing, for a number that must be refused."""

    def __init__(self, message: str) -> None:
        self.message = message


class _Object(dict[str, Any]):
    """A parsed object that remembers the keys it was given more than once."""

    duplicates: list[str]


def _pairs(pairs: list[tuple[str, Any]]) -> _Object:
    result = _Object()
    result.duplicates = []
    for key, value in pairs:
        if key in result and key not in result.duplicates:
            result.duplicates.append(key)
        result[key] = value
    return result


def _float(text: str) -> float | _Bad:
    value = float(text)
    if math.isfinite(value):
        return value
    shown = text if len(text) <= 20 else text[:20] + "..."
    return _Bad(f"{shown} is too large for a number")


def _int(text: str) -> int | _Bad:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        return _Bad(f"an integer of more than {MAX_INT_DIGITS} digits")
    return int(text)


def _constant(text: str) -> _Bad:
    return _Bad(f"{text} is not a JSON number")


def loads_strict(text: str | bytes) -> tuple[Any, list[JsonProblem]]:
    """Parse JSON text: (the value, its problems). With problems the value is not to be used.
    Malformed JSON raises json.JSONDecodeError as `json.loads` does."""
    data = json.loads(
        text,
        object_pairs_hook=_pairs,
        parse_float=_float,
        parse_int=_int,
        parse_constant=_constant,
    )
    problems: list[JsonProblem] = []
    _walk(data, "$", problems)
    return data, problems


def _walk(value: Any, path: str, problems: list[JsonProblem]) -> None:
    if isinstance(value, _Bad):
        problems.append(JsonProblem(path, value.message, "send a finite number"))
    elif isinstance(value, _Object):
        for key in value.duplicates:
            problems.append(
                JsonProblem(
                    f"{path}.{key}",
                    f"the key '{key}' is given more than once in this object",
                    "give each key once",
                )
            )
        for key, item in value.items():
            _walk(item, f"{path}.{key}", problems)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, f"{path}[{index}]", problems)
