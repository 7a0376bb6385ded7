"""The patient portal, server side: due questionnaires, one item per screen, the immediate
safety message, my plan, education pages and the handout."""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import Engine, select

import factories
from secondlook.care.warnings import SiteContacts
from secondlook.instruments import INSTRUMENTS, safety_text
from secondlook.knowledge import default_knowledge
from secondlook.store.models import QuestionnaireResponse
from secondlook.web import portal


def _answer(client: TestClient, token: str, key: str, answers: list[int], value: int) -> str:
    response = client.post(
        f"/portal/questionnaires/{key}",
        data={
            "csrf_token": token,
            "answers": ",".join(map(str, answers)),
            "item": str(len(answers) + 1),
            "answer": str(value),
        },
    )
    assert response.status_code == 200, response.text
    return str(response.text)


def _responses(engine: Engine, patient_id: int, instrument: str) -> list[QuestionnaireResponse]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(QuestionnaireResponse).where(
                QuestionnaireResponse.patient_id == patient_id,
                QuestionnaireResponse.instrument == instrument,
            )
        ).all()
    return list(rows)  # type: ignore[arg-type]


def test_home_lists_due_questionnaires(patient: tuple[TestClient, str]) -> None:
    client, _ = patient
    html = client.get("/portal").text
    for key in ("phq-9", "gad-7", "nrs-pain"):
        assert f'href="/portal/questionnaires/{key}"' in html


def test_one_item_per_screen(patient: tuple[TestClient, str]) -> None:
    client, token = patient
    first = client.get("/portal/questionnaires/gad-7").text
    gad7 = INSTRUMENTS["gad-7"].item_text
    assert gad7 is not None
    assert "Question 1 of 7" in first and gad7.items[0].text in first
    assert first.count('type="radio"') == 4
    second = _answer(client, token, "gad-7", [], 1)
    assert "Question 2 of 7" in second and gad7.items[1].text in second
    assert 'name="answers" value="1"' in second


def test_back_returns_to_the_question_before_with_its_answer_chosen_and_stores_nothing(
    patient: tuple[TestClient, str], web_engine: Engine, clinic: factories.Clinic
) -> None:
    client, token = patient
    before = len(_responses(web_engine, clinic.patient.id, "gad-7"))
    third = _answer(client, token, "gad-7", [2], 3)
    assert "Question 3 of 7" in third and ">Back<" in third
    back = client.post(
        "/portal/questionnaires/gad-7",
        data={"csrf_token": token, "answers": "2,3", "item": "3", "back": "1"},
    )
    assert back.status_code == 200
    assert "Question 2 of 7" in back.text
    assert 'name="answers" value="2"' in back.text
    assert re.search(r'value="3" required checked', back.text)
    # from the first question, Back leaves the questionnaire
    leave = client.post(
        "/portal/questionnaires/gad-7",
        data={"csrf_token": token, "answers": "", "item": "1", "back": "1"},
        follow_redirects=False,
    )
    assert leave.status_code in (302, 303) and leave.headers["location"].endswith("/portal")
    assert len(_responses(web_engine, clinic.patient.id, "gad-7")) == before


def test_the_portal_greets_the_patient_by_name_and_shows_no_clinicians_text(
    patient: tuple[TestClient, str], clinic: factories.Clinic
) -> None:
    client, _ = patient
    html = client.get("/portal").text
    first = clinic.patient.name.split()[0]
    assert f"<h1>Hello, {first}</h1>" in html
    assert clinic.patient.name in html  # in the header, not the account name and role
    assert "(patient)" not in html
    assert "supports clinicians' decisions" not in html


def test_no_answer_asks_again(patient: tuple[TestClient, str]) -> None:
    client, token = patient
    response = client.post(
        "/portal/questionnaires/phq-9", data={"csrf_token": token, "answers": "0,0", "item": "3"}
    )
    assert response.status_code == 422
    assert "Please choose an answer" in response.text and "Question 3 of 9" in response.text


def test_phq9_item9_shows_the_safety_text_and_alerts_the_team(
    patient: tuple[TestClient, str], web_engine: Engine, clinic: factories.Clinic
) -> None:
    client, token = patient
    own = clinic.patient.id
    assert _responses(web_engine, own, "phq-9") == []
    html = _answer(client, token, "phq-9", [0] * 8, 2)
    assert 'role="alert"' in html
    assert safety_text("self-harm-risk").patient in html
    rows = _responses(web_engine, own, "phq-9")
    assert len(rows) == 1
    assert rows[-1].alerts == ["self-harm-risk"]
    assert rows[-1].answers == [0] * 8 + [2]


def test_a_negative_phq9_says_thank_you(patient: tuple[TestClient, str]) -> None:
    client, token = patient
    html = _answer(client, token, "phq-9", [0] * 8, 0)
    assert "Thank you" in html and 'role="alert"' not in html


def test_an_alert_before_the_last_item_is_stored_and_shown_at_once(
    patient: tuple[TestClient, str],
    web_engine: Engine,
    clinic: factories.Clinic,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Any instrument whose alert item is not the last: the answers so far are stored (the
    alert reaches the team), the safety text comes next, then the questionnaire goes on."""
    gad7 = INSTRUMENTS["gad-7"]

    def alert_on_first(answers: tuple[int | None, ...]) -> tuple[str, ...]:
        return ("self-harm-risk",) if answers[0] else ()

    changed = {**INSTRUMENTS, "gad-7": dataclasses.replace(gad7, alert_rule=alert_on_first)}
    monkeypatch.setattr(portal, "INSTRUMENTS", changed)
    client, token = patient
    own = clinic.patient.id
    assert _responses(web_engine, own, "gad-7") == []
    html = _answer(client, token, "gad-7", [], 3)
    assert safety_text("self-harm-risk").patient in html
    assert "Continue the questionnaire" in html
    rows = _responses(web_engine, own, "gad-7")
    assert len(rows) == 1
    assert rows[-1].answers == [3, None, None, None, None, None, None]
    next_item = client.post(
        "/portal/questionnaires/gad-7/continue", data={"csrf_token": token, "answers": "3"}
    ).text
    assert "Question 2 of 7" in next_item


def test_tampered_answers_start_again(patient: tuple[TestClient, str]) -> None:
    client, token = patient
    response = client.post(
        "/portal/questionnaires/phq-9",
        data={"csrf_token": token, "answers": "9,9", "item": "3", "answer": "1"},
    )
    assert response.status_code == 303
    assert client.get("/portal/questionnaires/odi").status_code == 404  # licensed text


def test_my_plan_and_learn_use_the_patient_texts(patient: tuple[TestClient, str]) -> None:
    client, _ = patient
    plan = client.get("/portal/plan").text
    assert "My plan" in plan
    assert re.search(r"<article class=\"card\"><h3>", plan)
    learn = client.get("/portal/learn").text
    for heading in ("What it is", "Causes", "How it is evaluated", "Treatments in your plan"):
        assert heading in learn
    handout = client.get("/portal/handout.pdf")
    assert handout.status_code == 200 and handout.content.startswith(b"%PDF-")


@pytest.fixture
def site_numbers(web_app: FastAPI) -> Iterator[SiteContacts]:
    contacts = SiteContacts(
        emergency="112",
        crisis_lines=("Crisis line 0800 111 0 111, day and night",),
        care_team="Spine center nurses 030 1234 5678",
    )
    before = web_app.state.site_contacts
    web_app.state.site_contacts = contacts
    yield contacts
    web_app.state.site_contacts = before


def test_a_patient_with_an_emergency_red_flag_is_told_first_to_go_to_an_emergency_department(
    patient: tuple[TestClient, str], site_numbers: SiteContacts
) -> None:
    client, _ = patient  # the cauda-equina example, assessed
    for path in ("/portal", "/portal/plan", "/portal/learn"):
        html = client.get(path).text
        main = html[html.index("<main") :]
        first_banner = main.index('class="banner warning-emergency"')
        assert first_banner < main.index("<h1") or path == "/portal", path
        assert "Go to an emergency department now" in html
        assert "the emergency number (112)" in html
    home = client.get("/portal").text
    assert home.index("Go to an emergency department now") < home.index("Questionnaires to fill in")


def test_the_crisis_message_after_item_9_gives_the_sites_numbers(
    patient: tuple[TestClient, str], site_numbers: SiteContacts
) -> None:
    client, token = patient
    html = _answer(client, token, "phq-9", [0] * 8, 2)
    assert "Please read this now" in html
    assert "Crisis line 0800 111 0 111, day and night" in html
    assert "Your care team: Spine center nurses 030 1234 5678." in html
    assert html.index("Please read this now") < html.index("Your answer has been sent")
    # ...and the alert stays before the patient on the start page afterwards
    assert "Crisis line 0800 111 0 111, day and night" in client.get("/portal").text


def test_the_handout_starts_with_what_to_do_now(
    patient: tuple[TestClient, str], site_numbers: SiteContacts
) -> None:
    client, _ = patient
    response = client.get("/portal/handout.pdf")
    assert response.status_code == 200
    text = " ".join(
        " ".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages).split()
    )
    # no plan yet: the handout says the options are the evaluation's, to be talked through
    assert "Your care team has not made a plan with you yet" in text
    emergency = text.index("Go to an emergency department now")
    assert emergency < text.index("Treatments your team may discuss with you")
    assert "the emergency number (112)" in text


def test_the_handout_shows_the_teams_decisions_not_the_engines_suggestions(
    patient: tuple[TestClient, str], web_engine: Engine, clinic: factories.Clinic
) -> None:
    """The team rejected every suggested test: the handout ("the plan your care team made
    with you") lists the treatments it accepted and none of the rejected tests."""
    client, _ = patient
    with factories.committed(web_engine) as session:
        plan = factories.plan(
            session,
            organization_id=clinic.id,
            patient_id=clinic.patient.id,
            accept=lambda item: item.kind == "treatment" and item.recommendation == "consider",
        )
        entries = list(plan.entries)
    kb = default_knowledge()

    def name(entry: dict[str, Any]) -> str:
        kind = "workup" if entry["item"]["kind"] == "workup" else "treatment"
        record = kb.records[f"{kind}:{entry['item']['ref']}"][1]
        return str(record.name)  # type: ignore[attr-defined]  # records are typed as BaseModel

    rejected = [name(e) for e in entries if e["action"] == "reject"]
    accepted = [name(e) for e in entries if e["action"] != "reject"]
    assert rejected and accepted
    response = client.get("/portal/handout.pdf")
    text = " ".join(
        " ".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages).split()
    )
    plan_part = text.split("Treatments in your plan", 1)[1].split("When to get help at once")[0]
    for found in accepted:
        assert found in plan_part, found
    for found in rejected:
        assert found not in plan_part, found
