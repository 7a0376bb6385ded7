"""One patient from intake to the 12-month outcome through the HTTP API, on SQLite and on
PostgreSQL: case, assessment, case conference, plan with decisions (a missing reason refused),
opioid taper, tasks completed in prerequisite order (an out-of-order start refused), the
questionnaires of every time point, responder status, the completed plan and the cohort."""

from __future__ import annotations

import csv
import datetime as dt
import io
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pytest
from care_api_support import (
    assessed_patient,
    call,
    close_in_order,
    decisions_for,
    move,
    odi_answers,
    ok,
    plan_tasks,
    scs_case,
    shift_dates,
)
from fastapi.testclient import TestClient

from secondlook.care import add_months

if TYPE_CHECKING:
    from conftest import World

SHIFT = -600  # days: the example case (assessed 2026-04-20) is moved to 2024-08-28
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
#: (months after the start, ODI %, NRS).
FOLLOW_UP = [(0, 44, 7), (3, 38, 6), (6, 32, 4), (12, 28, 3)]


def test_one_patient_from_intake_to_twelve_month_outcome(client: TestClient, world: World) -> None:
    document = scs_case(SHIFT)
    assessed = dt.date.fromisoformat(document["assessed_on"])
    decided, start = assessed + dt.timedelta(days=8), assessed + dt.timedelta(days=14)
    pid, aid = assessed_patient(client, world, document, "Journey Patient")
    base = f"/api/v1/patients/{pid}/care"

    # -- case conference ---------------------------------------------------------------------
    conference = ok(
        call(
            client,
            world,
            "coordinator",
            "POST",
            f"{base}/conferences",
            json={
                "assessment_id": aid,
                "held_on": decided.isoformat(),
                "attendees": [
                    {"name": "Dr Silva", "discipline": "spine-surgery"},
                    {"name": "Dr Okafor", "discipline": "pain-medicine"},
                    {"name": "Ms Berg", "discipline": "psychology"},
                ],
                "decisions": [
                    {
                        "id": "d1",
                        "text": "Stimulation pathway with a slow taper.",
                        "agenda_key": "pain-management",
                        "dissent": [{"attendee": "Dr Silva", "text": "Would image first."}],
                    }
                ],
            },
        ),
        201,
    )
    assert [a["key"] for a in conference["agenda"]] == [
        "spine-anatomy",
        "pain-management",
        "medical",
        "functional",
        "psychological",
    ]
    listed = ok(call(client, world, "clinician", "GET", f"{base}/conferences"))
    assert [c["id"] for c in listed["items"]] == [conference["id"]]

    # -- plan: a rejected recommended item without a reason is refused, naming it ------------
    proposal = ok(
        call(client, world, "clinician", "GET", f"{base}/plan-proposal?assessment_id={aid}")
    )
    assert [g["id"] for g in proposal["goals"]] == ["odi", "nrs-pain", "patient-1"]
    exercise = next(i for i in proposal["items"] if i["ref"] == "exercise-therapy")
    assert exercise["reason_required_to"] == "reject"
    decisions = decisions_for(proposal, ACCEPT)
    body: dict[str, Any] = {
        "assessment_id": aid,
        "decided_on": decided.isoformat(),
        "start_on": start.isoformat(),
        "decisions": decisions,
    }
    refused = call(client, world, "clinician", "POST", f"{base}/plans", json=body)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    index = [d["item_id"] for d in decisions].index("treatment:exercise-therapy")
    assert refused.json()["errors"] == [
        {
            "path": f"$.decisions[{index}]",
            "message": "treatment:exercise-therapy: a reason is required for rejecting an item "
            "the engine rates 'recommended'",
        }
    ]
    body["decisions"] = decisions_for(
        proposal, ACCEPT, {"exercise-therapy": "No benefit from a full course last year."}
    )
    created = call(client, world, "clinician", "POST", f"{base}/plans", json=body)
    plan = ok(created, 201)
    assert created.headers["ETag"] == '"1"' and plan["status"] == "active"
    assert created.headers["Location"] == plan["href"]
    plan_id = plan["id"]

    # -- the opioid taper: 10% of the original dose a month after two years of use ----------
    taper = ok(call(client, world, "clinician", "GET", f"{base}/plans/{plan_id}/taper"))
    assert taper["long_term"] and taper["pace"] == "monthly"
    assert [s["mme_per_day"] for s in taper["steps"]][:4] == [30, 27, 24, 21]
    assert taper["steps"][-1]["mme_per_day"] == 0

    # -- tasks: the stimulation trial cannot start before the psychological evaluation -------
    tasks = plan_tasks(client, world, pid, plan_id)
    assert sum(t["key"] == "opioid-taper-follow-up" for t in tasks) == 11
    trial = next(t for t in tasks if t["key"] == "spinal-cord-stimulation-trial")
    assert trial["waiting_on"] == [f"{plan_id}/psychological-evaluation"]
    trial = ok(move(client, world, trial, "accepted", on=start))["task"]
    early = move(client, world, trial, "in-progress", on=start)
    assert early.status_code == 409, early.text
    assert early.json()["type"] == "urn:secondlook:problem:transition-refused"
    assert "Psychological evaluation (requested)" in early.json()["detail"]
    order = close_in_order(client, world, pid, plan_id, add_months(start, 2))
    assert order.index("psychological-evaluation") < order.index("spinal-cord-stimulation-trial")
    assert order.index("spinal-cord-stimulation-trial") < order.index("spinal-cord-stimulation")
    assert all(t["status"] == "completed" for t in plan_tasks(client, world, pid, plan_id))

    # -- questionnaires at every time point ---------------------------------------------------
    schedule_url = f"{base}/plans/{plan_id}/questionnaires"
    for months, odi, nrs in FOLLOW_UP:
        day = add_months(start, months)
        late = day + dt.timedelta(days=20)
        before = ok(call(client, world, "clinician", "GET", f"{schedule_url}?as_of={late}"))
        at_point = {i["instrument"]: i["state"] for i in before["items"] if i["due"] == str(day)}
        # The questionnaires answered at intake (in the case) are the baseline time point's.
        intake = {q["instrument"] for q in document["questionnaires"]} if months == 0 else set()
        assert {k for k, v in at_point.items() if v == "completed"} == intake & set(at_point)
        assert all(v == "overdue" for k, v in at_point.items() if k not in intake), at_point
        assert _on_questionnaire_worklist(client, world, pid, late)
        answers = {
            "odi": odi_answers(odi),
            "nrs-pain": [nrs],
            "phq-9": [1, 1, 1, 0, 0, 0, 1, 0, 0],
            "dn4": [1, 0, 0, 1, 0, 0, 1, 0, 0, 0],
            "start-back": [1, 1, 1, 0, 1, 1, 0, 1, 2],
        }
        for instrument in at_point:
            ok(
                call(
                    client,
                    world,
                    "clinician",
                    "POST",
                    f"/api/v1/patients/{pid}/questionnaires",
                    json={
                        "instrument": instrument,
                        "answers": answers[instrument],
                        "answered_on": day.isoformat(),
                    },
                ),
                201,
            )
        after = ok(call(client, world, "clinician", "GET", f"{schedule_url}?as_of={late}"))
        assert {i["state"] for i in after["items"] if i["due"] == str(day)} == {"completed"}
        assert not _on_questionnaire_worklist(client, world, pid, late)
    assert set(at_point) == {"odi", "nrs-pain", "phq-9", "dn4"}

    # -- outcome at 12 months ------------------------------------------------------------------
    outcome = ok(call(client, world, "clinician", "GET", f"{base}/outcomes"))
    assert outcome["plan_id"] == plan_id and outcome["primary_instrument"] == "odi"
    assert outcome["responder_6m"] == "responder" and outcome["responder_12m"] == "responder"
    odi_scores = [p["score"] for p in outcome["trajectories"]["odi"]]
    assert odi_scores[-4:] == pytest.approx([44, 38, 32, 28])
    assert outcome["trajectories"]["odi"][-1]["status_from_first"] == "improved"
    goals = {g["goal"]["id"]: g["status"] for g in outcome["goals"]}
    assert goals == {"odi": "met", "nrs-pain": "met", "patient-1": "not-yet-measurable"}

    # -- the plan is completed once every criterion holds ------------------------------------
    year = add_months(start, 12)
    plan_url = f"{base}/plans/{plan_id}"
    closing = {"status": "completed", "on": (year + dt.timedelta(days=3)).isoformat()}
    early_close = call(
        client, world, "clinician", "PATCH", plan_url, json=closing, headers={"If-Match": '"1"'}
    )
    assert early_close.status_code == 409, early_close.text
    assert [e["message"] for e in early_close.json()["errors"]] == [
        f"plan '{plan_id}': goal 'patient-1' is not-yet-measurable "
        f"(measured from {add_months(decided, 12)} on)"
    ]
    ok(
        call(
            client,
            world,
            "clinician",
            "POST",
            f"{plan_url}/goal-checks",
            json={
                "goal_id": "patient-1",
                "checked_on": str(year),
                "achieved": True,
                "note": "Walked to the market and back.",
            },
        ),
        201,
    )
    stale = call(
        client, world, "clinician", "PATCH", plan_url, json=closing, headers={"If-Match": '"7"'}
    )
    assert stale.status_code == 412, stale.text
    done = call(
        client, world, "clinician", "PATCH", plan_url, json=closing, headers={"If-Match": '"1"'}
    )
    assert ok(done)["status"] == "completed" and done.headers["ETag"] == '"2"'

    # -- the cohort: the 12-month case version gives the work status at 12 months -------------
    later = shift_dates(scs_case(SHIFT), 0)
    later["assessed_on"] = year.isoformat()
    later["patient"]["work_status"] = "working"
    ok(
        call(
            client,
            world,
            "clinician",
            "PUT",
            f"/api/v1/patients/{pid}/case",
            json=later,
            headers={"If-Match": '"1"'},
        ),
        201,
    )
    exported = call(client, world, "coordinator", "GET", "/api/v1/care/cohort.csv")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = {r["patient_id"]: r for r in csv.DictReader(io.StringIO(exported.text))}
    assert rows[str(pid)] == {
        "patient_id": str(pid),
        "region": "lumbar",
        "course": "persistent",
        "etiology": "epidural-fibrosis",
        "baseline_on": str(start),
        "work_status_baseline": "modified-duty",
        "work_status_12m": "working",
        "responder_6m": "responder",
        "responder_12m": "responder",
    }
    report = ok(call(client, world, "clinician", "GET", "/api/v1/care/cohort"))
    assert report["patients"] == len(rows)
    assert report["responders_12m"]["responders"] >= 1


def _on_questionnaire_worklist(client: TestClient, world: World, pid: int, day: dt.date) -> bool:
    url = f"/api/v1/care/worklists/questionnaires?limit=200&as_of={day}&state=overdue"
    while url:
        page = ok(call(client, world, "coordinator", "GET", url))
        if any(p["patient_id"] == pid for p in page["items"]):
            return True
        url = page["next"]
    return False
