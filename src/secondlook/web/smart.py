"""SMART App Launch 2.0, EHR launch (docs/fhir.md, "SMART EHR launch"): the EHR opens
``/smart/launch``, the EHR's authorization server sends the browser back to ``/smart/callback``,
and SecondLook imports the patient's record from the EHR as a new case version, then shows the
clinician's patient page.

The launch does not sign anyone in to SecondLook: the clinician must already be signed in in
that browser, and the pending launch is bound to that session. Signed out, the launch page says
so and links to the sign-in page; the EHR's launch token is short-lived, so the clinician
launches again from the EHR once signed in (nothing of the EHR's is kept for a signed-out
browser)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from secondlook.fhir import smart
from secondlook.http.deps import SESSION_COOKIE, SessionDep, access_of
from secondlook.platform import clock
from secondlook.platform.access import Principal
from secondlook.services import smart as smart_import
from secondlook.web.common import (
    STAFF_ROLES,
    redirect,
    render,
    session_principal,
)

router = APIRouter(prefix="/smart")
_ERROR_CODE = re.compile(r"^[a-z_]{1,40}$")


def _page(request: Request, title: str, message: str, status: int) -> Response:
    return render(request, "message.html", {"title": title, "message": message}, status=status)


def _signed_in(request: Request, session: SessionDep) -> Principal | Response:
    principal = session_principal(request, session)
    if principal is None:
        return _page(
            request,
            "Sign in to SecondLook first",
            "The EHR asked SecondLook to open this patient, but no one is signed in to "
            "SecondLook in this browser. Sign in, then open SecondLook again from the EHR.",
            401,
        )
    request.state.principal = principal
    if principal.role not in STAFF_ROLES:
        return _page(
            request,
            "Not allowed",
            f"Opening a patient from the EHR is for clinical staff, not the {principal.role} role.",
            403,
        )
    return principal


def _config(request: Request) -> smart.SmartConfig | None:
    return getattr(request.app.state, "smart", None)


@router.get("/launch")
async def launch(
    request: Request,
    session: SessionDep,
    iss: Annotated[str, Query(max_length=500)] = "",
    launch: Annotated[str, Query(max_length=2000)] = "",
) -> Response:
    config = _config(request)
    if config is None:
        return _page(
            request,
            "EHR launch is not configured",
            "This SecondLook has no EHR to launch from (SECONDLOOK_SMART_CLIENTS).",
            404,
        )
    principal = _signed_in(request, session)
    if isinstance(principal, Response):
        return principal
    if not iss or not launch:
        return _page(
            request,
            "Not an EHR launch",
            "The address lacks iss or launch: open SecondLook from the patient's chart in the EHR.",
            400,
        )
    base = request.app.state.public_base_url
    try:
        authorize = await run_in_threadpool(
            smart.start,
            config,
            iss=iss,
            launch=launch,
            redirect_uri=f"{base}/smart/callback",
            browser=smart.browser_key(request.cookies.get(SESSION_COOKIE, "")),
        )
        request.app.state.smart_pending.put(authorize.state, authorize.pending)
    except smart.LaunchRefused as refused:
        return _page(request, "The EHR launch was refused", f"SecondLook refused: {refused}.", 400)
    return redirect(authorize.url)


@router.get("/callback")
async def callback(
    request: Request,
    session: SessionDep,
    code: Annotated[str, Query(max_length=4000)] = "",
    state: Annotated[str, Query(max_length=200)] = "",
    error: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    config = _config(request)
    if config is None:
        return _page(request, "EHR launch is not configured", "No EHR is configured.", 404)
    principal = _signed_in(request, session)
    if isinstance(principal, Response):
        return principal
    pending = request.app.state.smart_pending.take(state) if state else None
    browser = smart.browser_key(request.cookies.get(SESSION_COOKIE, ""))
    if pending is None or pending.browser != browser:
        return _page(
            request,
            "This launch is not valid",
            "SecondLook did not start this launch in this browser, or it was already used or "
            "has expired. Open SecondLook again from the EHR.",
            400,
        )
    if error or not code:
        said = error if _ERROR_CODE.match(error) else "no authorization code"
        return _page(
            request, "The EHR did not authorize SecondLook", f"The EHR answered: {said}.", 400
        )
    try:
        granted = await run_in_threadpool(smart.exchange, config, pending, code)
        gathered = await run_in_threadpool(
            smart.read_record, config, pending, granted, clock.today()
        )
    except smart.LaunchRefused as refused:
        return _page(request, "The EHR launch failed", f"SecondLook refused: {refused}.", 502)
    imported = smart_import.import_launch(
        session,
        access=access_of(request, principal),
        issuer=pending.iss,
        ehr_patient_id=granted.patient,
        bundle=gathered.bundle,
        problems=gathered.problems,
        mrn_system=request.app.state.mrn_system,
        today=clock.today(),
    )
    return redirect(f"/clinic/patients/{imported.patient_id}")
