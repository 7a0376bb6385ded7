"""Liveness and readiness, outside /api/v1 and without authentication."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from secondlook.api.schemas import Health
from secondlook.http.deps import SessionDep
from secondlook.http.problems import ApiProblem, error_responses

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> Health:
    """The process answers (touches nothing else)."""
    return Health(status="ok")


@router.get("/readyz", responses=error_responses(503))
def readyz(session: SessionDep) -> Health:
    """The database answers (503 while it does not: not ready, rather than broken)."""
    try:
        session.execute(text("SELECT 1"))
    except DBAPIError:
        session.rollback()
        raise ApiProblem(
            503, "the database does not answer", headers={"Retry-After": "5"}
        ) from None
    return Health(status="ok")
