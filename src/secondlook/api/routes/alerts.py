"""Alerts (docs/care.md, "Alerts"): the organization's inbox, a patient's alerts with their
events, acknowledge and resolve (If-Match: the alert's version). Staff only: a patient is told
what to do by their warnings and never sees the inbox."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from secondlook.api.schemas import Strict
from secondlook.care.alerts import Resolution, StatusFilter
from secondlook.http.deps import AccessDep, IfMatch, PatientId, SessionDep, etag, path_id
from secondlook.http.problems import error_responses
from secondlook.platform.preconditions import IfMatchVersion
from secondlook.services import alerts

router = APIRouter(tags=["alerts"])
AlertId = Annotated[int, path_id("the alert's id")]
Note = Annotated[str, Field(max_length=alerts.NOTE_LIMIT)]


class AlertEventOut(BaseModel):
    kind: str = Field(description="raised, raised-again, acknowledged, resolved or escalated")
    at: dt.datetime
    by: str | None = Field(description="the username of who acted (None: the system)")
    source: str | None = Field(description="what raised it: assessment or questionnaire")
    assessment_id: int | None
    questionnaire_response_id: int | None
    facts: dict[str, Any] = Field(description="what raised it: the engine's `because` and more")
    resolution: str | None
    note: str | None


class AlertOut(BaseModel):
    id: int
    patient_id: int
    patient_name: str
    condition_key: str = Field(description="the condition: the same key raised again is this alert")
    kind: str
    severity: Literal["emergency", "urgent", "safety"]
    name: str
    action: str = Field(description="what must be done")
    status: Literal["open", "acknowledged", "resolved"]
    version: int
    raised_at: dt.datetime
    last_raised_at: dt.datetime
    open_minutes: int = Field(description="how long it has been (or was) open, in minutes")
    acknowledged_at: dt.datetime | None
    acknowledged_by: str | None
    resolved_at: dt.datetime | None
    resolved_by: str | None
    events: list[AlertEventOut]


class AlertList(BaseModel):
    items: list[AlertOut]


class AcknowledgeIn(Strict):
    note: Note | None = None


class ResolveIn(Strict):
    resolution: Resolution = Field(description="what was done")
    note: Note | None = Field(
        default=None, description="what was done; required for no-action-needed and other"
    )


def alert_out(view: alerts.AlertView) -> AlertOut:
    a = view.alert
    return AlertOut(
        id=a.id,
        patient_id=a.patient_id,
        patient_name=view.patient_name,
        condition_key=a.condition_key,
        kind=a.kind,
        severity=a.severity,  # type: ignore[arg-type]
        name=a.name,
        action=a.action,
        status=a.status,  # type: ignore[arg-type]
        version=a.version,
        raised_at=a.raised_at,
        last_raised_at=a.last_raised_at,
        open_minutes=int(view.open_for.total_seconds() // 60),
        acknowledged_at=a.acknowledged_at,
        acknowledged_by=view.acknowledged_by,
        resolved_at=a.resolved_at,
        resolved_by=view.resolved_by,
        events=[
            AlertEventOut(
                kind=e.kind,
                at=e.at,
                by=view.usernames.get(e.user_id) if e.user_id else None,
                source=e.source,
                assessment_id=e.assessment_id,
                questionnaire_response_id=e.response_id,
                facts=dict(e.facts or {}),
                resolution=e.resolution,
                note=e.note,
            )
            for e in view.events
        ],
    )


StatusQuery = Annotated[
    StatusFilter | None,
    Query(
        description="unresolved (the default: open and acknowledged), open, acknowledged, "
        "resolved or all",
    ),
]


@router.get("/alerts", responses=error_responses(401, 403, 404, 422))
def list_alerts(
    access: AccessDep,
    session: SessionDep,
    status: StatusQuery = None,
    patient_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=alerts.LIST_LIMIT)] = alerts.LIST_LIMIT,
) -> AlertList:
    """The organization's alerts, most urgent first, then the oldest first."""
    views = alerts.inbox(session, access=access, patient_id=patient_id, status=status, limit=limit)
    return AlertList(items=[alert_out(v) for v in views])


@router.get("/patients/{patient_id}/alerts", responses=error_responses(401, 403, 404))
def patient_alerts(patient_id: PatientId, access: AccessDep, session: SessionDep) -> AlertList:
    """Every alert of the patient with its events: unresolved first, then resolved ones."""
    views = alerts.patient_alerts(session, access=access, patient_id=patient_id)
    return AlertList(items=[alert_out(v) for v in views])


@router.get("/alerts/{alert_id}", responses=error_responses(401, 403, 404))
def read_alert(
    alert_id: AlertId, access: AccessDep, session: SessionDep, response: Response
) -> AlertOut:
    """One alert with its events. Its ETag is its version."""
    view = alerts.read_alert(session, access=access, alert_id=alert_id)
    response.headers["ETag"] = etag(view.alert.version)
    return alert_out(view)


@router.post(
    "/alerts/{alert_id}/acknowledge", responses=error_responses(401, 403, 404, 409, 412, 422, 428)
)
def acknowledge(
    alert_id: AlertId,
    access: AccessDep,
    session: SessionDep,
    response: Response,
    body: AcknowledgeIn | None = None,
    if_match: IfMatch = None,
) -> AlertOut:
    """Record that you have seen the alert and are dealing with it. Needs If-Match."""
    view = alerts.acknowledge(
        session,
        access=access,
        alert_id=alert_id,
        expected=IfMatchVersion(if_match),
        note=body.note if body else None,
    )
    response.headers["ETag"] = etag(view.alert.version)
    return alert_out(view)


@router.post(
    "/alerts/{alert_id}/resolve", responses=error_responses(401, 403, 404, 409, 412, 422, 428)
)
def resolve(
    alert_id: AlertId,
    body: ResolveIn,
    access: AccessDep,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> AlertOut:
    """Close the alert with what was done (acknowledging it too if nobody had). Only a person
    closes an alert: a later assessment without the condition does not. Needs If-Match."""
    view = alerts.resolve(
        session,
        access=access,
        alert_id=alert_id,
        expected=IfMatchVersion(if_match),
        resolution=body.resolution,
        note=body.note,
    )
    response.headers["ETag"] = etag(view.alert.version)
    return alert_out(view)
