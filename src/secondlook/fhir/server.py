"""The resources the FHIR REST API serves (docs/fhir.md, "REST API"), built from stored records.

A patient's resources are computed on every request from what the store holds, never stored:

- ``Patient``: the stored patient (name, MRN, birth date) with the sex and age of the current
  case version;
- from the **latest assessment**, exported with ``export_bundle`` together with the case version
  it was made from: the classification ``Condition``, ``DetectedIssue`` (red flags and safety
  alerts), ``ServiceRequest``, ``Task``, ``Goal``, the draft ``CarePlan``, ``Provenance``, and the
  case's ``QuestionnaireResponse`` and score ``Observation`` resources;
- from every **stored questionnaire response**: a ``QuestionnaireResponse``, its score
  ``Observation`` and one ``DetectedIssue`` per safety alert its answers raised;
- from every **plan the team decided**: a ``CarePlan`` (intent ``plan``, its version in
  ``meta.versionId``), a ``Task`` per care task, a ``Goal`` per goal and a ``Provenance``;
- ``Questionnaire``: the shipped instruments (not patient data).

Ids are deterministic, so the same records give the same ids on every call: ``{patient}`` for the
Patient, ``{patient}-a{assessment}-{n}`` for the n-th entry of the assessment's export,
``{patient}-q{response}`` (+ ``-score``, ``-alert-{n}``) for a stored questionnaire response,
``{patient}-p{plan}`` (+ ``-g{n}``, ``-provenance``) and ``{patient}-t{task}`` for a decided plan,
the instrument id for a Questionnaire. References are ``Type/id`` and resolve on this server; a
reference to something the server does not serve (the index Procedure, the SecondLook Device,
the case's field Observations) becomes a display-only Reference, and Provenance targets only
served resources.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from secondlook.case import parse_case
from secondlook.fhir import codes as c
from secondlook.fhir.exporter import (
    SCORE_UNIT,
    SHIPPED_QUESTIONNAIRES,
    coding,
    concept,
    export_bundle,
    relative_references,
    score_coding,
)
from secondlook.instruments import INSTRUMENTS, to_fhir_questionnaire
from secondlook.instruments.fhir import canonical_url
from secondlook.instruments.safety import ALERT_IDS, safety_text
from secondlook.knowledge import default_knowledge

#: Resource types the REST API serves, in CapabilityStatement order.
SERVED_TYPES: Final = (
    "Patient",
    "Condition",
    "DetectedIssue",
    "Observation",
    "QuestionnaireResponse",
    "Questionnaire",
    "CarePlan",
    "ServiceRequest",
    "Task",
    "Goal",
    "Provenance",
)
#: Types whose resources belong to one patient (searched with ``patient``).
PATIENT_TYPES: Final = tuple(t for t in SERVED_TYPES if t not in ("Patient", "Questionnaire"))
MRN_TYPE: Final = {
    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}],
    "text": "Medical record number",
}
_OWNED_ID: Final = re.compile(r"^([1-9][0-9]{0,9})(?:-[A-Za-z0-9\-.]{1,50})?$")


def patient_of(resource_id: str) -> int | None:
    """The patient a resource id belongs to (ids start with the patient id), or None."""
    found = _OWNED_ID.fullmatch(resource_id)
    if found is None:
        return None
    number = int(found.group(1))
    return number if number <= 2**31 - 1 else None


@dataclass(frozen=True)
class StoredQuestionnaire:
    """A stored questionnaire response (the columns the FHIR view needs)."""

    id: int
    instrument: str
    answered_on: dt.date
    answers: Sequence[int | None]
    score: float | None
    band: str | None
    alerts: Sequence[str]
    created_at: dt.datetime


@dataclass(frozen=True)
class StoredTask:
    """A stored care task of a plan (the columns the FHIR view needs)."""

    id: int
    name: str
    owner: str
    owner_label: str
    person: str | None
    due: dt.date
    status: str
    status_on: dt.date | None
    status_reason: str | None
    plan_item_id: str | None
    updated_at: dt.datetime


@dataclass(frozen=True)
class StoredPlan:
    """A plan the team decided, as stored: its current version's decisions and goals, and its
    care tasks."""

    id: int
    status: str
    closed_as: str | None
    plan_version: int
    decided_on: dt.date
    decided_by: str
    start_on: dt.date
    closed_on: dt.date | None
    closed_reason: str | None
    entries: Sequence[Mapping[str, Any]]
    goals: Sequence[Mapping[str, Any]]
    updated_at: dt.datetime
    tasks: Sequence[StoredTask] = field(default_factory=tuple)


@dataclass(frozen=True)
class PatientRecords:
    """What the store holds for one patient."""

    patient_id: int
    name: str
    mrn: str | None
    birth_date: dt.date | None
    updated_at: dt.datetime
    #: The identifier system of the MRN (the configured ``SECONDLOOK_MRN_SYSTEM``).
    mrn_system: str | None = None
    #: The current case version's document (for sex and age), if any.
    case: Mapping[str, Any] | None = None
    case_created_at: dt.datetime | None = None
    #: The latest assessment: its id, document, creation time and the case document it assessed.
    assessment_id: int | None = None
    assessment: Mapping[str, Any] | None = None
    assessment_created_at: dt.datetime | None = None
    assessed_case: Mapping[str, Any] | None = None
    questionnaires: Sequence[StoredQuestionnaire] = field(default_factory=tuple)
    #: The team's plans (drafts too), oldest first.
    plans: Sequence[StoredPlan] = field(default_factory=tuple)


def instant(moment: dt.datetime) -> str:
    """A FHIR instant (UTC, milliseconds)."""
    moment = moment.astimezone(dt.UTC) if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _meta(moment: dt.datetime | None) -> dict[str, Any]:
    return {"meta": {"lastUpdated": instant(moment)}} if moment is not None else {}


def patient_resource(records: PatientRecords) -> dict[str, Any]:
    """The Patient: identity from the store, sex and age from the current case version."""
    updated = records.updated_at
    if records.case_created_at is not None and records.case_created_at > updated:
        updated = records.case_created_at
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(records.patient_id),
        **_meta(updated),
    }
    person = (records.case or {}).get("patient")
    if isinstance(person, Mapping) and isinstance(person.get("age"), int | float):
        resource["extension"] = [
            {
                "url": c.EXT_AGE,
                "valueAge": {"value": person["age"], "unit": "a", "system": c.UCUM, "code": "a"},
            }
        ]
    if records.mrn:
        identifier: dict[str, Any] = {"use": "usual", "type": MRN_TYPE}
        if records.mrn_system:
            identifier["system"] = records.mrn_system
        resource["identifier"] = [{**identifier, "value": records.mrn}]
    resource["active"] = True
    resource["name"] = [{"text": records.name}]
    if isinstance(person, Mapping) and person.get("sex") in ("female", "male", "other", "unknown"):
        resource["gender"] = person["sex"]
    if records.birth_date is not None:
        resource["birthDate"] = records.birth_date.isoformat()
    return resource


def questionnaire_resources() -> list[dict[str, Any]]:
    """The shipped instruments' Questionnaires (id = instrument id)."""
    return [to_fhir_questionnaire(instrument_id) for instrument_id in SHIPPED_QUESTIONNAIRES]


def patient_resources(records: PatientRecords) -> list[dict[str, Any]]:
    """Every resource of the patient the API serves (Patient first), in a stable order."""
    found = [patient_resource(records)]
    found += _assessment_resources(records)
    for stored in records.questionnaires:
        found += _stored_questionnaire(records.patient_id, stored)
    for plan in records.plans:
        found += _stored_plan(records.patient_id, plan)
    return found


# -- the team's stored plans --------------------------------------------------------------------

#: A stored plan's status as a FHIR CarePlan status: a plan closed before completion (discharged,
#: or replaced by a new plan) was ended early, which FHIR calls ``revoked``.
_PLAN_STATUS: Final = {
    "draft": "draft",
    "active": "active",
    "completed": "completed",
    "discharged": "revoked",
}
#: A goal's lifecycle follows its plan's.
_GOAL_STATUS: Final = {
    "draft": "proposed",
    "active": "active",
    "completed": "completed",
    "discharged": "cancelled",
}


def _stored_plan(patient_id: int, plan: StoredPlan) -> list[dict[str, Any]]:
    """The team's plan as a CarePlan (intent ``plan``, its version in ``meta.versionId``): each
    accepted item's tasks as Task activities, each rejected item as a cancelled activity with
    the reason; its goals as Goals; a Provenance naming who decided it."""
    subject = {"reference": f"Patient/{patient_id}"}
    prefix = f"{patient_id}-p{plan.id}"
    plan_ref = {"reference": f"CarePlan/{prefix}"}
    meta = {"meta": {"lastUpdated": instant(plan.updated_at), "versionId": str(plan.plan_version)}}
    entries = {str(e["item"]["id"]): e for e in plan.entries}
    out: list[dict[str, Any]] = []
    goals: list[dict[str, str]] = []
    for index, goal in enumerate(plan.goals):
        goal_id = f"{prefix}-g{index + 1}"
        target: dict[str, Any] = {"dueDate": str(goal["target_on"])}
        instrument = INSTRUMENTS.get(str(goal.get("instrument")))
        if instrument is not None:
            target["measure"] = concept(score_coding(instrument))
        kind = c.PATIENT_GOAL_CODE if goal.get("kind") == "patient" else c.FUNCTIONAL_GOAL_CODE
        resource: dict[str, Any] = {
            "resourceType": "Goal",
            "id": goal_id,
            **_meta(plan.updated_at),
            "lifecycleStatus": _GOAL_STATUS.get(plan.status, "active"),
            "category": [concept(coding(c.GOAL_SYSTEM, kind))],
            "description": {"text": str(goal["text"])},
            "subject": subject,
            "startDate": plan.decided_on.isoformat(),
            "target": [target],
        }
        if goal.get("citation"):
            resource["note"] = [{"text": str(goal["citation"])}]
        out.append(resource)
        goals.append({"reference": f"Goal/{goal_id}"})
    tasks: list[dict[str, str]] = []
    for task in plan.tasks:
        entry = entries.get(task.plan_item_id or "")
        resource = {
            "resourceType": "Task",
            "id": f"{patient_id}-t{task.id}",
            **_meta(task.updated_at),
            "basedOn": [plan_ref],
            "status": task.status,
            "intent": "plan",
            "description": task.name,
            "for": subject,
            "authoredOn": plan.decided_on.isoformat(),
            "lastModified": instant(task.updated_at),
            "owner": subject
            if task.owner == "patient"
            else {"display": task.person or task.owner_label},
            "restriction": {"period": {"end": task.due.isoformat()}},
        }
        if task.status_on is not None and task.status in ("in-progress",):
            resource["executionPeriod"] = {"start": task.status_on.isoformat()}
        elif task.status_on is not None and task.status in ("completed", "failed", "cancelled"):
            resource["executionPeriod"] = {"end": task.status_on.isoformat()}
        if task.status_reason:
            resource["statusReason"] = {"text": task.status_reason}
        if entry is not None:
            why = [str(entry["item"]["name"])]
            if entry.get("reason"):
                why.append(f"decided: {entry['reason']}")
            resource["reasonCode"] = {"text": "; ".join(why)}
        out.append(resource)
        tasks.append({"reference": f"Task/{resource['id']}"})
    activities: list[dict[str, Any]] = [{"reference": t} for t in tasks]
    for entry in plan.entries:
        if entry.get("action") != "reject":
            continue
        item = entry["item"]
        system = c.WORKUP_SYSTEM if item.get("kind") == "workup" else c.TREATMENT_SYSTEM
        detail: dict[str, Any] = {
            "code": concept(
                coding(system, str(item.get("ref") or item["id"]), str(item["name"])),
                text=str(item["name"]),
            ),
            "status": "cancelled",
            "doNotPerform": True,
            "description": f"Not in the plan ({item.get('recommendation')})",
        }
        if entry.get("reason"):
            detail["statusReason"] = {"text": str(entry["reason"])}
        activities.append({"detail": detail})
    care_plan: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": prefix,
        **meta,
        "status": _PLAN_STATUS.get(plan.status, "unknown"),
        "intent": "plan",
        "title": f"Care plan, version {plan.plan_version}",
        "subject": subject,
        "period": {"start": plan.start_on.isoformat()}
        | ({"end": plan.closed_on.isoformat()} if plan.closed_on else {}),
        "created": plan.decided_on.isoformat(),
        "author": {"display": plan.decided_by},
    }
    if goals:
        care_plan["goal"] = goals
    if activities:
        care_plan["activity"] = activities
    if plan.closed_reason:
        closed = plan.closed_as or plan.status
        care_plan["note"] = [
            {"text": f"Closed ({closed}) on {plan.closed_on}: {plan.closed_reason}"}
        ]
    provenance = {
        "resourceType": "Provenance",
        "id": f"{prefix}-provenance",
        **_meta(plan.updated_at),
        "target": [plan_ref, *goals, *tasks],
        "occurredDateTime": plan.decided_on.isoformat(),
        "recorded": instant(plan.updated_at),
        "agent": [
            {
                "type": concept(coding(c.PROVENANCE_AGENT_TYPE, "author")),
                "who": {"display": plan.decided_by},
            }
        ],
    }
    return [care_plan, *out, provenance]


# -- the latest assessment ----------------------------------------------------------------------


def _is_served(resource: Mapping[str, Any]) -> bool:
    kind = resource["resourceType"]
    if kind == "Condition":  # the classification, not the case's yes/no facts
        return any(cd.get("system") == c.CONDITION_SYSTEM for cd in resource["code"]["coding"])
    if kind == "Observation":  # instrument scores, not the case's field Observations
        return not any(cd.get("system") == c.CASE_SYSTEM for cd in resource["code"]["coding"])
    return kind in PATIENT_TYPES


def _display(resource: Mapping[str, Any]) -> str:
    kind = str(resource["resourceType"])
    if kind == "Device":
        versions = ", ".join(
            f"{v.get('type', {}).get('text', 'version')} {v.get('value')}"
            for v in resource.get("version", [])
        )
        return f"SecondLook ({versions})" if versions else "SecondLook"
    code = resource.get("code")
    text = code.get("text") if isinstance(code, Mapping) else None
    when = resource.get("performedDateTime") or resource.get("effectiveDateTime")
    described = " ".join(str(p) for p in (kind, text, when) if p)
    return f"{described} (not served by this FHIR endpoint)"


def _assessment_resources(records: PatientRecords) -> list[dict[str, Any]]:
    if records.assessment is None or records.assessed_case is None:
        return []
    bundle = export_bundle(parse_case(dict(records.assessed_case)), records.assessment)
    relative = relative_references(bundle)
    prefix = f"{records.patient_id}-a{records.assessment_id}"
    targets: dict[str, str | None] = {}  # "Type/uuid" -> "Type/rest id" (None: not served)
    displays: dict[str, str] = {}
    for index, resource in enumerate(relative):
        old = f"{resource['resourceType']}/{resource['id']}"
        if resource["resourceType"] == "Patient":
            targets[old] = f"Patient/{records.patient_id}"
        elif resource["resourceType"] == "Questionnaire":
            instrument = str(resource.get("url", "")).rsplit("/", 1)[-1]
            targets[old] = f"Questionnaire/{instrument}"
        elif _is_served(resource):
            targets[old] = f"{resource['resourceType']}/{prefix}-{index}"
        else:
            targets[old] = None
            displays[old] = _display(resource)
    served = []
    for index, resource in enumerate(relative):
        if resource["resourceType"] in ("Patient", "Questionnaire") or not _is_served(resource):
            continue
        rewritten = _rewrite(resource, targets, displays)
        rewritten["id"] = f"{prefix}-{index}"
        if rewritten["resourceType"] == "Provenance":
            rewritten["target"] = [t for t in rewritten["target"] if "reference" in t]
        served.append(
            {
                "resourceType": rewritten.pop("resourceType"),
                "id": rewritten.pop("id"),
                **_meta(records.assessment_created_at),
                **rewritten,
            }
        )
    return served


def _rewrite(value: Any, targets: Mapping[str, str | None], displays: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str) and ref in targets:
            new = targets[ref]
            if new is None:
                return {"display": displays[ref]}
            return {**value, "reference": new}
        return {k: _rewrite(v, targets, displays) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, targets, displays) for v in value]
    return value


# -- stored questionnaire responses -------------------------------------------------------------


def _stored_questionnaire(patient_id: int, stored: StoredQuestionnaire) -> list[dict[str, Any]]:
    instrument = INSTRUMENTS.get(stored.instrument)
    if instrument is None:  # an instrument no longer shipped: nothing SecondLook can code
        return []
    subject = {"reference": f"Patient/{patient_id}"}
    base = f"{patient_id}-q{stored.id}"
    meta = _meta(stored.created_at)
    items = []
    for number, value in enumerate(stored.answers, start=1):
        if value is None:
            continue
        system, code = instrument.answer_coding(number, int(value))
        items.append({"linkId": str(number), "answer": [{"valueCoding": coding(system, code)}]})
    response: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": base,
        **meta,
        "questionnaire": canonical_url(instrument.id),
        "status": "completed",
        "subject": subject,
        "authored": stored.answered_on.isoformat(),
    }
    if items:
        response["item"] = items
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"{base}-score",
        **meta,
        "status": "final",
        "category": [concept(coding(c.OBSERVATION_CATEGORY, "survey"))],
        "code": concept(score_coding(instrument), text=f"{instrument.name} score"),
        "subject": subject,
        "effectiveDateTime": stored.answered_on.isoformat(),
    }
    if stored.score is None:
        observation["dataAbsentReason"] = concept(coding(c.DATA_ABSENT_REASON, "unknown"))
    else:
        observation["valueQuantity"] = {"value": stored.score, **SCORE_UNIT}
    if stored.band:
        observation["interpretation"] = [{"text": stored.band}]
    observation["derivedFrom"] = [{"reference": f"QuestionnaireResponse/{base}"}]
    found = [response, observation]
    names = {a.id: a.name for a in default_knowledge().safety_alerts}
    for n, alert in enumerate(stored.alerts):
        name = names.get(alert, alert)
        found.append(
            {
                "resourceType": "DetectedIssue",
                "id": f"{base}-alert-{n}",
                **meta,
                "status": "final",
                "code": concept(coding(c.SAFETY_ALERT_SYSTEM, alert, name), text=name),
                "severity": "high" if alert == "self-harm-risk" else "moderate",
                "patient": subject,
                "identifiedDateTime": instant(stored.created_at),
                "implicated": [{"reference": f"QuestionnaireResponse/{base}"}],
                "detail": safety_text(alert).clinician if alert in ALERT_IDS else name,
                "evidence": [
                    {
                        "detail": [{"reference": f"Observation/{base}-score"}],
                        "code": [{"text": f"{instrument.name} answered on {stored.answered_on}"}],
                    }
                ],
            }
        )
    return found
