"""Who a command-line user acts as: an active user of the database, named with ``--as``."""

from __future__ import annotations

from sqlalchemy.orm import Session

from secondlook.platform.access import Access, Principal
from secondlook.platform.errors import Refused
from secondlook.store.accounts import user_by_username


def acting_as(session: Session, *, username: str, command: str) -> Access:
    """The access of ``username`` running ``command`` (the client is recorded as ``cli``); a
    user that does not exist or is not active is refused (401)."""
    user = user_by_username(session, username=username)
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
