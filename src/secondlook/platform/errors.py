"""The refusals a service raises, framework-free: a status (the HTTP one, since every adapter
speaks it or maps it), a problem type, a sentence saying what was wrong, and where.

The REST API renders a :class:`Refused` as RFC 9457 problem details, the web pages as a
message at the field, the command line on stderr with exit code 2. Which exception of the
core or the store stands for which refusal is decided once, in ``services.errors``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldProblem:
    """One problem and where it is: a JSON path into the body (``$.goals[0].target_on``), or
    ``query.NAME`` / ``header.NAME`` / ``path.NAME``."""

    path: str
    message: str
    hint: str | None = None


class Refused(Exception):
    """A request a service will not carry out. ``kind`` names the problem type (a stable
    identifier that docs/api.md lists), ``errors`` says where each problem is."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        kind: str | None = None,
        title: str | None = None,
        errors: list[Any] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or title or str(status))
        self.status = status
        self.detail = detail
        self.kind = kind
        self.title = title
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}


class StoreError(Exception):
    """What the store refuses; ``services.errors`` turns each into a :class:`Refused`."""


class NotFound(StoreError):
    pass


class StaleVersion(StoreError):
    """The caller's version is not the current one: someone else wrote in between."""

    def __init__(self, *, expected: int, current: int) -> None:
        super().__init__(f"version {expected} is not current (current is {current})")
        self.expected = expected
        self.current = current


class Conflict(StoreError):
    """The request contradicts what is stored (a taken username, a patient already linked...)."""
