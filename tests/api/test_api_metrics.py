"""/metrics on SQLite and PostgreSQL: off without SECONDLOOK_METRICS_TOKEN, a bearer token
otherwise; request counts by route template (no patient id, MRN or searched term in any label)
that move with the requests; unresolved alerts by severity and the outbox backlog as the
database holds them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, func, select

from secondlook.api.app import create_app
from secondlook.examples import load_example
from secondlook.store import db
from secondlook.store.alert_models import Alert

if TYPE_CHECKING:
    from conftest import World

TOKEN = "metrics-token-for-the-tests-0123456789"
SCRAPE = {"Authorization": f"Bearer {TOKEN}"}
PHQ9_ITEM9_TWO = [1, 1, 1, 1, 1, 1, 1, 1, 2]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def requests_of(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], route: str) -> float:
    return sum(
        value
        for (name, labels), value in found.items()
        if name == "secondlook_http_requests_total" and ("route", route) in labels
    )


@pytest.fixture
def metered(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("SECONDLOOK_METRICS_TOKEN", TOKEN)
    return TestClient(create_app(engine))


def test_metrics_are_off_without_a_token_and_need_it_when_set(
    client: TestClient, metered: TestClient
) -> None:
    off = client.get("/metrics")
    assert off.status_code == 404, off.text
    assert "secondlook_" not in off.text
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        refused = metered.get("/metrics", headers=headers)
        assert refused.status_code == 401, refused.text
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert "secondlook_http" not in refused.text
    scraped = metered.get("/metrics", headers=SCRAPE)
    assert scraped.status_code == 200, scraped.text
    assert scraped.headers["content-type"].startswith("text/plain")
    assert "secondlook_http_request_duration_seconds_bucket" in scraped.text


def test_requests_are_counted_by_route_template_without_ids_or_mrns(
    metered: TestClient, world: World
) -> None:
    before = samples(metered.get("/metrics", headers=SCRAPE).text)
    mrn = "MRN-METRICS-4711"
    patient = world.patient_one
    for _ in range(3):
        read = metered.get(f"/api/v1/patients/{patient}", headers=world.auth("clinician"))
        assert read.status_code == 200, read.text
    metered.get(f"/fhir/Patient?identifier={mrn}", headers=world.auth("clinician"))
    metered.get(f"/api/v1/patients/{world.beta_patient}", headers=world.auth("clinician"))  # 404
    metered.get(f"/no-such-page/{mrn}")
    metered.post(f"/api/v1/patients/{patient}/assessments", content=b"x" * (3 * 1024 * 1024))
    after_text = metered.get("/metrics", headers=SCRAPE).text
    after = samples(after_text)

    route = "/api/v1/patients/{patient_id}"
    assert requests_of(after, route) - requests_of(before, route) == 4
    ok = (
        "secondlook_http_requests_total",
        (("method", "GET"), ("route", route), ("status", "200")),
    )
    assert after[ok] - before.get(ok, 0) == 3
    assert (
        requests_of(after, "/fhir/{resource_type}") - requests_of(before, "/fhir/{resource_type}")
        == 1
    )
    assert requests_of(after, "unmatched") - requests_of(before, "unmatched") == 1
    # Refused before routing (413, the body is too large) and still counted under its route.
    too_large = (
        "secondlook_http_requests_total",
        (
            ("method", "POST"),
            ("route", "/api/v1/patients/{patient_id}/assessments"),
            ("status", "413"),
        ),
    )
    assert after[too_large] - before.get(too_large, 0) == 1
    latency = (
        "secondlook_http_request_duration_seconds_count",
        (("method", "GET"), ("route", route)),
    )
    assert after[latency] - before.get(latency, 0) == 4

    templates = {str(c.path_format) for c in iter_route_contexts(metered.app.routes)}  # type: ignore[attr-defined]
    assert route in templates
    for name, labels in after:
        values = dict(labels)
        if "route" in values:
            assert values["route"] in templates | {"unmatched"}, (name, values)
        for value in values.values():
            assert mrn not in value and f"/{patient}" not in value, (name, values)
    assert mrn not in after_text


def unresolved_in_database(engine: Engine) -> dict[str, float]:
    with db.make_sessionmaker(engine)() as session:
        rows = session.execute(
            select(Alert.severity, Alert.status, func.count())
            .where(Alert.status.in_(["open", "acknowledged"]))
            .group_by(Alert.severity, Alert.status)
        ).all()
    return {f"{severity}/{status}": float(count) for severity, status, count in rows}


def alerts_gauge(metered: TestClient) -> dict[str, float]:
    found = samples(metered.get("/metrics", headers=SCRAPE).text)
    return {
        f"{dict(labels)['severity']}/{dict(labels)['status']}": value
        for (name, labels), value in found.items()
        if name == "secondlook_alerts_unresolved" and value
    }


def test_the_alerts_gauge_matches_the_database_and_the_outbox_is_shown(
    metered: TestClient, world: World, engine: Engine
) -> None:
    before = alerts_gauge(metered)
    assert before == unresolved_in_database(engine)
    made = metered.post(
        "/api/v1/patients", json={"name": "Metrics Patient"}, headers=world.auth("clinician")
    )
    assert made.status_code == 201, made.text
    patient_id = made.json()["id"]
    answered = metered.post(
        f"/api/v1/patients/{patient_id}/questionnaires",
        json={"instrument": "phq-9", "answers": PHQ9_ITEM9_TWO},
        headers=world.auth("clinician"),
    )
    assert answered.status_code == 201, answered.text
    case = metered.put(
        f"/api/v1/patients/{patient_id}/case",
        json=load_example("cauda-equina"),
        headers={**world.auth("clinician"), "If-None-Match": "*"},
    )
    assert case.status_code == 201, case.text
    assessed = metered.post(
        f"/api/v1/patients/{patient_id}/assessments", headers=world.auth("clinician")
    )
    assert assessed.status_code == 201, assessed.text
    after = alerts_gauge(metered)
    assert after == unresolved_in_database(engine)
    assert after.get("safety/open", 0) == before.get("safety/open", 0) + 1
    assert after.get("emergency/open", 0) > before.get("emergency/open", 0)

    found = samples(metered.get("/metrics", headers=SCRAPE).text)
    for status in ("pending", "sending", "failed"):
        assert ("secondlook_outbox_messages", (("status", status),)) in found
    # Every severity has its series, zero or not, so a dashboard never loses one.
    for severity in ("emergency", "urgent", "safety"):
        key = ("secondlook_alerts_unresolved", (("severity", severity), ("status", "open")))
        assert key in found
