"""FHIR R4 import: a Bundle becomes a case document plus the list of what could not be mapped.

``import_bundle`` never drops data silently: every resource, and every element of a resource
that did not make it into the case document, is listed in ``ImportResult.unmapped`` with the
reason. A bundle that cannot be read at all (not a Bundle, malformed entries, unknown resource
types, references to resources that are not in the bundle) raises :class:`BundleInvalid`, which
carries an OperationOutcome; nothing else escapes. docs/fhir.md has the mapping tables.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any, TypeGuard

from secondlook.case import CaseInvalid, Problem, parse_case
from secondlook.fhir import codes as c
from secondlook.fhir.fields import (
    FIELD_SECTIONS,
    RECORD_SECTIONS,
    ValueProblem,
    codings,
    concept_text,
    date_part,
    decode,
    field_kind,
    local_code,
)
from secondlook.fhir.outcome import BundleInvalid, Issue, Unmapped, operation_outcome
from secondlook.instruments import INSTRUMENTS, LOCAL_CODE_SYSTEM, AnswersInvalid
from secondlook.instruments.fhir import questionnaire_response_answers

#: Bundle types SecondLook reads. A searchset is what a FHIR server (and CDS Hooks prefetch)
#: returns; history and the *-response types describe operations, not a patient.
READABLE_BUNDLE_TYPES = ("collection", "transaction", "batch", "searchset", "document", "message")
#: References whose target must be in the bundle even when ``strict_references`` is off: the
#: ones the mapping follows.
FOLLOWED_REFERENCES = ("subject", "patient", "derivedFrom", "result", "medicationReference")
#: Medication statuses that count as current use.
CURRENT_MEDICATION = ("active", "intended", "on-hold")


@dataclass
class ImportResult:
    """What ``import_bundle`` made of a bundle.

    ``case``: the case document (a dict for ``parse_case``). ``unmapped``: each item of the
    bundle that is not in the case, with why. ``problems``: what keeps ``case`` from being a
    valid case document (``parse_case`` problems, e.g. no surgery); empty when it is valid.
    """

    case: dict[str, Any]
    unmapped: list[Unmapped] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def outcome(self) -> dict[str, Any]:
        """An OperationOutcome: one error per problem, one information issue per unmapped item."""
        issues = [
            Issue("error", "required" if "missing" in p.message else "invalid", _text(p), p.path)
            for p in self.problems
        ]
        issues += [u.as_issue() for u in self.unmapped]
        return operation_outcome(issues)


def _text(problem: Problem) -> str:
    return problem.message + (f" ({problem.hint})" if problem.hint else "")


def import_bundle(
    bundle: object,
    *,
    assessed_on: date | None = None,
    region: str | None = None,
    case_id: str | None = None,
    strict_references: bool = True,
    today: Callable[[], date] = date.today,
) -> ImportResult:
    """Map a FHIR R4 Bundle to a case document (see the module docstring and docs/fhir.md).

    ``assessed_on`` and ``region`` override what the bundle says (SecondLook's case
    Observation); without either, ``assessed_on`` is today and the region comes from the
    surgery levels or the spine diagnoses. With ``strict_references`` (the default) every
    reference must resolve inside the bundle; without it (CDS Hooks prefetch, which never holds
    Encounters or Practitioners) only the references the mapping follows must.
    """
    entries = _entries(bundle)
    index = _Index(entries)
    try:
        index.check_references(strict_references)
    except RecursionError:
        raise BundleInvalid(
            [Issue("error", "too-costly", "the bundle is nested too deeply to be read")]
        ) from None
    builder = _Builder(index, assessed_on, region, case_id, today)
    try:
        builder.run()
    except MemoryError:
        raise
    except BundleInvalid:
        raise
    except Exception as error:  # a mapping bug must not become a 500: say where it happened
        raise BundleInvalid(
            [
                Issue(
                    "error",
                    "exception",
                    f"SecondLook could not map this bundle ({type(error).__name__}: {error})",
                    builder.where,
                )
            ]
        ) from error
    problems: list[Problem] = []
    try:
        document = builder.document()
        parse_case(document, today=None)
    except CaseInvalid as invalid:
        problems = invalid.problems
    except Exception as error:  # as above: never an exception other than BundleInvalid
        raise BundleInvalid(
            [Issue("error", "exception", f"SecondLook could not build the case ({error})")]
        ) from error
    return ImportResult(case=document, unmapped=builder.unmapped, problems=problems)


# -- reading the bundle ------------------------------------------------------------------------


@dataclass
class _Entry:
    index: int
    resource: dict[str, Any]
    full_url: str | None

    @property
    def type(self) -> str:
        return str(self.resource["resourceType"])

    @property
    def id(self) -> str | None:
        rid = self.resource.get("id")
        return rid if isinstance(rid, str) else None

    @property
    def path(self) -> str:
        return f"Bundle.entry[{self.index}].resource"


@cache
def is_resource_type(name: str) -> bool:
    """Whether ``name`` is an R4 resource type (as the R4B models know them)."""
    if not name[:1].isupper() or not name.isalnum():
        return False
    try:
        from fhir.resources.R4B import get_fhir_model_class
        from fhir.resources.R4B.resource import Resource

        model = get_fhir_model_class(name)
    except (ValueError, ImportError, AttributeError, KeyError):
        return False
    return isinstance(model, type) and issubclass(model, Resource)


def _entries(bundle: object) -> list[_Entry]:
    if not isinstance(bundle, dict):
        raise BundleInvalid(
            [Issue("fatal", "structure", f"expected a JSON object, got {_json_type(bundle)}")]
        )
    if bundle.get("resourceType") != "Bundle":
        found = bundle.get("resourceType")
        raise BundleInvalid(
            [
                Issue(
                    "fatal",
                    "structure",
                    f"expected resourceType 'Bundle', got {found!r}",
                    "Bundle.resourceType",
                )
            ]
        )
    issues: list[Issue] = []
    kind = bundle.get("type")
    if kind not in READABLE_BUNDLE_TYPES:
        issues.append(
            Issue(
                "error",
                "value",
                f"Bundle.type {kind!r} cannot be imported; "
                f"expected one of {', '.join(READABLE_BUNDLE_TYPES)}",
                "Bundle.type",
            )
        )
    raw = bundle.get("entry", [])
    if not isinstance(raw, list):
        raise BundleInvalid(
            [*issues, Issue("fatal", "structure", "Bundle.entry must be a list", "Bundle.entry")]
        )
    entries: list[_Entry] = []
    for i, entry in enumerate(raw):
        where = f"Bundle.entry[{i}]"
        if not isinstance(entry, dict):
            issues.append(Issue("error", "structure", "an entry must be an object", where))
            continue
        resource = entry.get("resource")
        if resource is None and "request" in entry:
            continue  # a transaction DELETE carries no resource
        if not isinstance(resource, dict):
            issues.append(
                Issue("error", "structure", "entry.resource must be an object", f"{where}.resource")
            )
            continue
        rtype = resource.get("resourceType")
        if not isinstance(rtype, str) or not rtype:
            issues.append(
                Issue(
                    "error",
                    "structure",
                    "resource has no resourceType",
                    f"{where}.resource.resourceType",
                )
            )
            continue
        if not is_resource_type(rtype):
            issues.append(
                Issue(
                    "error",
                    "not-supported",
                    f"unknown resource type {rtype!r}: not a FHIR R4 resource",
                    f"{where}.resource.resourceType",
                )
            )
            continue
        rid = resource.get("id")
        if rid is not None and not isinstance(rid, str):
            issues.append(Issue("error", "value", "id must be a string", f"{where}.resource.id"))
            continue
        full_url = entry.get("fullUrl")
        if full_url is not None and not isinstance(full_url, str):
            issues.append(Issue("error", "value", "fullUrl must be a string", f"{where}.fullUrl"))
            continue
        entries.append(_Entry(i, resource, full_url))
    if issues:
        raise BundleInvalid(issues)
    return entries


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else type(value).__name__


def _walk_references(value: object, path: str) -> Iterator[tuple[str, str]]:
    """(path, reference) of every Reference.reference inside a resource."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                yield path, item
            elif key != "contained":
                yield from _walk_references(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk_references(item, f"{path}[{i}]")


class _Index:
    """The bundle's resources by fullUrl and by Type/id, and reference resolution."""

    def __init__(self, entries: list[_Entry]) -> None:
        self.entries = entries
        self.by_url: dict[str, _Entry] = {}
        self.by_key: dict[str, _Entry] = {}
        for entry in entries:
            if entry.full_url:
                self.by_url[entry.full_url] = entry
            if entry.id:
                self.by_key.setdefault(f"{entry.type}/{entry.id}", entry)

    def resolve(self, reference: object) -> _Entry | None:
        if not isinstance(reference, str) or not reference:
            return None
        if reference in self.by_url:
            return self.by_url[reference]
        if reference.startswith(("urn:uuid:", "urn:oid:")):
            return None
        parts = reference.split("/_history/")[0].rstrip("/").split("/")
        if len(parts) >= 2:
            return self.by_key.get(f"{parts[-2]}/{parts[-1]}")
        return None

    def check_references(self, strict: bool) -> None:
        issues = []
        for entry in self.entries:
            contained = {
                f"#{r.get('id')}"
                for r in entry.resource.get("contained") or []
                if isinstance(r, dict)
            }
            for path, ref in _walk_references(entry.resource, entry.path):
                if ref.startswith("#"):
                    if ref in contained or ref == "#":
                        continue
                elif self.resolve(ref) is not None:
                    continue
                last = path.rsplit(".", 1)[-1].split("[")[0]
                if not strict and last not in FOLLOWED_REFERENCES:
                    continue
                issues.append(
                    Issue(
                        "error",
                        "not-found",
                        f"reference {ref!r} does not resolve to a resource in this bundle",
                        path,
                    )
                )
        if issues:
            raise BundleInvalid(issues)


# -- building the case ---------------------------------------------------------------------------


class _Skip(Exception):
    """An item that cannot be mapped (the message is the reason)."""


def _is_local(concept: object) -> str | None:
    return local_code(concept, c.CASE_SYSTEM)


def _first_date(resource: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = resource.get(key)
        if isinstance(value, dict):  # a Period
            value = value.get("start")
        if isinstance(value, str):
            try:
                return date_part(value)
            except ValueProblem:
                return None
    return None


class _Builder:
    def __init__(
        self,
        index: _Index,
        assessed_on: date | None,
        region: str | None,
        case_id: str | None,
        today: Callable[[], date],
    ) -> None:
        self.index = index
        self.assessed_on_arg = assessed_on
        self.region_arg = region
        self.case_id = case_id
        self.today = today
        self.unmapped: list[Unmapped] = []
        self.where = "Bundle"
        self.header: dict[str, Any] = {}
        self.patient: _Entry | None = None
        self.patient_doc: dict[str, Any] = {}
        self.sections: dict[str, dict[str, Any]] = {}
        self.surgeries: list[dict[str, Any]] = []
        self.imaging: list[dict[str, Any]] = []
        self.records: dict[str, list[dict[str, Any]]] = {}
        self.questionnaires: list[dict[str, Any]] = []
        self.goals: list[str] = []
        self.region_hints: list[str] = []
        self.birth_date: str | None = None
        self.lab_dates: dict[str, str] = {}
        self.lab_entries: dict[str, _Entry] = {}
        self.consumed: set[int] = set()  # entries mapped as part of another resource
        self.medications: list[tuple[_Entry, str, str]] = []  # (entry, class, ingredient)

    # -- helpers ------------------------------------------------------------------------

    def skip(self, entry: _Entry, element: str, reason: str) -> None:
        path = entry.path + (f".{element}" if element else "")
        self.unmapped.append(Unmapped(entry.type, entry.id, path, reason))

    def section(self, name: str) -> dict[str, Any]:
        return self.sections.setdefault(name, {})

    def set_field(self, entry: _Entry, path: str, value: Any, element: str = "") -> None:
        section, key = path.split(".", 1)
        target = self.patient_doc if section == "patient" else self.section(section)
        if key in target and target[key] != value:
            self.skip(
                entry,
                element,
                f"{path} already set to {target[key]!r} by an earlier resource; "
                f"this value {value!r} is not used",
            )
            return
        target[key] = value

    def about_patient(self, entry: _Entry, key: str = "subject") -> bool:
        """Whether the resource is about the case's patient (else it is reported)."""
        ref = entry.resource.get(key)
        if not isinstance(ref, dict) or "reference" not in ref:
            return True  # no subject: a bundle about one patient
        target = self.index.resolve(ref.get("reference"))
        if target is None or self.patient is None:
            return True
        if target is self.patient:
            return True
        self.skip(entry, key, f"about another subject ({ref.get('reference')}), not this patient")
        return False

    # -- main -----------------------------------------------------------------------------

    def run(self) -> None:
        patients = [e for e in self.index.entries if e.type == "Patient"]
        if patients:
            self.patient = patients[0]
            for other in patients[1:]:
                self.skip(other, "", "a second Patient: a case is about one patient")
        handlers: dict[str, Callable[[_Entry], None]] = {
            "Patient": self.patient_resource,
            "Procedure": self.procedure,
            "Condition": self.condition,
            "Observation": self.observation,
            "DiagnosticReport": self.diagnostic_report,
            "QuestionnaireResponse": self.questionnaire_response,
            "MedicationStatement": self.medication,
            "MedicationRequest": self.medication,
            "Goal": self.goal,
        }
        # Reports first: they claim their result Observations.
        ordered = sorted(self.index.entries, key=lambda e: (e.type != "DiagnosticReport", e.index))
        for entry in ordered:
            self.where = entry.path
            if entry.index in self.consumed:
                continue
            handler = handlers.get(entry.type)
            if handler is None:
                self.skip(entry, "", _NO_PLACE.get(entry.type, _NO_PLACE_DEFAULT))
                continue
            if entry.type != "Patient" and patients and not self.about_patient(entry):
                continue
            if entry.type != "Patient" and _entered_in_error(entry.resource):
                self.skip(entry, "status", "entered in error")
                continue
            handler(entry)
        self.where = "Bundle"
        self.finish_medications()

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"schema": "secondlook.case/1"}
        case_id = self.case_id or self.header.get("id")
        if case_id:
            doc["id"] = case_id
        on = self.assessed_on()
        doc["assessed_on"] = on
        region = self.region()
        if region:
            doc["region"] = region
        patient = dict(self.patient_doc)
        if "age" not in patient and self.birth_date:
            patient["age"] = _age(self.birth_date, on)
        doc["patient"] = _ordered(patient, FIELD_SECTIONS["patient"])
        if self.surgeries:
            doc["surgeries"] = self.surgeries
        for name in ("pain", "neuro", "systemic"):
            if name in self.sections:
                doc[name] = self.sections[name]
        if self.imaging:
            doc["imaging"] = self.imaging
        labs = self.sections.get("labs")
        if labs is not None:
            if "date" not in labs and self.lab_dates:
                labs["date"] = max(self.lab_dates.values())
            doc["labs"] = labs
        for name in ("blocks",):
            if name in self.records:
                doc[name] = self.records[name]
        if "electrodiagnostics" in self.records:
            doc["electrodiagnostics"] = self.records["electrodiagnostics"][-1]
        if "medications" in self.sections:
            doc["medications"] = self.sections["medications"]
        if "prior_treatments" in self.records:
            doc["prior_treatments"] = self.records["prior_treatments"]
        if "psychosocial" in self.sections:
            doc["psychosocial"] = self.sections["psychosocial"]
        if self.questionnaires:
            doc["questionnaires"] = self.questionnaires
        preferences = dict(self.sections.get("preferences", {}))
        if self.goals:
            preferences = {"goals": self.goals, **preferences}
        if preferences:
            doc["preferences"] = preferences
        return doc

    def assessed_on(self) -> str:
        if self.assessed_on_arg is not None:
            return self.assessed_on_arg.isoformat()
        found = self.header.get("assessed_on")
        return str(found) if found else self.today().isoformat()

    def region(self) -> str | None:
        if self.region_arg:
            return self.region_arg
        if self.header.get("region"):
            return str(self.header["region"])
        for surgery in sorted(self.surgeries, key=lambda s: s["date"], reverse=True):
            for level in surgery.get("levels", []):
                region = c.level_region(level)
                if region:
                    return region
        return self.region_hints[0] if self.region_hints else None

    # -- Patient ------------------------------------------------------------------------

    def patient_resource(self, entry: _Entry) -> None:
        if entry is not self.patient:
            return
        resource = entry.resource
        gender = resource.get("gender")
        if gender in ("female", "male", "other", "unknown"):
            self.patient_doc["sex"] = gender
        elif gender is not None:
            self.skip(entry, "gender", f"gender {gender!r} is not female, male, other or unknown")
        for i, ext in enumerate(resource.get("extension") or []):
            if isinstance(ext, dict) and ext.get("url") == c.EXT_AGE:
                age = (ext.get("valueAge") or {}).get("value")
                if isinstance(age, int | float) and not isinstance(age, bool):
                    self.patient_doc["age"] = int(age)
                else:
                    self.skip(entry, f"extension[{i}]", "age extension without a numeric valueAge")
            else:
                self.skip(entry, f"extension[{i}]", "extension not used by SecondLook")
        birth = resource.get("birthDate")
        if isinstance(birth, str):
            try:
                self.birth_date = date_part(birth)
            except ValueProblem as problem:
                self.skip(entry, "birthDate", f"{problem}: age is derived from a full birth date")
        for key in ("name", "telecom", "address", "identifier"):
            if key in resource:
                self.skip(entry, key, "identifying data is not part of a case document")

    # -- Procedure --------------------------------------------------------------------------

    def procedure(self, entry: _Entry) -> None:
        resource = entry.resource
        status = resource.get("status")
        if status not in (None, "completed", "in-progress"):
            self.skip(entry, "status", f"procedure status {status!r}: not a performed surgery")
            return
        code = resource.get("code")
        procedure = _is_local(code)
        if procedure is None:
            procedure = self.standard_procedure(entry, code)
        if procedure is None:
            return
        when = _first_date(resource, "performedDateTime", "performedPeriod")
        if when is None:
            self.skip(entry, "performed[x]", "a surgery needs the date it was performed")
            return
        surgery: dict[str, Any] = {"date": when, "procedure": procedure}
        levels: list[str] = []
        for i, ext in enumerate(resource.get("extension") or []):
            if not isinstance(ext, dict):
                continue
            url = ext.get("url")
            if url == c.EXT_LEVEL and isinstance(ext.get("valueString"), str):
                levels.append(ext["valueString"])
            elif url == c.EXT_SIDE and isinstance(ext.get("valueCode"), str):
                surgery["side"] = ext["valueCode"]
            elif url == c.EXT_INSTRUMENTED and isinstance(ext.get("valueBoolean"), bool):
                surgery["instrumented"] = ext["valueBoolean"]
            elif url == c.EXT_FUSED_TO_SACRUM and isinstance(ext.get("valueBoolean"), bool):
                surgery["fused_to_sacrum"] = ext["valueBoolean"]
            else:
                self.skip(entry, f"extension[{i}]", "extension not used by SecondLook")
        if not levels:
            texts = [concept_text(code)]
            texts += [concept_text(site) for site in resource.get("bodySite") or []]
            for text in texts:
                for upper, lower in c.LEVEL_IN_TEXT.findall(text.upper()):
                    level = f"{upper}-{lower}"
                    if level not in levels:
                        levels.append(level)
        if levels:
            surgery["levels"] = levels
        # Keep the key order of the case model (levels before side) for readable output.
        surgery = {k: surgery[k] for k in _SURGERY_KEYS if k in surgery}
        for i, reason in enumerate(resource.get("reasonCode") or []):
            indication = _is_local(reason)
            if indication and "indication" not in surgery:
                surgery["indication"] = indication
            else:
                self.skip(entry, f"reasonCode[{i}]", "indication not in SecondLook's codes")
        complications: list[str] = []
        examined = False
        for i, item in enumerate(resource.get("complication") or []):
            found = _is_local(item)
            if found == c.NO_COMPLICATIONS_CODE:
                examined = True
            elif found:
                complications.append(found)
            else:
                self.skip(entry, f"complication[{i}]", "complication not in SecondLook's codes")
        if complications or examined:
            surgery["complications"] = complications
        surgery = {k: surgery[k] for k in _SURGERY_KEYS if k in surgery}
        self.surgeries.append(surgery)

    def standard_procedure(self, entry: _Entry, code: object) -> str | None:
        for system, value in codings(code):
            if system == c.CPT and value in c.CPT_PROCEDURE:
                return c.CPT_PROCEDURE[value]
        text = concept_text(code)
        for words, procedure in c.PROCEDURE_KEYWORDS:
            if words in text:
                return procedure
        for system, value in codings(code):
            if system == c.SNOMED and value in c.SNOMED_PROCEDURE:
                found = c.SNOMED_PROCEDURE[value]
                if found == "other":
                    self.skip(entry, "code", "spinal fusion of unknown approach: imported as other")
                return found
        if any(word in text for word in ("spine", "spinal", "lumbar", "cervical", "vertebr")):
            self.skip(entry, "code", "spine procedure of unknown kind: imported as other")
            return "other"
        self.skip(entry, "code", "not a spine surgery SecondLook recognises")
        return None

    # -- Condition ------------------------------------------------------------------------

    def condition(self, entry: _Entry) -> None:
        resource = entry.resource
        code = resource.get("code")
        for system in (c.CONDITION_SYSTEM,):
            if local_code(code, system):
                self.skip(entry, "", "SecondLook's classification: the engine derives it again")
                return
        path = _is_local(code)
        if path is None:
            path = self.standard_condition(entry, code)
        if path is None:
            return
        if path not in _BOOL_FIELDS:
            self.skip(entry, "code", f"{path} is not a yes/no field")
            return
        verification = local_code(resource.get("verificationStatus"), c.CONDITION_VERIFICATION)
        clinical = local_code(resource.get("clinicalStatus"), c.CONDITION_CLINICAL)
        if verification == "refuted":
            value = False
        elif clinical in ("inactive", "resolved", "remission") and path != "patient.cancer_history":
            self.skip(entry, "clinicalStatus", f"{clinical}: not a current {path}")
            return
        else:
            value = True
        self.set_field(entry, path, value, "code")

    def standard_condition(self, entry: _Entry, code: object) -> str | None:
        found = codings(code)
        for system, value in found:
            if system == c.SNOMED and value in c.SNOMED_CONDITION:
                return c.SNOMED_CONDITION[value]
        for system, value in found:
            if system != c.ICD10CM:
                continue
            best = max((p for p in c.ICD10_CONDITION if value.startswith(p)), key=len, default="")
            if best:
                return c.ICD10_CONDITION[best]
            for prefix, region in c.ICD10_SPINE_REGION.items():
                if value.startswith(prefix):
                    self.region_hints.append(region)
                    break
            for prefix, reason in c.ICD10_RECOGNISED.items():
                if value.startswith(prefix):
                    self.skip(entry, "code", f"{value} {reason}")
                    return None
        self.skip(entry, "code", "diagnosis with no place in the case document")
        return None

    # -- Observation ---------------------------------------------------------------------

    def observation(self, entry: _Entry) -> None:
        resource = entry.resource
        status = resource.get("status")
        if status in ("registered", "cancelled", "preliminary"):
            self.skip(entry, "status", f"observation status {status!r}: not a final result")
            return
        code = resource.get("code")
        path = _is_local(code)
        if path == c.CASE_HEADER_CODE:
            self.case_header(entry)
        elif path == c.IMAGING_FINDING_CODE:
            self.skip(entry, "", "imaging finding outside a DiagnosticReport: no study date")
        elif path in RECORD_SECTIONS:
            self.record(entry, path)
        elif path is not None and "." in path:
            self.field_observation(entry, path)
        else:
            self.standard_observation(entry, code)

    def case_header(self, entry: _Entry) -> None:
        resource = entry.resource
        when = _first_date(resource, "effectiveDateTime")
        if when:
            self.header["assessed_on"] = when
        region = _is_local(resource.get("valueCodeableConcept"))
        if region:
            self.header["region"] = region
        for ident in resource.get("identifier") or []:
            if (
                isinstance(ident, dict)
                and ident.get("system") == c.CASE_ID_SYSTEM
                and isinstance(ident.get("value"), str)
            ):
                self.header["id"] = ident["value"]

    def field_observation(self, entry: _Entry, path: str) -> None:
        section, _, key = path.partition(".")
        model = FIELD_SECTIONS.get(section)
        kind = field_kind(model, key) if model else None
        if model is None or kind is None:
            self.skip(entry, "code", f"{path} is not a case field")
            return
        resource = entry.resource
        scalar, is_list = kind
        try:
            if path == "patient.smoker":
                value: Any = _smoker(resource)
            elif is_list:
                value = [
                    decode(scalar, comp)
                    for comp in resource.get("component") or []
                    if isinstance(comp, dict) and _is_local(comp.get("code")) == path
                ]
            else:
                value = decode(scalar, resource)
        except ValueProblem as problem:
            self.skip(entry, "value[x]", f"{path}: {problem}")
            return
        if section == "labs" and key != "date":
            when = _first_date(resource, "effectiveDateTime", "effectivePeriod")
            if when:
                self.lab_dates[key] = when
        self.set_field(entry, path, value, "value[x]")

    def record(self, entry: _Entry, section: str) -> None:
        model = RECORD_SECTIONS[section]
        item: dict[str, Any] = {}
        for i, comp in enumerate(entry.resource.get("component") or []):
            path = _is_local(comp.get("code")) if isinstance(comp, dict) else None
            key = path.partition(".")[2] if path and path.startswith(f"{section}.") else ""
            kind = field_kind(model, key) if key else None
            if kind is None or not isinstance(comp, dict):
                self.skip(entry, f"component[{i}]", f"not a field of {section}")
                continue
            try:
                item[key] = decode(kind[0], comp)
            except ValueProblem as problem:
                self.skip(entry, f"component[{i}]", f"{section}.{key}: {problem}")
        when = _first_date(entry.resource, "effectiveDateTime")
        if when:
            item["date"] = when
        ordered = {k: item[k] for k in model.model_fields if k in item}
        self.records.setdefault(section, []).append(ordered)

    def standard_observation(self, entry: _Entry, code: object) -> None:
        resource = entry.resource
        found = codings(code)
        loinc = [value for system, value in found if system == c.LOINC]
        local_instrument = [v for s, v in found if s == LOCAL_CODE_SYSTEM and v in INSTRUMENTS]
        when = _first_date(resource, "effectiveDateTime", "effectivePeriod", "issued")
        for value in loinc:
            if value in c.LOINC_LABS:
                self.lab(entry, value, when)
                return
            if value == c.LOINC_SMOKING:
                try:
                    self.set_field(entry, "patient.smoker", _smoker(resource), "value[x]")
                except ValueProblem as problem:
                    self.skip(entry, "value[x]", f"smoking status: {problem}")
                return
            if value == c.LOINC_PAIN and self.pain_site(entry):
                return
            if value in c.LOINC_SCORES:
                self.score(entry, c.LOINC_SCORES[value], when)
                return
            if value in c.LOINC_PANELS:
                self.skip(entry, "", "questionnaire panel: the answers come from its items")
                return
        if local_instrument:
            self.score(entry, local_instrument[0], when)
            return
        self.skip(entry, "code", "observation SecondLook does not map")

    def lab(self, entry: _Entry, loinc: str, when: str | None) -> None:
        path, units = c.LOINC_LABS[loinc]
        quantity = entry.resource.get("valueQuantity")
        if not isinstance(quantity, dict) or not _is_number(quantity.get("value")):
            self.skip(entry, "value[x]", f"{path}: no numeric valueQuantity")
            return
        unit = quantity.get("code") or quantity.get("unit")
        if unit not in units:
            self.skip(entry, "valueQuantity", f"{path}: unit {unit!r} not one of {sorted(units)}")
            return
        value = round(float(quantity["value"]) * units[str(unit)], 3)
        key = path.partition(".")[2]
        if path.startswith("labs."):
            previous = self.lab_dates.get(key)
            if previous is not None:
                if when is None or when <= previous:
                    self.skip(entry, "", f"{path}: an earlier value; the latest one is used")
                    return
                replaced = self.lab_entries.get(key)
                if replaced is not None:
                    self.skip(replaced, "", f"{path}: an earlier value; the latest one is used")
            if when:
                self.lab_dates[key] = when
            self.lab_entries[key] = entry
            self.section("labs")[key] = value
        else:
            self.set_field(entry, path, value, "valueQuantity")

    def pain_site(self, entry: _Entry) -> bool:
        """A pain score with a body site: back/neck or limb NRS."""
        sites = {v for s, v in codings(entry.resource.get("bodySite")) if s == c.SNOMED}
        path = (
            "pain.axial_nrs"
            if sites & c.AXIAL_SITES
            else "pain.limb_nrs"
            if sites & c.LIMB_SITES
            else None
        )
        if path is None:
            return False
        try:
            value = decode("int", entry.resource)
        except ValueProblem as problem:
            self.skip(entry, "value[x]", f"{path}: {problem}")
            return True
        if not 0 <= value <= 10:
            self.skip(entry, "value[x]", f"{path}: {value} is not 0-10")
            return True
        self.set_field(entry, path, value, "value[x]")
        return True

    def score(self, entry: _Entry, instrument: str, when: str | None) -> None:
        resource = entry.resource
        if resource.get("derivedFrom") or resource.get("hasMember"):
            self.skip(entry, "", "score derived from a QuestionnaireResponse: imported as answers")
            return
        if when is None:
            self.skip(entry, "effective[x]", f"{instrument} score without a date")
            return
        try:
            value = float(decode("float", resource))
        except ValueProblem as problem:
            self.skip(entry, "value[x]", f"{instrument} score: {problem}")
            return
        self.questionnaires.append({"instrument": instrument, "date": when, "score": value})

    # -- DiagnosticReport -------------------------------------------------------------------

    def diagnostic_report(self, entry: _Entry) -> None:
        resource = entry.resource
        code = resource.get("code")
        modality = _is_local(code) or _modality(concept_text(code))
        when = _first_date(resource, "effectiveDateTime", "effectivePeriod", "issued")
        if modality is None:
            self.skip(entry, "code", "not an imaging study SecondLook recognises")
            return
        if when is None:
            self.skip(entry, "effective[x]", "imaging study without a date")
            return
        findings: list[dict[str, Any]] = []
        for i, ref in enumerate(resource.get("result") or []):
            target = self.index.resolve(ref.get("reference") if isinstance(ref, dict) else None)
            if target is None:
                continue
            self.consumed.add(target.index)
            finding = self.finding(target)
            if finding is not None:
                findings.append(finding)
            else:
                self.skip(entry, f"result[{i}]", "result is not a finding SecondLook recognises")
        for i, item in enumerate(resource.get("conclusionCode") or []):
            code_ = _is_local(item)
            if code_:
                findings.append({"finding": code_})
            else:
                self.skip(entry, f"conclusionCode[{i}]", "finding not in SecondLook's codes")
        if isinstance(resource.get("conclusion"), str):
            self.skip(entry, "conclusion", "free-text conclusion is not interpreted")
        self.imaging.append({"date": when, "modality": modality, "findings": findings})

    def finding(self, target: _Entry) -> dict[str, Any] | None:
        resource = target.resource
        if (
            target.type != "Observation"
            or _is_local(resource.get("code")) != c.IMAGING_FINDING_CODE
        ):
            return None
        finding = _is_local(resource.get("valueCodeableConcept"))
        if finding is None:
            return None
        item: dict[str, Any] = {"finding": finding}
        for i, comp in enumerate(resource.get("component") or []):
            key = _is_local(comp.get("code")) if isinstance(comp, dict) else None
            try:
                if key == "imaging.level" and isinstance(comp, dict):
                    item["level"] = decode("str", comp)
                elif key == "imaging.side" and isinstance(comp, dict):
                    item["side"] = decode("code", comp)
                elif key == "imaging.t_score" and isinstance(comp, dict):
                    item["t_score"] = decode("float", comp)
                else:
                    self.skip(target, f"component[{i}]", "component SecondLook does not map")
            except ValueProblem as problem:
                self.skip(target, f"component[{i}]", str(problem))
        return {k: item[k] for k in ("finding", "level", "side", "t_score") if k in item}

    # -- QuestionnaireResponse ---------------------------------------------------------------

    def questionnaire_response(self, entry: _Entry) -> None:
        resource = entry.resource
        status = resource.get("status")
        if status not in ("completed", "amended", None):
            self.skip(entry, "status", f"questionnaire status {status!r}: not completed")
            return
        when = _first_date(resource, "authored")
        if when is None:
            self.skip(entry, "authored", "questionnaire without a date")
            return
        try:
            instrument, answers = questionnaire_response_answers(resource)
        except AnswersInvalid as invalid:
            self.skip(entry, "item", "; ".join(invalid.problems))
            return
        self.questionnaires.append({"instrument": instrument.id, "date": when, "answers": answers})

    # -- medications ------------------------------------------------------------------------

    def medication(self, entry: _Entry) -> None:
        resource = entry.resource
        status = resource.get("status")
        if status not in CURRENT_MEDICATION:
            self.skip(entry, "status", f"medication status {status!r}: not current use")
            return
        concept = resource.get("medicationCodeableConcept")
        reference = resource.get("medicationReference")
        if concept is None and isinstance(reference, dict):
            target = self.index.resolve(reference.get("reference"))
            if target is not None and target.type == "Medication":
                concept = target.resource.get("code")
                self.consumed.add(target.index)
        klass, ingredient = _medication_class(concept)
        if klass is None:
            self.skip(entry, "medication[x]", "medication not in SecondLook's classes")
            return
        self.medications.append((entry, klass, ingredient))

    def finish_medications(self) -> None:
        meds = self.section("medications") if self.medications else None
        if meds is None:
            return
        total = 0.0
        computable = True
        months: list[float] = []
        on = date.fromisoformat(self.assessed_on())
        for entry, klass, ingredient in self.medications:
            if klass != "opioid":
                meds[klass] = True
                continue
            mme = _mme(entry.resource, ingredient)
            if isinstance(mme, str):
                computable = False
                self.skip(entry, "dosage", f"{ingredient}: {mme}; opioid_mme_per_day left unknown")
            else:
                total += mme
            start = _first_date(entry.resource, "effectivePeriod", "effectiveDateTime")
            if entry.type == "MedicationStatement" and start:
                months.append(max(0.0, (on - date.fromisoformat(start)).days / 30.4375))
            else:
                self.skip(entry, "effective[x]", f"{ingredient}: start of use unknown")
        if self.medications and any(k == "opioid" for _, k, _ in self.medications):
            if computable:
                meds["opioid_mme_per_day"] = round(total, 1)
            if months:
                meds["opioid_months"] = round(max(months), 1)
        order = FIELD_SECTIONS["medications"].model_fields
        self.sections["medications"] = {k: meds[k] for k in order if k in meds}
        if not self.sections["medications"]:
            del self.sections["medications"]

    # -- Goal --------------------------------------------------------------------------------

    def goal(self, entry: _Entry) -> None:
        resource = entry.resource
        kind = local_code(
            (resource.get("category") or [None])[0] if resource.get("category") else None,
            c.GOAL_SYSTEM,
        )
        if kind == c.FUNCTIONAL_GOAL_CODE:
            self.skip(entry, "", "SecondLook's functional goal: derived from the scores")
            return
        text = (resource.get("description") or {}).get("text")
        if not isinstance(text, str) or not text.strip():
            self.skip(entry, "description", "goal without a description text")
            return
        self.goals.append(text)


_ASSESSMENT_OUTPUT = "SecondLook's assessment output, not case data: the engine derives it again"
_NO_PLACE = {
    kind: _ASSESSMENT_OUTPUT
    for kind in (
        "DetectedIssue",
        "ServiceRequest",
        "Task",
        "CarePlan",
        "Provenance",
        "Device",
        "Questionnaire",
    )
} | {"Medication": "a Medication is read only through a MedicationStatement or Request"}
_NO_PLACE_DEFAULT = "this resource type has no place in a case document"
_SURGERY_KEYS = (
    "date",
    "procedure",
    "levels",
    "side",
    "instrumented",
    "fused_to_sacrum",
    "indication",
    "complications",
)
_BOOL_FIELDS = frozenset(
    f"{section}.{name}"
    for section, model in FIELD_SECTIONS.items()
    for name in model.model_fields
    if (field_kind(model, name) or ("", True)) == ("bool", False)
)


def _entered_in_error(resource: dict[str, Any]) -> bool:
    if resource.get("status") == "entered-in-error":
        return True
    verification = local_code(resource.get("verificationStatus"), c.CONDITION_VERIFICATION)
    return verification == "entered-in-error"


def _ordered(values: dict[str, Any], model: Any) -> dict[str, Any]:
    return {k: values[k] for k in model.model_fields if k in values}


def _age(birth: str, on: str) -> int:
    born, day = date.fromisoformat(birth), date.fromisoformat(on)
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _smoker(resource: dict[str, Any]) -> bool:
    if isinstance(resource.get("valueBoolean"), bool):
        return bool(resource["valueBoolean"])
    for system, value in codings(resource.get("valueCodeableConcept")):
        if system == c.SNOMED and value in c.SMOKER_TRUE:
            return True
        if system == c.SNOMED and value in c.SMOKER_FALSE:
            return False
    raise ValueProblem("smoking status value is not a SNOMED CT smoker / non-smoker code")


_MODALITY_WORDS = (
    ("myelogra", "ct-myelogram"),
    ("dexa", "dexa"),
    ("dxa", "dexa"),
    ("bone density", "dexa"),
    ("spect", "bone-scan-spect"),
    ("bone scan", "bone-scan-spect"),
    ("flexion", "xray-flexion-extension"),
    ("full spine", "xray-standing-full-spine"),
    ("scoliosis", "xray-standing-full-spine"),
    ("gadolinium", "mri-gadolinium"),
    ("mr ", "mri"),
    ("mri", "mri"),
    ("magnetic resonance", "mri"),
    ("ct ", "ct"),
    ("computed tomography", "ct"),
    ("x-ray", "xray"),
    ("xr ", "xray"),
    ("radiograph", "xray"),
)


def _modality(text: str) -> str | None:
    text = f"{text} "
    for words, modality in _MODALITY_WORDS:
        if words in text:
            if modality == "mri" and ("contrast" in text and "without contrast" not in text):
                return "mri-gadolinium"
            return modality
    return None


def _medication_class(concept: object) -> tuple[str | None, str]:
    for system, value in codings(concept):
        if system == c.RXNORM and value in c.RXNORM_INGREDIENTS:
            klass, name = c.RXNORM_INGREDIENTS[value]
            return klass, name
    text = concept_text(concept)
    for name, klass in c.INGREDIENT_NAMES.items():
        if name in text:
            return klass, name
    return None, ""


def _mme(resource: dict[str, Any], ingredient: str) -> float | str:
    """Morphine milligram equivalents per day, or why they cannot be computed."""
    factor = c.MME_FACTORS.get(ingredient)
    if factor is None:
        return "no MME conversion factor (CDC 2022)"
    dosages = resource.get("dosageInstruction") or resource.get("dosage") or []
    if not isinstance(dosages, list) or not dosages or not isinstance(dosages[0], dict):
        return "no dosage"
    dosage = dosages[0]
    dose_and_rate = dosage.get("doseAndRate") or []
    dose = (
        dose_and_rate[0].get("doseQuantity")
        if dose_and_rate and isinstance(dose_and_rate[0], dict)
        else None
    )
    if not isinstance(dose, dict) or not _is_number(dose.get("value")):
        return "no dose quantity"
    unit = str(dose.get("code") or dose.get("unit") or "")
    if ingredient == "fentanyl":
        if unit not in ("ug/h", "mcg/h", "ug/hr", "mcg/hr"):
            return f"fentanyl dose unit {unit!r}: only transdermal mcg/h is converted"
        return float(dose["value"]) * factor
    if unit != "mg":
        return f"dose unit {unit!r}: only mg is converted"
    repeat = (dosage.get("timing") or {}).get("repeat") or {}
    frequency, period, unit_ = (
        repeat.get("frequency", 1),
        repeat.get("period"),
        repeat.get("periodUnit"),
    )
    per_day = {"h": 24.0, "d": 1.0, "wk": 1 / 7}.get(str(unit_))
    if not _is_number(frequency) or not _is_number(period) or per_day is None or period <= 0:
        return "no timing (frequency per period in h, d or wk)"
    return float(dose["value"]) * float(frequency) * per_day / float(period) * factor
