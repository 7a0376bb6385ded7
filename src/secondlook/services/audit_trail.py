"""Reading the audit trail (administrators): an organization's events, oldest first, filtered.
Reading the trail is itself an audited act (``audit.read``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from secondlook.platform.access import PERMISSIONS, Access
from secondlook.services.unit import audited
from secondlook.store import audit
from secondlook.store.models import AuditEvent

#: Actions recorded outside the role table: sign-in and refusals before a principal is known,
#: and acts of the system or of a link rather than a user.
_OTHER_ACTIONS = (
    "session.create",
    "authenticate",
    "authorize",
    "invitation.accept",
    "notification.send",
    "notification.reminders",
    "smart.import",
    "cds.patient-link",
)


def known_actions() -> list[str]:
    """Every action the trail can hold, sorted (for a filter's choices; the filter still takes
    any action, so an event of a newer kind is never out of reach)."""
    return sorted({*PERMISSIONS, *_OTHER_ACTIONS})


def query(
    session: Session,
    *,
    access: Access,
    limit: int,
    after_id: int = 0,
    patient_id: int | None = None,
    actor_user_id: int | None = None,
    action: str | None = None,
    outcome: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    newest_first: bool = False,
    before_id: int | None = None,
) -> list[Entry]:
    """The events, oldest first (with ``newest_first``, newest first, before ``before_id``);
    with ``patient_id``, the patient's own records and every list that showed the patient."""
    with audited(session, access, "audit.read"):
        events = audit.query(
            session,
            organization_id=access.organization_id,
            limit=limit,
            after_id=after_id,
            patient_id=patient_id,
            actor_user_id=actor_user_id,
            action=action,
            outcome=outcome,
            since=since,
            until=until,
            newest_first=newest_first,
            before_id=before_id,
        )
        shown = audit.disclosures(session, event_ids=[e.id for e in events])
        return [Entry(e, shown.get(e.id, [])) for e in events]


@dataclass(frozen=True)
class Entry:
    """An audit event with the patients it showed in a list."""

    event: AuditEvent
    disclosed: list[int]
