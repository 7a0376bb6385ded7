"""One patient from assessment to the 12-month outcome, through the pure care domain.

The bundled ``scs-candidate`` example: persistent neuropathic leg pain after a laminectomy, on
30 MME/day of opioids for two years, who declines further surgery.
"""

from __future__ import annotations

import datetime as dt

import pytest

from secondlook.care import (
    Attendee,
    CareInvalid,
    CohortRow,
    ConferenceDecision,
    Decision,
    GoalCheck,
    InstrumentResult,
    Task,
    TransitionRefused,
    add_months,
    assessment_ref,
    cohort_csv,
    complete_plan,
    completion_status,
    conference_agenda,
    decide,
    due_and_overdue,
    goal_status,
    propose_plan,
    questionnaire_options,
    questionnaire_schedule,
    ready_tasks,
    record_conference,
    responder_status,
    taper_schedule,
    tasks_for,
    transition,
)
from secondlook.case import parse_case
from secondlook.engine import assess
from secondlook.examples import load_example

ACCEPT = {
    "psychological-evaluation",
    "prior-records-review",
    "medication-review",
    "functional-assessment",
    "multidisciplinary-rehabilitation",
    "opioid-taper",
    "spinal-cord-stimulation",
    "sleep-management",
}
#: Score paths: (months after the start, ODI, NRS, PHQ-9 answers, DN4 answers).
FOLLOW_UP = [
    (3, 38.0, 6.0, [1, 1, 1, 1, 0, 0, 1, 0, 0], [1, 1, 0, 1, 0, 0, 1, 1, 0, 0]),
    (6, 32.0, 4.0, [1, 1, 1, 0, 0, 0, 1, 0, 0], [1, 0, 0, 1, 0, 0, 1, 0, 0, 0]),
    (12, 28.0, 3.0, [1, 0, 1, 0, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 1, 0, 0, 0]),
]


def close_in_order(tasks: list[Task], on: dt.date, order: list[str]) -> list[Task]:
    """Do every ready task (accept, start, complete) until none is left; record the order."""
    while True:
        ready = [t for t in ready_tasks(tasks) if t.owner != "patient"]
        if not ready:
            return tasks
        for task in ready:
            for step in ("accepted", "in-progress", "completed"):
                current = next(t for t in tasks if t.id == task.id)
                if current.status == "requested" or step != "accepted":
                    tasks = list(transition(tasks, task.id, step, on=on, by="team").tasks)
            order.append(task.key)


def test_one_patient_from_assessment_to_twelve_month_outcome() -> None:
    document = load_example("scs-candidate")
    case = parse_case(document)
    assessment = assess(case)
    start = dt.date(2026, 5, 4)

    # -- conference -------------------------------------------------------------------------------
    agenda = conference_agenda(assessment)
    assert [a.key for a in agenda] == [
        "spine-anatomy",
        "pain-management",
        "medical",
        "functional",
        "psychological",
    ]
    assert any("Spinal cord stimulation" in need for need in agenda[1].needs)
    conference = record_conference(
        id="conf-1",
        patient_id="pat-1",
        held_on=dt.date(2026, 4, 28),
        assessment=assessment,
        assessment_ref=assessment_ref(assessment, "asm-1"),
        attendees=[
            Attendee("Dr Silva", "spine-surgery"),
            Attendee("Dr Okafor", "pain-medicine"),
            Attendee("Ms Berg", "psychology"),
            Attendee("Mr Ito", "physical-therapy"),
        ],
        decisions=[
            ConferenceDecision(
                "d1",
                "Stimulation pathway with a slow taper.",
                "pain-management",
            ),
        ],
    )

    # -- plan -------------------------------------------------------------------------------------
    draft = propose_plan(assessment, today=conference.held_on, case=case, assessment_id="asm-1")
    assert [g.id for g in draft.goals] == ["odi", "nrs-pain", "patient-1"]

    def decisions(reason_for_exercise: str | None) -> list[Decision]:
        return [
            Decision(
                item.id,
                "accept" if item.ref in ACCEPT else "reject",
                reason=reason_for_exercise if item.ref == "exercise-therapy" else None,
            )
            for item in draft.items
        ]

    with pytest.raises(CareInvalid) as missing:
        decide(draft, decisions(None), patient_id="pat-1")
    assert missing.value.problems == [
        "treatment:exercise-therapy: a reason is required for rejecting an item the engine "
        "rates 'recommended'",
    ]
    plan = decide(
        draft,
        decisions("No benefit from a full course in 2025; continues within the programme."),
        patient_id="pat-1",
        decided_by="Dr Okafor",
    )
    assert {e.item.ref for e in plan.accepted} == ACCEPT

    # -- tasks ------------------------------------------------------------------------------------
    taper = taper_schedule(
        mme_per_day=case.medications.opioid_mme_per_day or 0,  # type: ignore[union-attr]
        months_of_use=case.medications.opioid_months,  # type: ignore[union-attr]
        start_on=start,
    )
    assert taper.long_term and [s.mme_per_day for s in taper.steps][:3] == [30, 27, 24]
    tasks = tasks_for(plan, start=start, taper=taper)
    keys = [t.key for t in tasks]
    assert "spinal-cord-stimulation-trial" in keys
    assert keys.count("opioid-taper-follow-up") == 11
    trial = next(t for t in tasks if t.key == "spinal-cord-stimulation-trial")
    tasks = list(transition(tasks, trial.id, "accepted", on=start).tasks)
    with pytest.raises(TransitionRefused, match="Psychological evaluation"):
        transition(tasks, trial.id, "in-progress", on=start)
    order: list[str] = []
    tasks = close_in_order(tasks, add_months(start, 2), order)
    assert order.index("psychological-evaluation") < order.index("spinal-cord-stimulation-trial")
    assert order.index("spinal-cord-stimulation-trial") < order.index("spinal-cord-stimulation")
    assert all(t.status == "completed" for t in tasks)

    # -- questionnaires ---------------------------------------------------------------------------
    schedule = questionnaire_schedule(
        start,
        case.region,
        options=questionnaire_options(case, assessment),
        review_dates=[plan.review_on],
    )
    assert {s.instrument for s in schedule} == {"odi", "nrs-pain", "phq-9", "start-back", "dn4"}
    results: list[InstrumentResult | GoalCheck] = [
        InstrumentResult("odi", start, 44.0),
        InstrumentResult("nrs-pain", start, 7.0),
        InstrumentResult("phq-9", start, 6.0),
        InstrumentResult("start-back", start, 5.0),
        InstrumentResult("dn4", start, 6.0),
    ]
    for months, odi, nrs, phq9, dn4 in FOLLOW_UP:
        day = add_months(start, months)
        before = due_and_overdue(
            schedule, [r for r in results if isinstance(r, InstrumentResult)], day
        )
        assert {s.item.instrument for s in before.due if s.item.months == months} == {
            "odi",
            "nrs-pain",
            "phq-9",
            "dn4",
        }
        assert before.overdue == ()
        results += [
            InstrumentResult("odi", day, odi),
            InstrumentResult("nrs-pain", day, nrs),
            InstrumentResult("phq-9", day, float(sum(phq9))),
            InstrumentResult("dn4", day, float(sum(dn4))),
        ]
        after = due_and_overdue(
            schedule, [r for r in results if isinstance(r, InstrumentResult)], day
        )
        assert not [s for s in after.due if s.item.months == months]

    # -- outcome ----------------------------------------------------------------------------------
    assert responder_status("odi", results, baseline_on=start, months=6) == "responder"
    assert responder_status("odi", results, baseline_on=start, months=12) == "responder"
    year = add_months(start, 12)
    goals = {g.id: g for g in plan.goals}
    assert goal_status(goals["odi"], results) == "met"
    assert goal_status(goals["nrs-pain"], results) == "met"
    assert goal_status(goals["patient-1"], results) == "not-yet-measurable"

    statuses = [(t.id, t.status) for t in tasks]
    early = completion_status(plan, task_statuses=statuses, results=results)
    assert early.unmet == (
        "goal 'patient-1' is not-yet-measurable (measured from 2027-04-28 on)",
    )  # the decision was on 28 April 2026; the 12-month point of the plan is a year later
    results.append(GoalCheck("patient-1", dt.date(2027, 4, 30), True, "Walked there and back"))
    done = complete_plan(plan, on=dt.date(2027, 4, 30), task_statuses=statuses, results=results)
    assert done.status == "completed"

    row = CohortRow(
        patient_id=done.patient_id,
        region=case.region,
        course=assessment["classification"]["course"],
        etiology=assessment["differential"][0]["id"],
        baseline_on=start,
        work_status_baseline=case.patient.work_status,
        work_status_12m="working",
        responder_6m="responder",
        responder_12m="responder",
    )
    assert cohort_csv([row]).splitlines()[1].startswith("pat-1,lumbar,persistent,")
    assert year == dt.date(2027, 5, 4)
