"""The FastAPI application."""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi_offline import FastAPIOffline
from sqlalchemy import Engine

import secondlook
from secondlook.api.limits import RequestGuard
from secondlook.api.routes import (
    accounts,
    alerts,
    assessments,
    audit,
    care_conferences,
    care_outcomes,
    care_plans,
    care_tasks,
    care_worklists,
    cases,
    health,
    history,
    metrics,
    patients,
    questionnaires,
    reminders,
    write_back,
)
from secondlook.api.routes.fhir import DEFAULT_BASE_URL, FhirCors, FhirErrors
from secondlook.api.routes.fhir import router as fhir_router
from secondlook.api.routes.fhir_cds import cds_routes
from secondlook.care.warnings import ContactsInvalid, site_contacts
from secondlook.fhir.cds_config import CdsConfig, load_cds_config
from secondlook.fhir.smart import (
    PendingLaunches,
    SmartConfig,
    SmartConfigInvalid,
    load_smart_config,
)
from secondlook.http import problems
from secondlook.http.logs import redact_access_log
from secondlook.http.metrics import RequestMetrics
from secondlook.http.origin import SameOrigin
from secondlook.http.requestid import RequestId
from secondlook.settings import Settings, SettingsError, settings
from secondlook.store import db, migrate

API_PREFIX = "/api/v1"
#: SecondLook's public address (scheme, host, port, any path prefix): the base of the FHIR API's
#: fullUrls and links, never taken from a request's Host header.
BASE_URL_VARIABLE = "SECONDLOOK_BASE_URL"
#: The identifier system of the MRNs SecondLook stores (served on FHIR Patients).
MRN_SYSTEM_VARIABLE = "SECONDLOOK_MRN_SYSTEM"
#: Browser origins allowed to call /fhir and /cds-services (comma-separated).
CORS_VARIABLE = "SECONDLOOK_CORS_ORIGINS"


class SettingInvalid(ValueError):
    """A setting (environment variable) that cannot be used; the message says which and why."""


def _base_url(value: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise SettingInvalid(
            f"{BASE_URL_VARIABLE} {value!r} must be an http(s) URL without query or fragment, "
            "e.g. https://secondlook.hospital.org"
        )
    return value.rstrip("/")


def _origins(value: str) -> tuple[str, ...]:
    origins = tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())
    for found in origins:
        if found == "*" or not found.startswith(("http://", "https://")):
            raise SettingInvalid(
                f"{CORS_VARIABLE}: {found!r} is not an origin (https://host[:port]); "
                "'*' is not allowed"
            )
    return origins


def check_environment() -> Settings:
    """The settings (secondlook.settings), after refusing unusable ones (what a value is, then
    base URL, CORS origins, site contacts, notifications, SMART clients) before anything
    starts."""
    from secondlook.services.notifications import SettingsInvalid, load_settings

    try:
        current = settings()
    except SettingsError as exc:
        raise SettingInvalid(str(exc)) from None
    _base_url(current.base_url or DEFAULT_BASE_URL)
    _origins(current.cors_origins or "")
    try:
        site_contacts(current)
        load_settings(current)
    except (ContactsInvalid, SettingsInvalid) as exc:
        raise SettingInvalid(str(exc)) from None
    if current.smart_clients:
        try:
            load_smart_config(current.smart_clients)
        except SmartConfigInvalid as exc:
            raise SettingInvalid(str(exc)) from None
    return current


def create_app(
    engine: Engine,
    *,
    cds: CdsConfig | None = None,
    smart: SmartConfig | None = None,
    base_url: str | None = None,
    mrn_system: str | None = None,
    cors_origins: tuple[str, ...] | None = None,
    max_body_bytes: int | None = None,
) -> FastAPI:
    """An app on `engine`, whose schema must be migrated (see `migrate.upgrade`). `cds`: the
    CDS Hooks configuration (without one, service calls answer 401 "not configured").
    `base_url`, `mrn_system`, `cors_origins`: as given, else from SECONDLOOK_BASE_URL (default
    http://localhost:8000), SECONDLOOK_MRN_SYSTEM (default: the CDS configuration's
    mrn_system, else {base_url}/fhir/sid/mrn) and SECONDLOOK_CORS_ORIGINS (default none).
    `max_body_bytes`: the request-body limit (default: SECONDLOOK_MAX_BODY_BYTES or 2 MiB).
    `smart`: the EHRs SMART launches may come from (default: SECONDLOOK_SMART_CLIENTS, else
    none: /smart/launch answers "not configured")."""
    current = settings()
    base_url = _base_url(base_url or current.base_url or DEFAULT_BASE_URL)
    mrn_system = (
        mrn_system
        or current.mrn_system
        or (cds.mrn_system if cds is not None else None)
        or f"{base_url}/fhir/sid/mrn"
    )
    if cors_origins is None:
        cors_origins = _origins(current.cors_origins or "")
    # FastAPIOffline: /docs and /redoc load their scripts from the installed package instead
    # of a CDN, so the API's documentation works on a network without internet access.
    app = FastAPIOffline(
        title="SecondLook API",
        version=secondlook.__version__,
        summary="Assess and follow patients with persistent pain after spine surgery.",
        description="Errors are RFC 9457 problem details. Writes to existing resources need "
        "If-Match with the ETag you read. See docs/api.md.",
    )
    redact_access_log()  # no MRN or searched name in the access log (http/logs.py)
    app.state.engine = engine
    app.state.sessionmaker = db.make_sessionmaker(engine)
    app.state.public_base_url = base_url
    app.state.mrn_system = mrn_system
    app.state.cors = cors_origins
    if smart is None and current.smart_clients:
        smart = load_smart_config(current.smart_clients)
    app.state.smart = smart
    app.state.smart_pending = PendingLaunches()
    # The numbers patients are given when a red flag or safety alert is found (care/warnings.py).
    app.state.site_contacts = site_contacts(current)
    # /metrics answers only with this token (api/routes/metrics.py); without one it is off.
    app.state.metrics_token = current.metrics_token
    problems.install(app)
    app.add_middleware(problems.GuardQuery)
    # Bodies are bounded and checked before any route reads them (api/limits.py).
    app.add_middleware(RequestGuard, max_bytes=max_body_bytes or current.max_body_bytes)
    # Before any body is read: a forged cross-site state change is refused (http/origin.py).
    app.add_middleware(SameOrigin, base_url=base_url)
    app.add_middleware(FhirErrors)  # outside GuardQuery: /fhir errors become OperationOutcomes
    # Outermost, so that refusals (401, 405...) carry the CORS headers a browser needs to read them.
    app.add_middleware(FhirCors, origins=cors_origins)
    # Outside every refusal, so that each request is counted and timed (http/metrics.py).
    app.add_middleware(RequestMetrics)
    # Outermost of all: every response, refusals included, carries its request id.
    app.add_middleware(RequestId)
    app.include_router(health.router)
    app.include_router(metrics.router)
    for module in (
        accounts,
        patients,
        cases,
        assessments,
        questionnaires,
        history,
        audit,
        care_conferences,
        care_plans,
        care_tasks,
        care_worklists,
        care_outcomes,
        reminders,
        alerts,
        write_back,
    ):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(fhir_router)  # /fhir: FHIR R4 read/search (not in the OpenAPI document)
    app.include_router(
        cds_routes(
            cds,
            app.state.sessionmaker,
            smart_launch_url=f"{base_url}/smart/launch" if smart is not None else None,
        ),
        include_in_schema=False,
    )
    from secondlook import web  # the browser pages, /clinic and /portal (docs/web.md)

    web.install(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = type_case_body(
                require_if_match(problems.document_problems(schema))
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def require_if_match(schema: dict[str, Any]) -> dict[str, Any]:
    """Say in the OpenAPI document what the routes enforce: If-Match is required (428 without
    it) wherever it is taken, except where If-None-Match: * may stand in for it (the first
    case version)."""
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            parameters = operation.get("parameters", [])
            names = {str(p.get("name", "")).lower() for p in parameters}
            if "if-none-match" in names:
                continue
            for parameter in parameters:
                if parameter.get("in") == "header" and str(parameter.get("name")).lower() == (
                    "if-match"
                ):
                    parameter["required"] = True
                    parameter["schema"] = {"type": "string", "maxLength": 100}
    return schema


CASE_PATH = f"{API_PREFIX}/patients/{{patient_id}}/case"


def type_case_body(schema: dict[str, Any]) -> dict[str, Any]:
    """Give the case PUT's body its real shape, the case model's JSON schema, so that clients
    and schemathesis see it. The route still takes the body as a plain object and validates it
    itself (the service's 422 locates every problem), after the strict JSON parsing that
    refuses duplicate keys and non-finite numbers, so documenting it changes no behaviour."""
    from secondlook.case.models import Case

    components = schema.setdefault("components", {}).setdefault("schemas", {})
    case_schema = Case.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in case_schema.pop("$defs", {}).items():
        components.setdefault(name, sub)
    components["Case"] = case_schema
    operation = schema.get("paths", {}).get(CASE_PATH, {}).get("put")
    if operation is not None:
        body = operation["requestBody"]["content"]["application/json"]
        description = body.get("schema", {}).get("description")
        body["schema"] = {"$ref": "#/components/schemas/Case"}
        if description:
            operation["requestBody"].setdefault("description", description)
    return schema


def app_from_environment() -> FastAPI:
    """For `uvicorn --factory secondlook.api.app:app_from_environment` (several workers): the
    database from SECONDLOOK_DATABASE_URL or SQLite in SECONDLOOK_DATA_DIR, migrated on start."""
    engine = db.make_engine(db.database_url())
    migrate.upgrade(engine)
    cds_config = settings().cds_config  # SECONDLOOK_CDS_CONFIG
    app = create_app(engine, cds=load_cds_config(cds_config) if cds_config else None)
    if settings().test_worker_pid_header:
        app.add_middleware(WorkerPid)
    return app


#: Set to 1 only by the tests of several workers: each response names the process that served it,
#: so a test can prove its requests reached different workers. Never set it in production (a
#: process id helps nobody but an attacker mapping the deployment).
WORKER_PID_VARIABLE = "SECONDLOOK_TEST_WORKER_PID_HEADER"


class WorkerPid:
    """ASGI middleware: an ``X-Worker-Pid`` header on every response (tests only, see above)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        pid = str(os.getpid()).encode()

        async def send_with_pid(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (b"x-worker-pid", pid)],
                }
            await send(message)

        await self.app(scope, receive, send_with_pid)
