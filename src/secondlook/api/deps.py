"""Dependencies shared by the routes, in one place (as in the FastAPI full-stack template):
the database session, the current user, pagination, If-Match handling and the audit scope."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Path, Query, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from secondlook.api.problems import ApiProblem, as_problem
from secondlook.store import audit, records
from secondlook.store.accounts import Principal, resolve_credential
from secondlook.store.models import Patient

log = logging.getLogger("secondlook.api")
T = TypeVar("T")

SESSION_COOKIE = "secondlook_session"
MAX_LIMIT = 200
# Ids and versions are 32-bit integers in the database (PostgreSQL refuses larger ones).
MAX_ID = 2**31 - 1
DEFAULT_LIMIT = 50

ALL_CLINICAL = frozenset({"clinician", "coordinator", "patient"})
STAFF = frozenset({"clinician", "coordinator"})
# Who may do what. Admins manage accounts and read the audit trail; they do not see clinical
# data. Patients see their own record and answer their own questionnaires. Running an
# assessment is a clinical act and is kept to clinicians.
PERMISSIONS: dict[str, frozenset[str]] = {
    "patient.list": ALL_CLINICAL,
    "patient.create": STAFF,
    "patient.read": ALL_CLINICAL,
    "patient.update": STAFF,
    "case.read": ALL_CLINICAL,
    "case.write": STAFF,
    "assessment.create": frozenset({"clinician"}),
    "assessment.read": ALL_CLINICAL,
    "questionnaire.create": ALL_CLINICAL,
    "questionnaire.read": ALL_CLINICAL,
    "history.read": ALL_CLINICAL,
    # Care coordination (docs/care.md). Deciding a plan is a clinical act (clinicians); the team
    # (clinicians and coordinators) records conferences, moves tasks and keeps plans up to
    # date; a patient reads their own plan, tasks and outcomes and checks their own goals.
    "care.conference.create": STAFF,
    "care.conference.read": STAFF,
    "care.plan.propose": STAFF,
    "care.plan.create": frozenset({"clinician"}),
    "care.plan.read": ALL_CLINICAL,
    "care.plan.update": STAFF,
    "care.task.read": ALL_CLINICAL,
    "care.task.update": STAFF,
    "care.goal-check.create": ALL_CLINICAL,
    "care.outcome.read": ALL_CLINICAL,
    "care.worklist.read": STAFF,
    "care.cohort.read": STAFF,
    "audit.read": frozenset({"admin"}),
    "user.read": frozenset({"admin"}),
    "user.write": frozenset({"admin"}),
    # FHIR REST API (/fhir): the same rule as reading a patient's records; the shipped
    # Questionnaires are definitions, not patient data, so every signed-in role may read them.
    "fhir.read": ALL_CLINICAL,
    "fhir.search": ALL_CLINICAL,
    "fhir.definition.read": frozenset({"clinician", "coordinator", "patient", "admin"}),
}


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
        patient_id = request.path_params.get("patient_id")
        audit.record(
            session,
            actor=None,
            action="authenticate",
            resource=f"{request.method} {request.url.path}",
            outcome="denied",
            status=401,
            patient_id=patient_id if isinstance(patient_id, int) else None,
            client=client_address(request),
            detail="no valid token or session" if (credentials or session_id) else "anonymous",
        )
        session.commit()
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


_ENTITY_TAG = re.compile(r'(W/)?"([0-9]{1,10})"')


def required_version(if_match: str | None) -> int:
    """The version named by If-Match: 428 without a usable one, 412 for a tag
    that cannot match (a weak tag never matches If-Match, RFC 9110 13.1.1)."""
    if if_match is None or not if_match.strip():
        raise ApiProblem(
            428,
            "this write needs If-Match with the ETag you read (GET the resource first)",
            kind="precondition-required",
        )
    value = if_match.strip()
    if value == "*" or "," in value:
        raise ApiProblem(
            428,
            "If-Match must carry exactly one ETag, the one you read; `*` does not protect "
            "against lost updates and is not accepted",
            kind="precondition-required",
        )
    tag = _ENTITY_TAG.fullmatch(value)
    if tag is None:
        raise ApiProblem(
            428,
            f'If-Match {value[:40]!r} is not an entity tag; send the ETag as received, e.g. "3"',
            kind="precondition-required",
        )
    if tag.group(1):
        raise ApiProblem(
            412,
            "weak entity tags never match If-Match (RFC 9110); send the ETag as received",
            kind="stale-version",
        )
    version = int(tag.group(2))
    if not 1 <= version <= MAX_ID:
        raise ApiProblem(
            412, f"{value} is not a current ETag of this resource", kind="stale-version"
        )
    return version


# --- authorization and the audit trail ---------------------------------------------------------


@dataclass
class Scope:
    """What an audited operation touches; the route fills in what it learns on the way."""

    patient: Patient | None = None
    patient_id: int | None = None
    status: int = 200


class Auditor:
    """Authorises an operation and writes its audit event, whatever the outcome.

    A successful operation and its audit event commit in one transaction. A denied or failed
    one is rolled back, then its event is committed on its own, so the attempt is on record.
    """

    def __init__(self, session: Session, principal: Principal, request: Request) -> None:
        self.session = session
        self.principal = principal
        self.request = request

    @contextmanager
    def patient(self, action: str, patient_id: int) -> Iterator[Scope]:
        """Scope an operation on one patient's data; yields the patient (404 if not visible)."""
        with self._scope(action, patient_id=patient_id, load_patient=True) as scope:
            yield scope

    @contextmanager
    def operation(self, action: str) -> Iterator[Scope]:
        """Scope an operation that is not about one existing patient."""
        with self._scope(action, patient_id=None, load_patient=False) as scope:
            yield scope

    @contextmanager
    def _scope(self, action: str, *, patient_id: int | None, load_patient: bool) -> Iterator[Scope]:
        scope = Scope(patient_id=patient_id)
        if self.principal.role not in PERMISSIONS[action]:
            self._refuse(scope, action, 403, f"the {self.principal.role} role may not do {action}")
        if load_patient:
            assert patient_id is not None
            visible = self.principal.role != "patient" or self.principal.patient_id == patient_id
            patient = (
                records.get_patient(
                    self.session,
                    organization_id=self.principal.organization_id,
                    patient_id=patient_id,
                )
                if visible
                else None
            )
            if patient is None:
                self._refuse(scope, action, 404, f"no patient {patient_id} that you can see")
            scope.patient = patient
        try:
            yield scope
        except BaseException as exc:
            self.session.rollback()
            problem = as_problem(exc)
            status = problem.status if problem is not None else 500
            self._write(scope, action, "failed", status, problem.detail if problem else None)
            if problem is not None and problem is not exc:
                raise problem from exc
            raise
        else:
            self._write(scope, action, "success", scope.status, None, commit=False)
            self.session.commit()

    def _refuse(self, scope: Scope, action: str, status: int, detail: str) -> None:
        self.session.rollback()
        self._write(scope, action, "denied", status, detail)
        raise ApiProblem(status, detail)

    def _write(
        self,
        scope: Scope,
        action: str,
        outcome: str,
        status: int,
        detail: str | None,
        *,
        commit: bool = True,
    ) -> None:
        try:
            audit.record(
                self.session,
                actor=self.principal,
                action=action,
                resource=f"{self.request.method} {self.request.url.path}",
                outcome=outcome,
                status=status,
                patient_id=scope.patient_id,
                client=client_address(self.request),
                detail=detail[:500] if detail else None,
            )
            if commit:
                self.session.commit()
        except Exception:
            if not commit:
                raise
            # Never let a failure to record a failure hide the original error.
            log.exception("could not write the audit event for a %s %s", outcome, action)
            self.session.rollback()


def get_auditor(request: Request, session: SessionDep, user: CurrentUser) -> Auditor:
    return Auditor(session, user, request)


AuditDep = Annotated[Auditor, Depends(get_auditor)]
