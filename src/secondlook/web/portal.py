"""The patient portal: questionnaires that are due (one question per screen), my plan and the
education pages in plain language, and the printable handout.

A safety alert is acted on at once: when an answer raises one (PHQ-9 item 9 above 0), the
answers so far are stored right away, which raises the alert for the care team, and the next
screen shows the site's patient safety text before anything else.

Every page is in the patient's language (``secondlook.locale``): their own choice on the
Language page, else their browser's, else English. A questionnaire is shown in that language
only when its whole text has a translation that may ship (CLINICAL.md section 6); otherwise it
is shown in English, said so on the page, never half translated."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from secondlook.care.warnings import patient_warnings
from secondlook.http.deps import Auditor, SessionDep, access_of
from secondlook.http.problems import ApiProblem
from secondlook.instruments import INSTRUMENTS
from secondlook.instruments.model import AnswerText, Instrument, ItemEntry, ItemText
from secondlook.knowledge import default_knowledge
from secondlook.locale import LANGUAGES, Translator
from secondlook.platform import clock
from secondlook.platform.access import Principal
from secondlook.platform.errors import Refused
from secondlook.platform.preconditions import IfMatchVersion
from secondlook.reports import pdf
from secondlook.services import accounts, care, notifications, records
from secondlook.store.models import QuestionnaireResponse
from secondlook.web import clinic, data
from secondlook.web.common import (
    PatientUser,
    redirect,
    render,
    site_contacts_of,
    translator_of,
)

router = APIRouter(prefix="/portal")


def _patient_id(user: Principal) -> int:
    if user.patient_id is None:  # a patient account always links to its record
        raise ApiProblem(404, "this account is not linked to a patient record")
    return user.patient_id


def _instrument(key: str) -> tuple[Instrument, ItemText]:
    instrument = INSTRUMENTS.get(key)
    if key not in data.PORTAL_INSTRUMENTS or instrument is None or instrument.item_text is None:
        raise ApiProblem(404, "no such questionnaire")
    return instrument, instrument.item_text


def _own(
    request: Request, session: SessionDep, user: Principal, *, with_plan: bool = False
) -> dict[str, Any]:
    """The patient's latest assessment document and questionnaire responses (audited read);
    `with_plan` adds the stored care plan's tasks in plain words and its outcome (None
    without a plan)."""
    patient_id = _patient_id(user)
    org = user.organization_id
    words = translator_of(request)
    auditor = Auditor(session, user, request)
    with auditor.patient("patient.read", patient_id) as scope:
        assert scope.patient is not None
        name = scope.patient.name
        assessment = records.latest_assessment_in(
            session, organization_id=org, patient_id=patient_id
        )
        rows = records.questionnaires_in(session, organization_id=org, patient_id=patient_id)
        due = care.portal_due_in(session, organization_id=org, patient_id=patient_id)
        warnings = records.patient_warnings_of(
            document=assessment.document if assessment else None,
            responses=rows,
            contacts=site_contacts_of(request),
            translate=words.gettext,
        )
        tasks = outcome = decided = None
        if with_plan:
            decided = care.decided_items_in(session, organization_id=org, patient_id=patient_id)
            tasks = data.plan_tasks_in_plain_language(
                session, organization_id=org, patient_id=patient_id, words=words
            )
            outcome = care.outcomes_in(session, organization_id=org, patient_id=patient_id)
    return {
        "patient_name": name,
        "a": assessment.document if assessment else None,
        "responses": rows,
        "warnings": warnings,
        "due": due,
        "decided": decided,
        "tasks": tasks,
        "outcome": outcome,
    }


@router.get("")
def home(request: Request, session: SessionDep, user: PatientUser) -> Response:
    own = _own(request, session, user)
    words = translator_of(request)
    due = []
    for key in own["due"]:
        shown, text_lang = _item_words(words, *_instrument(key))
        due.append((key, shown.title, text_lang))
    return render(
        request,
        "portal/home.html",
        {
            "due": due,
            "has_plan": own["a"] is not None,
            "warnings": own["warnings"],
            "patient_name": own["patient_name"],
        },
    )


def _reminders_page(
    request: Request,
    choice: notifications.Reminders,
    *,
    email: str | None = None,
    errors: list[str] | None = None,
    saved: bool = False,
    status: int = 200,
) -> Response:
    return render(
        request,
        "portal/reminders.html",
        {
            "choice": choice,
            "email": choice.email if email is None else email,
            "errors": errors or [],
            "saved": saved,
        },
        status=status,
    )


@router.get("/reminders")
def reminders(request: Request, session: SessionDep, user: PatientUser) -> Response:
    choice = notifications.reminders(session, access=access_of(request, user))
    return _reminders_page(request, choice, saved=request.query_params.get("saved") == "1")


@router.post("/reminders")
async def choose_reminders(request: Request, session: SessionDep, user: PatientUser) -> Response:
    form = await request.form()
    raw_email, raw_choice, raw_version = form.get("email"), form.get("enabled"), form.get("version")
    email = raw_email[:320] if isinstance(raw_email, str) else ""
    version = raw_version if isinstance(raw_version, str) and raw_version.isdigit() else None
    access = access_of(request, user)
    try:
        notifications.set_reminders(
            session,
            access=access,
            enabled=raw_choice == "on",
            email=email,
            if_match=IfMatchVersion(f'"{version}"' if version else None),
        )
    except Refused as exc:
        if exc.status not in (412, 422, 428):
            raise
        current = notifications.reminders(session, access=access)
        words = translator_of(request)
        message = (
            words.gettext(
                "Your choice was changed in another window. Here is what is saved now; "
                "choose again."
            )
            if exc.status in (412, 428)
            # The two refusals of set_reminders, in the patient's words.
            else words.gettext("Reminders need an email address to be sent to.")
            if raw_choice == "on" and not email.strip()
            else words.gettext("That is not an email address (name@example.org).")
        )
        return _reminders_page(request, current, email=email, errors=[message], status=exc.status)
    return redirect("/portal/reminders?saved=1")


def _parse_answers(raw: object, instrument: Instrument) -> list[int] | None:
    """The answers carried from screen to screen, or None if they are not valid."""
    text = raw if isinstance(raw, str) else ""
    if not text:
        return []
    try:
        values = [int(x) for x in text.split(",")]
    except ValueError:
        return None
    if len(values) > instrument.item_count:
        return None
    for i, value in enumerate(values):
        if not instrument.item_min[i] <= value <= instrument.item_max[i]:
            return None
    return values


def _item_words(words: Translator, instrument: Instrument, text: ItemText) -> tuple[ItemText, str]:
    """The questionnaire's text in the patient's language and that language, or the English
    text and ``en`` when any part of it has no translation: the words of a validated
    instrument are its official translation or the original, never a mix. The catalog holds
    each instrument's text under its id as context (``pgettext("phq-9", ...)``)."""
    context = instrument.id
    parts = [text.title, *([text.preamble] if text.preamble else [])]
    for item in text.items:
        parts += [item.text, *(a.label for a in item.answers)]
    if words.language == "en" or not all(words.has(p, context) for p in parts):
        return text, "en"

    def tr(message: str) -> str:
        return words.pgettext(context, message)

    return (
        ItemText(
            instrument=text.instrument,
            title=tr(text.title),
            preamble=tr(text.preamble) if text.preamble else None,
            items=tuple(
                ItemEntry(
                    text=tr(item.text),
                    answers=tuple(AnswerText(a.value, tr(a.label)) for a in item.answers),
                )
                for item in text.items
            ),
            copyright=text.copyright,
            source=text.source,
        ),
        words.language,
    )


def _item_page(
    request: Request,
    instrument: Instrument,
    text: ItemText,
    answers: list[int],
    *,
    error: bool = False,
    chosen: int | None = None,
) -> Response:
    number = len(answers) + 1
    words = translator_of(request)
    shown, text_lang = _item_words(words, instrument, text)
    item = shown.items[number - 1]
    return render(
        request,
        "portal/item.html",
        {
            "instrument": instrument.id,
            "title": shown.title,
            "preamble": shown.preamble,
            "text_lang": text_lang,
            "number": number,
            "total": instrument.item_count,
            "text": item.text,
            "options": item.answers,
            "answers": ",".join(str(a) for a in answers),
            "error": words.gettext("Please choose an answer.") if error else None,
            "chosen": chosen,
        },
        status=422 if error else 200,
    )


@router.get("/questionnaires/{key}")
def start_questionnaire(key: str, request: Request, user: PatientUser) -> Response:
    instrument, text = _instrument(key)
    return _item_page(request, instrument, text, [])


def _store(
    request: Request, session: SessionDep, user: Principal, key: str, answers: list[int | None]
) -> QuestionnaireResponse:
    patient_id = _patient_id(user)
    return records.submit_questionnaire(
        session,
        access=access_of(request, user),
        patient_id=patient_id,
        instrument=key,
        answers=answers,
        answered_on=clock.today(),
    )


@router.post("/questionnaires/{key}")
async def answer_item(
    key: str, request: Request, session: SessionDep, user: PatientUser
) -> Response:
    instrument, text = _instrument(key)
    form = await request.form()
    answers = _parse_answers(form.get("answers"), instrument)
    if answers is None or len(answers) >= instrument.item_count:
        return redirect(f"/portal/questionnaires/{key}")
    if form.get("back") is not None:
        # Back to the question before, with its answer chosen: nothing is stored by going
        # back, and an alert an earlier answer raised was stored when it was raised.
        if not answers:
            return redirect("/portal")
        return _item_page(request, instrument, text, answers[:-1], chosen=answers[-1])
    index = len(answers)
    raw = form.get("answer")
    try:
        value = int(raw) if isinstance(raw, str) else None
    except ValueError:
        value = None
    if value is None or not instrument.item_min[index] <= value <= instrument.item_max[index]:
        return _item_page(request, instrument, text, answers, error=True)
    answers = [*answers, value]
    complete = len(answers) == instrument.item_count
    padded: list[int | None] = [*answers, *([None] * (instrument.item_count - len(answers)))]
    raised = instrument.alert_rule(tuple(padded)) if instrument.alert_rule else ()
    if complete:
        stored = _store(request, session, user, key, padded)
        if stored.alerts:
            return _safety_page(request, key, stored.alerts, answers, remaining=False)
        title = _item_words(translator_of(request), instrument, text)[0].title
        return render(request, "portal/done.html", {"title": title})
    if raised:
        # Store what was answered now: the alert reaches the team even if the patient stops here.
        stored = _store(request, session, user, key, padded)
        return _safety_page(request, key, stored.alerts or list(raised), answers, remaining=True)
    return _item_page(request, instrument, text, answers)


@router.post("/questionnaires/{key}/continue")
async def continue_questionnaire(key: str, request: Request, user: PatientUser) -> Response:
    instrument, text = _instrument(key)
    form = await request.form()
    answers = _parse_answers(form.get("answers"), instrument)
    if answers is None or len(answers) >= instrument.item_count:
        return redirect("/portal")
    return _item_page(request, instrument, text, answers)


def _safety_page(
    request: Request, key: str, alerts: list[str], answers: list[int], *, remaining: bool
) -> Response:
    # Every alert the answers raised, with the site's crisis lines after a self-harm answer; an
    # alert without a patient text still gets generic words (care.warnings never drops one).
    warnings = patient_warnings(
        red_flags=[],
        alert_ids=alerts,
        knowledge=default_knowledge(),
        contacts=site_contacts_of(request),
        translate=translator_of(request).gettext,
    )
    return render(
        request,
        "portal/safety.html",
        {
            "warnings": warnings,
            "instrument": key,
            "answers": ",".join(str(a) for a in answers),
            "remaining": remaining,
        },
    )


@router.get("/plan")
def my_plan(request: Request, session: SessionDep, user: PatientUser) -> Response:
    own = _own(request, session, user, with_plan=True)
    words = translator_of(request)
    plan = data.plan_in_plain_language(own["a"], words) if own["a"] else None
    tasks = own["tasks"]
    return render(
        request,
        "portal/plan.html",
        {
            "plan": plan,
            "care_tasks": [t for t in tasks or [] if not t.questionnaire],
            "questionnaires": [t for t in tasks or [] if t.questionnaire],
            "has_stored_plan": tasks is not None,
            "warnings": own["warnings"],
            "patient_name": own["patient_name"],
        },
    )


@router.get("/learn")
def learn(request: Request, session: SessionDep, user: PatientUser) -> Response:
    own = _own(request, session, user)
    words = translator_of(request)
    plan = data.plan_in_plain_language(own["a"] or {}, words)
    return render(
        request,
        "portal/learn.html",
        {
            "causes": plan["causes"],
            "all_causes": data.all_patient_texts("etiology", words),
            "tests": plan["tests"],
            "treatments": plan["treatments"],
            "warnings": own["warnings"],
            "patient_name": own["patient_name"],
        },
    )


@router.get("/handout.pdf")
def handout(request: Request, session: SessionDep, user: PatientUser) -> Response:
    own = _own(request, session, user, with_plan=True)
    if own["a"] is None:
        raise ApiProblem(404, "your care team has not made a plan yet")
    words = translator_of(request)
    treatments, tests = clinic.handout_items(own["a"], own["decided"], words)
    outcome = own["outcome"]
    content = pdf.patient_handout_pdf(
        words=words,
        patient_label=own["patient_name"],
        treatments=treatments,
        tests=tests,
        charts=clinic.pdf_charts(outcome, words),
        plan=clinic.pdf_plan(outcome),
        warnings=own["warnings"],
        from_plan=own["decided"] is not None,
    )
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="my-care-plan.pdf"'},
    )


# -- the patient's language ---------------------------------------------------------------------


def _language_page(
    request: Request,
    choice: accounts.LanguageChoice,
    *,
    errors: list[str] | None = None,
    saved: bool = False,
    status: int = 200,
) -> Response:
    return render(
        request,
        "portal/language.html",
        {
            "languages": LANGUAGES,
            "version": choice.version,
            "errors": errors or [],
            "saved": saved,
        },
        status=status,
    )


@router.get("/language")
def language(request: Request, session: SessionDep, user: PatientUser) -> Response:
    choice = accounts.language_choice(session, access=access_of(request, user))
    return _language_page(request, choice, saved=request.query_params.get("saved") == "1")


@router.post("/language")
async def choose_language(request: Request, session: SessionDep, user: PatientUser) -> Response:
    form = await request.form()
    raw_language, raw_version = form.get("language"), form.get("version")
    chosen = raw_language[:10] if isinstance(raw_language, str) else ""
    version = raw_version if isinstance(raw_version, str) and raw_version.isdigit() else None
    access = access_of(request, user)
    try:
        accounts.set_language(
            session,
            access=access,
            language=chosen,
            if_match=IfMatchVersion(f'"{version}"' if version else None),
        )
    except Refused as exc:
        if exc.status not in (412, 422, 428):
            raise
        words = translator_of(request)
        message = (
            words.gettext(
                "Your account was changed in another window. Here is what is saved now; "
                "choose again."
            )
            if exc.status in (412, 428)
            else words.gettext("Please choose one of the languages below.")
        )
        current = accounts.language_choice(session, access=access)
        return _language_page(request, current, errors=[message], status=exc.status)
    return redirect("/portal/language?saved=1")
