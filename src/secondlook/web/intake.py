"""The intake form: one field list that renders the form, turns a posted form into a case
document (CONTRACT.md §1), fills the form from a stored document, and places each validation
problem (a JSON path from `parse_case`) at the field it is about.

Field names are the document's paths with dots (`surgeries.0.date`); field ids are the same with
dashes and an `f-` prefix (`f-surgeries-0-date`). Values are converted where they parse (numbers,
yes/no) and otherwise passed on as typed, so that `parse_case` reports them at their path: the
validation rules live in one place, the case model.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from secondlook.case import CaseInvalid, Problem, parse_case
from secondlook.case import vocabulary as v
from secondlook.case.models import Case

Kind = Literal[
    "text", "int", "number", "date", "choice", "multi", "tri", "lines", "levels", "answers"
]
FormValues = dict[str, str | list[str]]

SURGERY_SLOTS = 3
IMAGING_SLOTS = 3
FINDING_SLOTS = 3
BLOCK_SLOTS = 2
PRIOR_SLOTS = 6
QUESTIONNAIRE_SLOTS = 4

_BOOL_PATIENT = (
    "smoker",
    "diabetes",
    "osteoporosis",
    "immunosuppressed",
    "long_term_steroids",
    "cancer_history",
    "iv_drug_use",
)
_NEURO_BOOL = (
    "sensory_deficit",
    "saddle_anesthesia",
    "urinary_retention",
    "urinary_incontinence",
    "bowel_dysfunction",
    "bilateral_limb_symptoms",
    "gait_disturbance",
    "myelopathic_signs",
)
_LABELS = {
    "iv_drug_use": "IV drug use",
    "axial_nrs": "Axial pain (back or neck), 0-10",
    "limb_nrs": "Limb pain (leg or arm), 0-10",
    "crp_mg_l": "CRP (mg/L)",
    "esr_mm_h": "ESR (mm/h)",
    "wbc_10e9_l": "WBC (10⁹/L)",
    "crp_trend": "CRP trend",
    "opioid_mme_per_day": "Opioids, MME per day",
    "snri_or_tca": "SNRI or TCA",
    "nsaid": "NSAID",
    "height_cm": "Height (cm)",
    "weight_kg": "Weight (kg)",
    "t_score": "T-score (DEXA)",
}


def _label(name: str) -> str:
    return _LABELS.get(name, name.replace("_", " ").capitalize())


@dataclass(frozen=True)
class Field:
    path: str
    label: str
    kind: Kind
    options: tuple[str, ...] = ()
    hint: str = ""
    required: bool = False

    @property
    def id(self) -> str:
        return "f-" + self.path.replace(".", "-")


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    fields: tuple[Field, ...]
    groups: tuple[tuple[str, tuple[Field, ...]], ...] = ()  # repeated slots: (legend, fields)
    note: str = ""

    def all_fields(self) -> Iterable[Field]:
        yield from self.fields
        for _, fields in self.groups:
            yield from fields


def _f(path: str, kind: Kind, options: Iterable[str] = (), **kw: Any) -> Field:
    label = kw.pop("label", None) or _label(path.rsplit(".", 1)[-1])
    return Field(path=path, label=label, kind=kind, options=tuple(options), **kw)


def _tris(prefix: str, names: Iterable[str]) -> tuple[Field, ...]:
    return tuple(_f(f"{prefix}.{n}", "tri") for n in names)


def _surgery(i: int) -> tuple[Field, ...]:
    p = f"surgeries.{i}"
    return (
        _f(f"{p}.date", "date", required=i == 0, label="Date of surgery"),
        _f(f"{p}.procedure", "choice", v.PROCEDURES, required=i == 0),
        _f(f"{p}.levels", "levels", hint="e.g. L4-L5, L5-S1 (comma-separated)"),
        _f(f"{p}.side", "choice", v.SIDES),
        _f(f"{p}.indication", "choice", v.INDICATIONS),
        _f(f"{p}.instrumented", "tri"),
        _f(f"{p}.fused_to_sacrum", "tri"),
        _f(f"{p}.complications", "multi", v.COMPLICATIONS),
    )


def _imaging(i: int) -> tuple[Field, ...]:
    p = f"imaging.{i}"
    fields = [
        _f(f"{p}.date", "date", label="Date of the study"),
        _f(f"{p}.modality", "choice", v.MODALITIES),
    ]
    for j in range(FINDING_SLOTS):
        q = f"{p}.findings.{j}"
        fields += [
            _f(f"{q}.finding", "choice", v.FINDINGS, label=f"Finding {j + 1}"),
            _f(f"{q}.level", "text", label=f"Finding {j + 1}: level", hint="e.g. L4-L5"),
            _f(f"{q}.side", "choice", v.SIDES, label=f"Finding {j + 1}: side"),
            _f(f"{q}.t_score", "number", label=f"Finding {j + 1}: T-score (DEXA)"),
        ]
    return tuple(fields)


def _block(i: int) -> tuple[Field, ...]:
    p = f"blocks.{i}"
    return (
        _f(f"{p}.target", "choice", v.BLOCK_TARGETS),
        _f(f"{p}.level", "text", hint="e.g. L4-L5"),
        _f(f"{p}.side", "choice", v.SIDES),
        _f(f"{p}.relief_percent", "number", label="Relief (%)"),
        _f(f"{p}.date", "date"),
        _f(f"{p}.confirmatory", "tri"),
    )


def _prior(i: int) -> tuple[Field, ...]:
    p = f"prior_treatments.{i}"
    return (
        _f(f"{p}.treatment", "choice", v.TREATMENTS),
        _f(f"{p}.response", "choice", v.RESPONSES),
        _f(f"{p}.date", "date"),
    )


def _questionnaire(i: int) -> tuple[Field, ...]:
    p = f"questionnaires.{i}"
    return (
        _f(f"{p}.instrument", "choice", v.INSTRUMENT_IDS),
        _f(f"{p}.date", "date"),
        _f(
            f"{p}.answers",
            "answers",
            label="Item answers",
            hint="in published order, comma-separated; leave an item empty if skipped",
        ),
        _f(f"{p}.score", "number", label="Total score (only when there are no item answers)"),
    )


SECTIONS: tuple[Section, ...] = (
    Section(
        "evaluation",
        "Evaluation",
        (
            _f("assessed_on", "date", required=True, label="Date of this evaluation"),
            _f("id", "text", label="Case identifier (optional)"),
            _f("region", "choice", v.REGIONS, required=True, label="Operated region"),
        ),
    ),
    Section(
        "patient",
        "Patient",
        (
            _f("patient.age", "int", required=True, label="Age (years)"),
            _f("patient.sex", "choice", v.SEXES),
            _f("patient.height_cm", "number"),
            _f("patient.weight_kg", "number"),
            _f("patient.work_status", "choice", v.WORK_STATUSES),
            *_tris("patient", _BOOL_PATIENT),
        ),
    ),
    Section(
        "surgeries",
        "Surgeries",
        (),
        tuple((f"Surgery {i + 1}", _surgery(i)) for i in range(SURGERY_SLOTS)),
        note="The most recent surgery is the index surgery.",
    ),
    Section(
        "pain",
        "Pain",
        (
            _f("pain.relief_after_surgery", "choice", v.RELIEF),
            _f("pain.returned_after_weeks", "number", label="Pain returned after (weeks)"),
            _f("pain.compared_to_before", "choice", v.COMPARED),
            _f("pain.trend", "choice", v.TRENDS),
            _f("pain.axial_nrs", "int"),
            _f("pain.limb_nrs", "int"),
            _f("pain.limb_side", "choice", v.LIMB_SIDES),
            _f("pain.limb_distribution", "choice", v.LIMB_DISTRIBUTIONS),
            _f("pain.character", "multi", v.PAIN_CHARACTERS),
            _f("pain.aggravated_by", "multi", v.AGGRAVATORS),
            *_tris(
                "pain",
                (
                    "neurogenic_claudication",
                    "rest_or_night_pain",
                    "positional_headache",
                    "widespread_pain",
                ),
            ),
        ),
    ),
    Section(
        "neuro",
        "Neurological red-flag screen",
        (
            _f("neuro.motor_deficit", "choice", v.MOTOR_DEFICITS),
            _f("neuro.straight_leg_raise", "choice", v.SLR),
            *_tris("neuro", _NEURO_BOOL),
        ),
        note="Leave a question on 'not known' if it was not examined.",
    ),
    Section(
        "systemic",
        "Systemic and wound",
        (
            *_tris(
                "systemic",
                (
                    "fever",
                    "chills_or_night_sweats",
                    "unexplained_weight_loss",
                    "recent_trauma",
                    "recent_spinal_injection",
                ),
            ),
            _f("systemic.wound", "choice", v.WOUNDS),
        ),
    ),
    Section(
        "imaging",
        "Imaging since surgery",
        (),
        tuple((f"Study {i + 1}", _imaging(i)) for i in range(IMAGING_SLOTS)),
    ),
    Section(
        "labs",
        "Laboratory",
        (
            _f("labs.date", "date"),
            _f("labs.crp_mg_l", "number"),
            _f("labs.esr_mm_h", "number"),
            _f("labs.wbc_10e9_l", "number"),
            _f("labs.crp_trend", "choice", v.CRP_TRENDS),
            _f("labs.blood_culture_positive", "tri"),
        ),
    ),
    Section(
        "blocks",
        "Diagnostic blocks and electrodiagnostics",
        (
            _f("electrodiagnostics.date", "date", label="EMG / NCS date"),
            _f("electrodiagnostics.result", "choice", v.EMG_RESULTS, label="EMG / NCS result"),
        ),
        tuple((f"Block {i + 1}", _block(i)) for i in range(BLOCK_SLOTS)),
    ),
    Section(
        "medications",
        "Medications",
        (
            _f("medications.opioid_mme_per_day", "number"),
            _f("medications.opioid_months", "number", label="Months on opioids"),
            *_tris(
                "medications",
                ("benzodiazepine", "gabapentinoid", "snri_or_tca", "nsaid", "muscle_relaxant"),
            ),
        ),
        tuple((f"Prior treatment {i + 1}", _prior(i)) for i in range(PRIOR_SLOTS)),
    ),
    Section(
        "psychosocial",
        "Psychosocial",
        _tris(
            "psychosocial",
            (
                "depression_diagnosis",
                "anxiety_diagnosis",
                "sleep_disturbance",
                "substance_use_disorder",
                *v.SCS_PSYCHOSOCIAL_FACTORS,
            ),
        ),
    ),
    Section(
        "questionnaires",
        "Questionnaires",
        (),
        tuple((f"Questionnaire {i + 1}", _questionnaire(i)) for i in range(QUESTIONNAIRE_SLOTS)),
    ),
    Section(
        "preferences",
        "Preferences",
        (
            _f("preferences.goals", "lines", label="Goals in the patient's words (one a line)"),
            _f("preferences.surgery_preference", "choice", v.SURGERY_PREFERENCES),
        ),
    ),
)

FIELDS: dict[str, Field] = {f.path: f for s in SECTIONS for f in s.all_fields()}
FIELD_IDS: dict[str, Field] = {f.id: f for f in FIELDS.values()}
# ASCII digits only (\d also matches other scripts' digits), and few enough that the value is
# an exact, finite number: longer input stays text and is refused as "not a number" by the
# case model (int() refuses more than 4,300 digits; float() turns 400 digits into Infinity).
_INT = re.compile(r"[+-]?[0-9]{1,15}")
_NUMBER = re.compile(r"[+-]?([0-9]{1,15}(\.[0-9]{0,15})?|\.[0-9]{1,15})")


@dataclass
class Built:
    """A document built from the form, and where each list item came from (slot numbers),
    so that `$.imaging[0]` can be traced back to the form's second study if the first was
    left empty."""

    document: dict[str, Any]
    slots: dict[str, list[int]] = field(default_factory=dict)


def _convert(f: Field, raw: str | list[str]) -> Any:
    """The JSON value of one field, or None when it is empty."""
    if f.kind == "multi":
        values = [x for x in raw if x] if isinstance(raw, list) else ([raw] if raw else [])
        return values or None
    text = (raw[-1] if raw else "") if isinstance(raw, list) else raw
    text = text.strip()
    if not text:
        return None
    if f.kind == "int":
        return int(text) if _INT.fullmatch(text) else text
    if f.kind == "number":
        if _INT.fullmatch(text):
            return int(text)
        return float(text) if _NUMBER.fullmatch(text) else text
    if f.kind == "tri":
        return {"yes": True, "no": False}.get(text, text)
    if f.kind == "levels":
        return [x.strip().upper() for x in re.split(r"[,\s]+", text) if x.strip()]
    if f.kind == "lines":
        return [line.strip() for line in text.splitlines() if line.strip()]
    if f.kind == "answers":
        items = [x.strip() for x in text.split(",")]
        return [int(x) if _INT.fullmatch(x) else (None if x == "" else x) for x in items]
    if f.kind == "text" and f.path.endswith(".level"):
        return text.upper()
    return text


def _put(target: dict[str, Any], parts: list[str], value: Any) -> None:
    node: Any = target
    for part in parts[:-1]:  # list slots are dicts keyed by slot number until `_compact`
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _compact(node: Any, path: str, slots: dict[str, list[int]]) -> Any:
    """Turn dicts keyed by slot numbers into lists, dropping empty slots and recording which slot
    each list item came from."""
    if isinstance(node, dict):
        if node and all(k.isdigit() for k in node):
            kept = sorted((int(k) for k, val in node.items() if val), key=int)
            slots[path] = kept
            return [_compact(node[str(k)], f"{path}.{k}", slots) for k in kept]
        return {k: _compact(val, f"{path}.{k}" if path else k, slots) for k, val in node.items()}
    return node


def build_document(values: Mapping[str, str | list[str]]) -> Built:
    """The case document the form describes (not yet validated)."""
    raw: dict[str, Any] = {}
    for path, f in FIELDS.items():
        if path not in values:
            continue
        value = _convert(f, values[path])
        if value is not None:
            _put(raw, path.split("."), value)
    slots: dict[str, list[int]] = {}
    document = _compact(raw, "", slots)
    assert isinstance(document, dict)
    for name in ("pain", "neuro", "systemic", "psychosocial"):
        document.setdefault(name, {})
    document = {"schema": v.SCHEMA_ID, **document}
    return Built(document=document, slots=slots)


def form_values(document: Mapping[str, Any], *, left_out: list[str] | None = None) -> FormValues:
    """The form's values for a stored document (the inverse of `build_document`). Paths the
    form has no field for (more list items than it has slots) are added to `left_out`."""
    out: FormValues = {}

    def walk(node: Any, path: str) -> None:
        f = FIELDS.get(path)
        if f is not None:
            out[path] = _display(f, node)
            return
        if isinstance(node, dict):
            for key, val in node.items():
                walk(val, f"{path}.{key}" if path else key)
        elif isinstance(node, list):
            for i, val in enumerate(node):
                walk(val, f"{path}.{i}")
        elif path != "schema" and left_out is not None:
            left_out.append(path)

    walk(dict(document), "")
    return out


def _display(f: Field, value: Any) -> str | list[str]:
    if f.kind == "multi":
        return [str(x) for x in value] if isinstance(value, list) else [str(value)]
    if f.kind == "tri":
        return "yes" if value is True else "no" if value is False else str(value)
    if f.kind == "levels" and isinstance(value, list):
        return ", ".join(str(x) for x in value)
    if f.kind == "lines" and isinstance(value, list):
        return "\n".join(str(x) for x in value)
    if f.kind == "answers" and isinstance(value, list):
        return ",".join("" if x is None else str(x) for x in value)
    return str(value)


_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def field_for_path(json_path: str, slots: Mapping[str, list[int]]) -> Field | None:
    """The form field a problem at `json_path` (`$.surgeries[0].date`) is about: the field of
    that path, or of the nearest enclosing path that is a field, with list positions mapped back
    to the slots of the form."""
    parts: list[str] = []
    for name, index in _STEP.findall(json_path.removeprefix("$")):
        if name:
            parts.append(name)
        else:
            list_path = ".".join(parts)
            kept = slots.get(list_path, [])
            position = int(index)
            parts.append(str(kept[position]) if position < len(kept) else str(position))
    while parts:
        candidate = FIELDS.get(".".join(parts))
        if candidate is not None:
            return candidate
        parts.pop()
    return None


@dataclass
class Checked:
    case: Case | None
    document: dict[str, Any]
    errors: dict[str, list[str]]  # field id -> messages
    unplaced: list[str]  # problems that are about no single field (shown in the summary)


def check(values: Mapping[str, str | list[str]], *, today: dt.date | None = None) -> Checked:
    """Build the document and validate it with `parse_case`, placing every problem."""
    built = build_document(values)
    try:
        case = parse_case(built.document, today=today)
    except CaseInvalid as exc:
        errors: dict[str, list[str]] = {}
        unplaced: list[str] = []
        for problem in exc.problems:
            _place(problem, built.slots, errors, unplaced)
        return Checked(None, built.document, errors, unplaced)
    return Checked(case, built.document, {}, [])


def _place(
    problem: Problem,
    slots: Mapping[str, list[int]],
    errors: dict[str, list[str]],
    unplaced: list[str],
) -> None:
    message = problem.message + (f" ({problem.hint})" if problem.hint else "")
    target = field_for_path(problem.path, slots)
    if target is None:
        target = _first_field_under(problem.path)
    if target is None:
        unplaced.append(f"{problem.path}: {message}")
        return
    if target.kind in _NUMERIC_WORDS and "got a string" in problem.message:
        message = f"Enter {_NUMERIC_WORDS[target.kind]} in digits."  # the text did not parse
    errors.setdefault(target.id, []).append(message)


_NUMERIC_WORDS = {"int": "a whole number", "number": "a number"}


def _first_field_under(json_path: str) -> Field | None:
    """For a problem about a whole section or list (`$.surgeries`: at least one is needed), its
    first field."""
    prefix = ".".join(n or i for n, i in _STEP.findall(json_path.removeprefix("$")))
    if not prefix:
        return None
    for path, f in FIELDS.items():
        if path == prefix or path.startswith(prefix + "."):
            return f
    return None
