"""Signing in with a password, shared by the API (`POST /api/v1/session`) and the web page
(`POST /login`): one place for the rate limit, the audit of every attempt and the cookie."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request, Response
from sqlalchemy.orm import Session

from secondlook.http.deps import SESSION_COOKIE, client_address
from secondlook.store import accounts, audit


@dataclass
class SignInRefused(Exception):
    """Wrong credentials (401) or too many failures (429, with seconds to wait)."""

    status: int
    detail: str
    retry_after: int | None = None


def sign_in(
    request: Request, session: Session, *, username: str, password: str, resource: str
) -> tuple[accounts.Principal, str]:
    """Check the password and open a session: (who, the session secret). Every attempt,
    successful or not, is audited under `resource`; a refusal raises SignInRefused."""
    username = username[:100]
    client = client_address(request)
    try:
        user = accounts.authenticate(session, username=username, password=password, client=client)
    except accounts.RateLimited as exc:
        session.rollback()
        _audit(session, resource, username, client, "denied", 429, "rate limited")
        raise SignInRefused(429, "rate limited", exc.retry_after) from None
    except accounts.InvalidCredentials:
        _audit(session, resource, username, client, "denied", 401, "wrong username or password")
        raise SignInRefused(401, "wrong username or password") from None
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
    _audit(session, resource, user.username, client, "success", 200, None, actor=actor)
    return actor, secret


def set_session_cookie(response: Response, request: Request, secret: str) -> None:
    """HttpOnly, SameSite=Lax, Secure when served over https."""
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(accounts.SESSION_TTL.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def _audit(
    session: Session,
    resource: str,
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
        resource=resource,
        outcome=outcome,
        status=status,
        organization_id=organization,
        username=username,
        client=client,
        detail=detail,
    )
    session.commit()
