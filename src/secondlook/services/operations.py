"""Operational figures of the installation as a whole (the /metrics endpoint, docs/deployment.md):
what waits for people (unresolved alerts) and for the worker (the outbox). Counts only, across
every organization, never a patient or an organization: they say that something waits, and the
inbox, which is audited, says what.

Computed from the database when asked, so that every server process answers the same."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from secondlook.care import alerts as vocabulary
from secondlook.services.notifications import outbox_counts
from secondlook.store import alerts as alert_store

#: The outbox statuses that are a backlog: waiting to be sent, being sent, given up.
OUTBOX_BACKLOG = ("pending", "sending", "failed")


@dataclass(frozen=True)
class Backlog:
    #: (severity, status) -> unresolved alerts; every severity and open status, zeros included,
    #: so that a series does not vanish when its count falls to zero.
    alerts: dict[tuple[str, str], int]
    #: outbox status -> messages, for OUTBOX_BACKLOG.
    outbox: dict[str, int]


def backlog(session: Session) -> Backlog:
    found = alert_store.unresolved_counts(session)
    alerts: dict[tuple[str, str], int] = {
        (str(severity), status): found.get((severity, status), 0)
        for severity in vocabulary.SEVERITIES
        for status in vocabulary.OPEN_STATUSES
    }
    # A severity the vocabulary no longer names is still counted, never dropped.
    alerts.update({key: count for key, count in found.items() if key not in alerts})
    counts = outbox_counts(session)
    return Backlog(alerts=alerts, outbox={s: counts.get(s, 0) for s in OUTBOX_BACKLOG})
