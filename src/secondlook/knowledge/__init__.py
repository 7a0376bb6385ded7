"""The knowledge base as data: versioned, cited records with conditions over case facts."""

from secondlook.knowledge.loader import (
    KnowledgeBase,
    KnowledgeError,
    default_knowledge,
    load_knowledge,
)

__all__ = ["KnowledgeBase", "KnowledgeError", "default_knowledge", "load_knowledge"]
