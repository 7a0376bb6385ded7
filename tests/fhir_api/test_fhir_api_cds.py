"""CDS Hooks mounted in the application: configured from a file (real ES384 JWTs, the CDS Hooks
2.0 example request, cards linking to the SecondLook patient, replay protection across
requests) and unconfigured (discovery answers, calls are 401 "CDS Hooks not configured")."""

from __future__ import annotations

import copy
import json
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt
import pytest
import typer
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from jwt.algorithms import ECAlgorithm
from sqlalchemy import Engine
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fhir"))
from fhir_support import FhirStub, case_and_assessment, fhir_stub

from secondlook.api.app import app_from_environment, create_app
from secondlook.commands.server import register
from secondlook.fhir import export_bundle, relative_references
from secondlook.fhir.cds_config import CdsConfigInvalid, load_cds_config, parse_cds_config
from secondlook.store import db
from secondlook.store.models import Organization

if TYPE_CHECKING:
    from conftest import World

__all__ = ["fhir_stub"]

PUBLIC_BASE = "https://secondlook.hospital.example"
APP_BASE = "https://secondlook.hospital.example/app"
ISSUER = "https://ehr.hospital.example"
SERVICE = "/cds-services/secondlook-patient-view"
KEY = ec.generate_private_key(ec.SECP384R1())
JWKS = {
    "keys": [{**ECAlgorithm.to_jwk(KEY.public_key(), as_dict=True), "kid": "ehr-1", "use": "sig"}]
}
EXAMPLE = "thoracic-sacroiliac"  # a red flag and two safety alerts

#: The patient-view request example of the CDS Hooks 2.0 specification ("Calling a CDS
#: Service", Example), as published; the tests point fhirServer and the access token at a real
#: FHIR server on the loopback.
SPEC_REQUEST: dict[str, Any] = {
    "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
    "fhirServer": "http://hooks.smarthealthit.org:9080",
    "hook": "patient-view",
    "fhirAuthorization": {
        "access_token": "some-opaque-fhir-access-token",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/Patient.read patient/Observation.read",
        "subject": "cds-service4",
    },
    "context": {"userId": "Practitioner/example", "patientId": "1288992", "encounterId": "89284"},
    "prefetch": {
        "patientToGreet": {
            "resourceType": "Patient",
            "gender": "male",
            "birthDate": "1925-12-23",
            "id": "1288992",
            "active": True,
        }
    },
}


def signed(path: str, **claims: Any) -> dict[str, str]:
    """An Authorization header with an ES384 JWT for the endpoint at `path`."""
    now = int(time.time())
    payload = {
        "iss": ISSUER,
        "sub": "ehr-client",
        "aud": PUBLIC_BASE + path,
        "exp": now + 300,
        "iat": now,
        "jti": str(uuid.uuid4()),
        **claims,
    }
    token = jwt.encode(payload, KEY, algorithm="ES384", headers={"kid": "ehr-1", "typ": "JWT"})
    return {"Authorization": f"Bearer {token}"}


def write_config(directory: Path, **more: Any) -> Path:
    (directory / "ehr-jwks.json").write_text(json.dumps(JWKS), "utf-8")
    config = {
        "app_base_url": APP_BASE,
        "public_base_url": PUBLIC_BASE,
        "issuers": {ISSUER: "ehr-jwks.json"},
        "max_age_seconds": 300,
        **more,
    }
    path = directory / "cds.json"
    path.write_text(json.dumps(config), "utf-8")
    return path


@dataclass
class Configured:
    client: TestClient
    mrn: str
    patient_id: int  # the SecondLook patient with that MRN


MRN_SYSTEM = "urn:oid:1.2.3.4"


@pytest.fixture
def configured(
    engine: Engine, world: World, tmp_path: Path, client: TestClient, fhir_stub: FhirStub
) -> Iterator[Configured]:
    with db.make_sessionmaker(engine)() as session:
        organization = session.get(Organization, world.alpha)
        assert organization is not None
        slug = organization.slug
    config = load_cds_config(
        write_config(
            tmp_path,
            organization=slug,
            mrn_system=MRN_SYSTEM,
            fhir_servers={ISSUER: [fhir_stub.url]},
        )
    )
    case, _ = case_and_assessment(f"bundled/{EXAMPLE}")
    config.settings.today = lambda: case.assessed_on
    mrn = f"EHR-{uuid.uuid4().hex[:10]}"
    made = client.post(
        "/api/v1/patients",
        json={"name": "From the EHR", "mrn": mrn},
        headers=world.auth("clinician"),
    )
    assert made.status_code == 201, made.text
    with TestClient(create_app(engine, cds=config)) as configured_client:
        yield Configured(configured_client, mrn, int(made.json()["id"]))


def ehr_resources(mrn: str | None, ehr_id: str = "1288992") -> list[dict[str, Any]]:
    """The example case as the EHR's FHIR server holds it, for patient `ehr_id` (by default
    the spec's 1288992)."""
    case, assessment = case_and_assessment(f"bundled/{EXAMPLE}")
    resources = relative_references(export_bundle(case, assessment))
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    text = json.dumps(resources).replace(f"Patient/{patient['id']}", f"Patient/{ehr_id}")
    found: list[dict[str, Any]] = json.loads(text)
    for resource in found:
        if resource["resourceType"] == "Patient":
            resource["id"] = ehr_id
            resource["name"] = [{"family": "Ehr", "given": ["From"]}]  # "From the EHR"
            if mrn:
                resource["identifier"] = [{"system": MRN_SYSTEM, "value": mrn}]
    return found


def spec_request(stub: FhirStub, ehr_id: str = "1288992") -> dict[str, Any]:
    body = copy.deepcopy(SPEC_REQUEST)
    body["context"]["patientId"] = ehr_id
    body["fhirServer"] = stub.url
    body["fhirAuthorization"]["access_token"] = stub.token
    return body


@pytest.fixture
def ehr(fhir_stub: FhirStub) -> Iterator[FhirStub]:
    previous = fhir_stub.resources
    yield fhir_stub
    fhir_stub.resources = previous


def test_the_spec_example_request_gets_cards_linking_to_the_secondlook_patient(
    configured: Configured, ehr: FhirStub
) -> None:
    ehr.resources = ehr_resources(configured.mrn)
    response = configured.client.post(SERVICE, json=spec_request(ehr), headers=signed(SERVICE))
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    _, assessment = case_and_assessment(f"bundled/{EXAMPLE}")
    indicators = [card["indicator"] for card in cards]
    assert indicators == (
        ["critical"] * len(assessment["red_flags"])
        + ["warning"] * len(assessment["safety_alerts"])
        + ["info"]
    )
    assert "fracture" in cards[0]["summary"].lower()
    for card in cards:
        assert card["links"] == [
            {
                "label": "Open in SecondLook",
                "url": f"{APP_BASE}/patients/{configured.patient_id}",
                "type": "absolute",
            }
        ]
    # the EHR's FHIR server was read with the access token the request gave
    assert (
        "/Patient/1288992",
        f"Bearer {ehr.token}",
    ) in ehr.requests


def test_without_a_secondlook_patient_for_the_mrn_the_link_is_the_start_page(
    configured: Configured, ehr: FhirStub
) -> None:
    ehr_id = f"ehr-{uuid.uuid4().hex[:12]}"  # an EHR patient never linked before
    ehr.resources = ehr_resources(mrn=None, ehr_id=ehr_id)
    response = configured.client.post(
        SERVICE, json=spec_request(ehr, ehr_id), headers=signed(SERVICE)
    )
    assert response.status_code == 200, response.text
    for card in response.json()["cards"]:
        (link,) = card["links"]
        assert link["url"] == f"{APP_BASE}/"  # never a guessed /patients/{ehr_id}


def test_a_replayed_token_is_refused_on_a_later_request(configured: Configured) -> None:
    auth = signed("/cds-services")
    first = configured.client.get("/cds-services", headers=auth)
    assert first.status_code == 200, first.text
    assert first.json()["services"][0]["id"] == "secondlook-patient-view"
    again = configured.client.get("/cds-services", headers=auth)
    assert again.status_code == 401
    assert again.json()["reason"] == "replayed"


def test_a_configured_service_refuses_calls_without_a_valid_jwt(
    configured: Configured, ehr: FhirStub
) -> None:
    assert configured.client.get("/cds-services").json()["reason"] == "missing-token"
    wrong_audience = configured.client.post(
        SERVICE, json=spec_request(ehr), headers=signed("/cds-services")
    )
    assert wrong_audience.status_code == 401
    assert wrong_audience.json()["reason"] == "wrong-audience"
    hmac = jwt.encode(
        {"iss": ISSUER, "aud": PUBLIC_BASE + SERVICE, "exp": time.time() + 60, "jti": "x"},
        "secret-key-of-32-bytes-or-longer!!",
        algorithm="HS384",
    )
    refused = configured.client.post(
        SERVICE, json=spec_request(ehr), headers={"Authorization": f"Bearer {hmac}"}
    )
    assert refused.json()["reason"] == "algorithm-not-allowed"


def test_unconfigured_discovery_answers_and_every_call_is_401_not_configured(
    client: TestClient,
) -> None:
    discovery = client.get("/cds-services")
    assert discovery.status_code == 200
    (service,) = discovery.json()["services"]
    assert (service["id"], service["hook"]) == ("secondlook-patient-view", "patient-view")
    for url in (SERVICE, f"{SERVICE}/feedback"):
        response = client.post(url, json=SPEC_REQUEST, headers=signed(url))
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"].startswith("Bearer")
        body = response.json()
        assert body["title"] == "CDS Hooks not configured"
        assert body["reason"] == "not-configured"


# -- configuration ------------------------------------------------------------------------------


def test_the_configuration_file_is_checked_and_names_every_problem(tmp_path: Path) -> None:
    with pytest.raises(CdsConfigInvalid) as raised:
        parse_cds_config(
            {
                "app_base_url": "secondlook",
                "issuers": {ISSUER: {"keys": []}, "https://jku.example": None},
                "colour": "blue",
                "max_age_seconds": 0,
            }
        )
    text = str(raised.value)
    for expected in (
        "unknown keys ['colour']",
        "app_base_url must be an http(s) URL",
        f"issuers[{ISSUER!r}] must be a JWKS",
        "needs its jku_allowlist entry",
        "max_age_seconds must be a number >= 1",
    ):
        assert expected in text
    with pytest.raises(CdsConfigInvalid, match="issuers must be a non-empty object"):
        parse_cds_config({"app_base_url": APP_BASE})
    with pytest.raises(CdsConfigInvalid, match="cannot read the JWKS file"):
        parse_cds_config(
            {"app_base_url": APP_BASE, "issuers": {ISSUER: "nope.json"}}, base=tmp_path
        )
    (tmp_path / "bad.json").write_text("{", "utf-8")
    with pytest.raises(CdsConfigInvalid, match="cannot read it as JSON"):
        load_cds_config(tmp_path / "bad.json")
    loaded = load_cds_config(write_config(tmp_path))
    assert loaded.settings.jwt.issuers == {ISSUER: JWKS}
    assert loaded.settings.public_base_url == PUBLIC_BASE
    assert loaded.organization is None


def test_serve_refuses_an_invalid_cds_config_before_starting(tmp_path: Path) -> None:
    app = typer.Typer()
    register(app)
    (tmp_path / "cds.json").write_text(json.dumps({"app_base_url": APP_BASE}), "utf-8")
    result = CliRunner().invoke(
        app,
        ["serve", "--data-dir", str(tmp_path / "data"), "--cds-config", str(tmp_path / "cds.json")],
    )
    assert result.exit_code == 2, result.output
    assert "issuers must be a non-empty object" in result.output
    assert not (tmp_path / "data").exists()  # refused before touching the database


def test_the_app_factory_reads_the_configuration_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(db.DATABASE_URL_ENV, f"sqlite:///{tmp_path}/env.db")
    monkeypatch.setenv("SECONDLOOK_CDS_CONFIG", str(write_config(tmp_path)))
    with TestClient(app_from_environment()) as configured:
        assert configured.get("/cds-services").json()["reason"] == "missing-token"
        assert configured.get("/cds-services", headers=signed("/cds-services")).status_code == 200
    monkeypatch.delenv("SECONDLOOK_CDS_CONFIG")
    with TestClient(app_from_environment()) as unconfigured:
        response = unconfigured.post(SERVICE, json={}, headers=signed(SERVICE))
        assert response.json()["reason"] == "not-configured"


def test_serve_refuses_an_unusable_base_url_before_starting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = typer.Typer()
    register(app)
    monkeypatch.setenv("SECONDLOOK_BASE_URL", "secondlook.hospital.example")
    result = CliRunner().invoke(app, ["serve", "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 2, result.output
    assert "SECONDLOOK_BASE_URL" in result.output
    assert not (tmp_path / "data").exists()
    monkeypatch.setenv("SECONDLOOK_BASE_URL", "https://secondlook.hospital.example")
    monkeypatch.setenv("SECONDLOOK_CORS_ORIGINS", "*")
    result = CliRunner().invoke(app, ["serve", "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 2, result.output
    assert "SECONDLOOK_CORS_ORIGINS" in result.output
