"""A questionnaire the patient answered on paper, entered by a clinician or coordinator: the
instrument, the day it was answered, and each item's answer (or the total alone, when only the
total was kept). It is stored by `services.records.submit_questionnaire`, the one way every
questionnaire is recorded (portal, API, paper), so it feeds outcomes, charts, goals and the
due lists once, and raises the same safety alerts.

Only the wording SecondLook may ship is shown: the full item text of NRS, PHQ-9 and GAD-7, and
SecondLook's own short item labels for the licensed instruments (CLINICAL.md §6)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from secondlook.http.deps import SessionDep, access_of
from secondlook.instruments import INSTRUMENTS, Instrument
from secondlook.platform import clock
from secondlook.platform.errors import Refused
from secondlook.services import records
from secondlook.web.clinic import PatientPath
from secondlook.web.common import StaffUser, redirect, render

router = APIRouter(prefix="/clinic")


def _items(instrument: Instrument) -> list[dict[str, Any]]:
    """Each item as the form asks it: its words (shipped text, else SecondLook's label) and
    the range of its answer."""
    shipped = instrument.item_text.items if instrument.item_text is not None else ()
    out = []
    for i in range(instrument.item_count):
        label = instrument.item_labels[i] if i < len(instrument.item_labels) else ""
        text = shipped[i].text if i < len(shipped) else label
        out.append(
            {
                "number": i + 1,
                "text": text or f"Item {i + 1}",
                "min": instrument.item_min[i],
                "max": instrument.item_max[i],
            }
        )
    return out


def _page(
    request: Request,
    patient: Any,
    instrument: Instrument | None,
    *,
    values: dict[str, str] | None = None,
    errors: list[str] | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "clinic/paper_questionnaire.html",
        {
            "patient": patient,
            "instruments": [(key, i.name) for key, i in INSTRUMENTS.items()],
            "instrument": instrument,
            "items": _items(instrument) if instrument else [],
            "values": values or {"answered_on": clock.today().isoformat()},
            "errors": errors or [],
        },
        status=status,
    )


@router.get("/patients/{patient_id}/questionnaires/paper")
def paper_form(
    patient_id: PatientPath,
    request: Request,
    session: SessionDep,
    user: StaffUser,
    instrument: str = "",
) -> Response:
    """Choose the instrument (a GET form: an instrument name is not patient data), then enter
    the answers."""
    patient = records.read_patient(session, access=access_of(request, user), patient_id=patient_id)
    return _page(request, patient, INSTRUMENTS.get(instrument))


def _answers(
    form: FormData, instrument: Instrument
) -> tuple[list[int | None], float | None, list[str]]:
    """The item answers (blank = skipped), or the total, and what in them is not a number."""
    problems: list[str] = []
    answers: list[int | None] = []
    for i in range(instrument.item_count):
        raw = form.get(f"item-{i}")
        text = raw.strip() if isinstance(raw, str) else ""
        if not text:
            answers.append(None)
            continue
        try:
            answers.append(int(text))
        except ValueError:
            answers.append(None)
            problems.append(f"item {i + 1}: {text[:20]!r} is not a whole number")
    total_raw = form.get("total")
    total_text = total_raw.strip() if isinstance(total_raw, str) else ""
    total = None
    if total_text:
        try:
            total = float(total_text)
        except ValueError:
            problems.append(f"total: {total_text[:20]!r} is not a number")
    if all(a is None for a in answers):
        answers = []
    if not answers and total is None and not problems:
        problems.append("enter the answer to each item, or the total when only that was kept")
    return answers, total, problems


@router.post("/patients/{patient_id}/questionnaires/paper")
async def paper_save(
    patient_id: PatientPath, request: Request, session: SessionDep, user: StaffUser
) -> Response:
    form = await request.form()
    values = {k: v.strip()[:200] for k, v in form.items() if isinstance(v, str)}
    access = access_of(request, user)
    patient = records.read_patient(session, access=access, patient_id=patient_id)
    instrument = INSTRUMENTS.get(values.get("instrument", ""))
    if instrument is None:
        return _page(
            request, patient, None, values=values, errors=["instrument: choose one"], status=422
        )
    answers, total, errors = _answers(form, instrument)
    try:
        answered_on = dt.date.fromisoformat(values.get("answered_on", ""))
    except ValueError:
        errors.append("answered_on: enter the day the patient filled in the form")
        answered_on = None
    if not errors:
        assert answered_on is not None
        try:
            records.submit_questionnaire(
                session,
                access=access,
                patient_id=patient_id,
                instrument=instrument.id,
                answers=answers,
                total=total,
                answered_on=answered_on,
                on_paper=True,
            )
        except Refused as exc:
            if exc.status != 422:
                raise
            errors = [e.message for e in exc.errors or []] or [exc.detail or "not accepted"]
    if errors:
        return _page(request, patient, instrument, values=values, errors=errors, status=422)
    return redirect(f"/clinic/patients/{patient_id}#h-outcomes")
