"""GET /metrics: Prometheus's exposition format (http/metrics.py says what is in it).

Off unless SECONDLOOK_METRICS_TOKEN is set (404, as if there were no such page); then a scrape
must send ``Authorization: Bearer <token>`` (401 otherwise). The figures carry no patient data
(route templates, counts by severity and status), so a scrape is not an access to patient data
and is not written to the audit trail; the token keeps the deployment's shape to those who run
it."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response

from secondlook.http import metrics
from secondlook.http.deps import SessionDep
from secondlook.http.problems import ApiProblem
from secondlook.services import operations

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
def scrape(request: Request, session: SessionDep) -> Response:
    token: str | None = request.app.state.metrics_token
    if token is None:
        raise ApiProblem(404, "no such page: /metrics is off (SECONDLOOK_METRICS_TOKEN)")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        raise ApiProblem(
            401,
            "a scrape needs Authorization: Bearer with the metrics token",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    body = metrics.exposition(operations.backlog(session))
    return Response(body, media_type=metrics.CONTENT_TYPE, headers={"Cache-Control": "no-store"})
