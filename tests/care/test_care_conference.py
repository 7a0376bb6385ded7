"""Case conference: agenda from real assessments, and the validated record."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from secondlook.care import (
    Attendee,
    CareInvalid,
    ConferenceDecision,
    Dissent,
    assessment_ref,
    conference_agenda,
    record_conference,
)
from secondlook.case import parse_case
from secondlook.engine import ENGINE_VERSION, assess
from secondlook.examples import load_example

PERSPECTIVES = ["spine-anatomy", "pain-management", "medical", "functional", "psychological"]


def assessment_of(name: str) -> dict[str, Any]:
    return assess(parse_case(load_example(name)))


def test_red_flags_and_safety_alerts_come_before_the_five_perspectives() -> None:
    agenda = conference_agenda(assessment_of("thoracic-sacroiliac"))
    assert [(a.kind, a.key) for a in agenda] == [
        ("red-flag", "fracture"),
        ("safety-alert", "self-harm-risk"),
        ("safety-alert", "opioid-overdose-risk"),
        *[("perspective", p) for p in PERSPECTIVES],
    ]
    assert [a.position for a in agenda] == list(range(1, 9))
    assert agenda[0].urgency == "urgent"
    assert agenda[0].needs and agenda[0].findings


def test_emergencies_lead_the_agenda_in_the_engines_order() -> None:
    agenda = conference_agenda(assessment_of("cauda-equina"))
    assert [a.key for a in agenda[:3]] == [
        "cauda-equina",
        "epidural-hematoma",
        "progressive-neurological-deficit",
    ]
    assert agenda[0].urgency == "emergency"


def test_each_perspective_brings_its_findings_and_needs() -> None:
    assessment = assessment_of("scs-candidate")
    agenda = conference_agenda(assessment)
    assert [a.key for a in agenda] == PERSPECTIVES  # no red flag, no alert
    pain = agenda[1]
    seat = next(p for p in assessment["perspectives"] if p["id"] == "pain-management")
    assert (pain.findings, pain.needs) == (tuple(seat["findings"]), tuple(seat["needs"]))
    assert any("Spinal cord stimulation" in n for n in pain.needs)


def test_a_seat_with_nothing_to_say_is_still_on_the_agenda() -> None:
    agenda = conference_agenda({"red_flags": [], "safety_alerts": [], "perspectives": []})
    assert [(a.key, a.findings, a.needs) for a in agenda] == [(p, (), ()) for p in PERSPECTIVES]


def test_a_conference_record_keeps_attendees_decisions_and_dissent() -> None:
    assessment = assessment_of("scs-candidate")
    ref = assessment_ref(assessment, "asm-1")
    conference = record_conference(
        id="conf-1",
        patient_id="pat-1",
        held_on=dt.date(2026, 4, 28),
        assessment=assessment,
        assessment_ref=ref,
        attendees=[
            Attendee("Dr Silva", "spine-surgery"),
            Attendee("Dr Okafor", "pain-medicine"),
            Attendee("Ms Berg", "psychology"),
        ],
        decisions=[
            ConferenceDecision(
                "d1",
                "Refer for spinal cord stimulation after psychological evaluation.",
                agenda_key="pain-management",
                dissent=(Dissent("Dr Silva", "Would try adhesiolysis first."),),
            ),
            ConferenceDecision("d2", "Begin a slow opioid taper."),
        ],
    )
    assert conference.assessment.knowledge_version == assessment["knowledge_version"]
    assert conference.assessment.assessment_id == "asm-1"
    assert len(conference.agenda) == 5
    assert conference.decisions[0].dissent[0].attendee == "Dr Silva"


def test_a_conference_record_with_problems_lists_them_all() -> None:
    assessment = assessment_of("scs-candidate")
    ref = assessment_ref({**assessment, "engine_version": "0.9"}, "asm-1")
    with pytest.raises(CareInvalid) as error:
        record_conference(
            id="conf-1",
            patient_id="pat-1",
            held_on=dt.date(2026, 4, 28),
            assessment=assessment,
            assessment_ref=ref,
            attendees=[Attendee("Dr X", "radiology")],  # type: ignore[arg-type]
            decisions=[
                ConferenceDecision("d1", " ", agenda_key="cauda-equina"),
                ConferenceDecision("d1", "Again", dissent=(Dissent("Dr Y", "No"),)),
            ],
        )
    assert error.value.problems == [
        "attendees[0] (Dr X): unknown discipline 'radiology'; use one of spine-surgery, "
        "pain-medicine, internal-medicine, physical-therapy, psychology, nursing-coordination",
        "assessment_ref.engine_version: '0.9' does not match the assessment shown "
        f"('{ENGINE_VERSION}')",
        "decision 'd1': the decision has no text",
        "decision 'd1': agenda item 'cauda-equina' is not on the agenda",
        "decision 'd1': the id is used twice",
        "decision 'd1': dissent by 'Dr Y', who did not attend",
    ]


def test_a_conference_needs_someone_there() -> None:
    assessment = assessment_of("scs-candidate")
    with pytest.raises(CareInvalid, match="at least one attendee"):
        record_conference(
            id="c",
            patient_id="p",
            held_on=dt.date(2026, 4, 28),
            assessment=assessment,
            assessment_ref=assessment_ref(assessment, "a"),
            attendees=[],
            decisions=[],
        )


def test_a_decision_about_a_plan_item_names_an_item_the_builder_proposes() -> None:
    assessment = assessment_of("scs-candidate")

    def record(*decisions: ConferenceDecision) -> Any:
        return record_conference(
            id="c",
            patient_id="p",
            held_on=dt.date(2026, 4, 28),
            assessment=assessment,
            assessment_ref=assessment_ref(assessment, "a"),
            attendees=[Attendee("Dr X", "psychology", user_id=7)],
            decisions=list(decisions),
            plan_item_ids=["workup:psychological-evaluation"],
        )

    made = record(
        ConferenceDecision(
            "d1",
            "Evaluate first",
            plan_item_id="workup:psychological-evaluation",
            plan_action="accept",
        )
    )
    assert made.decisions[0].plan_action == "accept" and made.attendees[0].user_id == 7
    with pytest.raises(CareInvalid) as error:
        record(
            ConferenceDecision("d1", "No MRI now", plan_item_id="workup:mri", plan_action="reject"),
            ConferenceDecision("d2", "Half a decision", plan_action="accept"),
            ConferenceDecision(
                "d3",
                "Unsure",
                plan_item_id="workup:psychological-evaluation",
                plan_action="maybe",  # type: ignore[arg-type]
            ),
        )
    assert error.value.problems == [
        "decision 'd1': plan item 'workup:mri' is not among the items the plan builder proposes "
        "for this assessment",
        "decision 'd2': a decision about a plan item names both item and action",
        "decision 'd3': unknown plan action 'maybe'; use accept or reject",
    ]
