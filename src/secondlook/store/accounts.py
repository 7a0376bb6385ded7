"""Users, passwords, API tokens, browser sessions and the failed-login limit.

Passwords are hashed with Argon2id (argon2-cffi defaults, RFC 9106 low-memory profile). Tokens and
session ids are 256-bit random secrets; only their SHA-256 is stored, which is enough for secrets
of that entropy and keeps every authenticated request fast.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
from typing import Any, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, CursorResult, delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from secondlook.platform.access import Principal as Principal  # re-exported
from secondlook.settings import settings
from secondlook.store.errors import Conflict, NotFound, StaleVersion
from secondlook.store.models import (
    ROLES,
    Credential,
    LoginFailure,
    Patient,
    PortalInvitation,
    User,
    utcnow,
)
from secondlook.store.passwords import WeakPassword as WeakPassword  # re-exported
from secondlook.store.passwords import password_problems
from secondlook.store.text import printable

TOKEN_PREFIX = "sl_"  # noqa: S105 - a marker that makes leaked tokens greppable
SESSION_TTL = dt.timedelta(hours=12)
# API tokens expire too: a token copied into a script outlives the reason it was made. The
# default lifetime is read from SECONDLOOK_TOKEN_LIFETIME_DAYS; a token recorded without an
# expiry (issued before tokens had a default one) expires this long after its creation.
TOKEN_LIFETIME_VARIABLE = "SECONDLOOK_TOKEN_LIFETIME_DAYS"  # noqa: S105 - a variable's name
DEFAULT_TOKEN_LIFETIME_DAYS = 90
# Failed logins. Within the window, this many failures for one username from one client
# address lock that pair out until the oldest failure leaves the window; a client address gets
# more room than a username because a clinic's staff often share one address. So that nobody
# can lock a colleague out from elsewhere, the username as such has only a slower limit over a
# longer window (guessing one password from many addresses stays bounded), and an admin can
# clear a username's failures (`clear_login_failures`).
FAILURE_WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_PER_USERNAME = 5  # per username and client address, within FAILURE_WINDOW
MAX_FAILURES_PER_CLIENT = 20
GLOBAL_FAILURE_WINDOW = dt.timedelta(hours=1)
MAX_FAILURES_PER_USERNAME_GLOBAL = 25  # per username from all addresses, within an hour
# Namespaces of the PostgreSQL advisory locks that make counting and recording a failure one
# step (pg_advisory_xact_lock(namespace, hashtext(key))).
_LOCK_USERNAME = 0x5E01
_LOCK_CLIENT = 0x5E02

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so both answers take the same time
    (made on first use: hashing at import would cost every command that imports the store)."""
    return _hasher.hash("not a password anyone has")


class InvalidCredentials(Exception):
    pass


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; retry after {retry_after} s")
        self.retry_after = retry_after


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def new_password_hash(password: str, *, username: str) -> str:
    """The hash of a password being set, after the password rules (the one place every path,
    API, CLI and web, sets a password through)."""
    problems = password_problems(password, username=username)
    if problems:
        raise WeakPassword(problems)
    return hash_password(password)


def token_lifetime() -> dt.timedelta:
    days = settings().token_lifetime_days  # 1 to 3650, checked by the settings
    return dt.timedelta(days=days if days is not None else DEFAULT_TOKEN_LIFETIME_DAYS)


def create_user(
    session: Session,
    *,
    organization_id: int,
    username: str,
    role: str,
    password: str | None = None,
    patient_id: int | None = None,
    discipline: str | None = None,
) -> User:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if (role == "patient") != (patient_id is not None):
        raise ValueError("a patient user links to exactly one patient record, other roles to none")
    if patient_id is not None:
        owner = session.scalar(select(Patient.organization_id).where(Patient.id == patient_id))
        if owner != organization_id:
            raise NotFound(f"patient {patient_id}")
    # Hash before the first write: on SQLite a transaction holds the writer lock.
    password_hash = new_password_hash(password, username=username) if password else None
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"username {username!r} is taken")
    user = User(
        organization_id=organization_id,
        username=username,
        role=role,
        password_hash=password_hash,
        patient_id=patient_id,
        discipline=discipline,
        active=True,
        version=1,
        created_at=utcnow(),
    )
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict("username taken or patient already linked to a user") from exc
    return user


def user_by_username(session: Session, *, username: str) -> User | None:
    return session.scalars(select(User).where(User.username == username)).first()


def get_user(session: Session, *, organization_id: int, user_id: int) -> User | None:
    return session.scalars(
        select(User).where(User.organization_id == organization_id, User.id == user_id)
    ).first()


def list_users(
    session: Session, *, organization_id: int, limit: int, after_id: int = 0
) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .where(User.organization_id == organization_id, User.id > after_id)
            .order_by(User.id)
            .limit(limit)
        )
    )


def update_user(
    session: Session,
    *,
    organization_id: int,
    user_id: int,
    expected_version: int,
    active: bool | None = None,
    password: str | None = None,
    set_discipline: bool = False,
    discipline: str | None = None,
    language: str | None = None,
    role: str | None = None,
) -> User:
    """Change a user if it is still at `expected_version` (one UPDATE, compare-and-set).
    With ``set_discipline`` the discipline becomes ``discipline`` (None clears it); a
    ``language`` becomes the user's chosen language; ``role`` gives a staff member another
    staff role (the database refuses making a patient of one)."""
    values: dict[str, Any] = {"version": User.version + 1}
    if set_discipline:
        values["discipline"] = discipline
    if language is not None:
        values["language"] = language
    if role is not None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        values["role"] = role
    if active is not None:
        values["active"] = active
    if password is not None:
        name = session.scalar(
            select(User.username).where(User.organization_id == organization_id, User.id == user_id)
        )
        if name is None:
            raise NotFound(f"user {user_id}")
        values["password_hash"] = new_password_hash(password, username=name)
    result = cast(
        CursorResult[Any],
        session.execute(
            update(User)
            .where(
                User.organization_id == organization_id,
                User.id == user_id,
                User.version == expected_version,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        ),
    )
    user = get_user(session, organization_id=organization_id, user_id=user_id)
    if user is None:
        raise NotFound(f"user {user_id}")
    session.refresh(user)
    if result.rowcount != 1:
        raise StaleVersion(expected=expected_version, current=user.version)
    if password is not None or active is False:
        # New password or deactivated: end the user's browser sessions and revoke the API
        # tokens, so neither survives into a reactivation or outlives the old password.
        revoke_all_credentials(session, user_id=user_id)
    return user


def revoke_all_credentials(session: Session, *, user_id: int) -> None:
    session.execute(
        update(Credential)
        .where(Credential.user_id == user_id, Credential.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def authenticate(
    session: Session, *, username: str, password: str, client: str, now: dt.datetime | None = None
) -> User:
    """Check a username and password, subject to the failed-login limits.

    Raises RateLimited before looking at the password when the username (from this client
    address, or from everywhere) or the client address has too many recent failures, and
    InvalidCredentials when the pair is wrong or the user is inactive.

    Commits its own transactions, in three steps. (1) Under a lock per username and per client
    address, count the recent failures and record this attempt as a failure: counting and
    recording are one step, so parallel attempts cannot all pass the count (PostgreSQL: advisory
    locks; SQLite: its single writer already serialises). (2) Verify the password with no
    transaction open, so the slow Argon2 check holds no lock (on SQLite a transaction holds the
    database's writer lock). (3) On success, clear the username's failures from this address,
    this attempt included; the caller commits."""
    now = now or utcnow()
    username, client = (printable(username) or "")[:100], (printable(client) or "")[:100]
    try:
        _lock(session, _LOCK_USERNAME, username)
        _lock(session, _LOCK_CLIENT, client)
        by_pair = (LoginFailure.username == username) & (LoginFailure.client == client)
        _check_rate(session, by_pair, MAX_FAILURES_PER_USERNAME, FAILURE_WINDOW, now)
        _check_rate(
            session,
            LoginFailure.username == username,
            MAX_FAILURES_PER_USERNAME_GLOBAL,
            GLOBAL_FAILURE_WINDOW,
            now,
        )
        _check_rate(
            session, LoginFailure.client == client, MAX_FAILURES_PER_CLIENT, FAILURE_WINDOW, now
        )
        attempt = LoginFailure(username=username, client=client, at=now)
        session.add(attempt)
        user = user_by_username(session, username=username)
        stored = user.password_hash if user and user.active and user.password_hash else None
        user_id = user.id if user else None
        session.commit()
    except BaseException:
        session.rollback()
        raise
    try:
        _hasher.verify(stored or _dummy_hash(), password)
        ok = stored is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or user_id is None:
        raise InvalidCredentials()
    assert stored is not None
    rehashed = hash_password(password) if _hasher.check_needs_rehash(stored) else None
    found = session.get(User, user_id, populate_existing=True)
    if found is None or not found.active or found.password_hash != stored:
        # Deactivated or given a new password while we were checking: the old one is void,
        # and this attempt stays recorded as a failure.
        session.rollback()
        raise InvalidCredentials()
    # Clear this address's failures for the username, this attempt included; the failures
    # from elsewhere still count towards the username's global limit.
    session.execute(
        delete(LoginFailure).where(LoginFailure.username == username, LoginFailure.client == client)
    )
    if rehashed is not None:
        found.password_hash = rehashed
    return found


def clear_login_failures(session: Session, *, username: str) -> int:
    """Lift a username's failed-login lock (an admin's unlock); returns the failures removed."""
    result = cast(
        CursorResult[Any],
        session.execute(delete(LoginFailure).where(LoginFailure.username == username)),
    )
    return int(result.rowcount or 0)


def _lock(session: Session, namespace: int, key: str) -> None:
    """Serialise failed-login bookkeeping per key until the transaction ends (PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:namespace, hashtext(:key))"),
            {"namespace": namespace, "key": key},
        )


def _check_rate(
    session: Session,
    match: ColumnElement[bool],
    limit: int,
    window: dt.timedelta,
    now: dt.datetime,
) -> None:
    count, oldest = session.execute(
        select(func.count(), func.min(LoginFailure.at)).where(match, LoginFailure.at > now - window)
    ).one()
    if count >= limit:
        assert isinstance(oldest, dt.datetime)
        if oldest.tzinfo is None:  # min() over SQLite text loses the column type
            oldest = oldest.replace(tzinfo=dt.UTC)
        retry_after = (oldest + window - now).total_seconds()
        raise RateLimited(max(1, int(retry_after) + 1))


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_credential(
    session: Session,
    *,
    user: User,
    kind: str,
    name: str = "",
    lifetime: dt.timedelta | None = None,
) -> tuple[Credential, str]:
    """Create a token (kind "token") or a browser session (kind "session"); returns the record
    and the secret, which is not stored and cannot be shown again."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    if lifetime is None and kind == "token":
        lifetime = token_lifetime()
    credential = Credential(
        user_id=user.id,
        kind=kind,
        name=name,
        secret_hash=_digest(secret),
        prefix=secret[:10],
        created_at=now,
        expires_at=now + lifetime if lifetime else None,
    )
    session.add(credential)
    session.flush()
    return credential, secret


def resolve_credential(session: Session, *, secret: str, kind: str) -> Principal | None:
    """The active user behind a presented token or session id, or None."""
    row = session.execute(
        select(Credential, User)
        .join(User, User.id == Credential.user_id)
        .where(
            Credential.secret_hash == _digest(secret),
            Credential.kind == kind,
            Credential.revoked_at.is_(None),
            User.active.is_(True),
        )
    ).first()
    if row is None:
        return None
    credential, user = row
    expires_at = credential.expires_at
    if expires_at is None and credential.kind == "token":
        expires_at = credential.created_at + token_lifetime()
    if expires_at is not None and expires_at <= utcnow():
        return None
    return Principal(
        user_id=user.id,
        username=user.username,
        role=user.role,
        organization_id=user.organization_id,
        patient_id=user.patient_id,
        credential_id=credential.id,
        credential_kind=credential.kind,
        language=user.language,
    )


def list_tokens(
    session: Session, *, user_id: int, limit: int, after_id: int = 0
) -> list[Credential]:
    return list(
        session.scalars(
            select(Credential)
            .where(
                Credential.user_id == user_id, Credential.kind == "token", Credential.id > after_id
            )
            .order_by(Credential.id)
            .limit(limit)
        )
    )


def get_token(session: Session, *, organization_id: int, token_id: int) -> Credential | None:
    return session.scalars(
        select(Credential)
        .join(User, User.id == Credential.user_id)
        .where(
            Credential.id == token_id,
            Credential.kind == "token",
            User.organization_id == organization_id,
        )
    ).first()


def revoke_credential(session: Session, *, credential: Credential) -> None:
    """Revoking is idempotent: the first revocation time is kept."""
    if credential.revoked_at is None:
        credential.revoked_at = utcnow()
        session.flush()


# -- what the administrators' pages show about accounts -----------------------------------------


def last_sign_ins(session: Session, *, user_ids: list[int]) -> dict[int, dt.datetime]:
    """When each user last signed in (the newest browser session issued to them); users who
    never did are absent."""
    if not user_ids:
        return {}
    rows = session.execute(
        select(Credential.user_id, func.max(Credential.created_at))
        .where(Credential.user_id.in_(user_ids), Credential.kind == "session")
        .group_by(Credential.user_id)
    )
    out: dict[int, dt.datetime] = {}
    for user_id, at in rows:
        if isinstance(at, dt.datetime):
            out[user_id] = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
    return out


def recent_failures(
    session: Session, *, usernames: list[str], now: dt.datetime | None = None
) -> dict[str, int]:
    """Failed sign-ins per username within the longest limit window (what an unlock clears);
    usernames without any are absent."""
    if not usernames:
        return {}
    since = (now or utcnow()) - max(FAILURE_WINDOW, GLOBAL_FAILURE_WINDOW)
    rows = session.execute(
        select(LoginFailure.username, func.count())
        .where(LoginFailure.username.in_(usernames), LoginFailure.at > since)
        .group_by(LoginFailure.username)
    )
    return {str(name): int(count) for name, count in rows}


def organization_tokens(
    session: Session, *, organization_id: int, limit: int, after_id: int = 0
) -> list[tuple[Credential, User]]:
    """Every API token of the organization's users with its owner, oldest first."""
    rows = session.execute(
        select(Credential, User)
        .join(User, User.id == Credential.user_id)
        .where(
            User.organization_id == organization_id,
            Credential.kind == "token",
            Credential.id > after_id,
        )
        .order_by(Credential.id)
        .limit(limit)
    )
    return [(credential, user) for credential, user in rows.tuples()]


def token_expiry(credential: Credential) -> dt.datetime | None:
    """When a credential stops working: its recorded expiry, or for a token recorded without
    one, its creation plus the default lifetime (as `resolve_credential` reads it)."""
    if credential.expires_at is None and credential.kind == "token":
        return credential.created_at + token_lifetime()
    return credential.expires_at


# -- portal invitations -------------------------------------------------------------------------


def issue_invitation(
    session: Session, *, user: User, created_by: int | None, lifetime: dt.timedelta
) -> tuple[PortalInvitation, str]:
    """A one-time link secret for ``user`` (returned once, only its hash kept); the user's
    earlier invitations that were not used stop working."""
    now = utcnow()
    session.execute(
        update(PortalInvitation)
        .where(
            PortalInvitation.user_id == user.id,
            PortalInvitation.used_at.is_(None),
            PortalInvitation.revoked_at.is_(None),
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    secret = secrets.token_urlsafe(32)
    invitation = PortalInvitation(
        organization_id=user.organization_id,
        user_id=user.id,
        secret_hash=_digest(secret),
        created_by=created_by,
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(invitation)
    session.flush()
    return invitation, secret


def open_invitation(
    session: Session, *, secret: str, now: dt.datetime | None = None
) -> tuple[PortalInvitation, User] | None:
    """The invitation a link's secret belongs to, with its user, while it can still be used
    (not used, replaced or expired, and the user active); None otherwise."""
    now = now or utcnow()
    row = session.execute(
        select(PortalInvitation, User)
        .join(User, User.id == PortalInvitation.user_id)
        .where(
            PortalInvitation.secret_hash == _digest(secret),
            PortalInvitation.used_at.is_(None),
            PortalInvitation.revoked_at.is_(None),
            User.active.is_(True),
        )
    ).first()
    if row is None:
        return None
    invitation, user = row._tuple()
    if invitation.expires_at <= now:
        return None
    return invitation, user


def use_invitation(
    session: Session, *, invitation_id: int, password_hash: str, now: dt.datetime | None = None
) -> User | None:
    """Spend an invitation and set its user's password, once: of two uses at the same time,
    only the first finds the invitation unused (compare-and-set); the other gets None."""
    now = now or utcnow()
    result = cast(
        CursorResult[Any],
        session.execute(
            update(PortalInvitation)
            .where(
                PortalInvitation.id == invitation_id,
                PortalInvitation.used_at.is_(None),
                PortalInvitation.revoked_at.is_(None),
                PortalInvitation.expires_at > now,
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount != 1:
        return None
    invitation = session.get(PortalInvitation, invitation_id, populate_existing=True)
    assert invitation is not None
    user = session.get(User, invitation.user_id, populate_existing=True)
    if user is None or not user.active:
        return None
    user.password_hash = password_hash
    user.version += 1
    session.flush()
    return user


def invitations_of(
    session: Session, *, organization_id: int, limit: int
) -> list[tuple[PortalInvitation, User]]:
    """The organization's invitations, newest first, with the user each is for."""
    rows = session.execute(
        select(PortalInvitation, User)
        .join(User, User.id == PortalInvitation.user_id)
        .where(PortalInvitation.organization_id == organization_id)
        .order_by(PortalInvitation.id.desc())
        .limit(limit)
    )
    return [(invitation, user) for invitation, user in rows.tuples()]


def patient_user(session: Session, *, organization_id: int, patient_id: int) -> User | None:
    """The portal account linked to a patient record, if it has one."""
    return session.scalars(
        select(User).where(User.organization_id == organization_id, User.patient_id == patient_id)
    ).first()
