"""Red flags and safety alerts are never lost: every output path carries every one of them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from secondlook.case import parse_case
from secondlook.engine import assess
from secondlook.examples import example_names, load_example
from secondlook.instruments import load_site_safety_texts
from secondlook.reports.text import render_markdown, render_text

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "examples"


def all_cases() -> list[tuple[str, dict[str, Any]]]:
    cases = [(name, load_example(name)) for name in example_names()]
    cases += [(p.stem, json.loads(p.read_text())["case"]) for p in sorted(SHARED.glob("*.json"))]
    return cases


CASES = all_cases()


def test_the_examples_raise_every_kind_of_flag_somewhere() -> None:
    raised = {f["id"] for _, doc in CASES for f in assess(parse_case(doc))["red_flags"]}
    assert {"cauda-equina", "infection", "fracture"} <= raised


@pytest.mark.parametrize(("name", "doc"), CASES, ids=[n for n, _ in CASES])
def test_reports_show_every_red_flag_and_alert(name: str, doc: dict[str, Any]) -> None:
    a = assess(parse_case(doc))
    text, markdown = render_text(a), render_markdown(a)
    for item in [*a["red_flags"], *a["safety_alerts"]]:
        assert item["name"] in text
        assert item["name"] in markdown
        assert item["action"] in text
    if a["red_flags"]:
        # before anything else in the report
        assert text.index(a["red_flags"][0]["name"]) < text.index("CLASSIFICATION")


def test_jsonl_batch_carries_every_flag() -> None:
    lines = "".join(json.dumps(doc) + "\n" for _, doc in CASES)
    result = subprocess.run(
        [sys.executable, "-m", "secondlook.cli", "assess", "-", "--jsonl"],
        input=lines,
        capture_output=True,
        text=True,
        check=True,
    )
    out = [json.loads(line) for line in result.stdout.splitlines()]
    expected = [assess(parse_case(doc)) for _, doc in CASES]
    assert [o["red_flags"] for o in out] == [e["red_flags"] for e in expected]
    assert [o["safety_alerts"] for o in out] == [e["safety_alerts"] for e in expected]


def test_site_wording_changes_the_text_never_the_alert(tmp_path: Path) -> None:
    path = tmp_path / "texts.yaml"
    path.write_text(
        "self-harm-risk:\n"
        "  clinician: Call the on-call psychiatrist on extension 4444 today.\n"
        "  patient: Please call our nurse line 0800 000 000 today.\n"
    )
    texts = load_site_safety_texts(path)
    case = parse_case(load_example("thoracic-sacroiliac"))
    alerts = {a["id"]: a for a in assess(case, safety_texts=texts)["safety_alerts"]}
    assert alerts["self-harm-risk"]["action"].startswith("Call the on-call psychiatrist")
    assert alerts["self-harm-risk"]["patient_message"].startswith("Please call our nurse line")
    default = {a["id"] for a in assess(case)["safety_alerts"]}
    assert set(alerts) == default


def test_self_harm_alert_fires_whatever_the_total() -> None:
    doc = load_example("recurrent-disc")
    doc["questionnaires"] = [
        {"instrument": "phq-9", "date": "2026-03-02", "answers": [0, 0, 0, 0, 0, 0, 0, 0, 1]}
    ]
    a = assess(parse_case(doc))
    assert [s["id"] for s in a["safety_alerts"]] == ["self-harm-risk"]
    assert a["scores"][0]["band"] == "minimal"


def test_self_harm_alert_fires_even_when_the_total_cannot_be_scored() -> None:
    doc = load_example("recurrent-disc")
    answers: list[int | None] = [None, None, None, 0, 0, 0, 0, 0, 2]
    doc["questionnaires"] = [{"instrument": "phq-9", "date": "2026-03-02", "answers": answers}]
    a = assess(parse_case(doc))
    assert "self-harm-risk" in [s["id"] for s in a["safety_alerts"]]


@pytest.mark.parametrize(("name", "doc"), CASES, ids=[c[0] for c in CASES])
def test_patients_are_told_what_to_do_for_every_red_flag_and_alert(
    name: str, doc: dict[str, Any]
) -> None:
    """The patient's instructions (portal and handout) name every red flag and safety alert
    the assessment raised, emergencies first."""
    from secondlook.care.warnings import SiteContacts, patient_warnings
    from secondlook.knowledge import default_knowledge

    result = assess(parse_case(doc))
    warnings = patient_warnings(
        red_flags=result["red_flags"],
        alert_ids=[a["id"] for a in result["safety_alerts"]],
        knowledge=default_knowledge(),
        contacts=SiteContacts(),
    )
    told = {source for w in warnings for source in w.sources}
    assert told == {f["id"] for f in result["red_flags"]} | {
        a["id"] for a in result["safety_alerts"]
    }
    levels = [w.level for w in warnings]
    assert levels == sorted(levels, key=["emergency", "urgent", "safety"].index)
    emergencies = {f["id"] for f in result["red_flags"] if f["urgency"] == "emergency"}
    if emergencies:
        assert warnings[0].level == "emergency" and set(warnings[0].sources) == emergencies


@pytest.mark.parametrize("permanent", [False, True])
def test_a_staff_alert_notification_is_never_given_up(permanent: bool) -> None:
    """An alert's message is retried whatever the relay or webhook answers and however often
    (tests/notify has the end-to-end runs: refusals, a killed worker, two workers)."""
    import datetime as dt

    from secondlook.services.delivery import LONGEST_WAIT, Outgoing, retry_at

    now = dt.datetime(2026, 12, 2, tzinfo=dt.UTC)
    for attempts in (1, 8, 50, 10_000):
        alert = Outgoing(
            id=1,
            organization_id=1,
            patient_id=None,
            kind="alert",
            channel="email",
            recipient="oncall@example.org",
            subject="s",
            body="b",
            idempotency_key="alert:1/0/oncall@example.org",
            attempts=attempts,
            created_at=now,
        )
        when = retry_at(alert, now, permanent=permanent)
        assert when is not None and now < when <= now + LONGEST_WAIT


# -- the alert inbox and the patient page (on SQLite and PostgreSQL) ------------------------------


def _stored_and_shown(engine: Any, app: Any, doc: dict[str, Any]) -> tuple[Any, ...]:
    """Store the case, assess it as the API does, and read the inbox (API and page) and the
    patient page as a clinician of its organization."""
    from html import escape

    from fastapi.testclient import TestClient

    import factories

    with factories.committed(engine) as session:
        org = factories.organization(session)
        patient = factories.patient(session, organization_id=org.id, document=doc, assessed=True)
        clinician = factories.user(session, organization_id=org.id, role="clinician")
        assessment = factories.latest_assessment(
            session, organization_id=org.id, patient_id=patient.id
        ).document
    with TestClient(app) as client:
        listed = client.get(
            "/api/v1/alerts", headers={"Authorization": f"Bearer {clinician.token}"}
        )
        assert listed.status_code == 200, listed.text
        factories.signed_in(client, clinician)
        home = client.get("/clinic/patients").text.split('id="h-inbox"', 1)[1]
        home = home.split("</section>", 1)[0]
        page = client.get(f"/clinic/patients/{patient.id}").text
        page = page.split('id="h-alerts"', 1)[1].split("</section>", 1)[0]
    return assessment, listed.json()["items"], home, page, escape, patient


@pytest.mark.parametrize(("name", "doc"), CASES, ids=[n for n, _ in CASES])
def test_the_inbox_and_the_patient_page_carry_every_red_flag_and_alert(
    engine: Any, app: Any, name: str, doc: dict[str, Any]
) -> None:
    a, items, home, page, escape, patient = _stored_and_shown(engine, app, doc)
    expected = {f"red-flag:{f['id']}": f for f in a["red_flags"]}
    expected |= {f"safety:{s['id']}": s for s in a["safety_alerts"]}
    mine = [i for i in items if i["patient_id"] == patient.id]
    assert {i["condition_key"] for i in mine} == set(expected)
    for item in mine:
        raised = expected[item["condition_key"]]
        assert item["name"] == raised["name"]
        assert item["events"][0]["facts"]["because"] == raised["because"]
        if item["condition_key"].startswith("red-flag:"):
            assert item["severity"] == raised["urgency"]
        assert escape(raised["name"]) in home
        assert escape(raised["name"]) in page
    # Most urgent first: no emergency after an urgent, no urgent after a safety alert.
    order = [("emergency", "urgent", "safety").index(i["severity"]) for i in items]
    assert order == sorted(order)


def test_a_self_harm_answer_reaches_the_inbox_and_the_page_at_every_answer_above_0(
    engine: Any, app: Any
) -> None:
    from fastapi.testclient import TestClient

    import factories

    for answer in (1, 2, 3):
        with factories.committed(engine) as session:
            org = factories.organization(session)
            patient = factories.patient(session, organization_id=org.id, example=None)
            clinician = factories.user(session, organization_id=org.id, role="clinician")
            factories.questionnaire_response(
                session,
                organization_id=org.id,
                patient_id=patient.id,
                instrument="phq-9",
                answers=[0] * 8 + [answer],
            )
        with TestClient(app) as client:
            factories.signed_in(client, clinician)
            home = client.get("/clinic/patients").text.split('id="h-inbox"', 1)[1]
            page = client.get(f"/clinic/patients/{patient.id}").text
        assert "Thoughts of self-harm" in home.split("</section>", 1)[0], answer
        assert "Thoughts of self-harm" in page.split('id="h-alerts"', 1)[1], answer
