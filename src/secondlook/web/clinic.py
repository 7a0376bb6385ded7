"""The clinician workspace: patient list and search, the patient page with the current
assessment, the intake form, printable documents and the knowledge base as a book.

Every read and write of patient data goes through the services (``services.records``,
``services.care``), so pages are authorised and audited exactly like the API (PERMISSIONS in
platform/access.py). A page that shows several things under one audit event opens that event
with the `Auditor` and reads with the services' ``*_in`` helpers."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from markupsafe import Markup
from starlette.datastructures import FormData

from secondlook.care import vocabulary as care_vocabulary
from secondlook.http.deps import Auditor, SessionDep, access_of, path_id
from secondlook.http.problems import ApiProblem
from secondlook.instruments import INSTRUMENTS, safety_text
from secondlook.knowledge import book
from secondlook.locale import ENGLISH, LANGUAGES, Translator, translator
from secondlook.platform.access import Access, Principal
from secondlook.platform.errors import Refused
from secondlook.platform.ids import MAX_ID
from secondlook.reports import charts as chart_svg
from secondlook.reports import pdf
from secondlook.services import alerts, care, plans, records
from secondlook.store.models import Patient
from secondlook.web import data, intake
from secondlook.web.common import StaffUser, redirect, render, site_contacts_of

router = APIRouter(prefix="/clinic")
PAGE_SIZE = 50
PatientPath = Annotated[int, path_id("the patient's id")]


@router.get("")
def clinic_home() -> Response:
    return redirect("/clinic/patients")


@router.get("/patients")
def patient_list(
    request: Request,
    session: SessionDep,
    user: StaffUser,
    # Open alerts first by default: the patients who need attention, and the cheapest order
    # on a large organization (docs/performance.md).
    sort: Annotated[str, Query(max_length=20)] = "alerts",
    after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    before: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
) -> Response:
    """The alert inbox, then a page of patients in the chosen order (GET parameters: an order
    and a patient's id as the cursor, never a name)."""
    access = access_of(request, user)
    # The alert inbox first: the clinic's home page is where an alert must be seen.
    inbox = alerts.inbox(session, access=access)
    page = records.patient_list(
        session,
        access=access,
        sort=sort,  # type: ignore[arg-type]  # the service names an unknown order (422)
        limit=PAGE_SIZE,
        after=after,
        before=before,
    )
    return render(
        request,
        "clinic/patients.html",
        {
            "patients": page.patients,
            "page": page,
            "sorts": SORT_LABELS,
            "query": None,
            "inbox": inbox,
            "resolution_actions": alerts.RESOLUTION_ACTIONS,
        },
    )


#: The patient list's orders, as its sort links name them.
SORT_LABELS = {"alerts": "Open alerts", "name": "Name", "updated": "Record updated"}


@router.post("/patients/search")
async def patient_search(request: Request, session: SessionDep, user: StaffUser) -> Response:
    """Search by a POSTed form, so that names never appear in a URL (or an access log)."""
    form = await request.form()
    query = str(form.get("q") or "")[:100]
    page = records.search_patient_page(session, access=access_of(request, user), query=query)
    return render(
        request,
        "clinic/patients.html",
        {
            "patients": page.patients,
            "page": page,
            "sorts": None,
            "query": query,
            "limit": records.SEARCH_LIMIT,
        },
    )


def _chart_list(outcome: care.Outcomes) -> list[dict[str, Any]]:
    """One SVG chart per scored instrument, with the goal line the care service decided."""
    out = []
    for c in outcome.charts:
        svg = chart_svg.trajectory_svg(
            title=c.name,
            points=c.points,
            min_score=c.min_score,
            max_score=c.max_score,
            meaningful_points=c.meaningful_points,
            goal=c.goal_line,
            goal_label=c.goal_label,
        )
        caption = f"{c.name}: {len(c.points)} score(s); higher is worse."
        if c.meaningful_points is not None:
            caption += (
                f" Shaded: within {c.meaningful_points:g} points of the first score (not a "
                f"meaningful change)."
            )
        if c.goal_line is not None:
            caption += f" Dashed: {c.goal_label} {c.goal_line:g}."
        out.append({"title": c.name, "svg": Markup(svg), "caption": caption})  # noqa: S704
    return out


def _load(session: SessionDep, user: Principal, patient: Patient) -> dict[str, Any]:
    """What the patient's page and documents show of the record, inside their audited read."""
    seen = records.overview_in(session, organization_id=user.organization_id, patient=patient)
    document = seen.assessment.document if seen.assessment else None
    return {
        "patient": patient,
        "assessment": seen.assessment,
        "a": document,
        "assessed_on": seen.assessed_on,
        "stale": seen.stale,
        "responses": seen.responses,
        "response_alerts": data.alerts_from_responses(seen.responses),
        "references": data.references_by_id(document or {}),
    }


@router.get("/patients/new")
def new_patient_form(request: Request, user: StaffUser) -> Response:
    return _intake_page(
        request,
        user,
        patient=None,
        values={"assessed_on": dt.date.today().isoformat()},
    )


@router.get("/patients/{patient_id}")
def patient_page(
    patient_id: PatientPath, request: Request, session: SessionDep, user: StaffUser
) -> Response:
    auditor = Auditor(session, user, request)
    with auditor.patient("patient.read", patient_id) as scope:
        assert scope.patient is not None
        context = _load(session, user, scope.patient)
        outcome = care.outcomes_in(
            session, organization_id=user.organization_id, patient_id=patient_id
        )
        charts = _chart_list(outcome)
        current = records.case_version_in(
            session, organization_id=user.organization_id, patient_id=patient_id
        )
        patient_alerts = alerts.patient_alerts_in(
            session, organization_id=user.organization_id, patient_id=patient_id
        )
        conferences = plans.conferences_in(
            session, organization_id=user.organization_id, patient_id=patient_id
        )
        header = records.patient_header(scope.patient, current.document if current else None)
    alert_ids = {a for r in context["response_alerts"] for a in r.alerts}
    return render(
        request,
        "clinic/patient.html",
        {
            **context,
            # The studies of the current case as entered or imported, report text included.
            "imaging": (current.document.get("imaging") or []) if current else [],
            "header": header,
            "charts": charts,
            "outcome": outcome,
            "conferences": conferences,
            "can_assess": user.role == "clinician",
            "safety_texts": {a: safety_text(a).clinician for a in alert_ids},
            "patient_alerts": patient_alerts,
            "resolution_actions": alerts.RESOLUTION_ACTIONS,
        },
    )


@router.post("/patients/{patient_id}/assess")
def assess(
    patient_id: PatientPath, request: Request, session: SessionDep, user: StaffUser
) -> Response:
    records.assess(session, access=access_of(request, user), patient_id=patient_id)
    return redirect(f"/clinic/patients/{patient_id}")


# --- intake ------------------------------------------------------------------------------------


def _values(form: FormData) -> intake.FormValues:
    values: intake.FormValues = {}
    for path, f in intake.FIELDS.items():
        if f.kind == "multi":
            chosen = [x for x in form.getlist(path) if isinstance(x, str)]
            if chosen:
                values[path] = chosen
        else:
            value = form.get(path)
            if isinstance(value, str) and value.strip():
                values[path] = value
    return values


def _intake_page(
    request: Request,
    user: Principal,
    *,
    patient: Patient | None,
    values: intake.FormValues,
    errors: dict[str, list[str]] | None = None,
    unplaced: list[str] | None = None,
    identity_errors: dict[str, list[str]] | None = None,
    form_error: str | None = None,
    left_out: list[str] | None = None,
    expected_version: int = 0,
    name: str = "",
    mrn: str = "",
    status: int = 200,
) -> Response:
    errors = errors or {}
    identity_errors = identity_errors or {}
    labels = {f.id: _field_label(f) for f in intake.FIELDS.values()}
    labels.update({"f-name": "Name", "f-mrn": "MRN"})
    merged = {**identity_errors, **errors}
    count = sum(len(m) for m in merged.values()) + len(unplaced or []) + bool(form_error)
    return render(
        request,
        "clinic/intake.html",
        {
            "patient": patient,
            "sections": intake.SECTIONS,
            "values": values,
            "errors": merged,
            "identity_errors": identity_errors,
            "unplaced": unplaced or [],
            "form_error": form_error,
            "error_count": count,
            "labels": labels,
            "left_out": left_out or [],
            "expected_version": expected_version,
            "name": name,
            "mrn": mrn,
            "can_assess": user.role == "clinician",
            "action": f"/clinic/patients/{patient.id}/intake"
            if patient
            else "/clinic/patients/new",
        },
        status=status,
    )


def _field_label(f: intake.Field) -> str:
    for section in intake.SECTIONS:
        for legend, fields in section.groups:
            if f in fields:
                return f"{section.title}, {legend}: {f.label}"
        if f in section.fields:
            return f"{section.title}: {f.label}"
    return f.label


def _assess_if_clinician(session: SessionDep, access: Access, patient_id: int) -> None:
    if access.principal.role != "clinician":
        return
    records.assess(session, access=access, patient_id=patient_id)


@router.post("/patients/new")
async def create_patient(request: Request, session: SessionDep, user: StaffUser) -> Response:
    form = await request.form()
    values = _values(form)
    name = str(form.get("name") or "").strip()[:200]
    mrn = str(form.get("mrn") or "").strip()[:64]
    checked = intake.check(values)
    identity: dict[str, list[str]] = {}
    if not name:
        identity["f-name"] = ["Enter the patient's name."]
    access = access_of(request, user)
    patient_id = None
    if not (identity or checked.errors or checked.unplaced):
        try:
            patient_id = records.create_patient(
                session, access=access, name=name, mrn=mrn or None
            ).id
        except Refused as problem:
            if problem.status != 409:
                raise
            identity["f-mrn"] = ["Another patient has this MRN."]
    if patient_id is None:
        return _intake_page(
            request,
            user,
            patient=None,
            values=values,
            errors=checked.errors,
            unplaced=checked.unplaced,
            identity_errors=identity,
            name=name,
            mrn=mrn,
            status=422,
        )
    records.save_case(
        session, access=access, patient_id=patient_id, expected=0, document=checked.document
    )
    _assess_if_clinician(session, access, patient_id)
    return redirect(f"/clinic/patients/{patient_id}")


@router.get("/patients/{patient_id}/intake")
def edit_case_form(
    patient_id: PatientPath, request: Request, session: SessionDep, user: StaffUser
) -> Response:
    patient, version = records.case_for_editing(
        session, access=access_of(request, user), patient_id=patient_id
    )
    left_out: list[str] = []
    if version is None:
        values: intake.FormValues = {"assessed_on": dt.date.today().isoformat()}
    else:
        values = intake.form_values(version.document, left_out=left_out)
    return _intake_page(
        request,
        user,
        patient=patient,
        values=values,
        left_out=left_out,
        expected_version=version.number if version else 0,
    )


@router.post("/patients/{patient_id}/intake")
async def save_case(
    patient_id: PatientPath, request: Request, session: SessionDep, user: StaffUser
) -> Response:
    form = await request.form()
    values = _values(form)
    try:
        expected = int(str(form.get("expected_version") or "0"))
    except ValueError:
        expected = -1
    access = access_of(request, user)
    checked = intake.check(values)
    patient, _ = records.case_for_editing(session, access=access, patient_id=patient_id)
    if checked.errors or checked.unplaced:
        return _intake_page(
            request,
            user,
            patient=patient,
            values=values,
            errors=checked.errors,
            unplaced=checked.unplaced,
            expected_version=expected,
            status=422,
        )
    try:
        records.save_case(
            session,
            access=access,
            patient_id=patient_id,
            expected=expected,
            document=checked.document,
        )
    except Refused as problem:
        if problem.status != 412:
            raise
        current = int((problem.extra or {}).get("current_version", 0))
        return _intake_page(
            request,
            user,
            patient=patient,
            values=values,
            form_error=(
                f"Someone else saved this case while you were editing (it is now version "
                f"{current}). Your entries are kept below: compare them with the current "
                f"case, then save again to replace it."
            ),
            expected_version=current,
            status=409,
        )
    _assess_if_clinician(session, access, patient_id)
    return redirect(f"/clinic/patients/{patient_id}")


# --- printable documents -----------------------------------------------------------------------


def _pdf_response(content: bytes, filename: str) -> Response:
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def pdf_charts(outcome: care.Outcomes, words: Translator = ENGLISH) -> list[pdf.Chart]:
    """The charts of the PDFs: the same charts, goal lines included, as the patient page. In
    another language (the patient's handout) the words drawn on a chart, its title and the
    goal line's label, are in that language."""
    if words.language == ENGLISH.language:
        return [pdf.Chart(c["title"], str(c["svg"]), c["caption"]) for c in _chart_list(outcome)]
    labels = {
        "plan goal": words.gettext("plan goal"),
        "meaningful improvement": words.gettext("meaningful improvement"),
    }
    out = []
    for c in outcome.charts:
        title = words.gettext(c.name)
        svg = chart_svg.trajectory_svg(
            title=title,
            points=c.points,
            min_score=c.min_score,
            max_score=c.max_score,
            meaningful_points=c.meaningful_points,
            goal=c.goal_line,
            goal_label=labels.get(c.goal_label, c.goal_label),
        )
        out.append(pdf.Chart(title, svg))
    return out


def pdf_plan(outcome: care.Outcomes) -> pdf.PlanSummary | None:
    plan = outcome.plan
    if plan is None or outcome.primary_instrument is None:
        return None
    instrument = INSTRUMENTS.get(outcome.primary_instrument)
    return pdf.PlanSummary(
        start_on=plan.start_on,
        primary_instrument=instrument.name if instrument else outcome.primary_instrument,
        responder_6m=outcome.responder_6m or "not-measurable",
        responder_12m=outcome.responder_12m or "not-measurable",
        goals=[(g.goal.text, g.status) for g in outcome.goals],
    )


def pdf_decisions(record: care.PlanRecord | None) -> pdf.PlanDecisions | None:
    """The team's decisions as the summary prints them, in the care vocabulary's words."""
    if record is None:
        return None

    def lines(found: list[care.DecisionLine]) -> list[tuple[str, str, str]]:
        return [
            (d.name, care_vocabulary.label("recommendation", d.recommendation), d.reason or "")
            for d in found
        ]

    conference = record.conference
    return pdf.PlanDecisions(
        decided_on=record.plan.decided_on,
        decided_by=record.plan.decided_by,
        accepted=lines(record.accepted),
        rejected=lines(record.rejected),
        tasks=[
            (
                t.name,
                t.who or care_vocabulary.label("owner", t.owner),
                t.due.isoformat(),
                care_vocabulary.label("task-status", t.status),
            )
            for t in record.tasks
        ],
        conference_on=conference.held_on if conference else None,
        conference=[
            (title, d["text"], [f"{x['attendee']}: {x['text']}" for x in d.get("dissent") or []])
            for title, d in record.conference_decisions
        ],
        taper=[(step.start_on, step.mme_per_day) for step in record.taper.steps]
        if record.taper
        else [],
        taper_citation=record.taper.citation if record.taper else "",
    )


def handout_items(
    document: dict[str, Any], decided: care.DecidedItems | None, words: Translator = ENGLISH
) -> tuple[list[pdf.HandoutItem], list[pdf.HandoutItem]]:
    """The handout's treatments and tests: the team's plan where there is one (what it
    accepted and still stands), else the assessment's suggestions, in ``words``' language."""
    plain = (
        data.decided_in_plain_language(decided, words)
        if decided is not None
        else data.plan_in_plain_language(document, words)
    )
    treatments = [pdf.HandoutItem(i.name, i.text, i.note) for i in plain["treatments"]]
    tests = [pdf.HandoutItem(i.name, i.text, i.note) for i in plain["tests"]]
    return treatments, tests


def _document_context(
    patient_id: int,
    request: Request,
    session: SessionDep,
    user: Principal,
    words: Translator = ENGLISH,
) -> tuple[dict[str, Any], care.Outcomes]:
    """What a printable document shows (the patient, assessment, scores and plan outcome), read
    under one audited `assessment.read` of the patient; 404 without an assessment. The
    patient's warnings are in ``words``' language."""
    auditor = Auditor(session, user, request)
    with auditor.patient("assessment.read", patient_id) as scope:
        assert scope.patient is not None
        context = _load(session, user, scope.patient)
        if context["a"] is None:
            raise ApiProblem(404, "this patient has no assessment yet")
        outcome = care.outcomes_in(
            session, organization_id=user.organization_id, patient_id=patient_id
        )
        context["decided"] = care.decided_items_in(
            session, organization_id=user.organization_id, patient_id=patient_id
        )
        context["record"] = care.plan_record_in(
            session, organization_id=user.organization_id, patient_id=patient_id
        )
        context["warnings"] = records.patient_warnings_of(
            document=context["a"],
            responses=context["responses"],
            contacts=site_contacts_of(request),
            translate=words.gettext,
        )
    return context, outcome


@router.get("/patients/{patient_id}/summary.pdf")
def summary_pdf(
    patient_id: PatientPath, request: Request, session: SessionDep, user: StaffUser
) -> Response:
    context, outcome = _document_context(patient_id, request, session, user)
    patient = context["patient"]
    extra = [
        f"Questionnaire {r.instrument} of {r.answered_on}: "
        + " ".join(safety_text(a).clinician for a in r.alerts)
        for r in context["response_alerts"]
    ]
    content = pdf.care_plan_summary_pdf(
        patient_label=f"{patient.name} (MRN {patient.mrn or '-'})",
        assessment=context["a"],
        assessed_on=context["assessed_on"],
        charts=pdf_charts(outcome),
        extra_alerts=extra,
        plan=pdf_plan(outcome),
        decisions=pdf_decisions(context["record"]),
    )
    return _pdf_response(content, f"care-plan-summary-{patient_id}.pdf")


@router.get("/patients/{patient_id}/handout.pdf")
def handout_pdf(
    patient_id: PatientPath,
    request: Request,
    session: SessionDep,
    user: StaffUser,
    lang: Annotated[str, Query(max_length=10)] = "en",
) -> Response:
    """The patient's handout, in English or (``?lang=es``) in another language of
    ``secondlook.locale.LANGUAGES``, for a patient who reads it better."""
    if lang not in LANGUAGES:
        raise ApiProblem(422, f"unknown language {lang!r}: use one of {', '.join(LANGUAGES)}")
    words = translator(lang)
    context, outcome = _document_context(patient_id, request, session, user, words)
    treatments, tests = handout_items(context["a"], context["decided"], words)
    content = pdf.patient_handout_pdf(
        words=words,
        patient_label=context["patient"].name,
        treatments=treatments,
        tests=tests,
        charts=pdf_charts(outcome, words),
        plan=pdf_plan(outcome),
        warnings=context["warnings"],
        from_plan=context["decided"] is not None,
    )
    return _pdf_response(content, f"patient-handout-{patient_id}.pdf")


# --- knowledge base ----------------------------------------------------------------------------


@router.get("/book")
def book_index(request: Request, user: StaffUser) -> Response:
    kb = data.knowledge()
    return render(
        request, "clinic/book.html", {"version": kb.version, "chapters": book.chapters(kb)}
    )


@router.get("/book/{kind}/{record_id}")
def book_record(kind: str, record_id: str, request: Request, user: StaffUser) -> Response:
    entry = book.book_entry(data.knowledge(), kind, record_id)
    if entry is None:
        raise ApiProblem(404, "no such record in the knowledge base")
    return render(request, "clinic/book_record.html", {"entry": entry})
