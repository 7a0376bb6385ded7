"""FHIR R4 export: a case and its assessment as one collection Bundle (docs/fhir.md, "Export").

Deterministic: every id is a UUID v5 of the case id (or, without one, of the case document),
the resource kind and its index, and every date comes from the case, so the same case and
assessment always export to the same Bundle. Every reference is an internal ``urn:uuid:``
reference to an entry of the Bundle. The case part (Patient, Procedure, Condition, Observation,
DiagnosticReport, QuestionnaireResponse, patient Goals) carries everything ``import_bundle``
needs to rebuild the case document exactly.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from collections.abc import Mapping
from typing import Any, Final

from secondlook.case.models import Case
from secondlook.fhir import codes as c
from secondlook.fhir.fields import FIELD_SECTIONS, RECORD_SECTIONS, encode, field_kind
from secondlook.instruments import INSTRUMENTS, score, score_total, to_fhir_questionnaire
from secondlook.instruments.fhir import canonical_url
from secondlook.instruments.model import Instrument
from secondlook.knowledge import default_knowledge

#: Namespace of the UUID v5 ids of exported resources.
NAMESPACE: Final = uuid.UUID("6f1d3c1e-2a57-5d0e-9b8e-5ec0d100c0de")
#: The instruments whose Questionnaire ships with SecondLook (their item text may ship).
SHIPPED_QUESTIONNAIRES: Final = ("nrs-pain", "phq-9", "gad-7")
SCORE_UNIT: Final = {"unit": "{score}", "system": c.UCUM, "code": "{score}"}
PRIORITY: Final = {"emergency": "stat", "urgent": "urgent", "routine": "routine"}
#: Case fields that are not field Observations (they live on Patient, Condition, Goal, ...).
_NOT_FIELD_OBSERVATIONS: Final = frozenset(
    {"patient.age", "patient.sex", "preferences.goals", "labs.date", *c.CONDITION_FIELDS}
)
_CATEGORY: Final = {
    "labs": "laboratory",
    "pain": "survey",
    "neuro": "exam",
    "systemic": "exam",
    "patient.height_cm": "vital-signs",
    "patient.weight_kg": "vital-signs",
    "patient.smoker": "social-history",
    "patient.work_status": "social-history",
}
_FUNCTIONAL_GOALS: Final = ("odi", "ndi", "nrs-pain")


def coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    found = {"system": system, "code": code}
    if display:
        found["display"] = display
    return found


def concept(*codings: dict[str, str], text: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"coding": list(codings)}
    if text:
        result["text"] = text
    return result


class _Bundle:
    """Collects entries; hands out deterministic ids."""

    def __init__(self, seed: str) -> None:
        self.seed = seed
        self.entries: list[dict[str, Any]] = []
        self._counters: defaultdict[str, int] = defaultdict(int)

    def new_id(self, kind: str) -> str:
        index = self._counters[kind]
        self._counters[kind] += 1
        return str(uuid.uuid5(NAMESPACE, f"{self.seed}/{kind}/{index}"))

    def add(self, kind: str, resource: dict[str, Any]) -> dict[str, str]:
        """Add a resource (its id assigned here); returns a Reference to it."""
        rid = self.new_id(kind)
        resource = {"resourceType": resource["resourceType"], "id": rid, **resource}
        self.entries.append({"fullUrl": f"urn:uuid:{rid}", "resource": resource})
        return {"reference": f"urn:uuid:{rid}"}


def export_bundle(case: Case, assessment: Mapping[str, Any]) -> dict[str, Any]:
    """The case and its assessment as a FHIR R4 collection Bundle (a JSON-ready dict)."""
    doc = case.to_document()
    seed = case.id or hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()
    out = _Bundle(seed)
    on = case.assessed_on.isoformat()
    ex = _Exporter(case, doc, assessment, out, on)
    ex.case_part()
    ex.assessment_part()
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid5(NAMESPACE, f"{seed}/bundle")),
        "type": "collection",
        "timestamp": f"{on}T00:00:00Z",
        "entry": out.entries,
    }
    if case.id:
        bundle["identifier"] = {"system": c.CASE_ID_SYSTEM, "value": case.id}
    return bundle


class _Exporter:
    def __init__(
        self,
        case: Case,
        doc: dict[str, Any],
        assessment: Mapping[str, Any],
        out: _Bundle,
        on: str,
    ) -> None:
        self.case = case
        self.doc = doc
        self.assessment = assessment
        self.out = out
        self.on = on
        self.patient: dict[str, str] = {}
        self.goals: list[dict[str, str]] = []
        self.procedures: list[dict[str, str]] = []
        self.kb = default_knowledge()

    # -- the case --------------------------------------------------------------------------

    def case_part(self) -> None:
        self._patient()
        self._header()
        self._surgeries()
        self._conditions()
        self._field_observations()
        self._records()
        self._imaging()
        self._questionnaires()
        self._patient_goals()

    def _patient(self) -> None:
        patient = self.case.patient
        resource: dict[str, Any] = {
            "resourceType": "Patient",
            # Age, not a birth date: SecondLook never invents a birthDate (docs/fhir.md).
            "extension": [
                {
                    "url": c.EXT_AGE,
                    "valueAge": {
                        "value": patient.age,
                        "unit": "a",
                        "system": c.UCUM,
                        "code": "a",
                    },
                }
            ],
        }
        if patient.sex is not None:
            resource["gender"] = patient.sex
        self.patient = self.out.add("Patient", resource)

    def _observation(
        self, code: dict[str, Any], effective: str | None, **more: Any
    ) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "resourceType": "Observation",
            "status": "final",
            "code": code,
            "subject": self.patient,
        }
        if effective:
            resource["effectiveDateTime"] = effective
        resource.update(more)
        return resource

    def _header(self) -> None:
        resource = self._observation(
            concept(coding(c.CASE_SYSTEM, c.CASE_HEADER_CODE), text="SecondLook case"),
            self.on,
            valueCodeableConcept=concept(coding(c.CASE_SYSTEM, self.case.region)),
        )
        if self.case.id:
            resource["identifier"] = [{"system": c.CASE_ID_SYSTEM, "value": self.case.id}]
        self.out.add("Observation", resource)

    def _surgeries(self) -> None:
        for surgery in self.doc["surgeries"]:
            procedure = surgery["procedure"]
            codings = [coding(c.CASE_SYSTEM, procedure)]
            if procedure in c.PROCEDURE_SNOMED:
                codings.append(coding(c.SNOMED, *c.PROCEDURE_SNOMED[procedure]))
            extension: list[dict[str, Any]] = [
                {"url": c.EXT_LEVEL, "valueString": level} for level in surgery.get("levels", [])
            ]
            if "side" in surgery:
                extension.append({"url": c.EXT_SIDE, "valueCode": surgery["side"]})
            if "instrumented" in surgery:
                extension.append(
                    {"url": c.EXT_INSTRUMENTED, "valueBoolean": surgery["instrumented"]}
                )
            if "fused_to_sacrum" in surgery:
                extension.append(
                    {"url": c.EXT_FUSED_TO_SACRUM, "valueBoolean": surgery["fused_to_sacrum"]}
                )
            levels = " ".join(surgery.get("levels", []))
            resource: dict[str, Any] = {
                "resourceType": "Procedure",
                "status": "completed",
                "code": concept(*codings, text=f"{procedure} {levels}".strip()),
                "subject": self.patient,
                # A partial date travels as FHIR's own partial date ("2015", "2015-04").
                "performedDateTime": surgery["date"][
                    : {"year": 4, "month": 7}.get(surgery.get("date_precision", ""), 10)
                ],
            }
            if extension:
                resource["extension"] = extension
            if "indication" in surgery:
                resource["reasonCode"] = [concept(coding(c.CASE_SYSTEM, surgery["indication"]))]
            if surgery.get("complications"):
                resource["complication"] = [
                    concept(coding(c.CASE_SYSTEM, comp)) for comp in surgery["complications"]
                ]
            elif "complications" in surgery:  # examined: none (not the same as unknown)
                resource["complication"] = [
                    concept(coding(c.CASE_SYSTEM, c.NO_COMPLICATIONS_CODE), text="none")
                ]
            self.procedures.append(self.out.add("Procedure", resource))

    def _conditions(self) -> None:
        for path, standard in c.CONDITION_FIELDS.items():
            section, key = path.split(".")
            value = self.doc.get(section, {}).get(key)
            if value is None:
                continue
            resource: dict[str, Any] = {
                "resourceType": "Condition",
                # present = confirmed and active; examined and absent = refuted (docs/fhir.md)
                "clinicalStatus": concept(
                    coding(c.CONDITION_CLINICAL, "active" if value else "inactive")
                ),
                "verificationStatus": concept(
                    coding(c.CONDITION_VERIFICATION, "confirmed" if value else "refuted")
                ),
                "category": [concept(coding(c.CONDITION_CATEGORY, "problem-list-item"))],
                "code": concept(
                    coding(c.CASE_SYSTEM, path), *(coding(*s) for s in standard), text=path
                ),
                "subject": self.patient,
            }
            self.out.add("Condition", resource)

    def _field_observations(self) -> None:
        for section, model in FIELD_SECTIONS.items():
            values = self.doc.get(section)
            if not isinstance(values, dict):
                continue
            effective = values.get("date", self.on) if section == "labs" else self.on
            only_date = section == "labs" and set(values) == {"date"}
            for key, value in values.items():
                path = f"{section}.{key}"
                if path in _NOT_FIELD_OBSERVATIONS and not (only_date and key == "date"):
                    continue
                kind = field_kind(model, key)
                if kind is None:
                    continue
                self.out.add("Observation", self._field(path, key, kind, value, effective))

    def _field(
        self, path: str, key: str, kind: tuple[Any, bool], value: Any, effective: str
    ) -> dict[str, Any]:
        codings = [
            coding(c.CASE_SYSTEM, path),
            *(coding(*s) for s in c.FIELD_CODINGS.get(path, ())),
        ]
        resource = self._observation(concept(*codings, text=path), effective)
        category = _CATEGORY.get(path) or _CATEGORY.get(path.split(".")[0])
        if category:
            resource["category"] = [concept(coding(c.OBSERVATION_CATEGORY, category))]
        sites = c.PAIN_BODY_SITE.get(path)
        if sites:
            resource["bodySite"] = concept(coding(c.SNOMED, *sites[self.case.region]))
        scalar, is_list = kind
        if path == "patient.smoker":
            resource["valueCodeableConcept"] = concept(coding(*c.SMOKER_EXPORT[bool(value)]))
        elif is_list:
            if value:
                resource["component"] = [
                    {"code": concept(coding(c.CASE_SYSTEM, path)), **encode(scalar, key, v)}
                    for v in value
                ]
        else:
            resource.update(encode(scalar, key, value))
        return resource

    def _records(self) -> None:
        for section, model in RECORD_SECTIONS.items():
            items = self.doc.get(section)
            if items is None:
                continue
            for item in items if isinstance(items, list) else [items]:
                components = []
                for key, value in item.items():
                    kind = field_kind(model, key)
                    if key == "date" or kind is None:
                        continue
                    components.append(
                        {
                            "code": concept(coding(c.CASE_SYSTEM, f"{section}.{key}")),
                            **encode(kind[0], key, value),
                        }
                    )
                resource = self._observation(
                    concept(coding(c.CASE_SYSTEM, section), text=section),
                    item.get("date"),
                    component=components,
                )
                self.out.add("Observation", resource)

    def _imaging(self) -> None:
        for study in self.doc.get("imaging", []):
            results = []
            for finding in study.get("findings", []):
                components: list[dict[str, Any]] = []
                if "level" in finding:
                    components.append(
                        {
                            "code": concept(coding(c.CASE_SYSTEM, "imaging.level")),
                            "valueString": finding["level"],
                        }
                    )
                if "side" in finding:
                    components.append(
                        {
                            "code": concept(coding(c.CASE_SYSTEM, "imaging.side")),
                            **encode("code", "side", finding["side"]),
                        }
                    )
                if "t_score" in finding:
                    components.append(
                        {
                            "code": concept(coding(c.CASE_SYSTEM, "imaging.t_score")),
                            **encode("float", "t_score", finding["t_score"]),
                        }
                    )
                resource = self._observation(
                    concept(coding(c.CASE_SYSTEM, c.IMAGING_FINDING_CODE), text="imaging finding"),
                    study["date"],
                    category=[concept(coding(c.OBSERVATION_CATEGORY, "imaging"))],
                    valueCodeableConcept=concept(coding(c.CASE_SYSTEM, finding["finding"])),
                )
                if components:
                    resource["component"] = components
                results.append(self.out.add("Observation", resource))
            report: dict[str, Any] = {
                "resourceType": "DiagnosticReport",
                "status": "final",
                "code": concept(coding(c.CASE_SYSTEM, study["modality"]), text=study["modality"]),
                "subject": self.patient,
                "effectiveDateTime": study["date"],
            }
            if results:
                report["result"] = results
            if study.get("findings_coded") is False:
                report["conclusionCode"] = [
                    concept(coding(c.CASE_SYSTEM, c.FINDINGS_NOT_CODED), text="findings not coded")
                ]
            if study.get("report"):
                report["conclusion"] = study["report"]
            self.out.add("DiagnosticReport", report)

    def _questionnaires(self) -> None:
        for q in self.doc.get("questionnaires", []):
            instrument = INSTRUMENTS[q["instrument"]]
            answers = q.get("answers")
            derived: list[dict[str, str]] = []
            if answers is not None:
                items = []
                for number, value in enumerate(answers, start=1):
                    if value is None:
                        continue
                    system, code = instrument.answer_coding(number, value)
                    items.append(
                        {
                            "linkId": str(number),
                            "answer": [{"valueCoding": coding(system, code)}],
                        }
                    )
                response: dict[str, Any] = {
                    "resourceType": "QuestionnaireResponse",
                    "questionnaire": canonical_url(instrument.id),
                    "status": "completed",
                    "subject": self.patient,
                    "authored": q["date"],
                }
                if items:
                    response["item"] = items
                derived.append(self.out.add("QuestionnaireResponse", response))
                result = score(instrument.id, answers)
                value, band = result.score, result.band
            else:
                value = q["score"]
                band = score_total(instrument.id, value).band
            self.out.add("Observation", self._score(instrument, q["date"], value, band, derived))

    def _score(
        self,
        instrument: Instrument,
        when: str,
        value: float | None,
        band: str | None,
        derived: list[dict[str, str]],
    ) -> dict[str, Any]:
        resource = self._observation(
            concept(score_coding(instrument), text=f"{instrument.name} score"),
            when,
            category=[concept(coding(c.OBSERVATION_CATEGORY, "survey"))],
        )
        if value is None:
            resource["dataAbsentReason"] = concept(coding(c.DATA_ABSENT_REASON, "unknown"))
        else:
            resource["valueQuantity"] = {"value": value, **SCORE_UNIT}
        if band:
            resource["interpretation"] = [{"text": band}]
        if derived:
            resource["derivedFrom"] = derived
        return resource

    def _patient_goals(self) -> None:
        for text in (self.doc.get("preferences") or {}).get("goals", []):
            goal = {
                "resourceType": "Goal",
                "lifecycleStatus": "proposed",
                "category": [concept(coding(c.GOAL_SYSTEM, c.PATIENT_GOAL_CODE))],
                "description": {"text": text},
                "subject": self.patient,
                "expressedBy": self.patient,
            }
            self.goals.append(self.out.add("Goal", goal))

    # -- the assessment --------------------------------------------------------------------

    def assessment_part(self) -> None:
        condition = self._classification()
        self._issues()
        requests = self._workup(condition)
        self._functional_goals()
        self._care_plan(condition, requests)
        for instrument_id in SHIPPED_QUESTIONNAIRES:
            questionnaire = to_fhir_questionnaire(instrument_id)
            questionnaire.pop("id", None)
            self.out.add("Questionnaire", questionnaire)
        self._provenance()

    def _name(self, records: Mapping[str, Any] | tuple[Any, ...], record_id: str) -> str:
        if isinstance(records, Mapping):
            record = records.get(record_id)
            return str(record.name) if record is not None else record_id
        for record in records:
            if record.id == record_id:
                return str(record.name)
        return record_id

    def _classification(self) -> dict[str, str]:
        found = self.assessment["classification"]
        codings = [coding(c.CONDITION_SYSTEM, found["condition"])]
        if self.case.region in ("lumbar", "thoracic"):
            codings.append(coding(c.ICD10CM, *c.ICD10_POST_LAMINECTOMY))
        if found.get("chronic"):
            codings.append(coding(c.ICD11, *c.ICD11_CHRONIC_POSTSURGICAL))
        resource: dict[str, Any] = {
            "resourceType": "Condition",
            "clinicalStatus": concept(coding(c.CONDITION_CLINICAL, "active")),
            "verificationStatus": concept(coding(c.CONDITION_VERIFICATION, "provisional")),
            "category": [concept(coding(c.CONDITION_CATEGORY, "encounter-diagnosis"))],
            "code": concept(*codings, text=found["condition"].replace("-", " ")),
            "subject": self.patient,
            "onsetDateTime": self.case.index_surgery.date.isoformat(),
            "recordedDate": self.on,
        }
        index = self.case.surgeries.index(self.case.index_surgery)
        resource["evidence"] = [{"detail": [self.procedures[index]]}]
        notes = [str(b) for b in found.get("because", [])]
        if notes:
            resource["note"] = [{"text": "\n".join(notes)}]
        return self.out.add("Condition", resource)

    def _issues(self) -> None:
        for flag in self.assessment.get("red_flags", []):
            self._issue(
                c.RED_FLAG_SYSTEM,
                flag["id"],
                self._name(self.kb.red_flags, flag["id"]),
                "high",
                f"{flag['urgency'].upper()}: {flag['action']}",
                flag.get("because", []),
                f"Red flag ({flag['urgency']}): {self._name(self.kb.red_flags, flag['id'])}",
            )
        for alert in self.assessment.get("safety_alerts", []):
            self._issue(
                c.SAFETY_ALERT_SYSTEM,
                alert["id"],
                self._name(self.kb.safety_alerts, alert["id"]),
                "high" if alert["id"] == "self-harm-risk" else "moderate",
                alert["action"],
                alert.get("because", []),
            )

    def _issue(
        self,
        system: str,
        issue_id: str,
        name: str,
        severity: str,
        detail: str,
        because: list[str],
        text: str | None = None,
    ) -> None:
        text = text or name
        resource: dict[str, Any] = {
            "resourceType": "DetectedIssue",
            "status": "final",
            "code": concept(coding(system, issue_id, name), text=text),
            "severity": severity,
            "patient": self.patient,
            "identifiedDateTime": self.on,
            "detail": detail,
        }
        if because:
            resource["evidence"] = [{"code": [{"text": str(b)}]} for b in because]
        self.out.add("DetectedIssue", resource)

    def _workup(self, condition: dict[str, str]) -> list[dict[str, str]]:
        requests = []
        for item in self.assessment.get("workup", []):
            name = self._name(self.kb.workup, item["id"])
            priority = PRIORITY[item["priority"]]
            request: dict[str, Any] = {
                "resourceType": "ServiceRequest",
                "status": "draft",
                "intent": "proposal",
                "priority": priority,
                "code": concept(coding(c.WORKUP_SYSTEM, item["id"], name), text=name),
                "subject": self.patient,
                "authoredOn": self.on,
                "reasonReference": [condition],
            }
            because = [str(b) for b in item.get("because", [])]
            if because:
                request["note"] = [{"text": "\n".join(because)}]
            ref = self.out.add("ServiceRequest", request)
            requests.append(ref)
            task = {
                "resourceType": "Task",
                "status": "requested",
                "intent": "proposal",
                "priority": priority,
                "description": name,
                "focus": ref,
                "for": self.patient,
                "authoredOn": self.on,
            }
            self.out.add("Task", task)
        return requests

    def _functional_goals(self) -> None:
        latest: dict[str, tuple[str, float]] = {}
        for entry in self.assessment.get("scores", []):
            if entry.get("instrument") in _FUNCTIONAL_GOALS and entry.get("score") is not None:
                when, value = str(entry["date"]), float(entry["score"])
                if entry["instrument"] not in latest or when >= latest[entry["instrument"]][0]:
                    latest[entry["instrument"]] = (when, value)
        for instrument_id in _FUNCTIONAL_GOALS:
            if instrument_id not in latest:
                continue
            instrument = INSTRUMENTS[instrument_id]
            change = instrument.meaningful_change
            if change is None:
                continue
            now = latest[instrument_id][1]
            target = now - change.points
            wording = f"at least {change.points:g} points"
            if change.percent is not None:
                target = max(target, now * (1 - change.percent / 100))
                wording += f" or {change.percent:g}%"
            target = max(round(target, 1), 0.0)
            text = (
                f"Lower the {instrument.name} by {wording} (from {now:g} to {target:g} or less), "
                "a change patients notice."
            )
            goal = {
                "resourceType": "Goal",
                "lifecycleStatus": "proposed",
                "category": [concept(coding(c.GOAL_SYSTEM, c.FUNCTIONAL_GOAL_CODE))],
                "description": {"text": text},
                "subject": self.patient,
                "target": [
                    {
                        "measure": concept(score_coding(instrument)),
                        "detailQuantity": {"value": target, "comparator": "<=", **SCORE_UNIT},
                    }
                ],
                "note": [{"text": change.citation}],
            }
            self.goals.append(self.out.add("Goal", goal))

    def _care_plan(self, condition: dict[str, str], requests: list[dict[str, str]]) -> None:
        activities: list[dict[str, Any]] = []
        for option in self.assessment.get("treatment_options", []):
            if option["recommendation"] not in ("recommended", "consider"):
                continue
            name = self._name(self.kb.treatments, option["id"])
            lines = [f"{option['recommendation'].capitalize()}."]
            lines += [f"Prerequisite: {p}" for p in option.get("prerequisites", [])]
            lines += [str(b) for b in option.get("because", [])]
            activities.append(
                {
                    "detail": {
                        "code": concept(coding(c.TREATMENT_SYSTEM, option["id"], name), text=name),
                        "status": "not-started",
                        "description": "\n".join(lines),
                    }
                }
            )
        activities += [{"reference": ref} for ref in requests]
        plan: dict[str, Any] = {
            "resourceType": "CarePlan",
            "status": "draft",
            "intent": "proposal",
            "title": "SecondLook proposal (for clinician review)",
            "subject": self.patient,
            "created": self.on,
            "addresses": [condition],
        }
        if self.goals:
            plan["goal"] = self.goals
        if activities:
            plan["activity"] = activities
        self.out.add("CarePlan", plan)

    def _provenance(self) -> None:
        engine = str(self.assessment.get("engine_version"))
        knowledge = str(self.assessment.get("knowledge_version"))
        device = self.out.add(
            "Device",
            {
                "resourceType": "Device",
                "deviceName": [{"name": "SecondLook", "type": "manufacturer-name"}],
                "version": [
                    {"type": {"text": "engine"}, "value": engine},
                    {"type": {"text": "knowledge base"}, "value": knowledge},
                ],
            },
        )
        targets = [{"reference": e["fullUrl"]} for e in self.out.entries]
        self.out.add(
            "Provenance",
            {
                "resourceType": "Provenance",
                "target": targets,
                "recorded": f"{self.on}T00:00:00Z",
                "agent": [
                    {
                        "type": concept(coding(c.PROVENANCE_AGENT_TYPE, "author")),
                        "who": device,
                    }
                ],
                "entity": [
                    {
                        "role": "source",
                        "what": {
                            "identifier": {"system": c.KNOWLEDGE_SYSTEM, "value": knowledge},
                            "display": f"SecondLook knowledge base {knowledge}, engine {engine}",
                        },
                    }
                ],
            },
        )


def score_coding(instrument: Instrument) -> dict[str, str]:
    """Coding of an instrument's total score: LOINC where one exists, else the local code."""
    if instrument.loinc_total:
        return coding(c.LOINC, instrument.loinc_total, f"{instrument.name} total score")
    return coding(instrument.code_system, instrument.code, f"{instrument.name} score")


def relative_references(bundle: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The resources of an exported Bundle with ``Type/id`` references instead of ``urn:uuid:``.

    The form a FHIR server stores them in (for a transaction to a server, or a test server).
    """
    by_url = {
        e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in bundle.get("entry", [])
    }

    def rewrite(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: by_url.get(v, v) if k == "reference" and isinstance(v, str) else rewrite(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [rewrite(v) for v in value]
        return value

    return [rewrite(e["resource"]) for e in bundle.get("entry", [])]
