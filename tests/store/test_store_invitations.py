"""Portal invitation links in the store: only a hash kept, one use, replaced by a newer one,
dead after expiry, and of two sessions that both read it as open only the first spends it."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import factories
from secondlook.store import accounts, db
from secondlook.store.models import PortalInvitation, User


@pytest.fixture
def invitee(engine: Engine) -> int:
    """A patient's portal account without a password, in a fresh organization."""
    with factories.committed(engine) as session:
        org = factories.organization(session, name="Invitation Spine")
        person = factories.user(session, organization_id=org.id, role="patient", password=None)
    return person.user_id


def _issue(engine: Engine, user_id: int, lifetime: dt.timedelta) -> tuple[int, str]:
    with db.make_sessionmaker(engine)() as session:
        user = session.get(User, user_id)
        assert user is not None
        invitation, secret = accounts.issue_invitation(
            session, user=user, created_by=None, lifetime=lifetime
        )
        session.commit()
        return invitation.id, secret


def test_only_the_hash_of_a_link_is_stored_and_it_works_once(engine: Engine, invitee: int) -> None:
    invitation_id, secret = _issue(engine, invitee, dt.timedelta(days=7))
    with Session(engine) as session:
        stored = session.get(PortalInvitation, invitation_id)
        assert stored is not None
        assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert accounts.open_invitation(session, secret=secret) is not None
        first = accounts.use_invitation(session, invitation_id=invitation_id, password_hash="h1")
        session.commit()
        assert first is not None and first.password_hash == "h1"
        again = accounts.use_invitation(session, invitation_id=invitation_id, password_hash="h2")
        assert again is None
        session.rollback()
        assert accounts.open_invitation(session, secret=secret) is None
        user = session.get(User, invitee, populate_existing=True)
        assert user is not None and user.password_hash == "h1"


def test_a_newer_invitation_voids_the_unused_one(engine: Engine, invitee: int) -> None:
    old_id, old = _issue(engine, invitee, dt.timedelta(days=7))
    _, new = _issue(engine, invitee, dt.timedelta(days=7))
    with Session(engine) as session:
        assert accounts.open_invitation(session, secret=old) is None
        assert accounts.open_invitation(session, secret=new) is not None
        assert accounts.use_invitation(session, invitation_id=old_id, password_hash="x") is None


def test_an_expired_link_opens_nothing(engine: Engine, invitee: int) -> None:
    invitation_id, secret = _issue(engine, invitee, dt.timedelta(seconds=1))
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    with Session(engine) as session:
        assert accounts.open_invitation(session, secret=secret, now=later) is None
        assert (
            accounts.use_invitation(
                session, invitation_id=invitation_id, password_hash="x", now=later
            )
            is None
        )


def test_of_two_sessions_that_found_the_link_open_only_the_first_sets_the_password(
    engine: Engine, invitee: int
) -> None:
    """A page read the link as open, then another use spent it: the compare-and-set on
    ``used_at`` lets only the first write through, whatever the second session read."""
    invitation_id, secret = _issue(engine, invitee, dt.timedelta(days=7))
    maker = db.make_sessionmaker(engine)
    with maker() as one, maker() as two:
        # (one at a time: on SQLite every transaction holds the database's writer lock)
        assert accounts.open_invitation(one, secret=secret) is not None
        one.rollback()
        assert accounts.open_invitation(two, secret=secret) is not None
        two.rollback()
        first = accounts.use_invitation(one, invitation_id=invitation_id, password_hash="one")
        one.commit()
        second = accounts.use_invitation(two, invitation_id=invitation_id, password_hash="two")
        two.commit()
    assert (first is not None, second is None) == (True, True)
    with Session(engine) as session:
        stored = session.scalars(select(User.password_hash).where(User.id == invitee)).one()
    assert stored == "one"
