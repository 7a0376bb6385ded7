"""A questionnaire answered on paper, entered by a clinician: the same record as the portal's,
feeding outcomes once and raising the same safety alerts."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import factories
from secondlook.store.models import AuditEvent, QuestionnaireResponse


def _responses(engine: Engine, patient_id: int) -> list[QuestionnaireResponse]:
    with Session(engine) as session:
        rows = list(
            session.scalars(
                select(QuestionnaireResponse)
                .where(QuestionnaireResponse.patient_id == patient_id)
                .order_by(QuestionnaireResponse.id)
            )
        )
        session.expunge_all()
        return rows


def test_a_paper_odi_is_recorded_with_who_entered_it_and_feeds_the_outcomes(
    clinician: tuple[TestClient, str], web_engine: Engine, clinic: factories.Clinic
) -> None:
    client, token = clinician
    pid = clinic.patient.id
    before = len(_responses(web_engine, pid))
    chooser = client.get(f"/clinic/patients/{pid}/questionnaires/paper")
    assert chooser.status_code == 200 and 'name="instrument"' in chooser.text
    form = client.get(f"/clinic/patients/{pid}/questionnaires/paper?instrument=odi").text
    assert 'name="item-9"' in form and 'name="item-10"' not in form  # ten sections
    # an answer out of range is refused naming the item, nothing is stored
    bad = client.post(
        f"/clinic/patients/{pid}/questionnaires/paper",
        data={
            "csrf_token": token,
            "instrument": "odi",
            "answered_on": "2026-11-02",
            **{f"item-{i}": "2" for i in range(9)},
            "item-9": "7",
        },
    )
    assert bad.status_code == 422 and 'role="alert"' in bad.text
    assert "item 10" in bad.text.lower()
    assert len(_responses(web_engine, pid)) == before
    good = client.post(
        f"/clinic/patients/{pid}/questionnaires/paper",
        data={
            "csrf_token": token,
            "instrument": "odi",
            "answered_on": "2026-11-02",
            **{f"item-{i}": "2" for i in range(10)},
        },
    )
    assert good.status_code == 303
    rows = _responses(web_engine, pid)
    assert len(rows) == before + 1
    paper = rows[-1]
    assert (paper.instrument, str(paper.answered_on), paper.score) == ("odi", "2026-11-02", 40)
    assert paper.source == "paper" and paper.created_by == clinic.clinician.user_id
    page = client.get(f"/clinic/patients/{pid}").text
    assert (
        '<time class="date" datetime="2026-11-02" title="2026-11-02">Nov 2, 2026</time>: '
        "ODI 40 of 100 · on paper, entered"
    ) in page
    assert "No scored questionnaires yet" not in page
    with Session(web_engine) as session:
        actions = session.scalars(
            select(AuditEvent.outcome).where(
                AuditEvent.patient_id == pid, AuditEvent.action == "questionnaire.create"
            )
        ).all()
    # the service refused the out-of-range answer, and the trail keeps the attempt
    assert list(actions) == ["failed", "success"]


def test_a_paper_phq9_with_item_9_raises_the_safety_alert_as_the_portal_does(
    clinician: tuple[TestClient, str], web_engine: Engine, clinic: factories.Clinic
) -> None:
    client, token = clinician
    pid = clinic.patient.id
    made = client.post(
        f"/clinic/patients/{pid}/questionnaires/paper",
        data={
            "csrf_token": token,
            "instrument": "phq-9",
            "answered_on": factories.today().isoformat(),
            **{f"item-{i}": "0" for i in range(8)},
            "item-8": "1",
        },
    )
    assert made.status_code == 303
    stored = _responses(web_engine, pid)[-1]
    assert "self-harm-risk" in stored.alerts and stored.source == "paper"
    page = client.get(f"/clinic/patients/{pid}").text
    assert "safety alert" in page
    banner = page.split("<main", 1)[1].split('id="h-', 1)[0]
    assert "self-harm" in banner.lower() or "thoughts" in banner.lower()


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"instrument": "nope"}, "instrument: choose one"),
        ({"instrument": "odi", "answered_on": "yesterday"}, "answered_on"),
        ({"instrument": "odi", "answered_on": "2026-11-02"}, "enter the answer to each item"),
        ({"instrument": "odi", "answered_on": "2026-11-02", "total": "ten"}, "not a number"),
        ({"instrument": "odi", "answered_on": "2026-11-02", "total": "140"}, "total"),
        (
            {"instrument": "odi", "answered_on": "2026-11-02", "total": "30", "item-0": "1"},
            "not both",
        ),
        ({"instrument": "odi", "answered_on": "2999-01-01", "total": "30"}, "after today"),
    ],
)
def test_paper_entry_refuses_bad_input_saying_what(
    clinician: tuple[TestClient, str],
    web_engine: Engine,
    clinic: factories.Clinic,
    data: dict[str, str],
    problem: str,
) -> None:
    client, token = clinician
    pid = clinic.patient.id
    before = len(_responses(web_engine, pid))
    answer = client.post(
        f"/clinic/patients/{pid}/questionnaires/paper", data={"csrf_token": token, **data}
    )
    assert answer.status_code == 422 and problem in answer.text
    assert len(_responses(web_engine, pid)) == before


def test_a_paper_total_alone_is_kept_and_says_what_it_cannot_tell(
    clinician: tuple[TestClient, str], web_engine: Engine, clinic: factories.Clinic
) -> None:
    client, token = clinician
    pid = clinic.patient.id
    made = client.post(
        f"/clinic/patients/{pid}/questionnaires/paper",
        data={
            "csrf_token": token,
            "instrument": "phq-9",
            "answered_on": "2026-11-02",
            "total": "12",
        },
    )
    assert made.status_code == 303
    stored = _responses(web_engine, pid)[-1]
    assert (stored.score, stored.answers, stored.source) == (12, [], "paper")
    assert any("item 9" in p for p in stored.problems)  # unknown, never "no"
