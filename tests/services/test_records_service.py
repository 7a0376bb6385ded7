"""The records service on a real SQLite database: who may see which patient, what a refusal says
and that every act, allowed or not, leaves its audit event."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import factories
from secondlook.platform.access import Access, Principal
from secondlook.platform.errors import Refused
from secondlook.platform.preconditions import IfMatchVersion
from secondlook.services import records
from secondlook.store.models import AuditEvent, Patient, QuestionnaireResponse


@pytest.fixture
def engine(service_engine: Engine) -> Engine:
    return service_engine


@pytest.fixture
def clinic(engine: Engine) -> factories.Clinic:
    with factories.committed(engine) as session:
        return factories.clinic(session, assessed=False)


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


def events(session: Session, *, actor: factories.Person) -> list[tuple[str, str, int, int | None]]:
    rows = session.scalars(
        select(AuditEvent).where(AuditEvent.actor_user_id == actor.user_id).order_by(AuditEvent.id)
    )
    return [(e.action, e.outcome, e.status, e.patient_id) for e in rows]


def test_another_organizations_patient_is_not_found_and_the_attempt_is_audited(
    session: Session, clinic: factories.Clinic, engine: Engine
) -> None:
    with factories.committed(engine) as setup:
        other = factories.clinic(setup, assessed=False)
    with pytest.raises(Refused) as refused:
        records.read_patient(session, access=access(clinic.clinician), patient_id=other.patient.id)
    assert refused.value.status == 404
    with pytest.raises(Refused) as refused_case:
        records.read_case(session, access=access(clinic.clinician), patient_id=other.patient.id)
    assert refused_case.value.status == 404
    assert events(session, actor=clinic.clinician) == [
        ("patient.read", "denied", 404, other.patient.id),
        ("case.read", "denied", 404, other.patient.id),
    ]


def test_a_patient_lists_only_their_own_record(
    session: Session, clinic: factories.Clinic, engine: Engine
) -> None:
    with factories.committed(engine) as setup:
        factories.patient(setup, organization_id=clinic.id, example=None)
    team = records.list_patients(session, access=access(clinic.clinician), limit=50)
    assert len(team) == 2
    mine = records.list_patients(session, access=access(clinic.patient_user), limit=50)
    assert [p.id for p in mine] == [clinic.patient.id]
    found = records.search_patients(
        session, access=access(clinic.patient_user), query=clinic.patient.name
    )
    assert [p.id for p in found] == [clinic.patient.id]
    assert events(session, actor=clinic.patient_user) == [
        ("patient.list", "success", 200, None),
        ("patient.list", "success", 200, None),
    ]


def test_assessing_without_a_case_is_a_409_no_case(
    session: Session, engine: Engine, clinic: factories.Clinic
) -> None:
    with factories.committed(engine) as setup:
        bare = factories.patient(setup, organization_id=clinic.id, example=None)
    with pytest.raises(Refused) as refused:
        records.assess(session, access=access(clinic.clinician), patient_id=bare.id)
    assert (refused.value.status, refused.value.kind) == (409, "no-case")
    assert refused.value.detail == (
        f"patient {bare.id} has no case version to assess; PUT a case document first"
    )
    with pytest.raises(Refused) as numbered:
        records.assess(
            session, access=access(clinic.clinician), patient_id=clinic.patient.id, case_version=9
        )
    assert numbered.value.status == 409
    assert "numbered 9" in str(numbered.value.detail)
    assert events(session, actor=clinic.clinician) == [
        ("assessment.create", "failed", 409, bare.id),
        ("assessment.create", "failed", 409, clinic.patient.id),
    ]


def test_reading_a_missing_case_is_a_404_no_case(
    session: Session, engine: Engine, clinic: factories.Clinic
) -> None:
    with factories.committed(engine) as setup:
        bare = factories.patient(setup, organization_id=clinic.id, example=None)
    with pytest.raises(Refused) as refused:
        records.read_case(session, access=access(clinic.coordinator), patient_id=bare.id)
    assert (refused.value.status, refused.value.kind) == (404, "no-case")
    version = records.save_case(
        session,
        access=access(clinic.coordinator),
        patient_id=bare.id,
        expected=0,
        document=records.read_case(
            session, access=access(clinic.coordinator), patient_id=clinic.patient.id
        ).document,
    )
    assert version.number == 1
    assert records.read_case(
        session, access=access(clinic.coordinator), patient_id=bare.id, number=1
    ).id == (version.id)
    with pytest.raises(Refused) as missing:
        records.read_case(session, access=access(clinic.coordinator), patient_id=bare.id, number=2)
    assert missing.value.status == 404 and missing.value.kind is None
    assert events(session, actor=clinic.coordinator) == [
        ("case.read", "failed", 404, bare.id),
        ("case.read", "success", 200, clinic.patient.id),
        ("case.write", "success", 201, bare.id),
        ("case.read", "success", 200, bare.id),
        ("case.read", "failed", 404, bare.id),
    ]


def test_a_stale_if_match_on_a_patient_update_is_412(
    session: Session, clinic: factories.Clinic
) -> None:
    who = access(clinic.coordinator)
    patient = records.read_patient(session, access=who, patient_id=clinic.patient.id)
    current = patient.version
    changed = records.update_patient(
        session,
        access=who,
        patient_id=patient.id,
        expected=IfMatchVersion.of(current),
        changes={"name": "Renamed Once"},
    )
    assert changed.version == current + 1
    with pytest.raises(Refused) as stale:
        records.update_patient(
            session,
            access=who,
            patient_id=patient.id,
            expected=IfMatchVersion.of(current),
            changes={"name": "Renamed Twice"},
        )
    assert (stale.value.status, stale.value.kind) == (412, "stale-version")
    assert stale.value.extra == {"current_version": current + 1}
    with pytest.raises(Refused) as missing:
        records.update_patient(
            session,
            access=who,
            patient_id=patient.id,
            expected=IfMatchVersion(None),
            changes={"name": "Renamed Twice"},
        )
    assert missing.value.status == 428
    assert records.read_patient(session, access=who, patient_id=patient.id).name == "Renamed Once"
    assert [e[:3] for e in events(session, actor=clinic.coordinator)] == [
        ("patient.read", "success", 200),
        ("patient.update", "success", 200),
        ("patient.update", "failed", 412),
        ("patient.update", "failed", 428),
        ("patient.read", "success", 200),
    ]


def test_a_role_that_may_not_write_learns_that_before_any_precondition(
    session: Session, clinic: factories.Clinic
) -> None:
    with pytest.raises(Refused) as refused:
        records.update_patient(
            session,
            access=access(clinic.patient_user),
            patient_id=clinic.patient.id,
            expected=IfMatchVersion(None),
            changes={"name": "Mine"},
        )
    assert refused.value.status == 403
    assert events(session, actor=clinic.patient_user) == [
        ("patient.update", "denied", 403, clinic.patient.id)
    ]


def test_assessments_questionnaires_and_history_carry_the_case_version_numbers(
    session: Session, clinic: factories.Clinic
) -> None:
    who = access(clinic.clinician)
    made, version = records.assess(session, access=who, patient_id=clinic.patient.id)
    assert version.number == 1
    listed = records.assessments(session, access=who, patient_id=clinic.patient.id, limit=10)
    assert [(r.assessment.id, r.case_version) for r in listed] == [(made.id, 1)]
    one = records.read_assessment(
        session, access=who, patient_id=clinic.patient.id, assessment_id=made.id
    )
    assert one.case_version == 1
    answered = records.submit_questionnaire(
        session, access=who, patient_id=clinic.patient.id, instrument="nrs-pain", answers=[4]
    )
    assert answered.answered_on == factories.today()
    assert [
        r.id
        for r in records.questionnaires(session, access=who, patient_id=clinic.patient.id, limit=10)
    ] == [answered.id]
    found = records.history(session, access=who, patient_id=clinic.patient.id, limit=10)
    assert [e.kind for e in found.entries] == [
        "case_version",
        "assessment",
        "questionnaire_response",
    ]
    assert found.case_versions == {made.case_version_id: 1}
    patient = session.get(Patient, clinic.patient.id)
    assert patient is not None
    seen = records.overview_in(session, organization_id=clinic.id, patient=patient)
    assert seen.assessment is not None and seen.assessment.id == made.id
    assert not seen.stale
    assert [e[0] for e in events(session, actor=clinic.clinician)] == [
        "assessment.create",
        "assessment.read",
        "assessment.read",
        "questionnaire.create",
        "questionnaire.read",
        "history.read",
    ]


def test_questionnaires_entered_at_intake_reach_the_outcomes(
    engine: Engine, session: Session, clinic: factories.Clinic
) -> None:
    """The case's questionnaires (entered at intake, imported) are the plan's baselines, so the
    outcome charts show them, counted once even when the same answers were also stored."""
    from secondlook.examples import load_example
    from secondlook.services import care

    case = load_example("scs-candidate")
    with factories.committed(engine) as setup:
        patient = factories.patient(setup, organization_id=clinic.id, document=case, assessed=True)
        first = next(
            q for q in case["questionnaires"] if q["instrument"] == "phq-9" and "answers" in q
        )
        factories.questionnaire_response(
            setup,
            organization_id=clinic.id,
            patient_id=patient.id,
            instrument=first["instrument"],
            answers=first["answers"],
            answered_on=dt.date.fromisoformat(first["date"]),
        )
    found = care.outcomes_in(session, organization_id=clinic.id, patient_id=patient.id)
    charted = {(c.instrument, day) for c in found.charts for day, _ in c.points}
    expected = {
        (q["instrument"], dt.date.fromisoformat(q["date"]))
        for q in case["questionnaires"]
        if q["instrument"] in {c.instrument for c in found.charts}
    }
    assert expected and expected <= charted
    points = [p for c in found.charts if c.instrument == "phq-9" for p in c.points]
    assert len(points) == len({p[0] for p in points}) >= 1  # the stored copy is not counted twice


def test_a_questionnaire_alert_is_put_before_the_patient_for_30_days() -> None:
    """The PHQ-9 asks about the last two weeks; its self-harm alert stays among the patient's
    warnings for RECENT_ANSWERS_DAYS (30) days after the answer, and not after."""
    from secondlook.care.warnings import SiteContacts

    today = dt.date(2026, 12, 2)

    def told(answered_on: dt.date) -> set[str]:
        response = QuestionnaireResponse(
            instrument="phq-9", answered_on=answered_on, alerts=["self-harm-risk"]
        )
        found = records.patient_warnings_of(
            document=None, responses=[response], contacts=SiteContacts(), today=today
        )
        return {source for w in found for source in w.sources}

    assert records.RECENT_ANSWERS_DAYS == 30
    assert told(today) == {"self-harm-risk"}
    assert told(today - dt.timedelta(days=30)) == {"self-harm-risk"}
    assert told(today - dt.timedelta(days=31)) == set()
