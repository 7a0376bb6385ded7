"""OperationOutcome documents, the import error, and the record of what could not be mapped."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["fatal", "error", "warning", "information"]


@dataclass(frozen=True, slots=True)
class Issue:
    """One OperationOutcome issue: how bad, what kind (FHIR issue-type code), what, where."""

    severity: Severity
    code: str
    diagnostics: str
    expression: str | None = None

    def as_fhir(self) -> dict[str, Any]:
        issue: dict[str, Any] = {
            "severity": self.severity,
            "code": self.code,
            "diagnostics": self.diagnostics,
        }
        if self.expression:
            issue["expression"] = [self.expression]
        return issue


def operation_outcome(issues: Iterable[Issue]) -> dict[str, Any]:
    """An R4 OperationOutcome (a JSON-ready dict) with the given issues (at least one)."""
    listed = [i.as_fhir() for i in issues]
    if not listed:
        listed = [{"severity": "information", "code": "informational", "diagnostics": "all ok"}]
    return {"resourceType": "OperationOutcome", "issue": listed}


class BundleInvalid(ValueError):
    """The input is not a Bundle SecondLook can read; ``outcome`` says why (an OperationOutcome).

    Raised for malformed bundles, unknown resource types and references to resources that are not
    in the bundle. Anything else about the content (unmapped data, an incomplete case) is
    reported in the ImportResult instead.
    """

    def __init__(self, issues: Iterable[Issue]) -> None:
        self.issues = list(issues)
        self.outcome = operation_outcome(self.issues)
        super().__init__("; ".join(_line(i) for i in self.issues))


def _line(issue: Issue) -> str:
    where = f" at {issue.expression}" if issue.expression else ""
    return f"{issue.severity} {issue.code}{where}: {issue.diagnostics}"


def issue_line(issue: Issue) -> str:
    """One line for a terminal: ``error invalid at Bundle.entry[3]...: why``."""
    return _line(issue)


@dataclass(frozen=True, slots=True)
class Unmapped:
    """An item of the bundle that did not make it into the case document, and why."""

    resource_type: str
    id: str | None
    path: str
    reason: str

    def as_dict(self) -> dict[str, str | None]:
        return {
            "resource_type": self.resource_type,
            "id": self.id,
            "path": self.path,
            "reason": self.reason,
        }

    def as_issue(self) -> Issue:
        return Issue("information", "not-supported", self.reason, self.path)

    def __str__(self) -> str:
        ident = f"/{self.id}" if self.id else ""
        return f"{self.resource_type}{ident} {self.path}: {self.reason}"
