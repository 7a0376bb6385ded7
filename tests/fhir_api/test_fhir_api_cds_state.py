"""CDS Hooks state in the database, on SQLite and PostgreSQL: replay protection across two
application instances (two workers) sharing one database, the patient link (MRN of the
configured system, demographics, the EHR's patient id remembered), feedback stored with the
card's alert; CORS and the Allow header on /cds-services and /fhir."""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from fastapi.testclient import TestClient
from jwt.algorithms import ECAlgorithm
from sqlalchemy import Engine, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fhir"))
from cds_listeners import Listener, listener
from fhir_support import case_and_assessment

from secondlook.api.app import create_app
from secondlook.fhir import export_bundle, relative_references
from secondlook.fhir.cds_config import load_cds_config
from secondlook.store import db
from secondlook.store.cds_models import CdsCard, CdsFeedback, CdsPatientLink, CdsSeenJti
from secondlook.store.models import AuditEvent, Organization

if TYPE_CHECKING:
    from conftest import World

__all__ = ["listener"]

PUBLIC_BASE = "https://secondlook.hospital.example"
APP_BASE = "https://secondlook.hospital.example/app"
ISSUER = "https://ehr.hospital.example"
OTHER_ISSUER = "https://other-ehr.example"
SERVICE = "/cds-services/secondlook-patient-view"
FEEDBACK = f"{SERVICE}/feedback"
KEY = ec.generate_private_key(ec.SECP384R1())
OTHER_KEY = ec.generate_private_key(ec.SECP384R1())
MRN_SYSTEM = "urn:oid:1.2.840.114350.1.13.0.1.7.5.737384.14"
PAYER_SYSTEM = "https://payer.example/member-id"
SANDBOX = "https://sandbox.cds-hooks.org"
EXAMPLE = "bundled/thoracic-sacroiliac"  # a fracture red flag and two safety alerts


def jwks(key: Any, kid: str) -> dict[str, Any]:
    return {"keys": [{**ECAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": kid}]}


def signed(path: str, *, issuer: str = ISSUER, jti: str | None = None) -> dict[str, str]:
    now = int(time.time())
    key, kid = (KEY, "ehr-1") if issuer == ISSUER else (OTHER_KEY, "other-1")
    payload = {
        "iss": issuer,
        "sub": "ehr-client",
        "aud": PUBLIC_BASE + path,
        "exp": now + 300,
        "iat": now,
        "jti": jti or str(uuid.uuid4()),
    }
    token = jwt.encode(payload, key, algorithm="ES384", headers={"kid": kid})
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Site:
    engine: Engine
    slug: str
    config_path: Path

    def app(self) -> FastAPI:
        config = load_cds_config(self.config_path)
        case, _ = case_and_assessment(EXAMPLE)
        config.settings.today = lambda: case.assessed_on
        return create_app(self.engine, cds=config, cors_origins=(SANDBOX,), base_url=PUBLIC_BASE)


@pytest.fixture
def site(engine: Engine, world: World, tmp_path: Path, listener: Listener) -> Site:
    with db.make_sessionmaker(engine)() as session:
        organization = session.get(Organization, world.alpha)
        assert organization is not None
        slug = organization.slug
    config = {
        "app_base_url": APP_BASE,
        "public_base_url": PUBLIC_BASE,
        "issuers": {ISSUER: jwks(KEY, "ehr-1"), OTHER_ISSUER: jwks(OTHER_KEY, "other-1")},
        "fhir_servers": {ISSUER: [listener.url]},
        "organization": slug,
        "mrn_system": MRN_SYSTEM,
    }
    path = tmp_path / "cds.json"
    path.write_text(json.dumps(config), "utf-8")
    return Site(engine, slug, path)


@pytest.fixture
def client(site: Site) -> Iterator[TestClient]:
    with TestClient(site.app()) as client:
        yield client


def ehr_prefetch(ehr_id: str, patient: dict[str, Any]) -> dict[str, Any]:
    """The example record as prefetch for EHR patient `ehr_id`, with the given Patient fields."""
    case, assessment = case_and_assessment(EXAMPLE)
    resources = relative_references(export_bundle(case, assessment))
    old = next(r for r in resources if r["resourceType"] == "Patient")["id"]
    resources = json.loads(json.dumps(resources).replace(f"Patient/{old}", f"Patient/{ehr_id}"))
    prefetch: dict[str, Any] = {}
    for resource in resources:
        if resource["resourceType"] == "Patient":
            prefetch["patient"] = {**resource, "id": ehr_id, **patient}
    kinds = {
        "procedures": "Procedure",
        "conditions": "Condition",
        "observations": "Observation",
        "questionnaireResponses": "QuestionnaireResponse",
        "diagnosticReports": "DiagnosticReport",
        "medicationStatements": "MedicationStatement",
        "medicationRequests": "MedicationRequest",
        "goals": "Goal",
    }
    for key, kind in kinds.items():
        found = [
            r
            for r in resources
            if r["resourceType"] == kind
            and (r.get("subject") or r.get("patient") or {}).get("reference") == f"Patient/{ehr_id}"
        ]
        prefetch[key] = (
            {
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [{"resource": r} for r in found],
            }
            if found
            else None
        )
    return prefetch


def call(client: TestClient, ehr_id: str, patient: dict[str, Any], **more: Any) -> Any:
    body = {
        "hookInstance": str(uuid.uuid4()),
        "hook": "patient-view",
        "context": {"userId": "Practitioner/1", "patientId": ehr_id},
        "prefetch": ehr_prefetch(ehr_id, patient),
    }
    response = client.post(SERVICE, json=body, headers=signed(SERVICE, **more))
    assert response.status_code == 200, response.text
    return response.json()["cards"]


def new_patient(
    client: TestClient, world: World, mrn: str, name: str, birth_date: str | None = None
) -> int:
    made = client.post(
        "/api/v1/patients",
        json={"name": name, "mrn": mrn, **({"birth_date": birth_date} if birth_date else {})},
        headers=world.auth("clinician"),
    )
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def link_of(cards: list[dict[str, Any]]) -> str:
    urls = {link["url"] for card in cards for link in card["links"]}
    assert len(urls) == 1
    return str(urls.pop())


def ehr_id() -> str:
    return f"ehr-{uuid.uuid4().hex[:12]}"


# -- replay protection across workers -------------------------------------------------------------


def test_a_token_accepted_by_one_worker_is_refused_by_another(site: Site) -> None:
    auth = signed("/cds-services")
    with TestClient(site.app()) as first, TestClient(site.app()) as second:
        assert first.get("/cds-services", headers=auth).status_code == 200
        again = second.get("/cds-services", headers=auth)
    assert again.status_code == 401
    assert again.json()["reason"] == "replayed"


def test_two_workers_receiving_one_token_at_once_accept_it_once(site: Site) -> None:
    auth = signed("/cds-services")
    apps = [site.app() for _ in range(4)]
    statuses: list[int] = []
    barrier = threading.Barrier(len(apps))

    def attempt(app: FastAPI) -> None:
        with TestClient(app) as client:
            barrier.wait()
            statuses.append(client.get("/cds-services", headers=auth).status_code)

    threads = [threading.Thread(target=attempt, args=(app,)) for app in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 401, 401, 401]


def test_seen_token_ids_are_kept_until_they_expire(site: Site, client: TestClient) -> None:
    jti = f"jti-{uuid.uuid4()}"
    assert client.get("/cds-services", headers=signed("/cds-services", jti=jti)).status_code == 200
    with db.make_sessionmaker(site.engine)() as session:
        row = session.scalars(select(CdsSeenJti).where(CdsSeenJti.jti == jti)).one()
        assert row.issuer == ISSUER
        assert row.expires_at.timestamp() > time.time() + 250  # exp (+ skew)
    # the same id from another issuer is another token
    other = client.get(
        "/cds-services", headers=signed("/cds-services", issuer=OTHER_ISSUER, jti=jti)
    )
    assert other.status_code == 200


# -- linking the EHR patient ----------------------------------------------------------------------


def test_a_payer_member_id_equal_to_an_mrn_does_not_link_that_patient(
    client: TestClient, world: World
) -> None:
    mrn = f"M{uuid.uuid4().hex[:8]}"
    new_patient(client, world, mrn, "Other Person", "1950-01-01")
    patient = {
        "name": [{"family": "Other", "given": ["Person"]}],
        "identifier": [{"system": PAYER_SYSTEM, "value": mrn}],  # the same value, not an MRN
    }
    assert link_of(call(client, ehr_id(), patient)) == f"{APP_BASE}/"


def test_the_mrn_of_the_configured_system_with_agreeing_demographics_links(
    client: TestClient, world: World, site: Site
) -> None:
    mrn = f"M{uuid.uuid4().hex[:8]}"
    patient_id = new_patient(client, world, mrn, "Dana Q. Example", "1958-04-02")
    ehr = ehr_id()
    patient = {
        "name": [{"family": "Example", "given": ["Dana"]}],
        "birthDate": "1958-04-02",
        "identifier": [
            {"system": PAYER_SYSTEM, "value": "someone-else"},
            {"system": MRN_SYSTEM, "value": mrn},
        ],
    }
    assert link_of(call(client, ehr, patient)) == f"{APP_BASE}/patients/{patient_id}"
    with db.make_sessionmaker(site.engine)() as session:
        stored = session.scalars(
            select(CdsPatientLink).where(CdsPatientLink.ehr_patient_id == ehr)
        ).one()
        assert (stored.issuer, stored.patient_id) == (ISSUER, patient_id)
    # The EHR's patient id is remembered: a later call without the MRN still links.
    again = {"name": patient["name"], "birthDate": "1958-04-02"}
    assert link_of(call(client, ehr, again)) == f"{APP_BASE}/patients/{patient_id}"
    # ... but never when the demographics then contradict it.
    contradicted = {"name": patient["name"], "birthDate": "1990-01-01"}
    assert link_of(call(client, ehr, contradicted)) == f"{APP_BASE}/"
    # Each look at the SecondLook patient is on the audit trail, under the EHR as client.
    with db.make_sessionmaker(site.engine)() as session:
        trail = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "cds.patient-link", AuditEvent.patient_id == patient_id)
            .order_by(AuditEvent.id)
        ).all()
    assert [(e.outcome, e.client) for e in trail] == [
        ("success", ISSUER),
        ("success", ISSUER),
        ("denied", ISSUER),
    ]


@pytest.mark.parametrize(
    "patient",
    [
        {"name": [{"family": "Somebody"}], "birthDate": "1958-04-02"},  # name differs
        {"name": [{"family": "Example"}], "birthDate": "1961-01-01"},  # birth date differs
        {},  # nothing to compare: an MRN alone is not enough
    ],
    ids=["name-differs", "birth-date-differs", "no-demographics"],
)
def test_an_mrn_match_with_other_demographics_does_not_link(
    client: TestClient, world: World, patient: dict[str, Any]
) -> None:
    mrn = f"M{uuid.uuid4().hex[:8]}"
    new_patient(client, world, mrn, "Dana Example", "1958-04-02")
    found = {**patient, "identifier": [{"system": MRN_SYSTEM, "value": mrn}]}
    assert link_of(call(client, ehr_id(), found)) == f"{APP_BASE}/"


# -- feedback tied to the card and its alert ------------------------------------------------------


def test_feedback_is_stored_with_the_card_s_alert(client: TestClient, site: Site) -> None:
    cards = call(client, ehr_id(), {})
    flag = next(c for c in cards if c["indicator"] == "critical")
    alert = next(c for c in cards if c["indicator"] == "warning" and "Safety" in c["summary"])
    feedback = {
        "feedback": [
            {
                "card": flag["uuid"],
                "outcome": "accepted",
                "outcomeTimestamp": "2026-11-21T10:00:00Z",
            },
            {
                "card": alert["uuid"],
                "outcome": "overridden",
                "overrideReason": {"reason": {"code": "patient-safety-plan-in-place"}},
                "outcomeTimestamp": "2026-11-21T10:01:00Z",
            },
        ]
    }
    response = client.post(FEEDBACK, json=feedback, headers=signed(FEEDBACK))
    assert response.status_code == 200, response.text
    with db.make_sessionmaker(site.engine)() as session:
        rows = session.scalars(
            select(CdsFeedback).where(CdsFeedback.card_uuid.in_([flag["uuid"], alert["uuid"]]))
        ).all()
        by_card = {row.card_uuid: row for row in rows}
        assert by_card[flag["uuid"]].alert_id == "fracture"
        assert by_card[flag["uuid"]].outcome == "accepted"
        assert by_card[alert["uuid"]].alert_id in ("self-harm-risk", "opioid-overdose-risk")
        assert by_card[alert["uuid"]].override_reason == {
            "reason": {"code": "patient-safety-plan-in-place"}
        }
        card = session.scalars(select(CdsCard).where(CdsCard.uuid == flag["uuid"])).one()
        assert (card.kind, card.alert_id, card.issuer) == ("red-flag", "fracture", ISSUER)


def test_feedback_on_a_card_never_returned_to_that_issuer_is_refused(
    client: TestClient, site: Site
) -> None:
    cards = call(client, ehr_id(), {})
    item = {"card": cards[0]["uuid"], "outcome": "accepted"}
    other = client.post(
        FEEDBACK, json={"feedback": [item]}, headers=signed(FEEDBACK, issuer=OTHER_ISSUER)
    )
    assert other.status_code == 400
    unknown = client.post(
        FEEDBACK,
        json={"feedback": [{"card": str(uuid.uuid4()), "outcome": "accepted"}]},
        headers=signed(FEEDBACK),
    )
    assert unknown.status_code == 400
    with db.make_sessionmaker(site.engine)() as session:
        assert not session.scalars(
            select(CdsFeedback).where(CdsFeedback.card_uuid == cards[0]["uuid"])
        ).all()


# -- CORS and Allow -------------------------------------------------------------------------------


def test_the_cds_hooks_sandbox_origin_may_call_from_a_browser(client: TestClient) -> None:
    preflight = client.options(
        SERVICE,
        headers={
            "Origin": SANDBOX,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == SANDBOX
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in preflight.headers
    discovery = client.get("/cds-services", headers={"Origin": SANDBOX, **signed("/cds-services")})
    assert discovery.headers["access-control-allow-origin"] == SANDBOX
    refused = client.get("/cds-services", headers={"Origin": SANDBOX})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == SANDBOX  # the browser can read why
    fhir = client.get("/fhir/metadata", headers={"Origin": SANDBOX})
    assert fhir.headers["access-control-allow-origin"] == SANDBOX
    assert fhir.json()["rest"][0]["security"]["cors"] is True


def test_other_origins_get_no_cors_headers(client: TestClient) -> None:
    preflight = client.options(
        SERVICE,
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    page = client.get("/api/v1/patients", headers={"Origin": SANDBOX})
    assert "access-control-allow-origin" not in page.headers  # only /fhir and /cds-services


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/cds-services", "GET, HEAD"),
        ("GET", SERVICE, "POST"),
        ("DELETE", FEEDBACK, "POST"),
        ("DELETE", "/fhir/Patient/1", "GET, HEAD"),
        ("PUT", "/fhir/metadata", "GET, HEAD"),
        ("DELETE", "/fhir/Patient/_search", "GET, HEAD, POST"),
    ],
)
def test_a_405_lists_the_allowed_methods(
    client: TestClient, method: str, path: str, allow: str
) -> None:
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
