"""Patients: list, create, read, update (If-Match)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from secondlook.api.schemas import Page as PageOf
from secondlook.api.schemas import PatientIn, PatientOut, PatientPatch
from secondlook.http.deps import (
    AuditDep,
    CurrentUser,
    IfMatch,
    Page,
    PatientId,
    etag,
    required_version,
)
from secondlook.http.problems import error_responses
from secondlook.store import records
from secondlook.store.models import Patient

router = APIRouter(prefix="/patients", tags=["patients"])


def patient_out(patient: Patient) -> PatientOut:
    return PatientOut.model_validate(patient, from_attributes=True)


@router.get("", responses=error_responses(401, 403, 422))
def list_patients(
    auditor: AuditDep, user: CurrentUser, page: Page, request: Request
) -> PageOf[PatientOut]:
    """The patients of your organization (a patient sees only their own record)."""
    with auditor.operation("patient.list"):
        rows = records.list_patients(
            auditor.session,
            organization_id=user.organization_id,
            limit=page.limit + 1,
            after_id=page.position,
            only_id=user.patient_id if user.role == "patient" else None,
        )
    rows, next_page = page.cut(rows, request, lambda row: row.id)
    return PageOf[PatientOut](items=[patient_out(p) for p in rows], next=next_page)


@router.post("", status_code=201, responses=error_responses(401, 403, 409, 422))
def create_patient(
    body: PatientIn, auditor: AuditDep, user: CurrentUser, response: Response
) -> PatientOut:
    with auditor.operation("patient.create") as scope:
        scope.status = 201
        patient = records.create_patient(
            auditor.session,
            organization_id=user.organization_id,
            name=body.name,
            mrn=body.mrn,
            birth_date=body.birth_date,
        )
        scope.patient_id = patient.id
    response.headers["Location"] = f"/api/v1/patients/{patient.id}"
    response.headers["ETag"] = etag(patient.version)
    return patient_out(patient)


@router.get("/{patient_id}", responses=error_responses(401, 403, 404, 422))
def read_patient(patient_id: PatientId, auditor: AuditDep, response: Response) -> PatientOut:
    with auditor.patient("patient.read", patient_id) as scope:
        assert scope.patient is not None
        patient = scope.patient
    response.headers["ETag"] = etag(patient.version)
    return patient_out(patient)


@router.patch("/{patient_id}", responses=error_responses(401, 403, 404, 409, 412, 422, 428))
def update_patient(
    patient_id: PatientId,
    body: PatientPatch,
    auditor: AuditDep,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
) -> PatientOut:
    """Change the keys you send. Needs If-Match with the patient's current ETag."""
    with auditor.patient("patient.update", patient_id):
        patient = records.update_patient(
            auditor.session,
            organization_id=user.organization_id,
            patient_id=patient_id,
            expected_version=required_version(if_match),
            changes=body.model_dump(exclude_unset=True),
        )
    response.headers["ETag"] = etag(patient.version)
    return patient_out(patient)
