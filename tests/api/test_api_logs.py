"""The access log never carries a query string (an MRN in a FHIR search, a searched name)."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from secondlook.http.logs import ACCESS_LOGGER, WithoutQuery


def access_record(target: str) -> logging.LogRecord:
    # The shape uvicorn's access logger uses: client, method, target, HTTP version, status.
    return logging.LogRecord(
        ACCESS_LOGGER,
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", target, "1.1", 200),
        None,
    )


def test_the_query_string_is_redacted_and_the_path_kept() -> None:
    record = access_record("/fhir/Patient?identifier=MRN-4711&_count=5")
    assert WithoutQuery().filter(record)
    line = record.getMessage()
    assert "MRN-4711" not in line
    assert "/fhir/Patient?[redacted]" in line and " 200" in line


def test_a_path_without_a_query_is_logged_as_it_is() -> None:
    record = access_record("/api/v1/patients/3")
    WithoutQuery().filter(record)
    assert '"GET /api/v1/patients/3 HTTP/1.1" 200' in record.getMessage()


def test_the_app_installs_the_filter_on_the_access_logger(app: FastAPI) -> None:
    assert app is not None
    assert any(isinstance(f, WithoutQuery) for f in logging.getLogger(ACCESS_LOGGER).filters)
