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
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.middleware.cors import CORSMiddleware

import secondlook
from secondlook.fhir.search import (
    DEFAULT_COUNT,
    FHIR_JSON,
    FHIR_KIND,
    MAX_COUNT,
    SEARCH_PARAMS,
    SORT_DATES,
    Params,
    check_format,
    fhir_problem,
)
from secondlook.fhir.server import (
    SERVED_TYPES,
    instant,
)
from secondlook.http.deps import AuditDep, Auditor
from secondlook.http.problems import (
    PROBLEM_MEDIA_TYPE,
    TYPE_PREFIX,
    ApiProblem,
    as_problem,
)
from secondlook.services import fhir

log = logging.getLogger("secondlook.api")

FHIR_PREFIX: Final = "/fhir"
FHIR_VERSION: Final = "4.0.1"

router = APIRouter(prefix=FHIR_PREFIX, tags=["fhir"], include_in_schema=False)


def fhir_response(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON)


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
    check_format(request.headers.get("accept"), request.query_params)
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


def _mrn_system(request: Request) -> str | None:
    value = getattr(request.app.state, "mrn_system", None)
    return str(value) if value else None


# -- read ---------------------------------------------------------------------------------------


@router.get("/{resource_type}/{resource_id}")
def read(resource_type: str, resource_id: str, request: Request, auditor: AuditDep) -> JSONResponse:
    """One resource by type and id; 404 (OperationOutcome) when unknown or not visible."""
    with _no_500_problem():
        return fhir_response(
            fhir.read(
                auditor.session,
                access=auditor.access,
                resource_type=resource_type,
                resource_id=resource_id,
                params=request.query_params,
                accept=request.headers.get("accept"),
                mrn_system=_mrn_system(request),
            )
        )


# -- search -------------------------------------------------------------------------------------


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


@router.get("/{resource_type}")
def search(resource_type: str, request: Request, auditor: AuditDep) -> JSONResponse:
    """Search: a searchset Bundle with total and paging links."""
    return _search(resource_type, dict(request.query_params), request, auditor)


FORM: Final = "application/x-www-form-urlencoded"


@router.post("/{resource_type}/_search")
async def search_by_post(resource_type: str, request: Request, auditor: AuditDep) -> JSONResponse:
    """Search with the parameters in a form body (and the query), as FHIR allows."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM:
        raise fhir_problem(
            415, "not-supported", f"POST _search needs Content-Type {FORM}, not {content_type!r}"
        )
    raw = await request.body()
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise fhir_problem(400, "invalid", "the form body cannot be read") from None
    params: dict[str, str] = dict(request.query_params)
    for name, value in pairs:
        if name in params:
            raise fhir_problem(400, "invalid", f"parameter {name!r} is given more than once", name)
        params[name] = value
    return await run_in_threadpool(_search, resource_type, params, request, auditor)


def _search(resource_type: str, params: Params, request: Request, auditor: Auditor) -> JSONResponse:
    with _no_500_problem():
        found = fhir.search(
            auditor.session,
            access=auditor.access,
            resource_type=resource_type,
            params=params,
            accept=request.headers.get("accept"),
            mrn_system=_mrn_system(request),
        )
    return fhir_response(
        searchset(request, found.params, found.resources, found.total, found.offset, found.count)
    )


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
