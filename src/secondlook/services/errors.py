"""Which exception of the clinical core or the store stands for which refusal: decided here
once, for every adapter."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from secondlook.care import CareInvalid, PlanIncomplete, TransitionRefused
from secondlook.case import CaseInvalid
from secondlook.instruments import AnswersInvalid
from secondlook.platform.errors import Conflict, FieldProblem, NotFound, Refused, StaleVersion
from secondlook.store.passwords import WeakPassword


def refusal_of(exc: BaseException) -> Refused | None:
    """The refusal an exception stands for, or None for an unexpected exception."""
    if isinstance(exc, Refused):
        return exc
    if isinstance(exc, StaleVersion):
        return Refused(
            412,
            f"the resource changed: you sent version {exc.expected}, the current version is "
            f"{exc.current}. Read it again, reapply your change and send the new ETag.",
            kind="stale-version",
            extra={"current_version": exc.current},
        )
    if isinstance(exc, CaseInvalid):
        return Refused(
            422,
            f"the case document has {len(exc.problems)} problem(s); see errors",
            kind="case-invalid",
            title="Invalid case document",
            errors=[FieldProblem(p.path, p.message, p.hint) for p in exc.problems],
        )
    if isinstance(exc, AnswersInvalid):
        return Refused(
            422,
            "; ".join(exc.problems),
            kind="answers-invalid",
            title="Invalid questionnaire answers",
            errors=[FieldProblem("$.answers", m) for m in exc.problems],
        )
    if isinstance(exc, CareInvalid):
        return care_refusal(exc)
    if isinstance(exc, WeakPassword):
        return Refused(
            422,
            "the password does not meet the password rules; see errors",
            kind="request-invalid",
            title="Invalid request",
            errors=[FieldProblem("$.password", m) for m in exc.problems],
        )
    if isinstance(exc, NotFound):
        return Refused(404, f"{exc} not found")
    if isinstance(exc, Conflict):
        return Refused(409, str(exc), kind="conflict")
    return None


def _path(problem: str, where: Mapping[str, str]) -> str:
    """Where a care problem is in the request body: its leading item, goal or field name."""
    head = problem.split(": ", 1)[0]
    if head in where:
        return where[head]
    goal = re.match(r"goal '([^']*)'", head)
    if goal:
        return where.get(f"goal:{goal.group(1)}", "$.goals")
    field = head.split(" ", 1)[0].split("[", 1)[0]
    if re.fullmatch(r"[a-z_]+(\.[a-z_]+)*", field):
        return f"$.{field}"
    return "$"


def care_refusal(exc: CareInvalid, where: Mapping[str, str] | None = None) -> Refused:
    """The care domain's refusals: a task the state machine or its prerequisites do not let
    move, and a plan whose completion criteria do not hold, are 409; invalid input is 422 with
    one error per problem (``where`` maps an item or goal id to its JSON path)."""
    if isinstance(exc, TransitionRefused):
        return Refused(
            409,
            "; ".join(exc.problems),
            kind="transition-refused",
            title="Task status change refused",
            errors=[FieldProblem("$.status", p) for p in exc.problems],
        )
    if isinstance(exc, PlanIncomplete):
        return Refused(
            409,
            "the plan's completion criteria do not hold yet: " + "; ".join(exc.problems),
            kind="plan-incomplete",
            title="Plan not complete",
            errors=[FieldProblem("$.status", p) for p in exc.problems],
        )
    return Refused(
        422,
        f"the request has {len(exc.problems)} problem(s); see errors",
        kind="care-invalid",
        title="Invalid care request",
        errors=[FieldProblem(_path(p, where or {}), p) for p in exc.problems],
    )


@contextmanager
def care_errors(where: Mapping[str, str] | None = None) -> Iterator[None]:
    """Raise the care domain's refusals as :class:`Refused`, located with ``where``."""
    try:
        yield
    except CareInvalid as exc:
        raise care_refusal(exc, where) from None


def invalid(path: str, message: str, detail: str | None = None) -> Refused:
    """A 422 about one field of a care request."""
    return Refused(
        422,
        detail or message,
        kind="care-invalid",
        title="Invalid care request",
        errors=[FieldProblem(path, message)],
    )
