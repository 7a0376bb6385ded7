"""Helpers of the care API tests: a patient taken to a stored assessment through the API, dates
moved into the past, answers that give a wanted score, and task walking."""

from __future__ import annotations

import copy
import datetime as dt
import re
from typing import TYPE_CHECKING, Any

from fastapi.testclient import TestClient

from secondlook.examples import load_example

if TYPE_CHECKING:
    from conftest import World

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def shift_dates(document: Any, days: int) -> Any:
    """Every YYYY-MM-DD string of a JSON document moved by `days` (a case in the past, so that
    its 12-month follow-up has happened)."""
    if isinstance(document, dict):
        return {k: shift_dates(v, days) for k, v in document.items()}
    if isinstance(document, list):
        return [shift_dates(v, days) for v in document]
    if isinstance(document, str) and _DATE.match(document):
        return (dt.date.fromisoformat(document) + dt.timedelta(days=days)).isoformat()
    return document


def scs_case(days: int = -600) -> dict[str, Any]:
    """The bundled scs-candidate case (persistent neuropathic leg pain after a laminectomy, on
    30 MME/day of opioids for two years), moved `days` into the past."""
    return dict(shift_dates(copy.deepcopy(load_example("scs-candidate")), days))


def odi_answers(score: int) -> list[int]:
    """Ten ODI answers (0-5) whose score (sum x 2, in %) is `score`."""
    total = score // 2
    answers = []
    for _ in range(10):
        answers.append(min(5, total))
        total -= answers[-1]
    return answers


def call(client: TestClient, world: World, who: str, method: str, url: str, **kwargs: Any) -> Any:
    headers = {**kwargs.pop("headers", {}), **world.auth(who)}
    return client.request(method, url, headers=headers, **kwargs)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def assessed_patient(
    client: TestClient, world: World, document: dict[str, Any], name: str = "Care Patient"
) -> tuple[int, int]:
    """A new patient of organization alpha with `document` as its case and an assessment of
    it; returns (patient id, assessment id)."""
    patient = ok(
        call(client, world, "clinician", "POST", "/api/v1/patients", json={"name": name}), 201
    )
    pid = int(patient["id"])
    ok(
        call(
            client,
            world,
            "clinician",
            "PUT",
            f"/api/v1/patients/{pid}/case",
            json=document,
            headers={"If-None-Match": "*"},
        ),
        201,
    )
    assessment = ok(
        call(client, world, "clinician", "POST", f"/api/v1/patients/{pid}/assessments"), 201
    )
    return pid, int(assessment["id"])


def decisions_for(
    proposal: dict[str, Any], accept: set[str], reasons: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """One decision per proposed item: accept the refs in `accept`, reject the others; with the
    reason given for a ref in `reasons`."""
    out = []
    for item in proposal["items"]:
        decision: dict[str, Any] = {
            "item_id": item["id"],
            "action": "accept" if item["ref"] in accept else "reject",
        }
        if reasons and item["ref"] in reasons:
            decision["reason"] = reasons[item["ref"]]
        out.append(decision)
    return out


def plan_tasks(
    client: TestClient, world: World, pid: int, plan_id: int, kind: str = "care"
) -> list[dict[str, Any]]:
    url = f"/api/v1/patients/{pid}/care/plans/{plan_id}/tasks?limit=200&kind={kind}"
    items: list[dict[str, Any]] = []
    while url:
        page = ok(call(client, world, "clinician", "GET", url))
        items += page["items"]
        url = page["next"]
    return items


def move(
    client: TestClient,
    world: World,
    task: dict[str, Any],
    status: str,
    *,
    on: dt.date,
    who: str = "clinician",
    reason: str | None = None,
) -> Any:
    """PATCH a task's status with the ETag of the task as given."""
    body: dict[str, Any] = {"status": status, "on": on.isoformat()}
    if reason is not None:
        body["reason"] = reason
    return call(
        client,
        world,
        who,
        "PATCH",
        task["href"],
        json=body,
        headers={"If-Match": f'"{task["version"]}"'},
    )


def close_in_order(
    client: TestClient, world: World, pid: int, plan_id: int, on: dt.date
) -> list[str]:
    """Do every ready care task (accept, start, complete) until none is left; the order."""
    order: list[str] = []
    while True:
        ready = [
            t
            for t in plan_tasks(client, world, pid, plan_id)
            if t["status"] in ("requested", "accepted") and t["waiting_on"] == []
        ]
        if not ready:
            return order
        for task in ready:
            steps = ["accepted", "in-progress", "completed"]
            if task["status"] == "accepted":
                steps = steps[1:]
            for step in steps:
                task = ok(move(client, world, task, step, on=on))["task"]
            order.append(task["key"])
