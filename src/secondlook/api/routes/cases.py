"""A patient's case document: every PUT stores a new immutable version; the latest is current."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response

from secondlook.api.schemas import CaseVersionOut, CaseVersionSummary
from secondlook.api.schemas import Page as PageOf
from secondlook.http.deps import (
    AccessDep,
    IfMatch,
    IfNoneMatch,
    Page,
    PatientId,
    SessionDep,
    etag,
    path_id,
    required_version,
)
from secondlook.http.problems import ApiProblem, error_responses
from secondlook.services import records
from secondlook.store.models import CaseVersion

router = APIRouter(prefix="/patients/{patient_id}/case", tags=["cases"])


def _href(version: CaseVersion) -> str:
    return f"/api/v1/patients/{version.patient_id}/case/versions/{version.number}"


def summary(version: CaseVersion) -> CaseVersionSummary:
    return CaseVersionSummary(
        patient_id=version.patient_id,
        version=version.number,
        created_at=version.created_at,
        created_by=version.created_by,
        href=_href(version),
    )


def full(version: CaseVersion) -> CaseVersionOut:
    return CaseVersionOut(**summary(version).model_dump(), document=version.document)


@dataclass(frozen=True)
class CasePrecondition:
    """The version a PUT names: 0 (there is none yet) for `If-None-Match: *`, otherwise the
    If-Match ETag. Evaluated by the service once the write is authorized, so a caller who may
    not write learns that first (403), not how to write (428)."""

    if_match: str | None
    if_none_match: str | None

    def required(self) -> int:
        if_match, if_none_match = self.if_match, self.if_none_match
        if if_match is None and if_none_match is not None and if_none_match.strip() == "*":
            return 0
        if if_none_match is not None and if_match is None:
            raise ApiProblem(
                428, "If-None-Match accepts only `*` (first version)", kind="precondition-required"
            )
        return required_version(if_match)


@router.get("", responses=error_responses(401, 403, 404, 422))
def read_case(
    patient_id: PatientId, session: SessionDep, access: AccessDep, response: Response
) -> CaseVersionOut:
    """The current case version. Its ETag is the version number."""
    version = records.read_case(session, access=access, patient_id=patient_id)
    response.headers["ETag"] = etag(version.number)
    return full(version)


@router.put("", status_code=201, responses=error_responses(401, 403, 404, 412, 422, 428))
def put_case(
    patient_id: PatientId,
    document: Annotated[
        dict[str, Any],
        Body(description="a case document (CONTRACT.md §1, `secondlook schema case`)"),
    ],
    session: SessionDep,
    access: AccessDep,
    response: Response,
    if_match: IfMatch = None,
    if_none_match: IfNoneMatch = None,
) -> CaseVersionOut:
    """Store a new version of the case document, validated first (422 lists every problem with
    its JSON path). The first version needs `If-None-Match: *`; later ones need `If-Match`
    with the current version's ETag."""
    version = records.save_case(
        session,
        access=access,
        patient_id=patient_id,
        expected=CasePrecondition(if_match, if_none_match),
        document=document,
    )
    response.headers["ETag"] = etag(version.number)
    response.headers["Location"] = _href(version)
    return full(version)


@router.get("/versions", responses=error_responses(401, 403, 404, 422))
def list_case_versions(
    patient_id: PatientId, session: SessionDep, access: AccessDep, page: Page, request: Request
) -> PageOf[CaseVersionSummary]:
    rows = records.case_versions(
        session, access=access, patient_id=patient_id, limit=page.limit + 1, after=page.position
    )
    rows, next_page = page.cut(rows, request, lambda row: row.number)
    return PageOf[CaseVersionSummary](items=[summary(v) for v in rows], next=next_page)


@router.get("/versions/{number}", responses=error_responses(401, 403, 404, 422))
def read_case_version(
    patient_id: PatientId,
    number: Annotated[int, path_id("the case version number")],
    session: SessionDep,
    access: AccessDep,
) -> CaseVersionOut:
    """One case version; versions never change."""
    return full(records.read_case(session, access=access, patient_id=patient_id, number=number))
