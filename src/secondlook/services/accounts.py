"""Accounts: the users of an organization (administrators manage them), each user's own API
tokens and browser session, and who a command-line user acts as. Every act is authorized and
audited like any other (``user.*``, ``token.*``, ``session.end``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from secondlook.care.vocabulary import DISCIPLINES
from secondlook.locale import LANGUAGES
from secondlook.platform.access import Access, Principal
from secondlook.platform.errors import FieldProblem, Refused
from secondlook.platform.preconditions import IfMatchVersion
from secondlook.services.unit import audited
from secondlook.store import accounts
from secondlook.store.models import Credential, User, utcnow

# Leaves the discipline as it is (``None`` clears it).
_KEEP: Any = object()
#: The roles an administrator can move a staff member between (a patient user stays one).
STAFF_ROLES: tuple[str, ...] = ("clinician", "coordinator", "admin")


def acting_as(session: Session, *, username: str, command: str) -> Access:
    """The access of ``username`` running ``command`` (the client is recorded as ``cli``); a
    user that does not exist or is not active is refused (401)."""
    user = accounts.user_by_username(session, username=username)
    if user is None or not user.active:
        raise Refused(401, f"no active user {username!r}")
    principal = Principal(
        user_id=user.id,
        username=user.username,
        role=user.role,
        organization_id=user.organization_id,
        patient_id=user.patient_id,
        credential_id=0,
        credential_kind="cli",
    )
    return Access(principal=principal, client="cli", via=f"cli {command}")


# -- one's own session and tokens -------------------------------------------------------------


def end_session(session: Session, *, access: Access) -> None:
    """Log out: revoke the browser session the request came with (a bearer token is left
    alone; it is revoked with :func:`revoke_token`)."""
    principal = access.principal
    with audited(session, access, "session.end") as scope:
        scope.status = 204
        if principal.credential_kind == "session":
            credential = session.get(Credential, principal.credential_id)
            if credential is not None:
                accounts.revoke_credential(session, credential=credential)


def create_token(
    session: Session, *, access: Access, name: str, lifetime: dt.timedelta | None
) -> tuple[Credential, str]:
    """A new API token for oneself, and its secret (shown once, never stored)."""
    with audited(session, access, "token.create") as scope:
        scope.status = 201
        owner = session.get(User, access.principal.user_id)
        if owner is None:
            raise Refused(401, "the signed-in user no longer exists")
        return accounts.issue_credential(
            session, user=owner, kind="token", name=name, lifetime=lifetime
        )


def list_tokens(session: Session, *, access: Access, limit: int, after_id: int) -> list[Credential]:
    """One's own tokens, oldest first."""
    with audited(session, access, "token.read"):
        return accounts.list_tokens(
            session, user_id=access.principal.user_id, limit=limit, after_id=after_id
        )


def revoke_token(session: Session, *, access: Access, token_id: int) -> None:
    """Revoke one of one's tokens; an administrator may revoke any token of the organization.
    Revoking a revoked token again is allowed (idempotent)."""
    principal = access.principal
    with audited(session, access, "token.revoke") as scope:
        scope.status = 204
        credential = accounts.get_token(
            session, organization_id=principal.organization_id, token_id=token_id
        )
        if credential is None or (
            credential.user_id != principal.user_id and principal.role != "admin"
        ):
            raise Refused(404, f"no token {token_id} of yours")
        accounts.revoke_credential(session, credential=credential)


# -- users (administrators) -------------------------------------------------------------------


def list_users(session: Session, *, access: Access, limit: int, after_id: int) -> list[User]:
    with audited(session, access, "user.read"):
        return accounts.list_users(
            session, organization_id=access.organization_id, limit=limit, after_id=after_id
        )


def read_user(session: Session, *, access: Access, user_id: int) -> User:
    with audited(session, access, "user.read"):
        return _user(session, access, user_id)


def create_user(
    session: Session,
    *,
    access: Access,
    username: str,
    role: str,
    password: str | None,
    patient_id: int | None,
    discipline: str | None = None,
) -> User:
    """A user of the administrator's organization; a patient user is linked to one patient
    record of it. The password follows the password rules (422 naming each problem); a
    clinician or coordinator may be given a care discipline at once."""
    with audited(session, access, "user.write") as scope:
        scope.status = 201
        scope.patient_id = patient_id
        if discipline is not None:
            _check_discipline(discipline, role)
        return accounts.create_user(
            session,
            organization_id=access.organization_id,
            username=username,
            role=role,
            password=password,
            patient_id=patient_id,
            discipline=discipline,
        )


def _check_discipline(discipline: str, role: str | None) -> None:
    """422 unless ``discipline`` is one of the care vocabulary's and ``role`` works in one."""
    if discipline not in DISCIPLINES:
        raise Refused(
            422,
            f"unknown discipline {discipline!r}",
            kind="request-invalid",
            errors=[FieldProblem("$.discipline", f"use one of {', '.join(DISCIPLINES)}")],
        )
    if role not in ("clinician", "coordinator"):
        raise Refused(
            422,
            f"a {role} has no care discipline; only clinicians and coordinators do",
            kind="request-invalid",
            errors=[FieldProblem("$.discipline", f"not for a {role}")],
        )


def update_user(
    session: Session,
    *,
    access: Access,
    user_id: int,
    expected: IfMatchVersion,
    active: bool | None,
    password: str | None,
    discipline: str | None = _KEEP,
    role: str | None = None,
) -> User:
    """Deactivate or reactivate a user or set a new password (either ends the user's sessions
    and tokens), give a staff member another staff role, or set (None: clear) the care
    discipline of a clinician or coordinator, if the user is still at the expected version.
    The discipline must be one of the care vocabulary's (422 otherwise, and for a patient or
    administrator). Administrators cannot deactivate themselves or give up their own role
    (409), so an organization is never left without one by accident."""
    with audited(session, access, "user.write"):
        expected_version = expected.required()
        found = _user(session, access, user_id) if (discipline is not _KEEP or role) else None
        if role is not None:
            assert found is not None
            if role not in STAFF_ROLES or found.role not in STAFF_ROLES:
                raise Refused(
                    422,
                    "only staff roles can be changed, to clinician, coordinator or administrator",
                    kind="request-invalid",
                    errors=[FieldProblem("$.role", f"use one of {', '.join(STAFF_ROLES)}")],
                )
            if found.id == access.principal.user_id and role != found.role:
                raise Refused(409, "you cannot change your own role; ask another administrator")
        if active is False and user_id == access.principal.user_id:
            raise Refused(409, "you cannot deactivate your own account")
        new_role = role or (found.role if found is not None else None)
        if discipline is not _KEEP and discipline is not None:
            _check_discipline(discipline, new_role)
        if role == "admin":  # an administrator works in no care discipline
            discipline = None
        return accounts.update_user(
            session,
            organization_id=access.organization_id,
            user_id=user_id,
            expected_version=expected_version,
            active=active,
            password=password,
            set_discipline=discipline is not _KEEP,
            discipline=None if discipline is _KEEP else discipline,
            role=role,
        )


def unlock_user(session: Session, *, access: Access, user_id: int) -> None:
    """Lift a user's failed-login lock: forget the username's recent failures."""
    with audited(session, access, "user.write") as scope:
        scope.status = 204
        found = _user(session, access, user_id)
        accounts.clear_login_failures(session, username=found.username)


def _user(session: Session, access: Access, user_id: int) -> User:
    found = accounts.get_user(session, organization_id=access.organization_id, user_id=user_id)
    if found is None:
        raise Refused(404, f"no user {user_id} in your organization")
    return found


# -- one's own language ------------------------------------------------------------------------


@dataclass(frozen=True)
class LanguageChoice:
    """The language a user chose (None: not chosen) and the account's version for If-Match."""

    language: str | None
    version: int


def language_choice(session: Session, *, access: Access) -> LanguageChoice:
    """The signed-in user's language choice."""
    with audited(session, access, "language.read"):
        found = _user(session, access, access.principal.user_id)
        return LanguageChoice(found.language, found.version)


def set_language(
    session: Session, *, access: Access, language: str, if_match: IfMatchVersion
) -> LanguageChoice:
    """Choose the language of one's pages and handout: one of ``secondlook.locale.LANGUAGES``
    (422 otherwise). If-Match with the account's version: 428 without, 412 when the account
    changed in between."""
    with audited(session, access, "language.update"):
        if language not in LANGUAGES:
            raise Refused(
                422,
                f"unknown language {language!r}",
                kind="request-invalid",
                errors=[FieldProblem("language", f"use one of {', '.join(LANGUAGES)}")],
            )
        found = accounts.update_user(
            session,
            organization_id=access.organization_id,
            user_id=access.principal.user_id,
            expected_version=if_match.required(),
            language=language,
        )
        return LanguageChoice(found.language, found.version)


# -- the administrators' overview ---------------------------------------------------------------


@dataclass(frozen=True)
class UserOverview:
    """A user as the administrators' list shows them: when they last signed in (None: never,
    or not since sessions were recorded) and their recent failed sign-ins (``locked``: the
    username's own limit is reached, so an unlock is what lets them in again)."""

    user: User
    last_sign_in: dt.datetime | None
    recent_failures: int
    locked: bool


def users_overview(
    session: Session, *, access: Access, limit: int, after_id: int
) -> list[UserOverview]:
    """The organization's users, oldest first, each with its last sign-in and failures."""
    with audited(session, access, "user.read"):
        users = accounts.list_users(
            session, organization_id=access.organization_id, limit=limit, after_id=after_id
        )
        return _overview(session, users)


def user_overview(session: Session, *, access: Access, user_id: int) -> UserOverview:
    """One user of the organization as the list shows them (404 for anyone else's)."""
    with audited(session, access, "user.read"):
        return _overview(session, [_user(session, access, user_id)])[0]


def _overview(session: Session, users: list[User]) -> list[UserOverview]:
    signed_in = accounts.last_sign_ins(session, user_ids=[u.id for u in users])
    failures = accounts.recent_failures(session, usernames=[u.username for u in users])
    return [
        UserOverview(
            user=u,
            last_sign_in=signed_in.get(u.id),
            recent_failures=failures.get(u.username, 0),
            locked=failures.get(u.username, 0) >= accounts.MAX_FAILURES_PER_USERNAME,
        )
        for u in users
    ]


@dataclass(frozen=True)
class TokenOverview:
    """An API token of the organization with its owner and its state: ``active``,
    ``expired`` or ``revoked`` (decided here, once, for every page that lists tokens)."""

    credential: Credential
    owner: str
    expires_at: dt.datetime | None
    state: str


def token_state(credential: Credential, now: dt.datetime) -> tuple[dt.datetime | None, str]:
    """When a token stops working, and whether it is active, expired or revoked."""
    expires = accounts.token_expiry(credential)
    if credential.revoked_at is not None:
        return expires, "revoked"
    if expires is not None and expires <= now:
        return expires, "expired"
    return expires, "active"


def organization_tokens(
    session: Session, *, access: Access, limit: int, after_id: int
) -> list[TokenOverview]:
    """Every API token of the organization (administrators), oldest first; no secret is
    stored, so none can be shown. When a token was last used is not recorded."""
    with audited(session, access, "token.read-all"):
        now = utcnow()
        rows = accounts.organization_tokens(
            session, organization_id=access.organization_id, limit=limit, after_id=after_id
        )
        out = []
        for credential, owner in rows:
            expires, state = token_state(credential, now)
            out.append(TokenOverview(credential, owner.username, expires, state))
        return out
