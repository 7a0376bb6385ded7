"""Care plans from real assessments: proposing, deciding (with reasons), goals, closing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from secondlook.care import (
    CareInvalid,
    CompletionCriteria,
    Decision,
    Goal,
    GoalCheck,
    InstrumentResult,
    PlanDraft,
    complete_plan,
    completion_status,
    decide,
    discharge_plan,
    propose_plan,
    reason_required,
    suggest_goals,
)
from secondlook.case import parse_case
from secondlook.case.models import Case
from secondlook.engine import assess
from secondlook.examples import load_example


def example(name: str, **changes: Any) -> tuple[Case, dict[str, Any]]:
    document = load_example(name)
    document.update(changes)
    case = parse_case(document)
    return case, assess(case)


def draft_for(name: str) -> PlanDraft:
    case, assessment = example(name)
    return propose_plan(assessment, today=case.assessed_on, case=case)


def accept_all(draft: PlanDraft, default: str | None = "Agreed", **reasons: str) -> list[Decision]:
    return [Decision(i.id, "accept", reason=reasons.get(i.ref, default)) for i in draft.items]


def test_every_workup_item_and_treatment_option_becomes_a_plan_item() -> None:
    _, assessment = example("postoperative-infection")
    draft = propose_plan(assessment, today=dt.date(2026, 5, 1))
    assert [i.ref for i in draft.items if i.kind == "workup"] == [
        w["id"] for w in assessment["workup"]
    ]
    # Stated negatives ("not indicated on present information") leave nothing to decide on.
    assert [(i.ref, i.recommendation) for i in draft.items if i.kind == "treatment"] == [
        (t["id"], t["recommendation"])
        for t in assessment["treatment_options"]
        if not t.get("stated_negative")
    ]
    mri = draft.items[0]
    assert (mri.id, mri.priority, mri.perspective) == (
        "workup:mri-gadolinium",
        "urgent",
        "spine-anatomy",
    )
    assert draft.assessment.knowledge_version == assessment["knowledge_version"]
    assert draft.review_on == dt.date(2026, 8, 1)


@pytest.mark.parametrize(
    ("recommendation", "action", "needed"),
    [
        ("recommended", "reject", True),
        ("recommended", "accept", False),
        ("consider", "reject", False),
        ("consider", "accept", False),
        ("not-recommended", "accept", True),
        ("not-recommended", "edit", True),
        ("not-recommended", "reject", False),
        ("contraindicated", "accept", True),
        ("contraindicated", "reject", False),
    ],
)
def test_when_a_reason_is_required(recommendation: str, action: str, needed: bool) -> None:
    from secondlook.care import PlanItem

    item = PlanItem("treatment:x", "treatment", "x", "X", "medical", recommendation, None, ())  # type: ignore[arg-type]
    assert reason_required(item, action) is needed  # type: ignore[arg-type]


def test_rejecting_a_recommended_item_without_a_reason_names_the_item() -> None:
    draft = draft_for("scs-candidate")
    decisions = [
        Decision(
            i.id,
            "reject" if i.ref == "exercise-therapy" else "accept",
            reason="Patient prefers it" if i.ref == "revision-surgery" else None,
        )
        for i in draft.items
        if i.ref != "epidural-steroid-injection"
    ]
    with pytest.raises(CareInvalid) as error:
        decide(draft, decisions)
    assert error.value.problems == [
        "treatment:exercise-therapy: a reason is required for rejecting an item the engine "
        "rates 'recommended'",
        "treatment:epidural-steroid-injection: no decision (accept, edit or reject)",
    ]


def test_accepting_a_contraindicated_option_is_recorded_with_its_reason_never_blocked() -> None:
    draft = draft_for("postoperative-infection")
    with pytest.raises(CareInvalid, match="treatment:spinal-cord-stimulation: a reason"):
        decide(
            draft,
            accept_all(draft, default=None),
            goals=[Goal("g", "patient", "Heal", dt.date(2027, 1, 1))],
        )
    reasons = {
        t: "Accepted at conference"
        for t in (
            "exercise-therapy",
            "multidisciplinary-rehabilitation",
            "epidural-steroid-injection",
            "adhesiolysis",
            "radiofrequency-denervation",
            "sacroiliac-joint-treatment",
            "spinal-cord-stimulation",
            "intrathecal-drug-delivery",
            "revision-surgery",  # elective revision waits for the infection red flag
        )
    }
    plan = decide(
        draft,
        accept_all(draft, default=None, **reasons),
        goals=[Goal("g", "patient", "Heal", dt.date(2027, 1, 1))],
        decided_by="dr-b",
    )
    entry = plan.entry("spinal-cord-stimulation")
    assert entry is not None and entry.accepted and entry.reason == "Accepted at conference"
    assert plan.decided_by == "dr-b"


def test_unknown_and_duplicate_decisions_are_reported() -> None:
    draft = draft_for("scs-candidate")
    decisions = [*accept_all(draft, **{"revision-surgery": "x", "epidural-steroid-injection": "y"})]
    decisions += [Decision("treatment:nope", "accept"), decisions[0]]
    with pytest.raises(CareInvalid) as error:
        decide(draft, decisions)
    assert error.value.problems == [
        "treatment:nope: not an item of this plan",
        "workup:psychological-evaluation: decided more than once",
    ]


def test_an_edit_needs_its_edit_and_only_an_edit_carries_one() -> None:
    from secondlook.care import Edit

    draft = draft_for("recurrent-disc")
    first = draft.items[0].id
    decisions = [d for d in accept_all(draft) if d.item_id != first]
    with pytest.raises(CareInvalid, match=f"{first}: an edit decision needs the edit"):
        decide(draft, [*decisions, Decision(first, "edit")])
    with pytest.raises(CareInvalid, match=f"{first}: only an edit decision carries an edit"):
        decide(draft, [*decisions, Decision(first, "accept", edit=Edit(note="x"))])


def test_a_plan_needs_goals_a_future_review_and_known_completion_goals() -> None:
    draft = draft_for("recurrent-disc")
    decisions = accept_all(draft)
    with pytest.raises(CareInvalid) as error:
        decide(
            draft,
            decisions,
            goals=[],
            review_on=draft.proposed_on,
            completion=CompletionCriteria(goals=("odi",)),
        )
    assert error.value.problems == [
        "goals: a plan needs at least one goal",
        "review_on: 2026-03-02 must come after the decision (2026-03-02)",
        "completion.goals: 'odi' is not a goal of this plan",
    ]


def test_goal_templates_cite_the_meaningful_change_thresholds() -> None:
    case, assessment = example("recurrent-disc")
    goals = {g.id: g for g in suggest_goals(case, assessment)}
    assert list(goals) == ["odi", "nrs-pain", "patient-1", "patient-2"]
    odi = goals["odi"]
    assert (odi.baseline, odi.improve_points, odi.improve_percent) == (44.0, 10.0, None)
    assert "Ostelo" in odi.citation
    assert (
        odi.text
        == "Disability (ODI) down by at least 10 points from 44 by 2027-03-02 (primary outcome)"
    )
    nrs = goals["nrs-pain"]
    assert (nrs.baseline, nrs.improve_points, nrs.improve_percent) == (8.0, 2.0, 30.0)
    assert "Farrar" in nrs.citation
    assert goals["patient-2"].text == "Return to my job as a warehouse supervisor"
    assert goals["patient-2"].kind == "patient"
    assert odi.target_on == dt.date(2027, 3, 2)


def test_a_cervical_case_gets_an_ndi_goal_of_five_raw_points() -> None:
    case, assessment = example("cervical-nonunion")
    ndi = next(g for g in suggest_goals(case, assessment) if g.id == "ndi")
    assert (ndi.baseline, ndi.improve_points) == (20.0, 5.0)
    assert "Vernon" in ndi.citation


def test_no_goal_is_suggested_that_the_baseline_leaves_no_room_for() -> None:
    document = load_example("recurrent-disc")
    document["questionnaires"] = [
        {"instrument": "odi", "date": "2026-03-02", "score": 8},
        {"instrument": "phq-9", "date": "2026-03-02", "answers": [2, 2, 2, 1, 1, 1, 1, 1, 0]},
    ]
    document["pain"]["axial_nrs"] = 1
    document["pain"]["limb_nrs"] = 1
    case = parse_case(document)
    ids = [g.id for g in suggest_goals(case, assess(case))]
    assert ids == ["phq-9", "patient-1", "patient-2"]


def test_the_nrs_goal_falls_back_to_the_case_pain_scores() -> None:
    case, assessment = example("scs-candidate")
    nrs = next(g for g in suggest_goals(case, assessment) if g.id == "nrs-pain")
    assert nrs.baseline == 7.0  # the worse of axial 4 and limb 7


def test_a_plan_completes_only_when_its_criteria_hold() -> None:
    draft = draft_for("recurrent-disc")
    plan = decide(draft, accept_all(draft))
    later = dt.date(2027, 3, 10)
    results = [InstrumentResult("odi", later, 30), InstrumentResult("nrs-pain", later, 5)]
    checks = [GoalCheck("patient-1", later, True), GoalCheck("patient-2", later, False)]
    status = completion_status(
        plan, task_statuses=[("t1", "completed")], results=[*results, *checks]
    )
    assert status.unmet == ("goal 'patient-2' is not-met (measured from 2027-03-02 on)",)
    with pytest.raises(CareInvalid, match="patient-2"):
        complete_plan(plan, on=later, task_statuses=[], results=[*results, *checks])
    done = complete_plan(
        plan,
        on=later,
        task_statuses=[("t1", "completed"), ("t2", "cancelled")],
        results=[*results, *checks, GoalCheck("patient-2", later, True)],
    )
    assert (done.status, done.closed_on) == ("completed", later)
    with pytest.raises(CareInvalid, match="already completed"):
        discharge_plan(done, on=later, reason="x")


def test_an_open_task_keeps_the_plan_open() -> None:
    draft = draft_for("recurrent-disc")
    plan = decide(draft, accept_all(draft), completion=CompletionCriteria(goals=()))
    status = completion_status(plan, task_statuses=[("t1", "in-progress")], results=[])
    assert status.unmet == ("task 't1' is still in-progress",)


def test_a_discharge_needs_a_reason() -> None:
    draft = draft_for("recurrent-disc")
    plan = decide(draft, accept_all(draft))
    with pytest.raises(CareInvalid, match="a discharge needs a reason"):
        discharge_plan(plan, on=dt.date(2026, 9, 1), reason=" ")
    gone = discharge_plan(plan, on=dt.date(2026, 9, 1), reason="Moved to another city")
    assert (gone.status, gone.closed_reason) == ("discharged", "Moved to another city")


def test_an_assessment_from_another_knowledge_base_is_refused_naming_the_item() -> None:
    _, assessment = example("scs-candidate")
    assessment["treatment_options"].append({"id": "laser-therapy", "recommendation": "consider"})
    with pytest.raises(CareInvalid, match="treatment:laser-therapy: not in knowledge base"):
        propose_plan(assessment, today=dt.date(2026, 5, 1))
