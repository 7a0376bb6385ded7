"""The audit trail, for admins of the organization. Read-only: there is no route that changes or
removes an event (other methods answer 405), and the database refuses it too."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BeforeValidator

from secondlook.api.schemas import AuditEventOut
from secondlook.api.schemas import Page as PageOf
from secondlook.http.deps import AccessDep, Page, SessionDep
from secondlook.http.problems import error_responses
from secondlook.platform.ids import MAX_ID
from secondlook.services import audit_trail

router = APIRouter(prefix="/audit", tags=["audit"])

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?")


def _rfc3339(value: object) -> object:
    """Only timestamps written out (pydantic would also read a bare number as epoch seconds)."""
    if isinstance(value, str) and not _RFC3339.fullmatch(value):
        raise ValueError("expected an RFC 3339 timestamp such as 2026-11-21T13:00:00Z")
    return value


Timestamp = Annotated[dt.datetime, BeforeValidator(_rfc3339)]


@router.get("", responses=error_responses(401, 403, 422))
def query_audit(
    access: AccessDep,
    session: SessionDep,
    page: Page,
    request: Request,
    patient_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    actor_user_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    action: Annotated[
        str | None, Query(max_length=64, pattern=r"^[a-z][a-z._-]*$", examples=["case.read"])
    ] = None,
    outcome: Annotated[Literal["success", "denied", "failed"] | None, Query()] = None,
    since: Annotated[Timestamp | None, Query(description="inclusive, RFC 3339")] = None,
    until: Annotated[Timestamp | None, Query(description="exclusive, RFC 3339")] = None,
) -> PageOf[AuditEventOut]:
    """Audit events of your organization, oldest first, filtered. Reading the trail is itself
    recorded."""
    rows = audit_trail.query(
        session,
        access=access,
        limit=page.limit + 1,
        after_id=page.position,
        patient_id=patient_id,
        actor_user_id=actor_user_id,
        action=action,
        outcome=outcome,
        since=_aware(since),
        until=_aware(until),
    )
    rows, next_page = page.cut(rows, request, lambda row: row.event.id)
    return PageOf[AuditEventOut](
        items=[
            AuditEventOut.model_validate(e.event, from_attributes=True).model_copy(
                update={"disclosed_patient_ids": e.disclosed}
            )
            for e in rows
        ],
        next=next_page,
    )


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    """Read a timestamp without a zone as UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt.UTC)
