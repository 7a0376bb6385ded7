"""Sign in and out with the API's session credentials (see `api.routes.accounts`)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import Response

from secondlook.http.deps import SESSION_COOKIE, SessionDep, access_of
from secondlook.http.signin import SignInRefused, set_session_cookie, sign_in
from secondlook.platform.access import ROLE_LABELS
from secondlook.services import accounts
from secondlook.web.common import (
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
    try:
        actor, secret = sign_in(
            request, session, username=username, password=password, resource="POST /login"
        )
    except SignInRefused as exc:
        error = (
            f"Too many failed sign-ins. Try again in {exc.retry_after} seconds."
            if exc.retry_after is not None
            else "Wrong username or password."
        )
        return render(
            request, "login.html", {"error": error, "username": username}, status=exc.status
        )
    response = redirect(home_for(actor))
    set_session_cookie(response, request, secret)
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep) -> Response:
    principal = session_principal(request, session)
    if principal is not None:
        accounts.end_session(session, access=access_of(request, principal))
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/account")
def account(request: Request, session: SessionDep) -> Response:
    """Who is signed in, where to go, and one's API tokens (read: ``token.read``)."""
    principal = session_principal(request, session)
    if principal is None:
        return redirect("/login")
    request.state.principal = principal
    tokens = accounts.list_tokens(
        session, access=access_of(request, principal), limit=100, after_id=0
    )
    return render(
        request,
        "account.html",
        {
            "role_label": ROLE_LABELS.get(principal.role, principal.role),  # type: ignore[call-overload]
            "tokens": tokens,
            "now": dt.datetime.now(dt.UTC),
        },
    )
