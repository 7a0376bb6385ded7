"""Write-back to the EHR (docs/fhir.md, "Write-back"): the newest assessment, its summary PDF
and the decided plan as a FHIR R4 transaction Bundle, and the summary alone as a
DocumentReference. Computed by ``services.write_back``; this module only renders it."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from secondlook.http.deps import AccessDep, PatientId, SessionDep
from secondlook.http.problems import error_responses
from secondlook.services.write_back import write_back

router = APIRouter(prefix="/patients", tags=["write-back"])
FHIR_JSON = "application/fhir+json"


@router.get("/{patient_id}/write-back", responses=error_responses(401, 403, 404, 422))
def write_back_bundle(
    patient_id: PatientId, request: Request, session: SessionDep, access: AccessDep
) -> JSONResponse:
    """The FHIR R4 transaction Bundle an EHR can POST to its base URL: the assessment, the
    summary PDF as a DocumentReference, the decided plan as a CarePlan and a Provenance with the
    EHR's patient ids."""
    bundle = write_back(
        session,
        access=access,
        patient_id=patient_id,
        mrn_system=request.app.state.mrn_system,
        now=dt.datetime.now(dt.UTC),
    )
    return JSONResponse(bundle, media_type=FHIR_JSON)


@router.get(
    "/{patient_id}/write-back/document-reference",
    responses=error_responses(401, 403, 404, 422),
)
def write_back_document(
    patient_id: PatientId, request: Request, session: SessionDep, access: AccessDep
) -> JSONResponse:
    """The summary PDF alone, as a DocumentReference (base64 in ``content.attachment``)."""
    bundle = write_back(
        session,
        access=access,
        patient_id=patient_id,
        mrn_system=request.app.state.mrn_system,
        now=dt.datetime.now(dt.UTC),
    )
    (document,) = (
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "DocumentReference"
    )
    return JSONResponse(document, media_type=FHIR_JSON)
