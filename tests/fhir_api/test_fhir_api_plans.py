"""The team's stored plan through the FHIR REST API, on SQLite and on PostgreSQL: a CarePlan with
intent plan, its version and status, its tasks as activities and its rejected items as
cancelled activities with the reason; a Task per care task with its status, owner, execution
period and reasons; a Goal per plan goal; a Provenance naming who decided it. Every resource is
valid R4 (official JSON schema and R4B models) and every reference resolves."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fhir"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "care_api"))
from care_api_support import (
    assessed_patient,
    call,
    decisions_for,
    move,
    ok,
    plan_tasks,
    scs_case,
)
from fhir_support import assert_valid_fhir, fhir_schema

from secondlook.care import vocabulary

if TYPE_CHECKING:
    from conftest import World

__all__ = ["fhir_schema"]

ACCEPT = {
    "psychological-evaluation",
    "prior-records-review",
    "medication-review",
    "functional-assessment",
    "multidisciplinary-rehabilitation",
    "opioid-taper",
    "sleep-management",
}


def _search(client: TestClient, world: World, kind: str, pid: int) -> dict[str, Any]:
    response = client.get(f"/fhir/{kind}", params={"patient": pid}, headers=world.auth("clinician"))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_the_stored_plan_is_served_as_fhir_care_plan_tasks_goals_and_provenance(
    client: TestClient, world: World, fhir_schema: jsonschema.protocols.Validator
) -> None:
    document = scs_case(-600)
    start = dt.date.fromisoformat(document["assessed_on"]) + dt.timedelta(days=7)
    pid, aid = assessed_patient(client, world, document, "Fhir Plan")
    base = f"/api/v1/patients/{pid}/care"
    proposal = ok(
        call(client, world, "clinician", "GET", f"{base}/plan-proposal?assessment_id={aid}")
    )
    reasons = {
        i["ref"]: f"Not now: {i['ref']}."
        for i in proposal["items"]
        if i["reason_required_to"] == "reject" and i["ref"] not in ACCEPT
    }
    body = {
        "assessment_id": aid,
        "decided_on": start.isoformat(),
        "start_on": start.isoformat(),
        "decisions": decisions_for(proposal, ACCEPT, reasons),
    }
    plan = ok(call(client, world, "clinician", "POST", f"{base}/plans", json=body), 201)
    tasks = plan_tasks(client, world, pid, plan["id"])
    started = next(t for t in tasks if t["key"] == "functional-assessment")
    for step in ("accepted", "in-progress"):
        started = ok(move(client, world, started, step, on=start))["task"]
    sleep = next(e["item"]["id"] for e in plan["entries"] if e["item"]["ref"] == "sleep-management")
    ok(
        call(
            client,
            world,
            "clinician",
            "POST",
            f"{plan['href']}/amendments",
            json={
                "reason": "Sleeping well",
                "decided_on": (start + dt.timedelta(days=30)).isoformat(),
                "decisions": [{"item_id": sleep, "action": "reject", "reason": "Sleeps well."}],
            },
            headers={"If-Match": f'"{plan["version"]}"'},
        ),
        201,
    )

    care_plans = _search(client, world, "CarePlan", pid)
    assert_valid_fhir(fhir_schema, care_plans)
    stored = [
        e["resource"] for e in care_plans["entry"] if e["resource"]["id"] == f"{pid}-p{plan['id']}"
    ]
    assert len(stored) == 1
    care_plan = stored[0]
    assert care_plan["status"] == "active" and care_plan["intent"] == "plan"
    assert care_plan["meta"]["versionId"] == "2"
    assert care_plan["author"] == {"display": plan["decided_by"]}
    declined = [a["detail"] for a in care_plan["activity"] if "detail" in a]
    sleep_activity = next(d for d in declined if d["code"]["text"] == "Sleep management")
    assert sleep_activity["status"] == "cancelled" and sleep_activity["doNotPerform"] is True
    assert sleep_activity["statusReason"] == {"text": "Sleeps well."}
    activity_refs = {a["reference"]["reference"] for a in care_plan["activity"] if "reference" in a}
    assert f"Task/{pid}-t{started['id']}" in activity_refs

    fhir_tasks = _search(client, world, "Task", pid)
    assert_valid_fhir(fhir_schema, fhir_tasks)
    by_id = {e["resource"]["id"]: e["resource"] for e in fhir_tasks["entry"]}
    task = by_id[f"{pid}-t{started['id']}"]
    assert task["status"] == "in-progress" and task["intent"] == "plan"
    assert task["executionPeriod"] == {"start": start.isoformat()}
    assert task["owner"] == {"display": vocabulary.label("owner", started["owner"])}
    assert task["basedOn"] == [{"reference": f"CarePlan/{pid}-p{plan['id']}"}]
    assert "Functional assessment" in task["reasonCode"]["text"]
    removed = next(
        r
        for r in by_id.values()
        if r.get("description") == "Sleep management" and r["status"] == "cancelled"
    )
    assert removed["statusReason"] == {"text": "removed from the plan in version 2"}

    goals = _search(client, world, "Goal", pid)
    assert_valid_fhir(fhir_schema, goals)
    plan_goals = [e["resource"] for e in goals["entry"] if "-p" in e["resource"]["id"]]
    assert len(plan_goals) == len(plan["goals"])
    assert {g["lifecycleStatus"] for g in plan_goals} == {"active"}
    assert all(g["target"][0]["dueDate"] for g in plan_goals)

    provenance = _search(client, world, "Provenance", pid)
    assert_valid_fhir(fhir_schema, provenance)
    plan_provenance = next(
        e["resource"]
        for e in provenance["entry"]
        if e["resource"]["id"] == f"{pid}-p{plan['id']}-provenance"
    )
    targets = {t["reference"] for t in plan_provenance["target"]}
    assert f"CarePlan/{pid}-p{plan['id']}" in targets
    for reference in sorted(targets):
        kind, _, rid = reference.partition("/")
        read = client.get(f"/fhir/{kind}/{rid}", headers=world.auth("clinician"))
        assert read.status_code == 200, reference
