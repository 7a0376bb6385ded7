"""What every page shares: templates, the signed-in user, CSRF protection and security headers.

- Sessions are the API's: the `secondlook_session` cookie (HttpOnly, SameSite=Lax, Secure over
  https) resolved by `store.accounts.resolve_credential`; signing in and out here issues and
  revokes the same credentials as `POST/DELETE /api/v1/session`.
- CSRF: every unsafe request with the session cookie must come from this site
  (`http/origin.py`, for the API too), and a page's form carries a token in a hidden
  `csrf_token` field: signed in, an HMAC of the session secret (bound to the session); signed
  out, a random token also kept in the `secondlook_csrf` cookie (HttpOnly, SameSite=Strict,
  double submit). A missing or wrong token, or an Origin of another site (`null` included),
  is 403.
- Security headers on every page (not on the JSON API): a CSP without inline script
  (`script-src 'self'`, no `unsafe-inline`), `frame-ancestors 'none'`, nosniff, no referrer
  to other sites, and `Cache-Control: no-store` on pages, which carry patient data.
- No patient data in URLs: pages are addressed by the opaque numeric id only; search is a POST.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from secondlook.care import vocabulary as care_vocabulary
from secondlook.care.warnings import SiteContacts
from secondlook.case import words as case_words
from secondlook.engine import words as engine_words
from secondlook.http.deps import SESSION_COOKIE, SessionDep
from secondlook.instruments.registry import short_name
from secondlook.locale import ENGLISH, Translator, language_of, translator
from secondlook.platform.access import Principal
from secondlook.services.unit import path_patient_id, record_refusal
from secondlook.store.accounts import resolve_credential
from secondlook.web import dates

HERE = Path(__file__).parent
CSRF_COOKIE = "secondlook_csrf"
CSRF_FIELD = "csrf_token"
STAFF_ROLES = frozenset({"clinician", "coordinator"})
# Paths of the web application (everything else, the API and FHIR, keeps its own headers).
WEB_PREFIXES = (
    *("/login", "/logout", "/clinic", "/portal", "/static/", "/account", "/smart/"),
    *("/admin", "/welcome"),
)

CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    # same-origin: no referrer leaves the site, and browsers still send Origin on our own form
    # posts (with no-referrer they send `Origin: null`).
    "referrer-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
    "cross-origin-opener-policy": "same-origin",
}

templates = Jinja2Templates(directory=str(HERE / "templates"))
# Words a page shows are marked for translation (`_("...")`, `{% trans %}`); each render passes
# the `gettext` of the reader's language (docs/web.md, "Language"), English when it passes none.
templates.env.add_extension("jinja2.ext.i18n")
templates.env.install_null_translations(newstyle=False)  # type: ignore[attr-defined]
# Codes are shown in the words of their vocabulary (care/vocabulary.py), never re-labelled here.
templates.env.filters["label"] = lambda code, vocabulary: care_vocabulary.label(vocabulary, code)
# The assessment document's codes (condition, course, likelihood...) in the engine's words.
templates.env.filters["words"] = lambda code, vocabulary: engine_words.word(vocabulary, code)
templates.env.globals["test_names"] = engine_words.test_names
# An instrument's id ("phq-9") as clinicians write it ("PHQ-9").
templates.env.filters["instrument"] = short_name
# The case document's codes ("mri-gadolinium", "foraminal-stenosis") in words.
templates.env.filters["case_words"] = case_words.word
# Dates in the reader's format, with the ISO date in <time datetime> and on hover (web/dates.py).
templates.env.filters["date"] = dates.date_filter
templates.env.filters["datetime"] = dates.datetime_filter


def is_web_path(path: str) -> bool:
    return path == "/" or path.startswith(WEB_PREFIXES)


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class SecurityHeaders:
    """ASGI middleware: the security headers on every response of a web page."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_web_path(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = dict(SECURITY_HEADERS)
                extra["cache-control"] = "public, max-age=3600" if static else "no-store"
                if https:
                    extra["strict-transport-security"] = "max-age=31536000"
                for name, value in extra.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --- who is signed in --------------------------------------------------------------------------


class LoginRequired(Exception):
    """No valid session: the handler sends the browser to the sign-in page."""


class PageForbidden(Exception):
    """Signed in, but this page is not for the user's role (or a CSRF check failed)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def session_principal(request: Request, session: Session) -> Principal | None:
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        return None
    return resolve_credential(session, secret=secret, kind="session")


def _require(roles: frozenset[str]) -> Callable[[Request, Session], Principal]:
    def dependency(request: Request, session: SessionDep) -> Principal:
        principal = session_principal(request, session)

        # Refused attempts are on the audit trail like the API's: signed out (401) or a page
        # the role may not use (403), with the patient the address names.
        def refused(action: str, status: int, detail: str) -> None:
            record_refusal(
                session,
                principal=principal,
                action=action,
                status=status,
                via=f"{request.method} {request.url.path}",
                client=client_address(request),
                patient_id=path_patient_id(request.path_params.get("patient_id")),
                detail=detail,
            )

        if principal is None:
            refused("authenticate", 401, "not signed in: sent to the sign-in page")
            raise LoginRequired
        if principal.role not in roles:
            detail = f"This page is not available to the {principal.role} role."
            refused("authorize", 403, detail)
            raise PageForbidden(detail)
        request.state.principal = principal
        return principal

    return dependency


StaffUser = Annotated[Principal, Depends(_require(STAFF_ROLES))]
PatientUser = Annotated[Principal, Depends(_require(frozenset({"patient"})))]
AdminUser = Annotated[Principal, Depends(_require(frozenset({"admin"})))]


def home_for(principal: Principal) -> str:
    if principal.role == "patient":
        return "/portal"
    if principal.role in STAFF_ROLES:
        return "/clinic/patients"
    if principal.role == "admin":
        return "/admin/users"
    return "/account"


# --- CSRF --------------------------------------------------------------------------------------


def csrf_token(request: Request) -> str:
    """The form token for this browser. Signed in, it is derived from the session (an HMAC of
    the session secret), so a token planted from elsewhere (a cookie set by a sibling
    subdomain) is worth nothing and signing out voids it. Signed out (the sign-in form), it is
    the random token of the `secondlook_csrf` cookie, or a new one that `render` sets."""
    token = getattr(request.state, "csrf_token", None)
    if token is None:
        session_secret = request.cookies.get(SESSION_COOKIE)
        if session_secret:
            token = session_form_token(session_secret)
        else:
            cookie = request.cookies.get(CSRF_COOKIE, "")
            token = cookie if 20 <= len(cookie) <= 100 else secrets.token_urlsafe(32)
        request.state.csrf_token = token
    return str(token)


def session_form_token(session_secret: str) -> str:
    digest = hmac.new(session_secret.encode(), b"secondlook form token", hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


async def csrf_protect(request: Request) -> None:
    """Router dependency: every unsafe request carries the form token of this browser (bound to
    its session when signed in), from this site."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    origin = request.headers.get("origin")
    if origin is not None and origin != _own_origin(request):
        raise PageForbidden("The form was sent from another site.")
    session_secret = request.cookies.get(SESSION_COOKIE)
    expected = (
        session_form_token(session_secret) if session_secret else request.cookies.get(CSRF_COOKIE)
    )
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    if not expected or not isinstance(sent, str) or not hmac.compare_digest(sent, expected):
        raise PageForbidden(
            "The form could not be accepted (its security token is missing or out of date). "
            "Go back, reload the page and try again."
        )


def _own_origin(request: Request) -> str:
    host = request.headers.get("host", "")
    return f"{request.url.scheme}://{host}"


def translator_of(request: Request) -> Translator:
    """The language of a page: a patient's own choice, else their browser's
    (``Accept-Language``), else English. Staff pages are in English."""
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal) or principal.role != "patient":
        return ENGLISH
    return translator(language_of(principal.language, request.headers.get("accept-language")))


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    token = csrf_token(request)
    principal = getattr(request.state, "principal", None)
    words = translator_of(request)
    response = templates.TemplateResponse(
        request,
        template,
        {
            "csrf_token": token,
            "user": principal,
            "lang": words.language,
            "gettext": words.gettext,
            "ngettext": words.ngettext,
            "pgettext": words.pgettext,
            **(context or {}),
        },
        status_code=status,
    )
    response.headers["content-language"] = words.language
    set_csrf_cookie(request, response, token)
    return response


def set_csrf_cookie(request: Request, response: Response, token: str) -> None:
    if request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def site_contacts_of(request: Request) -> SiteContacts:
    """The site's numbers for patients (set by the app from its settings)."""
    found = getattr(request.app.state, "site_contacts", None)
    return found if isinstance(found, SiteContacts) else SiteContacts()
