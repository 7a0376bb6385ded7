"""FHIR R4 REST API under /fhir: the CapabilityStatement, read and search (docs/fhir.md).

Same authentication, authorization and audit as /api/v1 (Auditor, PERMISSIONS ``fhir.*``); the
resources are computed from the stored records by ``secondlook.fhir.server``. Every error on a
/fhir path is an OperationOutcome (``FhirErrors`` rewrites the API's problem details), with
``application/fhir+json``. The routes are not in the OpenAPI document: /fhir/metadata
describes them.

``fullUrl``s and paging links start with the configured base URL (``SECONDLOOK_BASE_URL``,
``app.state.public_base_url``), never with the request's ``Host`` header, which any client may
set. Only JSON is served: an ``Accept`` that admits no JSON type (``application/fhir+xml``) or
``_format=xml`` is 406. ``FhirCors`` answers browsers from the configured origins on /fhir and
/cds-services.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.middleware.cors import CORSMiddleware

import secondlook
from secondlook.fhir.server import (
    PATIENT_TYPES,
    SERVED_TYPES,
    PatientRecords,
    StoredQuestionnaire,
    instant,
    patient_of,
    patient_resource,
    patient_resources,
    questionnaire_resources,
)
from secondlook.http.deps import MAX_ID, AuditDep, CurrentUser
from secondlook.http.problems import (
    PROBLEM_MEDIA_TYPE,
    TYPE_PREFIX,
    ApiProblem,
    ProblemField,
    as_problem,
)
from secondlook.platform.access import Principal
from secondlook.store import records
from secondlook.store.models import Assessment, CaseVersion, Patient, QuestionnaireResponse

log = logging.getLogger("secondlook.api")

FHIR_PREFIX: Final = "/fhir"
FHIR_JSON: Final = "application/fhir+json"
FHIR_VERSION: Final = "4.0.1"
DEFAULT_COUNT: Final = 50
MAX_COUNT: Final = 200
#: Where problem kinds that name a FHIR issue type start (``fhir-not-supported`` → not-supported).
FHIR_KIND: Final = "fhir-"
_FORMATS: Final = frozenset({"json", "application/json", FHIR_JSON})
_JSON_RANGES: Final = frozenset({"*/*", "application/*", "application/json", FHIR_JSON})
_PAGING: Final = ("_count", "_offset", "_format", "_summary", "_total", "_sort")
#: Where the served resources' dates are, for ``_sort`` (besides ``_id`` and ``_lastUpdated``).
SORT_DATES: Final[dict[str, tuple[str, str]]] = {
    "Patient": ("birthdate", "birthDate"),
    "Observation": ("date", "effectiveDateTime"),
    "DetectedIssue": ("identified", "identifiedDateTime"),
    "QuestionnaireResponse": ("authored", "authored"),
    "Provenance": ("recorded", "recorded"),
    "Task": ("authored-on", "authoredOn"),
    "ServiceRequest": ("authored", "authoredOn"),
    "CarePlan": ("date", "created"),
    "Condition": ("recorded-date", "recordedDate"),
}
SEARCH_PARAMS: Final[dict[str, dict[str, tuple[str, str]]]] = {
    "Patient": {
        "_id": ("token", "the patient's id"),
        "identifier": (
            "token",
            "the medical record number (`value`, or `system|value` with the configured MRN system)",
        ),
    },
    "Questionnaire": {
        "_id": ("token", "the instrument id (nrs-pain, phq-9, gad-7)"),
        "url": ("uri", "the canonical URL"),
    },
    **{
        kind: {
            "patient": ("reference", "the patient (`123` or `Patient/123`); required unless _id"),
            "subject": ("reference", "the same as patient"),
            "_id": ("token", "the resource id"),
        }
        for kind in PATIENT_TYPES
    },
}
_DIGITS: Final = re.compile(r"^[1-9][0-9]{0,9}$")

router = APIRouter(prefix=FHIR_PREFIX, tags=["fhir"], include_in_schema=False)


def fhir_response(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON)


def _fhir_problem(status: int, code: str, detail: str, expression: str | None = None) -> ApiProblem:
    """A problem that FhirErrors turns into an OperationOutcome with issue code `code`."""
    errors = None
    if expression:
        errors = [ProblemField(path=expression, message=detail)]
    return ApiProblem(status, detail, kind=FHIR_KIND + code, errors=errors)


@contextmanager
def _no_500_problem() -> Iterator[None]:
    """Unexpected errors (already audited) become a 500 problem, so that FhirErrors answers them
    as an OperationOutcome instead of the server error page."""
    try:
        yield
    except Exception as exc:
        if as_problem(exc) is not None:
            raise
        incident = uuid.uuid4()
        log.error("unexpected error on a FHIR route, incident %s", incident, exc_info=exc)
        raise ApiProblem(
            500,
            f"an unexpected error occurred (incident {incident}); an administrator can find it "
            "in the server log",
            kind=FHIR_KIND + "exception",
        ) from exc


# -- CapabilityStatement ------------------------------------------------------------------------


def capability_statement(base_url: str, *, cors: bool = False) -> dict[str, Any]:
    resources = []
    for kind in SERVED_TYPES:
        params = [
            {"name": name, "type": kind_, "documentation": doc}
            for name, (kind_, doc) in SEARCH_PARAMS[kind].items()
        ]
        params += [
            {
                "name": "_count",
                "type": "number",
                "documentation": f"page size, 1-{MAX_COUNT} (default {DEFAULT_COUNT})",
            },
            {
                "name": "_offset",
                "type": "number",
                "documentation": "where the page starts; follow the Bundle's next/previous links",
            },
            {
                "name": "_summary",
                "type": "token",
                "documentation": "count: only the total, no entries",
            },
            {
                "name": "_total",
                "type": "token",
                "documentation": "none (no total), estimate or accurate (the exact total)",
            },
            {
                "name": "_sort",
                "type": "string",
                "documentation": "comma-separated, `-` for descending: _id, _lastUpdated"
                + (f", {SORT_DATES[kind][0]}" if kind in SORT_DATES else ""),
            },
        ]
        resources.append(
            {
                "type": kind,
                "documentation": f"Search with GET [base]/{kind}?... or POST "
                f"[base]/{kind}/_search (application/x-www-form-urlencoded).",
                "interaction": [{"code": "read"}, {"code": "search-type"}],
                "versioning": "no-version",
                "readHistory": False,
                "updateCreate": False,
                "searchParam": params,
            }
        )
    return {
        "resourceType": "CapabilityStatement",
        "id": "secondlook",
        "url": f"{base_url}/metadata",
        "version": secondlook.__version__,
        "name": "SecondLookFhirServer",
        "title": "SecondLook FHIR R4 API (read-only)",
        "status": "active",
        "experimental": False,
        "date": "2026-11-21",
        "publisher": "SecondLook",
        "description": "Read and search the resources SecondLook derives from its stored records: "
        "the patient, the classification, red flags and safety alerts, instrument scores, "
        "questionnaire responses, the shipped questionnaires, the draft care plan with its "
        "service requests, tasks and goals, and provenance. Search parameters not listed are "
        "refused with 400.",
        "kind": "instance",
        "software": {"name": "SecondLook", "version": secondlook.__version__},
        "implementation": {"description": "SecondLook FHIR R4 API", "url": base_url},
        "fhirVersion": FHIR_VERSION,
        "format": [FHIR_JSON, "json"],
        "rest": [
            {
                "mode": "server",
                "documentation": "Read-only. Ids are stable for the same stored records.",
                "security": {
                    "cors": cors,
                    "description": "Not SMART on FHIR: send a SecondLook API token "
                    "(Authorization: Bearer sl_..., from POST /api/v1/tokens) or a SecondLook "
                    "browser session. Patients see only their own record, clinicians and "
                    "coordinators their organization's patients, admins no clinical data. "
                    "Every access is audited.",
                },
                "resource": resources,
            }
        ],
    }


@router.get("/metadata")
def metadata(request: Request) -> JSONResponse:
    """The CapabilityStatement (public, as the FHIR specification allows)."""
    _check_format(request, request.query_params)
    return fhir_response(
        capability_statement(_base(request), cors=bool(getattr(request.app.state, "cors", ())))
    )


# -- reading the store --------------------------------------------------------------------------


DEFAULT_BASE_URL: Final = "http://localhost:8000"


def _root(request: Request) -> str:
    """The configured public base URL (never the request's Host header)."""
    return str(getattr(request.app.state, "public_base_url", DEFAULT_BASE_URL)).rstrip("/")


def _base(request: Request) -> str:
    return _root(request) + FHIR_PREFIX


def _records(
    session: Session, patient: Patient, *, full: bool, mrn_system: str | None = None
) -> PatientRecords:
    org = patient.organization_id
    case = records.get_case_version(session, organization_id=org, patient_id=patient.id)
    found: dict[str, Any] = {}
    if full:
        assessment = session.scalars(
            select(Assessment)
            .where(Assessment.organization_id == org, Assessment.patient_id == patient.id)
            .order_by(Assessment.id.desc())
            .limit(1)
        ).first()
        if assessment is not None:
            assessed = session.get(CaseVersion, assessment.case_version_id)
            found.update(
                assessment_id=assessment.id,
                assessment=assessment.document,
                assessment_created_at=assessment.created_at,
                assessed_case=assessed.document if assessed is not None else None,
            )
        rows = session.scalars(
            select(QuestionnaireResponse)
            .where(
                QuestionnaireResponse.organization_id == org,
                QuestionnaireResponse.patient_id == patient.id,
            )
            .order_by(QuestionnaireResponse.id)
        )
        found["questionnaires"] = [
            StoredQuestionnaire(
                id=row.id,
                instrument=row.instrument,
                answered_on=row.answered_on,
                answers=list(row.answers),
                score=row.score,
                band=row.band,
                alerts=list(row.alerts),
                created_at=row.created_at,
            )
            for row in rows
        ]
    return PatientRecords(
        patient_id=patient.id,
        name=patient.name,
        mrn=patient.mrn,
        mrn_system=mrn_system,
        birth_date=patient.birth_date,
        updated_at=patient.updated_at,
        case=case.document if case is not None else None,
        case_created_at=case.created_at if case is not None else None,
        **found,
    )


def _not_found(resource_type: str, resource_id: str) -> ApiProblem:
    return _fhir_problem(404, "not-found", f"no {resource_type}/{resource_id} that you can see")


def _check_type(resource_type: str) -> None:
    if resource_type not in SERVED_TYPES:
        raise _fhir_problem(
            404,
            "not-supported",
            f"resource type {resource_type!r} is not served here; see /fhir/metadata",
        )


def _check_format(request: Request, params: Mapping[str, str]) -> None:
    wanted = params.get("_format")
    if wanted is not None and wanted.split(";")[0].strip() not in _FORMATS:
        raise _fhir_problem(406, "not-supported", f"_format {wanted!r}: only JSON is served")
    if wanted is None and not _accepts_json(request.headers.get("accept")):
        raise _fhir_problem(
            406,
            "not-supported",
            f"Accept {request.headers.get('accept')!r}: only JSON ({FHIR_JSON}) is served",
        )


def _accepts_json(accept: str | None) -> bool:
    if accept is None or not accept.strip():
        return True
    for item in accept.split(","):
        media, *options = (part.strip() for part in item.split(";"))
        quality = 1.0
        for option in options:
            name, _, value = option.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0 and media.lower() in _JSON_RANGES:
            return True
    return False


def _mrn_system(request: Request) -> str | None:
    value = getattr(request.app.state, "mrn_system", None)
    return str(value) if value else None


# -- read ---------------------------------------------------------------------------------------


@router.get("/{resource_type}/{resource_id}")
def read(resource_type: str, resource_id: str, request: Request, auditor: AuditDep) -> JSONResponse:
    """One resource by type and id; 404 (OperationOutcome) when unknown or not visible."""
    with _no_500_problem():
        if resource_type == "Questionnaire":
            with auditor.operation("fhir.definition.read"):
                _check_format(request, request.query_params)
                for questionnaire in questionnaire_resources():
                    if questionnaire["id"] == resource_id:
                        return fhir_response(questionnaire)
                raise _not_found(resource_type, resource_id)
        patient_id = patient_of(resource_id)
        if (
            resource_type not in SERVED_TYPES
            or patient_id is None
            or (resource_type == "Patient" and resource_id != str(patient_id))
        ):
            with auditor.operation("fhir.read"):
                _check_type(resource_type)
                raise _not_found(resource_type, resource_id)
        with auditor.patient("fhir.read", patient_id) as scope:
            _check_format(request, request.query_params)
            assert scope.patient is not None
            system = _mrn_system(request)
            if resource_type == "Patient":
                return fhir_response(
                    patient_resource(
                        _records(auditor.session, scope.patient, full=False, mrn_system=system)
                    )
                )
            found = _records(auditor.session, scope.patient, full=True, mrn_system=system)
            for resource in patient_resources(found):
                if resource["resourceType"] == resource_type and resource["id"] == resource_id:
                    return fhir_response(resource)
            raise _not_found(resource_type, resource_id)


# -- search -------------------------------------------------------------------------------------


Params = Mapping[str, str]


def _paging(params: Params) -> tuple[int, int]:
    def number(name: str, default: int, low: int, high: int) -> int:
        raw = params.get(name)
        if raw is None:
            return default
        # ASCII digits only (str.isdigit also takes other scripts' digits), and few enough
        # for int() (which refuses more than 4,300).
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 12) or not low <= int(raw) <= high:
            raise _fhir_problem(
                400, "value", f"{name} must be a whole number from {low} to {high}", name
            )
        return int(raw)

    return number("_count", DEFAULT_COUNT, 1, MAX_COUNT), number("_offset", 0, 0, MAX_ID)


def _check_params(request: Request, params: Params, resource_type: str) -> None:
    allowed = set(SEARCH_PARAMS[resource_type]) | set(_PAGING)
    for name in params:
        if name not in allowed:
            raise _fhir_problem(
                400,
                "not-supported",
                f"unknown search parameter {name!r} for {resource_type}; supported: "
                + ", ".join(sorted(allowed)),
                name,
            )
    summary = params.get("_summary")
    if summary is not None and summary not in ("count", "false"):
        raise _fhir_problem(
            400, "not-supported", f"_summary {summary!r}: only count (or false)", "_summary"
        )
    total = params.get("_total")
    if total is not None and total not in ("none", "estimate", "accurate"):
        raise _fhir_problem(
            400, "value", f"_total {total!r}: expected none, estimate or accurate", "_total"
        )
    _sort_keys(params, resource_type)
    _check_format(request, params)


def _sort_keys(params: Params, resource_type: str) -> list[tuple[str, bool]]:
    """(key, descending) of `_sort`; the keys are _id, _lastUpdated and the type's date."""
    raw = params.get("_sort")
    if raw is None:
        return []
    dated = SORT_DATES.get(resource_type)
    known = {"_id", "_lastUpdated", *([dated[0]] if dated else [])}
    keys = []
    for part in raw.split(","):
        name = part.strip()
        descending = name.startswith("-")
        name = name.removeprefix("-")
        if name not in known:
            raise _fhir_problem(
                400,
                "not-supported",
                f"_sort {name!r} is not supported for {resource_type}; supported: "
                + ", ".join(sorted(known)),
                "_sort",
            )
        keys.append((name, descending))
    return keys


def _sorted(
    found: list[dict[str, Any]], keys: Sequence[tuple[str, bool]], resource_type: str
) -> list[dict[str, Any]]:
    dated = SORT_DATES.get(resource_type)
    for name, descending in reversed(keys):  # stable sorts, last key first
        if name == "_id":
            found = sorted(found, key=lambda r: _id_key(str(r["id"])), reverse=descending)
            continue
        element = "meta" if name == "_lastUpdated" else (dated[1] if dated else "")

        def value(resource: dict[str, Any], element: str = element) -> str:
            if element == "meta":
                return str(resource.get("meta", {}).get("lastUpdated", ""))
            return str(resource.get(element) or "")

        # Resources without the date go last, whatever the direction.
        present = [r for r in found if value(r)]
        absent = [r for r in found if not value(r)]
        found = sorted(present, key=value, reverse=descending) + absent
    return found


def _id_key(resource_id: str) -> tuple[Any, ...]:
    """Ids compare by their numeric parts as numbers (2 before 10)."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in re.split(r"(\d+)", resource_id)
        if part
    )


def searchset(
    request: Request,
    params: Params,
    found: list[dict[str, Any]],
    total: int,
    offset: int,
    count: int,
) -> dict[str, Any]:
    """A searchset Bundle; its links are built on the configured base URL with the search's
    parameters (the GET form, also for a POST _search)."""
    base = _base(request)
    here = _root(request) + request.url.path.removesuffix("/_search")
    kept = {k: v for k, v in params.items() if k not in ("_offset", "_count")}

    def url(**paging: int) -> str:
        query = urlencode({**kept, **{k: str(v) for k, v in paging.items()}})
        return f"{here}?{query}" if query else here

    summary_count = params.get("_summary") == "count"
    links = [{"relation": "self", "url": url(_offset=offset, _count=count)}]
    if not summary_count and offset + count < total:
        links.append({"relation": "next", "url": url(_offset=offset + count, _count=count)})
    if not summary_count and offset > 0:
        links.append(
            {"relation": "previous", "url": url(_offset=max(offset - count, 0), _count=count)}
        )
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": instant(dt.datetime.now(dt.UTC))},
        "type": "searchset",
    }
    if params.get("_total") != "none" or summary_count:
        bundle["total"] = total
    bundle["link"] = links
    if found and not summary_count:  # FHIR arrays are never empty: no entries, no "entry"
        bundle["entry"] = [
            {
                "fullUrl": f"{base}/{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in found
        ]
    return bundle


def _page(
    request: Request, params: Params, found: list[dict[str, Any]], resource_type: str
) -> JSONResponse:
    count, offset = _paging(params)
    found = _sorted(found, _sort_keys(params, resource_type), resource_type)
    return fhir_response(
        searchset(request, params, found[offset : offset + count], len(found), offset, count)
    )


def _patient_reference(value: str) -> int | None:
    value = value.removeprefix("Patient/")
    return int(value) if _DIGITS.fullmatch(value) and int(value) <= MAX_ID else None


@router.get("/{resource_type}")
def search(
    resource_type: str, request: Request, auditor: AuditDep, user: CurrentUser
) -> JSONResponse:
    """Search: a searchset Bundle with total and paging links."""
    return _search(resource_type, dict(request.query_params), request, auditor, user)


FORM: Final = "application/x-www-form-urlencoded"


@router.post("/{resource_type}/_search")
async def search_by_post(
    resource_type: str, request: Request, auditor: AuditDep, user: CurrentUser
) -> JSONResponse:
    """Search with the parameters in a form body (and the query), as FHIR allows."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM:
        raise _fhir_problem(
            415, "not-supported", f"POST _search needs Content-Type {FORM}, not {content_type!r}"
        )
    raw = await request.body()
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise _fhir_problem(400, "invalid", "the form body cannot be read") from None
    params: dict[str, str] = dict(request.query_params)
    for name, value in pairs:
        if name in params:
            raise _fhir_problem(400, "invalid", f"parameter {name!r} is given more than once", name)
        params[name] = value
    return await run_in_threadpool(_search, resource_type, params, request, auditor, user)


def _search(
    resource_type: str, params: Params, request: Request, auditor: Any, user: Principal
) -> JSONResponse:
    with _no_500_problem():
        if resource_type == "Questionnaire":
            with auditor.operation("fhir.definition.read"):
                _check_params(request, params, resource_type)
                _paging(params)
                wanted_id = params.get("_id")
                wanted_url = params.get("url")
                found = [
                    q
                    for q in questionnaire_resources()
                    if wanted_id in (None, q["id"]) and wanted_url in (None, q["url"])
                ]
            return _page(request, params, found, resource_type)
        if resource_type == "Patient":
            return _search_patients(request, params, auditor, user)
        if resource_type in SERVED_TYPES and "subject" in params:
            if "patient" in params:
                with auditor.operation("fhir.search"):
                    raise _fhir_problem(
                        400, "invalid", "give patient or subject (the same), not both", "subject"
                    )
            params = {("patient" if k == "subject" else k): v for k, v in params.items()}
        if resource_type not in SERVED_TYPES or ("patient" not in params and "_id" not in params):
            with auditor.operation("fhir.search"):
                _check_type(resource_type)
                _check_params(request, params, resource_type)
                raise _fhir_problem(
                    400,
                    "required",
                    f"searching {resource_type} needs the patient parameter (or _id)",
                    "patient",
                )
        wanted_id = params.get("_id")
        patient_id = (
            _patient_reference(params["patient"])
            if "patient" in params
            else patient_of(str(wanted_id))
        )
        if patient_id is None:
            with auditor.operation("fhir.search"):
                _check_params(request, params, resource_type)
                _paging(params)
                if "patient" in params:
                    raise _fhir_problem(
                        404, "not-found", f"no patient {params['patient']!r} that you can see"
                    )
            return _page(request, params, [], resource_type)
        with auditor.patient("fhir.search", patient_id) as scope:
            _check_params(request, params, resource_type)
            _paging(params)
            assert scope.patient is not None
            records_ = _records(
                auditor.session, scope.patient, full=True, mrn_system=_mrn_system(request)
            )
            found = [
                r
                for r in patient_resources(records_)
                if r["resourceType"] == resource_type and wanted_id in (None, r["id"])
            ]
        return _page(request, params, found, resource_type)


def _search_patients(
    request: Request, params: Params, auditor: Any, user: Principal
) -> JSONResponse:
    with auditor.operation("fhir.search") as scope:
        _check_params(request, params, "Patient")
        count, offset = _paging(params)
        query = select(Patient).where(Patient.organization_id == user.organization_id)
        if user.role == "patient":
            query = query.where(Patient.id == user.patient_id)
        wanted_id = params.get("_id")
        if wanted_id is not None:
            patient_id = _patient_reference(wanted_id)
            query = query.where(Patient.id == (patient_id or 0))
            scope.patient_id = patient_id
        identifier = params.get("identifier")
        mrn_system = _mrn_system(request)
        if identifier is not None:
            system, bar, value = identifier.rpartition("|")
            if bar and system != (mrn_system or ""):
                query = query.where(Patient.id == 0)  # another system: no MRN of ours
            query = query.where(Patient.mrn == value)
        order = []
        columns = {"_id": Patient.id, "_lastUpdated": Patient.updated_at}
        for name, descending in _sort_keys(params, "Patient"):
            column = columns.get(name, Patient.birth_date)
            order.append(column.desc().nulls_last() if descending else column.asc().nulls_last())
        session: Session = auditor.session
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        found: list[dict[str, Any]] = []
        if params.get("_summary") != "count":
            rows = session.scalars(
                query.order_by(*order, Patient.id).offset(offset).limit(count)
            ).all()
            found = [
                patient_resource(_records(session, row, full=False, mrn_system=mrn_system))
                for row in rows
            ]
    return fhir_response(searchset(request, params, found, total, offset, count))


# -- errors as OperationOutcome -----------------------------------------------------------------

_ISSUE_CODES: Final = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    412: "conflict",
    422: "invalid",
    429: "throttled",
}


def operation_outcome_of(problem: dict[str, Any], status: int) -> dict[str, Any]:
    """An OperationOutcome saying what a problem details object says."""
    kind = str(problem.get("type", ""))
    code = (
        kind.removeprefix(TYPE_PREFIX + FHIR_KIND)
        if kind.startswith(TYPE_PREFIX + FHIR_KIND)
        else _ISSUE_CODES.get(status, "exception" if status >= 500 else "processing")
    )
    severity = "fatal" if status >= 500 else "error"
    diagnostics = str(problem.get("detail") or problem.get("title") or status)
    errors = problem.get("errors") or []
    issues: list[dict[str, Any]] = []
    for error in errors if isinstance(errors, list) else []:
        if isinstance(error, dict) and error.get("path"):
            where = str(error["path"]).removeprefix("query.")
            message = str(error.get("message") or diagnostics)
            if message != diagnostics:
                message = f"{where}: {message}"
            issues.append(
                {"severity": severity, "code": code, "diagnostics": message, "expression": [where]}
            )
    if not issues:
        issues.append({"severity": severity, "code": code, "diagnostics": diagnostics})
    return {"resourceType": "OperationOutcome", "issue": issues}


class FhirErrors:
    """ASGI middleware: on /fhir paths, answer every problem+json error (from the API's
    handlers, the query guard, unknown routes and methods) as an OperationOutcome with
    ``application/fhir+json``; 422 becomes 400 (FHIR's status for a bad request)."""

    def __init__(self, app: Any, prefix: str = FHIR_PREFIX) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == self.prefix or path.startswith(self.prefix + "/")):
            await self.app(scope, receive, send)
            return
        held: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def rewrite(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers") or [])
                content_type = headers.get(b"content-type", b"").decode("latin-1")
                if content_type.startswith(PROBLEM_MEDIA_TYPE):
                    held["start"] = message
                    return
            elif message["type"] == "http.response.body" and "start" in held:
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                await self._send_outcome(held["start"], b"".join(chunks), send)
                return
            await send(message)

        await self.app(scope, receive, rewrite)

    @staticmethod
    async def _send_outcome(start: Any, body: bytes, send: Any) -> None:
        status = int(start["status"])
        try:
            problem = json.loads(body)
        except ValueError:
            problem = {}
        outcome = operation_outcome_of(problem if isinstance(problem, dict) else {}, status)
        status = 400 if status == 422 else status
        payload = json.dumps(outcome).encode()
        headers = [
            (k, v)
            for k, v in start.get("headers") or []
            if k.lower() not in (b"content-type", b"content-length")
        ]
        headers += [
            (b"content-type", FHIR_JSON.encode()),
            (b"content-length", str(len(payload)).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


class FhirCors:
    """ASGI middleware: CORS for /fhir and /cds-services only (the CDS Hooks sandbox and SMART
    apps are browser applications), from the configured origins, with the Authorization and
    Content-Type headers; credentials (cookies) are never allowed cross-origin, so a browser
    session cannot be used from another site."""

    PREFIXES: Final = (FHIR_PREFIX, "/cds-services")

    def __init__(self, app: Any, origins: Sequence[str] = ()) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=list(origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Accept"],
            expose_headers=["ETag", "Location", "WWW-Authenticate", "Allow"],
            allow_credentials=False,
            max_age=600,
        )
        self.enabled = bool(origins)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if self.enabled and any(
            path == prefix or path.startswith(prefix + "/") for prefix in self.PREFIXES
        ):
            await self.cors(scope, receive, send)
            return
        await self.app(scope, receive, send)
