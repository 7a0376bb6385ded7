"""What the care routes share: turning the care domain's refusals into problem details, the
response shapes of stored rows, today's date, and keyset pages ordered by (date, id)."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request

from secondlook.api.deps import DEFAULT_LIMIT, MAX_LIMIT
from secondlook.api.problems import ApiProblem, ProblemField
from secondlook.api.routes.care_schemas import (
    DATE_PATTERN,
    EARLIEST,
    LATEST,
    PlanOut,
    TaskOut,
)
from secondlook.care import CareInvalid, TransitionRefused
from secondlook.store.care_models import CarePlan, CareTask
from secondlook.store.care_records import DueCursor, PlanIncomplete

T = TypeVar("T")


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _path(problem: str, where: Mapping[str, str]) -> str:
    """Where a domain problem is in the request body: its leading item, goal or field name."""
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


@contextmanager
def care_errors(where: Mapping[str, str] | None = None) -> Iterator[None]:
    """Answer the domain's refusals as problems: a task the state machine or its prerequisites
    do not let move, and a plan whose completion criteria do not hold, are 409; invalid input
    is 422 with one error per problem (`where` maps an item or goal id to its JSON path)."""
    try:
        yield
    except TransitionRefused as exc:
        raise ApiProblem(
            409,
            "; ".join(exc.problems),
            kind="transition-refused",
            title="Task status change refused",
            errors=[ProblemField(path="$.status", message=p) for p in exc.problems],
        ) from None
    except PlanIncomplete as exc:
        raise ApiProblem(
            409,
            "the plan's completion criteria do not hold yet: " + "; ".join(exc.problems),
            kind="plan-incomplete",
            title="Plan not complete",
            errors=[ProblemField(path="$.status", message=p) for p in exc.problems],
        ) from None
    except CareInvalid as exc:
        raise ApiProblem(
            422,
            f"the request has {len(exc.problems)} problem(s); see errors",
            kind="care-invalid",
            title="Invalid care request",
            errors=[ProblemField(path=_path(p, where or {}), message=p) for p in exc.problems],
        ) from None


def plan_href(plan: CarePlan) -> str:
    return f"/api/v1/patients/{plan.patient_id}/care/plans/{plan.id}"


def plan_out(plan: CarePlan) -> PlanOut:
    return PlanOut(
        id=plan.id,
        patient_id=plan.patient_id,
        assessment_id=plan.assessment_id,
        status=plan.status,  # type: ignore[arg-type]
        case_id=plan.case_id,
        knowledge_version=plan.knowledge_version,
        engine_version=plan.engine_version,
        region=plan.region,
        proposed_on=plan.proposed_on,
        decided_on=plan.decided_on,
        decided_by=plan.decided_by,
        start_on=plan.start_on,
        review_on=plan.review_on,
        closed_on=plan.closed_on,
        closed_reason=plan.closed_reason,
        entries=plan.entries,
        goals=plan.goals,
        completion=plan.completion,
        version=plan.version,
        created_at=plan.created_at,
        updated_at=plan.updated_at,
        href=plan_href(plan),
    )


def task_href(task: CareTask) -> str:
    return f"/api/v1/patients/{task.patient_id}/care/tasks/{task.id}"


def task_fields(task: CareTask, waiting: Mapping[str, list[str]] | None = None) -> dict[str, Any]:
    return {
        "id": task.id,
        "patient_id": task.patient_id,
        "plan_id": task.plan_id,
        "task_key": task.task_key,
        "kind": task.kind,
        "key": task.key,
        "name": task.name,
        "plan_item_id": task.plan_item_id,
        "owner": task.owner,
        "person": task.person,
        "assignee_user_id": task.assignee_user_id,
        "due": task.due,
        "status": task.status,
        "priority": task.priority,
        "note": task.note,
        "status_on": task.status_on,
        "status_reason": task.status_reason,
        "blocked_by": task.blocked_by,
        "waiting_on": None if waiting is None else waiting.get(task.task_key),
        "instrument": task.instrument,
        "time_point": task.time_point,
        "version": task.version,
        "href": task_href(task),
    }


def task_out(task: CareTask, waiting: Mapping[str, list[str]] | None = None) -> TaskOut:
    return TaskOut(**task_fields(task, waiting))


# --- pages ordered by a date, then id ------------------------------------------------------------


@dataclass(frozen=True)
class DuePage:
    limit: int
    after: DueCursor | None

    def cut(self, rows: Sequence[T], request: Request, key: Any) -> tuple[Sequence[T], str | None]:
        """The rows of this page (one more was fetched) and the link to the next: its cursor is
        the last row's date (as a day number) and id."""
        if len(rows) <= self.limit:
            return rows, None
        rows = rows[: self.limit]
        day, ident = key(rows[-1])
        url = request.url.include_query_params(
            limit=self.limit, cursor=f"{day.toordinal()}~{ident}"
        )
        return rows, f"{url.path}?{url.query}"


def due_pagination(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"page size, at most {MAX_LIMIT}")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(
            max_length=20,
            pattern=r"^[0-9]{1,7}~[0-9]{1,10}$",
            description="where the page starts: take it from `next`",
        ),
    ] = None,
) -> DuePage:
    if cursor is None:
        return DuePage(limit, None)
    day, ident = cursor.split("~")
    ordinal = min(max(int(day), EARLIEST.toordinal()), LATEST.toordinal())
    return DuePage(limit, DueCursor(dt.date.fromordinal(ordinal), int(ident)))


DuePageDep = Annotated[DuePage, Depends(due_pagination)]

AsOf = Annotated[
    str | None,
    Query(
        pattern=DATE_PATTERN,
        description="the day to compute for, YYYY-MM-DD (default today, UTC); a day past the "
        "end of its month counts as the month's last day",
    ),
]


def day_or_today(value: str | None) -> dt.date:
    if value is None:
        return today()
    year, month, day = (int(part) for part in value.split("-"))
    return dt.date(year, month, min(day, calendar.monthrange(year, month)[1]))
