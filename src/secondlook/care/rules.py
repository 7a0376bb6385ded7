"""The care rules: who owns each item, which tasks must come first, what an accepted item brings
with it, and how soon each is due.

They are knowledge, not code: ``knowledge/data/care_rules.yaml``, inside the knowledge base's
version and digest, each clinical rule with its references, checked when the knowledge base
loads (every owner a discipline, every id known, no prerequisite cycle). ``tasks.py`` only
interprets them; a new rule is a new entry there (and its test). docs/care.md lists them.
"""

from __future__ import annotations

from secondlook.knowledge.loader import KnowledgeBase, default_knowledge
from secondlook.knowledge.models import (
    CareRules,
    CareTask,
    DueAtStart,
    IfNotDone,
    PrerequisiteRule,
)

__all__ = [
    "CareRules",
    "CareTask",
    "DueAtStart",
    "IfNotDone",
    "PrerequisiteRule",
    "care_rules",
    "cited",
]


def care_rules(knowledge: KnowledgeBase | None = None) -> CareRules:
    """The care rules of ``knowledge`` (default: the shipped knowledge base)."""
    return (knowledge or default_knowledge()).care


def cited(rule: CareTask | PrerequisiteRule | DueAtStart) -> str:
    """A rule's reason with the ids of its references, for a task's note: ``reason [ref, ...]``
    (the knowledge book prints each reference in full)."""
    return f"{rule.because} [{', '.join(rule.references)}]"
