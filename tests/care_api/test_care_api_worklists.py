"""Worklists, task transitions at their edges, drafts, discharge and tapers through the API, in
an organization of this module's own (so that counts are exact), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import itertools
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import DatabaseError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from care_api_support import decisions_for, scs_case, shift_dates

from secondlook.examples import load_example
from secondlook.store import accounts, db, records

ACCEPT = {
    "psychological-evaluation",
    "prior-records-review",
    "spinal-cord-stimulation",
    "opioid-taper",
    "functional-assessment",
}


def reasons(proposal: dict[str, Any]) -> dict[str, str]:
    """A reason for every recommended item this module's plans reject."""
    return {
        i["ref"]: f"Not now: {i['ref']}."
        for i in proposal["items"]
        if i["reason_required_to"] == "reject" and i["ref"] not in ACCEPT
    }


@dataclass
class Team:
    client: TestClient
    organization: int
    users: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def call(self, who: str, method: str, url: str, **kwargs: Any) -> Any:
        headers = {**kwargs.pop("headers", {}), "Authorization": f"Bearer {self.tokens[who]}"}
        return self.client.request(method, url, headers=headers, **kwargs)

    def ok(self, who: str, method: str, url: str, status: int = 200, **kwargs: Any) -> Any:
        response = self.call(who, method, url, **kwargs)
        assert response.status_code == status, response.text
        return response.json()

    def all_pages(self, who: str, url: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        next_url: str | None = url
        while next_url:
            page = self.ok(who, "GET", next_url)
            items += page["items"]
            next_url = page["next"]
        return items

    def patient(self, name: str, document: dict[str, Any]) -> tuple[int, int]:
        pid = self.ok("lead", "POST", "/api/v1/patients", 201, json={"name": name})["id"]
        self.ok(
            "lead",
            "PUT",
            f"/api/v1/patients/{pid}/case",
            201,
            json=document,
            headers={"If-None-Match": "*"},
        )
        aid = self.ok("lead", "POST", f"/api/v1/patients/{pid}/assessments", 201)["id"]
        return int(pid), int(aid)

    def plan(self, pid: int, aid: int, **extra: Any) -> dict[str, Any]:
        proposal = self.ok(
            "lead", "GET", f"/api/v1/patients/{pid}/care/plan-proposal?assessment_id={aid}"
        )
        body = {
            "assessment_id": aid,
            "decided_on": "2024-09-05",
            "start_on": "2024-09-11",
            "decisions": decisions_for(proposal, ACCEPT, reasons(proposal)),
            **extra,
        }
        return dict(self.ok("lead", "POST", f"/api/v1/patients/{pid}/care/plans", 201, json=body))

    def task_list(self, pid: int, plan_id: int) -> list[dict[str, Any]]:
        url = f"/api/v1/patients/{pid}/care/plans/{plan_id}/tasks?kind=care&limit=200"
        return self.all_pages("lead", url)

    def tasks(self, pid: int, plan_id: int) -> dict[str, dict[str, Any]]:
        """By key (the taper's monthly follow-ups share one: the last is kept)."""
        return {t["key"]: t for t in self.task_list(pid, plan_id)}


@pytest.fixture(scope="module")
def team(app: FastAPI, engine: Engine) -> Iterator[Team]:
    suffix = uuid.uuid4().hex[:8]
    with db.make_sessionmaker(engine)() as session:
        org = records.create_organization(session, slug=f"care-{suffix}", name="Care Team")
        other = records.create_organization(session, slug=f"else-{suffix}", name="Elsewhere")
        people = {
            "lead": (org.id, "clinician"),
            "nurse": (org.id, "coordinator"),
            "admin": (org.id, "admin"),
            "stranger": (other.id, "clinician"),
        }
        with TestClient(app) as client:
            crew = Team(client, org.id)
            for who, (organization, role) in people.items():
                user = accounts.create_user(
                    session, organization_id=organization, username=f"{who}-{suffix}", role=role
                )
                _, token = accounts.issue_credential(session, user=user, kind="token")
                crew.users[who], crew.tokens[who] = user.id, token
            session.commit()
            yield crew


@pytest.fixture(scope="module")
def journey(team: Team) -> dict[str, Any]:
    """One scs-candidate patient with an active plan (taper accepted)."""
    pid, aid = team.patient("Wl Patient", scs_case())
    plan = team.plan(pid, aid)
    return {"pid": pid, "aid": aid, "plan": plan}


def test_worklists_by_discipline_assignee_and_due_date_page_without_gaps(
    team: Team, journey: dict[str, Any]
) -> None:
    pid, plan = journey["pid"], journey["plan"]
    tasks = team.tasks(pid, plan["id"])
    psych = tasks["psychological-evaluation"]
    assigned = team.ok(
        "lead",
        "PATCH",
        psych["href"],
        json={"assignee_user_id": team.users["nurse"], "person": "Ms Berg"},
        headers={"If-Match": f'"{psych["version"]}"'},
    )["task"]
    assert assigned["version"] == psych["version"] + 1 and assigned["person"] == "Ms Berg"
    mine = team.ok("nurse", "GET", "/api/v1/care/worklists/my-tasks")["items"]
    assert [t["id"] for t in mine] == [psych["id"]]
    assert mine[0]["patient_name"] == "Wl Patient"
    assert team.ok("lead", "GET", "/api/v1/care/worklists/my-tasks")["items"] == []

    psychology = team.all_pages("nurse", "/api/v1/care/worklists/discipline/psychology")
    assert {t["key"] for t in psychology} == {"psychological-evaluation"}
    pain = team.all_pages("nurse", "/api/v1/care/worklists/discipline/pain-medicine?limit=3")
    assert {t["owner"] for t in pain} == {"pain-medicine"}
    every = team.task_list(pid, plan["id"])
    assert len(pain) == sum(t["owner"] == "pain-medicine" for t in every) > 10

    late = "/api/v1/care/worklists/overdue-tasks?as_of=2199-01-01"
    everything = team.all_pages("nurse", late + "&limit=200")
    paged = team.all_pages("nurse", late + "&limit=2")
    assert [t["id"] for t in paged] == [t["id"] for t in everything]
    assert len(everything) == len(every)
    assert [(t["due"], t["id"]) for t in everything] == sorted(
        (t["due"], t["id"]) for t in everything
    )
    on_start = team.all_pages("nurse", "/api/v1/care/worklists/overdue-tasks?as_of=2024-09-12")
    assert {t["key"] for t in on_start} == {"prior-records-review"}  # due at the first visit
    assert team.ok("stranger", "GET", late)["items"] == []
    refused = team.call("nurse", "GET", "/api/v1/care/worklists/my-tasks?cursor=x")
    assert refused.status_code == 422


def test_red_flag_worklist_follows_the_latest_assessment(team: Team) -> None:
    document = shift_dates(load_example("cauda-equina"), -30)
    pid, aid = team.patient("Flagged Patient", document)
    flagged = team.all_pages("nurse", "/api/v1/care/worklists/red-flags")
    mine = [p for p in flagged if p["patient_id"] == pid]
    assert mine and mine[0]["assessment_id"] == aid
    assert mine[0]["red_flags"][0]["id"] == "cauda-equina"
    assert team.ok("stranger", "GET", "/api/v1/care/worklists/red-flags")["items"] == []
    # A later assessment without red flags takes the patient off the list.
    team.ok(
        "lead",
        "PUT",
        f"/api/v1/patients/{pid}/case",
        201,
        json=scs_case(),
        headers={"If-Match": '"1"'},
    )
    team.ok("lead", "POST", f"/api/v1/patients/{pid}/assessments", 201)
    flagged = team.all_pages("nurse", "/api/v1/care/worklists/red-flags")
    assert pid not in {p["patient_id"] for p in flagged}


def test_plan_review_and_questionnaire_worklists(team: Team, journey: dict[str, Any]) -> None:
    plan = journey["plan"]
    review = dt.date.fromisoformat(plan["review_on"])
    before = team.all_pages(
        "nurse", f"/api/v1/care/worklists/plan-reviews?as_of={review - dt.timedelta(days=30)}"
    )
    assert plan["id"] not in {p["plan_id"] for p in before}
    due = team.all_pages(
        "nurse",
        f"/api/v1/care/worklists/plan-reviews?as_of={review - dt.timedelta(days=7)}&limit=1",
    )
    assert plan["id"] in {p["plan_id"] for p in due}

    # Baseline questionnaires (due at the start, 2024-09-11): the ODI, PHQ-9 and DN4 of the
    # intake case answer theirs; the NRS and STarT Back are due now, then overdue.
    url = "/api/v1/care/worklists/questionnaires?as_of="
    near = team.all_pages("nurse", url + "2024-09-15&state=not-completed")
    entry = next(p for p in near if p["patient_id"] == journey["pid"])
    assert entry["due"] == 2 and entry["overdue"] == 0
    assert entry["instruments"] == ["nrs-pain", "start-back"]
    assert journey["pid"] not in {
        p["patient_id"] for p in team.all_pages("nurse", url + "2024-09-15&state=overdue")
    }
    late = team.all_pages("nurse", url + "2024-10-15&state=overdue")
    assert next(p for p in late if p["patient_id"] == journey["pid"])["overdue"] == 2
    team.ok(
        "lead",
        "POST",
        f"/api/v1/patients/{journey['pid']}/questionnaires",
        201,
        json={"instrument": "nrs-pain", "answers": [5], "answered_on": "2024-09-20"},
    )
    late = team.all_pages("nurse", url + "2024-10-15&state=overdue")
    entry = next(p for p in late if p["patient_id"] == journey["pid"])
    assert entry["overdue"] == 1 and entry["instruments"] == ["start-back"]


def test_task_transitions_refused_at_their_edges_and_failure_cascades(team: Team) -> None:
    pid, aid = team.patient("Edge Patient", scs_case())
    plan = team.plan(pid, aid)
    tasks = team.tasks(pid, plan["id"])
    trial, implant = tasks["spinal-cord-stimulation-trial"], tasks["spinal-cord-stimulation"]
    assert set(implant["waiting_on"]) == {
        trial["task_key"],
        tasks["psychological-evaluation"]["task_key"],
    }

    def patch(task: dict[str, Any], body: dict[str, Any], etag: str | None = None) -> Any:
        headers = {} if etag == "" else {"If-Match": etag or f'"{task["version"]}"'}
        return team.call("lead", "PATCH", task["href"], json=body, headers=headers)

    assert patch(trial, {"status": "accepted"}, etag="").status_code == 428
    assert patch(trial, {"status": "accepted"}, etag='"9"').status_code == 412
    skipped = patch(trial, {"status": "completed"})
    assert skipped.status_code == 409
    assert "cannot go from requested to completed" in skipped.json()["detail"]
    assert patch(trial, {"status": "cancelled"}).status_code == 422  # no reason
    denied = team.call("admin", "PATCH", trial["href"], json={"person": "x"})
    assert denied.status_code == 403

    # Prerequisites done: the psychological evaluation; the trial then runs and fails.
    psych = tasks["psychological-evaluation"]
    for step in ("accepted", "in-progress", "completed"):
        psych = patch(psych, {"status": step}).json()["task"]
    for step in ("accepted", "in-progress"):
        response = patch(trial, {"status": step})
        assert response.status_code == 200, response.text
        trial = response.json()["task"]
    failed = patch(trial, {"status": "failed", "reason": "Less than 50% relief."})
    assert failed.status_code == 200, failed.text
    cancelled = failed.json()["cancelled"]
    assert [t["key"] for t in cancelled] == ["spinal-cord-stimulation"]
    assert cancelled[0]["status_reason"].startswith("Prerequisite")
    after = team.ok("lead", "GET", implant["href"])
    assert after["status"] == "cancelled" and after["version"] == implant["version"] + 1
    closed = patch(failed.json()["task"], {"status": "in-progress"})
    assert closed.status_code == 409 and "nothing (it is closed)" in closed.json()["detail"]

    events = team.ok(
        "admin", "GET", f"/api/v1/audit?patient_id={pid}&action=care.task.update&limit=200"
    )["items"]
    outcomes = {(e["outcome"], e["status"]) for e in events}
    assert {("success", 200), ("failed", 409), ("failed", 412), ("failed", 428)} <= outcomes
    assert ("denied", 403) in outcomes


def test_draft_plan_gets_its_tasks_when_activated_and_discharge_needs_a_reason(
    team: Team,
) -> None:
    pid, aid = team.patient("Draft Patient", scs_case())
    draft = team.plan(pid, aid, status="draft")
    assert draft["status"] == "draft" and team.tasks(pid, draft["id"]) == {}
    url = draft["href"]
    active = team.ok("nurse", "PATCH", url, json={"status": "active"}, headers={"If-Match": '"1"'})
    assert active["status"] == "active" and active["version"] == 2
    assert "spinal-cord-stimulation" in team.tasks(pid, draft["id"])
    taper = team.ok("nurse", "GET", f"{url}/taper")
    assert taper["steps"][1]["mme_per_day"] == 27

    no_reason = team.call(
        "nurse", "PATCH", url, json={"status": "discharged"}, headers={"If-Match": '"2"'}
    )
    assert no_reason.status_code == 422, no_reason.text
    moved = team.ok(
        "nurse",
        "PATCH",
        url,
        json={"status": "discharged", "reason": "Moved to another city.", "on": "2025-01-10"},
        headers={"If-Match": '"2"'},
    )
    assert moved["status"] == "discharged" and moved["closed_reason"] == "Moved to another city."
    again = team.call(
        "nurse", "PATCH", url, json={"review_on": "2025-06-01"}, headers={"If-Match": '"3"'}
    )
    assert again.status_code == 422
    reviews = team.all_pages("nurse", "/api/v1/care/worklists/plan-reviews?as_of=2199-01-01")
    assert draft["id"] not in {r["plan_id"] for r in reviews}


def test_a_later_draft_never_replaces_the_active_plan_in_outcomes_or_on_the_board(
    team: Team,
) -> None:
    pid, aid = team.patient("Draft Later", scs_case())
    active = team.plan(pid, aid)
    draft = team.plan(pid, aid, status="draft")
    assert draft["id"] > active["id"]
    outcomes = team.ok("nurse", "GET", f"/api/v1/patients/{pid}/care/outcomes")
    assert outcomes["plan_id"] == active["id"]
    # naming the draft still shows it, as what it is
    named = team.ok("nurse", "GET", f"/api/v1/patients/{pid}/care/outcomes?plan_id={draft['id']}")
    assert named["plan_id"] == draft["id"]


def test_taper_rules_and_goal_edits_are_validated_by_the_domain(team: Team) -> None:
    pid, aid = team.patient("Taper Patient", scs_case())
    proposal = team.ok(
        "lead", "GET", f"/api/v1/patients/{pid}/care/plan-proposal?assessment_id={aid}"
    )
    fast = team.call(
        "lead",
        "POST",
        f"/api/v1/patients/{pid}/care/plans",
        json={
            "assessment_id": aid,
            "decided_on": "2024-09-05",
            "decisions": decisions_for(proposal, ACCEPT, reasons(proposal)),
            "taper": {"pace": "weekly"},
        },
    )
    assert fast.status_code == 422, fast.text
    assert [e["path"] for e in fast.json()["errors"]] == ["$.taper.pace"]
    plan = team.plan(pid, aid, taper={"pace": "slow-monthly", "mme_per_day": 40})
    taper = team.ok("lead", "GET", f"{plan['href']}/taper")
    doses = [s["mme_per_day"] for s in taper["steps"]]
    assert doses[:3] == [40, 38, 36] and doses[-1] == 0
    assert all(a >= b for a, b in itertools.pairwise(doses))

    bad_goal = team.call(
        "lead",
        "PATCH",
        plan["href"],
        json={
            "goals": [
                {"id": "x", "kind": "instrument", "text": "Better", "target_on": "2030-01-01"}
            ]
        },
        headers={"If-Match": '"1"'},
    )
    assert bad_goal.status_code == 422
    paths = {e["path"] for e in bad_goal.json()["errors"]}
    assert paths == {"$.goals[0]"}
    stale = team.call(
        "lead", "PATCH", plan["href"], json={"review_on": "2025-03-01"}, headers={"If-Match": '"5"'}
    )
    assert stale.status_code == 412 and stale.json()["current_version"] == 1


def test_task_events_and_goal_checks_cannot_be_changed_or_deleted(
    team: Team, engine: Engine
) -> None:
    pid, aid = team.patient("History Patient", scs_case())
    plan = team.plan(pid, aid)
    task = next(t for t in team.task_list(pid, plan["id"]) if t["waiting_on"] == [])
    team.ok(
        "lead",
        "PATCH",
        task["href"],
        json={"status": "accepted", "on": "2024-09-12"},
        headers={"If-Match": f'"{task["version"]}"'},
    )
    goal = next(g["id"] for g in plan["goals"] if g["id"].startswith("patient-"))  # own words
    team.ok(
        "lead",
        "POST",
        f"/api/v1/patients/{pid}/care/plans/{plan['id']}/goal-checks",
        201,
        json={"goal_id": goal, "checked_on": "2024-12-12", "achieved": False},
    )
    for table in ("care_task_events", "care_goal_checks"):
        with engine.connect() as connection:
            assert connection.execute(text(f"SELECT count(*) FROM {table}")).scalar()
        for statement in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}"):
            with pytest.raises(DatabaseError, match="append-only"), engine.begin() as connection:
                connection.execute(text(statement))
