"""Prometheus metrics (docs/deployment.md, "Metrics"): requests and their latency, labelled by
the route's template (``/api/v1/patients/{patient_id}``), never by the path a client sent, so
that no patient id, MRN or search term becomes a label; a path no route knows is
``unmatched``.

Several worker processes: ``serve --workers N`` sets PROMETHEUS_MULTIPROC_DIR (a fresh
directory) before the workers start, and prometheus_client's multiprocess mode then sums the
workers' counters at every scrape, so any worker answers for all. The figures that live in the
database (alerts, outbox) are read at scrape time (services.operations) and are the same
whichever worker answers."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable
from typing import Any, Final

from fastapi.routing import iter_route_contexts
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.routing import Mount, compile_path

from secondlook.services.operations import Backlog

MULTIPROC_VARIABLE: Final = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
UNMATCHED: Final = "unmatched"

# This process's metrics, apart from prometheus_client's default registry (whose process and
# platform collectors do not add up across workers).
REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter(
    "secondlook_http_requests",
    "HTTP requests answered, by method, route template and status code",
    ["method", "route", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "secondlook_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by method and route template",
    ["method", "route"],
    # From a cached page to a PDF or a FHIR bundle (docs/performance.md has the measured ones).
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Templates:
    """The app's route templates, to name the route of a request: the one routing chose
    (``scope["route"]``), else the first whose template matches the path (a request refused
    before routing, a 413 say), preferring one that also takes the method."""

    def __init__(self, app: Any) -> None:
        self.by_route: dict[int, str] = {}
        self.patterns: list[tuple[re.Pattern[str], frozenset[str] | None, str]] = []
        for context in iter_route_contexts(app.routes):
            route = context.original_route
            if isinstance(route, Mount):
                template = route.path + "/{path}"
                pattern = route.path_regex
            else:
                template = str(context.path_format)
                pattern = compile_path(str(context.path))[0]
            self.by_route.setdefault(id(route), template)
            methods = frozenset(context.methods) if context.methods else None
            self.patterns.append((pattern, methods, template))

    def of(self, scope: dict[str, Any]) -> str:
        chosen = self.by_route.get(id(scope.get("route")))
        if chosen is not None:
            return chosen
        path, method = scope.get("path", ""), scope.get("method", "")
        other_method = None
        for pattern, methods, template in self.patterns:
            if pattern.match(path):
                if methods is None or method in methods:
                    return template
                other_method = other_method or template
        return other_method or UNMATCHED


class RequestMetrics:
    """ASGI middleware: count every HTTP request and time it, by route template."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.templates: Templates | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.templates is None:  # the app's routes are all known by its first request
            self.templates = Templates(scope["app"])
        started = time.perf_counter()
        status = 500  # an exception that escapes becomes the server error's 500

        async def record_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            method = scope.get("method", "")
            method = method if method in _METHODS else "other"
            route = self.templates.of(scope)
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(time.perf_counter() - started)


class _Backlog(Collector):
    def __init__(self, backlog: Backlog) -> None:
        self.backlog = backlog

    def collect(self) -> Iterable[Metric]:
        alerts = GaugeMetricFamily(
            "secondlook_alerts_unresolved",
            "Alerts not yet resolved, by severity and status (open: nobody has acknowledged it)",
            labels=["severity", "status"],
        )
        for (severity, status), count in sorted(self.backlog.alerts.items()):
            alerts.add_metric([severity, status], count)
        outbox = GaugeMetricFamily(
            "secondlook_outbox_messages",
            "Notifications waiting in the outbox (pending, sending) or given up (failed)",
            labels=["status"],
        )
        for status, count in self.backlog.outbox.items():
            outbox.add_metric([status], count)
        return [alerts, outbox]


def exposition(backlog: Backlog) -> bytes:
    """The scrape: the request metrics (of every worker in multiprocess mode) and the
    database's figures."""
    if os.environ.get(MULTIPROC_VARIABLE):  # prometheus_client's own variable, not a setting
        requests = CollectorRegistry()
        multiprocess.MultiProcessCollector(requests)  # type: ignore[no-untyped-call]
    else:
        requests = REGISTRY
    database = CollectorRegistry(auto_describe=True)
    database.register(_Backlog(backlog))
    return generate_latest(requests) + generate_latest(database)
