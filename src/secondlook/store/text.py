"""Text the databases can store. PostgreSQL refuses NUL (U+0000) in text and JSONB, so such
input is refused up front (as a validation problem) rather than failing at the database."""

from __future__ import annotations

import unicodedata

NUL = "\x00"


def nul_paths(value: object, path: str = "$") -> list[str]:
    """JSON paths of the strings (keys included) in `value` that contain NUL."""
    if isinstance(value, str):
        return [path] if NUL in value else []
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            where = f"{path}.{key}"
            if isinstance(key, str) and NUL in key:
                found.append(where)
            found += nul_paths(item, where)
        return found
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in nul_paths(item, f"{path}[{i}]")]
    return []


def printable(value: str | None) -> str | None:
    """`value` with NUL shown as an escape, for records that must be written whatever came in."""
    return None if value is None else value.replace(NUL, "\\x00")


def search_key(*parts: str | None) -> str:
    """What a search compares: the words of ``parts`` without accents or case, one space apart
    ("Zoë  O'Brien", "MRN-0042" -> "zoe o'brien mrn-0042"), so "obrien"-like typing aside, a
    name is found whatever its diacritics and whichever order its words are typed in."""
    text = " ".join(p for p in parts if p)
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.casefold().split())
