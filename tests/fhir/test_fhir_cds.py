"""CDS Hooks 2.0: discovery, patient-view cards, 412, feedback, and JWT checks (one test per
rejection reason). Requests follow the examples of the CDS Hooks specification."""

from __future__ import annotations

import base64
import copy
import json
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cds_listeners import Listener, listener, other_listener
from fhir_support import EXAMPLES, FhirStub, case_and_assessment, fhir_stub

from secondlook.fhir import (
    CdsSettings,
    InMemoryJtiStore,
    JwtSettings,
    cds_router,
    export_bundle,
    relative_references,
)
from secondlook.fhir.cds import MAX_JSON_DEPTH, PREFETCH, SERVICE_ID, FeedbackLog
from secondlook.fhir.cds_auth import JwksCache
from secondlook.knowledge import default_knowledge

__all__ = ["fhir_stub", "listener", "other_listener"]

NAMES = sorted(EXAMPLES)
PUBLIC_BASE = "https://secondlook.example.org"
SERVICE_BASE = f"{PUBLIC_BASE}/api"  # the router is mounted under /api in these tests
SERVICE_URL = f"{SERVICE_BASE}/cds-services/{SERVICE_ID}"
APP_BASE = "https://secondlook.example.org"
ISSUER = "https://ehr.example.org"

EC_KEY = ec.generate_private_key(ec.SECP384R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_EC_KEY = ec.generate_private_key(ec.SECP384R1())


def _jwk(algorithm: Any, key: Any, kid: str) -> dict[str, Any]:
    found: dict[str, Any] = algorithm.to_jwk(key.public_key(), as_dict=True)
    return {**found, "kid": kid, "use": "sig"}


JWKS = {
    "keys": [
        _jwk(ECAlgorithm, EC_KEY, "ec-1"),
        _jwk(RSAAlgorithm, RSA_KEY, "rsa-1"),
    ]
}

#: The patient-view request example of the CDS Hooks 2.0 specification ("Calling a CDS
#: Service", Example), as published.
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


def token(
    *,
    alg: str = "ES384",
    key: Any = None,
    kid: str | None = "ec-1",
    aud: Any = SERVICE_URL,
    extra_headers: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
    **claims: Any,
) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "ehr-client-id",
        "aud": aud,
        "exp": now + 300,
        "iat": now,
        "jti": str(uuid.uuid4()),
        **claims,
    }
    for name in drop:
        payload.pop(name, None)
    if key is None:
        key = {"ES384": EC_KEY, "RS384": RSA_KEY, "RS256": RSA_KEY}.get(alg, EC_KEY)
    headers = {"typ": "JWT", **(extra_headers or {})}
    if kid is not None:
        headers["kid"] = kid
    return jwt.encode(payload, key, algorithm=alg, headers=headers)


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


@dataclass
class Env:
    client: TestClient
    settings: CdsSettings
    feedback: FeedbackLog
    today: list[Any] = field(default_factory=list)

    def call(
        self,
        body: dict[str, Any],
        auth: str | None = None,
        url: str = f"/cds-services/{SERVICE_ID}",
    ) -> Any:
        audience = SERVICE_BASE + url
        headers = bearer(auth if auth is not None else token(aud=audience))
        return self.client.post(url, json=body, headers=headers)


def make_env(
    jku_allowlist: dict[str, frozenset[str]] | None = None,
    issuers: dict[str, Any] | None = None,
    fhir_servers: dict[str, tuple[str, ...]] | None = None,
) -> Env:
    feedback = FeedbackLog()
    today: list[Any] = []
    from datetime import date

    settings = CdsSettings(
        app_base_url=APP_BASE,
        public_base_url=PUBLIC_BASE,
        jwt=JwtSettings(
            issuers=issuers if issuers is not None else {ISSUER: JWKS},
            jku_allowlist=jku_allowlist or {},
            jti_store=InMemoryJtiStore(),
        ),
        today=lambda: today[0] if today else date(2026, 11, 21),
        card_store=feedback,
        fhir_servers=fhir_servers or {},
    )
    app = FastAPI()
    app.include_router(cds_router(settings), prefix="/api")
    client = TestClient(app, base_url="http://testserver/api")
    return Env(client, settings, feedback, today)


@pytest.fixture
def env(fhir_stub: FhirStub) -> Env:
    """The service, trusting the FHIR stub as the issuer's FHIR server."""
    return make_env(fhir_servers={ISSUER: (fhir_stub.url,)})


# -- discovery and requests ---------------------------------------------------------------------


def test_discovery_lists_the_patient_view_service_with_prefetch(env: Env) -> None:
    response = env.client.get(
        "/cds-services", headers=bearer(token(aud=f"{SERVICE_BASE}/cds-services"))
    )
    assert response.status_code == 200
    (service,) = response.json()["services"]
    assert service["hook"] == "patient-view"
    assert service["id"] == SERVICE_ID
    assert service["prefetch"]["patient"] == "Patient/{{context.patientId}}"
    templates = list(service["prefetch"].values())
    for kind in ("Procedure", "Condition", "Observation", "QuestionnaireResponse"):
        assert any(t.startswith(f"{kind}?patient={{{{context.patientId}}}}") for t in templates)
    # bounded, and bringing the targets of the references the mapping follows
    prefetch = service["prefetch"]
    assert "category=" in prefetch["observations"]
    assert "_count=" in prefetch["observations"]
    assert "_include=Observation:derived-from" in prefetch["observations"]
    assert "_include=DiagnosticReport:result" in prefetch["diagnosticReports"]
    assert "_include=MedicationRequest:medication" in prefetch["medicationRequests"]
    assert "_include=MedicationStatement:medication" in prefetch["medicationStatements"]


def test_the_spec_example_without_our_prefetch_or_server_access_is_412(env: Env) -> None:
    body = copy.deepcopy(SPEC_REQUEST)
    del body["fhirServer"], body["fhirAuthorization"]
    response = env.call(body)
    assert response.status_code == 412
    assert "prefetch lacks" in response.json()["detail"]


def test_a_server_without_an_access_token_is_412(env: Env) -> None:
    body = copy.deepcopy(SPEC_REQUEST)
    del body["fhirAuthorization"]
    assert env.call(body).status_code == 412


def test_the_spec_example_against_a_real_fhir_server_says_what_is_missing(
    env: Env, fhir_stub: FhirStub
) -> None:
    body = copy.deepcopy(SPEC_REQUEST)
    body["fhirServer"] = fhir_stub.url
    body["fhirAuthorization"]["access_token"] = fhir_stub.token
    fhir_stub.resources = [copy.deepcopy(SPEC_REQUEST["prefetch"]["patientToGreet"])]
    fhir_stub.requests.clear()
    response = env.call(body)
    assert response.status_code == 200, response.text
    (card,) = response.json()["cards"]
    assert card["indicator"] == "info"
    assert "needs more data" in card["summary"]
    assert "surgeries" in card["detail"]
    assert card["links"][0]["url"] == f"{APP_BASE}/patients/1288992"
    paths = [p for p, _ in fhir_stub.requests]
    assert "/Patient/1288992" in paths
    assert "/Procedure" in paths
    assert all(auth == f"Bearer {fhir_stub.token}" for _, auth in fhir_stub.requests)


def test_an_unreachable_or_refusing_fhir_server_is_412(env: Env, fhir_stub: FhirStub) -> None:
    body = copy.deepcopy(SPEC_REQUEST)
    body["fhirServer"] = fhir_stub.url
    body["fhirAuthorization"]["access_token"] = "wrong-token"
    response = env.call(body)
    assert response.status_code == 412
    assert "could not be read" in response.json()["detail"]


def server_form(name: str) -> tuple[str, list[dict[str, Any]]]:
    """The example's case resources as a FHIR server holds them, and the patient id."""
    case, assessment = case_and_assessment(name)
    resources = relative_references(export_bundle(case, assessment))
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    return str(patient["id"]), resources


def prefetch_of(patient_id: str, resources: list[dict[str, Any]]) -> dict[str, Any]:
    prefetch: dict[str, Any] = {}
    for key, template in PREFETCH.items():
        kind = template.split("?")[0].split("/")[0]
        if key == "patient":
            prefetch[key] = next(r for r in resources if r["resourceType"] == "Patient")
            continue
        found = [
            r
            for r in resources
            if r["resourceType"] == kind
            and (r.get("subject") or r.get("patient") or {}).get("reference")
            == f"Patient/{patient_id}"
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


def patient_view(patient_id: str, **more: Any) -> dict[str, Any]:
    return {
        "hookInstance": str(uuid.uuid4()),
        "hook": "patient-view",
        "context": {"userId": "Practitioner/example", "patientId": patient_id},
        **more,
    }


def check_cards(name: str, cards: list[dict[str, Any]]) -> None:
    _, assessment = case_and_assessment(name)
    critical = [c for c in cards if c["indicator"] == "critical"]
    warning = [c for c in cards if c["indicator"] == "warning"]
    info = [c for c in cards if c["indicator"] == "info"]
    assert len(critical) == len(assessment["red_flags"])
    assert len(warning) == len(assessment["safety_alerts"])
    for card, flag in zip(critical, assessment["red_flags"], strict=True):
        assert flag["urgency"] in card["summary"]
        assert flag["action"] in card["detail"]
    for card, alert in zip(warning, assessment["safety_alerts"], strict=True):
        assert alert["action"] in card["detail"]
    (summary,) = info
    assert assessment["classification"]["condition"].replace("-", " ") in summary["summary"]
    for card in cards:
        assert len(card["summary"]) < 140
        assert card["source"]["label"] == "SecondLook"
        uuid.UUID(card["uuid"])


@pytest.mark.parametrize("name", NAMES)
def test_every_red_flag_and_safety_alert_becomes_a_card_from_prefetch(name: str, env: Env) -> None:
    case, _ = case_and_assessment(name)
    env.today.append(case.assessed_on)
    patient_id, resources = server_form(name)
    response = env.call(patient_view(patient_id, prefetch=prefetch_of(patient_id, resources)))
    assert response.status_code == 200, response.text
    check_cards(name, response.json()["cards"])


@pytest.mark.parametrize("name", [n for n in NAMES if case_and_assessment(n)[1]["red_flags"]])
def test_red_flags_become_cards_when_read_from_the_fhir_server(
    name: str, env: Env, fhir_stub: FhirStub
) -> None:
    case, _ = case_and_assessment(name)
    env.today.append(case.assessed_on)
    patient_id, resources = server_form(name)
    fhir_stub.resources = resources
    body = patient_view(
        patient_id,
        fhirServer=fhir_stub.url,
        fhirAuthorization={
            "access_token": fhir_stub.token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "secondlook",
        },
    )
    response = env.call(body)
    assert response.status_code == 200, response.text
    check_cards(name, response.json()["cards"])


def test_an_unknown_service_is_404(env: Env) -> None:
    response = env.call(patient_view("1"), url="/cds-services/other")
    assert response.status_code == 404


def test_a_request_without_patient_id_is_400(env: Env) -> None:
    body = copy.deepcopy(SPEC_REQUEST)
    del body["context"]["patientId"]
    assert env.call(body).status_code == 400


def test_feedback_is_accepted_and_recorded_with_the_card_s_alert(env: Env) -> None:
    name = "bundled/thoracic-sacroiliac"  # a fracture red flag
    case, _ = case_and_assessment(name)
    env.today.append(case.assessed_on)
    patient_id, resources = server_form(name)
    cards = env.call(patient_view(patient_id, prefetch=prefetch_of(patient_id, resources)))
    flag = cards.json()["cards"][0]
    assert flag["indicator"] == "critical"
    url = f"/cds-services/{SERVICE_ID}/feedback"
    body = {
        "feedback": [
            {
                "card": flag["uuid"],
                "outcome": "overridden",
                "overrideReason": {"reason": {"code": "reason-code-provided-by-service"}},
                "outcomeTimestamp": "2020-12-11T00:00:00Z",
            }
        ]
    }
    response = env.call(body, url=url)
    assert response.status_code == 200
    assert env.feedback.items[0]["card"] == flag["uuid"]
    assert env.feedback.items[0]["alert_id"] == "fracture"
    bad = env.call({"feedback": [{"outcome": "maybe"}]}, url=url)
    assert bad.status_code == 400
    never_given = {"feedback": [{"card": str(uuid.uuid4()), "outcome": "accepted"}]}
    unknown = env.call(never_given, url=url)
    assert unknown.status_code == 400
    assert "not a card this service returned" in unknown.json()["detail"]


# -- JWT ---------------------------------------------------------------------------------------


def test_es384_and_rs384_are_accepted(env: Env) -> None:
    body = copy.deepcopy(SPEC_REQUEST)
    del body["fhirServer"], body["fhirAuthorization"]
    assert env.call(body, auth=token(alg="ES384")).status_code == 412  # past auth
    assert env.call(body, auth=token(alg="RS384", kid="rsa-1")).status_code == 412


def _unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(payload)}."


def _claims() -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "aud": SERVICE_URL,
        "exp": now + 300,
        "iat": now,
        "jti": str(uuid.uuid4()),
    }


REJECTIONS: dict[str, tuple[Callable[[], str | None], str]] = {
    "no header": (lambda: None, "missing-token"),
    "not bearer": (lambda: "Basic dXNlcjpwYXNz", "missing-token"),
    "malformed": (lambda: "Bearer not.a.jwt", "malformed-token"),
    "alg none": (
        lambda: "Bearer " + _unsigned({"alg": "none", "typ": "JWT"}, _claims()),
        "algorithm-not-allowed",
    ),
    "HS256": (
        lambda: "Bearer " + token(alg="HS256", key="a-shared-secret-of-32-bytes-or-more!!"),
        "algorithm-not-allowed",
    ),
    "HS384": (
        lambda: (
            "Bearer " + token(alg="HS384", key="a-shared-secret-of-48-bytes-or-more-for-hs384!!!")
        ),
        "algorithm-not-allowed",
    ),
    "HS512": (
        lambda: "Bearer " + token(alg="HS512", key="s" * 64),
        "algorithm-not-allowed",
    ),
    "RS256": (lambda: "Bearer " + token(alg="RS256", kid="rsa-1"), "algorithm-not-allowed"),
    "unknown issuer": (
        lambda: "Bearer " + token(iss="https://rogue.example.org"),
        "unknown-issuer",
    ),
    "unknown kid": (lambda: "Bearer " + token(kid="nope"), "unknown-key"),
    "bad signature": (lambda: "Bearer " + token(key=OTHER_EC_KEY), "bad-signature"),
    "tampered payload": (
        lambda: "Bearer " + _tamper(token()),
        "bad-signature",
    ),
    "wrong audience": (
        lambda: "Bearer " + token(aud=f"{SERVICE_BASE}/cds-services"),
        "wrong-audience",
    ),
    "expired": (
        lambda: "Bearer " + token(exp=int(time.time()) - 120, iat=int(time.time()) - 200),
        "expired",
    ),
    "no exp": (lambda: "Bearer " + token(drop=("exp",)), "missing-claim"),
    "iat in the future": (
        lambda: "Bearer " + token(iat=int(time.time()) + 600, exp=int(time.time()) + 900),
        "issued-in-future",
    ),
    "too old": (
        lambda: "Bearer " + token(iat=int(time.time()) - 900, exp=int(time.time()) + 60),
        "too-old",
    ),
    "no jti": (lambda: "Bearer " + token(drop=("jti",)), "missing-claim"),
    "jku not allowed": (
        lambda: "Bearer " + token(extra_headers={"jku": "https://rogue.example.org/jwks.json"}),
        "jku-not-allowed",
    ),
}


def _tamper(value: str) -> str:
    header, payload, signature = value.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["sub"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def _assert_refused(response: Any, reason: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 401
    assert body["reason"] == reason
    assert body["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("case", sorted(REJECTIONS))
def test_each_jwt_rejection_reason_gives_401_problem_json(case: str, env: Env) -> None:
    make, reason = REJECTIONS[case]
    authorization = make()
    headers = {"Authorization": authorization} if authorization else {}
    response = env.client.post(f"/cds-services/{SERVICE_ID}", json=SPEC_REQUEST, headers=headers)
    _assert_refused(response, reason)


def test_a_replayed_jti_is_refused(env: Env) -> None:
    body = copy.deepcopy(SPEC_REQUEST)
    del body["fhirServer"], body["fhirAuthorization"]
    once = token()
    assert env.call(body, auth=once).status_code == 412  # accepted the first time
    _assert_refused(env.call(body, auth=once), "replayed")


def test_discovery_and_feedback_are_authenticated_too(env: Env) -> None:
    _assert_refused(env.client.get("/cds-services"), "missing-token")
    response = env.client.post(
        f"/cds-services/{SERVICE_ID}/feedback",
        json={"feedback": []},
        headers=bearer(token()),  # aud of the service, not of its feedback endpoint
    )
    _assert_refused(response, "wrong-audience")


def test_keys_from_an_allowlisted_jku_are_used(fhir_stub: FhirStub) -> None:
    jku = f"{fhir_stub.url}/.well-known/jwks.json"
    fhir_stub.jwks = JWKS
    env = make_env(jku_allowlist={ISSUER: frozenset({jku})}, issuers={ISSUER: None})
    body = copy.deepcopy(SPEC_REQUEST)
    del body["fhirServer"], body["fhirAuthorization"]
    accepted = env.call(body, auth=token(extra_headers={"jku": jku}))
    assert accepted.status_code == 412  # past authentication
    _assert_refused(env.call(body, auth=token()), "unknown-key")  # no jku, no static keys


prefetch_values = st.one_of(
    st.none(),
    st.text(max_size=5),
    st.builds(
        lambda entries: {"resourceType": "Bundle", "type": "searchset", "entry": entries},
        st.lists(
            st.builds(
                lambda rtype, fields: {"resource": {"resourceType": rtype, **fields}},
                st.sampled_from(["Procedure", "Condition", "Observation", "Patient", "Nope"]),
                st.dictionaries(
                    st.sampled_from(["id", "code", "subject", "status", "performedDateTime"]),
                    st.one_of(st.none(), st.integers(), st.text(max_size=6), st.just({})),
                    max_size=4,
                ),
            ),
            max_size=4,
        ),
    ),
    st.just({"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1960-01-01"}),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(sorted(PREFETCH)), prefetch_values))
def test_any_prefetch_gives_cards_or_a_clear_error_never_a_500(prefetch: dict[str, Any]) -> None:
    env = make_env()
    response = env.call(patient_view("p1", prefetch=prefetch))
    assert response.status_code in (200, 412), response.text
    if response.status_code == 200:
        assert response.json()["cards"]


# -- keys: each jku belongs to its issuer; the key set is fetched late and cached --------------

OTHER_ISSUER = "https://other-ehr.example.org"


def _jku_env(listener: Listener, **more: Any) -> tuple[Env, str]:
    jku = f"{listener.url}/jwks.json"
    listener.serve("/jwks.json", JWKS)
    env = make_env(
        jku_allowlist={ISSUER: frozenset({jku})},
        issuers={ISSUER: None, OTHER_ISSUER: {"keys": [_jwk(ECAlgorithm, OTHER_EC_KEY, "o-1")]}},
        **more,
    )
    return env, jku


def _no_server_body() -> dict[str, Any]:
    body = copy.deepcopy(SPEC_REQUEST)
    del body["fhirServer"], body["fhirAuthorization"]
    return body


def test_a_jku_allowlisted_for_one_issuer_does_not_verify_another_issuer_s_tokens(
    listener: Listener,
) -> None:
    env, jku = _jku_env(listener)
    # Signed with the first issuer's key, claiming to be the other issuer, naming its jku.
    forged = token(iss=OTHER_ISSUER, extra_headers={"jku": jku})
    _assert_refused(env.call(_no_server_body(), auth=forged), "jku-not-allowed")
    assert listener.received == []  # refused before any key set was fetched
    accepted = env.call(_no_server_body(), auth=token(extra_headers={"jku": jku}))
    assert accepted.status_code == 412  # its own issuer's jku: past authentication
    assert listener.paths() == ["/jwks.json"]


def test_an_unknown_issuer_naming_an_allowlisted_jku_causes_no_fetch(listener: Listener) -> None:
    env, jku = _jku_env(listener)
    rogue = token(iss="https://rogue.example.org", extra_headers={"jku": jku})
    _assert_refused(env.call(_no_server_body(), auth=rogue), "unknown-issuer")
    assert listener.received == []


def test_a_wrong_algorithm_naming_an_allowlisted_jku_causes_no_fetch(listener: Listener) -> None:
    env, jku = _jku_env(listener)
    hs = token(alg="HS384", key="k" * 48, extra_headers={"jku": jku})
    _assert_refused(env.call(_no_server_body(), auth=hs), "algorithm-not-allowed")
    rs256 = token(alg="RS256", kid="rsa-1", extra_headers={"jku": jku})
    _assert_refused(env.call(_no_server_body(), auth=rs256), "algorithm-not-allowed")
    assert listener.received == []


def test_an_expired_token_naming_a_jku_is_refused(listener: Listener) -> None:
    env, jku = _jku_env(listener)
    now = int(time.time())
    expired = token(exp=now - 120, iat=now - 200, extra_headers={"jku": jku})
    _assert_refused(env.call(_no_server_body(), auth=expired), "expired")


def test_a_token_not_valid_yet_is_refused(env: Env) -> None:
    _assert_refused(
        env.call(_no_server_body(), auth=token(nbf=int(time.time()) + 600)), "not-yet-valid"
    )
    assert env.call(_no_server_body(), auth=token(nbf=int(time.time()) - 5)).status_code == 412


def test_the_key_set_is_cached_for_a_bounded_time(listener: Listener) -> None:
    env, jku = _jku_env(listener)
    moments = [1000.0]
    env.settings.jwt.jwks_cache = JwksCache(clock=lambda: moments[0])
    env.settings.jwt.jwks_cache_seconds = 300
    for _ in range(3):
        assert (
            env.call(_no_server_body(), auth=token(extra_headers={"jku": jku})).status_code == 412
        )
    assert listener.paths() == ["/jwks.json"]  # fetched once for three calls
    moments[0] += 301  # past the lifetime: fetched again
    assert env.call(_no_server_body(), auth=token(extra_headers={"jku": jku})).status_code == 412
    assert listener.paths() == ["/jwks.json", "/jwks.json"]


def test_a_rotated_key_is_fetched_again_at_most_once_per_refresh_interval(
    listener: Listener,
) -> None:
    env, jku = _jku_env(listener)
    moments = [1000.0]
    env.settings.jwt.jwks_cache = JwksCache(clock=lambda: moments[0])
    assert env.call(_no_server_body(), auth=token(extra_headers={"jku": jku})).status_code == 412
    new_key = ec.generate_private_key(ec.SECP384R1())
    listener.serve("/jwks.json", {"keys": [*JWKS["keys"], _jwk(ECAlgorithm, new_key, "ec-2")]})
    rotated = token(key=new_key, kid="ec-2", extra_headers={"jku": jku})
    _assert_refused(env.call(_no_server_body(), auth=rotated), "unknown-key")  # too soon
    moments[0] += 31
    rotated = token(key=new_key, kid="ec-2", extra_headers={"jku": jku})
    assert env.call(_no_server_body(), auth=rotated).status_code == 412
    assert listener.paths() == ["/jwks.json", "/jwks.json"]


def test_a_key_set_that_cannot_be_fetched_is_not_echoed(listener: Listener) -> None:
    env, jku = _jku_env(listener)
    listener.serve("/jwks.json", "secret upstream detail at 10.1.2.3", status=500)
    response = env.call(_no_server_body(), auth=token(extra_headers={"jku": jku}))
    _assert_refused(response, "unknown-key")
    assert "10.1.2.3" not in response.text
    assert listener.url not in response.text


# -- fhirServer: allowlisted origins only, the token only to them --------------------------------


def _ehr_body(server: str, name: str = "bundled/cauda-equina", **more: Any) -> dict[str, Any]:
    patient_id, _ = server_form(name)
    return patient_view(
        patient_id,
        fhirServer=server,
        fhirAuthorization={"access_token": "ehr-token-1", "token_type": "Bearer"},
        **more,
    )


def test_a_fhir_server_off_the_allowlist_gets_no_request_and_no_token(
    listener: Listener, other_listener: Listener
) -> None:
    env = make_env(fhir_servers={ISSUER: (listener.url,)})
    response = env.call(_ehr_body(other_listener.url))
    assert response.status_code == 412
    assert other_listener.received == []
    assert listener.received == []
    assert other_listener.url not in response.text
    assert "not on the allowlist" in response.json()["detail"]


def test_an_issuer_without_allowlisted_servers_reads_none(listener: Listener) -> None:
    env = make_env(fhir_servers={OTHER_ISSUER: (listener.url,)})  # another issuer's server
    assert env.call(_ehr_body(listener.url)).status_code == 412
    assert listener.received == []


def test_an_internal_address_is_refused_even_when_allowlisted() -> None:
    metadata = "http://169.254.169.254"  # cloud metadata: never a FHIR server
    env = make_env(fhir_servers={ISSUER: (metadata,)})
    response = env.call(_ehr_body(f"{metadata}/latest/meta-data"))
    assert response.status_code == 412
    assert "169.254" not in response.text
    assert "not an address SecondLook contacts" in response.json()["detail"]


def test_an_upstream_error_is_never_echoed(listener: Listener) -> None:
    env = make_env(fhir_servers={ISSUER: (listener.url,)})
    patient_id, _ = server_form("bundled/cauda-equina")
    listener.serve(f"/Patient/{patient_id}", "db password is hunter2 at 10.9.8.7", status=500)
    response = env.call(_ehr_body(listener.url))
    assert response.status_code == 412
    for secret in ("hunter2", "10.9.8.7", listener.url, "127.0.0.1"):
        assert secret not in response.text
    assert listener.tokens() == {"Bearer ehr-token-1"}


def _serve_record(listener: Listener, name: str) -> tuple[str, list[dict[str, Any]]]:
    """The example's record on the listener: the Patient by id, each search by type."""
    patient_id, resources = server_form(name)
    for resource in resources:
        if resource["resourceType"] == "Patient":
            listener.serve(f"/Patient/{patient_id}", resource)
    for key, template in PREFETCH.items():
        kind = template.split("?")[0].split("/")[0]
        if key == "patient":
            continue
        found = prefetch_of(patient_id, resources)[key]
        listener.serve(f"/{kind}", found or {"resourceType": "Bundle", "type": "searchset"})
    return patient_id, resources


def _critical(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return [c for c in response.json()["cards"] if c["indicator"] == "critical"]


def _left_out(response: Any) -> str:
    cards = [c for c in response.json()["cards"] if "left out" in c["summary"]]
    assert len(cards) == 1, response.json()["cards"]
    return str(cards[0]["detail"])


def test_a_cross_origin_next_link_gets_no_token(
    listener: Listener, other_listener: Listener
) -> None:
    env = make_env(fhir_servers={ISSUER: (listener.url,)})
    case, _ = case_and_assessment("bundled/cauda-equina")
    env.today.append(case.assessed_on)
    _serve_record(listener, "bundled/cauda-equina")
    first = listener.answers["/Procedure"][1]
    listener.serve(
        "/Procedure",
        {**first, "link": [{"relation": "next", "url": f"{other_listener.url}/Procedure?p=2"}]},
    )
    response = env.call(_ehr_body(listener.url))
    assert len(_critical(response)) == 3  # the red flags are not held back by the refusal
    assert other_listener.received == []
    assert "another server" in _left_out(response)
    assert listener.tokens() == {"Bearer ehr-token-1"}


def test_the_token_is_sent_only_to_the_allowlisted_origin(listener: Listener) -> None:
    env = make_env(fhir_servers={ISSUER: (f"{listener.url}/fhir/r4",)})
    case, _ = case_and_assessment("bundled/cauda-equina")
    env.today.append(case.assessed_on)
    _serve_record(listener, "bundled/cauda-equina")
    response = env.call(_ehr_body(listener.url))  # same origin as the allowlisted base
    assert len(_critical(response)) == 3
    assert listener.received and all(
        r.authorization == "Bearer ehr-token-1" for r in listener.received
    )


# -- one unreadable reference leaves out that resource, never the red flags ----------------------


def _prefetch(name: str) -> tuple[str, dict[str, Any]]:
    patient_id, resources = server_form(name)
    return patient_id, prefetch_of(patient_id, resources)


def _add(prefetch: dict[str, Any], key: str, *resources: dict[str, Any]) -> None:
    bundle = prefetch.get(key) or {"resourceType": "Bundle", "type": "searchset", "entry": []}
    bundle["entry"] = [*bundle.get("entry", []), *({"resource": r} for r in resources)]
    prefetch[key] = bundle


def test_an_unresolvable_medication_reference_still_gives_the_emergency_cards(env: Env) -> None:
    case, assessment = case_and_assessment("bundled/cauda-equina")
    env.today.append(case.assessed_on)
    patient_id, prefetch = _prefetch("bundled/cauda-equina")
    _add(
        prefetch,
        "medicationRequests",
        {
            "resourceType": "MedicationRequest",
            "id": "epic-1",
            "status": "active",
            "intent": "order",
            "medicationReference": {"reference": "Medication/not-prefetched"},
            "subject": {"reference": f"Patient/{patient_id}"},
        },
    )
    response = env.call(patient_view(patient_id, prefetch=prefetch))
    critical = _critical(response)
    assert critical[0]["summary"].startswith("Red flag (emergency)")
    assert len(critical) == len(assessment["red_flags"])
    detail = _left_out(response)
    assert "MedicationRequest/epic-1" in detail
    assert "Medication/not-prefetched" in detail


def test_a_missing_derived_from_and_report_result_are_left_out_and_reported(env: Env) -> None:
    case, assessment = case_and_assessment("bundled/cauda-equina")
    env.today.append(case.assessed_on)
    patient_id, prefetch = _prefetch("bundled/cauda-equina")
    subject = {"reference": f"Patient/{patient_id}"}
    _add(
        prefetch,
        "observations",
        {
            "resourceType": "Observation",
            "id": "phq9-total",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "44261-6"}]},
            "subject": subject,
            "valueQuantity": {"value": 12},
            "derivedFrom": [{"reference": "QuestionnaireResponse/not-prefetched"}],
        },
    )
    _add(
        prefetch,
        "diagnosticReports",
        {
            "resourceType": "DiagnosticReport",
            "id": "mri-1",
            "status": "final",
            "code": {"text": "MRI lumbar spine"},
            "subject": subject,
            "result": [{"reference": "Observation/not-prefetched"}],
        },
    )
    response = env.call(patient_view(patient_id, prefetch=prefetch))
    assert len(_critical(response)) == len(assessment["red_flags"])
    detail = _left_out(response)
    assert "Observation/phq9-total" in detail and "DiagnosticReport/mri-1" in detail


def test_a_missing_target_is_read_from_the_fhir_server_with_the_token(listener: Listener) -> None:
    env = make_env(fhir_servers={ISSUER: (listener.url,)})
    case, assessment = case_and_assessment("bundled/cauda-equina")
    env.today.append(case.assessed_on)
    patient_id, prefetch = _prefetch("bundled/cauda-equina")
    _add(
        prefetch,
        "medicationRequests",
        {
            "resourceType": "MedicationRequest",
            "id": "epic-2",
            "status": "active",
            "intent": "order",
            "medicationReference": {"reference": "Medication/m-1"},
            "subject": {"reference": f"Patient/{patient_id}"},
        },
    )
    listener.serve(
        "/Medication/m-1",
        {"resourceType": "Medication", "id": "m-1", "code": {"text": "ibuprofen 400 mg tablet"}},
    )
    body = patient_view(
        patient_id,
        prefetch=prefetch,
        fhirServer=listener.url,
        fhirAuthorization={"access_token": "ehr-token-1", "token_type": "Bearer"},
    )
    response = env.call(body)
    assert len(_critical(response)) == len(assessment["red_flags"])
    assert not [c for c in response.json()["cards"] if "left out" in c["summary"]]
    assert listener.paths() == ["/Medication/m-1"]
    assert listener.tokens() == {"Bearer ehr-token-1"}


def test_urn_uuid_references_resolve_through_the_kept_full_urls(env: Env) -> None:
    case, assessment = case_and_assessment("bundled/cauda-equina")
    env.today.append(case.assessed_on)
    patient_id, prefetch = _prefetch("bundled/cauda-equina")
    medication = f"urn:uuid:{uuid.uuid4()}"
    prefetch["medicationRequests"] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": {
                    "resourceType": "MedicationRequest",
                    "status": "active",
                    "intent": "order",
                    "medicationReference": {"reference": medication},
                    "subject": {"reference": f"Patient/{patient_id}"},
                },
            },
            {
                "fullUrl": medication,
                "resource": {"resourceType": "Medication", "code": {"text": "ibuprofen"}},
                "search": {"mode": "include"},
            },
        ],
    }
    response = env.call(patient_view(patient_id, prefetch=prefetch))
    assert len(_critical(response)) == len(assessment["red_flags"])
    assert not [c for c in response.json()["cards"] if "left out" in c["summary"]]


# -- prefetch: pages, OperationOutcome ----------------------------------------------------------


def test_a_paginated_prefetch_is_followed_on_the_fhir_server(listener: Listener) -> None:
    env = make_env(fhir_servers={ISSUER: (listener.url,)})
    case, assessment = case_and_assessment("bundled/cauda-equina")
    env.today.append(case.assessed_on)
    patient_id, prefetch = _prefetch("bundled/cauda-equina")
    observations = prefetch["observations"]["entry"]
    # The neurological findings behind the emergencies are only on the second page.
    neuro = [e for e in observations if "neuro." in json.dumps(e["resource"]["code"])]
    assert neuro
    prefetch["observations"] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": [{"relation": "next", "url": f"{listener.url}/Observation-page-2"}],
        "entry": [e for e in observations if e not in neuro],
    }
    listener.serve(
        "/Observation-page-2", {"resourceType": "Bundle", "type": "searchset", "entry": neuro}
    )
    body = patient_view(
        patient_id,
        prefetch=prefetch,
        fhirServer=listener.url,
        fhirAuthorization={"access_token": "ehr-token-1", "token_type": "Bearer"},
    )
    response = env.call(body)
    assert len(_critical(response)) == len(assessment["red_flags"])
    assert listener.paths() == ["/Observation-page-2"]


def test_more_pages_without_server_access_are_reported(env: Env) -> None:
    case, _ = case_and_assessment("bundled/cauda-equina")
    env.today.append(case.assessed_on)
    patient_id, prefetch = _prefetch("bundled/cauda-equina")
    prefetch["conditions"] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": [{"relation": "next", "url": "https://ehr.example.org/Condition?page=2"}],
    }
    response = env.call(patient_view(patient_id, prefetch=prefetch))
    assert _critical(response)
    assert "conditions: the searchset has more pages" in _left_out(response)


def _outcome(text: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "exception", "diagnostics": text}],
    }


def test_an_operation_outcome_prefetch_is_read_from_the_fhir_server(listener: Listener) -> None:
    env = make_env(fhir_servers={ISSUER: (listener.url,)})
    case, assessment = case_and_assessment("bundled/cauda-equina")
    env.today.append(case.assessed_on)
    patient_id, prefetch = _prefetch("bundled/cauda-equina")
    listener.serve("/Observation", prefetch["observations"])
    prefetch["observations"] = _outcome("prefetch timed out")
    body = patient_view(
        patient_id,
        prefetch=prefetch,
        fhirServer=listener.url,
        fhirAuthorization={"access_token": "ehr-token-1", "token_type": "Bearer"},
    )
    response = env.call(body)
    assert len(_critical(response)) == len(assessment["red_flags"])
    (received,) = listener.received
    assert received.path.startswith(f"/Observation?patient={patient_id}&category=")
    assert "&date=ge" in received.path  # bounded by date when read by SecondLook


def test_an_operation_outcome_prefetch_without_server_access_is_reported(env: Env) -> None:
    case, _ = case_and_assessment("bundled/cauda-equina")
    env.today.append(case.assessed_on)
    patient_id, prefetch = _prefetch("bundled/cauda-equina")
    prefetch["medicationRequests"] = _outcome("MedicationRequest search failed")
    response = env.call(patient_view(patient_id, prefetch=prefetch))
    assert _critical(response)  # not "no data": said, and the rest still assessed
    detail = _left_out(response)
    assert "could not prefetch medicationRequests" in detail
    assert "MedicationRequest search failed" in detail


# -- bodies ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 100_000])
def test_a_deeply_nested_body_is_400(env: Env, depth: int) -> None:
    nested = "[" * depth + "]" * depth
    text = '{"hook": "patient-view", "hookInstance": "x", "context": {"patientId": "p"}, '
    text += f'"prefetch": {{"x": {nested}}}}}'
    url = f"/cds-services/{SERVICE_ID}"
    headers = {**bearer(token(aud=SERVICE_BASE + url)), "Content-Type": "application/json"}
    response = env.client.post(url, content=text, headers=headers)
    assert response.status_code == 400, response.text
    assert "nests deeper" in response.json()["detail"]


def test_a_case_value_out_of_range_is_left_out_and_the_emergencies_still_shown(env: Env) -> None:
    case, assessment = case_and_assessment("bundled/cauda-equina")
    env.today.append(case.assessed_on)
    patient_id, prefetch = _prefetch("bundled/cauda-equina")
    _add(
        prefetch,
        "observations",
        {
            "resourceType": "Observation",
            "id": "weight-typo",
            "status": "final",
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "vital-signs",
                        }
                    ]
                }
            ],
            "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
            "subject": {"reference": f"Patient/{patient_id}"},
            "effectiveDateTime": str(case.assessed_on),
            "valueQuantity": {"value": -5, "unit": "kg", "system": "http://unitsofmeasure.org"},
        },
    )
    response = env.call(patient_view(patient_id, prefetch=prefetch))
    assert len(_critical(response)) == len(assessment["red_flags"])
    assert "$.patient.weight_kg" in _left_out(response)


# -- property: EHR-shaped data problems never lose a red flag or a safety alert ----------------

_FLAGGED = ["bundled/cauda-equina", "bundled/thoracic-sacroiliac"]
#: Prefetch keys that may fail (an OperationOutcome instead of the data); only those holding
#: nothing the red flags and alerts rest on are replaced (see the test).
_EXPENDABLE = [k for k in PREFETCH if k != "patient"]


def _broken(kind: str, n: int, patient_id: str) -> dict[str, Any]:
    subject = {"reference": f"Patient/{patient_id}"}
    if kind == "medication":
        return {
            "resourceType": "MedicationRequest",
            "id": f"broken-med-{n}",
            "status": "active",
            "intent": "order",
            "medicationReference": {"reference": f"Medication/absent-{n}"},
            "subject": subject,
        }
    if kind == "derived":
        return {
            "resourceType": "Observation",
            "id": f"broken-obs-{n}",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "44261-6"}]},
            "subject": subject,
            "valueQuantity": {"value": 3},
            "derivedFrom": [{"reference": f"urn:uuid:{uuid.UUID(int=n)}"}],
        }
    if kind == "report":
        return {
            "resourceType": "DiagnosticReport",
            "id": f"broken-report-{n}",
            "status": "final",
            "code": {"text": "CT lumbar spine"},
            "subject": subject,
            "result": [{"reference": f"Observation/absent-{n}"}],
        }
    return {  # about another patient
        "resourceType": "Condition",
        "id": f"other-patient-{n}",
        "code": {"text": "hypertension"},
        "subject": {"reference": f"Patient/someone-else-{n}"},
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(_FLAGGED),
    broken=st.lists(
        st.tuples(
            st.sampled_from(["medication", "derived", "report", "other-patient"]),
            st.sampled_from(
                ["medicationRequests", "observations", "diagnosticReports", "conditions"]
            ),
        ),
        max_size=6,
    ),
    failed=st.lists(st.sampled_from(_EXPENDABLE), unique=True, max_size=4),
    seed=st.randoms(use_true_random=False),
)
def test_data_problems_never_lose_a_red_flag_or_a_safety_alert(
    name: str, broken: list[tuple[str, str]], failed: list[str], seed: Any
) -> None:
    env = make_env()
    case, assessment = case_and_assessment(name)
    env.today.append(case.assessed_on)
    patient_id, prefetch = _prefetch(name)
    for n, (kind, key) in enumerate(broken):
        _add(prefetch, key, _broken(kind, n, patient_id))
    failed = [k for k in failed if prefetch[k] is None or k == "goals"]  # goals raise no flag
    for key in failed:
        prefetch[key] = _outcome(f"{key} timed out")
    for value in prefetch.values():  # the EHR's order is not ours
        if isinstance(value, dict) and isinstance(value.get("entry"), list):
            seed.shuffle(value["entry"])
    response = env.call(patient_view(patient_id, prefetch=prefetch))
    assert response.status_code == 200, response.text
    summaries = " | ".join(c["summary"] for c in response.json()["cards"])
    kb_names = {f.id: f.name for f in default_knowledge().red_flags}
    kb_names |= {a.id: a.name for a in default_knowledge().safety_alerts}
    for flag in assessment["red_flags"]:
        assert f"Red flag ({flag['urgency']}): {kb_names[flag['id']]}" in summaries
    for alert in assessment["safety_alerts"]:
        assert f"Safety alert: {kb_names[alert['id']]}" in summaries
    if broken or failed:
        assert "left out part of this patient's FHIR data" in summaries


def test_a_resource_about_another_patient_is_left_out_and_that_patient_never_read(
    listener: Listener,
) -> None:
    env = make_env(fhir_servers={ISSUER: (listener.url,)})
    case, assessment = case_and_assessment("bundled/cauda-equina")
    env.today.append(case.assessed_on)
    patient_id, prefetch = _prefetch("bundled/cauda-equina")
    _add(prefetch, "conditions", _broken("other-patient", 1, patient_id))
    listener.serve("/Patient/someone-else-1", {"resourceType": "Patient", "id": "someone-else-1"})
    body = patient_view(
        patient_id,
        prefetch=prefetch,
        fhirServer=listener.url,
        fhirAuthorization={"access_token": "ehr-token-1", "token_type": "Bearer"},
    )
    response = env.call(body)
    assert len(_critical(response)) == len(assessment["red_flags"])
    assert "Condition/other-patient-1" in _left_out(response)
    assert listener.received == []
