"""FHIR R4 import: a Bundle becomes a case document plus the list of what could not be mapped.

``import_bundle`` never drops data silently: every resource, and every element of a resource
that did not make it into the case document, is listed in ``ImportResult.unmapped`` with the
reason; free text the clinician must see (notes, outcomes, injection history) is also in
``ImportResult.notes``. The facts that matter most survive EHR shapes: opioids whose dose
cannot be computed stay visible as "opioid present, daily MME unknown", PHQ-9 item 9 is read
from any standard form, and injections never become surgeries. A bundle that cannot be read at
all (not a Bundle, malformed entries, types that are not FHIR R4, references that do not resolve
when they must) raises :class:`BundleInvalid`, which carries an OperationOutcome; nothing else
escapes. docs/fhir.md has the mapping tables.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeGuard

from secondlook.case import CaseInvalid, Problem, parse_case
from secondlook.fhir import codes as c
from secondlook.fhir import dose
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
    seq,
)
from secondlook.fhir.outcome import BundleInvalid, Issue, Unmapped, operation_outcome
from secondlook.instruments import INSTRUMENTS, LOCAL_CODE_SYSTEM, AnswersInvalid
from secondlook.instruments.fhir import (
    answer_from_value,
    instrument_of_item,
    read_questionnaire_response,
)
from secondlook.instruments.model import Instrument

#: Bundle types SecondLook reads. A searchset is what a FHIR server (and CDS Hooks prefetch)
#: returns; history and the *-response types describe operations, not a patient.
READABLE_BUNDLE_TYPES = ("collection", "transaction", "batch", "searchset", "document", "message")
#: References whose target must be in the bundle even when ``strict_references`` is off: whose
#: record it is. Data about a subject that is not in the bundle could be another patient's.
SUBJECT_REFERENCES = ("subject", "patient")
#: References the mapping follows: without ``strict_references`` one that does not resolve is
#: reported where it is used (the resource is read without it), never a rejection.
FOLLOWED_REFERENCES = ("derivedFrom", "result", "medicationReference", "hasMember", "basedOn")
#: Medication statuses that count as current use.
CURRENT_MEDICATION = ("active", "intended", "on-hold")


@dataclass
class ImportResult:
    """What ``import_bundle`` made of a bundle.

    ``case``: the case document (a dict for ``parse_case``). ``unmapped``: each item of the
    bundle that is not in the case, with why. ``problems``: what keeps ``case`` from being a
    valid case document (``parse_case`` problems, e.g. no surgery, or a deceased patient);
    empty when it is valid. ``notes``: free text kept for the clinician.
    """

    case: dict[str, Any]
    unmapped: list[Unmapped] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    #: Free text for the clinician that has no field in the case (procedure and observation
    #: notes, outcomes, devices, injection history), one line each with what it is about.
    notes: list[str] = field(default_factory=list)

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
    reference must resolve inside the bundle; without it (CDS Hooks prefetch and the command
    line, which meet Encounters, Practitioners and conditional references that are not there)
    only the subject must be known, and other unresolved references are reported where used.
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
    problems: list[Problem] = list(builder.problems)
    try:
        document = builder.document()
        parse_case(document, today=None)
    except CaseInvalid as invalid:
        problems += invalid.problems
    except Exception as error:  # as above: never an exception other than BundleInvalid
        raise BundleInvalid(
            [Issue("error", "exception", f"SecondLook could not build the case ({error})")]
        ) from error
    return ImportResult(
        case=document, unmapped=builder.unmapped, problems=problems, notes=builder.notes
    )


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


def is_resource_type(name: str) -> bool:
    """Whether ``name`` is a FHIR R4 (4.0.1) resource type (``codes.R4_RESOURCE_TYPES``)."""
    return name in c.R4_RESOURCE_TYPES


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
        subjects: list[tuple[str, str]] = []
        for entry in self.entries:
            contained = {
                f"#{r.get('id')}"
                for r in seq(entry.resource.get("contained"))
                if isinstance(r, dict)
            }
            for path, ref in _walk_references(entry.resource, entry.path):
                if ref.startswith("#"):
                    if ref in contained or ref == "#":
                        continue
                elif self.resolve(ref) is not None:
                    continue
                last = path.rsplit(".", 1)[-1].split("[")[0]
                if not strict and last not in SUBJECT_REFERENCES:
                    continue
                if not strict:
                    subjects.append((path, ref))
                    continue
                issues.append(
                    Issue(
                        "error",
                        "not-found",
                        f"reference {ref!r} does not resolve to a resource in this bundle",
                        path,
                    )
                )
        # Without strict references, a search result about one patient need not hold the
        # Patient: every subject reference then names the same one. With a Patient in the
        # bundle, or several subjects, data about another subject could be mixed in: refused.
        has_patient = any(e.type == "Patient" for e in self.entries)
        if subjects and (has_patient or len({ref for _, ref in subjects}) > 1):
            issues += [
                Issue(
                    "error",
                    "not-found",
                    f"reference {ref!r} does not resolve to a resource in this bundle",
                    path,
                )
                for path, ref in subjects
            ]
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
        self.notes: list[str] = []
        self.problems: list[Problem] = []
        self.death_date: str | None = None
        self.where = "Bundle"
        self.header: dict[str, Any] = {}
        self.patient: _Entry | None = None
        self.patient_doc: dict[str, Any] = {}
        self.sections: dict[str, dict[str, Any]] = {}
        self.surgeries: list[dict[str, Any]] = []
        self.imaging: list[dict[str, Any]] = []
        self.records: dict[str, list[dict[str, Any]]] = {}
        # (bundle position, questionnaire): the case lists them in bundle order.
        self.questionnaires: list[tuple[int, dict[str, Any]]] = []
        self.goals: list[str] = []
        self.region_hints: list[str] = []
        self.birth_date: str | None = None
        self.lab_dates: dict[str, str] = {}
        self.latest_seen: dict[str, tuple[str | None, _Entry]] = {}
        self.totals: list[tuple[_Entry, str, str, float]] = []
        self.item_groups: dict[tuple[str, str], dict[int, tuple[_Entry, int]]] = {}
        self.imported_responses: set[int] = set()
        self.questionnaire_defs: dict[str, dict[str, Any]] = {}
        self.consumed: set[int] = set()  # entries mapped as part of another resource
        self.medications: list[tuple[_Entry, dose.Product]] = []

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
        for entry in self.index.entries:
            reference = entry.resource.get("medicationReference")
            if entry.type in ("MedicationRequest", "MedicationStatement") and isinstance(
                reference, dict
            ):
                target = self.index.resolve(reference.get("reference"))
                if target is not None and target.type == "Medication":
                    self.consumed.add(target.index)  # read with the request or statement
            url = entry.resource.get("url")
            if entry.type == "Questionnaire" and isinstance(url, str):
                self.questionnaire_defs[url.split("|")[0]] = entry.resource
        # Reports first: they claim their result Observations; then questionnaire responses,
        # so that item Observations derived from an imported response are not counted twice.
        first = {"DiagnosticReport": 0, "QuestionnaireResponse": 1}
        ordered = sorted(self.index.entries, key=lambda e: (first.get(e.type, 2), e.index))
        for entry in ordered:
            self.where = entry.path
            if entry.index in self.consumed:
                continue
            handler = handlers.get(entry.type)
            if handler is None:
                self.skip(entry, "", _no_place(entry))
                if entry.type == "OperationOutcome":
                    self.outcome_messages(entry)
                continue
            if entry.type != "Patient" and patients and not self.about_patient(entry):
                continue
            if entry.type != "Patient" and _entered_in_error(entry.resource):
                self.skip(entry, "status", "entered in error")
                continue
            before = len(self.unmapped)
            handler(entry)
            self.sweep(entry, self.unmapped[before:])
        self.where = "Bundle"
        self.finish_medications()
        self.finish_questionnaires()

    def outcome_messages(self, entry: _Entry) -> None:
        """An EHR's OperationOutcome in a searchset: what it says may matter (data withheld)."""
        for i, issue in enumerate(_as_list(entry.resource.get("issue"))):
            if not isinstance(issue, dict):
                continue
            text = issue.get("diagnostics") or concept_text(issue.get("details"))
            if isinstance(text, str) and text.strip():
                severity = issue.get("severity", "information")
                self.skip(entry, f"issue[{i}]", f"the EHR says ({severity}): {text.strip()}")
                if severity in ("fatal", "error", "warning"):
                    self.notes.append(f"the EHR reported ({severity}): {text.strip()}")

    def sweep(self, entry: _Entry, reported: list[Unmapped]) -> None:
        """Report every element of a mapped resource that the mapping did not use.

        Skipped when the resource as a whole was not mapped (its reason covers it).
        """
        for key in _LIST_ELEMENTS:
            single = entry.type == "Procedure" and key == "category"  # 0..1 in Procedure
            if key in entry.resource and not single and not isinstance(entry.resource[key], list):
                self.skip(entry, key, f"{key} must be a list: not read")
        # Notes reach the clinician whether or not the resource was mapped.
        if entry.type == "Procedure" and not any(".note[" in u.path for u in reported):
            self.note(entry, "note", f"procedure {concept_text(entry.resource.get('code'))!r}")
        whole = {entry.path} | {f"{entry.path}.{k}" for k in _REJECTING_ELEMENTS}
        if any(u.path in whole for u in reported):
            if entry.type != "Procedure":
                self.note(entry, "note", f"{entry.type} {entry.id or ''}".strip())
            return
        if entry.type == "Observation":
            what = f"Observation {concept_text(entry.resource.get('code')) or entry.id}"
            self.note(entry, "note", what)
            for i, item in enumerate(_as_list(entry.resource.get("interpretation"))):
                text = concept_text(item) or ",".join(v for _, v in codings(item))
                self.skip(entry, f"interpretation[{i}]", f"interpretation not used: {text!r}")
                self.notes.append(f"{what}: interpretation {text}")
        elif entry.type in ("Condition", "MedicationStatement", "MedicationRequest"):
            self.note(entry, "note", f"{entry.type} {entry.id or ''}".strip())
        used = _USED_ELEMENTS.get(entry.type, frozenset()) | _ALWAYS_USED
        done = {u.path for u in self.unmapped if u.path.startswith(entry.path + ".")}
        for key in entry.resource:
            path = f"{entry.path}.{key}"
            if key in used or any(
                p == path or p.startswith((path + ".", path + "[")) for p in done
            ):
                continue
            self.skip(entry, key, "element not used by SecondLook")

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
            # A deceased patient's age is the age at death, not at today.
            until = min(on, self.death_date) if self.death_date else on
            patient["age"] = _age(self.birth_date, until)
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
            doc["questionnaires"] = [q for _, q in sorted(self.questionnaires, key=lambda x: x[0])]
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
        for i, ext in enumerate(seq(resource.get("extension"))):
            if isinstance(ext, dict) and ext.get("url") == c.EXT_AGE:
                value_age = ext.get("valueAge")
                age = value_age.get("value") if isinstance(value_age, dict) else None
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
        self.deceased(entry)

    def deceased(self, entry: _Entry) -> None:
        """A deceased patient is not assessed: the import fails with a problem that says so.

        Assessing a record of someone who has died would produce red flags and a plan for
        nobody (and an age counted to today). The case is still returned, for the record.
        """
        resource = entry.resource
        when = resource.get("deceasedDateTime")
        if resource.get("deceasedBoolean") is True or isinstance(when, str):
            died, _ = partial_date(when)
            self.death_date = died
            self.problems.append(
                Problem(
                    "$.patient",
                    "the patient is recorded as deceased"
                    + (f" ({when})" if isinstance(when, str) else "")
                    + " in Patient.deceased[x]: SecondLook does not assess a deceased patient",
                    "check that this is the right patient's record",
                )
            )

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
        when, precision = _performed(resource)
        if when is None:
            self.skip(
                entry,
                "performed[x]",
                f"{procedure}: a surgery needs the date (at least the year) it was performed",
            )
            return
        surgery: dict[str, Any] = {"date": when, "procedure": procedure}
        if precision:
            surgery["date_precision"] = precision
            self.skip(
                entry, "performed[x]", f"{procedure}: only the {precision} is known ({when[:7]})"
            )
        levels: list[str] = []
        for i, ext in enumerate(seq(resource.get("extension"))):
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
            texts += [concept_text(site) for site in seq(resource.get("bodySite"))]
            for text in texts:
                for upper, lower in c.LEVEL_IN_TEXT.findall(text.upper()):
                    level = f"{upper}-{lower}"
                    if level not in levels:
                        levels.append(level)
        if levels:
            surgery["levels"] = levels
        # Keep the key order of the case model (levels before side) for readable output.
        surgery = {k: surgery[k] for k in _SURGERY_KEYS if k in surgery}
        for i, reason in enumerate(seq(resource.get("reasonCode"))):
            indication = _is_local(reason)
            if indication and "indication" not in surgery:
                surgery["indication"] = indication
            else:
                self.skip(entry, f"reasonCode[{i}]", "indication not in SecondLook's codes")
        complications: list[str] = []
        examined = False
        for i, item in enumerate(seq(resource.get("complication"))):
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
        self.procedure_extras(entry, f"{procedure} of {when}")

    def procedure_extras(self, entry: _Entry, what: str) -> None:
        """Report what a surgery record says that the case has no field for, notes verbatim."""
        resource = entry.resource
        self.note(entry, "note", what)
        outcome = concept_text(resource.get("outcome"))
        if outcome:
            self.skip(entry, "outcome", f"outcome not coded for SecondLook: {outcome!r}")
            self.notes.append(f"{what}: outcome {outcome!r}")
        for i, device in enumerate(seq(resource.get("focalDevice"))):
            name = ""
            if isinstance(device, dict):
                manipulated = device.get("manipulated")
                name = manipulated.get("display", "") if isinstance(manipulated, dict) else ""
            self.skip(
                entry,
                f"focalDevice[{i}]",
                f"device {name!r} not mapped (instrumented is read from SecondLook's extension)",
            )
            self.notes.append(f"{what}: device {name or 'not named'}")

    def note(self, entry: _Entry, key: str, what: str) -> None:
        """Free-text notes: reported, and kept in the import notes for the clinician."""
        for i, item in enumerate(seq(entry.resource.get(key))):
            text = item.get("text") if isinstance(item, dict) else None
            if isinstance(text, str) and text.strip():
                self.skip(
                    entry, f"{key}[{i}]", f"note not interpreted (shown to the clinician): {text!r}"
                )
                self.notes.append(f"{what}: {text.strip()}")

    def standard_procedure(self, entry: _Entry, code: object) -> str | None:
        """The procedure id of a spine operation, or None (reported) for anything else.

        A spine operation is recognised by CPT (the listed codes, else the spine families 22xxx
        and 63xxx less their non-operative ranges), SNOMED CT spine surgery concepts, or words
        that name both an operation and the spine. Injections, blocks, imaging, therapy and a
        non-surgical Procedure.category never are: an injection must not become the index
        surgery.
        """
        resource = entry.resource
        text = f" {concept_text(code)} "
        cpts = [v for s_, v in codings(code) if s_ == c.CPT and v.isdigit()]
        for value in cpts:
            number = int(value)
            for low, high, what in c.CPT_INJECTIONS:
                if low <= number <= high:
                    self.injection(entry, f"{what} (CPT {value})")
                    return None
            for low, high, what in c.CPT_SPINE_NOT_SURGERY:
                if low <= number <= high:
                    self.skip(entry, "code", f"{what} (CPT {value}): not a spine surgery")
                    return None
        categories = {
            v for concept in _as_list(resource.get("category")) for s_, v in codings(concept)
        }
        if categories & c.SNOMED_NOT_SURGICAL_CATEGORIES and not (
            categories & {c.SNOMED_SURGICAL_CATEGORY}
        ):
            self.skip(entry, "category", "not a surgical procedure (Procedure.category)")
            return None
        for value in cpts:
            if value in c.CPT_PROCEDURE:
                return c.CPT_PROCEDURE[value]
        if any(word in text for word in ("injection", "block", "epidural", "ablation")) and any(
            word in text for word in (*c.SPINE_WORDS, "facet", "sacroiliac", "nerve root")
        ):
            self.injection(entry, concept_text(code))
            return None
        if any(word in text for word in c.NOT_SURGERY_WORDS):
            self.skip(entry, "code", "not a spine surgery (an injection, test, imaging or therapy)")
            return None
        for words, procedure in c.PROCEDURE_KEYWORDS:
            if words in text:
                return procedure
        for system, value in codings(code):
            if system == c.SNOMED and value in c.SNOMED_PROCEDURE:
                found = c.SNOMED_PROCEDURE[value]
                if found == "other":
                    self.skip(entry, "code", "spinal fusion of unknown approach: imported as other")
                return found
        for value in cpts:
            if value[:2] in ("22", "63") and len(value) == 5:
                self.skip(
                    entry, "code", f"spine surgery CPT {value} of unknown kind: imported as other"
                )
                return "other"
        spine = any(word in text for word in c.SPINE_WORDS)
        sites = {v for site in _as_list(resource.get("bodySite")) for s_, v in codings(site)}
        spine = spine or bool(sites & c.SNOMED_SPINE_SITES)
        surgical = c.SNOMED_SURGICAL_CATEGORY in categories or any(
            word in text for word in _OPERATION_WORDS
        )
        if spine and surgical:
            self.skip(entry, "code", "spine surgery of unknown kind: imported as other")
            return "other"
        self.skip(entry, "code", "not a spine surgery SecondLook recognises")
        return None

    def injection(self, entry: _Entry, what: str) -> None:
        """A spinal injection or block: injection history, never a surgery."""
        when, _ = _performed(entry.resource)
        self.skip(
            entry,
            "code",
            f"spinal injection or block ({what}) on {when or 'an unknown date'}: not a surgery; "
            "a diagnostic block enters blocks[] only with its relief, and a recent injection "
            "is systemic.recent_spinal_injection",
        )
        self.notes.append(f"injection history: {what} on {when or 'an unknown date'}")

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
        if verification in ("unconfirmed", "provisional", "differential"):
            # A suspected diagnosis is neither a yes nor a no: the field stays unknown.
            self.skip(entry, "verificationStatus", f"{verification}: not a confirmed {path}")
            return
        if verification is None and resource.get("verificationStatus") is not None:
            self.skip(entry, "verificationStatus", "verification status not understood")
            return
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
        for ident in seq(resource.get("identifier")):
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
                    for comp in seq(resource.get("component"))
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
        for i, comp in enumerate(seq(entry.resource.get("component"))):
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
                    self.latest(entry, "patient.smoker", _smoker(resource))
                except ValueProblem as problem:
                    self.skip(entry, "value[x]", f"smoking status: {problem}")
                return
            item = instrument_of_item(value)
            if item is not None:
                self.item_observation(entry, item[0], item[1], when)
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
        if not isinstance(unit, str) or unit not in units:
            self.skip(entry, "valueQuantity", f"{path}: unit {unit!r} not one of {sorted(units)}")
            return
        value = round(float(quantity["value"]) * units[str(unit)], 3)
        self.latest(entry, path, value)

    def latest(self, entry: _Entry, path: str, value: Any) -> None:
        """Keep the value with the latest effective time; report the others.

        Vitals, smoking status and labs recur; bundle order says nothing about time.
        """
        instant = _instant(entry.resource)
        previous = self.latest_seen.get(path)
        reason = f"{path}: an earlier value (by effective date); the latest one is used"
        if previous is not None:
            if instant is None or (previous[0] is not None and instant <= previous[0]):
                self.skip(entry, "", reason)
                return
            self.skip(previous[1], "", reason)
        self.latest_seen[path] = (instant, entry)
        section, _, key = path.partition(".")
        if section == "labs":
            if instant:
                self.lab_dates[key] = instant[:10]
            self.section("labs")[key] = value
        else:
            (self.patient_doc if section == "patient" else self.section(section))[key] = value

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
        for ref in _as_list(resource.get("derivedFrom")):
            target = self.index.resolve(ref.get("reference") if isinstance(ref, dict) else None)
            if target is not None and target.index in self.imported_responses:
                self.skip(entry, "", "score of a QuestionnaireResponse imported as answers")
                return
        if when is None:
            self.skip(entry, "effective[x]", f"{instrument} score without a date")
            return
        try:
            if isinstance(resource.get("valueString"), str):
                value = float(resource["valueString"])  # US Core writes the PHQ-9 total so
            else:
                value = float(decode("float", resource))
        except (ValueProblem, ValueError) as problem:
            self.skip(entry, "value[x]", f"{instrument} score: {problem}")
            return
        if not math.isfinite(value):
            self.skip(entry, "value[x]", f"{instrument} score is not a finite number")
            return
        # Decided at the end: a total whose answers were imported is not imported twice.
        self.totals.append((entry, instrument, when, value))

    def item_observation(
        self, entry: _Entry, instrument: Instrument, number: int, when: str | None
    ) -> None:
        """One item of a questionnaire as its own Observation (US Core screening items)."""
        resource = entry.resource
        for ref in _as_list(resource.get("derivedFrom")):
            target = self.index.resolve(ref.get("reference") if isinstance(ref, dict) else None)
            if target is not None and target.index in self.imported_responses:
                self.skip(entry, "", "item of a QuestionnaireResponse imported as answers")
                return
        if when is None:
            self.skip(entry, "effective[x]", f"item {number} of {instrument.id} without a date")
            return
        try:
            value = answer_from_value(instrument, number, resource)
        except AnswersInvalid as invalid:
            self.skip(entry, "value[x]", "; ".join(invalid.problems))
            return
        key = (instrument.id, _instant(resource) or when)
        group = self.item_groups.setdefault(key, {})
        if number in group:
            self.skip(entry, "", f"item {number} of {instrument.id} given twice at {key[1]}")
            return
        group[number] = (entry, value)

    def finish_questionnaires(self) -> None:
        for (instrument_id, instant), group in self.item_groups.items():
            count = INSTRUMENTS[instrument_id].item_count
            answers: list[int | None] = [None] * count
            for number, (_, answer) in group.items():
                answers[number - 1] = answer
            first = min(e.index for e, _ in group.values())
            self.questionnaires.append(
                (first, {"instrument": instrument_id, "date": instant[:10], "answers": answers})
            )
        # A total is left out only when complete answers of that date are imported (they give
        # the same total); with answers missing the EHR's total is all there is.
        answered = {
            (q["instrument"], q["date"])
            for _, q in self.questionnaires
            if "answers" in q and all(a is not None for a in q["answers"])
        }
        for entry, instrument_id, when, value in self.totals:
            if (instrument_id, when) in answered:
                self.skip(
                    entry,
                    "",
                    f"{instrument_id} total of {when}: its answers are imported and scored",
                )
                continue
            self.questionnaires.append(
                (entry.index, {"instrument": instrument_id, "date": when, "score": value})
            )

    # -- DiagnosticReport -------------------------------------------------------------------

    def diagnostic_report(self, entry: _Entry) -> None:
        resource = entry.resource
        code = resource.get("code")
        own = _is_local(code)
        text = concept_text(code)
        modality = own or _modality(text)
        when = _first_date(resource, "effectiveDateTime", "effectivePeriod", "issued")
        if modality is None:
            self.skip(entry, "code", "not an imaging study SecondLook recognises")
            return
        if own is None and modality != "dexa" and not self.spinal(resource, text):
            # A chest X-ray or a head CT says nothing about the spine.
            self.skip(
                entry,
                "code",
                f"{modality} not of the spine (no spinal anatomy in code or bodySite)",
            )
            return
        if when is None:
            self.skip(entry, "effective[x]", "imaging study without a date")
            return
        findings: list[dict[str, Any]] = []
        for i, ref in enumerate(seq(resource.get("result"))):
            target = self.index.resolve(ref.get("reference") if isinstance(ref, dict) else None)
            if target is None:
                continue
            self.consumed.add(target.index)
            finding = self.finding(target)
            if finding is not None:
                findings.append(finding)
            else:
                self.skip(entry, f"result[{i}]", "result is not a finding SecondLook recognises")
        not_coded = False
        for i, item in enumerate(seq(resource.get("conclusionCode"))):
            code_ = _is_local(item)
            if code_ == c.FINDINGS_NOT_CODED:
                not_coded = True
            elif code_:
                findings.append({"finding": code_})
            else:
                self.skip(entry, f"conclusionCode[{i}]", "finding not in SecondLook's codes")
        study: dict[str, Any] = {"date": when, "modality": modality, "findings": findings}
        report = _report_text(resource)
        if report:
            study["report"] = report
            self.skip(entry, "conclusion", "report text is kept with the study, not interpreted")
        if not_coded or (own is None and not findings):
            # The findings are in the text (or nowhere): never "no findings".
            study["findings_coded"] = False
        self.imaging.append(study)

    def spinal(self, resource: dict[str, Any], text: str) -> bool:
        sites = _as_list(resource.get("bodySite"))
        words = " ".join([text, *(concept_text(site) for site in sites)])
        if any(word in f" {words} " for word in _SPINE_IMAGING_WORDS):
            return True
        return any(v in c.SNOMED_SPINE_SITES for site in sites for _, v in codings(site))

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
        for i, comp in enumerate(seq(resource.get("component"))):
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
        canonical = resource.get("questionnaire")
        definition = (
            self.questionnaire_defs.get(canonical.split("|")[0])
            if isinstance(canonical, str)
            else None
        )
        try:
            reading = read_questionnaire_response(resource, definition)
        except AnswersInvalid as invalid:
            self.skip(entry, "item", "; ".join(invalid.problems))
            return
        for note in reading.notes:
            self.skip(entry, "item.answer", note)
        if all(a is None for a in reading.answers):
            self.skip(entry, "item", f"{reading.instrument.id}: no item was answered")
            return
        self.imported_responses.add(entry.index)
        self.questionnaires.append(
            (
                entry.index,
                {"instrument": reading.instrument.id, "date": when, "answers": reading.answers},
            )
        )

    # -- medications ------------------------------------------------------------------------

    def medication(self, entry: _Entry) -> None:
        resource = entry.resource
        concept = resource.get("medicationCodeableConcept")
        medication: dict[str, Any] | None = None
        reference = resource.get("medicationReference")
        if concept is None and isinstance(reference, dict):
            ref = reference.get("reference")
            target = self.contained(entry, ref) or self.resolved(ref)
            if target is not None and target.get("resourceType") == "Medication":
                medication = target
                concept = target.get("code")
            else:
                # Not in the bundle: its display still names the drug.
                concept = {"text": reference.get("display") or ""}
                self.skip(
                    entry,
                    "medicationReference",
                    f"Medication {ref!r} is not in the bundle: read from its display only",
                )
        product = dose.identify(concept, medication)
        status = resource.get("status")
        if status not in CURRENT_MEDICATION:
            what = (
                f" ({product.ingredient}, an opioid)"
                if product and product.klass == "opioid"
                else ""
            )
            self.skip(entry, "status", f"medication{what} status {status!r}: not current use")
            return
        if product is None:
            self.skip(entry, "medication[x]", "medication not in SecondLook's classes")
            return
        self.medications.append((entry, product))

    def contained(self, entry: _Entry, ref: object) -> dict[str, Any] | None:
        if not isinstance(ref, str) or not ref.startswith("#"):
            return None
        for item in seq(entry.resource.get("contained")):
            if isinstance(item, dict) and f"#{item.get('id')}" == ref:
                return item
        return None

    def resolved(self, ref: object) -> dict[str, Any] | None:
        target = self.index.resolve(ref)
        if target is None:
            return None
        self.consumed.add(target.index)
        return target.resource

    def finish_medications(self) -> None:
        if not self.medications:
            return
        meds = self.section("medications")
        known = 0.0
        unknown: list[str] = []
        months: list[float] = []
        on = date.fromisoformat(self.assessed_on())
        opioids = [(e, p) for e, p in self.medications if p.klass == "opioid"]
        # A statement based on a request that is counted describes the same use: count it once.
        requests = {e.index for e, _ in opioids if e.type == "MedicationRequest"}
        for entry, product in list(opioids):
            based = [
                self.index.resolve(r.get("reference"))
                for r in _as_list(entry.resource.get("basedOn"))
                if isinstance(r, dict)
            ]
            if entry.type == "MedicationStatement" and any(
                b is not None and b.index in requests for b in based
            ):
                opioids.remove((entry, product))
                start = _first_date(entry.resource, "effectivePeriod", "effectiveDateTime")
                if start:  # it still tells since when the opioid is taken
                    months.append(max(0.0, (on - date.fromisoformat(start)).days / 30.4375))
                self.skip(
                    entry,
                    "basedOn",
                    f"{product.ingredient}: counted from the request it is based on",
                )
        for _, product in self.medications:
            if product.klass != "opioid":
                meds[product.klass] = True
        for entry, product in opioids:
            mme = dose.daily_mme(entry.resource, product)
            if isinstance(mme, str):
                unknown.append(product.ingredient)
                self.skip(
                    entry,
                    "dosageInstruction" if entry.type == "MedicationRequest" else "dosage",
                    f"{product.ingredient}: {mme}; its daily MME is unknown (opioid use is "
                    "recorded, and the dose is to be verified)",
                )
            else:
                known += mme
            start = _first_date(entry.resource, "effectivePeriod", "effectiveDateTime")
            if entry.type == "MedicationStatement" and start:
                months.append(max(0.0, (on - date.fromisoformat(start)).days / 30.4375))
            else:
                self.skip(entry, "effective[x]", f"{product.ingredient}: start of use unknown")
        if opioids:
            meds["opioid"] = True
            if not unknown:
                meds["opioid_mme_per_day"] = round(known, 1)
            elif known > 0:
                # Part of the dose is known: the total is at least that (never "looks known").
                meds["opioid_mme_per_day_at_least"] = round(known, 1)
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
        status = resource.get("lifecycleStatus")
        # SecondLook's export writes the patient's goals as "proposed" (to the care team).
        current = ("active", "accepted", "planned", None)
        if status not in current and not (kind == c.PATIENT_GOAL_CODE and status == "proposed"):
            self.skip(entry, "lifecycleStatus", f"goal {status!r}: not a current goal")
            return
        if kind != c.PATIENT_GOAL_CODE:
            expressed = resource.get("expressedBy")
            by = (
                self.index.resolve(expressed.get("reference"))
                if isinstance(expressed, dict)
                else None
            )
            by_patient = by is not None and by is self.patient
            if resource.get("target") and not by_patient:
                self.skip(
                    entry,
                    "target",
                    "a clinical target (measure and value), not the patient's own goal",
                )
                return
            if not by_patient:
                self.skip(
                    entry,
                    "expressedBy",
                    "not expressed by the patient (Goal.expressedBy): a care team's goal, "
                    "not the patient's own",
                )
                return
        description = resource.get("description")
        text = description.get("text") if isinstance(description, dict) else None
        if not isinstance(text, str) or not text.strip():
            self.skip(entry, "description", "goal without a description text")
            return
        self.goals.append(text)


_ASSESSMENT_OUTPUT = "SecondLook's assessment output, not case data: the engine derives it again"
#: Why a resource type another system wrote is not read.
_NO_PLACE = {
    "DetectedIssue": "an alert of another system: SecondLook raises its own from the case facts",
    "ServiceRequest": "an order: SecondLook reads results (reports, observations), not orders",
    "Task": "a workflow task: not case data",
    "CarePlan": "the EHR's care plan: SecondLook's plan is made from its own assessment",
    "Provenance": "provenance of the record: not case data",
    "Device": "a device record: instrumentation is read from the surgery",
    "Questionnaire": "a form definition: used only to recognise the instrument of a response",
    "Medication": "a Medication is read only through a MedicationStatement or Request",
    "Encounter": "a visit: the case is built from its findings, not from visits",
    "ImagingStudy": "image series: imaging is read from the report (DiagnosticReport)",
    "OperationOutcome": "a message of the EHR about its search, not patient data",
}
#: SecondLook's own output types (an export read back): derived again by the engine.
_OWN_OUTPUT = frozenset(
    {"DetectedIssue", "ServiceRequest", "Task", "CarePlan", "Provenance", "Device", "Questionnaire"}
)
_NO_PLACE_DEFAULT = "this resource type has no place in a case document"


def _is_secondlooks(value: object, depth: int = 0) -> bool:
    """Whether a resource carries SecondLook's own codes or identifiers (an export)."""
    if depth > 12:
        return False
    if isinstance(value, str):
        return value.startswith(c.BASE)
    if isinstance(value, dict):
        return any(_is_secondlooks(v, depth + 1) for k, v in value.items() if k != "text")
    if isinstance(value, list):
        return any(_is_secondlooks(v, depth + 1) for v in value)
    return False


def _no_place(entry: _Entry) -> str:
    if entry.type in _OWN_OUTPUT and _is_secondlooks(entry.resource):
        return _ASSESSMENT_OUTPUT
    return _NO_PLACE.get(entry.type, _NO_PLACE_DEFAULT)


_SURGERY_KEYS = (
    "date",
    "date_precision",
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


#: Words of an operation (with spine words, an unlisted spine surgery imports as "other").
_OPERATION_WORDS = (
    "fusion",
    "arthrodesis",
    "decompression",
    "ectomy",
    "otomy",
    "plasty",
    "fixation",
    "instrumentation",
    "excision",
    "resection",
    "revision",
    "surgery",
    "operation",
)


#: Elements that are arrays in R4: any other value is reported, not silently skipped.
_LIST_ELEMENTS = (
    "extension",
    "identifier",
    "bodySite",
    "reasonCode",
    "complication",
    "focalDevice",
    "note",
    "component",
    "result",
    "conclusionCode",
    "presentedForm",
    "contained",
    "dosageInstruction",
    "dosage",
    "interpretation",
    "derivedFrom",
    "hasMember",
    "basedOn",
    "target",
    "category",
)
#: Elements whose report means the resource as a whole was not mapped.
_REJECTING_ELEMENTS = ("status", "code", "medication[x]", "lifecycleStatus", "category", "item")
#: Elements every handler reads or that carry no clinical content: resource bookkeeping, the
#: generated narrative, and the subject (checked against the patient).
_ALWAYS_USED = frozenset(
    {
        "resourceType",
        "id",
        "meta",
        "text",
        "implicitRules",
        "language",
        "subject",
        "patient",
        "status",
    }
)
#: Elements each handler reads (docs/fhir.md); anything else in a mapped resource is reported.
_USED_ELEMENTS: dict[str, frozenset[str]] = {
    "Patient": frozenset(
        {
            "gender",
            "birthDate",
            "extension",
            "name",
            "telecom",
            "address",
            "identifier",
            "deceasedDateTime",
            "deceasedBoolean",
        }
    ),
    "Procedure": frozenset(
        {
            "code",
            "performedDateTime",
            "performedPeriod",
            "performedString",
            "extension",
            "bodySite",
            "reasonCode",
            "complication",
            "category",
            "note",
            "outcome",
            "focalDevice",
        }
    ),
    "Condition": frozenset({"code", "verificationStatus", "clinicalStatus", "note"}),
    "Observation": frozenset(
        {
            "code",
            "effectiveDateTime",
            "effectivePeriod",
            "effectiveInstant",
            "issued",
            "valueQuantity",
            "valueCodeableConcept",
            "valueBoolean",
            "valueInteger",
            "valueString",
            "valueDateTime",
            "component",
            "bodySite",
            "identifier",
            "derivedFrom",
            "hasMember",
            "note",
            "interpretation",
        }
    ),
    "DiagnosticReport": frozenset(
        {
            "code",
            "effectiveDateTime",
            "effectivePeriod",
            "issued",
            "result",
            "conclusion",
            "conclusionCode",
            "presentedForm",
            "category",
        }
    ),
    "QuestionnaireResponse": frozenset({"questionnaire", "authored", "item"}),
    "MedicationStatement": frozenset(
        {
            "medicationCodeableConcept",
            "medicationReference",
            "dosage",
            "effectivePeriod",
            "effectiveDateTime",
            "contained",
            "note",
        }
    ),
    "MedicationRequest": frozenset(
        {
            "medicationCodeableConcept",
            "medicationReference",
            "dosageInstruction",
            "contained",
            "note",
        }
    ),
    "Goal": frozenset({"description", "category", "lifecycleStatus", "expressedBy", "target"}),
}


def _as_list(value: object) -> list[Any]:
    if isinstance(value, list):
        return value
    return [value] if value is not None else []


_PARTIAL_DATE = re.compile(r"(?<!\d)((?:1[89]|20)\d{2})(?:-(0[1-9]|1[0-2])(?:-(\d{2}))?)?(?!\d)")


def partial_date(text: object) -> tuple[str | None, str | None]:
    """(``YYYY-MM-DD``, precision) of a FHIR date, dateTime or free text holding one.

    Year-only and year-month dates give the first day with precision ``year`` / ``month``;
    a full date gives precision None. Nothing usable gives (None, None).
    """
    if not isinstance(text, str):
        return None, None
    match = _PARTIAL_DATE.search(text)
    if match is None:
        return None, None
    year, month, day = match.groups()
    if day is not None:
        try:
            return date(int(year), int(month), int(day)).isoformat(), None
        except ValueError:
            return None, None
    if month is not None:
        return f"{year}-{month}-01", "month"
    return f"{year}-01-01", "year"


def _performed(resource: dict[str, Any]) -> tuple[str | None, str | None]:
    for key in ("performedDateTime", "performedPeriod", "performedString"):
        value = resource.get(key)
        if isinstance(value, dict):
            value = value.get("start") or value.get("end")
        found = partial_date(value)
        if found[0] is not None:
            return found
    return None, None


def _instant(resource: dict[str, Any]) -> str | None:
    """The effective time of an Observation as sortable text (full dateTime when given)."""
    for key in ("effectiveDateTime", "effectiveInstant", "effectivePeriod", "issued"):
        value = resource.get(key)
        if isinstance(value, dict):
            value = value.get("start") or value.get("end")
        if isinstance(value, str) and len(value) >= 10:
            try:
                date_part(value)
            except ValueProblem:
                continue
            return value
    return None


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
    ("gadolinium", "mri"),
    (" mr ", "mri"),
    ("mri", "mri"),
    ("magnetic resonance", "mri"),
    (" ct ", "ct"),
    ("computed tomography", "ct"),
    ("x-ray", "xray"),
    ("xray", "xray"),
    (" xr ", "xray"),
    ("radiograph", "xray"),
)
#: Contrast wording of imaging orders and reports. "W/O", "WO" and "without" mean no contrast;
#: "W and WO", "W/WO", "with and without" mean both series, which is a gadolinium study.
_WITH_AND_WITHOUT = re.compile(
    r"\bw/?\s*(?:and|&|/)?\s*w/?o\b|with\s*(?:and|&|/)\s*without"
    r"|without\s*(?:and|&|/)\s*with\b|\bw/?o\s*(?:and|&|/)\s*w\b/?"
)
_WITHOUT = re.compile(r"\bw/o\b|\bwo\b|without|\bnon[- ]?contrast|\bno contrast")
_WITH = re.compile(
    r"\bwith contrast|\bw/\s*contrast|\bw\s+contrast|\bgad\b|gadolinium|contrast[- ]enhanced"
    r"|post[- ]?contrast|\bw/\s*gad|\bwith gad"
)
#: Words of spinal anatomy in an imaging study's code or body site ("cervical" alone is not:
#: the cervix; "thoracic" alone is the chest).
_SPINE_IMAGING_WORDS = (
    *c.SPINE_WORDS,
    " l spine",
    " c spine",
    " t spine",
    "myelogra",
    "sacroiliac",
    " si joint",
    "coccyx",
    "full spine",
    "scoliosis",
)


def _modality(text: str) -> str | None:
    text = f" {text} "
    for words, modality in _MODALITY_WORDS:
        if words in text:
            if modality == "mri":
                return "mri-gadolinium" if _contrast(text) else "mri"
            return modality
    return None


def _contrast(text: str) -> bool:
    """Whether an MRI's wording says gadolinium was given."""
    if _WITH_AND_WITHOUT.search(text):
        return True
    if _WITHOUT.search(text):
        return False
    return bool(_WITH.search(text)) or "contrast" in text


def _report_text(resource: dict[str, Any]) -> str | None:
    """The report as text: conclusion, then any plain-text presentedForm (base64 data)."""
    parts: list[str] = []
    conclusion = resource.get("conclusion")
    if isinstance(conclusion, str) and conclusion.strip():
        parts.append(conclusion.strip())
    for form in _as_list(resource.get("presentedForm")):
        if not isinstance(form, dict):
            continue
        kind = str(form.get("contentType") or "")
        data = form.get("data")
        if kind.startswith("text/") and isinstance(data, str):
            try:
                text = base64.b64decode(data, validate=False).decode("utf-8", "replace")
            except (ValueError, binascii.Error):
                continue
            if text.strip():
                parts.append(text.strip())
        elif isinstance(form.get("title"), str):
            parts.append(f"[{form['title']}: {kind or 'attachment'} not shown]")
    return "\n\n".join(parts)[:20000] if parts else None
