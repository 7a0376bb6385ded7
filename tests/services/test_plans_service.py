"""The conference and plan services on a real SQLite database: who may see what (and the audit
trail of a refusal), where a refused plan's problems are in the request, If-Match after
authorization, and the rule that a draft is never the patient's current plan."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import factories
from secondlook.care import Attendee, Decision
from secondlook.platform.access import Access
from secondlook.platform.errors import Refused
from secondlook.platform.preconditions import IfMatchVersion
from secondlook.services import care, plans
from secondlook.store import accounts
from secondlook.store.models import AuditEvent


@pytest.fixture
def clinic(session: Session) -> factories.Clinic:
    made = factories.clinic(session)
    session.commit()
    return made


def access(session: Session, person: factories.Person) -> Access:
    """The act of `person`, signed in with their API token as a request would be."""
    principal = accounts.resolve_credential(session, secret=person.token, kind="token")
    assert principal is not None
    return Access(principal=principal, client="testclient", via="service test")


def events(session: Session, *, organization_id: int, action: str) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.organization_id == organization_id, AuditEvent.action == action)
            .order_by(AuditEvent.id)
        )
    )


def decisions(session: Session, who: Access, patient_id: int) -> list[Decision]:
    """A decision for every proposed item: the recommended and considered ones accepted (not
    the opioid taper), the others rejected, each with a reason."""
    assessment = factories.latest_assessment(
        session, organization_id=who.organization_id, patient_id=patient_id
    )
    draft = plans.propose(session, access=who, patient_id=patient_id, assessment_id=assessment.id)
    return [
        Decision(
            item.id,
            "accept" if factories.recommended_or_considered(item) else "reject",
            "Decided in the test",
        )
        for item in draft.items
    ]


def test_another_organizations_patient_is_not_found_and_the_attempt_is_on_record(
    session: Session, clinic: factories.Clinic
) -> None:
    other = factories.clinic(session, assessed=False)
    session.commit()
    outsider = access(session, other.clinician)

    for act in (
        lambda: plans.list_plans(session, access=outsider, patient_id=clinic.patient.id, limit=10),
        lambda: plans.plan_builder(session, access=outsider, patient_id=clinic.patient.id),
        lambda: plans.conference_form(session, access=outsider, patient_id=clinic.patient.id),
    ):
        with pytest.raises(Refused) as refused:
            act()
        assert refused.value.status == 404

    for action in ("care.plan.read", "care.plan.propose", "care.conference.read"):
        (event,) = events(session, organization_id=other.id, action=action)
        assert (event.outcome, event.status, event.patient_id) == (
            "denied",
            404,
            clinic.patient.id,
        )
        assert event.actor_user_id == other.clinician.user_id
    # Nothing about the attempt is written into the other organization's trail.
    assert not events(session, organization_id=clinic.id, action="care.plan.read")


def test_a_plan_with_an_unknown_item_is_refused_at_that_decision_in_the_body(
    session: Session, clinic: factories.Clinic
) -> None:
    who = access(session, clinic.clinician)
    patient_id = clinic.patient.id
    chosen = [*decisions(session, who, patient_id), Decision("workup:no-such-item", "accept")]
    assessment = factories.latest_assessment(
        session, organization_id=clinic.id, patient_id=patient_id
    )

    with pytest.raises(Refused) as refused:
        plans.create_plan(
            session,
            access=who,
            patient_id=patient_id,
            assessment_id=assessment.id,
            decisions=chosen,
        )

    assert refused.value.status == 422
    assert refused.value.kind == "care-invalid"
    paths = {e.path for e in refused.value.errors or [] if "workup:no-such-item" in e.message}
    assert paths == {f"$.decisions[{len(chosen) - 1}]"}
    (event,) = events(session, organization_id=clinic.id, action="care.plan.create")
    assert (event.outcome, event.status) == ("failed", 422)
    assert plans.list_plans(session, access=who, patient_id=patient_id, limit=10) == []


def test_a_stale_if_match_is_refused_and_only_after_authorization(
    session: Session, clinic: factories.Clinic
) -> None:
    who = access(session, clinic.clinician)
    patient_id = clinic.patient.id
    plan = factories.plan(session, organization_id=clinic.id, patient_id=patient_id)
    session.commit()
    review_on = plan.review_on + dt.timedelta(days=7)

    changed = plans.update_plan(
        session,
        access=who,
        patient_id=patient_id,
        plan_id=plan.id,
        expected=IfMatchVersion.of(1),
        review_on=review_on,
    )
    assert (changed.version, changed.review_on) == (2, review_on)

    with pytest.raises(Refused) as stale:
        plans.update_plan(
            session,
            access=who,
            patient_id=patient_id,
            plan_id=plan.id,
            expected=IfMatchVersion.of(1),
            review_on=review_on + dt.timedelta(days=7),
        )
    assert stale.value.status == 412
    assert stale.value.kind == "stale-version"
    assert stale.value.extra == {"current_version": 2}
    update_events = events(session, organization_id=clinic.id, action="care.plan.update")
    assert [(e.outcome, e.status) for e in update_events] == [("success", 200), ("failed", 412)]

    # A role that may not change plans learns that (403), not which precondition to send.
    with pytest.raises(Refused) as forbidden:
        plans.update_plan(
            session,
            access=access(session, clinic.patient_user),
            patient_id=patient_id,
            plan_id=plan.id,
            expected=IfMatchVersion(None),
        )
    assert forbidden.value.status == 403
    # Without If-Match an authorized writer is told to send it.
    with pytest.raises(Refused) as missing:
        plans.update_plan(
            session,
            access=who,
            patient_id=patient_id,
            plan_id=plan.id,
            expected=IfMatchVersion(None),
        )
    assert missing.value.status == 428
    assert plans.read_plan(session, access=who, patient_id=patient_id, plan_id=plan.id).version == 2


def test_a_draft_never_becomes_the_current_plan_until_it_is_activated(
    session: Session, clinic: factories.Clinic
) -> None:
    who = access(session, clinic.clinician)
    patient_id = clinic.patient.id
    assessment = factories.latest_assessment(
        session, organization_id=clinic.id, patient_id=patient_id
    )
    chosen = decisions(session, who, patient_id)

    draft = plans.create_plan(
        session,
        access=who,
        patient_id=patient_id,
        assessment_id=assessment.id,
        decisions=chosen,
        draft=True,
    )
    assert draft.status == "draft"
    assert draft.decided_by == clinic.clinician.username
    current = care.current_plan_in(session, organization_id=clinic.id, patient_id=patient_id)
    assert current is None
    assert care.board(session, access=who, patient_id=patient_id).plan is None
    found = plans.plan_tasks(
        session, access=who, patient_id=patient_id, plan_id=draft.id, limit=100
    )
    assert found.tasks == []

    active = plans.update_plan(
        session,
        access=who,
        patient_id=patient_id,
        plan_id=draft.id,
        expected=IfMatchVersion.of(draft.version),
        status="active",
    )
    assert active.status == "active"
    current = care.current_plan_in(session, organization_id=clinic.id, patient_id=patient_id)
    assert current is not None and current.id == draft.id

    # A newer draft leaves the plan in force as it is.
    newer = plans.create_plan(
        session,
        access=who,
        patient_id=patient_id,
        assessment_id=assessment.id,
        decisions=chosen,
        draft=True,
    )
    current = care.current_plan_in(session, organization_id=clinic.id, patient_id=patient_id)
    assert current is not None and (current.id, newer.status) == (draft.id, "draft")
    outcomes = care.outcomes(session, access=who, patient_id=patient_id)
    assert outcomes.plan is not None and outcomes.plan.id == draft.id
    statuses = [
        (e.outcome, e.status)
        for e in events(session, organization_id=clinic.id, action="care.plan.create")
    ]
    assert statuses == [("success", 201), ("success", 201)]


def test_a_conference_decision_problem_is_located_in_the_body(
    session: Session, clinic: factories.Clinic
) -> None:
    who = access(session, clinic.clinician)
    form = plans.conference_form(session, access=who, patient_id=clinic.patient.id)

    with pytest.raises(Refused) as refused:
        plans.create_conference(
            session,
            access=who,
            patient_id=clinic.patient.id,
            assessment_id=form.assessment.id,
            held_on=factories.today(),
            attendees=[Attendee("Dr Test", "spine-surgery")],
            decisions=[
                {"id": "d1", "text": "Go ahead"},
                {"id": "d2", "text": "Operate", "dissent": [{"attendee": "Nobody", "text": "No"}]},
            ],
        )
    assert refused.value.status == 422
    assert "$.decisions[1]" in {e.path for e in refused.value.errors or []}

    made = plans.create_conference(
        session,
        access=who,
        patient_id=clinic.patient.id,
        assessment_id=form.assessment.id,
        held_on=factories.today(),
        attendees=[Attendee("Dr Test", "spine-surgery")],
        decisions=[{"id": "d1", "text": "Go ahead", "agenda_key": form.agenda[0].key}],
    )
    assert plans.read_conference(
        session, access=who, patient_id=clinic.patient.id, conference_id=made.id
    ).decisions == [
        {
            "id": "d1",
            "text": "Go ahead",
            "agenda_key": form.agenda[0].key,
            "dissent": [],
            "plan_item_id": None,
            "plan_action": None,
        }
    ]
    statuses = [
        (e.outcome, e.status)
        for e in events(session, organization_id=clinic.id, action="care.conference.create")
    ]
    assert statuses == [("failed", 422), ("success", 201)]


def test_the_portal_asks_for_what_the_plans_schedule_and_the_worklist_say_is_due(
    session: Session, clinic: factories.Clinic
) -> None:
    """One judgement of what is due: the portal offers the plan's due and overdue
    questionnaires that it can show, the same the team's worklist lists for the patient."""
    import datetime as dt

    from secondlook.services import care

    patient_id = clinic.patient.id
    before_plan = care.portal_due_in(session, organization_id=clinic.id, patient_id=patient_id)
    assert before_plan  # no plan: the periodic check-in
    plan = factories.plan(session, organization_id=clinic.id, patient_id=patient_id)
    session.commit()
    seen: set[str] = set()
    for offset in (0, 40, 100, 200, 400):
        day = plan.start_on + dt.timedelta(days=offset)
        offered = care.portal_due_in(
            session, organization_id=clinic.id, patient_id=patient_id, on=day
        )
        listed = care.worklist(
            session,
            access=access(session, clinic.clinician),
            kind="questionnaires",
            limit=10_000,
            day=day,
        ).patients
        mine = next((p for p in listed if p.patient_id == patient_id), None)
        on_worklist = set(mine.instruments) if mine is not None else set()
        assert set(offered) == on_worklist & {"nrs-pain", "phq-9", "gad-7"}, (offset, offered)
        seen.update(offered)
    assert seen, "some portal questionnaire falls due over the year"
