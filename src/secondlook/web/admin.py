"""The administrators' pages (/admin): users, API tokens, portal invitations, the site's
settings and the audit trail; and the page a patient's invitation link opens (/welcome).

Every page and form calls a service (services.accounts, services.invitations,
services.site_settings, services.audit_trail), which authorizes and audits it; forms carry the
CSRF token and, where they change a versioned record, the version the page showed (If-Match
semantics: none is 428, an old one 412). Only the administrator role may open /admin; others
get the 403 page (and the refusal is audited, web/common.py)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from secondlook.care.vocabulary import DISCIPLINES
from secondlook.http.deps import SessionDep, access_of, path_id
from secondlook.platform.access import ROLE_LABELS, Principal
from secondlook.platform.errors import Refused
from secondlook.platform.ids import MAX_ID
from secondlook.platform.preconditions import IfMatchVersion
from secondlook.services import accounts, audit_trail, invitations, site_settings
from secondlook.settings import settings
from secondlook.store.passwords import MIN_LENGTH
from secondlook.web.common import AdminUser, client_address, redirect, render

router = APIRouter()
UserPath = Annotated[int, path_id("the user's id")]
TokenPath = Annotated[int, path_id("the token's id")]
PAGE_SIZE = 50
AUDIT_PAGE_SIZE = 100
_ACTION = re.compile(r"[a-z][a-z._-]{0,63}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _field(form: FormData, name: str, limit: int = 200) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _secret(form: FormData, name: str) -> str:
    """A password as typed: spaces count (NIST SP 800-63B), so nothing is stripped."""
    value = form.get(name)
    return value[:1001] if isinstance(value, str) else ""


def _version(form: FormData) -> IfMatchVersion:
    text = _field(form, "version", 10)
    return IfMatchVersion.of(int(text)) if text.isdigit() else IfMatchVersion(None)


def _number(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and 0 < int(text) <= MAX_ID else None


def _problems(exc: Refused) -> list[str]:
    """What a refusal says, one line a problem."""
    found = [str(getattr(e, "message", e)) for e in exc.errors or []]
    return found or [exc.detail or "the change was refused"]


def _not_done(request: Request, exc: Refused, back: str) -> Response:
    """A refused change as a page that says why and leads back."""
    if exc.status == 412:
        message = "Someone changed this account meanwhile. Go back to see it as it is now."
    elif exc.status == 428:
        message = "The form did not say which version of the account it changes. Reload it."
    else:
        message = f"Not done: {'; '.join(_problems(exc))}"
    return render(
        request,
        "message.html",
        {"title": "Nothing was changed", "message": message, "back": back},
        status=exc.status,
    )


def _common(principal: Principal, section: str) -> dict[str, Any]:
    return {"section": section, "role_labels": ROLE_LABELS, "disciplines": DISCIPLINES}


@router.get("/admin")
def admin_home(user: AdminUser) -> Response:
    return redirect("/admin/users")


# -- users ----------------------------------------------------------------------------------------


def _users_page(
    request: Request,
    session: SessionDep,
    user: Principal,
    *,
    after: int = 0,
    errors: list[str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    rows = accounts.users_overview(
        session, access=access_of(request, user), limit=PAGE_SIZE + 1, after_id=after
    )
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return render(
        request,
        "admin/users.html",
        {
            **_common(user, "users"),
            "rows": rows,
            "next_after": rows[-1].user.id if more and rows else None,
            "errors": errors or [],
            "values": values or {},
            "min_length": MIN_LENGTH,
            "staff_roles": accounts.STAFF_ROLES,
        },
        status=status,
    )


@router.get("/admin/users")
def users_page(request: Request, session: SessionDep, user: AdminUser) -> Response:
    after = _number(request.query_params.get("after", "")[:10]) or 0
    return _users_page(request, session, user, after=after)


@router.post("/admin/users")
async def create_user(request: Request, session: SessionDep, user: AdminUser) -> Response:
    form = await request.form()
    username = _field(form, "username", 100)
    role = _field(form, "role", 20)
    discipline = _field(form, "discipline", 40)
    password = _secret(form, "password")
    values = {"username": username, "role": role, "discipline": discipline}
    errors = []
    if not username:
        errors.append("Give the new user a username.")
    if role not in accounts.STAFF_ROLES:
        errors.append("Choose a role: clinician, care coordinator or administrator.")
    if password != _secret(form, "password_again"):
        errors.append("The two passwords are not the same.")
    if errors:
        return _users_page(request, session, user, errors=errors, values=values, status=422)
    access = access_of(request, user)
    try:
        created = accounts.create_user(
            session,
            access=access,
            username=username,
            role=role,
            password=password or None,
            patient_id=None,
            discipline=discipline or None,
        )
    except Refused as exc:
        if exc.status not in (409, 422):
            raise
        return _users_page(
            request, session, user, errors=_problems(exc), values=values, status=exc.status
        )
    return redirect(f"/admin/users/{created.id}?saved=created")


@router.get("/admin/users/{user_id}")
def user_page(
    user_id: UserPath, request: Request, session: SessionDep, user: AdminUser
) -> Response:
    overview = accounts.user_overview(session, access=access_of(request, user), user_id=user_id)
    found = overview.user
    saved = request.query_params.get("saved", "")[:20]
    return render(
        request,
        "admin/user.html",
        {
            **_common(user, "users"),
            "account": found,
            "overview": overview,
            "saved": saved,
            "is_self": found.id == user.user_id,
            "min_length": MIN_LENGTH,
            "staff_roles": accounts.STAFF_ROLES,
        },
    )


async def _change(
    request: Request, session: SessionDep, user: Principal, user_id: int, what: str
) -> Response:
    form = await request.form()
    back = f"/admin/users/{user_id}"
    access = access_of(request, user)
    changes: dict[str, Any] = {"active": None, "password": None}
    if what == "role":
        discipline = _field(form, "discipline", 40)
        changes["role"] = _field(form, "role", 20)
        if changes["role"] != "admin":
            changes["discipline"] = discipline or None
    elif what == "active":
        changes["active"] = _field(form, "active", 5) == "true"
    elif what == "password":
        password = _secret(form, "password")
        if password != _secret(form, "password_again"):
            return _not_done(request, Refused(422, "the two passwords are not the same"), back)
        if not password:
            return _not_done(request, Refused(422, "type the new password twice"), back)
        changes["password"] = password
    try:
        accounts.update_user(
            session, access=access, user_id=user_id, expected=_version(form), **changes
        )
    except Refused as exc:
        if exc.status not in (409, 412, 422, 428):
            raise
        return _not_done(request, exc, back)
    return redirect(f"{back}?saved={what}")


@router.post("/admin/users/{user_id}/role")
async def change_role(
    user_id: UserPath, request: Request, session: SessionDep, user: AdminUser
) -> Response:
    return await _change(request, session, user, user_id, "role")


@router.post("/admin/users/{user_id}/active")
async def change_active(
    user_id: UserPath, request: Request, session: SessionDep, user: AdminUser
) -> Response:
    return await _change(request, session, user, user_id, "active")


@router.post("/admin/users/{user_id}/password")
async def set_password(
    user_id: UserPath, request: Request, session: SessionDep, user: AdminUser
) -> Response:
    return await _change(request, session, user, user_id, "password")


@router.post("/admin/users/{user_id}/unlock")
async def unlock(
    user_id: UserPath, request: Request, session: SessionDep, user: AdminUser
) -> Response:
    accounts.unlock_user(session, access=access_of(request, user), user_id=user_id)
    return redirect(f"/admin/users/{user_id}?saved=unlock")


# -- API tokens -----------------------------------------------------------------------------------


@router.get("/admin/tokens")
def tokens_page(request: Request, session: SessionDep, user: AdminUser) -> Response:
    after = _number(request.query_params.get("after", "")[:10]) or 0
    rows = accounts.organization_tokens(
        session, access=access_of(request, user), limit=PAGE_SIZE + 1, after_id=after
    )
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return render(
        request,
        "admin/tokens.html",
        {
            **_common(user, "tokens"),
            "rows": rows,
            "next_after": rows[-1].credential.id if more and rows else None,
            "revoked": request.query_params.get("revoked", "")[:10],
        },
    )


@router.post("/admin/tokens/{token_id}/revoke")
async def revoke_token(
    token_id: TokenPath, request: Request, session: SessionDep, user: AdminUser
) -> Response:
    accounts.revoke_token(session, access=access_of(request, user), token_id=token_id)
    return redirect(f"/admin/tokens?revoked={token_id}#token-{token_id}")


# -- portal invitations ---------------------------------------------------------------------------


def _invitations_page(
    request: Request,
    session: SessionDep,
    user: Principal,
    *,
    errors: list[str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    rows = invitations.recent(session, access=access_of(request, user), limit=PAGE_SIZE)
    return render(
        request,
        "admin/invitations.html",
        {
            **_common(user, "invitations"),
            "rows": rows,
            "errors": errors or [],
            "values": values or {},
            "sent": request.query_params.get("sent", "")[:10],
            "lifetime_days": invitations.INVITATION_LIFETIME.days,
        },
        status=status,
    )


@router.get("/admin/invitations")
def invitations_page(request: Request, session: SessionDep, user: AdminUser) -> Response:
    return _invitations_page(request, session, user)


@router.post("/admin/invitations")
async def invite(request: Request, session: SessionDep, user: AdminUser) -> Response:
    form = await request.form()
    values = {
        "patient_id": _field(form, "patient_id", 12),
        "username": _field(form, "username", 100),
        "email": _field(form, "email", 320),
    }
    patient_id = _number(values["patient_id"])
    if patient_id is None:
        return _invitations_page(
            request,
            session,
            user,
            errors=["Give the patient record's number (the number in its address)."],
            values=values,
            status=422,
        )
    try:
        done = invitations.invite(
            session,
            access=access_of(request, user),
            patient_id=patient_id,
            username=values["username"],
            email=values["email"],
            base_url=str(request.app.state.public_base_url),
        )
    except Refused as exc:
        if exc.status not in (404, 409, 422):
            raise
        return _invitations_page(
            request, session, user, errors=_problems(exc), values=values, status=exc.status
        )
    return redirect(f"/admin/invitations?sent={done.invitation.id}#invitation-{done.invitation.id}")


# The page an invitation link opens: signed out, the link's secret in the query string
# (http/logs.py keeps query strings out of the access log) and then in the form.


@router.get("/welcome")
def welcome(request: Request, session: SessionDep) -> Response:
    secret = request.query_params.get("token", "")[:100]
    found = invitations.look_up(session, secret=secret) if secret else None
    return _welcome_page(request, secret, found.username if found else None)


def _welcome_page(
    request: Request,
    secret: str,
    username: str | None,
    errors: list[str] | None = None,
    status: int | None = None,
) -> Response:
    return render(
        request,
        "welcome.html",
        {"token": secret, "username": username, "errors": errors or [], "min_length": MIN_LENGTH},
        status=status or (200 if username else 404),
    )


@router.post("/welcome")
async def welcome_password(request: Request, session: SessionDep) -> Response:
    form = await request.form()
    secret = _field(form, "token", 100)
    password = _secret(form, "password")
    found = invitations.look_up(session, secret=secret) if secret else None
    if found is None:
        return _welcome_page(request, secret, None)
    if password != _secret(form, "password_again"):
        return _welcome_page(
            request, secret, found.username, ["The two passwords are not the same."], 422
        )
    try:
        username = invitations.accept(
            session,
            secret=secret,
            password=password,
            client=client_address(request),
            via=f"{request.method} {request.url.path}",
        )
    except invitations.InvitationRefused as exc:
        if not exc.problems:
            return _welcome_page(request, secret, None)
        return _welcome_page(request, secret, found.username, exc.problems, 422)
    return render(request, "login.html", {"username": username, "welcome": True})


# -- the site's settings and the audit trail -------------------------------------------------------


@router.get("/admin/settings")
def settings_page(request: Request, session: SessionDep, user: AdminUser) -> Response:
    found = site_settings.read(session, access=access_of(request, user), source=settings())
    return render(request, "admin/settings.html", {**_common(user, "settings"), "settings": found})


def _day(text: str) -> dt.datetime | None:
    if not _DATE.fullmatch(text):
        return None
    try:
        return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), tzinfo=dt.UTC)
    except ValueError:
        return None


@router.get("/admin/audit")
def audit_page(request: Request, session: SessionDep, user: AdminUser) -> Response:
    """The organization's audit trail, newest first, filtered by the query's fields (patient
    record number, user, action, outcome, first and last day in UTC); a filter that cannot be
    read is said so, never silently dropped."""
    query = request.query_params
    raw = {
        k: query.get(k, "").strip()[:64]
        for k in ("patient", "user", "action", "outcome", "from", "to", "before")
    }
    errors: dict[str, str] = {}
    patient_id = _number(raw["patient"]) if raw["patient"] else None
    if raw["patient"] and patient_id is None:
        errors["patient"] = "a patient record number, such as 12"
    actor = _number(raw["user"]) if raw["user"] else None
    if raw["user"] and actor is None:
        errors["user"] = "choose a user from the list"
    action = raw["action"] or None
    if action is not None and not _ACTION.fullmatch(action):
        errors["action"] = "an action such as case.read"
    outcome = raw["outcome"] or None
    if outcome not in (None, "success", "denied", "failed"):
        errors["outcome"] = "success, denied or failed"
    since = _day(raw["from"]) if raw["from"] else None
    if raw["from"] and since is None:
        errors["from"] = "a date such as 2026-11-30"
    last = _day(raw["to"]) if raw["to"] else None
    if raw["to"] and last is None:
        errors["to"] = "a date such as 2026-12-01"
    before = _number(raw["before"]) if raw["before"] else None
    access = access_of(request, user)
    users = accounts.users_overview(session, access=access, limit=1000, after_id=0)
    entries: list[audit_trail.Entry] = []
    if not errors:
        entries = audit_trail.query(
            session,
            access=access,
            limit=AUDIT_PAGE_SIZE + 1,
            patient_id=patient_id,
            actor_user_id=actor,
            action=action,
            outcome=outcome,
            since=since,
            until=last + dt.timedelta(days=1) if last else None,
            newest_first=True,
            before_id=before,
        )
    more = len(entries) > AUDIT_PAGE_SIZE
    entries = entries[:AUDIT_PAGE_SIZE]
    filters = {k: v for k, v in raw.items() if v and k != "before"}
    return render(
        request,
        "admin/audit.html",
        {
            **_common(user, "audit"),
            "entries": entries,
            "users": [row.user for row in users],
            "filters": filters,
            "raw": raw,
            "errors": errors,
            "next_before": entries[-1].event.id if more and entries else None,
            "first_page": before is None,
            "actions": audit_trail.known_actions(),
        },
        status=422 if errors else 200,
    )
