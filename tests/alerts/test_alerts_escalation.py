"""Escalation of unacknowledged alerts (time given to the function, never waited for), on
SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import factories
from secondlook.platform.preconditions import IfMatchVersion
from secondlook.services import alerts
from secondlook.store import db
from secondlook.store.alert_models import Alert, AlertEvent

from .test_alerts_service import PHQ9_ITEM9_TWO, access


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with db.make_sessionmaker(engine)() as session:
        yield session


def mine(escalated: list[alerts.Escalation], patient_id: int) -> list[tuple[str, int]]:
    return [(e.alert.severity, e.level) for e in escalated if e.alert.patient_id == patient_id]


def test_windows_are_per_severity_and_bad_settings_say_what_is_wrong() -> None:
    windows = alerts.escalation_windows("emergency=5, safety=60")
    assert windows == {
        "emergency": dt.timedelta(minutes=5),
        "urgent": dt.timedelta(minutes=240),
        "safety": dt.timedelta(minutes=60),
    }
    assert alerts.escalation_windows(None)["emergency"] == dt.timedelta(minutes=15)
    for bad, said in [
        ("emergency", "severity=minutes"),
        ("routine=5", "severity=minutes"),
        ("urgent=soon", "whole minutes"),
        ("safety=0", "whole minutes"),
    ]:
        with pytest.raises(ValueError, match=said):
            alerts.escalation_windows(bad)


def test_an_unacknowledged_alert_is_escalated_after_its_window_and_again_until_acknowledged(
    engine: Engine, session: Session
) -> None:
    with factories.committed(engine) as setup:
        made = factories.clinic(setup, example=None, assessed=False)
        factories.questionnaire_response(
            setup,
            organization_id=made.id,
            patient_id=made.patient.id,
            instrument="phq-9",
            answers=PHQ9_ITEM9_TWO,
        )
    alert = session.scalars(select(Alert).where(Alert.patient_id == made.patient.id)).one()
    windows = alerts.escalation_windows("safety=240")
    raised = alert.raised_at
    patient = made.patient.id

    early = alerts.due_escalations(session, now=raised + dt.timedelta(minutes=239), windows=windows)
    assert mine(early, patient) == []
    first = alerts.due_escalations(session, now=raised + dt.timedelta(minutes=240), windows=windows)
    assert mine(first, patient) == [("safety", 1)]
    session.commit()
    # Not again within the next window; again once it has run out.
    soon = alerts.due_escalations(session, now=raised + dt.timedelta(minutes=300), windows=windows)
    assert mine(soon, patient) == []
    second = alerts.due_escalations(
        session, now=raised + dt.timedelta(minutes=480), windows=windows
    )
    assert mine(second, patient) == [("safety", 2)]
    session.commit()
    kinds = session.scalars(
        select(AlertEvent.kind).where(AlertEvent.alert_id == alert.id).order_by(AlertEvent.id)
    ).all()
    assert kinds == ["raised", "escalated", "escalated"]

    alerts.acknowledge(
        session,
        access=access(made.clinician),
        alert_id=alert.id,
        expected=IfMatchVersion.of(alert.version),
    )
    later = alerts.due_escalations(session, now=raised + dt.timedelta(days=3), windows=windows)
    assert mine(later, patient) == []
