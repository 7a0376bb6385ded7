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


#: SECONDLOOK_LOG_FORMAT: "text" (default, uvicorn's usual lines) or "json" (one object a line,
#: for a log collector).
LOG_FORMATS: Final = ("text", "json")


class WithRequestId(logging.Filter):
    """Give every record the id of the request it was written in (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from secondlook.http import requestid

        record.request_id = requestid.current() or "-"
        return True


class JsonLines(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message and request id.
    The message is the one the filters left (the access log without query strings); an
    exception is named by its type only, because a traceback's text may quote patient data."""

    def format(self, record: logging.LogRecord) -> str:
        import datetime as dt
        import json

        entry: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or "-",
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False)


def log_config(log_format: str) -> dict[str, object]:
    """The `logging.config.dictConfig` for the server (passed to uvicorn): uvicorn's and
    SecondLook's loggers, each record with its request id, as text or JSON lines."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format {log_format!r}: expected one of {', '.join(LOG_FORMATS)}")
    text = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
    formatter: dict[str, object] = (
        {"()": f"{__name__}.JsonLines"} if log_format == "json" else {"format": text}
    )
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "default",
        "filters": ["request_id", "without_query"],
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": f"{__name__}.WithRequestId"},
            "without_query": {"()": f"{__name__}.WithoutQuery"},
        },
        "formatters": {"default": formatter},
        "handlers": {"default": handler},
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "secondlook": {"handlers": ["default"], "level": "INFO", "propagate": False},
        },
    }
