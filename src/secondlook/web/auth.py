"""Sign in and out with the API's session credentials (see `api.routes.accounts`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from secondlook.api.deps import SESSION_COOKIE, SessionDep
from secondlook.store import accounts, audit
from secondlook.store.models import Credential
from secondlook.web.common import (
    client_address,
    home_for,
    redirect,
    render,
    session_principal,
)

router = APIRouter()


@router.get("/")
def start(request: Request, session: SessionDep) -> Response:
    principal = session_principal(request, session)
    return redirect(home_for(principal) if principal else "/login")


@router.get("/login")
def login_page(request: Request, session: SessionDep) -> Response:
    principal = session_principal(request, session)
    if principal is not None:
        return redirect(home_for(principal))
    return render(request, "login.html")


@router.post("/login")
async def login(request: Request, session: SessionDep) -> Response:
    form = await request.form()
    username = str(form.get("username") or "")[:100]
    password = str(form.get("password") or "")
    client = client_address(request)
    try:
        user = accounts.authenticate(session, username=username, password=password, client=client)
    except accounts.RateLimited as exc:
        session.rollback()
        _audit(session, username, client, "denied", 429, "rate limited")
        return render(
            request,
            "login.html",
            {
                "error": f"Too many failed sign-ins. Try again in {exc.retry_after} seconds.",
                "username": username,
            },
            status=429,
        )
    except accounts.InvalidCredentials:
        _audit(session, username, client, "denied", 401, "wrong username or password")
        return render(
            request,
            "login.html",
            {"error": "Wrong username or password.", "username": username},
            status=401,
        )
    credential, secret = accounts.issue_credential(
        session, user=user, kind="session", lifetime=accounts.SESSION_TTL
    )
    actor = accounts.Principal(
        user_id=user.id,
        username=user.username,
        role=user.role,
        organization_id=user.organization_id,
        patient_id=user.patient_id,
        credential_id=credential.id,
        credential_kind="session",
    )
    _audit(session, username, client, "success", 200, None, actor=actor)
    response = redirect(home_for(actor))
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(accounts.SESSION_TTL.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


def _audit(
    session: SessionDep,
    username: str,
    client: str,
    outcome: str,
    status: int,
    detail: str | None,
    *,
    actor: accounts.Principal | None = None,
) -> None:
    organization = None
    if actor is None:
        known = accounts.user_by_username(session, username=username)
        organization = known.organization_id if known else None
    audit.record(
        session,
        actor=actor,
        action="session.create",
        resource="POST /login",
        outcome=outcome,
        status=status,
        organization_id=organization,
        username=username,
        client=client,
        detail=detail,
    )
    session.commit()


@router.post("/logout")
def logout(request: Request, session: SessionDep) -> Response:
    principal = session_principal(request, session)
    if principal is not None and principal.credential_kind == "session":
        credential = session.get(Credential, principal.credential_id)
        if credential is not None:
            accounts.revoke_credential(session, credential=credential)
        session.commit()
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/account")
def account(request: Request, session: SessionDep) -> Response:
    principal = session_principal(request, session)
    if principal is None:
        return redirect("/login")
    request.state.principal = principal
    return render(
        request,
        "message.html",
        {
            "title": "Your account",
            "message": "Administrators manage users and read the audit trail through the API "
            "(/api/v1/users, /api/v1/audit; see docs/api.md). Clinical pages are not "
            "available to this role.",
        },
    )
