"""Accounts: browser sessions, API tokens and (for admins) the users of the organization."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError

from secondlook.api.schemas import (
    LoginIn,
    SessionOut,
    TokenCreated,
    TokenIn,
    TokenOut,
    UserIn,
    UserOut,
    UserPatch,
)
from secondlook.api.schemas import Page as PageOf
from secondlook.http.deps import (
    SESSION_COOKIE,
    AccessDep,
    CurrentUser,
    IfMatch,
    Page,
    SessionDep,
    etag,
    path_id,
)
from secondlook.http.problems import (
    ApiProblem,
    ProblemField,
    error_responses,
    validation_problem,
)
from secondlook.http.signin import SignInRefused, set_session_cookie, sign_in
from secondlook.platform.access import Principal
from secondlook.platform.ids import MAX_ID
from secondlook.platform.preconditions import IfMatchVersion
from secondlook.services import accounts
from secondlook.store.models import Credential, User

router = APIRouter(tags=["accounts"])

_LOGIN_SCHEMA = LoginIn.model_json_schema()
_LOGIN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _LOGIN_SCHEMA},
            "application/x-www-form-urlencoded": {"schema": _LOGIN_SCHEMA},
        },
    }
}


async def _login_body(request: Request) -> LoginIn:
    """The credentials, as JSON or as an HTML form post."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type == "application/x-www-form-urlencoded":
            form = await request.form()
            return LoginIn.model_validate({k: v for k, v in form.items() if isinstance(v, str)})
        return LoginIn.model_validate_json(await request.body())
    except ValidationError as exc:
        raise validation_problem(
            exc, "send a JSON object or form with username and password"
        ) from None


def _user_schemas() -> dict[str, Any]:
    """UserIn as two shapes, so the OpenAPI document says what the route enforces: a patient
    user has a patient_id, other roles have none."""
    base = UserIn.model_json_schema()
    staff = copy.deepcopy(base)
    del staff["properties"]["patient_id"]
    staff["properties"]["role"] = {"enum": ["clinician", "coordinator", "admin"], "type": "string"}
    patient = copy.deepcopy(base)
    patient["properties"]["role"] = {"const": "patient", "type": "string"}
    patient["properties"]["patient_id"] = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
    patient["required"] = [*base["required"], "patient_id"]
    schema = {"oneOf": [staff, patient]}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


async def _user_body(request: Request) -> UserIn:
    try:
        body = UserIn.model_validate_json(await request.body())
    except ValidationError as exc:
        raise validation_problem(exc, "the request has problems; see errors") from None
    if (body.role == "patient") != (body.patient_id is not None):
        raise ApiProblem(
            422,
            "a patient user links to exactly one patient record (patient_id); other roles to none",
            kind="request-invalid",
            title="Invalid request",
            errors=[ProblemField(path="$.patient_id", message="required exactly for role patient")],
        )
    return body


def _session_out(principal: Principal) -> SessionOut:
    return SessionOut(
        user_id=principal.user_id,
        username=principal.username,
        role=principal.role,  # type: ignore[arg-type]  # checked by the database
        organization_id=principal.organization_id,
        patient_id=principal.patient_id,
        via=principal.credential_kind,  # type: ignore[arg-type]  # checked by the database
    )


@router.post(
    "/session",
    responses=error_responses(401, 422, 429),
    openapi_extra=_LOGIN_BODY,
)
def log_in(
    request: Request,
    response: Response,
    session: SessionDep,
    body: Annotated[LoginIn, Depends(_login_body)],
) -> SessionOut:
    """Log in with username and password. Sets an HttpOnly, SameSite=Lax session cookie (Secure
    over https). After 5 failures for a username, or 20 from one address, within 15 minutes,
    answers 429 with Retry-After."""
    try:
        actor, secret = sign_in(
            request,
            session,
            username=body.username,
            password=body.password,
            resource="POST /api/v1/session",
        )
    except SignInRefused as exc:
        if exc.retry_after is not None:
            raise ApiProblem(
                429,
                f"too many failed logins; try again in {exc.retry_after} seconds",
                kind="rate-limited",
                headers={"Retry-After": str(exc.retry_after)},
                extra={"retry_after": exc.retry_after},
            ) from None
        raise ApiProblem(401, "wrong username or password") from None
    set_session_cookie(response, request, secret)
    return _session_out(actor)


@router.get("/session", responses=error_responses(401))
def who_am_i(user: CurrentUser) -> SessionOut:
    """Who the token or session cookie belongs to."""
    return _session_out(user)


@router.delete("/session", status_code=204, responses=error_responses(401))
def log_out(access: AccessDep, session: SessionDep, response: Response) -> None:
    """End the browser session (with a bearer token this revokes nothing; use DELETE /tokens)."""
    accounts.end_session(session, access=access)
    response.delete_cookie(SESSION_COOKIE, path="/")


# --- tokens -----------------------------------------------------------------------------------


def _token_out(credential: Credential) -> TokenOut:
    return TokenOut.model_validate(credential, from_attributes=True)


@router.post("/tokens", status_code=201, responses=error_responses(401, 422))
def create_token(
    body: TokenIn, access: AccessDep, session: SessionDep, response: Response
) -> TokenCreated:
    """Create an API token for yourself. The token is in this response only; store it now."""
    credential, secret = accounts.create_token(
        session,
        access=access,
        name=body.name,
        lifetime=dt.timedelta(days=body.expires_in_days) if body.expires_in_days else None,
    )
    response.headers["Location"] = f"/api/v1/tokens/{credential.id}"
    return TokenCreated(**_token_out(credential).model_dump(), token=secret)


@router.get("/tokens", responses=error_responses(401, 422))
def list_tokens(
    access: AccessDep, session: SessionDep, page: Page, request: Request
) -> PageOf[TokenOut]:
    """Your tokens (without their secrets)."""
    rows = accounts.list_tokens(
        session, access=access, limit=page.limit + 1, after_id=page.position
    )
    rows, next_page = page.cut(rows, request, lambda row: row.id)
    return PageOf[TokenOut](items=[_token_out(c) for c in rows], next=next_page)


@router.delete("/tokens/{token_id}", status_code=204, responses=error_responses(401, 404, 422))
def revoke_token(
    token_id: Annotated[int, path_id("the token's id")], access: AccessDep, session: SessionDep
) -> None:
    """Revoke one of your tokens (an admin may revoke any token in the organization).
    Idempotent, so it needs no If-Match."""
    accounts.revoke_token(session, access=access, token_id=token_id)


# --- users (admins) ---------------------------------------------------------------------------


def _user_out(user: User) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)


@router.get("/users", responses=error_responses(401, 403, 422))
def list_users(
    access: AccessDep, session: SessionDep, page: Page, request: Request
) -> PageOf[UserOut]:
    rows = accounts.list_users(session, access=access, limit=page.limit + 1, after_id=page.position)
    rows, next_page = page.cut(rows, request, lambda row: row.id)
    return PageOf[UserOut](items=[_user_out(u) for u in rows], next=next_page)


@router.post(
    "/users",
    status_code=201,
    responses=error_responses(401, 403, 404, 409, 422),
    openapi_extra=_user_schemas(),
)
def create_user(
    access: AccessDep,  # first: authenticate before the body is parsed
    session: SessionDep,
    body: Annotated[UserIn, Depends(_user_body)],
    response: Response,
) -> UserOut:
    """Create a user in your organization. A patient user needs `patient_id`; other roles
    must not have one."""
    created = accounts.create_user(
        session,
        access=access,
        username=body.username,
        role=body.role,
        password=body.password,
        patient_id=body.patient_id,
    )
    response.headers["Location"] = f"/api/v1/users/{created.id}"
    response.headers["ETag"] = etag(created.version)
    return _user_out(created)


@router.get("/users/{user_id}", responses=error_responses(401, 403, 404, 422))
def read_user(
    user_id: Annotated[int, path_id("the user's id")],
    access: AccessDep,
    session: SessionDep,
    response: Response,
) -> UserOut:
    found = accounts.read_user(session, access=access, user_id=user_id)
    response.headers["ETag"] = etag(found.version)
    return _user_out(found)


@router.patch("/users/{user_id}", responses=error_responses(401, 403, 404, 412, 422, 428))
def update_user(
    user_id: Annotated[int, path_id("the user's id")],
    body: UserPatch,
    access: AccessDep,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> UserOut:
    """Deactivate or reactivate a user, set a new password, give a staff member another staff
    role (`role`), or set the care discipline a clinician or coordinator works in
    (`discipline`; null clears it). Needs If-Match."""
    changes = {"discipline": body.discipline} if "discipline" in body.model_fields_set else {}
    changed = accounts.update_user(
        session,
        access=access,
        user_id=user_id,
        expected=IfMatchVersion(if_match),
        active=body.active,
        password=body.password,
        role=body.role,
        **changes,
    )
    response.headers["ETag"] = etag(changed.version)
    return _user_out(changed)


@router.delete(
    "/users/{user_id}/login-failures",
    status_code=204,
    responses=error_responses(401, 403, 404, 422),
)
def unlock_user(
    user_id: Annotated[int, path_id("the user's id")], access: AccessDep, session: SessionDep
) -> None:
    """Lift the failed-login lock of a user of your organization: forget the username's recent
    failed logins (from every address). Idempotent, so it needs no If-Match."""
    accounts.unlock_user(session, access=access, user_id=user_id)
