"""Logs without patient data: the web server's access log keeps the method, path and status of
each request, never its query string, which may carry an MRN (`/fhir/Patient?identifier=...`)
or a name someone searched for."""

from __future__ import annotations

import logging
from typing import Final

ACCESS_LOGGER: Final = "uvicorn.access"


class WithoutQuery(logging.Filter):
    """Drop the query string from uvicorn's access-log records (their third argument is the
    request target, ``path?query``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path, mark, _ = args[2].partition("?")
            if mark:
                record.args = (*args[:2], f"{path}?[redacted]", *args[3:])
        return True


def redact_access_log() -> None:
    """Install :class:`WithoutQuery` on the access logger, once."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, WithoutQuery) for f in logger.filters):
        logger.addFilter(WithoutQuery())
