"""Every response carries a request id (the caller's if well formed), problem bodies quote it and
every log record written while the request runs names it; JSON logs carry it too."""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

from secondlook.http import requestid
from secondlook.http.logs import JsonLines, WithRequestId, log_config

if TYPE_CHECKING:
    from conftest import World


def test_a_well_formed_incoming_id_is_echoed(client: TestClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "proxy-4f2a.17:9"})
    assert response.headers["x-request-id"] == "proxy-4f2a.17:9"


@pytest.mark.parametrize("sent", ["", "a b", "x" * 129, 'quote"d', "line\tbreak"])
def test_a_malformed_incoming_id_is_replaced_by_a_generated_one(
    client: TestClient, sent: str
) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": sent})
    returned = response.headers["x-request-id"]
    assert returned != sent
    assert re.fullmatch(r"[0-9a-f]{32}", returned)


def test_each_request_gets_its_own_generated_id(client: TestClient) -> None:
    first = client.get("/healthz").headers["x-request-id"]
    second = client.get("/healthz").headers["x-request-id"]
    assert first != second


def test_a_problem_body_quotes_the_request_id(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here", headers={"X-Request-ID": "trace-1"})
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "trace-1"
    assert response.json()["request_id"] == "trace-1"


def test_a_refused_request_carries_the_id_too(client: TestClient, world: World) -> None:
    response = client.get(
        f"/api/v1/patients/{world.patient_one}", headers={"X-Request-ID": "no-token-7"}
    )
    assert response.status_code == 401
    assert response.json()["request_id"] == "no-token-7"


def test_log_records_written_during_a_request_carry_its_id() -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from secondlook.http.requestid import RequestId

    seen: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(str(getattr(record, "request_id", "")))

    logger = logging.getLogger("secondlook.test-request-id")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = Capture()
    handler.addFilter(WithRequestId())
    logger.addHandler(handler)

    async def route(request: Request) -> PlainTextResponse:
        logger.info("inside the request")
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/", route)])
    app.add_middleware(RequestId)
    try:
        with TestClient(app) as client:
            response = client.get("/", headers={"X-Request-ID": "log-me-1"})
            generated = client.get("/").headers["x-request-id"]
        logger.info("outside any request")
    finally:
        logger.removeHandler(handler)
    assert response.headers["x-request-id"] == "log-me-1"
    assert seen == ["log-me-1", generated, "-"]


def test_the_filter_names_the_current_request() -> None:
    record = logging.LogRecord("secondlook.api", logging.INFO, __file__, 1, "m", None, None)
    token = requestid._current.set("req-42")
    try:
        WithRequestId().filter(record)
    finally:
        requestid._current.reset(token)
    assert record.request_id == "req-42"  # type: ignore[attr-defined]


def test_json_lines_hold_the_message_level_logger_and_request_id_and_no_traceback() -> None:
    try:
        raise RuntimeError("patient Jane Doe MRN-4711")
    except RuntimeError:
        import sys

        record = logging.LogRecord(
            "secondlook.api", logging.ERROR, __file__, 1, "incident %s", ("abc",), sys.exc_info()
        )
    record.request_id = "req-9"
    line = JsonLines().format(record)
    entry = json.loads(line)
    assert entry["message"] == "incident abc"
    assert entry["level"] == "error" and entry["logger"] == "secondlook.api"
    assert entry["request_id"] == "req-9"
    assert entry["exception"] == "RuntimeError"
    assert "MRN-4711" not in line and "\n" not in line


def test_the_json_log_configuration_strips_query_strings_from_the_access_log() -> None:
    import logging.config

    config = log_config("json")
    logging.config.dictConfig(config)
    try:
        handler = logging.getLogger("uvicorn.access").handlers[0]
        record = logging.LogRecord(
            "uvicorn.access",
            logging.INFO,
            __file__,
            1,
            '%s - "%s %s HTTP/%s" %d',
            ("127.0.0.1:5000", "GET", "/fhir/Patient?identifier=MRN-4711", "1.1", 200),
            None,
        )
        assert handler.filter(record)
        line = handler.format(record)
    finally:
        logging.config.dictConfig(log_config("text"))
    entry = json.loads(line)
    assert "MRN-4711" not in line
    assert "/fhir/Patient?[redacted]" in entry["message"]
    assert entry["request_id"] == "-"


def test_an_unknown_log_format_is_refused() -> None:
    with pytest.raises(ValueError, match="expected one of text, json"):
        log_config("xml")
