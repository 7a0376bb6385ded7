"""SMART App Launch 2.0, EHR launch (docs/fhir.md, "SMART EHR launch"), against a real
authorization server and a real FHIR server on 127.0.0.1 (smart_servers.py), through the real
app on SQLite and PostgreSQL: the full launch, and each refusal."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

import factories
from secondlook.api.app import SettingInvalid, check_environment, create_app
from secondlook.fhir.smart import load_smart_config, parse_smart_config
from secondlook.store import db
from secondlook.store.cds_models import CdsPatientLink
from secondlook.store.models import AuditEvent, CaseVersion, Patient
from web.smart_servers import AuthorizationServer, FhirServer

EPIC_MRN_SYSTEM = "urn:oid:1.2.840.114350.1.13.0.1.7.5.737384.0"
BASE = "http://testserver"


@pytest.fixture(scope="module")
def ehr() -> Iterator[FhirServer]:
    auth = AuthorizationServer(patient="eX1")
    other = AuthorizationServer(patient="nobody")  # another origin: must never be contacted
    server = FhirServer(auth)
    server.other = other  # type: ignore[attr-defined]
    yield server
    server.close()
    auth.close()
    other.close()


@pytest.fixture(scope="module")
def smart_app(web_engine: Engine, ehr: FhirServer) -> FastAPI:
    config = parse_smart_config(
        [
            {"iss": ehr.base, "client_id": "secondlook-test"},
            # configured, but at an address SecondLook never contacts (cloud metadata)
            {"iss": "https://169.254.169.254/fhir", "client_id": "x"},
        ]
    )
    return create_app(web_engine, smart=config, base_url=BASE, mrn_system=EPIC_MRN_SYSTEM)


@pytest.fixture
def browser_at(smart_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(smart_app, base_url=BASE, follow_redirects=False) as client:
        yield client


@pytest.fixture
def signed_in_clinic(
    browser_at: TestClient, web_engine: Engine
) -> tuple[TestClient, factories.Clinic]:
    with factories.committed(web_engine) as session:
        clinic = factories.clinic(session)
    factories.signed_in(browser_at, clinic.clinician)
    return browser_at, clinic


def _authorize(client: TestClient, ehr: FhirServer) -> tuple[str, dict[str, str]]:
    """Launch, check the redirect, and have the authorization server answer it as a browser
    would: the callback address with the code and state."""
    launched = client.get("/smart/launch", params={"iss": ehr.base, "launch": "xyz-launch"})
    assert launched.status_code == 303, launched.text
    target = launched.headers["location"]
    assert target.startswith(f"{ehr.authorization.url}/authorize?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}
    back = httpx.get(target, follow_redirects=False)
    assert back.status_code == 302
    return back.headers["location"], query


def _patients(engine: Engine, organization_id: int) -> list[Patient]:
    with db.make_sessionmaker(engine)() as session:
        return list(
            session.scalars(select(Patient).where(Patient.organization_id == organization_id))
        )


def test_the_full_ehr_launch_imports_the_record_and_shows_its_alerts(
    signed_in_clinic: tuple[TestClient, factories.Clinic], ehr: FhirServer, web_engine: Engine
) -> None:
    client, clinic = signed_in_clinic
    callback, query = _authorize(client, ehr)
    # The authorization request of SMART App Launch 2.0, with PKCE S256 and a state.
    assert query["response_type"] == "code"
    assert query["client_id"] == "secondlook-test"
    assert query["redirect_uri"] == f"{BASE}/smart/callback"
    assert query["launch"] == "xyz-launch"
    assert query["aud"] == ehr.base
    assert set(query["scope"].split()) >= {"launch", "openid", "fhirUser", "patient/*.rs"}
    assert query["code_challenge_method"] == "S256"
    assert len(query["state"]) >= 32
    assert len(query["code_challenge"]) == 43

    done = client.get(callback.removeprefix(BASE))
    assert done.status_code == 303, done.text
    patient_page = done.headers["location"]
    assert patient_page.startswith("/clinic/patients/")
    # The verifier sent at the token endpoint is the one whose S256 hash was the challenge.
    (form,) = [f for f in ehr.authorization.token_requests if f.get("redirect_uri")][-1:]
    digest = hashlib.sha256(form["code_verifier"].encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == query["code_challenge"]
    # The record was read with the token, from the FHIR server only.
    assert ehr.bearer_tokens(), "the FHIR server was not read with the access token"
    assert ehr.authorization.bearer_tokens() == []
    assert any(r.path.startswith("/fhir/r4/Patient/eX1") for r in ehr.received)
    assert any(r.path.startswith("/fhir/r4/MedicationRequest?patient=eX1") for r in ehr.received)

    # A new patient (the EHR's MRN and birth date), linked to the EHR patient, with a case
    # version and an assessment; the patient page shows the imported record's safety alerts.
    patient_id = int(patient_page.rsplit("/", 1)[1])
    with db.make_sessionmaker(web_engine)() as session:
        patient = session.get(Patient, patient_id)
        assert patient is not None
        assert patient.organization_id == clinic.id
        assert patient.mrn == "E1234"
        link = session.scalars(
            select(CdsPatientLink).where(CdsPatientLink.patient_id == patient_id)
        ).one()
        assert (link.issuer, link.ehr_patient_id) == (ehr.base, "eX1")
        versions = session.scalars(
            select(CaseVersion).where(CaseVersion.patient_id == patient_id)
        ).all()
        assert len(versions) == 1
        actions = set(
            session.scalars(select(AuditEvent.action).where(AuditEvent.patient_id == patient_id))
        )
        assert {"patient.create", "case.write", "assessment.create", "smart.import"} <= actions
        report = session.scalars(
            select(AuditEvent.detail).where(
                AuditEvent.patient_id == patient_id, AuditEvent.action == "smart.import"
            )
        ).one()
        assert report is not None and "not mapped" in report
    page = client.get(patient_page)
    assert page.status_code == 200
    assert "Thoughts of self-harm" in page.text
    assert "Opioid overdose risk" in page.text

    # A second launch for the same EHR patient adds a case version to the same patient.
    callback, _ = _authorize(client, ehr)
    again = client.get(callback.removeprefix(BASE))
    assert again.headers["location"] == patient_page
    with db.make_sessionmaker(web_engine)() as session:
        assert (
            len(
                session.scalars(
                    select(CaseVersion).where(CaseVersion.patient_id == patient_id)
                ).all()
            )
            == 2
        )


def test_a_state_is_good_once_and_only_in_the_browser_that_launched(
    signed_in_clinic: tuple[TestClient, factories.Clinic],
    ehr: FhirServer,
    smart_app: FastAPI,
    web_engine: Engine,
) -> None:
    client, clinic = signed_in_clinic
    callback, _ = _authorize(client, ehr)
    path = callback.removeprefix(BASE)
    # Another browser (another clinician's session) cannot complete this launch ...
    with factories.committed(web_engine) as session:
        other_clinic = factories.clinic(session)
    with TestClient(smart_app, base_url=BASE, follow_redirects=False) as other:
        factories.signed_in(other, other_clinic.clinician)
        stolen = other.get(path)
        assert stolen.status_code == 400
        assert "not valid" in stolen.text
    # ... and it was consumed by the attempt: one-time, whoever presents it.
    replay = client.get(path)
    assert replay.status_code == 400
    # A state SecondLook never issued.
    code = parse_qs(urlsplit(callback).query)["code"][0]
    forged = client.get("/smart/callback", params={"code": code, "state": "forged-state"})
    assert forged.status_code == 400
    assert len(_patients(web_engine, clinic.id)) == 1  # nothing was imported


def test_a_used_state_cannot_be_replayed(
    signed_in_clinic: tuple[TestClient, factories.Clinic], ehr: FhirServer
) -> None:
    client, _ = signed_in_clinic
    callback, _ = _authorize(client, ehr)
    assert client.get(callback.removeprefix(BASE)).status_code == 303
    replay = client.get(callback.removeprefix(BASE))
    assert replay.status_code == 400
    assert "already used" in replay.text


def test_a_wrong_pkce_verifier_is_refused_by_the_server_and_nothing_is_imported(
    signed_in_clinic: tuple[TestClient, factories.Clinic], ehr: FhirServer, web_engine: Engine
) -> None:
    client, clinic = signed_in_clinic
    callback, _ = _authorize(client, ehr)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    # The server holds another challenge for this code: the verifier SecondLook sends fails.
    ehr.authorization.codes[code].challenge = "A" * 43
    tokens_before = len(ehr.bearer_tokens())
    failed = client.get(callback.removeprefix(BASE))
    assert failed.status_code == 502
    assert "refused the authorization code (400)" in failed.text
    assert "PKCE failed" not in failed.text  # upstream text is never echoed
    assert len(ehr.bearer_tokens()) == tokens_before  # no record read
    assert len(_patients(web_engine, clinic.id)) == 1  # only the clinic's own patient


def test_an_unknown_iss_is_refused_without_contacting_it(
    signed_in_clinic: tuple[TestClient, factories.Clinic], ehr: FhirServer
) -> None:
    client, _ = signed_in_clinic
    stranger = ehr.other  # type: ignore[attr-defined]
    refused = client.get("/smart/launch", params={"iss": f"{stranger.url}/fhir", "launch": "abc"})
    assert refused.status_code == 400
    assert "not one SecondLook is configured to launch from" in refused.text
    assert stranger.received == []


def test_an_internal_address_is_never_contacted(
    signed_in_clinic: tuple[TestClient, factories.Clinic],
) -> None:
    client, _ = signed_in_clinic
    refused = client.get(
        "/smart/launch", params={"iss": "https://169.254.169.254/fhir", "launch": "abc"}
    )
    assert refused.status_code == 400
    assert "not an address SecondLook contacts" in refused.text


def test_a_cross_origin_next_link_never_gets_the_token(
    signed_in_clinic: tuple[TestClient, factories.Clinic], ehr: FhirServer
) -> None:
    client, _ = signed_in_clinic
    stranger = ehr.other  # type: ignore[attr-defined]
    ehr.next_links["Condition"] = f"{stranger.url}/fhir/r4/Condition?page=2"
    try:
        callback, _ = _authorize(client, ehr)
        done = client.get(callback.removeprefix(BASE))
    finally:
        ehr.next_links.clear()
    # The rest of the record is imported; the other origin got no request, so no token.
    assert done.status_code == 303
    assert stranger.received == []


def test_http_endpoints_other_than_loopback_are_refused_in_the_configuration() -> None:
    with pytest.raises(ValueError, match="https URL"):
        parse_smart_config([{"iss": "http://ehr.example/fhir", "client_id": "x"}])
    with pytest.raises(ValueError, match="non-empty JSON list"):
        parse_smart_config({"iss": "https://ehr.example"})


def test_a_signed_out_browser_gets_a_clear_page_and_no_launch_starts(
    browser_at: TestClient, ehr: FhirServer
) -> None:
    before = len(ehr.received)
    page = browser_at.get("/smart/launch", params={"iss": ehr.base, "launch": "abc"})
    assert page.status_code == 401
    assert "Sign in to SecondLook first" in page.text
    assert len(ehr.received) == before  # nothing asked of the EHR for a signed-out browser


def test_the_write_back_of_a_launched_patient_names_the_ehr_patient(
    signed_in_clinic: tuple[TestClient, factories.Clinic], ehr: FhirServer
) -> None:
    client, clinic = signed_in_clinic
    callback, _ = _authorize(client, ehr)
    patient_id = int(client.get(callback.removeprefix(BASE)).headers["location"].rsplit("/", 1)[1])
    headers = {"Authorization": f"Bearer {clinic.clinician.token}"}
    answer = client.get(f"/api/v1/patients/{patient_id}/write-back", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/fhir+json")
    bundle = answer.json()
    assert bundle["type"] == "transaction"
    resources = [e["resource"] for e in bundle["entry"]]
    assert "Patient" not in {r["resourceType"] for r in resources}
    alerts = {
        str(r.get("code", {}).get("text", "")) + str(r.get("detail", ""))
        for r in resources
        if r["resourceType"] == "DetectedIssue"
    }
    assert any("self-harm" in a.lower() for a in alerts), alerts
    provenance = resources[-1]  # the write-back's own, last
    assert provenance["resourceType"] == "Provenance"
    assert provenance["entity"][0]["what"]["identifier"] == {"system": ehr.base, "value": "eX1"}
    document = client.get(
        f"/api/v1/patients/{patient_id}/write-back/document-reference", headers=headers
    ).json()
    assert document["resourceType"] == "DocumentReference"
    data = base64.b64decode(document["content"][0]["attachment"]["data"])
    assert data.startswith(b"%PDF")
    assert document["subject"] == {"reference": "Patient/eX1"}
    # A patient account (here linked to another patient) cannot read it.
    patient_user = {"Authorization": f"Bearer {clinic.patient_user.token}"}
    refused = client.get(f"/api/v1/patients/{patient_id}/write-back", headers=patient_user)
    assert refused.status_code in (403, 404)


def test_cds_cards_carry_a_smart_app_link_when_the_launch_is_configured() -> None:
    from secondlook.case import parse_case
    from secondlook.engine import assess
    from secondlook.examples import load_examples
    from secondlook.fhir.cds import CdsSettings, assessment_cards
    from secondlook.fhir.cds_auth import JwtSettings

    assessment = assess(parse_case(load_examples()["cauda-equina"]))
    link = {"label": "Open in SecondLook", "url": f"{BASE}/patients/1", "type": "absolute"}
    settings = CdsSettings(
        app_base_url=BASE, jwt=JwtSettings(), smart_launch_url=f"{BASE}/smart/launch"
    )
    cards = assessment_cards(assessment, settings, link)
    assert cards[0]["indicator"] == "critical"  # the red flag still comes first
    for card in cards:
        assert {
            "label": "Open SecondLook in the EHR",
            "url": f"{BASE}/smart/launch",
            "type": "smart",
        } in card["links"]
    without = assessment_cards(assessment, CdsSettings(app_base_url=BASE, jwt=JwtSettings()), link)
    assert all(card["links"] == [link] for card in without)


def test_the_setting_is_json_or_a_file_and_a_bad_one_stops_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clients = '[{"iss": "https://ehr.example/fhir/r4/", "client_id": "sl", "client_secret": "s"}]'
    inline = load_smart_config(clients)
    path = tmp_path / "smart.json"
    path.write_text(clients, "utf-8")
    from_file = load_smart_config(str(path))
    assert inline == from_file
    client = from_file.client_for("https://ehr.example/fhir/r4")
    assert client is not None
    assert (client.client_id, client.client_secret) == ("sl", "s")
    assert client.scope == "launch openid fhirUser patient/*.rs"
    monkeypatch.setenv("SECONDLOOK_SMART_CLIENTS", '[{"iss": "https://ehr.example"}]')
    with pytest.raises(SettingInvalid, match=r"\[0\]\.client_id is required"):
        check_environment()
    monkeypatch.setenv("SECONDLOOK_SMART_CLIENTS", str(tmp_path / "missing.json"))
    with pytest.raises(SettingInvalid, match="cannot read"):
        check_environment()


def test_a_record_that_makes_no_case_is_refused_and_nothing_is_stored(
    signed_in_clinic: tuple[TestClient, factories.Clinic], ehr: FhirServer, web_engine: Engine
) -> None:
    client, clinic = signed_in_clinic
    kept = list(ehr.resources)
    ehr.resources = [r for r in kept if r["resourceType"] != "Procedure"]  # no surgery
    try:
        callback, _ = _authorize(client, ehr)
        page = client.get(callback.removeprefix(BASE))
    finally:
        ehr.resources = kept
    assert page.status_code == 422
    assert "does not make a case" in page.text
    assert "surger" in page.text
    assert len(_patients(web_engine, clinic.id)) == 1  # no patient made, none linked


@pytest.mark.parametrize(
    ("discovered", "refusal"),
    [
        ({"authorization_endpoint": "http://ehr.example/authorize"}, "not an https URL"),
        ({"token_endpoint": "https://169.254.169.254/token"}, "not an address SecondLook contacts"),
        ({"code_challenge_methods_supported": ["plain"]}, "does not support PKCE S256"),
    ],
)
def test_what_the_ehr_discovers_is_checked_before_the_browser_is_sent_anywhere(
    signed_in_clinic: tuple[TestClient, factories.Clinic],
    ehr: FhirServer,
    discovered: dict[str, object],
    refusal: str,
) -> None:
    client, _ = signed_in_clinic
    ehr.discovery.update(discovered)
    try:
        page = client.get("/smart/launch", params={"iss": ehr.base, "launch": "abc"})
    finally:
        ehr.discovery.clear()
    assert page.status_code == 400
    assert refusal in page.text
