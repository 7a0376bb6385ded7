"""The web application: the clinician workspace (/clinic), the patient portal (/portal), sign-in
and the static files. Server-rendered HTML with no inline script; see docs/web.md.

Mount it with `web.install(app)`: it adds the page routes (each unsafe request CSRF-checked), the
static files, the security headers and the handlers that send a signed-out browser to /login.
"""

from __future__ import annotations

import contextlib
import inspect
import json
from http import HTTPStatus

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from secondlook.platform.errors import Refused
from secondlook.web import admin, alerts, auth, care, clinic, paper, portal, smart
from secondlook.web.common import (
    HERE,
    SECURITY_HEADERS,
    LoginRequired,
    PageForbidden,
    SecurityHeaders,
    csrf_protect,
    is_web_path,
    redirect,
    render,
)

# Addresses for programs: their errors stay problem documents whatever the Accept header says.
MACHINE_PREFIXES = (
    *("/api/", "/fhir", "/cds-services", "/docs", "/redoc", "/openapi.json"),
    *("/healthz", "/readyz", "/metrics", "/.well-known/"),
)

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)
router.include_router(auth.router)
router.include_router(clinic.router)
router.include_router(care.router)
router.include_router(alerts.router)
router.include_router(paper.router)
router.include_router(portal.router)
router.include_router(smart.router)
router.include_router(admin.router)


def install(app: FastAPI) -> None:
    """Add the web application to `app` (after the API routers)."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    # Browsers ask for /favicon.ico on their own (a PDF download, say); answer with the icon
    # the pages name, not a 404.
    @app.get("/favicon.ico", include_in_schema=False)
    async def _favicon() -> Response:
        return RedirectResponse("/static/favicon.svg", status_code=301)

    app.add_middleware(SecurityHeaders)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        return redirect("/login")

    api_problem_handler = app.exception_handlers[Refused]

    @app.exception_handler(Refused)
    async def _problem(request: Request, exc: Exception) -> Response:
        """Problems of page routes (a record you may not see, ...) as a page, not JSON."""
        if isinstance(exc, Refused) and is_web_path(request.url.path):
            title = HTTPStatus(exc.status).phrase
            message = exc.detail or title
            return render(
                request, "message.html", {"title": title, "message": message}, status=exc.status
            )
        result = api_problem_handler(request, exc)
        return await result if inspect.isawaitable(result) else result

    unexpected_handler = app.exception_handlers[Exception]

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        """An unexpected error on a page is a page too: the API's handler logs it under an
        incident id, and the page shows that id instead of a JSON document."""
        result = unexpected_handler(request, exc)
        answer = await result if inspect.isawaitable(result) else result
        if not is_web_path(request.url.path):
            return answer
        status = answer.status_code
        incident = ""
        with contextlib.suppress(ValueError, AttributeError):
            incident = str(json.loads(bytes(answer.body)).get("instance", ""))
        title = HTTPStatus(status).phrase
        message = (
            f"Something went wrong on our side. Give an administrator this incident id: "
            f"{incident.removeprefix('urn:uuid:')}."
            if status >= 500
            else title
        )
        try:
            return render(request, "message.html", {"title": title, "message": message}, status)
        except Exception:  # the page itself failed: plain text, never a trace
            return PlainTextResponse(f"{title}. {message}", status_code=status)

    http_problem_handler = app.exception_handlers[StarletteHTTPException]

    @app.exception_handler(StarletteHTTPException)
    async def _not_found(request: Request, exc: Exception) -> Response:
        """A mistyped address in a browser gets a page with a way back, not a JSON document;
        programs (the API, FHIR, CDS Hooks) keep their problem documents."""
        path = request.url.path
        browser = "text/html" in request.headers.get("accept", "")
        page = is_web_path(path) or (browser and not path.startswith(MACHINE_PREFIXES))
        status = getattr(exc, "status_code", 500)
        if page and status in (404, 405):
            title = "Page not found" if status == 404 else HTTPStatus(status).phrase
            message = (
                "There is no page at this address. It may have been mistyped, or the link "
                "may be out of date."
            )
            answer = render(request, "message.html", {"title": title, "message": message}, status)
            for name, value in {**SECURITY_HEADERS, "cache-control": "no-store"}.items():
                answer.headers.setdefault(name, value)
            return answer
        result = http_problem_handler(request, exc)
        return await result if inspect.isawaitable(result) else result

    @app.exception_handler(PageForbidden)
    async def _forbidden(request: Request, exc: PageForbidden) -> Response:
        return render(
            request, "message.html", {"title": "Not allowed", "message": exc.message}, status=403
        )


__all__ = ["install", "router"]
