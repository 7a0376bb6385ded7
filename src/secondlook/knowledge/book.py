"""The knowledge base as a book: each record in readable form, with its rules and references.

Clinicians review rules by reading them. The conditions are shown as written (CEL reads almost
like prose), with the sentence each one produces and its weight or level.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from secondlook.knowledge.loader import KnowledgeBase
from secondlook.knowledge.models import (
    Criterion,
    Etiology,
    FlagTrigger,
    RedFlag,
    SafetyAlert,
    Treatment,
    UrgentCriterion,
    Workup,
)

KINDS = ("red-flag", "safety-alert", "etiology", "workup", "treatment")


def record_index(kb: KnowledgeBase) -> list[tuple[str, str, str]]:
    """(kind, id, name) of every record, in the book's order."""
    out: list[tuple[str, str, str]] = []
    for kind in KINDS:
        for key, (k, record) in kb.records.items():
            if k == kind and key.startswith(f"{kind}:"):
                out.append((kind, key.split(":", 1)[1], str(getattr(record, "name", ""))))
    return out


def render_record(kb: KnowledgeBase, record_id: str) -> list[str]:
    """The pages for an id (one per kind it names: 'infection' is a red flag and a cause)."""
    pages = []
    for kind in KINDS:
        found = kb.records.get(f"{kind}:{record_id}")
        if found is not None:
            pages.append(_page(kb, kind, found[1]))
    return pages


def _page(kb: KnowledgeBase, kind: str, record: object) -> str:
    lines: list[str] = []
    w = lines.append
    name = getattr(record, "name", "")
    w(f"{name}  [{kind} {getattr(record, 'id', '')}, knowledge {kb.version}]")
    w("")
    w(f"For clinicians: {getattr(record, 'clinician', '')}")
    w(f"For patients:   {getattr(record, 'patient', '')}")
    if isinstance(record, RedFlag):
        w(f"Urgency: {record.urgency}. Action: {record.action}")
        _rules(w, "Raised when any of these holds", record.triggers)
        if record.workup:
            w("Work-up: " + ", ".join(f"{k} ({v})" for k, v in record.workup.items()))
    elif isinstance(record, SafetyAlert):
        w(f"Action: {record.action}")
        _rules(w, "Raised when any of these holds", record.triggers)
    elif isinstance(record, Etiology):
        w(f"Group: {record.group}. Perspective: {record.perspective}.")
        if record.context:
            w(f"Context (not a probability): {record.context}")
        if record.applies_when:
            w(f"Applies only when: {record.applies_when}  (else: {record.not_applicable})")
        _rules(w, "Supporting findings", record.supporting)
        _rules(w, "Findings against", record.against)
        w(f"Tests that tell it apart: {', '.join(record.discriminating_tests) or '-'}")
        if record.red_flags:
            w(f"Ranks first among equally likely causes when raised: {', '.join(record.red_flags)}")
        if record.exclusion:
            w("A diagnosis of exclusion: ranks after specific causes of the same likelihood.")
    elif isinstance(record, Workup):
        w(f"Perspective: {record.perspective}.")
        if record.applies_when:
            w(f"Applies only when: {record.applies_when}")
        _rules(w, "Indicated when", record.indications)
    elif isinstance(record, Treatment):
        w(f"Perspective: {record.perspective}. The first level whose rule holds decides.")
        for level, criteria in record.levels():
            _rules(w, level.capitalize(), criteria)
        w(f"Otherwise not recommended: {record.otherwise}")
        for p in record.prerequisites:
            w(f"Prerequisite: {p.text}" + (f"  (met when {p.met_when})" if p.met_when else ""))
        for e in record.evidence:
            w(f"Evidence {e.stance}: {e.summary} [{', '.join(e.references)}]")
    w("")
    w("References:")
    for ref in getattr(record, "references", []):
        w(f"  [{ref}] {kb.references[ref].citation}")
    return "\n".join(lines)


def _rules(write: Callable[[str], None], title: str, criteria: Iterable[Criterion]) -> None:
    items = list(criteria)
    if not items:
        return
    write(f"{title}:")
    for c in items:
        tag: str = c.weight if not isinstance(c, FlagTrigger | UrgentCriterion) else ""
        if isinstance(c, FlagTrigger) and c.urgency:
            tag = f"raises to {c.urgency}"
        if isinstance(c, UrgentCriterion):
            tag = c.priority
        write(f"  - when {c.when}")
        write(f"      -> {c.because}" + (f"  ({tag})" if tag else ""))
