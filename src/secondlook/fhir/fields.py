"""Case fields as FHIR values: the one place that knows how each field is typed in FHIR.

The kind of each field comes from the typed case model (``secondlook.case.models``), so a new
optional field of the contract round-trips without touching this module:

=========  ======================================  =========================================
kind       case value                              FHIR value[x]
=========  ======================================  =========================================
bool       true / false                            valueBoolean
int        whole number (NRS)                      valueInteger
float      number                                  valueQuantity (UCUM unit where one fits)
code       vocabulary id                           valueCodeableConcept, CASE_SYSTEM coding
date       YYYY-MM-DD                              valueDateTime
str        free text                               valueString
=========  ======================================  =========================================
"""

from __future__ import annotations

import types
import typing
from datetime import date
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from secondlook.case import models
from secondlook.fhir.codes import CASE_SYSTEM, FIELD_UNITS, UCUM

Kind = Literal["bool", "int", "float", "code", "date", "str"]

#: Case sections whose fields travel one Observation per field (docs/fhir.md, "field
#: Observations"); ``patient`` only for the fields that are not on Patient or a Condition.
FIELD_SECTIONS: dict[str, type[BaseModel]] = {
    "patient": models.Patient,
    "pain": models.Pain,
    "neuro": models.Neuro,
    "systemic": models.Systemic,
    "labs": models.Labs,
    "medications": models.Medications,
    "psychosocial": models.Psychosocial,
    "preferences": models.Preferences,
}
#: Case list sections (and the one object section) that travel one Observation per item, the
#: item's keys as components.
RECORD_SECTIONS: dict[str, type[BaseModel]] = {
    "blocks": models.Block,
    "prior_treatments": models.PriorTreatment,
    "electrodiagnostics": models.Electrodiagnostics,
}


def _strip(annotation: Any) -> Any:
    """Drop ``| None`` and ``Annotated[...]`` wrappers."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            rest = [a for a in get_args(annotation) if a is not type(None)]
            if len(rest) != 1:
                return annotation
            annotation = rest[0]
        else:
            return annotation


def field_kind(model: type[BaseModel], name: str) -> tuple[Kind, bool] | None:
    """(kind, is_list) of a field of a case model, or None for a field that is not scalar."""
    info = model.model_fields.get(name)
    if info is None:
        return None
    annotation = _strip(info.annotation)
    is_list = get_origin(annotation) is list
    if is_list:
        annotation = _strip(get_args(annotation)[0])
    kind = _scalar_kind(annotation)
    return (kind, is_list) if kind else None


def _scalar_kind(annotation: Any) -> Kind | None:
    if annotation is bool:
        return "bool"
    if annotation is int:
        return "int"
    if annotation is float:
        return "float"
    if annotation is date:
        return "date"
    if annotation is str:
        return "str"
    if get_origin(annotation) is Literal or get_origin(annotation) is typing.Literal:
        return "code"
    return None


def encode(kind: Kind, key: str, value: Any) -> dict[str, Any]:
    """The ``value[x]`` of a case value: ``{"valueBoolean": true}`` etc."""
    if kind == "bool":
        return {"valueBoolean": bool(value)}
    if kind == "int":
        return {"valueInteger": int(value)}
    if kind == "float":
        quantity: dict[str, Any] = {"value": value}
        unit = FIELD_UNITS.get(key)
        if unit:
            quantity.update({"unit": unit[0], "system": UCUM, "code": unit[1]})
        return {"valueQuantity": quantity}
    if kind == "code":
        return {"valueCodeableConcept": {"coding": [{"system": CASE_SYSTEM, "code": value}]}}
    if kind == "date":
        return {"valueDateTime": str(value)}
    return {"valueString": str(value)}


class ValueProblem(ValueError):
    """A FHIR value that does not fit the case field (the message says why)."""


def decode(kind: Kind, holder: dict[str, Any]) -> Any:
    """The case value from an element holding ``value[x]``; raises ValueProblem."""
    if kind == "bool":
        return _typed(holder, "valueBoolean", bool)
    if kind == "int":
        if "valueInteger" in holder:
            return _typed(holder, "valueInteger", int)
        number = _quantity(holder)
        if float(number).is_integer():
            return int(number)
        raise ValueProblem(f"{number!r} is not a whole number")
    if kind == "float":
        if "valueInteger" in holder:
            return float(_typed(holder, "valueInteger", int))
        return float(_quantity(holder))
    if kind == "code":
        concept = holder.get("valueCodeableConcept")
        code = local_code(concept)
        if code is None:
            raise ValueProblem(f"expected valueCodeableConcept with a {CASE_SYSTEM} coding")
        return code
    if kind == "date":
        text = _typed(holder, "valueDateTime", str)
        return date_part(text)
    return _typed(holder, "valueString", str)


def _typed(holder: dict[str, Any], key: str, wanted: type) -> Any:
    value = holder.get(key)
    if isinstance(value, wanted) and (wanted is bool or not isinstance(value, bool)):
        return value
    present = sorted(k for k in holder if k.startswith("value")) or ["no value"]
    raise ValueProblem(f"expected {key}, found {', '.join(present)}")


def _quantity(holder: dict[str, Any]) -> float | int:
    quantity = holder.get("valueQuantity")
    if not isinstance(quantity, dict):
        present = sorted(k for k in holder if k.startswith("value")) or ["no value"]
        raise ValueProblem(f"expected valueQuantity, found {', '.join(present)}")
    value = quantity.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueProblem("valueQuantity has no numeric value")
    return value


def seq(value: object) -> list[Any]:
    """``value`` if it is a JSON array, else an empty list: a malformed element is not a crash."""
    return value if isinstance(value, list) else []


def local_code(concept: object, system: str = CASE_SYSTEM) -> str | None:
    """The code of the first coding of ``system`` in a CodeableConcept."""
    for system_, code in codings(concept):
        if system_ == system:
            return code
    return None


def codings(concept: object) -> list[tuple[str, str]]:
    """(system, code) of every well-formed coding of a CodeableConcept."""
    if not isinstance(concept, dict):
        return []
    found: list[tuple[str, str]] = []
    for coding in seq(concept.get("coding")):
        if isinstance(coding, dict):
            system, code = coding.get("system"), coding.get("code")
            if isinstance(system, str) and isinstance(code, str):
                found.append((system, code))
    return found


def concept_text(concept: object) -> str:
    """Every human-readable word of a CodeableConcept (text and displays), lower case."""
    if not isinstance(concept, dict):
        return ""
    parts = [concept.get("text")]
    parts += [c.get("display") for c in seq(concept.get("coding")) if isinstance(c, dict)]
    return " ".join(p for p in parts if isinstance(p, str)).lower()


def date_part(text: object) -> str:
    """``YYYY-MM-DD`` of a FHIR date or dateTime; raises ValueProblem for partial dates."""
    if not isinstance(text, str) or len(text) < 10:
        raise ValueProblem(f"{text!r} is not a full date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        raise ValueProblem(f"{text!r} is not a valid date") from None
