"""A patient's case document: every PUT stores a new immutable version; the latest is current."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response

from secondlook.api.schemas import CaseVersionOut, CaseVersionSummary
from secondlook.api.schemas import Page as PageOf
from secondlook.http.deps import (
    AuditDep,
    CurrentUser,
    IfMatch,
    IfNoneMatch,
    Page,
    PatientId,
    etag,
    path_id,
    required_version,
)
from secondlook.http.problems import ApiProblem, error_responses
from secondlook.store import flows, records
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


def _no_case(patient_id: int) -> ApiProblem:
    return ApiProblem(
        404,
        f"patient {patient_id} has no case document yet; PUT one with If-None-Match: *",
        kind="no-case",
    )


@router.get("", responses=error_responses(401, 403, 404, 422))
def read_case(
    patient_id: PatientId, auditor: AuditDep, user: CurrentUser, response: Response
) -> CaseVersionOut:
    """The current case version. Its ETag is the version number."""
    with auditor.patient("case.read", patient_id):
        version = records.get_case_version(
            auditor.session, organization_id=user.organization_id, patient_id=patient_id
        )
        if version is None:
            raise _no_case(patient_id)
    response.headers["ETag"] = etag(version.number)
    return full(version)


@router.put("", status_code=201, responses=error_responses(401, 403, 404, 412, 422, 428))
def put_case(
    patient_id: PatientId,
    document: Annotated[
        dict[str, Any],
        Body(description="a case document (CONTRACT.md §1, `secondlook schema case`)"),
    ],
    auditor: AuditDep,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
    if_none_match: IfNoneMatch = None,
) -> CaseVersionOut:
    """Store a new version of the case document, validated first (422 lists every problem with
    its JSON path). The first version needs `If-None-Match: *`; later ones need `If-Match`
    with the current version's ETag."""
    with auditor.patient("case.write", patient_id) as scope:
        scope.status = 201
        if if_match is None and if_none_match is not None and if_none_match.strip() == "*":
            expected = 0
        elif if_none_match is not None and if_match is None:
            raise ApiProblem(
                428, "If-None-Match accepts only `*` (first version)", kind="precondition-required"
            )
        else:
            expected = required_version(if_match)
        version = flows.save_case(
            auditor.session,
            organization_id=user.organization_id,
            patient_id=patient_id,
            expected_version=expected,
            document=document,
            user_id=user.user_id,
        )
    response.headers["ETag"] = etag(version.number)
    response.headers["Location"] = _href(version)
    return full(version)


@router.get("/versions", responses=error_responses(401, 403, 404, 422))
def list_case_versions(
    patient_id: PatientId, auditor: AuditDep, user: CurrentUser, page: Page, request: Request
) -> PageOf[CaseVersionSummary]:
    with auditor.patient("case.read", patient_id):
        rows = records.list_case_versions(
            auditor.session,
            organization_id=user.organization_id,
            patient_id=patient_id,
            limit=page.limit + 1,
            after_number=page.position,
        )
    rows, next_page = page.cut(rows, request, lambda row: row.number)
    return PageOf[CaseVersionSummary](items=[summary(v) for v in rows], next=next_page)


@router.get("/versions/{number}", responses=error_responses(401, 403, 404, 422))
def read_case_version(
    patient_id: PatientId,
    number: Annotated[int, path_id("the case version number")],
    auditor: AuditDep,
    user: CurrentUser,
) -> CaseVersionOut:
    """One case version; versions never change."""
    with auditor.patient("case.read", patient_id):
        version = records.get_case_version(
            auditor.session,
            organization_id=user.organization_id,
            patient_id=patient_id,
            number=number,
        )
        if version is None:
            raise ApiProblem(404, f"patient {patient_id} has no case version {number}")
    return full(version)
