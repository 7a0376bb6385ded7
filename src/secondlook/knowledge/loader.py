"""Load the knowledge base from its YAML files, checking everything before anything is used.

A bad record (unknown key, unknown fact, bad expression, unknown code, dangling reference) is a
`KnowledgeError` naming the file and the entry, so a reviewer who edits a rule learns at once
what is wrong and where.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from secondlook.case.facts import ASSESSMENT_FACTS
from secondlook.knowledge.expressions import Condition
from secondlook.knowledge.models import (
    DISCIPLINES,
    DUE_KEYS,
    CareRules,
    CareTask,
    Criterion,
    DueAtStart,
    Etiology,
    MissingItem,
    PerspectiveFinding,
    PrerequisiteRule,
    RedFlag,
    Reference,
    SafetyAlert,
    SurgicalReviewRule,
    Treatment,
    Workup,
)

DATA_FILES = (
    "references.yaml",
    "red_flags.yaml",
    "safety_alerts.yaml",
    "etiologies.yaml",
    "workup.yaml",
    "treatments.yaml",
    "surgical_review.yaml",
    "missing_information.yaml",
    "perspectives.yaml",
    "care_rules.yaml",
)
CARE_FILE = "care_rules.yaml"
_CARE_SECTIONS = ("due_days", "due_at_start", "owners", "tasks", "prerequisites")


class KnowledgeError(ValueError):
    def __init__(self, file: str, entry: str | None, message: str) -> None:
        self.file, self.entry, self.message = file, entry, message
        where = f"{file}, entry {entry}" if entry else file
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class KnowledgeBase:
    version: str
    digest: str
    references: dict[str, Reference]
    red_flags: tuple[RedFlag, ...]
    safety_alerts: tuple[SafetyAlert, ...]
    etiologies: tuple[Etiology, ...]
    workup: dict[str, Workup]
    treatments: tuple[Treatment, ...]
    surgical_review: tuple[SurgicalReviewRule, ...]
    missing_information: tuple[MissingItem, ...]
    perspective_findings: tuple[PerspectiveFinding, ...]
    care: CareRules
    records: dict[str, tuple[str, BaseModel]] = field(default_factory=dict)

    def record(self, record_id: str) -> tuple[str, BaseModel] | None:
        """(kind, record) for an id of a red flag, alert, etiology, work-up item or treatment."""
        return self.records.get(record_id)


M = TypeVar("M", bound=BaseModel)


def default_data_dir() -> Traversable:
    return resources.files("secondlook.knowledge") / "data"


@cache
def default_knowledge() -> KnowledgeBase:
    """The knowledge base shipped with this version of SecondLook, loaded once per process."""
    return load_knowledge(default_data_dir())


def load_knowledge(directory: Traversable | Path) -> KnowledgeBase:
    texts = {name: _read(directory, name) for name in ("manifest.yaml", *DATA_FILES)}
    manifest = _parse(texts["manifest.yaml"], "manifest.yaml")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("version"), str):
        raise KnowledgeError("manifest.yaml", None, "needs a 'version' string")

    def records(name: str, model: type[M]) -> list[M]:
        return _records(name, _parse(texts[name], name), model)

    references = {r.id: r for r in records("references.yaml", Reference)}
    kb = KnowledgeBase(
        version=manifest["version"],
        digest=data_digest(texts[n] for n in DATA_FILES),
        references=references,
        red_flags=tuple(records("red_flags.yaml", RedFlag)),
        safety_alerts=tuple(records("safety_alerts.yaml", SafetyAlert)),
        etiologies=tuple(records("etiologies.yaml", Etiology)),
        workup={w.id: w for w in records("workup.yaml", Workup)},
        treatments=tuple(records("treatments.yaml", Treatment)),
        surgical_review=tuple(records("surgical_review.yaml", SurgicalReviewRule)),
        missing_information=tuple(records("missing_information.yaml", MissingItem)),
        perspective_findings=tuple(records("perspectives.yaml", PerspectiveFinding)),
        care=_care_rules(_parse(texts[CARE_FILE], CARE_FILE)),
    )
    _index(kb)
    _check_links(kb)
    _check_care(kb)
    return kb


def data_digest(texts: Iterable[str]) -> str:
    """A digest of the rule files: a changed rule without a new version is caught by a test."""
    h = hashlib.sha256()
    for text in texts:
        h.update(text.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def _read(directory: Traversable | Path, name: str) -> str:
    path = directory / name
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KnowledgeError(name, None, "file is missing") from None


# libyaml's safe loader when PyYAML was built with it (the wheels are): the same YAML subset as
# yaml.safe_load, about ten times faster, which every command that assesses pays at start.
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _parse(text: str, name: str) -> Any:
    try:
        return yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise KnowledgeError(name, None, f"not valid YAML: {exc}") from None


def _records(name: str, data: Any, model: type[M], section: str = "") -> list[M]:
    """Validate a list of records; ``section`` names the list inside a file of sections."""
    if not isinstance(data, list):
        where = f"section '{section}'" if section else None
        raise KnowledgeError(name, where, "must be a list of records")
    prefix = f"{section} " if section else ""
    out: list[M] = []
    seen: set[str] = set()
    for i, raw in enumerate(data):
        entry = f"{prefix}#{i + 1}"
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            entry = f"{prefix}'{raw['id']}' (#{i + 1})"
        try:
            record = model.model_validate(raw)
        except ValidationError as exc:
            raise KnowledgeError(name, entry, _problems(exc)) from None
        record_id = getattr(record, "id", None)
        if isinstance(record_id, str):
            if record_id in seen:
                raise KnowledgeError(name, entry, "duplicate id")
            seen.add(record_id)
        out.append(record)
    return out


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'record'}: "
        + e["msg"].removeprefix("Value error, ")
        for e in exc.errors()
    )


def _care_rules(data: Any) -> CareRules:
    """The sections of care_rules.yaml, each entry checked on its own (links come later)."""
    name = CARE_FILE
    if not isinstance(data, dict):
        raise KnowledgeError(
            name, None, f"must be a mapping of sections: {', '.join(_CARE_SECTIONS)}"
        )
    unknown = [k for k in data if k not in _CARE_SECTIONS]
    if unknown:
        raise KnowledgeError(
            name,
            None,
            f"unknown section {', '.join(map(str, unknown))} "
            f"(sections: {', '.join(_CARE_SECTIONS)})",
        )
    missing = [k for k in _CARE_SECTIONS if k not in data]
    if missing:
        raise KnowledgeError(name, None, f"missing section {', '.join(missing)}")
    due_days = _mapping(name, "due_days", data["due_days"])
    for key, days in due_days.items():
        if key not in DUE_KEYS:
            raise KnowledgeError(
                name, f"due_days '{key}'", f"unknown key (keys: {', '.join(DUE_KEYS)})"
            )
        if not isinstance(days, int) or isinstance(days, bool) or days < 0:
            raise KnowledgeError(
                name, f"due_days '{key}'", f"{days!r} is not a whole number of days >= 0"
            )
    absent = [k for k in DUE_KEYS if k not in due_days]
    if absent:
        raise KnowledgeError(name, "due_days", f"needs a number of days for {', '.join(absent)}")
    owners = _mapping(name, "owners", data["owners"])
    for key, owner in owners.items():
        if owner not in DISCIPLINES:
            raise KnowledgeError(
                name,
                f"owners '{key}'",
                f"unknown discipline {owner!r} (disciplines: {', '.join(DISCIPLINES)})",
            )
    return CareRules(
        due_days=due_days,
        due_at_start=tuple(_records(name, data["due_at_start"], DueAtStart, "due_at_start")),
        owners=owners,
        tasks=tuple(_records(name, data["tasks"], CareTask, "tasks")),
        prerequisites=tuple(
            _records(name, data["prerequisites"], PrerequisiteRule, "prerequisites")
        ),
    )


def _mapping(name: str, section: str, value: Any) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise KnowledgeError(name, f"section '{section}'", "must be a mapping of id: value")
    return {str(k): v for k, v in value.items()}


def _check_care(kb: KnowledgeBase) -> None:
    """Every id a care rule names exists, every item has an owner, every rule cites a known
    reference, and no task waits on itself through its prerequisites."""
    name, care = CARE_FILE, kb.care
    items = {**{w: "work-up item" for w in kb.workup}, **{t.id: "treatment" for t in kb.treatments}}
    for key in care.owners:
        if key not in items:
            raise KnowledgeError(
                name,
                f"owners '{key}'",
                "not a work-up item or treatment (care tasks name their owner)",
            )
    for key, what in items.items():
        if key not in care.owners:
            raise KnowledgeError(name, "owners", f"{what} '{key}' has no owner")
    for task in care.tasks:
        entry = f"tasks '{task.id}'"
        if task.id in items:
            raise KnowledgeError(name, entry, f"is already a {items[task.id]}; use another id")
        if task.brought_by is not None and task.brought_by not in items:
            raise KnowledgeError(
                name, entry, f"brought_by: unknown work-up item or treatment '{task.brought_by}'"
            )
    keys = {**items, **{t.id: "care task" for t in care.tasks}}
    for start in care.due_at_start:
        if start.id not in kb.workup:
            raise KnowledgeError(name, f"due_at_start '{start.id}'", "unknown work-up item")
    for rule in care.prerequisites:
        entry = f"prerequisites '{rule.id}'"
        for field_name in ("task", "requires"):
            key = getattr(rule, field_name)
            if key not in keys:
                raise KnowledgeError(
                    name,
                    entry,
                    f"{field_name}: unknown work-up item, treatment or care task '{key}'",
                )
        if rule.task == rule.requires:
            raise KnowledgeError(name, entry, "a task cannot require itself")
    sections: tuple[tuple[str, Iterable[DueAtStart | CareTask | PrerequisiteRule]], ...] = (
        ("due_at_start", care.due_at_start),
        ("tasks", care.tasks),
        ("prerequisites", care.prerequisites),
    )
    for section, rules in sections:
        for cited in rules:
            for ref in cited.references:
                if ref not in kb.references:
                    raise KnowledgeError(
                        name, f"{section} '{cited.id}'", f"unknown reference '{ref}'"
                    )
    _check_no_cycle(care.prerequisites)


def _check_no_cycle(rules: Iterable[PrerequisiteRule]) -> None:
    """Prerequisites must form no cycle: a cycle would leave every task in it waiting forever."""
    edges: dict[str, list[PrerequisiteRule]] = {}
    for rule in rules:
        edges.setdefault(rule.task, []).append(rule)
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[PrerequisiteRule] = []

    def visit(task: str) -> None:
        state[task] = 1
        for rule in edges.get(task, []):
            path.append(rule)
            if state.get(rule.requires) == 1:
                cycle = path[next(i for i, r in enumerate(path) if r.task == rule.requires) :]
                chain = " -> ".join([cycle[0].task, *(r.requires for r in cycle)])
                raise KnowledgeError(
                    CARE_FILE,
                    f"prerequisites '{rule.id}'",
                    f"prerequisites form a cycle: {chain} (each waits for the next)",
                )
            if state.get(rule.requires) is None:
                visit(rule.requires)
            path.pop()
        state[task] = 2

    for task in list(edges):
        if state.get(task) is None:
            visit(task)


_KINDS: tuple[tuple[str, str, Callable[[KnowledgeBase], Iterable[BaseModel]]], ...] = (
    ("red-flag", "red_flags.yaml", lambda kb: kb.red_flags),
    ("safety-alert", "safety_alerts.yaml", lambda kb: kb.safety_alerts),
    ("etiology", "etiologies.yaml", lambda kb: kb.etiologies),
    ("workup", "workup.yaml", lambda kb: kb.workup.values()),
    ("treatment", "treatments.yaml", lambda kb: kb.treatments),
)


def _index(kb: KnowledgeBase) -> None:
    for kind, _file, get in _KINDS:
        for record in get(kb):
            record_id = str(getattr(record, "id", ""))
            # The same id may name a red flag and an etiology (e.g. infection): the first wins
            # the plain lookup, the kind-qualified key always finds each one.
            kb.records.setdefault(record_id, (kind, record))
            kb.records[f"{kind}:{record_id}"] = (kind, record)


def _check_links(kb: KnowledgeBase) -> None:
    for kind, file, get in _KINDS:
        for record in get(kb):
            entry = f"'{getattr(record, 'id', '?')}'"
            for ref in getattr(record, "references", []):
                if ref not in kb.references:
                    raise KnowledgeError(file, entry, f"unknown reference '{ref}'")
            for evidence in getattr(record, "evidence", []):
                for ref in evidence.references:
                    if ref not in kb.references:
                        raise KnowledgeError(
                            file, entry, f"evidence cites unknown reference '{ref}'"
                        )
            for flag_id in getattr(record, "red_flags", []) if kind == "etiology" else []:
                if not any(f.id == flag_id for f in kb.red_flags):
                    raise KnowledgeError(file, entry, f"unknown red flag '{flag_id}'")
            tests = list(getattr(record, "discriminating_tests", []))
            tests += list(getattr(record, "workup", {}) if kind == "red-flag" else [])
            for test in tests:
                if test not in kb.workup:
                    raise KnowledgeError(file, entry, f"unknown work-up item '{test}'")
    _check_steps(kb)


# The step of the assessment each rule file belongs to (see ASSESSMENT_FACTS).
_STEP_OF_FILE = {
    "red_flags.yaml": "red-flags",
    "safety_alerts.yaml": "red-flags",
    "etiologies.yaml": "etiologies",
    "treatments.yaml": "treatments",
    "workup.yaml": "workup",
    "surgical_review.yaml": "workup",
    "missing_information.yaml": "workup",
    "perspectives.yaml": "workup",
}
_STEPS = ("red-flags", "etiologies", "treatments", "workup")


def _check_steps(kb: KnowledgeBase) -> None:
    """A rule may only use conclusions of steps that come before its own."""
    groups: list[tuple[str, Iterable[BaseModel]]] = [
        ("red_flags.yaml", kb.red_flags),
        ("safety_alerts.yaml", kb.safety_alerts),
        ("etiologies.yaml", kb.etiologies),
        ("treatments.yaml", kb.treatments),
        ("workup.yaml", kb.workup.values()),
        ("surgical_review.yaml", kb.surgical_review),
        ("missing_information.yaml", kb.missing_information),
        ("perspectives.yaml", kb.perspective_findings),
    ]
    for file, records in groups:
        step = _STEPS.index(_STEP_OF_FILE[file])
        for i, record in enumerate(records):
            for condition in conditions_of(record):
                for fact in condition.facts:
                    first = ASSESSMENT_FACTS.get(fact)
                    if first is not None and _STEPS.index(first) > step:
                        entry = f"'{getattr(record, 'id', None) or i + 1}'"
                        raise KnowledgeError(
                            file, entry, f"uses {fact}, which is not known until the {first} step"
                        )


def conditions_of(record: BaseModel) -> Iterator[Condition]:
    """Every compiled condition inside a record, in document order."""
    if isinstance(record, Criterion):
        yield record.condition
    for attr in ("applies", "met", "done"):
        value = getattr(record, attr, None)
        if isinstance(value, Condition):
            yield value
    if isinstance(record, MissingItem) and record.condition is not None:
        yield record.condition
    for name in type(record).model_fields:
        value = getattr(record, name)
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, BaseModel):
                yield from conditions_of(item)
