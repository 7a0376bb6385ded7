"""The alert inbox's actions: acknowledge and resolve from a page (forms with the CSRF token and
the version the page showed). The inbox itself is drawn on the patient list, the worklists and
the patient page from ``services.alerts``; this module only sends the forms there."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from secondlook.http.deps import SessionDep, access_of, path_id
from secondlook.platform.errors import Refused
from secondlook.platform.preconditions import IfMatchVersion
from secondlook.services import alerts
from secondlook.web.common import StaffUser, redirect, render

router = APIRouter(prefix="/clinic/alerts")
AlertPath = Annotated[int, path_id("the alert's id")]
#: Where a form may send the browser back to: the pages that show the inbox (never elsewhere).
_BACK = re.compile(r"/clinic/(patients|worklists|patients/[0-9]{1,10})")


def _field(form: FormData, name: str, limit: int) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _back(form: FormData) -> str:
    back = _field(form, "back", 40)
    return back if _BACK.fullmatch(back) else "/clinic/patients"


def _version(form: FormData) -> IfMatchVersion:
    text = _field(form, "version", 10)
    return IfMatchVersion.of(int(text)) if text.isdigit() else IfMatchVersion(None)


def _not_done(request: Request, exc: Refused, back: str) -> Response:
    """A refused action as a page that says why and leads back to the list."""
    if exc.status == 412:
        message = "Someone else acted on this alert meanwhile. Go back to see it as it is now."
    elif exc.status == 409:
        message = f"Not done: {exc.detail}."
    else:
        message = f"Not done: {exc.detail}"
    return render(
        request,
        "message.html",
        {"title": "The alert was not changed", "message": message, "back": back},
        status=exc.status,
    )


@router.post("/{alert_id}/acknowledge")
async def acknowledge(
    alert_id: AlertPath, request: Request, session: SessionDep, user: StaffUser
) -> Response:
    form = await request.form()
    back = _back(form)
    try:
        alerts.acknowledge(
            session,
            access=access_of(request, user),
            alert_id=alert_id,
            expected=_version(form),
            note=_field(form, "note", alerts.NOTE_LIMIT + 1) or None,
        )
    except Refused as exc:
        if exc.status not in (409, 412, 422, 428):
            raise
        return _not_done(request, exc, back)
    return redirect(f"{back}#alert-{alert_id}")


@router.post("/{alert_id}/resolve")
async def resolve(
    alert_id: AlertPath, request: Request, session: SessionDep, user: StaffUser
) -> Response:
    form = await request.form()
    back = _back(form)
    try:
        alerts.resolve(
            session,
            access=access_of(request, user),
            alert_id=alert_id,
            expected=_version(form),
            resolution=_field(form, "resolution", 40),
            note=_field(form, "note", alerts.NOTE_LIMIT + 1) or None,
        )
    except Refused as exc:
        if exc.status not in (409, 412, 422, 428):
            raise
        return _not_done(request, exc, back)
    return redirect(back)
