"""What the care routes share: the care domain's refusals (``services.errors.care_errors``), the
response shapes of stored rows, today's date, and keyset pages ordered by (date, id)."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request

from secondlook.api.routes.care_schemas import (
    DATE_PATTERN,
    EARLIEST,
    LATEST,
    PlanOut,
    TaskOut,
)
from secondlook.http.deps import DEFAULT_LIMIT, MAX_LIMIT
from secondlook.platform import clock
from secondlook.store.care_models import CarePlan, CareTask
from secondlook.store.care_worklists import DueCursor

T = TypeVar("T")


def today() -> dt.date:
    return clock.today()


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
        conference_id=plan.conference_id,
        version=plan.version,
        plan_version=plan.plan_version,
        closed_as=plan.closed_as,  # type: ignore[arg-type]
        created_at=plan.created_at,
        updated_at=plan.updated_at,
        href=plan_href(plan),
        versions=f"{plan_href(plan)}/versions",
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
