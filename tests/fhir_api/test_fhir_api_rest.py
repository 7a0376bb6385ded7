"""FHIR R4 REST API (/fhir): CapabilityStatement, read and search of the resources SecondLook
derives from its stored records, valid R4 (official JSON schema and R4B models), stable ids,
authorization per role, audit, and OperationOutcome for every error."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B import get_fhir_model_class

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fhir"))
from fhir_support import assert_valid_fhir, fhir_schema, schema_errors

from secondlook.api.routes.fhir import DEFAULT_BASE_URL
from secondlook.examples import load_examples
from secondlook.fhir import codes as c
from secondlook.fhir.server import PATIENT_TYPES, SERVED_TYPES

if TYPE_CHECKING:
    from conftest import World

__all__ = ["fhir_schema"]

FHIR_JSON = "application/fhir+json"
CALLERS = (
    "clinician",
    "coordinator",
    "patient",
    "other_patient",
    "admin",
    "anonymous",
    "beta_clinician",
    "beta_admin",
)
# The same rule as the rest of the API's reads of a patient's records.
READ = {
    "clinician": 200,
    "coordinator": 200,
    "patient": 200,
    "other_patient": 404,
    "admin": 403,
    "anonymous": 401,
    "beta_clinician": 404,
    "beta_admin": 403,
}


def headers(world: World, who: str) -> dict[str, str]:
    return {} if who == "anonymous" else world.auth(who)


def fhir_get(client: TestClient, world: World, url: str, who: str = "clinician", **kw: Any) -> Any:
    return client.get(url, headers=headers(world, who), **kw)


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == FHIR_JSON
    body: dict[str, Any] = response.json()
    return body


def outcome(response: Any, status: int, validator: jsonschema.protocols.Validator) -> str:
    """The response is an OperationOutcome with `status`; returns its first issue code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == FHIR_JSON
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert schema_errors(validator, body) == []
    get_fhir_model_class("OperationOutcome").model_validate(body)
    assert body["issue"][0]["severity"] in ("error", "fatal")
    assert body["issue"][0]["diagnostics"]
    return str(body["issue"][0]["code"])


@pytest.fixture(scope="module")
def rich_patient(app: Any, world: World) -> Iterator[int]:
    """A patient of alpha with a case (red flag, safety alerts, PHQ-9), an assessment and a
    stored PHQ-9 whose item 9 is positive."""
    case = dict(load_examples()["thoracic-sacroiliac"])
    with TestClient(app) as client:
        auth = world.auth("clinician")
        made = client.post(
            "/api/v1/patients",
            json={
                "name": "Fhir Rich",
                "mrn": f"MRN-{uuid.uuid4().hex[:8]}",
                "birth_date": "1961-03-04",
            },
            headers=auth,
        )
        assert made.status_code == 201, made.text
        patient_id = int(made.json()["id"])
        base = f"/api/v1/patients/{patient_id}"
        put = client.put(f"{base}/case", json=case, headers={**auth, "If-None-Match": "*"})
        assert put.status_code == 201, put.text
        assert client.post(f"{base}/assessments", headers=auth).status_code == 201
        answered = client.post(
            f"{base}/questionnaires",
            json={"instrument": "phq-9", "answers": [1, 1, 1, 1, 1, 1, 1, 1, 2]},
            headers=auth,
        )
        assert answered.status_code == 201, answered.text
        assert answered.json()["alerts"] == ["self-harm-risk"]
        yield patient_id


@pytest.fixture(scope="module")
def scored_patient(app: Any, world: World) -> int:
    """A patient of alpha whose case has ODI, PHQ-9 and NRS scores and goals (functional and
    patient Goals), assessed."""
    return _assessed_patient(app, world, "recurrent-disc")


def _assessed_patient(app: Any, world: World, example: str) -> int:
    with TestClient(app) as client:
        auth = world.auth("clinician")
        made = client.post("/api/v1/patients", json={"name": example}, headers=auth)
        patient_id = int(made.json()["id"])
        base = f"/api/v1/patients/{patient_id}"
        case = dict(load_examples()[example])
        put = client.put(f"{base}/case", json=case, headers={**auth, "If-None-Match": "*"})
        assert put.status_code == 201, put.text
        assert client.post(f"{base}/assessments", headers=auth).status_code == 201
        return patient_id


@pytest.fixture(scope="module")
def patient_one_with_goals(app: Any, world: World, patient_one_records: int) -> int:
    """Patient one (the `patient` user's record) gets a case version with goals and is assessed
    again, so that every served type exists for the role tests."""
    with TestClient(app) as client:
        auth = world.auth("clinician")
        base = f"/api/v1/patients/{world.patient_one}"
        current = client.get(f"{base}/case", headers=auth)
        document = {**current.json()["document"], "preferences": {"goals": ["Walk again"]}}
        put = client.put(
            f"{base}/case", json=document, headers={**auth, "If-Match": current.headers["ETag"]}
        )
        assert put.status_code == 201, put.text
        assessed = client.post(f"{base}/assessments", headers=auth)
        assert assessed.status_code == 201, assessed.text
        return int(assessed.json()["id"])


def search_all(
    client: TestClient, world: World, kind: str, patient_id: int, who: str = "clinician"
) -> list[dict[str, Any]]:
    bundle = ok(fhir_get(client, world, f"/fhir/{kind}", who, params={"patient": patient_id}))
    return [e["resource"] for e in bundle.get("entry", [])]


# -- CapabilityStatement ------------------------------------------------------------------------


def test_metadata_is_a_public_valid_capability_statement_of_exactly_what_is_served(
    client: TestClient, fhir_schema: jsonschema.protocols.Validator
) -> None:
    statement = ok(client.get("/fhir/metadata"))
    # The fhir.schema.json of the npm package is the R4 4.0.0 build: its FHIRVersion value set
    # ends at 4.0.0. R4 is 4.0.1 (technical correction), which is what the statement must say,
    # so exactly that one complaint is expected and everything else must validate.
    schema = fhir_schema.schema
    assert isinstance(schema, dict)
    definitions = schema["definitions"]
    only = type(fhir_schema)(
        {"$ref": "#/definitions/CapabilityStatement", "definitions": definitions}
    )
    errors = schema_errors(only, statement)
    assert len(errors) == 1, errors
    assert errors[0].startswith("fhirVersion: '4.0.1' is not one of [")
    assert "'4.0.0'" in errors[0]
    assert schema_errors(fhir_schema, {**statement, "fhirVersion": "4.0.0"}) == []
    get_fhir_model_class("CapabilityStatement").model_validate(statement)
    assert statement["fhirVersion"] == "4.0.1"
    assert statement["kind"] == "instance"
    rest = statement["rest"][0]
    assert rest["mode"] == "server"
    assert "Bearer" in rest["security"]["description"]
    assert "Not SMART" in rest["security"]["description"]
    assert [r["type"] for r in rest["resource"]] == list(SERVED_TYPES)
    for resource in rest["resource"]:
        assert [i["code"] for i in resource["interaction"]] == ["read", "search-type"]
        names = {p["name"] for p in resource["searchParam"]}
        assert {"_id", "_count", "_offset"} <= names
        if resource["type"] in PATIENT_TYPES:
            assert "patient" in names


# -- valid FHIR, stable ids, references ---------------------------------------------------------


@pytest.mark.parametrize("kind", SERVED_TYPES)
def test_every_served_resource_is_valid_fhir_r4_and_reads_back_identically(
    kind: str,
    client: TestClient,
    world: World,
    rich_patient: int,
    scored_patient: int,
    patient_one_records: int,
    fhir_schema: jsonschema.protocols.Validator,
) -> None:
    found_any = False
    for patient_id in (rich_patient, scored_patient, world.patient_one):
        params: dict[str, Any] = {} if kind == "Questionnaire" else {"patient": patient_id}
        if kind == "Patient":
            params = {"_id": patient_id}
        bundle = ok(fhir_get(client, world, f"/fhir/{kind}", params=params))
        assert bundle["type"] == "searchset"
        assert bundle["total"] == len(bundle.get("entry", []))
        assert_valid_fhir(fhir_schema, bundle)
        for entry in bundle.get("entry", []):
            resource = entry["resource"]
            assert resource["resourceType"] == kind
            # the configured base URL, not the request's Host (testserver)
            assert entry["fullUrl"] == f"{DEFAULT_BASE_URL}/fhir/{kind}/{resource['id']}"
            assert ok(fhir_get(client, world, f"/fhir/{kind}/{resource['id']}")) == resource
            found_any = True
        again = ok(fhir_get(client, world, f"/fhir/{kind}", params=params))
        assert again.get("entry") == bundle.get("entry")
    assert found_any, f"no {kind} served"


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if isinstance(value.get("reference"), str):
            yield value["reference"]
        for item in value.values():
            yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def test_every_reference_in_a_served_resource_resolves_on_the_server(
    client: TestClient, world: World, rich_patient: int
) -> None:
    references: set[str] = set()
    for kind in PATIENT_TYPES:
        for resource in search_all(client, world, kind, rich_patient):
            references.update(_references(resource))
    assert f"Patient/{rich_patient}" in references
    assert "Questionnaire/phq-9" in references  # the Provenance names the shipped instruments
    for reference in sorted(references):
        assert "urn:uuid" not in reference
        ok(fhir_get(client, world, f"/fhir/{reference}"))


def test_the_patient_carries_the_stored_identity_and_the_case_s_sex_and_age(
    client: TestClient, world: World, rich_patient: int
) -> None:
    patient = ok(fhir_get(client, world, f"/fhir/Patient/{rich_patient}"))
    stored = fhir_get(client, world, f"/api/v1/patients/{rich_patient}").json()
    case = load_examples()["thoracic-sacroiliac"]["patient"]
    assert patient["name"] == [{"text": "Fhir Rich"}]
    assert patient["birthDate"] == "1961-03-04"
    assert patient["identifier"][0]["value"] == stored["mrn"]
    assert patient["gender"] == case["sex"]
    assert patient["extension"][0]["valueAge"]["value"] == case["age"]
    by_mrn = ok(fhir_get(client, world, "/fhir/Patient", params={"identifier": stored["mrn"]}))
    assert [e["resource"]["id"] for e in by_mrn["entry"]] == [str(rich_patient)]


def test_a_patient_user_finds_only_their_own_patient(
    client: TestClient, world: World, patient_one_records: int
) -> None:
    own = ok(fhir_get(client, world, "/fhir/Patient", "patient"))
    assert [e["resource"]["id"] for e in own["entry"]] == [str(world.patient_one)]
    assert own["total"] == 1
    staff = ok(fhir_get(client, world, "/fhir/Patient", "clinician", params={"_count": 200}))
    ids = {e["resource"]["id"] for e in staff["entry"]}
    assert {str(world.patient_one), str(world.patient_two)} <= ids
    assert str(world.beta_patient) not in ids


# -- what the resources say ---------------------------------------------------------------------


def test_red_flags_and_safety_alerts_of_the_stored_assessment_are_detected_issues(
    client: TestClient, world: World, rich_patient: int
) -> None:
    assessments = fhir_get(client, world, f"/api/v1/patients/{rich_patient}/assessments").json()
    stored = fhir_get(
        client,
        world,
        f"/api/v1/patients/{rich_patient}/assessments/{assessments['items'][-1]['id']}",
    ).json()["document"]
    issues = search_all(client, world, "DetectedIssue", rich_patient)
    by_system: dict[str, list[str]] = {}
    for issue in issues:
        for coded in issue["code"]["coding"]:
            by_system.setdefault(coded["system"], []).append(coded["code"])
    flags = [f["id"] for f in stored["red_flags"]]
    alerts = [a["id"] for a in stored["safety_alerts"]]
    assert flags == ["fracture"]
    assert "self-harm-risk" in alerts
    assert by_system[c.RED_FLAG_SYSTEM] == flags
    # the assessment's alerts, then the one the stored PHQ-9 raised
    assert by_system[c.SAFETY_ALERT_SYSTEM] == [*alerts, "self-harm-risk"]
    flag = next(i for i in issues if i["code"]["coding"][0]["system"] == c.RED_FLAG_SYSTEM)
    assert flag["severity"] == "high"
    assert flag["patient"] == {"reference": f"Patient/{rich_patient}"}
    from_answers = [i for i in issues if i["id"].endswith("-alert-0")]
    assert len(from_answers) == 1
    assert from_answers[0]["severity"] == "high"
    assert from_answers[0]["implicated"][0]["reference"].startswith("QuestionnaireResponse/")


def test_scores_are_observations_derived_from_their_questionnaire_responses(
    client: TestClient, world: World, rich_patient: int
) -> None:
    observations = search_all(client, world, "Observation", rich_patient)
    responses = {r["id"] for r in search_all(client, world, "QuestionnaireResponse", rich_patient)}
    assert len(observations) == 2  # the case's PHQ-9 and the stored one
    for observation in observations:
        assert observation["valueQuantity"]["code"] == "{score}"
        assert observation["code"]["coding"][0]["system"] == "http://loinc.org"
        assert observation["code"]["coding"][0]["code"] == "44261-6"  # PHQ-9 total score
        (source,) = observation["derivedFrom"]
        assert source["reference"].removeprefix("QuestionnaireResponse/") in responses


def test_the_draft_care_plan_comes_from_the_latest_assessment(
    client: TestClient, world: World, rich_patient: int
) -> None:
    (plan,) = search_all(client, world, "CarePlan", rich_patient)
    assert (plan["status"], plan["intent"]) == ("draft", "proposal")
    condition = search_all(client, world, "Condition", rich_patient)
    assert [plan["addresses"][0]["reference"]] == [f"Condition/{condition[0]['id']}"]
    requests = {
        f"ServiceRequest/{r['id']}"
        for r in search_all(client, world, "ServiceRequest", rich_patient)
    }
    activity_refs = {
        a["reference"]["reference"] for a in plan.get("activity", []) if "reference" in a
    }
    assert activity_refs == requests
    tasks = search_all(client, world, "Task", rich_patient)
    assert {t["focus"]["reference"] for t in tasks} == requests
    (provenance,) = search_all(client, world, "Provenance", rich_patient)
    targets = {t["reference"] for t in provenance["target"]}
    assert f"CarePlan/{plan['id']}" in targets
    assert "display" in provenance["agent"][0]["who"]


def test_a_new_assessment_replaces_the_served_assessment_resources(
    client: TestClient, world: World, case_document: dict[str, Any]
) -> None:
    auth = world.auth("clinician")
    patient_id = int(
        client.post("/api/v1/patients", json={"name": "Twice"}, headers=auth).json()["id"]
    )
    base = f"/api/v1/patients/{patient_id}"
    client.put(f"{base}/case", json=case_document, headers={**auth, "If-None-Match": "*"})
    first = client.post(f"{base}/assessments", headers=auth).json()["id"]
    before = search_all(client, world, "DetectedIssue", patient_id)
    assert before and all(f"-a{first}-" in i["id"] for i in before)
    second = client.post(f"{base}/assessments", headers=auth).json()["id"]
    after = search_all(client, world, "DetectedIssue", patient_id)
    assert [i["code"] for i in after] == [i["code"] for i in before]
    assert all(f"-a{second}-" in i["id"] for i in after)
    response = fhir_get(client, world, f"/fhir/DetectedIssue/{before[0]['id']}")
    assert response.status_code == 404


# -- paging -------------------------------------------------------------------------------------


def test_search_pages_with_total_and_next_and_previous_links(
    client: TestClient, world: World, rich_patient: int
) -> None:
    everything = search_all(client, world, "DetectedIssue", rich_patient)
    assert len(everything) >= 3
    url: str | None = f"/fhir/DetectedIssue?patient={rich_patient}&_count=2"
    seen: list[dict[str, Any]] = []
    pages = 0
    while url:
        page = ok(fhir_get(client, world, url))
        assert page["total"] == len(everything)
        assert len(page["entry"]) <= 2
        seen += [e["resource"] for e in page["entry"]]
        assert all(link["url"].startswith(DEFAULT_BASE_URL) for link in page["link"])
        links = {link["relation"]: link["url"] for link in page["link"]}
        assert "self" in links
        assert ("previous" in links) == (pages > 0)
        url = links.get("next")
        pages += 1
    assert seen == everything
    assert pages == -(-len(everything) // 2)


# -- errors -------------------------------------------------------------------------------------


def test_bad_requests_are_operation_outcomes(
    client: TestClient,
    world: World,
    rich_patient: int,
    fhir_schema: jsonschema.protocols.Validator,
) -> None:
    p = rich_patient

    def check(
        url: str, status: int, code: str, who: str = "clinician", method: str = "GET"
    ) -> None:
        response = client.request(method, url, headers=headers(world, who))
        assert outcome(response, status, fhir_schema) == code, url

    check(f"/fhir/DetectedIssue/{p}-a999999-0", 404, "not-found")
    check("/fhir/DetectedIssue/not-an-id", 404, "not-found")
    check("/fhir/Questionnaire/odi", 404, "not-found")  # licensed text does not ship
    check("/fhir/Patient/99999999", 404, "not-found")
    check("/fhir/Medication/1", 404, "not-supported")
    check("/fhir/Medication?patient=1", 404, "not-supported")
    check(f"/fhir/DetectedIssue?patient={p}&code=fracture", 400, "not-supported")
    check("/fhir/Patient?name=Rich", 400, "not-supported")
    check("/fhir/DetectedIssue", 400, "required")
    check(f"/fhir/DetectedIssue?patient={p}&_count=0", 400, "value")
    check(f"/fhir/DetectedIssue?patient={p}&_offset=-1", 400, "value")
    check(f"/fhir/DetectedIssue?patient={p}&patient={p}", 400, "invalid")
    check(f"/fhir/DetectedIssue?patient={p}&_format=xml", 406, "not-supported")
    check(f"/fhir/Patient/{p}/_history", 404, "not-found")
    check(f"/fhir/Patient/{p}", 405, "not-supported", method="DELETE")
    check(f"/fhir/Patient/{p}", 401, "login", who="anonymous")
    check(f"/fhir/Patient/{p}", 403, "forbidden", who="admin")
    check(f"/fhir/Patient/{p}", 404, "not-found", who="other_patient")
    check(f"/fhir/DetectedIssue?patient={p}", 404, "not-found", who="beta_clinician")
    response = client.get(f"/fhir/Patient/{p}")
    assert response.headers["www-authenticate"].startswith("Bearer")
    unknown = client.get(
        f"/fhir/DetectedIssue?patient={p}&code=x", headers=world.auth("clinician")
    ).json()
    assert unknown["issue"][0]["expression"] == ["code"]
    assert "unknown search parameter 'code'" in unknown["issue"][0]["diagnostics"]


def test_a_search_by_id_alone_finds_the_resource_or_nothing(
    client: TestClient, world: World, rich_patient: int
) -> None:
    issue = search_all(client, world, "DetectedIssue", rich_patient)[0]
    found = ok(fhir_get(client, world, "/fhir/DetectedIssue", params={"_id": issue["id"]}))
    assert [e["resource"] for e in found["entry"]] == [issue]
    nothing = ok(fhir_get(client, world, "/fhir/DetectedIssue", params={"_id": "no-such"}))
    assert nothing["total"] == 0
    assert "entry" not in nothing  # FHIR arrays are never empty


# -- authorization and audit --------------------------------------------------------------------


def _read_url(client: TestClient, world: World, kind: str) -> str:
    if kind == "Patient":
        return f"/fhir/Patient/{world.patient_one}"
    if kind == "Questionnaire":
        return "/fhir/Questionnaire/phq-9"
    found = search_all(client, world, kind, world.patient_one)
    assert found, kind
    return f"/fhir/{kind}/{found[0]['id']}"


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("kind", SERVED_TYPES)
def test_read_and_search_of_every_type_follow_the_api_s_roles(
    kind: str,
    caller: str,
    client: TestClient,
    world: World,
    patient_one_with_goals: int,
    fhir_schema: jsonschema.protocols.Validator,
) -> None:
    expected = dict(READ)
    if kind == "Questionnaire":  # definitions, not patient data
        expected = {who: 401 if who == "anonymous" else 200 for who in CALLERS}
    search_url = f"/fhir/{kind}?patient={world.patient_one}"
    if kind == "Patient":
        search_url = f"/fhir/Patient?_id={world.patient_one}"
    elif kind == "Questionnaire":
        search_url = "/fhir/Questionnaire"
    read = fhir_get(client, world, _read_url(client, world, kind), caller)
    if expected[caller] == 200:
        assert ok(read)["resourceType"] == kind
    else:
        outcome(read, expected[caller], fhir_schema)
    found = fhir_get(client, world, search_url, caller)
    if kind == "Patient" and expected[caller] == 404:
        # a Patient search matching nobody you can see is an empty Bundle
        assert ok(found)["total"] == 0
    elif expected[caller] == 200:
        bundle = ok(found)
        assert bundle["total"] >= 1
        assert {e["resource"]["resourceType"] for e in bundle["entry"]} == {kind}
    else:
        outcome(found, expected[caller], fhir_schema)


def _events(client: TestClient, world: World, patient_id: int) -> list[dict[str, Any]]:
    response = client.get(
        "/api/v1/audit",
        params={"patient_id": patient_id, "limit": 200},
        headers=world.auth("admin"),
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_fhir_reads_and_searches_are_audited_including_refusals(
    client: TestClient, world: World, rich_patient: int
) -> None:
    before = len(_events(client, world, rich_patient))
    issue = search_all(client, world, "DetectedIssue", rich_patient, "coordinator")[0]
    ok(fhir_get(client, world, f"/fhir/DetectedIssue/{issue['id']}", "clinician"))
    fhir_get(client, world, f"/fhir/Patient/{rich_patient}", "other_patient")
    fhir_get(client, world, f"/fhir/Patient/{rich_patient}", "admin")
    fhir_get(client, world, f"/fhir/DetectedIssue/{rich_patient}-a1-999", "clinician")
    trail = _events(client, world, rich_patient)[before:]
    assert [(e["action"], e["actor_role"], e["outcome"], e["status"]) for e in trail] == [
        ("fhir.search", "coordinator", "success", 200),
        ("fhir.read", "clinician", "success", 200),
        ("fhir.read", "patient", "denied", 404),
        ("fhir.read", "admin", "denied", 403),
        ("fhir.read", "clinician", "failed", 404),
    ]
    assert trail[0]["resource"] == "GET /fhir/DetectedIssue"
    assert trail[1]["resource"] == f"GET /fhir/DetectedIssue/{issue['id']}"


# -- searching: _summary, _total, _sort, subject, POST _search --------------------------------


def test_summary_count_gives_the_total_without_entries(
    client: TestClient, world: World, rich_patient: int, fhir_schema: jsonschema.protocols.Validator
) -> None:
    everything = search_all(client, world, "DetectedIssue", rich_patient)
    counted = ok(
        fhir_get(
            client,
            world,
            "/fhir/DetectedIssue",
            params={"patient": rich_patient, "_summary": "count"},
        )
    )
    assert counted["total"] == len(everything) >= 3
    assert "entry" not in counted
    assert [link["relation"] for link in counted["link"]] == ["self"]
    assert_valid_fhir(fhir_schema, counted)
    patients = ok(fhir_get(client, world, "/fhir/Patient", params={"_summary": "count"}))
    assert patients["total"] >= 2 and "entry" not in patients


def test_total_none_leaves_the_total_out(
    client: TestClient, world: World, rich_patient: int
) -> None:
    bundle = ok(
        fhir_get(
            client, world, "/fhir/DetectedIssue", params={"patient": rich_patient, "_total": "none"}
        )
    )
    assert "total" not in bundle and bundle["entry"]
    accurate = ok(
        fhir_get(
            client,
            world,
            "/fhir/DetectedIssue",
            params={"patient": rich_patient, "_total": "accurate"},
        )
    )
    assert accurate["total"] == len(accurate["entry"])
    response = fhir_get(
        client, world, "/fhir/DetectedIssue", params={"patient": rich_patient, "_total": "many"}
    )
    assert response.status_code == 400


def test_sort_orders_by_id_and_date_both_ways(
    client: TestClient, world: World, rich_patient: int
) -> None:
    def ids(kind: str, sort: str) -> list[str]:
        bundle = ok(
            fhir_get(
                client, world, f"/fhir/{kind}", params={"patient": rich_patient, "_sort": sort}
            )
        )
        return [e["resource"]["id"] for e in bundle["entry"]]

    ascending = ids("DetectedIssue", "_id")
    assert ids("DetectedIssue", "-_id") == ascending[::-1]
    numbers = [int(i.rsplit("-", 1)[-1]) for i in ascending if "-alert-" not in i]
    assert numbers == sorted(numbers)  # 2 before 10
    bundle = ok(
        fhir_get(
            client, world, "/fhir/Observation", params={"patient": rich_patient, "_sort": "-date"}
        )
    )
    dates = [e["resource"]["effectiveDateTime"] for e in bundle["entry"]]
    assert dates == sorted(dates, reverse=True)
    patients = ok(fhir_get(client, world, "/fhir/Patient", params={"_sort": "-_id", "_count": 200}))
    numbers = [int(e["resource"]["id"]) for e in patients["entry"]]
    assert numbers == sorted(numbers, reverse=True)
    unknown = fhir_get(
        client, world, "/fhir/Observation", params={"patient": rich_patient, "_sort": "code"}
    )
    assert unknown.status_code == 400
    assert unknown.json()["issue"][0]["expression"] == ["_sort"]


def test_subject_is_the_same_as_patient(
    client: TestClient, world: World, rich_patient: int
) -> None:
    by_patient = ok(fhir_get(client, world, "/fhir/Condition", params={"patient": rich_patient}))
    by_subject = ok(
        fhir_get(client, world, "/fhir/Condition", params={"subject": f"Patient/{rich_patient}"})
    )
    assert by_subject["entry"] == by_patient["entry"]
    both = fhir_get(
        client, world, "/fhir/Condition", params={"subject": rich_patient, "patient": rich_patient}
    )
    assert both.status_code == 400


def test_post_search_with_a_form_body_finds_the_same(
    client: TestClient, world: World, rich_patient: int
) -> None:
    by_get = ok(
        fhir_get(
            client, world, "/fhir/DetectedIssue", params={"patient": rich_patient, "_count": 2}
        )
    )
    by_post = client.post(
        "/fhir/DetectedIssue/_search",
        content=f"patient={rich_patient}&_count=2",
        headers={**world.auth("clinician"), "Content-Type": "application/x-www-form-urlencoded"},
    )
    posted = ok(by_post)
    assert posted["entry"] == by_get["entry"]
    assert posted["total"] == by_get["total"]
    links = {link["relation"]: link["url"] for link in posted["link"]}
    assert links["next"].startswith(f"{DEFAULT_BASE_URL}/fhir/DetectedIssue?")  # the GET form
    assert f"patient={rich_patient}" in links["next"]
    patients = client.post(
        "/fhir/Patient/_search",
        data={"_id": str(rich_patient)},
        headers=world.auth("clinician"),
    )
    assert [e["resource"]["id"] for e in ok(patients)["entry"]] == [str(rich_patient)]
    as_json = client.post(
        "/fhir/Patient/_search", json={"_id": rich_patient}, headers=world.auth("clinician")
    )
    assert as_json.status_code == 415
    assert as_json.json()["resourceType"] == "OperationOutcome"
    anonymous = client.post("/fhir/Patient/_search", data={"_id": str(rich_patient)})
    assert anonymous.status_code == 401


def test_xml_is_refused_with_406_and_an_operation_outcome(
    client: TestClient, world: World, rich_patient: int, fhir_schema: jsonschema.protocols.Validator
) -> None:
    for url in (f"/fhir/Patient/{rich_patient}", f"/fhir/Condition?patient={rich_patient}"):
        response = client.get(
            url, headers={**world.auth("clinician"), "Accept": "application/fhir+xml"}
        )
        assert outcome(response, 406, fhir_schema) == "not-supported"
    metadata = client.get("/fhir/metadata", headers={"Accept": "application/fhir+xml"})
    assert outcome(metadata, 406, fhir_schema) == "not-supported"
    either = client.get(
        f"/fhir/Patient/{rich_patient}",
        headers={
            **world.auth("clinician"),
            "Accept": "application/fhir+xml, application/fhir+json;q=0.8",
        },
    )
    assert ok(either)["resourceType"] == "Patient"


def test_the_mrn_carries_the_configured_identifier_system(
    client: TestClient, world: World, rich_patient: int
) -> None:
    patient = ok(fhir_get(client, world, f"/fhir/Patient/{rich_patient}"))
    (identifier,) = patient["identifier"]
    assert identifier["system"] == f"{DEFAULT_BASE_URL}/fhir/sid/mrn"
    value = identifier["value"]
    found = ok(
        fhir_get(
            client, world, "/fhir/Patient", params={"identifier": f"{identifier['system']}|{value}"}
        )
    )
    assert [e["resource"]["id"] for e in found["entry"]] == [str(rich_patient)]
    other = ok(
        fhir_get(client, world, "/fhir/Patient", params={"identifier": f"https://payer|{value}"})
    )
    assert other["total"] == 0


def test_the_host_header_is_not_trusted_for_full_urls_and_links(
    client: TestClient, world: World, rich_patient: int
) -> None:
    bundle = ok(
        client.get(
            f"/fhir/DetectedIssue?patient={rich_patient}&_count=1",
            headers={**world.auth("clinician"), "Host": "attacker.example"},
        )
    )
    text = json.dumps(bundle)
    assert "attacker.example" not in text
    assert bundle["entry"][0]["fullUrl"].startswith(f"{DEFAULT_BASE_URL}/fhir/")
    assert all(link["url"].startswith(f"{DEFAULT_BASE_URL}/fhir/") for link in bundle["link"])


def test_the_base_url_comes_from_the_configuration(
    engine: Any, monkeypatch: pytest.MonkeyPatch, world: World, rich_patient: int
) -> None:
    from secondlook.api.app import SettingInvalid, create_app

    monkeypatch.setenv("SECONDLOOK_BASE_URL", "https://secondlook.hospital.example/")
    monkeypatch.setenv("SECONDLOOK_MRN_SYSTEM", "urn:oid:1.2.3.4.5")
    with TestClient(create_app(engine)) as configured:
        bundle = ok(fhir_get(configured, world, "/fhir/Patient", params={"_id": rich_patient}))
        statement = ok(configured.get("/fhir/metadata"))
    assert bundle["entry"][0]["fullUrl"] == (
        f"https://secondlook.hospital.example/fhir/Patient/{rich_patient}"
    )
    assert bundle["entry"][0]["resource"]["identifier"][0]["system"] == "urn:oid:1.2.3.4.5"
    assert statement["implementation"]["url"] == "https://secondlook.hospital.example/fhir"
    monkeypatch.setenv("SECONDLOOK_BASE_URL", "secondlook.hospital.example")
    with pytest.raises(SettingInvalid, match="SECONDLOOK_BASE_URL"):
        create_app(engine)
