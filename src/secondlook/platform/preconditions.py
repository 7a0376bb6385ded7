"""Optimistic concurrency: the version a writer read, as If-Match names it (RFC 9110 13.1.1).

A service is handed an :class:`IfMatchVersion` and asks for the version only after it has
authorized the act, so a caller who may not write learns that first (403), not how to write
(428)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from secondlook.platform.errors import Refused

MAX_VERSION = 2**31 - 1  # versions are 32-bit integers in the database


@dataclass(frozen=True)
class IfMatchVersion:
    """The If-Match value a request sent (None: none was sent)."""

    value: str | None

    @classmethod
    def of(cls, version: int) -> IfMatchVersion:
        """The precondition for a version read from a form (a page's hidden field)."""
        return cls(f'"{version}"')

    def required(self) -> int:
        """The version named: 428 without a usable one, 412 for a tag that cannot match (a
        weak tag never matches If-Match)."""
        return _required_version(self.value)


_ENTITY_TAG = re.compile(r'(W/)?"([0-9]{1,10})"')


def _required_version(if_match: str | None) -> int:
    """The version named by If-Match: 428 without a usable one, 412 for a tag
    that cannot match (a weak tag never matches If-Match, RFC 9110 13.1.1)."""
    if if_match is None or not if_match.strip():
        raise Refused(
            428,
            "this write needs If-Match with the ETag you read (GET the resource first)",
            kind="precondition-required",
        )
    value = if_match.strip()
    if value == "*" or "," in value:
        raise Refused(
            428,
            "If-Match must carry exactly one ETag, the one you read; `*` does not protect "
            "against lost updates and is not accepted",
            kind="precondition-required",
        )
    tag = _ENTITY_TAG.fullmatch(value)
    if tag is None:
        raise Refused(
            428,
            f'If-Match {value[:40]!r} is not an entity tag; send the ETag as received, e.g. "3"',
            kind="precondition-required",
        )
    if tag.group(1):
        raise Refused(
            412,
            "weak entity tags never match If-Match (RFC 9110); send the ETag as received",
            kind="stale-version",
        )
    version = int(tag.group(2))
    if not 1 <= version <= MAX_VERSION:
        raise Refused(412, f"{value} is not a current ETag of this resource", kind="stale-version")
    return version
