"""Portal invitations (docs/web.md, "Administration"): an administrator makes the portal
account of a patient record and the patient gets a one-time link by email, through the
notification outbox, to choose their own password; nobody else ever knows it.

- The link's secret is 256 random bits; only its SHA-256 is stored (store.accounts). It works
  once, for :data:`INVITATION_LIFETIME`, and inviting the patient again voids an unused one.
- The email says nothing clinical: the site's name, the link and until when it works
  (services/notifications.py, template ``portal-invitation``).
- The password follows the password rules every path uses (store/passwords.py, NIST SP
  800-63B); a patient who already chose one is not invited again (409): an administrator sets
  a new password on the users page instead.
- Inviting is audited (``invitation.create``, with the patient); using a link too
  (``invitation.accept``, on the organization's trail, with the patient), refused uses included.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from sqlalchemy.orm import Session

from secondlook.platform.access import Access
from secondlook.platform.errors import FieldProblem, Refused
from secondlook.services import notifications
from secondlook.services.unit import audited
from secondlook.store import accounts, audit
from secondlook.store.models import Organization, PortalInvitation, User, utcnow
from secondlook.store.passwords import WeakPassword

#: How long a link works: a week lets a patient who reads email once a week still use it,
#: and keeps a forwarded or forgotten link from working for long. A service level, not a
#: clinical threshold.
INVITATION_LIFETIME: Final = dt.timedelta(days=7)
#: The page a link opens (its query string never reaches the access log: http/logs.py).
WELCOME_PATH: Final = "/welcome"


@dataclass(frozen=True)
class Invited:
    """An invitation made: the portal account, the invitation, and whether it was queued for
    email now (False only if an identical message was already queued)."""

    user: User
    invitation: PortalInvitation
    queued: bool


def _invalid(path: str, message: str) -> Refused:
    return Refused(
        422,
        message,
        kind="request-invalid",
        title="Invalid request",
        errors=[FieldProblem(path, message)],
    )


def invite(
    session: Session,
    *,
    access: Access,
    patient_id: int,
    username: str,
    email: str,
    base_url: str,
) -> Invited:
    """Invite the patient of record ``patient_id`` to the portal: make their account (named
    ``username``, without a password) unless they have one without a password yet, and queue
    the link for ``email``. The address is used for this message only, never stored with the
    account."""
    email = email.strip()
    username = username.strip()
    with audited(session, access, "invitation.create", patient_id=patient_id) as scope:
        scope.status = 201
        if not notifications.is_email(email):
            raise _invalid("$.email", "an email address such as name@example.org")
        user = accounts.patient_user(
            session, organization_id=access.organization_id, patient_id=patient_id
        )
        if user is not None and user.password_hash is not None:
            raise Refused(
                409,
                f"patient record {patient_id} already has a portal account with a password "
                f"({user.username}); set a new password on the users page instead",
                kind="conflict",
            )
        if user is not None and not user.active:
            raise Refused(
                409, f"the portal account {user.username} is deactivated; reactivate it first"
            )
        if user is None:
            if not 3 <= len(username) <= 100 or not username.isprintable() or " " in username:
                raise _invalid("$.username", "3 to 100 characters without spaces")
            user = accounts.create_user(
                session,
                organization_id=access.organization_id,
                username=username,
                role="patient",
                password=None,
                patient_id=patient_id,
            )
        invitation, secret = accounts.issue_invitation(
            session,
            user=user,
            created_by=access.principal.user_id,
            lifetime=INVITATION_LIFETIME,
        )
        organization = session.get(Organization, access.organization_id)
        site = organization.name if organization is not None else "your care team"
        queued = notifications.enqueue(
            session,
            kind="portal-invitation",
            recipient=email,
            template="portal-invitation",
            context={
                "site": site,
                "link": f"{base_url.rstrip('/')}{WELCOME_PATH}?token={secret}",
                "expires": invitation.expires_at.strftime("%d %B %Y, %H:%M UTC"),
            },
            idempotency_key=f"portal-invitation:{invitation.id}",
            organization_id=access.organization_id,
            patient_id=patient_id,
        )
        return Invited(user, invitation, queued)


@dataclass(frozen=True)
class InvitationView:
    """An invitation as the administrators' page lists it; ``state`` is ``waiting``,
    ``used``, ``replaced`` or ``expired`` (decided here, once)."""

    invitation: PortalInvitation
    username: str
    patient_id: int | None
    state: str


def _state(invitation: PortalInvitation, now: dt.datetime) -> str:
    if invitation.used_at is not None:
        return "used"
    if invitation.revoked_at is not None:
        return "replaced"
    if invitation.expires_at <= now:
        return "expired"
    return "waiting"


def recent(session: Session, *, access: Access, limit: int) -> list[InvitationView]:
    """The organization's latest invitations, newest first."""
    with audited(session, access, "invitation.read") as scope:
        now = utcnow()
        rows = accounts.invitations_of(session, organization_id=access.organization_id, limit=limit)
        scope.disclosed = [u.patient_id for _, u in rows if u.patient_id is not None]
        return [InvitationView(i, u.username, u.patient_id, _state(i, now)) for i, u in rows]


@dataclass(frozen=True)
class OpenInvitation:
    """What the welcome page may show about a working link: the username to sign in with."""

    username: str


def look_up(session: Session, *, secret: str) -> OpenInvitation | None:
    """The invitation a link opens while it still works (None: used, replaced, expired or
    unknown, which the page does not tell apart)."""
    found = accounts.open_invitation(session, secret=secret[:100])
    session.rollback()  # a read only; end it so no transaction stays open
    return OpenInvitation(found[1].username) if found else None


class InvitationRefused(Exception):
    """A link that cannot set a password: ``problems`` (a weak password) or none (the link no
    longer works)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems) or "the link no longer works")
        self.problems = problems


def accept(session: Session, *, secret: str, password: str, client: str, via: str) -> str:
    """Set the invited patient's password with a link, once; returns the username to sign in
    with. Raises :class:`InvitationRefused` for a weak password (the link still works) or a
    link that no longer works. Every attempt is on the organization's audit trail."""
    found = accounts.open_invitation(session, secret=secret[:100])
    session.rollback()
    if found is None:
        _record(session, None, via, client, "denied", 404, "the link is unknown, used or expired")
        raise InvitationRefused([])
    invitation, user = found
    try:
        # Hashed with no transaction open (Argon2 is slow; on SQLite a write holds the lock).
        password_hash = accounts.new_password_hash(password, username=user.username)
    except WeakPassword as exc:
        _record(session, user, via, client, "failed", 422, "; ".join(exc.problems))
        raise InvitationRefused(exc.problems) from None
    changed = accounts.use_invitation(
        session, invitation_id=invitation.id, password_hash=password_hash
    )
    if changed is None:  # used or replaced meanwhile
        session.rollback()
        _record(session, user, via, client, "denied", 404, "the link was used meanwhile")
        raise InvitationRefused([])
    _record(session, changed, via, client, "success", 200, None, commit=False)
    session.commit()
    return changed.username


def _record(
    session: Session,
    user: User | None,
    via: str,
    client: str,
    outcome: str,
    status: int,
    detail: str | None,
    *,
    commit: bool = True,
) -> None:
    audit.record(
        session,
        actor=None,
        organization_id=user.organization_id if user else None,
        username=user.username if user else None,
        action="invitation.accept",
        resource=via,
        outcome=outcome,
        status=status,
        patient_id=user.patient_id if user else None,
        client=client,
        detail=detail[:500] if detail else None,
    )
    if commit:
        session.commit()
