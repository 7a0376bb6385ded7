"""Reading the audit trail (administrators): an organization's events, oldest first, filtered.
Reading the trail is itself an audited act (``audit.read``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from secondlook.platform.access import Access
from secondlook.services.unit import audited
from secondlook.store import audit
from secondlook.store.models import AuditEvent


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
) -> list[AuditEvent]:
    with audited(session, access, "audit.read"):
        return audit.query(
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
        )
