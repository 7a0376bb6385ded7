"""Patients: list, create, read, update (If-Match)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from secondlook.api.schemas import Page as PageOf
from secondlook.api.schemas import PatientIn, PatientOut, PatientPatch
from secondlook.http.deps import AccessDep, IfMatch, Page, PatientId, SessionDep, etag
from secondlook.http.problems import error_responses
from secondlook.platform.preconditions import IfMatchVersion
from secondlook.services import records
from secondlook.store.models import Patient

router = APIRouter(prefix="/patients", tags=["patients"])


def patient_out(patient: Patient) -> PatientOut:
    return PatientOut.model_validate(patient, from_attributes=True)


@router.get("", responses=error_responses(401, 403, 422))
def list_patients(
    session: SessionDep, access: AccessDep, page: Page, request: Request
) -> PageOf[PatientOut]:
    """The patients of your organization (a patient sees only their own record)."""
    rows = records.list_patients(session, access=access, limit=page.limit + 1, after=page.position)
    rows, next_page = page.cut(rows, request, lambda row: row.id)
    return PageOf[PatientOut](items=[patient_out(p) for p in rows], next=next_page)


@router.post("", status_code=201, responses=error_responses(401, 403, 409, 422))
def create_patient(
    body: PatientIn, session: SessionDep, access: AccessDep, response: Response
) -> PatientOut:
    patient = records.create_patient(
        session, access=access, name=body.name, mrn=body.mrn, birth_date=body.birth_date
    )
    response.headers["Location"] = f"/api/v1/patients/{patient.id}"
    response.headers["ETag"] = etag(patient.version)
    return patient_out(patient)


@router.get("/{patient_id}", responses=error_responses(401, 403, 404, 422))
def read_patient(
    patient_id: PatientId, session: SessionDep, access: AccessDep, response: Response
) -> PatientOut:
    patient = records.read_patient(session, access=access, patient_id=patient_id)
    response.headers["ETag"] = etag(patient.version)
    return patient_out(patient)


@router.patch("/{patient_id}", responses=error_responses(401, 403, 404, 409, 412, 422, 428))
def update_patient(
    patient_id: PatientId,
    body: PatientPatch,
    session: SessionDep,
    access: AccessDep,
    response: Response,
    if_match: IfMatch = None,
) -> PatientOut:
    """Change the keys you send. Needs If-Match with the patient's current ETag."""
    patient = records.update_patient(
        session,
        access=access,
        patient_id=patient_id,
        expected=IfMatchVersion(if_match),
        changes=body.model_dump(exclude_unset=True),
    )
    response.headers["ETag"] = etag(patient.version)
    return patient_out(patient)
