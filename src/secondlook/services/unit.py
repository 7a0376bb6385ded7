"""The audited unit of work every service runs in: authorize, load the patient the act is
about (only one the actor may see), run, and write the audit event whatever the outcome.

A successful act and its audit event commit in one transaction. A refused or failed one is
rolled back, then its event is committed on its own, so the attempt is on record."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from secondlook.platform.access import Access, Principal, may, sees_patient
from secondlook.platform.errors import Refused
from secondlook.services.errors import refusal_of
from secondlook.store import audit, records
from secondlook.store.models import Patient

log = logging.getLogger("secondlook.services")


@dataclass
class Scope:
    """What an audited act touches; the service fills in what it learns on the way."""

    patient: Patient | None = None
    patient_id: int | None = None
    status: int = 200
    #: the patients a list showed (recorded with a successful act only: a failed one showed none)
    disclosed: list[int] = field(default_factory=list)


@contextmanager
def audited(
    session: Session, access: Access, action: str, *, patient_id: int | None = None
) -> Iterator[Scope]:
    """Scope an act. With ``patient_id`` the act is on that patient's data: the patient is
    loaded (404 when the actor cannot see it) and put on ``scope.patient``."""
    scope = Scope(patient_id=patient_id)
    principal = access.principal
    if not may(principal.role, action):
        _refuse(
            session, access, scope, action, 403, f"the {principal.role} role may not do {action}"
        )
    if patient_id is not None:
        patient = (
            records.get_patient(
                session, organization_id=principal.organization_id, patient_id=patient_id
            )
            if sees_patient(principal, patient_id)
            else None
        )
        if patient is None:
            _refuse(
                session, access, scope, action, 404, f"no patient {patient_id} that you can see"
            )
        scope.patient = patient
    try:
        yield scope
    except BaseException as exc:
        session.rollback()
        refusal = refusal_of(exc)
        status = refusal.status if refusal is not None else 500
        _write(
            session, access, scope, action, "failed", status, refusal.detail if refusal else None
        )
        if refusal is not None and refusal is not exc:
            raise refusal from exc
        raise
    else:
        _write(session, access, scope, action, "success", scope.status, None, commit=False)
        session.commit()


def _refuse(
    session: Session, access: Access, scope: Scope, action: str, status: int, detail: str
) -> None:
    session.rollback()
    _write(session, access, scope, action, "denied", status, detail)
    raise Refused(status, detail)


def _write(
    session: Session,
    access: Access,
    scope: Scope,
    action: str,
    outcome: str,
    status: int,
    detail: str | None,
    *,
    commit: bool = True,
) -> None:
    try:
        audit.record(
            session,
            actor=access.principal,
            action=action,
            resource=access.via,
            outcome=outcome,
            status=status,
            patient_id=scope.patient_id,
            client=access.client,
            detail=detail[:500] if detail else None,
            disclosed=scope.disclosed if outcome == "success" else (),
        )
        if commit:
            session.commit()
    except Exception:
        if not commit:
            raise
        # Never let a failure to record a failure hide the original error.
        log.exception("could not write the audit event for a %s %s", outcome, action)
        session.rollback()


def record_refusal(
    session: Session,
    *,
    principal: Principal | None,
    action: str,
    status: int,
    via: str,
    client: str,
    patient_id: int | None,
    detail: str,
) -> None:
    """Audit an attempt refused before any service ran: without valid credentials
    (``authenticate``, 401) or by a page's role gate (``authorize``, 403). Committed at once,
    so the attempt is on record whatever the caller does next."""
    audit.record(
        session,
        actor=principal,
        action=action,
        resource=via,
        outcome="denied",
        status=status,
        patient_id=patient_id,
        client=client,
        detail=detail,
    )
    session.commit()


def path_patient_id(value: object) -> int | None:
    """The patient an address names (``/patients/{patient_id}/...``), for the audit trail of
    a refused attempt; None when it names none, or nothing that could be an id."""
    text = str(value) if value is not None else ""
    return int(text) if text.isdigit() and len(text) <= 10 and int(text) < 2**31 else None
