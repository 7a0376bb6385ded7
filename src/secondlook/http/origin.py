"""Cross-site request forgery: a state-changing request that a browser sends with the session
cookie, or that signs in, must come from SecondLook's own pages.

A foreign page can make the browser send a "simple" request (a form post, or a POST without a
body) with the user's cookie; it cannot set headers, and browsers name the page's origin in
``Origin`` on every such cross-origin request (Fetch standard, "append a request Origin
header"). So, for POST, PUT, PATCH and DELETE:

- with the session cookie, or to a sign-in path (login CSRF plants the attacker's session), an
  ``Origin`` must be this site's: the configured base URL's origin, or the origin the request
  itself was sent to. ``Origin: null`` (sandboxed frames, ``data:`` pages, some redirects) is
  never this site's. Without ``Origin`` the ``Referer``'s origin is checked the same way;
- a request with neither header comes from a client that is not a browser page (curl, an
  integration); it is let through, since forgery needs a browser;
- a request with a bearer token and no session cookie is not a browser's ambient credential and
  is not checked.

OWASP's CSRF Prevention Cheat Sheet ("Verifying Origin with standard headers") describes the
check; the web pages' double-submit token stays as a second defence."""

from __future__ import annotations

import logging
from typing import Any, Final
from urllib.parse import urlsplit

from starlette.requests import Request

from secondlook.http.deps import SESSION_COOKIE
from secondlook.http.problems import problem_response

log = logging.getLogger("secondlook.http")

UNSAFE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: The paths that set a session cookie from a username and password.
SIGN_IN_PATHS: Final = frozenset({"/api/v1/session", "/login"})


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL, lower-cased, default ports dropped; None if it has
    no http(s) origin."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    try:
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname.lower()
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


class SameOrigin:
    """ASGI middleware: refuse (403) a forged cross-site state change, before any route runs."""

    def __init__(self, app: Any, base_url: str) -> None:
        self.app = app
        self.base_origin = origin_of(base_url)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if SESSION_COOKIE not in request.cookies and scope["path"] not in SIGN_IN_PATHS:
            await self.app(scope, receive, send)
            return
        sent = request.headers.get("origin")
        where = "Origin"
        if sent is None and request.headers.get("referer") is not None:
            sent, where = request.headers["referer"], "Referer"
        if sent is None or self._ours(request, sent):
            await self.app(scope, receive, send)
            return
        log.warning(
            "refused a cross-site %s %s (%s %r)", scope["method"], scope["path"], where, sent
        )
        response = problem_response(
            request,
            403,
            detail=f"cross-site request refused: its {where} ({sent[:100]!r}) is not this "
            "site's. Use SecondLook's own pages, or an API token (Authorization: Bearer) "
            "from other applications.",
            kind="cross-site-request",
            title="Cross-site request refused",
        )
        await response(scope, receive, send)

    def _ours(self, request: Request, sent: str) -> bool:
        found = origin_of(sent)
        if found is None:  # "null", or no http(s) origin at all
            return False
        own = origin_of(f"{request.url.scheme}://{request.headers.get('host', '')}")
        return found in (self.base_origin, own)
