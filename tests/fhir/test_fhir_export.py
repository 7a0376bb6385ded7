"""FHIR export: valid R4 (official JSON schema and R4B models), deterministic, self-contained."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

# The helpers sit beside the tests; the project runs pytest in importlib mode and may skip
# conftest.py (--noconftest), so the folder is put on the path here.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from fhir_support import (
    EXAMPLES,
    ROOT,
    SHARED_EXAMPLES,
    assert_valid_fhir,
    case_and_assessment,
    fhir_schema,
    schema_errors,
)

from secondlook.fhir import codes as c
from secondlook.fhir import export_bundle

__all__ = ["fhir_schema"]

NAMES = sorted(EXAMPLES)


def exported(name: str) -> dict[str, Any]:
    case, assessment = case_and_assessment(name)
    return export_bundle(case, assessment)


def resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def codes_of(concept: dict[str, Any]) -> set[tuple[str, str]]:
    return {(cd["system"], cd["code"]) for cd in concept.get("coding", [])}


@pytest.mark.parametrize("name", NAMES)
def test_every_example_exports_valid_fhir_r4(
    name: str, fhir_schema: jsonschema.protocols.Validator
) -> None:
    assert_valid_fhir(fhir_schema, exported(name))


def test_the_schema_check_catches_an_invalid_resource(
    fhir_schema: jsonschema.protocols.Validator,
) -> None:
    bundle = exported(NAMES[0])
    broken = copy.deepcopy(bundle["entry"][0]["resource"])
    broken["gender"] = "robot"
    assert schema_errors(fhir_schema, broken)
    task = copy.deepcopy(resources(bundle, "Task")[0])
    task["status"] = 7
    assert schema_errors(fhir_schema, task)


@pytest.mark.parametrize("name", NAMES)
def test_export_is_deterministic(name: str) -> None:
    assert exported(name) == exported(name)


@pytest.mark.parametrize("name", NAMES)
def test_every_reference_is_internal_and_resolves(name: str) -> None:
    bundle = exported(name)
    urls = {e["fullUrl"] for e in bundle["entry"]}
    assert all(u.startswith("urn:uuid:") for u in urls)
    assert len(urls) == len(bundle["entry"])

    def refs(value: object) -> list[str]:
        if isinstance(value, dict):
            found = [value["reference"]] if isinstance(value.get("reference"), str) else []
            return found + [r for v in value.values() for r in refs(v)]
        if isinstance(value, list):
            return [r for v in value for r in refs(v)]
        return []

    every = refs(bundle)
    assert every
    assert set(every) <= urls
    for entry in bundle["entry"]:
        assert entry["fullUrl"] == f"urn:uuid:{entry['resource']['id']}"


@pytest.mark.parametrize("name", NAMES)
def test_every_red_flag_and_safety_alert_is_a_detected_issue(name: str) -> None:
    _, assessment = case_and_assessment(name)
    issues = resources(exported(name), "DetectedIssue")
    flags = {(c.RED_FLAG_SYSTEM, f["id"]) for f in assessment["red_flags"]}
    alerts = {(c.SAFETY_ALERT_SYSTEM, a["id"]) for a in assessment["safety_alerts"]}
    found = [codes_of(i["code"]) for i in issues]
    assert len(issues) == len(flags) + len(alerts)
    for wanted in flags | alerts:
        assert any(wanted in f for f in found), wanted
    for issue, flag in zip(issues, assessment["red_flags"], strict=False):
        assert issue["severity"] == "high"
        assert flag["action"] in issue["detail"]
        assert [e["code"][0]["text"] for e in issue["evidence"]] == flag["because"]


def test_an_example_with_red_flags_and_alerts_is_covered() -> None:
    """The examples include red flags and safety alerts (else the tests above prove little)."""
    flags = sum(len(case_and_assessment(n)[1]["red_flags"]) for n in NAMES)
    alerts = sum(len(case_and_assessment(n)[1]["safety_alerts"]) for n in NAMES)
    assert flags >= 3
    assert alerts >= 2


@pytest.mark.parametrize("name", NAMES)
def test_workup_items_become_service_requests_with_tasks(name: str) -> None:
    _, assessment = case_and_assessment(name)
    bundle = exported(name)
    requests = resources(bundle, "ServiceRequest")
    tasks = resources(bundle, "Task")
    assert [r["code"]["coding"][0]["code"] for r in requests] == [
        w["id"] for w in assessment["workup"]
    ]
    priority = {"emergency": "stat", "urgent": "urgent", "routine": "routine"}
    assert [r["priority"] for r in requests] == [
        priority[w["priority"]] for w in assessment["workup"]
    ]
    assert len(tasks) == len(requests)
    for task, request in zip(tasks, requests, strict=True):
        assert task["status"] == "requested"
        assert task["focus"]["reference"] == f"urn:uuid:{request['id']}"


@pytest.mark.parametrize("name", NAMES)
def test_care_plan_is_a_draft_proposal_of_the_recommended_options(name: str) -> None:
    _, assessment = case_and_assessment(name)
    (plan,) = resources(exported(name), "CarePlan")
    assert (plan["status"], plan["intent"]) == ("draft", "proposal")
    proposed = [a["detail"]["code"]["coding"][0]["code"] for a in plan["activity"] if "detail" in a]
    assert proposed == [
        t["id"]
        for t in assessment["treatment_options"]
        if t["recommendation"] in ("recommended", "consider")
    ]


@pytest.mark.parametrize("name", NAMES)
def test_patient_has_age_but_no_invented_birth_date(name: str) -> None:
    case, _ = case_and_assessment(name)
    (patient,) = resources(exported(name), "Patient")
    assert "birthDate" not in patient
    (age,) = [e for e in patient["extension"] if e["url"] == c.EXT_AGE]
    assert age["valueAge"]["value"] == case.patient.age


@pytest.mark.parametrize("name", NAMES)
def test_classification_condition_carries_icd_codes(name: str) -> None:
    case, assessment = case_and_assessment(name)
    (condition,) = [
        r
        for r in resources(exported(name), "Condition")
        if any(cd["system"] == c.CONDITION_SYSTEM for cd in r["code"]["coding"])
    ]
    found = codes_of(condition["code"])
    assert (c.CONDITION_SYSTEM, assessment["classification"]["condition"]) in found
    assert ((c.ICD10CM, "M96.1") in found) == (case.region in ("lumbar", "thoracic"))
    assert ((c.ICD11, "MG30.21") in found) == bool(assessment["classification"]["chronic"])


@pytest.mark.parametrize("name", NAMES)
def test_score_observations_are_derived_from_the_questionnaire_response(name: str) -> None:
    case, _ = case_and_assessment(name)
    bundle = exported(name)
    responses = {f"urn:uuid:{r['id']}" for r in resources(bundle, "QuestionnaireResponse")}
    scores = [
        o
        for o in resources(bundle, "Observation")
        if o.get("category", [{}])[0].get("coding", [{}])[0].get("code") == "survey"
        and "valueQuantity" in o
        and o["valueQuantity"].get("code") == "{score}"
    ]
    answered = [q for q in case.questionnaires or [] if q.answers is not None]
    assert len(responses) == len(answered)
    derived = [o for o in scores if "derivedFrom" in o]
    assert len(derived) == len(answered)
    for observation in scores:
        assert observation["valueQuantity"]["system"] == "http://unitsofmeasure.org"
        assert all(d["reference"] in responses for d in observation.get("derivedFrom", []))


def test_loinc_where_it_exists_local_code_otherwise() -> None:
    bundle = exported("bundled/recurrent-disc")
    codings = [
        cd
        for o in resources(bundle, "Observation")
        if o.get("valueQuantity", {}).get("code") == "{score}"
        for cd in o["code"]["coding"]
    ]
    systems = {cd["code"]: cd["system"] for cd in codings}
    assert systems["44261-6"] == c.LOINC  # PHQ-9 total
    assert systems["72514-3"] == c.LOINC  # NRS pain
    assert systems["odi"] == "https://secondlook.example/fhir/CodeSystem/instrument"


def test_functional_goals_follow_the_published_meaningful_change() -> None:
    bundle = exported("bundled/recurrent-disc")  # ODI 44, NRS 8
    goals = {
        g["target"][0]["measure"]["coding"][0]["code"]: g
        for g in resources(bundle, "Goal")
        if "target" in g
    }
    assert goals["odi"]["target"][0]["detailQuantity"]["value"] == 34
    assert goals["72514-3"]["target"][0]["detailQuantity"]["value"] == 6  # 8-2 beats 30%
    assert "Ostelo" in goals["odi"]["note"][0]["text"]
    patient_goals = [g for g in resources(bundle, "Goal") if "target" not in g]
    case, _ = case_and_assessment("bundled/recurrent-disc")
    assert [g["description"]["text"] for g in patient_goals] == (case.preferences.goals or [])  # type: ignore[union-attr]
    (plan,) = resources(bundle, "CarePlan")
    assert len(plan["goal"]) == len(resources(bundle, "Goal"))


def test_ndi_goal_is_five_points() -> None:
    bundle = exported("bundled/cervical-nonunion")  # NDI 20
    (goal,) = [g for g in resources(bundle, "Goal") if "target" in g]
    assert goal["target"][0]["detailQuantity"]["value"] == 15


@pytest.mark.parametrize("name", NAMES)
def test_provenance_names_versions_and_targets_everything(name: str) -> None:
    _, assessment = case_and_assessment(name)
    bundle = exported(name)
    (provenance,) = resources(bundle, "Provenance")
    (device,) = resources(bundle, "Device")
    targets = {t["reference"] for t in provenance["target"]}
    others = {e["fullUrl"] for e in bundle["entry"] if e["resource"] is not provenance}
    assert targets == others
    assert provenance["agent"][0]["who"]["reference"] == f"urn:uuid:{device['id']}"
    versions = {v["value"] for v in device["version"]}
    assert versions == {assessment["engine_version"], assessment["knowledge_version"]}
    assert assessment["knowledge_version"] in provenance["entity"][0]["what"]["display"]


def test_shipped_questionnaires_are_in_the_bundle() -> None:
    urls = {q["url"] for q in resources(exported(NAMES[0]), "Questionnaire")}
    assert urls == {
        "https://secondlook.example/fhir/Questionnaire/nrs-pain",
        "https://secondlook.example/fhir/Questionnaire/phq-9",
        "https://secondlook.example/fhir/Questionnaire/gad-7",
    }


@pytest.mark.parametrize("name", [n for n in NAMES if n.startswith("shared/")])
def test_shared_examples_expected_red_flags_are_detected_issues(name: str) -> None:
    expect = json.loads((SHARED_EXAMPLES / f"{name.removeprefix('shared/')}.json").read_text())[
        "expect"
    ]
    found = {
        cd["code"]
        for issue in resources(exported(name), "DetectedIssue")
        for cd in issue["code"]["coding"]
        if cd["system"] == c.RED_FLAG_SYSTEM
    }
    assert found >= set(expect.get("red_flags", []))
    if expect.get("no_red_flags"):
        assert found == set()


def test_the_schema_script_fails_loudly_when_it_cannot_fetch(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "FHIR_SCHEMA_CACHE_DIR": str(tmp_path),
        "npm_config_registry": "http://127.0.0.1:9/",
        "npm_config_fetch_retries": "0",
    }
    done = subprocess.run(
        [str(ROOT / "scripts" / "fetch-fhir-schema")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert done.returncode != 0
    assert "failed" in done.stderr
    assert not (tmp_path / "fhir.schema.json").exists()
