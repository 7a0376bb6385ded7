"""Conditions: small CEL expressions over the named facts of a case, compiled once.

Why CEL (Common Expression Language): it is a standard, side-effect-free expression language
with a readable syntax (`limb_nrs >= 5 && 'burning' in pain_character`), and its logical
operators are commutative and absorb errors. An absent fact is an evaluation error, so
`true || <unknown>` is true, `false && <unknown>` is false, and anything else that touches an
unknown fact is unknown. That is exactly the three-valued logic "unknown is not no" needs, with
no null checks written into the rules. docs/knowledge.md has the measurements behind the choice.

This module is the only one that imports `cel`.
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The `cel` package's __init__ also imports its interactive REPL (`cel.cli`, which loads
# prompt_toolkit: about 100 ms, a quarter of `secondlook assess`'s start). Conditions never use
# it, so an empty module stands in for it unless something imported the real one first.
sys.modules.setdefault("cel.cli", types.ModuleType("cel.cli"))
import cel  # noqa: E402

from secondlook.case.facts import FACTS, FactValue  # noqa: E402

# The CEL operators and functions rules may use; anything else is a load error.
ALLOWED_FUNCTIONS = frozenset(
    {
        "_&&_",
        "_||_",
        "!_",
        "_==_",
        "_!=_",
        "_<_",
        "_<=_",
        "_>_",
        "_>=_",
        "@in",
        "size",
        "_+_",
        "_-_",
        "_*_",
        "_/_",
        "_?_:_",
        "@not_strictly_false",
    }
)

_COMPREHENSION = re.compile(r"\.(?:exists|all|exists_one)\(\s*([A-Za-z_]\w*)\s*,")
_STRING = r"'([^'\\]*)'|\"([^\"\\]*)\""
_EQ_LEFT = re.compile(rf"\b([a-z_][a-z0-9_]*)\s*[!=]=\s*(?:{_STRING})")
_EQ_RIGHT = re.compile(rf"(?:{_STRING})\s*[!=]=\s*([a-z_][a-z0-9_]*)\b")
_IN_FACT = re.compile(rf"(?:{_STRING})\s+in\s+([a-z_][a-z0-9_]*)\b")
_FACT_IN_LIST = re.compile(r"\b([a-z_][a-z0-9_]*)\s+in\s+\[([^\]]*)\]")


class ConditionError(ValueError):
    """A condition that cannot be used: bad syntax, unknown fact or function, wrong code."""


@dataclass(frozen=True, slots=True)
class Condition:
    source: str
    facts: tuple[str, ...]
    program: Any
    fact_set: frozenset[str] = frozenset()

    def evaluate(self, context: Context) -> bool | None:
        """True, False, or None when the facts it needs are unknown."""
        try:
            result = self.program.execute(context.cel)
        except RuntimeError:
            return None
        if not isinstance(result, bool):
            raise ConditionError(f"condition {self.source!r} gave {result!r}, not true/false")
        return result


class Context:
    """The known facts of one case, converted for CEL once and shared by every condition."""

    __slots__ = ("cel", "facts")

    def __init__(self, facts: Mapping[str, FactValue]) -> None:
        self.facts = facts
        self.cel = cel.Context(
            {k: list(v) if isinstance(v, tuple) else v for k, v in facts.items()}
        )


def compile_condition(source: str) -> Condition:
    """Compile and check a condition; raise ConditionError saying what is wrong."""
    if not source or not source.strip():
        raise ConditionError("empty condition")
    try:
        program = cel.compile(source)
    except ValueError as exc:
        raise ConditionError(f"not a valid expression: {exc}") from None
    local = set(_COMPREHENSION.findall(source))
    names = tuple(sorted(set(program.variables()) - local))
    unknown = [n for n in names if n not in FACTS]
    if unknown:
        raise ConditionError(
            f"unknown fact {', '.join(unknown)} (see `secondlook knowledge facts`)"
        )
    functions = set(program.functions()) - ALLOWED_FUNCTIONS
    if functions:
        raise ConditionError(f"function not allowed: {', '.join(sorted(functions))}")
    _check_codes(source)
    condition = Condition(source=source, facts=names, program=program, fact_set=frozenset(names))
    _check_types(condition)
    return condition


def _check_codes(source: str) -> None:
    """Every string compared with a coded fact must be one of that fact's codes."""
    pairs: list[tuple[str, str]] = []
    for m in _EQ_LEFT.finditer(source):
        pairs.append((m.group(1), m.group(2) or m.group(3)))
    for m in _EQ_RIGHT.finditer(source):
        pairs.append((m.group(3), m.group(1) or m.group(2)))
    for m in _IN_FACT.finditer(source):
        pairs.append((m.group(3), m.group(1) or m.group(2)))
    for m in _FACT_IN_LIST.finditer(source):
        for item in re.findall(_STRING, m.group(2)):
            pairs.append((m.group(1), item[0] or item[1]))
    for name, code in pairs:
        spec = FACTS.get(name)
        if spec is None:
            continue  # a comprehension variable, checked through the list it ranges over
        if spec.kind not in ("code", "codes"):
            raise ConditionError(f"{name} is a {spec.kind}, compared with the text '{code}'")
        if code not in spec.codes:
            raise ConditionError(
                f"'{code}' is not a code of {name} (codes: {', '.join(spec.codes)})"
            )


_SAMPLE: dict[str, FactValue] = {
    "bool": True,
    "number": 1.0,
}


def _check_types(condition: Condition) -> None:
    """Evaluate once with every fact known, to catch type mismatches at load time."""
    sample: dict[str, FactValue] = {}
    for name in condition.facts:
        spec = FACTS[name]
        if spec.kind in _SAMPLE:
            sample[name] = _SAMPLE[spec.kind]
        elif spec.kind == "code":
            sample[name] = spec.codes[0]
        else:
            sample[name] = (spec.codes[0],)
    try:
        result = condition.program.execute(Context(sample).cel)
    except (RuntimeError, TypeError) as exc:  # CEL: undefined name / no such overload
        raise ConditionError(f"does not evaluate with facts of the right types: {exc}") from None
    if not isinstance(result, bool):
        raise ConditionError(f"gives {type(result).__name__}, not true/false")
