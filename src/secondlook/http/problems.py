"""RFC 9457 problem details for every error the API returns, including FastAPI's own request
validation errors, unknown routes, wrong methods and unexpected exceptions."""

from __future__ import annotations

import logging
import uuid
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from secondlook.care import CareInvalid
from secondlook.case import CaseInvalid
from secondlook.http import requestid
from secondlook.instruments import AnswersInvalid
from secondlook.platform.errors import Refused, StoreError
from secondlook.services.errors import refusal_of

log = logging.getLogger("secondlook.api")

PROBLEM_MEDIA_TYPE = "application/problem+json"
# Problem types are URNs: stable identifiers that docs/api.md lists with their meaning.
TYPE_PREFIX = "urn:secondlook:problem:"


class ProblemField(BaseModel):
    path: str = Field(
        description="where: a JSON path into the body ($.surgeries[0].date), "
        "or query.NAME / header.NAME / path.NAME"
    )
    message: str
    hint: str | None = None


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[ProblemField] | None = Field(
        default=None, description="every validation problem, each with its location"
    )
    current_version: int | None = Field(
        default=None, description="on 412: the version that is current now"
    )
    retry_after: int | None = Field(default=None, description="on 429: seconds to wait")
    active_plan_id: int | None = Field(
        default=None, description="on 409 plan-active: the patient's active plan"
    )
    active_plan_version: int | None = Field(
        default=None, description="on 409 plan-active: that plan's version"
    )
    amend: str | None = Field(default=None, description="on 409 plan-active: where to amend it")
    close: str | None = Field(default=None, description="on 409 plan-active: where to close it")
    request_id: str | None = Field(
        default=None,
        description="the request's id (also in the X-Request-ID header and the server log): "
        "quote it when reporting a problem",
    )


class ApiProblem(Refused):
    """Raise to answer with a problem; `kind` becomes the type URN (about:blank without one).
    The services raise its base, :class:`~secondlook.platform.errors.Refused`; both render
    the same way."""


def problem_response(
    request: Request,
    status: int,
    *,
    detail: str | None = None,
    kind: str | None = None,
    title: str | None = None,
    errors: list[ProblemField] | None = None,
    headers: dict[str, str] | None = None,
    instance: str | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body = Problem(
        type=TYPE_PREFIX + kind if kind else "about:blank",
        title=title or _phrase(status),
        status=status,
        detail=detail,
        instance=instance or request.url.path,
        errors=errors,
        request_id=requestid.current(),
        **(extra or {}),
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def request_invalid(request: Request, errors: list[ProblemField], what: str) -> JSONResponse:
    """The 422 for a request that cannot be read as sent (``what``: "the request", "the query
    string", "the JSON body"), with every problem located."""
    return problem_response(
        request,
        422,
        detail=f"{what} has {len(errors)} problem(s); see errors",
        kind="request-invalid",
        title="Invalid request",
        errors=errors,
    )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def as_problem(exc: BaseException) -> Refused | None:
    """The problem a domain exception stands for, or None for an unexpected exception (the
    mapping is the services', ``services.errors.refusal_of``)."""
    return refusal_of(exc)


def _fields(errors: list[Any] | None) -> list[ProblemField] | None:
    if errors is None:
        return None
    return [
        e
        if isinstance(e, ProblemField)
        else ProblemField(path=e.path, message=e.message, hint=e.hint)
        for e in errors
    ]


def validation_problem(exc: ValidationError, detail: str) -> ApiProblem:
    """A 422 problem for a request body validated by hand (errors located by JSON path)."""
    return ApiProblem(
        422,
        detail,
        kind="request-invalid",
        title="Invalid request",
        errors=[
            ProblemField(path=_location(("body", *e["loc"])), message=e["msg"])
            for e in exc.errors()
        ],
    )


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    if not loc:
        return "$"
    where, *rest = loc
    if where == "body":
        path = "$"
        for part in rest:
            path += f"[{part}]" if isinstance(part, int) else f".{part}"
        return path
    return ".".join(str(p) for p in loc)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem details."""

    @app.exception_handler(Refused)
    async def _api_problem(request: Request, exc: Refused) -> JSONResponse:
        return problem_response(
            request,
            exc.status,
            detail=exc.detail,
            kind=exc.kind,
            title=exc.title,
            errors=_fields(exc.errors),
            headers=exc.headers,
            extra=exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            ProblemField(path=_location(e.get("loc", ())), message=str(e.get("msg", "invalid")))
            for e in exc.errors()
        ]
        return request_invalid(request, errors, "the request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail: str | None = exc.detail if isinstance(exc.detail, str) else None
        if detail == _phrase(exc.status_code):
            detail = None
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the methods of the one route it matched; list them all.
            headers["Allow"] = ", ".join(_allowed_methods(app, request.url.path))
        return problem_response(request, exc.status_code, detail=detail, headers=headers)

    async def _domain(request: Request, exc: Exception) -> JSONResponse:
        problem = as_problem(exc)
        assert problem is not None
        return await _api_problem(request, problem)

    for domain_error in (StoreError, CaseInvalid, AnswersInvalid, CareInvalid):
        app.add_exception_handler(domain_error, _domain)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        problem = as_problem(exc)
        if problem is not None:
            return await _api_problem(request, problem)
        incident = uuid.uuid4()
        log.error("unexpected error, incident %s", incident, exc_info=exc)
        return problem_response(
            request,
            500,
            detail="an unexpected error occurred; the incident id lets an administrator find "
            "it in the server log",
            instance=f"urn:uuid:{incident}",
        )


def _not_nullable(parameter: dict[str, Any]) -> None:
    """An optional query or header parameter is absent or a string on the wire, never null:
    say so instead of FastAPI's `anyOf: [..., {"type": "null"}]`."""
    schema = parameter.get("schema", {})
    options = [o for o in schema.get("anyOf", []) if o.get("type") != "null"]
    if "anyOf" in schema and len(options) == 1:
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        parameter["schema"] = {**options[0], **rest}


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(app: FastAPI, path: str) -> list[str]:
    # Ask the app's routes (not the OpenAPI document, which leaves out /fhir and
    # /cds-services) which methods they take at this path.
    scope: dict[str, Any] = {"type": "http", "path": path, "root_path": ""}
    methods = {
        method
        for method in _METHODS
        if any(
            route.matches({**scope, "method": method})[0] == Match.FULL
            for route in app.router.routes
        )
    }
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problems a route can answer with (content is filled in by
    `document_problems`)."""
    return {code: {"description": _phrase(code)} for code in codes}


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Make every 4xx/5xx response in the OpenAPI document an application/problem+json Problem."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in components["Problem"].pop("$defs", {}).items():
        components[name] = sub
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    content = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for parameter in operation.get("parameters", []):
                _not_nullable(parameter)
            if "requestBody" in operation:
                operation["responses"].setdefault(
                    "400", {"description": "Bad Request: the body could not be read"}
                )
            for code, response in operation["responses"].items():
                if code[0] in "45":
                    response["content"] = content
                    if code == "422":
                        response["description"] = "Unprocessable Content: see errors"
    return schema


class GuardQuery:
    """ASGI middleware: refuse a query string that names a parameter twice (no parameter of this
    API is a list, and silently taking one of the values hides a client bug) or that contains
    NUL, before any route sees it."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("query_string"):
            errors = _query_errors(scope["query_string"].decode("latin-1"))
            if errors:
                response = request_invalid(Request(scope), errors, "the query string")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _query_errors(query: str) -> list[ProblemField]:
    seen: set[str] = set()
    errors = []
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name in seen:
            errors.append(ProblemField(path=f"query.{name}", message="given more than once"))
        seen.add(name)
        if "\x00" in name or "\x00" in value:
            errors.append(ProblemField(path=f"query.{name}", message="contains a NUL character"))
    return errors
