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
from sqlalchemy import ColumnElement, CursorResult, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from secondlook.platform.access import Principal as Principal  # re-exported
from secondlook.store.errors import Conflict, NotFound, StaleVersion
from secondlook.store.models import ROLES, Credential, LoginFailure, Patient, User, utcnow
from secondlook.store.text import printable

TOKEN_PREFIX = "sl_"  # noqa: S105 - a marker that makes leaked tokens greppable
SESSION_TTL = dt.timedelta(hours=12)
# Failed logins: this many within the window lock the username, or the client address, out
# until the oldest failure leaves the window. A client address gets more room than a username
# because a clinic's staff often share one address.
FAILURE_WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_PER_USERNAME = 5
MAX_FAILURES_PER_CLIENT = 20

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


def create_user(
    session: Session,
    *,
    organization_id: int,
    username: str,
    role: str,
    password: str | None = None,
    patient_id: int | None = None,
) -> User:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if (role == "patient") != (patient_id is not None):
        raise ValueError("a patient user links to exactly one patient record, other roles to none")
    if patient_id is not None:
        owner = session.scalar(select(Patient.organization_id).where(Patient.id == patient_id))
        if owner != organization_id:
            raise NotFound(f"patient {patient_id}")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"username {username!r} is taken")
    user = User(
        organization_id=organization_id,
        username=username,
        role=role,
        password_hash=hash_password(password) if password else None,
        patient_id=patient_id,
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
) -> User:
    """Change a user if it is still at `expected_version` (one UPDATE, compare-and-set)."""
    values: dict[str, Any] = {"version": User.version + 1}
    if active is not None:
        values["active"] = active
    if password is not None:
        values["password_hash"] = hash_password(password)
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
        # New password or deactivated: end the user's browser sessions.
        session.execute(
            update(Credential)
            .where(
                Credential.user_id == user_id,
                Credential.kind == "session",
                Credential.revoked_at.is_(None),
            )
            .values(revoked_at=utcnow())
        )
    return user


def authenticate(
    session: Session, *, username: str, password: str, client: str, now: dt.datetime | None = None
) -> User:
    """Check a username and password, subject to the failed-login limit.

    Raises RateLimited before looking at the password when the username or the client address
    has too many recent failures, InvalidCredentials (after recording the failure) when the pair
    is wrong or the user is inactive. The caller commits either way."""
    now = now or utcnow()
    since = now - FAILURE_WINDOW
    username, client = printable(username) or "", printable(client) or ""
    _check_rate(session, LoginFailure.username == username, MAX_FAILURES_PER_USERNAME, since, now)
    _check_rate(session, LoginFailure.client == client, MAX_FAILURES_PER_CLIENT, since, now)
    user = user_by_username(session, username=username)
    stored = user.password_hash if user and user.active and user.password_hash else None
    try:
        _hasher.verify(stored or _dummy_hash(), password)
        ok = stored is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None:
        session.add(
            LoginFailure(
                username=(printable(username) or "")[:100],
                client=(printable(client) or "")[:100],
                at=now,
            )
        )
        session.flush()
        raise InvalidCredentials()
    if _hasher.check_needs_rehash(stored or ""):
        user.password_hash = hash_password(password)
    session.execute(delete(LoginFailure).where(LoginFailure.username == username))
    return user


def _check_rate(
    session: Session, match: ColumnElement[bool], limit: int, since: dt.datetime, now: dt.datetime
) -> None:
    count, oldest = session.execute(
        select(func.count(), func.min(LoginFailure.at)).where(match, LoginFailure.at > since)
    ).one()
    if count >= limit:
        assert isinstance(oldest, dt.datetime)
        if oldest.tzinfo is None:  # min() over SQLite text loses the column type
            oldest = oldest.replace(tzinfo=dt.UTC)
        retry_after = (oldest + FAILURE_WINDOW - now).total_seconds()
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
    if credential.expires_at is not None and credential.expires_at <= utcnow():
        return None
    return Principal(
        user_id=user.id,
        username=user.username,
        role=user.role,
        organization_id=user.organization_id,
        patient_id=user.patient_id,
        credential_id=credential.id,
        credential_kind=credential.kind,
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
