"""People on the team's records through the API, on SQLite and PostgreSQL: a user's discipline
(set by an administrator) and the worklist it opens, conference attendees from the team and a
conference's decisions about plan items carried to the plan, a task given to a person and
re-dated with its history, and a questionnaire entered from paper."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from care_api_support import decisions_for, odi_answers, scs_case

from secondlook.services import plans
from secondlook.services.accounts import acting_as
from secondlook.store import accounts, db, records
from secondlook.store.models import AuditEvent

ACCEPT = {"psychological-evaluation", "prior-records-review", "functional-assessment"}
# The case lies in the past (scs_case): so does the plan decided from it.
DATES: dict[str, Any] = {"decided_on": "2024-09-05", "start_on": "2024-09-11"}


@dataclass
class Team:
    client: TestClient
    organization: int
    users: dict[str, int] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def call(self, who: str, method: str, url: str, **kwargs: Any) -> Any:
        headers = {**kwargs.pop("headers", {}), "Authorization": f"Bearer {self.tokens[who]}"}
        return self.client.request(method, url, headers=headers, **kwargs)

    def ok(self, who: str, method: str, url: str, status: int = 200, **kwargs: Any) -> Any:
        response = self.call(who, method, url, **kwargs)
        assert response.status_code == status, response.text
        return response.json()

    def problem(self, who: str, method: str, url: str, status: int, **kwargs: Any) -> Any:
        response = self.call(who, method, url, **kwargs)
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        return response.json()


@pytest.fixture(scope="module")
def team(app: FastAPI, engine: Engine) -> Iterator[Team]:
    suffix = uuid.uuid4().hex[:8]
    with db.make_sessionmaker(engine)() as session:
        org = records.create_organization(session, slug=f"people-{suffix}", name="People")
        other = records.create_organization(session, slug=f"other-{suffix}", name="Other")
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
                crew.names[who] = user.username
            session.commit()
            yield crew


@pytest.fixture(scope="module")
def patient(team: Team) -> tuple[int, int]:
    pid = team.ok("lead", "POST", "/api/v1/patients", 201, json={"name": "People Patient"})["id"]
    team.ok(
        "lead",
        "PUT",
        f"/api/v1/patients/{pid}/case",
        201,
        json=scs_case(),
        headers={"If-None-Match": "*"},
    )
    aid = team.ok("lead", "POST", f"/api/v1/patients/{pid}/assessments", 201)["id"]
    return int(pid), int(aid)


def _set_discipline(team: Team, who: str, discipline: Any) -> dict[str, Any]:
    url = f"/api/v1/users/{team.users[who]}"
    version = team.ok("admin", "GET", url)["version"]
    return dict(
        team.ok(
            "admin",
            "PATCH",
            url,
            json={"discipline": discipline},
            headers={"If-Match": f'"{version}"'},
        )
    )


def test_an_administrator_sets_a_discipline_under_if_match(team: Team) -> None:
    url = f"/api/v1/users/{team.users['nurse']}"
    before = team.ok("admin", "GET", url)
    assert before["discipline"] is None
    team.problem("admin", "PATCH", url, 428, json={"discipline": "nursing-coordination"})
    stale = f'"{before["version"] + 5}"'
    team.problem(
        "admin", "PATCH", url, 412, json={"discipline": "psychology"}, headers={"If-Match": stale}
    )
    bad = team.problem(
        "admin",
        "PATCH",
        url,
        422,
        json={"discipline": "astrology"},
        headers={"If-Match": f'"{before["version"]}"'},
    )
    assert any(e["path"].endswith("discipline") for e in bad["errors"])
    made = _set_discipline(team, "nurse", "nursing-coordination")
    assert made["discipline"] == "nursing-coordination"
    assert made["version"] == before["version"] + 1
    # leaving the key out keeps it; null clears it; a clinician cannot set their own
    kept = team.ok(
        "admin", "PATCH", url, json={"active": True}, headers={"If-Match": f'"{made["version"]}"'}
    )
    assert kept["discipline"] == "nursing-coordination"
    assert _set_discipline(team, "nurse", None)["discipline"] is None
    _set_discipline(team, "nurse", "nursing-coordination")
    team.problem(
        "lead",
        "PATCH",
        url,
        403,
        json={"discipline": "psychology"},
        headers={"If-Match": '"1"'},
    )
    admin_url = f"/api/v1/users/{team.users['admin']}"
    version = team.ok("admin", "GET", admin_url)["version"]
    refused = team.problem(
        "admin",
        "PATCH",
        admin_url,
        422,
        json={"discipline": "psychology"},
        headers={"If-Match": f'"{version}"'},
    )
    assert "only clinicians and coordinators" in refused["detail"]


def test_my_discipline_worklist_needs_no_choice(team: Team, patient: tuple[int, int]) -> None:
    pid, aid = patient
    _set_discipline(team, "lead", "psychology")
    proposal = team.ok(
        "lead", "GET", f"/api/v1/patients/{pid}/care/plan-proposal?assessment_id={aid}"
    )
    reasons = {
        i["ref"]: "Not now."
        for i in proposal["items"]
        if i["reason_required_to"] == "reject" and i["ref"] not in ACCEPT
    }
    body = {"assessment_id": aid, **DATES, "decisions": decisions_for(proposal, ACCEPT, reasons)}
    plan = team.ok("lead", "POST", f"/api/v1/patients/{pid}/care/plans", 201, json=body)
    mine = team.ok("lead", "GET", "/api/v1/care/worklists/my-discipline")["items"]
    named = team.ok("lead", "GET", "/api/v1/care/worklists/discipline/psychology")["items"]
    assert mine and [t["id"] for t in mine] == [t["id"] for t in named]
    assert {t["owner"] for t in mine} == {"psychology"}
    assert any(t["plan_id"] == plan["id"] for t in mine)
    # someone with no discipline on record is told so, and how it is set
    _set_discipline(team, "nurse", None)
    refused = team.problem("nurse", "GET", "/api/v1/care/worklists/my-discipline", 409)
    assert "no care discipline on record" in refused["detail"]
    _set_discipline(team, "nurse", "nursing-coordination")


def test_conference_attendees_from_the_team_and_decisions_carried_to_the_plan(
    team: Team, patient: tuple[int, int], engine: Engine
) -> None:
    pid, aid = patient
    proposal = team.ok(
        "lead", "GET", f"/api/v1/patients/{pid}/care/plan-proposal?assessment_id={aid}"
    )
    scs = next(i for i in proposal["items"] if i["ref"] == "spinal-cord-stimulation")
    url = f"/api/v1/patients/{pid}/care/conferences"
    attendees: list[dict[str, Any]] = [
        {"name": team.names["lead"], "discipline": "psychology", "user_id": team.users["lead"]},
        {"name": "Dr Guest", "discipline": "spine-surgery"},
    ]
    decision = {
        "id": "scs",
        "text": "No stimulation trial until the psychological evaluation is done",
        "agenda_key": "psychological",
        "plan_item_id": scs["id"],
        "plan_action": "reject",
    }
    body: dict[str, Any] = {"assessment_id": aid, "held_on": "2026-11-20", "attendees": attendees}
    # bad input: a stranger as attendee, an item the proposal does not have, an action alone
    stranger = {**attendees[0], "user_id": team.users["stranger"]}
    refused = team.problem(
        "lead",
        "POST",
        url,
        422,
        json={**body, "attendees": [stranger], "decisions": [decision]},
    )
    assert any("not an active clinician" in e["message"] for e in refused["errors"])
    refused = team.problem(
        "lead",
        "POST",
        url,
        422,
        json={
            **body,
            "decisions": [
                {**decision, "plan_item_id": "workup:nothing"},
                {"id": "x", "text": "Half", "plan_action": "accept"},
            ],
        },
    )
    paths = {e["path"] for e in refused["errors"]}
    assert paths == {"$.decisions[0]", "$.decisions[1]"}
    bad = team.problem(
        "lead", "POST", url, 422, json={**body, "decisions": [{**decision, "plan_action": "maybe"}]}
    )
    assert any("plan_action" in e["path"] for e in bad["errors"])

    made = team.ok("lead", "POST", url, 201, json={**body, "decisions": [decision]})
    assert made["attendees"][0]["user_id"] == team.users["lead"]
    assert made["decisions"][0]["plan_item_id"] == scs["id"]
    with db.make_sessionmaker(engine)() as session:
        access = acting_as(session, username=team.names["lead"], command="test")
        carried = plans.conference_decisions_for_plan(
            session, access=access, patient_id=pid, conference_id=made["id"]
        )
        session.commit()
    assert list(carried) == [scs["id"]]
    assert carried[scs["id"]].action == "reject"
    assert carried[scs["id"]].reason == decision["text"]

    # a plan records the conference it came from; another patient's conference is refused
    reasons = {
        i["ref"]: "Not now."
        for i in proposal["items"]
        if i["reason_required_to"] == "reject" and i["ref"] not in ACCEPT
    }
    plan_body = {
        "assessment_id": aid,
        **DATES,
        "decisions": decisions_for(proposal, ACCEPT, reasons),
        "status": "draft",
    }
    plan_url = f"/api/v1/patients/{pid}/care/plans"
    team.problem("lead", "POST", plan_url, 404, json={**plan_body, "conference_id": 999_999})
    plan = team.ok("lead", "POST", plan_url, 201, json={**plan_body, "conference_id": made["id"]})
    assert plan["conference_id"] == made["id"]
    assert team.ok("lead", "GET", plan["href"])["conference_id"] == made["id"]


def test_a_task_is_given_to_a_person_and_re_dated_with_its_history(
    team: Team, patient: tuple[int, int], engine: Engine
) -> None:
    pid, _ = patient
    task = team.ok("lead", "GET", "/api/v1/care/worklists/my-discipline")["items"][0]
    href = f"/api/v1/patients/{pid}/care/tasks/{task['id']}"
    current = team.ok("lead", "GET", href)
    team.problem("lead", "PATCH", href, 428, json={"due": "2031-01-02"})
    team.problem(
        "lead",
        "PATCH",
        href,
        422,
        json={"assignee_user_id": team.users["stranger"]},
        headers={"If-Match": f'"{current["version"]}"'},
    )
    team.problem(
        "lead",
        "PATCH",
        href,
        422,
        json={"due": "soon"},
        headers={"If-Match": f'"{current["version"]}"'},
    )
    changed = team.ok(
        "lead",
        "PATCH",
        href,
        json={"assignee_user_id": team.users["nurse"], "due": "2031-01-02"},
        headers={"If-Match": f'"{current["version"]}"'},
    )["task"]
    assert changed["assignee_user_id"] == team.users["nurse"] and changed["due"] == "2031-01-02"
    team.problem(
        "lead",
        "PATCH",
        href,
        412,
        json={"due": "2031-02-02"},
        headers={"If-Match": f'"{current["version"]}"'},
    )
    # a status move alone changes no assignment: the history has the one change
    team.ok(
        "lead",
        "PATCH",
        href,
        json={"status": "accepted"},
        headers={"If-Match": f'"{changed["version"]}"'},
    )
    history = team.ok("lead", "GET", f"{href}/assignments")
    assert [
        (h["from_assignee_user_id"], h["to_assignee_user_id"], h["from_due"], h["to_due"])
        for h in history
    ] == [(None, team.users["nurse"], current["due"], "2031-01-02")]
    assert history[0]["by_user_id"] == team.users["lead"]
    mine = team.ok("nurse", "GET", "/api/v1/care/worklists/my-tasks")["items"]
    assert task["id"] in [t["id"] for t in mine]
    team.problem("stranger", "GET", f"{href}/assignments", 404)
    with db.make_sessionmaker(engine)() as session:
        actions = set(
            session.execute(
                select(AuditEvent.action, AuditEvent.outcome, AuditEvent.status).where(
                    AuditEvent.patient_id == pid, AuditEvent.action.like("care.task.%")
                )
            ).all()
        )
    # the change, the refusals (stale, stranger) and the history read are all in the trail
    assert {
        ("care.task.update", "success", 200),
        ("care.task.update", "failed", 412),
        ("care.task.read", "success", 200),
    } <= actions


def test_a_paper_questionnaire_is_entered_through_the_same_service(
    team: Team, patient: tuple[int, int]
) -> None:
    pid, _ = patient
    url = f"/api/v1/patients/{pid}/questionnaires"
    paper = team.ok(
        "nurse",
        "POST",
        url,
        201,
        json={
            "instrument": "odi",
            "answers": odi_answers(40),
            "answered_on": "2026-10-01",
            "on_paper": True,
        },
    )
    assert (paper["score"], paper["source"]) == (40, "paper")
    assert paper["created_by"] == team.users["nurse"]
    total = team.ok(
        "lead",
        "POST",
        url,
        201,
        json={"instrument": "phq-9", "total": 9, "answered_on": "2026-10-01", "on_paper": True},
    )
    assert total["answers"] == [] and total["score"] == 9 and total["alerts"] == []
    assert any("item 9" in p for p in total["problems"])  # unknown, never "no"
    alert = team.ok(
        "lead",
        "POST",
        url,
        201,
        json={"instrument": "phq-9", "answers": [0] * 8 + [2], "on_paper": True},
    )
    assert "self-harm-risk" in alert["alerts"]
    for body, status in (
        ({"instrument": "odi", "total": 30, "answers": odi_answers(30)}, 422),
        ({"instrument": "odi", "total": 300}, 422),
        ({"instrument": "odi", "total": 30, "answered_on": "2999-01-01", "on_paper": True}, 422),
        ({"instrument": "odi", "answers": [9] * 10, "on_paper": True}, 422),
    ):
        team.problem("lead", "POST", url, status, json=body)
    outcomes = team.ok("lead", "GET", f"/api/v1/patients/{pid}/care/outcomes")
    # the paper ODI is one point of the outcomes, counted once
    odi = outcomes["trajectories"]["odi"]
    assert [p["score"] for p in odi if p["date"] == "2026-10-01"] == [40]


def test_a_block_result_completes_the_task_and_becomes_the_next_case_version(team: Team) -> None:
    document = scs_case()
    document["surgeries"][0]["fused_to_sacrum"] = True  # a sacroiliac joint block is due
    document["pain"]["axial_nrs"] = 6
    pid = team.ok("lead", "POST", "/api/v1/patients", 201, json={"name": "Block Patient"})["id"]
    team.ok(
        "lead",
        "PUT",
        f"/api/v1/patients/{pid}/case",
        201,
        json=document,
        headers={"If-None-Match": "*"},
    )
    aid = team.ok("lead", "POST", f"/api/v1/patients/{pid}/assessments", 201)["id"]
    proposal = team.ok(
        "lead", "GET", f"/api/v1/patients/{pid}/care/plan-proposal?assessment_id={aid}"
    )
    accept = {*ACCEPT, "sacroiliac-joint-block"}
    reasons = {
        i["ref"]: "Not now."
        for i in proposal["items"]
        if i["reason_required_to"] == "reject" and i["ref"] not in accept
    }
    body = {"assessment_id": aid, **DATES, "decisions": decisions_for(proposal, accept, reasons)}
    plan = team.ok("lead", "POST", f"/api/v1/patients/{pid}/care/plans", 201, json=body)
    tasks = team.ok("lead", "GET", f"{plan['href']}/tasks?kind=care&limit=200")["items"]
    block = next(t for t in tasks if t["plan_item_id"] == "workup:sacroiliac-joint-block")
    other = next(t for t in tasks if t["plan_item_id"] == "workup:functional-assessment")
    for status in ("accepted", "in-progress"):
        block = team.ok(
            "lead",
            "PATCH",
            block["href"],
            json={"status": status},
            headers={"If-Match": f'"{block["version"]}"'},
        )["task"]
    result_url = f"{block['href']}/result"
    good = {"relief_percent": 85, "confirmatory": True, "on": "2024-10-01"}
    team.problem("lead", "POST", result_url, 428, json=good)
    bad = team.problem(
        "lead",
        "POST",
        result_url,
        422,
        json={**good, "relief_percent": 150},
        headers={"If-Match": f'"{block["version"]}"'},
    )
    assert any(e["path"].endswith("relief_percent") for e in bad["errors"])
    missing = team.problem(
        "lead",
        "POST",
        result_url,
        422,
        json={"relief_percent": 85},
        headers={"If-Match": f'"{block["version"]}"'},
    )
    assert any("confirmatory" in e["message"] for e in missing["errors"])
    no_result = team.problem(
        "lead",
        "POST",
        f"{other['href']}/result",
        422,
        json=good,
        headers={"If-Match": f'"{other["version"]}"'},
    )
    assert "records no result" in no_result["errors"][0]["message"]
    case_before = team.ok("lead", "GET", f"/api/v1/patients/{pid}/case")["document"]
    done = team.ok(
        "lead", "POST", result_url, json=good, headers={"If-Match": f'"{block["version"]}"'}
    )
    assert done["task"]["status"] == "completed"
    assert done["assess"] == f"/api/v1/patients/{pid}/assessments"
    case_after = team.ok("lead", "GET", f"/api/v1/patients/{pid}/case")["document"]
    assert case_after["blocks"][-1] == {
        "target": "sacroiliac-joint",
        "relief_percent": 85.0,
        "confirmatory": True,
        "date": "2024-10-01",
    }
    assert len(case_after.get("blocks", [])) == len(case_before.get("blocks", [])) + 1
    # the same form again is stale: nothing is added twice
    team.problem(
        "lead", "POST", result_url, 412, json=good, headers={"If-Match": f'"{block["version"]}"'}
    )
    assert len(team.ok("lead", "GET", f"/api/v1/patients/{pid}/case")["document"]["blocks"]) == len(
        case_after["blocks"]
    )
    # the re-assessment sees the confirmed block: the SI block is no longer proposed
    again = team.ok("lead", "POST", done["assess"], 201)
    proposal = team.ok(
        "lead", "GET", f"/api/v1/patients/{pid}/care/plan-proposal?assessment_id={again['id']}"
    )
    assert "workup:sacroiliac-joint-block" not in {i["id"] for i in proposal["items"]}


def test_an_administrator_changes_a_staff_role_but_not_their_own(team: Team) -> None:
    url = f"/api/v1/users/{team.users['nurse']}"
    before = team.ok("admin", "GET", url)
    _set_discipline(team, "nurse", "nursing-coordination")
    version = before["version"] + 1
    made = team.ok(
        "admin", "PATCH", url, json={"role": "admin"}, headers={"If-Match": f'"{version}"'}
    )
    # An administrator works in no care discipline: the role change clears it.
    assert (made["role"], made["discipline"]) == ("admin", None)
    back = team.ok(
        "admin",
        "PATCH",
        url,
        json={"role": "coordinator", "discipline": "psychology"},
        headers={"If-Match": f'"{made["version"]}"'},
    )
    assert (back["role"], back["discipline"]) == ("coordinator", "psychology")
    team.problem(
        "admin",
        "PATCH",
        url,
        422,
        json={"role": "patient"},
        headers={"If-Match": f'"{back["version"]}"'},
    )
    admin_url = f"/api/v1/users/{team.users['admin']}"
    mine = team.ok("admin", "GET", admin_url)["version"]
    refused = team.problem(
        "admin",
        "PATCH",
        admin_url,
        409,
        json={"role": "clinician"},
        headers={"If-Match": f'"{mine}"'},
    )
    assert "your own role" in refused["detail"]
