"""The FHIR REST API's reads and searches (docs/fhir.md, "REST API"): authorize and audit
(``fhir.read``, ``fhir.search``, ``fhir.definition.read``), load the patient's stored records,
compute their resources with ``secondlook.fhir.server`` and apply the search. The HTTP adapter
renders what comes back as a resource or a searchset Bundle.

A search's parameters are checked inside the audited act, after the patient is known to be
visible: an invisible patient is 404 whatever else is wrong with the request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from secondlook.care import vocabulary
from secondlook.fhir import search as rules
from secondlook.fhir.server import (
    SERVED_TYPES,
    PatientRecords,
    StoredPlan,
    StoredQuestionnaire,
    StoredTask,
    patient_of,
    patient_resource,
    patient_resources,
    questionnaire_resources,
)
from secondlook.platform.access import Access
from secondlook.services.unit import audited
from secondlook.store import care_records, records
from secondlook.store.models import CaseVersion, Patient, QuestionnaireResponse

Params = rules.Params


@dataclass(frozen=True)
class Found:
    """One page of a search: its resources (sorted), the total, where the page is, and the
    parameters as understood (``subject`` read as ``patient``), for the paging links."""

    resources: list[dict[str, Any]]
    total: int
    offset: int
    count: int
    params: Params


def read(
    session: Session,
    *,
    access: Access,
    resource_type: str,
    resource_id: str,
    params: Params,
    accept: str | None,
    mrn_system: str | None,
) -> dict[str, Any]:
    """One resource by type and id; a 404 refusal when unknown or not visible."""
    if resource_type == "Questionnaire":
        with audited(session, access, "fhir.definition.read"):
            rules.check_format(accept, params)
            for questionnaire in questionnaire_resources():
                if questionnaire["id"] == resource_id:
                    return questionnaire
            raise rules.not_found(resource_type, resource_id)
    patient_id = patient_of(resource_id)
    if (
        resource_type not in SERVED_TYPES
        or patient_id is None
        or (resource_type == "Patient" and resource_id != str(patient_id))
    ):
        with audited(session, access, "fhir.read"):
            rules.check_type(resource_type)
            raise rules.not_found(resource_type, resource_id)
    with audited(session, access, "fhir.read", patient_id=patient_id) as scope:
        rules.check_format(accept, params)
        assert scope.patient is not None
        if resource_type == "Patient":
            return patient_resource(_records(session, scope.patient, False, mrn_system))
        for resource in patient_resources(_records(session, scope.patient, True, mrn_system)):
            if resource["resourceType"] == resource_type and resource["id"] == resource_id:
                return resource
        raise rules.not_found(resource_type, resource_id)


def search(
    session: Session,
    *,
    access: Access,
    resource_type: str,
    params: Params,
    accept: str | None,
    mrn_system: str | None,
) -> Found:
    """A search of one resource type; the parameters are FHIR's (``rules.SEARCH_PARAMS``)."""
    if resource_type == "Questionnaire":
        with audited(session, access, "fhir.definition.read"):
            rules.check_params(accept, params, resource_type)
            rules.paging(params)
            wanted_id = params.get("_id")
            wanted_url = params.get("url")
            found = [
                q
                for q in questionnaire_resources()
                if wanted_id in (None, q["id"]) and wanted_url in (None, q["url"])
            ]
        return _page(params, found, resource_type)
    if resource_type == "Patient":
        return _search_patients(session, access, params, accept, mrn_system)
    if resource_type in SERVED_TYPES and "subject" in params:
        if "patient" in params:
            with audited(session, access, "fhir.search"):
                raise rules.fhir_problem(
                    400, "invalid", "give patient or subject (the same), not both", "subject"
                )
        params = {("patient" if k == "subject" else k): v for k, v in params.items()}
    if resource_type not in SERVED_TYPES or ("patient" not in params and "_id" not in params):
        with audited(session, access, "fhir.search"):
            rules.check_type(resource_type)
            rules.check_params(accept, params, resource_type)
            raise rules.fhir_problem(
                400,
                "required",
                f"searching {resource_type} needs the patient parameter (or _id)",
                "patient",
            )
    wanted_id = params.get("_id")
    patient_id = (
        rules.patient_reference(params["patient"])
        if "patient" in params
        else patient_of(str(wanted_id))
    )
    if patient_id is None:
        with audited(session, access, "fhir.search"):
            rules.check_params(accept, params, resource_type)
            rules.paging(params)
            if "patient" in params:
                raise rules.fhir_problem(
                    404, "not-found", f"no patient {params['patient']!r} that you can see"
                )
        return _page(params, [], resource_type)
    with audited(session, access, "fhir.search", patient_id=patient_id) as scope:
        rules.check_params(accept, params, resource_type)
        rules.paging(params)
        assert scope.patient is not None
        found = [
            r
            for r in patient_resources(_records(session, scope.patient, True, mrn_system))
            if r["resourceType"] == resource_type and wanted_id in (None, r["id"])
        ]
    return _page(params, found, resource_type)


def _page(params: Params, found: list[dict[str, Any]], resource_type: str) -> Found:
    count, offset = rules.paging(params)
    found = rules.sorted_resources(found, rules.sort_keys(params, resource_type), resource_type)
    return Found(found[offset : offset + count], len(found), offset, count, params)


def _search_patients(
    session: Session, access: Access, params: Params, accept: str | None, mrn_system: str | None
) -> Found:
    """Patients are searched in the database (an organization has many), not in memory."""
    principal = access.principal
    with audited(session, access, "fhir.search") as scope:
        rules.check_params(accept, params, "Patient")
        count, offset = rules.paging(params)
        query = select(Patient).where(Patient.organization_id == principal.organization_id)
        if principal.role == "patient":
            query = query.where(Patient.id == principal.patient_id)
        wanted_id = params.get("_id")
        if wanted_id is not None:
            patient_id = rules.patient_reference(wanted_id)
            query = query.where(Patient.id == (patient_id or 0))
            scope.patient_id = patient_id
        identifier = params.get("identifier")
        if identifier is not None:
            system, bar, value = identifier.rpartition("|")
            if bar and system != (mrn_system or ""):
                query = query.where(Patient.id == 0)  # another system: no MRN of ours
            query = query.where(Patient.mrn == value)
        order = []
        columns = {"_id": Patient.id, "_lastUpdated": Patient.updated_at}
        for name, descending in rules.sort_keys(params, "Patient"):
            column = columns.get(name, Patient.birth_date)
            order.append(column.desc().nulls_last() if descending else column.asc().nulls_last())
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        found: list[dict[str, Any]] = []
        if params.get("_summary") != "count":
            rows = session.scalars(
                query.order_by(*order, Patient.id).offset(offset).limit(count)
            ).all()
            found = [patient_resource(_records(session, row, False, mrn_system)) for row in rows]
            scope.disclosed = [row.id for row in rows]
    return Found(found, total, offset, count, params)


def _plans(session: Session, organization_id: int, patient_id: int) -> list[StoredPlan]:
    """The patient's plans as decided, each with its care tasks (what a plan export needs)."""
    plans = care_records.list_plans(
        session, organization_id=organization_id, patient_id=patient_id, limit=10_000
    )
    out = []
    for plan in plans:
        tasks = care_records.list_plan_tasks(session, plan_id=plan.id, limit=10_000, kind="care")
        out.append(
            StoredPlan(
                id=plan.id,
                status=plan.status,
                closed_as=plan.closed_as,
                plan_version=plan.plan_version,
                decided_on=plan.decided_on,
                decided_by=plan.decided_by,
                start_on=plan.start_on,
                closed_on=plan.closed_on,
                closed_reason=plan.closed_reason,
                entries=plan.entries,
                goals=plan.goals,
                updated_at=plan.updated_at,
                tasks=[
                    StoredTask(
                        id=t.id,
                        name=t.name,
                        owner=t.owner,
                        owner_label=vocabulary.label("owner", t.owner),
                        person=t.person,
                        due=t.due,
                        status=t.status,
                        status_on=t.status_on,
                        status_reason=t.status_reason,
                        plan_item_id=t.plan_item_id,
                        updated_at=t.updated_at,
                    )
                    for t in tasks
                ],
            )
        )
    return out


def _records(
    session: Session, patient: Patient, full: bool, mrn_system: str | None
) -> PatientRecords:
    """What the patient's resources are computed from: the patient and current case, and with
    ``full`` the latest assessment (with the case version it assessed) and every stored
    questionnaire response."""
    org = patient.organization_id
    case = records.get_case_version(session, organization_id=org, patient_id=patient.id)
    found: dict[str, Any] = {}
    if full:
        assessment = care_records.latest_assessment(
            session, organization_id=org, patient_id=patient.id
        )
        if assessment is not None:
            assessed = session.get(CaseVersion, assessment.case_version_id)
            found.update(
                assessment_id=assessment.id,
                assessment=assessment.document,
                assessment_created_at=assessment.created_at,
                assessed_case=assessed.document if assessed is not None else None,
            )
        rows = session.scalars(
            select(QuestionnaireResponse)
            .where(
                QuestionnaireResponse.organization_id == org,
                QuestionnaireResponse.patient_id == patient.id,
            )
            .order_by(QuestionnaireResponse.id)
        )
        found["questionnaires"] = [
            StoredQuestionnaire(
                id=row.id,
                instrument=row.instrument,
                answered_on=row.answered_on,
                answers=list(row.answers),
                score=row.score,
                band=row.band,
                alerts=list(row.alerts),
                created_at=row.created_at,
            )
            for row in rows
        ]
        found["plans"] = _plans(session, org, patient.id)
    return PatientRecords(
        patient_id=patient.id,
        name=patient.name,
        mrn=patient.mrn,
        mrn_system=mrn_system,
        birth_date=patient.birth_date,
        updated_at=patient.updated_at,
        case=case.document if case is not None else None,
        case_created_at=case.created_at if case is not None else None,
        **found,
    )
