"""The FastAPI application."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from sqlalchemy import Engine

import secondlook
from secondlook.api import problems
from secondlook.api.routes import (
    accounts,
    assessments,
    audit,
    cases,
    health,
    history,
    patients,
    questionnaires,
)
from secondlook.store import db, migrate

API_PREFIX = "/api/v1"


def create_app(engine: Engine) -> FastAPI:
    """An app on `engine`, whose schema must be migrated (see `migrate.upgrade`)."""
    app = FastAPI(
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
    app.include_router(health.router)
    for module in (accounts, patients, cases, assessments, questionnaires, history, audit):
        app.include_router(module.router, prefix=API_PREFIX)

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
    return create_app(engine)
