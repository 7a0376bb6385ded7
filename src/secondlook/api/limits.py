"""ASGI middleware that guards request bodies before any route reads them, and marks API
responses as not to be cached.

- A body larger than the limit is refused with 413 before it is read (Content-Length), or as
  soon as the streamed chunks pass the limit. The default (SECONDLOOK_MAX_BODY_BYTES, 2 MiB)
  holds any case document many times over; CDS Hooks calls get more room, since their prefetch
  carries the patient's FHIR resources.
- A request to the JSON API (/api/v1) or to the FHIR server that carries no credential at all
  is passed on without its body: its route answers 401 (and audits it) without the server
  reading or parsing what an anonymous client sent. Signing in is the exception.
- A JSON body must be strict JSON: no key twice in one object (the last one would silently
  win), no NaN or Infinity, no number too large for a double (1e400 would become Infinity) and
  no integer longer than Python converts (4,300 digits). Each is a 422 naming its JSON path.
- Responses under /api/, /fhir and /cds-services say `Cache-Control: no-store`: they carry
  patient data, which no browser or proxy cache may keep (a route's own header wins).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from secondlook.case.strict_json import loads_strict
from secondlook.http.problems import ProblemField, problem_response, request_invalid
from secondlook.settings import settings

MAX_BODY_VARIABLE = "SECONDLOOK_MAX_BODY_BYTES"
DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024
# Path prefix -> a larger limit, only where a route needs one.
LARGER_LIMITS = {"/cds-services/": 16 * 1024 * 1024}
_NO_STORE_PREFIXES = ("/api/", "/fhir", "/cds-services")
# Routes under these prefixes need a credential; POST /api/v1/session is how one gets one.
_CREDENTIAL_PREFIXES = ("/api/v1/", "/fhir/")
_ANONYMOUS_BODIES = frozenset({"/api/v1/session"})


def max_body_bytes() -> int:
    configured = settings().max_body_bytes  # at least 1024, checked by the settings
    return configured if configured is not None else DEFAULT_MAX_BODY_BYTES


class _TooLarge(Exception):
    pass


class RequestGuard:
    def __init__(self, app: Any, max_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes if max_bytes is not None else max_body_bytes()

    def limit_for(self, path: str) -> int:
        for prefix, larger in LARGER_LIMITS.items():
            if path.startswith(prefix):
                return max(larger, self.max_bytes)
        return self.max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if path.startswith(_NO_STORE_PREFIXES):
            send = _no_store(send)
        headers = {k.lower(): v for k, v in scope.get("headers") or []}
        if scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(path)
        declared = headers.get(b"content-length", b"").strip()
        if declared and (not declared.isdigit() or int(declared) > limit):
            await self._too_large(scope, receive, send, limit)
            return
        if _anonymous(path, headers):
            await self.app(scope, _empty_body(receive), send)
            return
        try:
            body = await _read_body(receive, limit)
        except _TooLarge:
            await self._too_large(scope, receive, send, limit)
            return
        if body is None:  # the client went away before sending the whole body
            return
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if body and (content_type == b"application/json" or content_type.endswith(b"+json")):
            errors = json_problems(body)
            if errors:
                response = request_invalid(Request(scope), errors, "the JSON body")
                await response(scope, receive, send)
                return
        await self.app(scope, _replay(body, receive), send)

    async def _too_large(self, scope: Any, receive: Any, send: Any, limit: int) -> None:
        response = problem_response(
            Request(scope),
            413,
            detail=f"the request body is larger than this route accepts ({limit} bytes)",
            kind="body-too-large",
            title="Content Too Large",
            # The rest of the body is not read; the connection cannot be reused.
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


def _anonymous(path: str, headers: dict[bytes, bytes]) -> bool:
    if not path.startswith(_CREDENTIAL_PREFIXES) or path in _ANONYMOUS_BODIES:
        return False
    if headers.get(b"authorization"):
        return False
    return b"secondlook_session=" not in headers.get(b"cookie", b"")


async def _read_body(receive: Any, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge()
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes, receive: Any) -> Any:
    sent = False

    async def replay() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _empty_body(receive: Any) -> Any:
    return _replay(b"", receive)


def _no_store(send: Any) -> Any:
    async def wrapped(message: Any) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers") or [])
            if not any(k.lower() == b"cache-control" for k, _ in headers):
                headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
        await send(message)

    return wrapped


def json_problems(body: bytes) -> list[ProblemField]:
    """What makes `body` not strict JSON (empty when it is strict, or not JSON at all: the
    route reports malformed JSON in its own words)."""
    try:
        _, problems = loads_strict(body)
    except (ValueError, RecursionError):
        return []
    return [ProblemField(path=p.path, message=p.message, hint=p.hint) for p in problems]
