"""What the store refuses, in terms the HTTP layer can turn into problem details."""

from __future__ import annotations


class StoreError(Exception):
    pass


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
