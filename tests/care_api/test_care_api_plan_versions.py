"""A plan is amended or closed, never silently replaced, through the HTTP API on SQLite and on
PostgreSQL: a second plan while one is active is refused (409 naming it); an amendment keeps
every task's state, a rejected item stays rejected, a goal added by hand survives, the taper
carries over, an item removed cancels its open tasks with the reason; every version stays
readable with what changed; If-Match is required and checked; closing needs its reason and
leaves exactly one questionnaire schedule on the worklists; every act is in the audit trail."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from care_api_support import (
    assessed_patient,
    call,
    decisions_for,
    move,
    ok,
    plan_tasks,
    scs_case,
)
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from secondlook.store.models import AuditEvent

if TYPE_CHECKING:
    from conftest import World

ACCEPT = {
    "psychological-evaluation",
    "prior-records-review",
    "medication-review",
    "functional-assessment",
    "multidisciplinary-rehabilitation",
    "opioid-taper",
    "sleep-management",
}


def _plan(
    client: TestClient, world: World, name: str
) -> tuple[int, str, dict[str, Any], dt.date, dict[str, Any]]:
    """A patient with an active plan (a goal added by hand, recommended items rejected with a
    reason); returns (patient id, care base URL, the plan, its start date, the proposal)."""
    document = scs_case(-600)
    start = dt.date.fromisoformat(document["assessed_on"]) + dt.timedelta(days=7)
    pid, aid = assessed_patient(client, world, document, name)
    base = f"/api/v1/patients/{pid}/care"
    proposal = ok(
        call(client, world, "clinician", "GET", f"{base}/plan-proposal?assessment_id={aid}")
    )
    reasons = {
        i["ref"]: f"Not now: {i['ref']}."
        for i in proposal["items"]
        if i["reason_required_to"] == "reject" and i["ref"] not in ACCEPT
    }
    goals = [
        *proposal["goals"],
        {
            "id": "patient-9",
            "kind": "patient",
            "text": "Walk the dog around the park",
            "target_on": (start + dt.timedelta(days=300)).isoformat(),
        },
    ]
    body = {
        "assessment_id": aid,
        "decided_on": start.isoformat(),
        "start_on": start.isoformat(),
        "decisions": decisions_for(proposal, ACCEPT, reasons),
        "goals": goals,
    }
    plan = ok(call(client, world, "clinician", "POST", f"{base}/plans", json=body), 201)
    return pid, base, plan, start, {**proposal, "body": body}


def _task(tasks: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return next(t for t in tasks if t["key"] == key)


def _walk(
    client: TestClient,
    world: World,
    task: dict[str, Any],
    steps: list[str],
    on: dt.date,
    reason: str | None = None,
) -> dict[str, Any]:
    for step in steps:
        task = ok(move(client, world, task, step, on=on, reason=reason))["task"]
    return task


def _due_questionnaires(client: TestClient, world: World, pid: int, day: dt.date) -> int:
    url = f"/api/v1/care/worklists/questionnaires?limit=200&as_of={day}"
    while url:
        page = ok(call(client, world, "coordinator", "GET", url))
        for row in page["items"]:
            if row["patient_id"] == pid:
                return int(row["due"]) + int(row["overdue"])
        url = page["next"]
    return 0


def _audited(engine: Engine, world: World, action: str) -> int:
    with Session(engine) as session:
        return len(
            list(
                session.scalars(
                    select(AuditEvent.id).where(
                        AuditEvent.organization_id == world.alpha, AuditEvent.action == action
                    )
                )
            )
        )


def test_a_second_plan_while_one_is_active_is_refused_and_the_work_is_kept(
    client: TestClient, world: World
) -> None:
    pid, base, plan, start, proposal = _plan(client, world, "Twice Planned")
    tasks = plan_tasks(client, world, pid, plan["id"])
    done = _walk(
        client,
        world,
        _task(tasks, "prior-records-review"),
        ["accepted", "in-progress", "completed"],
        start,
    )
    again = call(client, world, "clinician", "POST", f"{base}/plans", json=proposal["body"])
    assert again.status_code == 409, again.text
    problem = again.json()
    assert problem["type"].endswith("plan-active")
    assert problem["active_plan_id"] == plan["id"]
    assert f"plan {plan['id']}" in problem["detail"] and "amend" in problem["detail"]
    assert problem["amend"] == f"{plan['href']}/amendments"
    listed = ok(call(client, world, "clinician", "GET", f"{base}/plans"))["items"]
    assert [p["id"] for p in listed] == [plan["id"]]
    kept = _task(plan_tasks(client, world, pid, plan["id"]), "prior-records-review")
    assert kept["status"] == "completed" and kept["id"] == done["id"]


def test_an_amendment_keeps_every_task_state_decision_goal_and_the_taper(
    client: TestClient, world: World, engine: Engine
) -> None:
    pid, _base, plan, start, _proposal = _plan(client, world, "Amended Patient")
    url = plan["href"]
    tasks = plan_tasks(client, world, pid, plan["id"])
    completed = _walk(
        client,
        world,
        _task(tasks, "prior-records-review"),
        ["accepted", "in-progress", "completed"],
        start,
    )
    cancelled = _walk(
        client,
        world,
        _task(tasks, "medication-review"),
        ["cancelled"],
        start,
        reason="Done by the GP last week.",
    )
    started = _walk(
        client, world, _task(tasks, "functional-assessment"), ["accepted", "in-progress"], start
    )
    sleep = _task(tasks, "sleep-management")
    taper_before = ok(call(client, world, "clinician", "GET", f"{url}/taper"))
    rejected = [e["item"]["id"] for e in plan["entries"] if e["action"] == "reject"]
    assert rejected
    sleep_item = next(
        e["item"]["id"] for e in plan["entries"] if e["item"]["ref"] == "sleep-management"
    )
    body = {
        "reason": "Sleep improved after the medication change.",
        "decided_on": (start + dt.timedelta(days=30)).isoformat(),
        "decisions": [{"item_id": sleep_item, "action": "reject", "reason": "Sleeping well now."}],
    }
    before = _audited(engine, world, "care.plan.amend")

    # If-Match is required, and a stale one is refused; nothing changes meanwhile.
    assert (
        call(client, world, "clinician", "POST", f"{url}/amendments", json=body).status_code == 428
    )
    stale = call(
        client,
        world,
        "clinician",
        "POST",
        f"{url}/amendments",
        json=body,
        headers={"If-Match": '"99"'},
    )
    assert stale.status_code == 412, stale.text
    refused = call(
        client,
        world,
        "coordinator",
        "POST",
        f"{url}/amendments",
        json=body,
        headers={"If-Match": f'"{plan["version"]}"'},
    )
    assert refused.status_code == 403

    made = call(
        client,
        world,
        "clinician",
        "POST",
        f"{url}/amendments",
        json=body,
        headers={"If-Match": f'"{plan["version"]}"'},
    )
    version = ok(made, 201)
    assert version["number"] == 2 and made.headers["Location"] == f"{url}/versions/2"
    assert version["changes"] == [
        {
            "change": "removed",
            "name": next(
                e["item"]["name"] for e in plan["entries"] if e["item"]["id"] == sleep_item
            ),
            "reason": "Sleeping well now.",
            "item_id": sleep_item,
            "goal_id": None,
            "from": "accept",
            "to": "reject",
        }
    ]
    now = ok(call(client, world, "clinician", "GET", url))
    assert now["plan_version"] == 2 and now["id"] == plan["id"] and now["status"] == "active"
    assert made.headers["ETag"] == f'"{now["version"]}"'
    by_item = {e["item"]["id"]: e["action"] for e in now["entries"]}
    assert all(by_item[i] == "reject" for i in rejected)
    assert "patient-9" in [g["id"] for g in now["goals"]]
    assert ok(call(client, world, "clinician", "GET", f"{url}/taper")) == taper_before

    after = {t["id"]: t for t in plan_tasks(client, world, pid, plan["id"])}
    assert after[completed["id"]]["status"] == "completed"
    assert after[cancelled["id"]]["status"] == "cancelled"
    assert after[cancelled["id"]]["status_reason"] == "Done by the GP last week."
    assert after[started["id"]]["status"] == "in-progress"
    assert after[sleep["id"]]["status"] == "cancelled"
    assert after[sleep["id"]]["status_reason"] == "removed from the plan in version 2"
    assert sum(t["key"] == "opioid-taper-follow-up" for t in after.values()) == sum(
        t["key"] == "opioid-taper-follow-up" for t in tasks
    )

    # Every version stays readable: the first one still has the sleep programme accepted.
    versions = ok(call(client, world, "clinician", "GET", f"{url}/versions"))
    assert [v["number"] for v in versions] == [1, 2]
    first = ok(call(client, world, "clinician", "GET", f"{url}/versions/1"))
    assert {e["item"]["id"]: e["action"] for e in first["entries"]}[sleep_item] == "accept"
    assert first["changes"] == [] and first["reason"] is None
    assert call(client, world, "clinician", "GET", f"{url}/versions/3").status_code == 404
    assert _audited(engine, world, "care.plan.amend") == before + 4  # 428, 412, 403 and 201


def test_closing_needs_its_reason_and_leaves_one_questionnaire_schedule(
    client: TestClient, world: World, engine: Engine
) -> None:
    pid, base, plan, start, proposal = _plan(client, world, "Replaced Plan")
    url = plan["href"]
    due_once = _due_questionnaires(client, world, pid, start)
    assert due_once > 0
    headers = {"If-Match": f'"{plan["version"]}"'}
    unreasoned = call(
        client,
        world,
        "clinician",
        "POST",
        f"{url}/closing",
        json={"outcome": "replaced"},
        headers=headers,
    )
    assert unreasoned.status_code == 422, unreasoned.text
    assert unreasoned.json()["errors"][0]["path"] == "$.reason"
    assert (
        call(
            client,
            world,
            "clinician",
            "POST",
            f"{url}/closing",
            json={"outcome": "replaced", "reason": "x"},
        ).status_code
        == 428
    )
    closed = ok(
        call(
            client,
            world,
            "clinician",
            "POST",
            f"{url}/closing",
            headers=headers,
            json={
                "outcome": "replaced",
                "reason": "New diagnosis: SI joint pain",
                "on": start.isoformat(),
            },
        )
    )
    assert closed["status"] == "discharged" and closed["closed_as"] == "replaced"
    assert closed["closed_reason"] == "New diagnosis: SI joint pain"
    old_tasks = plan_tasks(client, world, pid, plan["id"], kind="questionnaire")
    assert {t["status"] for t in old_tasks} == {"cancelled"}
    assert _due_questionnaires(client, world, pid, start) == 0

    replacement = ok(
        call(client, world, "clinician", "POST", f"{base}/plans", json=proposal["body"]), 201
    )
    assert replacement["id"] != plan["id"]
    assert _due_questionnaires(client, world, pid, start) == due_once
    assert {t["status"] for t in plan_tasks(client, world, pid, plan["id"])} == {"cancelled"}
    assert _audited(engine, world, "care.plan.close") >= 3


def test_a_replaced_plan_carries_its_open_tasks_into_the_next_one(
    client: TestClient, world: World
) -> None:
    pid, base, plan, start, proposal = _plan(client, world, "Carried Over")
    tasks = plan_tasks(client, world, pid, plan["id"])
    started = _walk(
        client, world, _task(tasks, "functional-assessment"), ["accepted", "in-progress"], start
    )
    done = _walk(
        client,
        world,
        _task(tasks, "prior-records-review"),
        ["accepted", "in-progress", "completed"],
        start,
    )
    ok(
        call(
            client,
            world,
            "clinician",
            "POST",
            f"{plan['href']}/closing",
            headers={"If-Match": f'"{plan["version"]}"'},
            json={
                "outcome": "replaced",
                "reason": "Re-planned after the review",
                "carry_over": True,
            },
        )
    )
    new = ok(call(client, world, "clinician", "POST", f"{base}/plans", json=proposal["body"]), 201)
    moved = {t["id"]: t for t in plan_tasks(client, world, pid, new["id"])}
    assert moved[started["id"]]["status"] == "in-progress"
    assert moved[started["id"]]["plan_id"] == new["id"]
    assert done["id"] not in moved
    assert sum(t["key"] == "functional-assessment" for t in moved.values()) == 1
    old = {t["id"]: t for t in plan_tasks(client, world, pid, plan["id"])}
    assert old[done["id"]]["status"] == "completed"
    # Every open task moved (none is left open on the replaced plan), each work once.
    assert [
        t for t in old.values() if t["status"] in ("requested", "accepted", "in-progress")
    ] == []
    follow_ups = [t for t in tasks if t["key"] == "opioid-taper-follow-up"]
    assert len(follow_ups) > 1
    assert sum(t["key"] == "opioid-taper-follow-up" for t in moved.values()) == len(follow_ups)
    assert {t["id"] for t in follow_ups} <= set(moved)
