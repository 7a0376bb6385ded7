"""Alert records and the alerts service on SQLite and PostgreSQL: raised in the transaction of
what raised them, one open alert per condition, closed only by a person, every act audited."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

import factories
from secondlook.platform.access import Access, Principal
from secondlook.platform.errors import Refused
from secondlook.platform.preconditions import IfMatchVersion
from secondlook.services import alerts, records
from secondlook.store import db
from secondlook.store.alert_models import Alert, AlertEvent
from secondlook.store.models import AuditEvent

PHQ9_ITEM9_TWO = [1, 1, 1, 1, 1, 1, 1, 1, 2]
PHQ9_ITEM9_ZERO = [1, 1, 1, 1, 1, 1, 1, 1, 0]


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with db.make_sessionmaker(engine)() as session:
        yield session


def access(person: factories.Person) -> Access:
    principal = Principal(
        user_id=person.user_id,
        username=person.username,
        role=person.role,
        organization_id=person.organization_id,
        patient_id=person.patient_id,
        credential_id=0,
        credential_kind="test",
    )
    return Access(principal=principal, client="test", via="test")


def clinic(engine: Engine, *, example: str | None = "cauda-equina") -> factories.Clinic:
    with factories.committed(engine) as setup:
        return factories.clinic(setup, example=example, assessed=False)


def alert_events(session: Session, alert_id: int) -> list[tuple[str, str | None]]:
    rows = session.scalars(
        select(AlertEvent).where(AlertEvent.alert_id == alert_id).order_by(AlertEvent.id)
    )
    return [(e.kind, e.source) for e in rows]


def test_an_assessment_with_an_emergency_red_flag_raises_an_emergency_alert_with_its_facts(
    engine: Engine, session: Session
) -> None:
    made = clinic(engine)
    assessment, _ = records.assess(
        session, access=access(made.clinician), patient_id=made.patient.id
    )
    inbox = alerts.inbox(session, access=access(made.clinician))
    flags = assessment.document["red_flags"]
    assert flags, "the cauda equina example raises a red flag"
    emergency = [v for v in inbox if v.alert.condition_key == f"red-flag:{flags[0]['id']}"]
    assert len(emergency) == 1
    view = emergency[0]
    assert view.alert.severity == flags[0]["urgency"] == "emergency"
    assert view.severity_label == "Emergency"
    assert view.alert.status == "open"
    assert view.patient_name == made.patient.name
    raised = view.events[0]
    assert (raised.kind, raised.source, raised.assessment_id) == (
        "raised",
        "assessment",
        assessment.id,
    )
    assert raised.facts["because"] == flags[0]["because"]
    assert raised.facts["references"] == flags[0]["references"]


def test_a_portal_phq9_with_item_9_at_2_raises_a_safety_alert_in_the_same_transaction(
    engine: Engine, session: Session
) -> None:
    made = clinic(engine, example=None)
    response = records.submit_questionnaire(
        session,
        access=access(made.patient_user),
        patient_id=made.patient.id,
        instrument="phq-9",
        answers=PHQ9_ITEM9_TWO,
    )
    inbox = alerts.inbox(session, access=access(made.coordinator))
    assert [(v.alert.condition_key, v.alert.severity) for v in inbox] == [
        ("safety:self-harm-risk", "safety")
    ]
    raised = inbox[0].events[0]
    assert (raised.kind, raised.source, raised.response_id) == (
        "raised",
        "questionnaire",
        response.id,
    )
    assert raised.facts["answers"] == PHQ9_ITEM9_TWO
    assert "Same-day safety assessment" in inbox[0].alert.action
    assert inbox[0].alert.name == "Thoughts of self-harm"


def test_the_same_condition_raised_again_is_the_same_alert_with_a_raised_again_event(
    engine: Engine, session: Session
) -> None:
    made = clinic(engine, example=None)
    for _ in range(2):
        records.submit_questionnaire(
            session,
            access=access(made.patient_user),
            patient_id=made.patient.id,
            instrument="phq-9",
            answers=PHQ9_ITEM9_TWO,
        )
    records.submit_questionnaire(
        session,
        access=access(made.clinician),
        patient_id=made.patient.id,
        instrument="phq-9",
        answers=PHQ9_ITEM9_ZERO,
    )
    rows = session.scalars(select(Alert).where(Alert.patient_id == made.patient.id)).all()
    assert len(rows) == 1
    assert rows[0].status == "open"
    assert alert_events(session, rows[0].id) == [
        ("raised", "questionnaire"),
        ("raised-again", "questionnaire"),
    ]


def test_a_new_assessment_that_no_longer_raises_the_flag_keeps_the_alert_open(
    engine: Engine, session: Session
) -> None:
    made = clinic(engine)
    records.assess(session, access=access(made.clinician), patient_id=made.patient.id)
    before = alerts.patient_alerts(
        session, access=access(made.clinician), patient_id=made.patient.id
    )
    assert before
    with factories.committed(engine) as setup:
        factories.case_version(
            setup,
            organization_id=made.id,
            patient_id=made.patient.id,
            example="recurrent-disc",
        )
    again, _ = records.assess(session, access=access(made.clinician), patient_id=made.patient.id)
    after = alerts.patient_alerts(
        session, access=access(made.clinician), patient_id=made.patient.id
    )
    still = {v.alert.condition_key: v.alert.status for v in after}
    for view in before:
        assert still[view.alert.condition_key] == "open"
    gone = {f"red-flag:{f['id']}" for f in again.document["red_flags"]}
    assert any(v.alert.condition_key not in gone for v in before)


def test_acknowledge_then_resolve_appends_events_and_needs_the_current_version(
    engine: Engine, session: Session
) -> None:
    made = clinic(engine, example=None)
    records.submit_questionnaire(
        session,
        access=access(made.patient_user),
        patient_id=made.patient.id,
        instrument="phq-9",
        answers=PHQ9_ITEM9_TWO,
    )
    (view,) = alerts.inbox(session, access=access(made.clinician))
    alert_id = view.alert.id
    with pytest.raises(Refused) as missing:
        alerts.acknowledge(
            session, access=access(made.clinician), alert_id=alert_id, expected=IfMatchVersion(None)
        )
    assert missing.value.status == 428
    acked = alerts.acknowledge(
        session,
        access=access(made.clinician),
        alert_id=alert_id,
        expected=IfMatchVersion.of(1),
        note="calling now",
    )
    assert (acked.alert.status, acked.alert.version) == ("acknowledged", 2)
    assert acked.acknowledged_by == made.clinician.username
    with pytest.raises(Refused) as stale:
        alerts.resolve(
            session,
            access=access(made.coordinator),
            alert_id=alert_id,
            expected=IfMatchVersion.of(1),
            resolution="called-patient",
            note="spoke with the patient",
        )
    assert stale.value.status == 412
    with pytest.raises(Refused) as unknown:
        alerts.resolve(
            session,
            access=access(made.coordinator),
            alert_id=alert_id,
            expected=IfMatchVersion.of(2),
            resolution="shrugged",
            note="",
        )
    assert unknown.value.status == 422
    with pytest.raises(Refused) as why:
        alerts.resolve(
            session,
            access=access(made.coordinator),
            alert_id=alert_id,
            expected=IfMatchVersion.of(2),
            resolution="no-action-needed",
            note="  ",
        )
    assert why.value.status == 422
    done = alerts.resolve(
        session,
        access=access(made.coordinator),
        alert_id=alert_id,
        expected=IfMatchVersion.of(2),
        resolution="safety-plan-made",
        note="safety plan agreed by phone",
    )
    assert (done.alert.status, done.resolved_by) == ("resolved", made.coordinator.username)
    assert [(e.kind, e.note) for e in done.events] == [
        ("raised", None),
        ("acknowledged", "calling now"),
        ("resolved", "safety plan agreed by phone"),
    ]
    assert done.events[-1].resolution == "safety-plan-made"
    assert alerts.inbox(session, access=access(made.clinician)) == []
    with pytest.raises(Refused) as closed:
        alerts.acknowledge(
            session, access=access(made.clinician), alert_id=alert_id, expected=IfMatchVersion.of(3)
        )
    assert closed.value.status == 409
    # The next self-harm answer after a resolution is a new alert, not the closed one reopened.
    records.submit_questionnaire(
        session,
        access=access(made.patient_user),
        patient_id=made.patient.id,
        instrument="phq-9",
        answers=PHQ9_ITEM9_TWO,
    )
    (fresh,) = alerts.inbox(session, access=access(made.clinician))
    assert fresh.alert.id != alert_id


def test_resolving_an_unacknowledged_alert_records_the_acknowledgement_first(
    engine: Engine, session: Session
) -> None:
    made = clinic(engine)
    records.assess(session, access=access(made.clinician), patient_id=made.patient.id)
    view = alerts.inbox(session, access=access(made.clinician))[0]
    done = alerts.resolve(
        session,
        access=access(made.clinician),
        alert_id=view.alert.id,
        expected=IfMatchVersion.of(view.alert.version),
        resolution="sent-to-emergency-department",
        note="",
    )
    assert [e.kind for e in done.events] == ["raised", "acknowledged", "resolved"]
    assert done.acknowledged_by == made.clinician.username


def test_the_inbox_is_most_urgent_then_oldest_first(engine: Engine, session: Session) -> None:
    made = clinic(engine, example=None)
    records.submit_questionnaire(
        session,
        access=access(made.patient_user),
        patient_id=made.patient.id,
        instrument="phq-9",
        answers=PHQ9_ITEM9_TWO,
    )
    with factories.committed(engine) as setup:
        later = factories.patient(setup, organization_id=made.id, assessed=True)
    inbox = alerts.inbox(session, access=access(made.clinician))
    severities = [v.alert.severity for v in inbox]
    assert severities == sorted(severities, key=["emergency", "urgent", "safety"].index)
    assert severities[0] == "emergency" and severities[-1] == "safety"
    assert inbox[0].alert.patient_id == later.id


def test_patients_and_admins_never_see_the_inbox_and_other_organizations_alerts_are_not_found(
    engine: Engine, session: Session
) -> None:
    made = clinic(engine)
    other = clinic(engine)
    records.assess(session, access=access(other.clinician), patient_id=other.patient.id)
    theirs = alerts.inbox(session, access=access(other.clinician))[0]
    for who in (made.patient_user, made.admin):
        with pytest.raises(Refused) as refused:
            alerts.inbox(session, access=access(who))
        assert refused.value.status == 403
    with pytest.raises(Refused) as refused:
        alerts.acknowledge(
            session,
            access=access(made.clinician),
            alert_id=theirs.alert.id,
            expected=IfMatchVersion.of(1),
        )
    assert refused.value.status == 404
    with pytest.raises(Refused) as refused:
        alerts.patient_alerts(session, access=access(made.clinician), patient_id=other.patient.id)
    assert refused.value.status == 404
    assert alerts.inbox(session, access=access(made.clinician)) == []
    trail = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.actor_user_id == made.clinician.user_id)
        .order_by(AuditEvent.id)
    ).all()
    assert [(e.action, e.outcome, e.status) for e in trail] == [
        ("alert.update", "denied", 404),
        ("alert.read", "denied", 404),
        ("alert.read", "success", 200),
    ]
    assert theirs.alert.status == "open"


def test_acknowledging_and_resolving_are_audited_with_the_patient(
    engine: Engine, session: Session
) -> None:
    made = clinic(engine)
    records.assess(session, access=access(made.clinician), patient_id=made.patient.id)
    view = alerts.inbox(session, access=access(made.clinician))[0]
    alerts.acknowledge(
        session,
        access=access(made.clinician),
        alert_id=view.alert.id,
        expected=IfMatchVersion.of(1),
    )
    trail = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.actor_user_id == made.clinician.user_id)
        .order_by(AuditEvent.id)
    ).all()
    assert [(e.action, e.outcome, e.patient_id) for e in trail][-2:] == [
        ("alert.read", "success", None),
        ("alert.update", "success", made.patient.id),
    ]


def test_alert_events_are_append_only(engine: Engine, session: Session) -> None:
    made = clinic(engine)
    records.assess(session, access=access(made.clinician), patient_id=made.patient.id)
    with pytest.raises(DatabaseError):
        session.execute(
            text("UPDATE alert_events SET note = 'changed' WHERE patient_id = :p"),
            {"p": made.patient.id},
        )
    session.rollback()
    with pytest.raises(DatabaseError):
        session.execute(
            text("DELETE FROM alert_events WHERE patient_id = :p"), {"p": made.patient.id}
        )
    session.rollback()


def test_the_resolution_and_status_words_of_the_api_are_the_vocabulary() -> None:
    from typing import get_args

    from secondlook.care import alerts as vocabulary

    assert set(get_args(vocabulary.Resolution)) == set(vocabulary.RESOLUTION_ACTIONS)
    assert set(get_args(vocabulary.StatusFilter)) == {"unresolved", "all", *vocabulary.STATUSES}
