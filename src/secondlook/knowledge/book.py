"""The knowledge base as a book: each record in readable form, with its rules and references.

Clinicians review rules by reading them. One model, ``BookEntry``, holds everything a page of
the book shows: the texts, every rule with its condition as written (CEL reads almost like prose)
and the sentence it produces, applicability, work-up, prerequisites with when they count as met,
evidence, the care rules (owner, implied tasks, prerequisites), the facts the conditions use in
words, and the references. The command line (``render_text``) and the web page
(``web/templates/clinic/book_record.html``) only lay it out; neither decides what to show.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pydantic import BaseModel

from secondlook.case.facts import FACTS
from secondlook.knowledge.loader import KnowledgeBase, conditions_of
from secondlook.knowledge.models import (
    CareTask,
    Criterion,
    DueAtStart,
    Etiology,
    FlagTrigger,
    PrerequisiteRule,
    RedFlag,
    SafetyAlert,
    Treatment,
    UrgentCriterion,
    Workup,
)

KINDS = ("red-flag", "safety-alert", "etiology", "workup", "treatment")
KIND_TITLES = {
    "red-flag": "Red flags",
    "safety-alert": "Safety alerts",
    "etiology": "Causes (the differential)",
    "workup": "Work-up",
    "treatment": "Treatments",
}
_LEVEL_TITLES = {
    "contraindicated": "Contraindicated when",
    "not-recommended": "Not recommended when",
    "recommended": "Recommended when",
    "consider": "Consider when",
}


@dataclass(frozen=True, slots=True)
class BookLink:
    """Another page of the book."""

    kind: str
    id: str


@dataclass(frozen=True, slots=True)
class BookItem:
    """One line of a section: a sentence, optionally with the condition that makes it hold
    (as written, introduced by ``when_label``), a tag (weight, priority, stance), the
    references it cites and a link to the page of the record it names."""

    text: str
    when: str | None = None
    when_label: str = "when"
    tag: str | None = None
    references: tuple[str, ...] = ()
    link: BookLink | None = None


@dataclass(frozen=True, slots=True)
class BookSection:
    title: str
    items: tuple[BookItem, ...]


@dataclass(frozen=True, slots=True)
class Citation:
    id: str
    text: str


@dataclass(frozen=True, slots=True)
class BookEntry:
    """A page of the book: one record of one kind."""

    kind: str
    kind_title: str
    id: str
    title: str
    knowledge_version: str
    clinician: str
    patient: str
    sections: tuple[BookSection, ...]
    references: tuple[Citation, ...]


@dataclass(frozen=True, slots=True)
class Chapter:
    kind: str
    title: str
    entries: tuple[tuple[str, str], ...]  # (id, name)


# -- the index ------------------------------------------------------------------------------------


def record_index(kb: KnowledgeBase) -> list[tuple[str, str, str]]:
    """(kind, id, name) of every record, in the book's order."""
    out: list[tuple[str, str, str]] = []
    for kind in KINDS:
        for key, (k, record) in kb.records.items():
            if k == kind and key.startswith(f"{kind}:"):
                out.append((kind, key.split(":", 1)[1], str(getattr(record, "name", ""))))
    return out


def chapters(kb: KnowledgeBase) -> list[Chapter]:
    """The book's chapters, one per kind, each with its records' ids and names."""
    index = record_index(kb)
    return [
        Chapter(kind, KIND_TITLES[kind], tuple((i, n) for k, i, n in index if k == kind))
        for kind in KINDS
    ]


def similar_ids(kb: KnowledgeBase, record_id: str, limit: int = 3) -> list[str]:
    """Ids close to a mistyped one, best first (for "did you mean")."""
    ids = sorted({i for _, i, _ in record_index(kb)})
    return difflib.get_close_matches(record_id, ids, n=limit, cutoff=0.6)


# -- entries --------------------------------------------------------------------------------------


def book_entries(kb: KnowledgeBase, record_id: str) -> list[BookEntry]:
    """The pages for an id, one per kind it names ('infection' is a red flag and a cause);
    ``kind:id`` names one of them."""
    if ":" in record_id:
        kind, plain = record_id.split(":", 1)
        entry = book_entry(kb, kind, plain)
        return [entry] if entry is not None else []
    return [e for kind in KINDS if (e := book_entry(kb, kind, record_id)) is not None]


def book_entry(kb: KnowledgeBase, kind: str, record_id: str) -> BookEntry | None:
    """The page of one record of one kind, or None when there is no such record."""
    found = kb.records.get(f"{kind}:{record_id}") if kind in KIND_TITLES else None
    if found is None:
        return None
    record = found[1]
    sections = [s for s in _sections(kb, record) if s.items]
    glossary = _facts_used(record)
    if glossary:
        sections.append(BookSection("Facts these conditions use", glossary))
    cited = list(getattr(record, "references", []))
    for section in sections:
        for item in section.items:
            cited += item.references
    return BookEntry(
        kind=kind,
        kind_title=KIND_TITLES[kind],
        id=record_id,
        title=str(getattr(record, "name", record_id)),
        knowledge_version=kb.version,
        clinician=str(getattr(record, "clinician", "")),
        patient=str(getattr(record, "patient", "")),
        sections=tuple(sections),
        references=tuple(
            Citation(ref, kb.references[ref].citation)
            for ref in dict.fromkeys(cited)
            if ref in kb.references
        ),
    )


def _sections(kb: KnowledgeBase, record: BaseModel) -> Iterator[BookSection]:
    if isinstance(record, RedFlag):
        action = [BookItem(record.action, tag=record.urgency)]
        if record.surgical_review:
            action.append(BookItem("Surgical review", tag=record.surgical_review))
        yield BookSection("Action", tuple(action))
        yield _rules("Raised when any of these holds", record.triggers)
        yield BookSection(
            "Work-up",
            tuple(
                BookItem(_name(kb, w), tag=priority, link=BookLink("workup", w))
                for w, priority in record.workup.items()
            ),
        )
    elif isinstance(record, SafetyAlert):
        yield BookSection("Action", (BookItem(record.action),))
        yield _rules("Raised when any of these holds", record.triggers)
    elif isinstance(record, Etiology):
        about = [BookItem(f"Group: {record.group}"), BookItem(f"Perspective: {record.perspective}")]
        if record.context:
            about.append(BookItem(f"Context (not a probability): {record.context}"))
        yield BookSection("About", tuple(about))
        if record.applies_when:
            text = f"Otherwise listed as not applicable: {record.not_applicable}"
            yield BookSection("Applies only when", (BookItem(text, when=record.applies_when),))
        yield _rules("Supporting findings", record.supporting, weighted=True)
        yield _rules("Findings against", record.against, weighted=True)
        yield BookSection(
            "Tests that tell it apart",
            tuple(
                BookItem(_name(kb, t), link=BookLink("workup", t))
                for t in record.discriminating_tests
            ),
        )
        ranking = []
        if record.red_flags:
            flags = ", ".join(record.red_flags)
            ranking.append(
                BookItem(f"Ranks first among equally likely causes when raised: {flags}")
            )
        if record.exclusion:
            ranking.append(
                BookItem(
                    "A diagnosis of exclusion: ranks after specific causes of the same likelihood."
                )
            )
        yield BookSection("Ranking", tuple(ranking))
    elif isinstance(record, Workup):
        yield BookSection("About", (BookItem(f"Perspective: {record.perspective}"),))
        if record.applies_when:
            text = "Proposed only where it makes sense (region or situation)."
            yield BookSection("Applies only when", (BookItem(text, when=record.applies_when),))
        yield _rules("Indicated when", record.indications)
        if record.done_when:
            text = "The case documents it: not proposed again to tell causes apart."
            yield BookSection("Counts as done", (BookItem(text, when=record.done_when),))
        yield from _care(kb, record.id)
    elif isinstance(record, Treatment):
        order = "The first level whose rule holds decides: contraindicated, not recommended, "
        yield BookSection(
            "About",
            (
                BookItem(f"Perspective: {record.perspective}"),
                BookItem(order + "recommended, consider."),
            ),
        )
        for level, criteria in record.levels():
            yield _rules(_LEVEL_TITLES[level], criteria)
        yield BookSection("Otherwise", (BookItem(f"Not recommended: {record.otherwise}"),))
        yield BookSection(
            "Prerequisites",
            tuple(
                BookItem(p.text, when=p.met_when, when_label="met when")
                if p.met_when
                else BookItem(p.text, tag="to be documented")
                for p in record.prerequisites
            ),
        )
        yield BookSection(
            "Evidence",
            tuple(
                BookItem(e.summary, tag=e.stance, references=tuple(e.references))
                for e in record.evidence
            ),
        )
        yield from _care(kb, record.id)


def _rules(title: str, criteria: Iterable[Criterion], *, weighted: bool = False) -> BookSection:
    """Criteria with their tags: the weight (for causes only, where it decides likelihood),
    the priority of an indication, or the urgency a red-flag trigger raises to."""
    items = []
    for c in criteria:
        tag: str | None = c.weight if weighted else None
        if isinstance(c, FlagTrigger):
            tag = f"raises to {c.urgency}" if c.urgency else None
        if isinstance(c, UrgentCriterion):
            tag = c.priority
        items.append(BookItem(c.because, when=c.when, tag=tag))
    return BookSection(title, tuple(items))


def _care(kb: KnowledgeBase, key: str) -> Iterator[BookSection]:
    """The care rules of a work-up item or treatment: owner, tasks it brings, prerequisites."""
    care = kb.care
    plan = [
        BookItem(
            f"Task owner: {care.owner_of(key)} (a clinician's edit may name another "
            "discipline or a person)"
        )
    ]
    plan += [
        _cited(f"Due at the first visit. {d.because}", d) for d in care.due_at_start if d.id == key
    ]
    implied = [t for t in care.implied if t.brought_by == key]
    plan += [
        _cited(f"Brings the task: {t.name} (owner {t.owner}). {t.because}", t) for t in implied
    ]
    yield BookSection("Care plan", tuple(plan))
    waiting = {key, *(t.id for t in implied)}
    yield BookSection(
        "Tasks that come first",
        tuple(
            _prerequisite(kb, r, link=r.requires) for r in care.prerequisites if r.task in waiting
        ),
    )
    yield BookSection(
        "Comes before",
        tuple(_prerequisite(kb, r, link=r.task) for r in care.prerequisites if r.requires == key),
    )


def _prerequisite(kb: KnowledgeBase, rule: PrerequisiteRule, *, link: str) -> BookItem:
    text = f"{_name(kb, rule.task)} waits for {_name(kb, rule.requires)}"
    if rule.gap_days:
        text += f", due at least {rule.gap_days} days after it"
    if rule.waived_for:
        text += f"; not when it is {' or '.join(rule.waived_for)}"
    text += f" (rule {rule.id}). {rule.because}"
    tag = (
        "cancelled if the prerequisite fails or is cancelled"
        if rule.if_not_done == "cancel"
        else "proceeds if the prerequisite is not done"
    )
    kind = "workup" if link in kb.workup else "treatment"
    target = BookLink(kind, link) if kb.records.get(f"{kind}:{link}") else None
    return BookItem(text, tag=tag, references=tuple(rule.references), link=target)


def _cited(text: str, rule: CareTask | DueAtStart) -> BookItem:
    return BookItem(text, references=tuple(rule.references))


def _name(kb: KnowledgeBase, key: str) -> str:
    if key in kb.workup:
        return kb.workup[key].name
    found = kb.records.get(f"treatment:{key}")
    if found is not None:
        return str(getattr(found[1], "name", key))
    task = kb.care.task(key)
    return task.name if task is not None else key


def _facts_used(record: BaseModel) -> tuple[BookItem, ...]:
    """Every fact the record's conditions read, in words: the conditions in readable form."""
    names: dict[str, None] = {}
    for condition in conditions_of(record):
        names.update(dict.fromkeys(condition.facts))
    return tuple(BookItem(f"{n}: {FACTS[n].doc}") for n in names if n in FACTS)


# -- the text rendering (command line) ------------------------------------------------------------


def render_text(entry: BookEntry) -> str:
    """A page of the book as plain text."""
    lines = [
        f"{entry.title}  [{entry.kind} {entry.id}, knowledge {entry.knowledge_version}]",
        "",
        f"For clinicians: {entry.clinician}",
        f"For patients:   {entry.patient}",
    ]
    for section in entry.sections:
        lines += ["", f"{section.title}:"]
        for item in section.items:
            line = f"  - {item.text}"
            if item.tag:
                line += f"  ({item.tag})"
            if item.references:
                line += f" [{', '.join(item.references)}]"
            if item.link:
                line += f"  -> see {item.link.id}"
            lines.append(line)
            if item.when:
                lines.append(f"      {item.when_label} {item.when}")
    lines += ["", "References:"]
    lines += [f"  [{c.id}] {c.text}" for c in entry.references]
    return "\n".join(lines)


def render_record(kb: KnowledgeBase, record_id: str) -> list[str]:
    """The pages for an id as text (one per kind it names)."""
    return [render_text(e) for e in book_entries(kb, record_id)]
