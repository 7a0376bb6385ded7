"""The FastAPI application."""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi_offline import FastAPIOffline
from sqlalchemy import Engine

import secondlook
from secondlook.api import problems
from secondlook.api.limits import RequestGuard
from secondlook.api.routes import (
    accounts,
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
    patients,
    questionnaires,
)
from secondlook.api.routes.fhir import FhirErrors
from secondlook.api.routes.fhir import router as fhir_router
from secondlook.api.routes.fhir_cds import cds_routes
from secondlook.fhir.cds_config import ENVIRONMENT_VARIABLE as CDS_CONFIG_VARIABLE
from secondlook.fhir.cds_config import CdsConfig, load_cds_config
from secondlook.store import db, migrate

API_PREFIX = "/api/v1"


def create_app(
    engine: Engine, *, cds: CdsConfig | None = None, max_body_bytes: int | None = None
) -> FastAPI:
    """An app on `engine`, whose schema must be migrated (see `migrate.upgrade`). `cds`: the
    CDS Hooks configuration (without one, service calls answer 401 "not configured").
    `max_body_bytes`: the request-body limit (default: SECONDLOOK_MAX_BODY_BYTES or 2 MiB)."""
    # FastAPIOffline: /docs and /redoc load their scripts from the installed package instead
    # of a CDN, so the API's documentation works on a network without internet access.
    app = FastAPIOffline(
        title="SecondLook API",
        version=secondlook.__version__,
        summary="Assess and follow patients with persistent pain after spine surgery.",
        description="Errors are RFC 9457 problem details. Writes to existing resources need "
        "If-Match with the ETag you read. See docs/api.md.",
    )
    app.state.engine = engine
    app.state.sessionmaker = db.make_sessionmaker(engine)
    problems.install(app)
    app.add_middleware(problems.GuardQuery)
    # Bodies are bounded and checked before any route reads them (api/limits.py).
    app.add_middleware(RequestGuard, max_bytes=max_body_bytes)
    app.add_middleware(FhirErrors)  # outside GuardQuery: /fhir errors become OperationOutcomes
    app.include_router(health.router)
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
    ):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(fhir_router)  # /fhir: FHIR R4 read/search (not in the OpenAPI document)
    app.include_router(cds_routes(cds, app.state.sessionmaker), include_in_schema=False)
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
            app.openapi_schema = problems.document_problems(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def app_from_environment() -> FastAPI:
    """For `uvicorn --factory secondlook.api.app:app_from_environment` (several workers): the
    database from SECONDLOOK_DATABASE_URL or SQLite in SECONDLOOK_DATA_DIR, migrated on start."""
    engine = db.make_engine(db.database_url())
    migrate.upgrade(engine)
    cds_config = os.environ.get(CDS_CONFIG_VARIABLE)
    return create_app(engine, cds=load_cds_config(cds_config) if cds_config else None)
