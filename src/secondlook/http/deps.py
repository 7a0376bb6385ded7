"""Dependencies shared by the routes, in one place (as in the FastAPI full-stack template):
the database session, the current user and the access it stands for, pagination and If-Match
handling. Who may do what is ``platform.access.PERMISSIONS``; authorization and audit are the
services' (``services.unit``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Path, Query, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from secondlook.http.problems import ApiProblem
from secondlook.platform.access import Access, Principal
from secondlook.platform.ids import MAX_ID
from secondlook.platform.preconditions import IfMatchVersion
from secondlook.services.unit import Scope, audited, path_patient_id, record_refusal
from secondlook.store.accounts import resolve_credential

log = logging.getLogger("secondlook.api")
T = TypeVar("T")

SESSION_COOKIE = "secondlook_session"
MAX_LIMIT = 200
# Ids and versions are 32-bit integers in the database (PostgreSQL refuses larger ones).
DEFAULT_LIMIT = 50


def get_db(request: Request) -> Iterator[Session]:
    session: Session = request.app.state.sessionmaker()
    try:
        yield session
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_db)]

_bearer = HTTPBearer(auto_error=False, description="an API token from POST /api/v1/tokens")
_cookie = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, description="the browser session from POST /session"
)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def get_current_user(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    session_id: Annotated[str | None, Depends(_cookie)],
) -> Principal:
    principal = None
    if credentials is not None:
        principal = resolve_credential(session, secret=credentials.credentials, kind="token")
    elif session_id:
        principal = resolve_credential(session, secret=session_id, kind="session")
    if principal is None:
        record_refusal(
            session,
            principal=None,
            action="authenticate",
            status=401,
            via=f"{request.method} {request.url.path}",
            client=client_address(request),
            patient_id=path_patient_id(request.path_params.get("patient_id")),
            detail="no valid token or session" if (credentials or session_id) else "anonymous",
        )
        raise ApiProblem(
            401,
            "send a bearer token (Authorization: Bearer ...) or log in with POST /api/v1/session",
            headers={"WWW-Authenticate": 'Bearer realm="secondlook"'},
        )
    return principal


CurrentUser = Annotated[Principal, Depends(get_current_user)]


# --- pagination ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageParams:
    limit: int
    position: int  # the last id seen (keyset) or the offset, depending on the list

    def cut(
        self, rows: list[T], request: Request, position: Callable[[T], int]
    ) -> tuple[list[T], str | None]:
        """The rows of this page (the query fetched one more than `limit` to learn whether
        there is a next page) and the link to the next page, which starts after
        `position(last row)`."""
        if len(rows) <= self.limit:
            return rows, None
        rows = rows[: self.limit]
        url = request.url.include_query_params(limit=self.limit, cursor=position(rows[-1]))
        return rows, f"{url.path}?{url.query}"


def pagination(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"page size, at most {MAX_LIMIT}")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        int | None,
        Query(ge=0, le=MAX_ID, description="where the page starts: take it from `next`"),
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, position=cursor or 0)


Page = Annotated[PageParams, Depends(pagination)]


def path_id(description: str) -> Any:
    return Path(ge=1, le=MAX_ID, description=description)


PatientId = Annotated[int, path_id("the patient's id")]


# --- ETags and preconditions -------------------------------------------------------------------


def etag(version: int) -> str:
    return f'"{version}"'


IfMatch = Annotated[
    str | None,
    Header(
        description='the ETag you read, e.g. "3"; required for writes to an existing resource',
        max_length=100,
        json_schema_extra={"pattern": '^(W/)?"[0-9]{1,10}"$'},
    ),
]
IfNoneMatch = Annotated[
    str | None,
    Header(
        description="`*` to create the first case version",
        max_length=100,
        json_schema_extra={"pattern": "^[*]$"},
    ),
]


def required_version(if_match: str | None) -> int:
    """The version named by If-Match (428 or 412 when there is none that can match)."""
    return IfMatchVersion(if_match).required()


# --- authorization and the audit trail ---------------------------------------------------------


def access_of(request: Request, principal: Principal) -> Access:
    """The act a request stands for, as the services take it."""
    return Access(
        principal=principal,
        client=client_address(request),
        via=f"{request.method} {request.url.path}",
    )


class Auditor:
    """A request's entry to the services' audited unit of work (``services.unit.audited``):
    the same authorization and audit trail for every route and page."""

    def __init__(self, session: Session, principal: Principal, request: Request) -> None:
        self.session = session
        self.principal = principal
        self.access = access_of(request, principal)

    @contextmanager
    def patient(self, action: str, patient_id: int) -> Iterator[Scope]:
        """Scope an operation on one patient's data; yields the patient (404 if not visible)."""
        with audited(self.session, self.access, action, patient_id=patient_id) as scope:
            yield scope

    @contextmanager
    def operation(self, action: str) -> Iterator[Scope]:
        """Scope an operation that is not about one existing patient."""
        with audited(self.session, self.access, action) as scope:
            yield scope


def get_auditor(request: Request, session: SessionDep, user: CurrentUser) -> Auditor:
    return Auditor(session, user, request)


def get_access(request: Request, user: CurrentUser) -> Access:
    return access_of(request, user)


AuditDep = Annotated[Auditor, Depends(get_auditor)]
AccessDep = Annotated[Access, Depends(get_access)]
