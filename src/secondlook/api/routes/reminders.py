"""A patient's choice of reminders of due questionnaires (docs/notifications.md): the same
choice as the portal's Reminders page, through services.notifications."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field, StrictBool

from secondlook.api.schemas import Strict
from secondlook.http.deps import AccessDep, IfMatch, SessionDep, etag
from secondlook.http.problems import error_responses
from secondlook.platform.preconditions import IfMatchVersion
from secondlook.services import notifications

router = APIRouter(tags=["reminders"])


class RemindersIn(Strict):
    enabled: StrictBool
    email: str | None = Field(default=None, max_length=320)


class RemindersOut(BaseModel):
    enabled: bool
    email: str | None
    version: int


def _out(choice: notifications.Reminders, response: Response) -> RemindersOut:
    response.headers["ETag"] = etag(choice.version)
    return RemindersOut(enabled=choice.enabled, email=choice.email, version=choice.version)


@router.get("/reminders", responses=error_responses(401, 403))
def read_reminders(access: AccessDep, session: SessionDep, response: Response) -> RemindersOut:
    """The signed-in patient's reminder choice (never chosen: off, version 1)."""
    return _out(notifications.reminders(session, access=access), response)


@router.put("/reminders", responses=error_responses(401, 403, 412, 422, 428))
def choose_reminders(
    body: RemindersIn,
    access: AccessDep,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> RemindersOut:
    """Turn reminders on (with an address) or off. Needs If-Match with the ETag read."""
    choice = notifications.set_reminders(
        session,
        access=access,
        enabled=body.enabled,
        email=body.email,
        if_match=IfMatchVersion(if_match),
    )
    return _out(choice, response)
