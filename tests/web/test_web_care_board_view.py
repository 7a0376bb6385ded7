"""The task board that fits a screen: repeated follow-ups folded into one row with the next due
date and a count, the finished tasks folded, the board narrowed by discipline and by person
(GET form), and every action returning to its task with the same view."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

import factories
from secondlook.care.plan import PlanItem
from secondlook.store.care_models import CareTask


def _with_taper(item: PlanItem) -> bool:
    return item.recommendation in ("recommended", "consider")


@pytest.fixture
def taper_plan(web_engine: Engine, clinic: factories.Clinic) -> tuple[int, int]:
    """A patient on 60 MME/day with a plan that accepts the opioid taper (monthly follow-ups):
    (patient id, plan id)."""
    with factories.committed(web_engine) as session:
        pid = factories.patient(
            session, organization_id=clinic.id, example="thoracic-sacroiliac", assessed=True
        ).id
        plan = factories.plan(
            session, organization_id=clinic.id, patient_id=pid, accept=_with_taper
        )
        return pid, plan.id


def _follow_ups(engine: Engine, plan_id: int) -> list[CareTask]:
    with Session(engine) as session:
        rows = list(
            session.scalars(
                select(CareTask)
                .where(CareTask.plan_id == plan_id, CareTask.key == "opioid-taper-follow-up")
                .order_by(CareTask.due, CareTask.id)
            )
        )
        session.expunge_all()
        return rows


def _group(html: str, name: str) -> str:
    start = html.index('<li class="group"', html.index(f"<strong>{name}</strong>") - 400)
    return html[start : html.index("</ul></details></li>", start)]


def test_repeated_follow_ups_are_one_row_with_the_next_due_date_and_a_count(
    clinician: tuple[TestClient, str], web_engine: Engine, taper_plan: tuple[int, int]
) -> None:
    client, _ = clinician
    pid, plan_id = taper_plan
    follow_ups = _follow_ups(web_engine, plan_id)
    assert len(follow_ups) >= 3
    html = client.get(f"/clinic/patients/{pid}/tasks").text
    group = _group(html, "Opioid taper follow-up")
    # one folded row: the care rule's name, how many, the next due date (ISO in <time>)
    assert f"× {len(follow_ups)}" in group
    assert f'next due <time class="date" datetime="{follow_ups[0].due.isoformat()}"' in group
    assert group.startswith('<li class="group"') and "<details>" in group  # closed
    # every follow-up is still there, in due order, each with its own card and forms
    cards = re.findall(r'<li class="card[^"]*" id="task-(\d+)"', group)
    assert [int(c) for c in cards] == [t.id for t in follow_ups]
    # a task of its own kind is a card of its own, not a group
    assert html.count('<li class="group"') == 1

    # returning to one of the follow-ups (after an action): its group is open
    chosen = follow_ups[2]
    html = client.get(f"/clinic/patients/{pid}/tasks?at={chosen.id}").text
    assert "<details open>" in _group(html, "Opioid taper follow-up")


def test_an_action_returns_to_its_task_with_the_view_kept(
    clinician: tuple[TestClient, str], web_engine: Engine, taper_plan: tuple[int, int]
) -> None:
    client, token = clinician
    pid, plan_id = taper_plan
    chosen = _follow_ups(web_engine, plan_id)[1]
    html = client.get(f"/clinic/patients/{pid}/tasks?owner=pain-medicine&at={chosen.id}").text
    card = html.split(f'id="task-{chosen.id}"', 1)[1].split("</li>", 1)[0]
    # the card's forms carry the view, so the answer comes back to it
    assert 'name="view_owner" value="pain-medicine"' in card
    moved = client.post(
        f"/clinic/patients/{pid}/tasks/{chosen.id}",
        data={
            "csrf_token": token,
            "status": "accepted",
            "version": str(chosen.version),
            "view_owner": "pain-medicine",
            "view_assignee": "",
        },
    )
    assert moved.status_code == 303
    location = moved.headers["location"]
    assert location == (
        f"/clinic/patients/{pid}/tasks?owner=pain-medicine&at={chosen.id}#task-{chosen.id}"
    )
    page = client.get(location.split("#", 1)[0]).text
    accepted = page.split("<h3>Accepted (", 1)[1].split('<div class="column', 1)[0]
    assert f'id="task-{chosen.id}"' in accepted
    assert '<h2 id="disc-1">Pain medicine</h2>' in page and ">Psychology</h2>" not in page


def test_the_board_narrows_to_a_discipline_and_to_a_person(
    clinician: tuple[TestClient, str],
    web_engine: Engine,
    clinic: factories.Clinic,
    taper_plan: tuple[int, int],
) -> None:
    client, _ = clinician
    pid, plan_id = taper_plan
    with Session(web_engine) as session:
        total = len(
            list(
                session.scalars(
                    select(CareTask.id).where(CareTask.plan_id == plan_id, CareTask.kind == "care")
                )
            )
        )
        psychology = len(
            list(
                session.scalars(
                    select(CareTask.id).where(
                        CareTask.plan_id == plan_id,
                        CareTask.kind == "care",
                        CareTask.owner == "psychology",
                    )
                )
            )
        )
        mine = session.scalars(
            select(CareTask).where(CareTask.plan_id == plan_id, CareTask.owner == "psychology")
        ).first()
        assert mine is not None and psychology >= 1
        mine_id = mine.id
        session.execute(
            update(CareTask)
            .where(CareTask.id == mine_id)
            .values(assignee_user_id=clinic.clinician.user_id)
        )
        session.commit()

    html = client.get(f"/clinic/patients/{pid}/tasks?owner=psychology").text
    assert re.findall(r'<h2 id="disc-\d+">([^<]+)</h2>', html) == ["Psychology"]
    assert f"Showing {psychology} of the plan's {total} tasks." in html
    assert '<option value="psychology" selected>' in html

    html = client.get(f"/clinic/patients/{pid}/tasks?assignee={clinic.clinician.user_id}").text
    assert re.findall(r'<li class="card[^"]*" id="task-(\d+)"', html) == [str(mine_id)]
    assert f"Showing 1 of the plan's {total} tasks." in html

    html = client.get(f"/clinic/patients/{pid}/tasks?assignee=nobody").text
    assert f'id="task-{mine_id}"' not in html
    assert f"Showing {total - 1} of the plan's {total} tasks." in html


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("owner=astrology", "unknown discipline"),
        ("assignee=someone", "choose a team member"),
        ("assignee=999999", "not a member of the team"),
    ],
)
def test_a_bad_filter_is_a_clear_422_page(
    clinician: tuple[TestClient, str], taper_plan: tuple[int, int], query: str, says: str
) -> None:
    client, _ = clinician
    pid, _ = taper_plan
    answer = client.get(f"/clinic/patients/{pid}/tasks?{query}")
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert says in answer.text and "Traceback" not in answer.text
