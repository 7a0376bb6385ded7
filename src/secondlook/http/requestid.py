"""A request id for every request: an incoming ``X-Request-ID`` is kept when it is well formed
(so that a reverse proxy's id follows the request through), otherwise one is generated. The id is
returned in the response's ``X-Request-ID`` header, put in problem+json error bodies and in every
log record written while the request runs, so that a user's error report, the proxy's log and
the server's log can be matched without any patient data."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar
from typing import Any, Final

HEADER: Final = "x-request-id"
# Letters, digits and a few separators, at most 128 characters: enough for UUIDs and the ids
# nginx ($request_id) and load balancers generate, and nothing that could forge a log line or
# smuggle a header (no spaces, quotes or control characters).
_WELL_FORMED: Final = re.compile(r"[A-Za-z0-9._:\-]{1,128}")

_current: ContextVar[str | None] = ContextVar("secondlook_request_id", default=None)


def current() -> str | None:
    """The id of the request being served, None outside a request."""
    return _current.get()


def _chosen(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name.lower() == HEADER.encode():
            text = value.decode("latin-1")
            if _WELL_FORMED.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex


class RequestId:
    """ASGI middleware (outermost): choose the request's id, expose it to the code and the logs
    through a context variable, and return it in the response header."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _chosen(scope.get("headers", []))
        token = _current.set(request_id)

        async def send_with_id(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != HEADER.encode()
                ]
                headers.append((HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _current.reset(token)
