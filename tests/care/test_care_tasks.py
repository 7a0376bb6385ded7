"""Tasks: built from accepted plan items, ordered by the prerequisite rules, and moved through
the state machine; edges and properties."""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
from collections.abc import Sequence
from importlib.resources import as_file
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secondlook.care import (
    CareInvalid,
    Decision,
    Goal,
    Plan,
    PlanDraft,
    PlanItem,
    Task,
    TransitionRefused,
    decide,
    dependency_order,
    ready_tasks,
    tasks_for,
    transition,
)
from secondlook.care.models import DISCIPLINES, AssessmentRef, Priority, TaskStatus
from secondlook.care.rules import care_rules
from secondlook.care.tasks import CLOSED, TRANSITIONS
from secondlook.knowledge.loader import default_data_dir, default_knowledge, load_knowledge
from secondlook.knowledge.models import DISCIPLINES as KNOWLEDGE_DISCIPLINES

START = dt.date(2026, 5, 4)
KB = default_knowledge()
RULES = care_rules(KB)
WORKUP = list(KB.workup)
TREATMENTS = [t.id for t in KB.treatments]


def make_plan(
    workup: Sequence[str] = (),
    treatments: Sequence[str] = (),
    *,
    priorities: dict[str, Priority] | None = None,
    rejected: Sequence[str] = (),
) -> Plan:
    priorities = priorities or {}
    items = [
        PlanItem(
            f"workup:{w}",
            "workup",
            w,
            KB.workup[w].name,
            "medical",
            "recommended",
            priorities.get(w, "routine"),
            ("because",),
        )
        for w in workup
    ] + [
        PlanItem(f"treatment:{t}", "treatment", t, t, "pain-management", "consider", None, ())
        for t in treatments
    ]
    draft = PlanDraft(
        id="p1",
        case_id="c1",
        assessment=AssessmentRef("a1", "c1", "k", "e"),
        proposed_on=START,
        items=tuple(items),
        goals=(Goal("g", "patient", "Walk the dog", START + dt.timedelta(days=365)),),
    )
    decisions = [
        Decision(i.id, "reject" if i.ref in rejected else "accept", reason="team decision")
        for i in items
    ]
    return decide(draft, decisions)


def by_key(tasks: Sequence[Task]) -> dict[str, Task]:
    return {t.key: t for t in tasks}


def run(
    tasks: Sequence[Task], key: str, *steps: TaskStatus, reason: str | None = None
) -> list[Task]:
    current = list(tasks)
    task_id = by_key(current)[key].id
    for step in steps:
        current = list(transition(current, task_id, step, on=START, reason=reason).tasks)
    return current


def test_every_item_and_implied_task_has_an_owning_discipline() -> None:
    keys = [*WORKUP, *TREATMENTS, *(t.id for t in RULES.tasks)]
    keys += [r.requires for r in RULES.prerequisites]
    assert all(RULES.owner_of(key) in DISCIPLINES for key in keys)


def test_prerequisite_rules_are_acyclic_and_cited() -> None:
    plan = make_plan(WORKUP, TREATMENTS)
    dependency_order(tasks_for(plan, start=START))  # raises on a cycle
    assert all(rule.references and rule.because for rule in RULES.prerequisites)
    assert len({rule.id for rule in RULES.prerequisites}) == len(RULES.prerequisites)


def test_the_knowledge_base_and_the_care_domain_name_the_same_disciplines() -> None:
    assert KNOWLEDGE_DISCIPLINES == DISCIPLINES


def test_tasks_follow_the_care_rules_of_the_knowledge_base_they_are_given(
    tmp_path: Path,
) -> None:
    """A changed rule file changes the tasks: the rules are data, not code."""
    target = tmp_path / "data"
    with as_file(default_data_dir()) as source:
        shutil.copytree(source, target)
    path = target / "care_rules.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace(
        "  psychological-evaluation: psychology\n", "  psychological-evaluation: pain-medicine\n"
    )
    text = text.replace(
        "    requires: medial-branch-block\n", "    requires: psychological-evaluation\n"
    )
    path.write_text(text, encoding="utf-8")
    changed = load_knowledge(target)
    plan = make_plan([], ["radiofrequency-denervation"])
    shipped = by_key(tasks_for(plan, start=START))
    edited = by_key(tasks_for(plan, start=START, knowledge=changed))
    assert "medial-branch-block" in shipped and "psychological-evaluation" not in shipped
    assert "psychological-evaluation" in edited and "medial-branch-block" not in edited
    assert edited["psychological-evaluation"].owner == "pain-medicine"
    assert "[nice-ng59, cohen-2020]" in (edited["psychological-evaluation"].note or "")


def test_each_accepted_item_becomes_a_task_linked_to_its_plan_item() -> None:
    tasks = by_key(
        tasks_for(make_plan(["mri"], ["exercise-therapy"], rejected=["mri"]), start=START)
    )
    assert set(tasks) == {"exercise-therapy"}
    task = tasks["exercise-therapy"]
    assert (task.plan_item_id, task.owner, task.status) == (
        "treatment:exercise-therapy",
        "physical-therapy",
        "requested",
    )


def test_stimulation_brings_its_trial_and_waits_for_the_psychological_evaluation() -> None:
    tasks = by_key(tasks_for(make_plan([], ["spinal-cord-stimulation"]), start=START))
    assert set(tasks) == {
        "spinal-cord-stimulation",
        "spinal-cord-stimulation-trial",
        "psychological-evaluation",
    }
    implant = tasks["spinal-cord-stimulation"]
    assert {d.task_id for d in implant.blocked_by} == {
        tasks["spinal-cord-stimulation-trial"].id,
        tasks["psychological-evaluation"].id,
    }
    assert {d.task_id for d in tasks["spinal-cord-stimulation-trial"].blocked_by} == {
        tasks["psychological-evaluation"].id
    }
    assert tasks["psychological-evaluation"].plan_item_id == "treatment:spinal-cord-stimulation"
    assert (
        implant.due
        > tasks["spinal-cord-stimulation-trial"].due
        > tasks["psychological-evaluation"].due
    )


def test_a_declined_prerequisite_is_still_required_and_says_so() -> None:
    plan = make_plan(
        ["psychological-evaluation"],
        ["spinal-cord-stimulation"],
        rejected=["psychological-evaluation"],
    )
    evaluation = by_key(tasks_for(plan, start=START))["psychological-evaluation"]
    assert evaluation.plan_item_id == "workup:psychological-evaluation"
    assert evaluation.note is not None and "declined as a plan item" in evaluation.note


def test_the_implant_cannot_start_before_a_successful_trial() -> None:
    tasks = tasks_for(
        make_plan(["psychological-evaluation"], ["spinal-cord-stimulation"]), start=START
    )
    tasks = run(tasks, "spinal-cord-stimulation", "accepted")
    with pytest.raises(TransitionRefused, match="cannot start before") as refused:
        run(tasks, "spinal-cord-stimulation", "in-progress")
    assert "Spinal cord stimulation trial (requested)" in str(refused.value)
    tasks = run(tasks, "psychological-evaluation", "accepted", "in-progress", "completed")
    tasks = run(tasks, "spinal-cord-stimulation-trial", "accepted", "in-progress", "completed")
    tasks = run(tasks, "spinal-cord-stimulation", "in-progress", "completed")
    assert by_key(tasks)["spinal-cord-stimulation"].status == "completed"


def test_a_failed_trial_cancels_the_implant_with_the_reason() -> None:
    tasks = tasks_for(make_plan([], ["spinal-cord-stimulation"]), start=START)
    tasks = run(tasks, "psychological-evaluation", "accepted", "in-progress", "completed")
    tasks = run(tasks, "spinal-cord-stimulation-trial", "accepted", "in-progress")
    result = transition(
        tasks,
        by_key(tasks)["spinal-cord-stimulation-trial"].id,
        "failed",
        on=START,
        reason="Less than 50% relief during the trial",
        by="dr-a",
    )
    implant = by_key(result.tasks)["spinal-cord-stimulation"]
    assert implant.status == "cancelled"
    assert implant.status_reason == (
        "Prerequisite Spinal cord stimulation trial failed: Less than 50% relief during the trial"
    )
    assert [(e.task_id.split("/")[-1], e.to_status) for e in result.events] == [
        ("spinal-cord-stimulation-trial", "failed"),
        ("spinal-cord-stimulation", "cancelled"),
    ]
    assert ready_tasks(result.tasks) == []


def test_a_negative_medial_branch_block_cancels_radiofrequency_denervation() -> None:
    tasks = tasks_for(
        make_plan(["medial-branch-block"], ["radiofrequency-denervation"]), start=START
    )
    tasks = run(tasks, "medial-branch-block", "accepted", "in-progress")
    tasks = run(tasks, "medial-branch-block", "failed", reason="Less than 50% relief")
    assert by_key(tasks)["radiofrequency-denervation"].status == "cancelled"


def test_si_treatment_waits_for_the_si_block() -> None:
    tasks = tasks_for(make_plan([], ["sacroiliac-joint-treatment"]), start=START)
    assert [t.key for t in ready_tasks(tasks)] == ["sacroiliac-joint-block"]


def test_revision_brings_its_bundle_and_waits_for_a_second_opinion_and_the_records() -> None:
    tasks = by_key(
        tasks_for(make_plan(["prior-records-review"], ["revision-surgery"]), start=START)
    )
    assert {
        "post-operative-pain-plan",
        "post-operative-rehabilitation-plan",
        "diet-and-home-exercise-plan",
        "return-to-activity-plan",
        "spine-surgery-opinion",
    } <= set(tasks)
    revision = tasks["revision-surgery"]
    assert {d.task_id.split("/")[-1] for d in revision.blocked_by} == {
        "spine-surgery-opinion",
        "post-operative-pain-plan",
        "post-operative-rehabilitation-plan",
        "diet-and-home-exercise-plan",
        "return-to-activity-plan",
    }
    assert [d.task_id for d in tasks["spine-surgery-opinion"].blocked_by] == [
        tasks["prior-records-review"].id
    ]
    assert tasks["prior-records-review"].due == START  # requested before the first visit
    assert all(
        tasks[k].plan_item_id == "treatment:revision-surgery"
        for k in ("post-operative-pain-plan", "return-to-activity-plan")
    )


def test_unobtainable_records_do_not_stop_the_second_opinion() -> None:
    tasks = tasks_for(make_plan(["prior-records-review", "spine-surgery-opinion"]), start=START)
    tasks = run(tasks, "prior-records-review", "cancelled", reason="Hospital archive destroyed")
    assert by_key(tasks)["spine-surgery-opinion"].status == "requested"
    assert "spine-surgery-opinion" in [t.key for t in ready_tasks(tasks)]


def test_an_urgent_second_opinion_never_waits_for_old_records() -> None:
    plan = make_plan(
        ["prior-records-review", "spine-surgery-opinion"],
        priorities={"spine-surgery-opinion": "urgent"},
    )
    opinion = by_key(tasks_for(plan, start=START))["spine-surgery-opinion"]
    assert opinion.blocked_by == ()
    assert opinion.due == START + dt.timedelta(days=7)


def test_a_second_opinion_against_surgery_cancels_the_revision_and_its_wait() -> None:
    tasks = tasks_for(make_plan([], ["revision-surgery"]), start=START)
    tasks = run(tasks, "prior-records-review", "accepted", "in-progress", "completed")
    tasks = run(tasks, "spine-surgery-opinion", "accepted", "in-progress")
    tasks = run(tasks, "spine-surgery-opinion", "failed", reason="No correctable lesion")
    states = {t.key: t.status for t in tasks}
    assert states["revision-surgery"] == "cancelled"
    assert states["post-operative-pain-plan"] == "requested"  # the bundle is not cancelled


@pytest.mark.parametrize(
    ("path", "to"),
    [
        ((), "in-progress"),
        ((), "completed"),
        ((), "failed"),
        (("accepted",), "completed"),
        (("accepted", "in-progress", "completed"), "cancelled"),
        (("cancelled",), "accepted"),
    ],
)
def test_the_state_machine_refuses_steps_it_does_not_have(
    path: tuple[TaskStatus, ...], to: TaskStatus
) -> None:
    tasks = tasks_for(make_plan([], ["exercise-therapy"]), start=START)
    tasks = run(tasks, "exercise-therapy", *path, reason="stop")
    with pytest.raises(TransitionRefused, match="cannot go from"):
        run(tasks, "exercise-therapy", to, reason="x")


def test_cancelling_or_failing_needs_a_reason() -> None:
    tasks = tasks_for(make_plan([], ["exercise-therapy"]), start=START)
    with pytest.raises(TransitionRefused, match="say why it is cancelled"):
        run(tasks, "exercise-therapy", "cancelled")


def test_an_unknown_task_is_refused() -> None:
    with pytest.raises(TransitionRefused, match="no such task"):
        transition([], "nope", "accepted", on=START)


def test_a_cycle_in_tasks_is_reported() -> None:
    from secondlook.care.models import Dependency

    a = Task(
        "a", "p", None, "a", "A", "psychology", START, blocked_by=(Dependency("b", "r", "cancel"),)
    )
    b = Task(
        "b", "p", None, "b", "B", "psychology", START, blocked_by=(Dependency("a", "r", "cancel"),)
    )
    with pytest.raises(CareInvalid, match="wait on each other"):
        dependency_order([a, b])


def test_the_clinicians_edit_sets_owner_person_and_due_date() -> None:
    from secondlook.care import Edit

    items = (
        PlanItem(
            "treatment:exercise-therapy",
            "treatment",
            "exercise-therapy",
            "Exercise",
            "functional",
            "recommended",
            None,
            (),
        ),
    )
    draft = PlanDraft(
        "p1",
        "c1",
        AssessmentRef("a", "c1", "k", "e"),
        START,
        items,
        (Goal("g", "patient", "Walk", START + dt.timedelta(days=300)),),
    )
    edit = Edit(
        owner="nursing-coordination",
        person="Nurse Ana",
        due=dt.date(2026, 6, 30),
        note="Community programme",
    )
    plan = decide(draft, [Decision("treatment:exercise-therapy", "edit", edit=edit)])
    task = tasks_for(plan, start=START)[0]
    assert (task.owner, task.person, task.due, task.note) == (
        "nursing-coordination",
        "Nurse Ana",
        dt.date(2026, 6, 30),
        "Community programme",
    )


# -- properties -----------------------------------------------------------------------------------


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    workup = draw(st.lists(st.sampled_from(WORKUP), unique=True, max_size=8))
    treatments = draw(st.lists(st.sampled_from(TREATMENTS), unique=True, max_size=8))
    priorities = {w: draw(st.sampled_from(["emergency", "urgent", "routine"])) for w in workup}
    rejected = draw(st.lists(st.sampled_from(workup + treatments or ["x"]), unique=True))
    return make_plan(workup, treatments, priorities=priorities, rejected=rejected)  # type: ignore[arg-type]


def assert_invariants(tasks: Sequence[Task]) -> None:
    by_id = {t.id: t for t in tasks}
    for task in ready_tasks(tasks):
        for dep in task.blocked_by:
            other = by_id[dep.task_id]
            assert other.status == "completed" or (
                dep.if_not_done == "proceed" and other.status in CLOSED
            )
    for task in tasks:
        for dep in task.blocked_by:
            other = by_id[dep.task_id]
            if task.status in ("in-progress", "completed"):
                assert other.status == "completed" or (
                    dep.if_not_done == "proceed" and other.status in CLOSED
                )
            if dep.if_not_done == "cancel" and other.status in ("failed", "cancelled"):
                assert task.status in CLOSED


@settings(max_examples=150, deadline=None)
@given(plan=plans())
def test_the_dependency_graph_is_acyclic_and_ordered(plan: Plan) -> None:
    tasks = tasks_for(plan, start=START)
    position = {t.id: i for i, t in enumerate(tasks)}
    assert len(position) == len(tasks)
    for task in tasks:
        for dep in task.blocked_by:
            assert position[dep.task_id] < position[task.id]
            assert by_id_due(tasks, dep.task_id) <= task.due
    assert dependency_order(tasks) == tasks


def by_id_due(tasks: Sequence[Task], task_id: str) -> dt.date:
    return next(t.due for t in tasks if t.id == task_id)


@settings(max_examples=150, deadline=None)
@given(plan=plans(), data=st.data())
def test_a_ready_task_never_has_an_incomplete_prerequisite(plan: Plan, data: st.DataObject) -> None:
    tasks = tasks_for(plan, start=START)
    assert_invariants(tasks)
    if not tasks:
        return
    for _ in range(data.draw(st.integers(0, 40))):
        task = data.draw(st.sampled_from(tasks))
        to = data.draw(st.sampled_from(sorted(TRANSITIONS)))
        with contextlib.suppress(TransitionRefused):
            tasks = list(transition(tasks, task.id, to, on=START, reason="r").tasks)
        assert_invariants(tasks)


@settings(max_examples=100, deadline=None)
@given(plan=plans(), data=st.data())
def test_what_a_task_waits_on_is_what_stops_it_from_starting(
    plan: Plan, data: st.DataObject
) -> None:
    """``waiting_on`` (what the board and the API show) and ``transition`` (what refuses a
    start) are one rule: a task waits on nothing exactly when it may start."""
    from secondlook.care import unmet_prerequisites, waiting_on

    tasks = tasks_for(plan, start=START)
    for _ in range(data.draw(st.integers(0, 30))):
        task = data.draw(st.sampled_from(tasks)) if tasks else None
        if task is None:
            break
        to = data.draw(st.sampled_from(sorted(TRANSITIONS)))
        with contextlib.suppress(TransitionRefused):
            tasks = list(transition(tasks, task.id, to, on=START, reason="r").tasks)
    waiting = waiting_on(tasks)
    assert set(waiting) == {t.id for t in tasks}
    for task in tasks:
        assert waiting[task.id] == [t.id for t in unmet_prerequisites(task, tasks)]


def test_an_edited_due_date_before_a_prerequisite_is_pushed_after_it() -> None:
    from secondlook.care import Edit

    items = (
        PlanItem(
            "workup:medial-branch-block",
            "workup",
            "medial-branch-block",
            "MBB",
            "pain-management",
            "recommended",
            "routine",
            (),
        ),
        PlanItem(
            "treatment:radiofrequency-denervation",
            "treatment",
            "radiofrequency-denervation",
            "RF",
            "pain-management",
            "consider",
            None,
            (),
        ),
    )
    draft = PlanDraft(
        "p1",
        "c1",
        AssessmentRef("a", "c1", "k", "e"),
        START,
        items,
        (Goal("g", "patient", "Walk", START + dt.timedelta(days=300)),),
    )
    plan = decide(
        draft,
        [
            Decision(items[0].id, "accept"),
            Decision(items[1].id, "edit", edit=Edit(due=START + dt.timedelta(days=3))),
        ],
    )
    tasks = by_key(tasks_for(plan, start=START))
    assert tasks["medial-branch-block"].due == START + dt.timedelta(days=28)
    assert tasks["radiofrequency-denervation"].due == START + dt.timedelta(days=56)


def test_taper_follow_ups_come_only_with_an_accepted_taper() -> None:
    from secondlook.care import taper_schedule

    taper = taper_schedule(mme_per_day=30, months_of_use=24, start_on=START)
    accepted = tasks_for(make_plan([], ["opioid-taper"]), start=START, taper=taper)
    assert sum(t.key == "opioid-taper-follow-up" for t in accepted) == 11
    assert all(
        t.plan_item_id == "treatment:opioid-taper" for t in accepted if t.key.startswith("opioid")
    )
    rejected = tasks_for(
        make_plan([], ["opioid-taper"], rejected=["opioid-taper"]), start=START, taper=taper
    )
    assert rejected == []


@pytest.mark.parametrize(
    "name",
    [
        "cauda-equina",
        "cervical-nonunion",
        "postoperative-infection",
        "recurrent-disc",
        "scs-candidate",
        "thoracic-sacroiliac",
    ],
)
def test_every_bundled_example_gives_ordered_tasks(name: str) -> None:
    from secondlook.care import propose_plan
    from secondlook.case import parse_case
    from secondlook.engine import assess
    from secondlook.examples import load_example

    case = parse_case(load_example(name))
    draft = propose_plan(assess(case), today=case.assessed_on)
    goals = (Goal("g", "patient", "Feel better", case.assessed_on + dt.timedelta(days=365)),)
    plan = decide(
        draft, [Decision(i.id, "accept", reason="Team decision") for i in draft.items], goals=goals
    )
    tasks = tasks_for(plan, start=case.assessed_on)
    assert dependency_order(tasks) == tasks
    urgent = [t for t in tasks if t.priority in ("emergency", "urgent")]
    assert all(t in ready_tasks(tasks) for t in urgent)  # urgent work-up never waits


def test_a_board_offers_exactly_the_moves_the_state_machine_allows() -> None:
    from secondlook.care import TRANSITIONS, moves

    for status, allowed in TRANSITIONS.items():
        assert set(moves(status)) == allowed
    assert "in-progress" not in moves("requested")  # a requested task is accepted first
    assert moves("completed") == ()
