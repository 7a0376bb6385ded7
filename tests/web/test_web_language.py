"""The patient's language: every message of the portal and the handout has a Spanish
translation, the safety texts are never missing in any language, the patient chooses the
language (stored on the account, else the browser's, else English), and the pages and the
handout PDF are in it."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator

import pytest
from babel.messages.catalog import Catalog
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import Engine, select

import factories
from secondlook.care.warnings import PatientWarning, SiteContacts, patient_warnings
from secondlook.instruments import INSTRUMENTS
from secondlook.instruments.safety import DEFAULT_SAFETY_TEXTS
from secondlook.knowledge import default_knowledge
from secondlook.locale import (
    ENGLISH,
    LANGUAGES,
    from_catalogs,
    negotiate,
    placeholders,
    read_catalog,
    translator,
)
from secondlook.locale.extract import ENGLISH_ONLY, knowledge_template, messages_template
from secondlook.services.care import Chart, Outcomes
from secondlook.store.models import User
from secondlook.web import clinic

SPANISH = "es"
TEMPLATES = {"messages": messages_template, "knowledge": knowledge_template}


def _pdf_text(content: bytes) -> str:
    pages = PdfReader(io.BytesIO(content)).pages
    return " ".join(" ".join(p.extract_text() for p in pages).split())


# -- the catalogs --------------------------------------------------------------------------------


@pytest.mark.parametrize("domain", list(TEMPLATES))
def test_every_message_of_the_sources_has_a_spanish_translation(domain: str) -> None:
    """What babel extracts from the templates and the code (and the knowledge base's patient
    texts) against the Spanish catalog: no message untranslated, fuzzy or with other
    placeholders. After a change, scripts/update-catalogs adds what is to be translated."""
    template = TEMPLATES[domain]()
    catalog = read_catalog(SPANISH, domain)
    assert catalog is not None
    problems = []
    for message in template:
        if not message.id:
            continue
        found = catalog.get(message.id, context=message.context)
        where = f"{message.context or ''} {message.id!r}"
        if found is None or not found.string or not str(found.string).strip():
            problems.append(f"untranslated: {where}")
        elif found.fuzzy:
            problems.append(f"fuzzy (to be checked): {where}")
        elif placeholders(str(found.string)) != placeholders(str(message.id)):
            problems.append(f"placeholders differ: {where}")
    assert not problems, "\n".join(problems)
    assert len(template) > (100 if domain == "messages" else 50)


def test_the_portal_templates_are_in_the_extraction() -> None:
    """The test above can fail: the templates' words are in what it checks."""
    ids = {m.id for m in messages_template()}
    for text in ("Questionnaires to fill in", "Question %(number)s of %(total)s", "Your care plan"):
        assert text in ids


def test_only_questionnaires_whose_text_may_ship_are_translated() -> None:
    """CLINICAL.md section 6: item text ships for NRS, PHQ-9 and GAD-7 only; the catalog holds
    item text for no other instrument, and none for those kept in English."""
    catalog = read_catalog(SPANISH, "messages")
    assert catalog is not None
    contexts = {m.context for m in catalog if m.context in INSTRUMENTS}
    shipped = {k for k, i in INSTRUMENTS.items() if i.item_text is not None}
    assert contexts <= shipped - set(ENGLISH_ONLY)
    assert "phq-9" in contexts and "gad-7" not in contexts


# -- safety texts --------------------------------------------------------------------------------


def _every_warning(contacts: SiteContacts, language: str) -> list[PatientWarning]:
    kb = default_knowledge()
    return patient_warnings(
        red_flags=[{"id": f.id, "urgency": f.urgency} for f in kb.red_flags]
        + [{"id": "not-a-known-flag", "urgency": "urgent"}],
        alert_ids=[*DEFAULT_SAFETY_TEXTS, "not-a-known-alert"],
        knowledge=kb,
        contacts=contacts,
        translate=translator(language).gettext,
    )


@pytest.mark.parametrize("language", list(LANGUAGES))
@pytest.mark.parametrize(
    "contacts",
    [
        SiteContacts(),
        SiteContacts(
            emergency="911",
            crisis_lines=("988 Lifeline: call or text 988",),
            care_team="Spine nurse line 555-0100",
        ),
    ],
    ids=["without site numbers", "with site numbers"],
)
def test_every_safety_message_renders_non_empty_in_every_language(
    language: str, contacts: SiteContacts
) -> None:
    warnings = _every_warning(contacts, language)
    english = _every_warning(contacts, "en")
    assert [w.sources for w in warnings] == [w.sources for w in english]  # none dropped
    assert {w.level for w in warnings} == {"emergency", "urgent", "safety"}
    for warning in warnings:
        assert warning.title.strip() and warning.do.strip(), warning
        assert all(why.strip() for why in warning.why), warning
        assert all(c.strip() for c in warning.contacts), warning
        assert "{" not in warning.do and "%(" not in warning.do, warning
        if contacts.emergency and warning.level != "safety":
            assert "911" in warning.do
    for warning, original in zip(warnings, english, strict=True):
        if language != "en":  # translated, not the English left in place
            assert warning.title != original.title and warning.do != original.do, warning
    self_harm = next(w for w in warnings if w.sources == ("self-harm-risk",))
    assert set(contacts.crisis_lines) <= set(self_harm.contacts)


def test_the_spanish_emergency_instruction() -> None:
    (first, *_) = _every_warning(SiteContacts(emergency="911"), SPANISH)
    assert first.level == "emergency"
    assert first.title == "Vaya ahora a una sala de emergencias"
    assert "llame al número de emergencias (911)" in first.do


def test_a_missing_translation_falls_back_to_english_never_to_blank() -> None:
    catalog = Catalog(locale=SPANISH)
    catalog.add("Go to an emergency department now", "")  # empty
    catalog.add("Contact your care team today", "Comuníquese hoy", flags=["fuzzy"])  # unchecked
    catalog.add("Important", "   ")  # blank
    catalog.add(  # the placeholder lost: the page would fail to format it
        "Please contact your care team soon about your answers. If you are in danger now, "
        "call {emergency}.",
        "Llame al número de emergencias.",
    )
    catalog.add("Please read this now", "Por favor, lea esto ahora")
    words = from_catalogs(SPANISH, [catalog])
    warnings = patient_warnings(
        red_flags=[
            {"id": "cauda-equina", "urgency": "emergency"},
            {"id": "infection", "urgency": "urgent"},
        ],
        alert_ids=["self-harm-risk", "not-a-known-alert"],
        knowledge=default_knowledge(),
        contacts=SiteContacts(emergency="911"),
        translate=words.gettext,
    )
    titles = [w.title for w in warnings]
    assert titles == [
        "Go to an emergency department now",
        "Contact your care team today",
        "Por favor, lea esto ahora",
        "Important",
    ]
    assert warnings[-1].do.endswith("call the emergency number (911).")
    assert words.gettext("A message no catalog has") == "A message no catalog has"
    assert not words.has("Go to an emergency department now")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("es-US,es;q=0.9,en;q=0.8", "es"),
        ("en-US,en;q=0.9,es;q=0.8", "en"),
        ("fr-FR,fr;q=0.9,es;q=0.5", "es"),
        ("de-DE", "en"),
        ("es;q=0,en", "en"),
        ("en;q=0.2, es_MX;q=0.7", "es"),
        ("es;q=abc,en;q=0.5", "en"),
        (";;,,q=,", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_the_browser_language_is_read_and_a_bad_header_is_never_refused(
    header: str | None, expected: str
) -> None:
    assert negotiate(header) == expected


def test_english_is_the_source_and_needs_no_catalog() -> None:
    assert ENGLISH.gettext("Home") == "Home" and translator("xx").language == "en"
    assert translator("xx").gettext("Home") == "Home"


# -- the portal in Spanish ------------------------------------------------------------------------


@pytest.fixture
def site_numbers(web_app: FastAPI) -> Iterator[SiteContacts]:
    contacts = SiteContacts(
        emergency="911",
        crisis_lines=("988 Suicide and Crisis Lifeline: call or text 988",),
        care_team="Spine center nurses 555-0100",
    )
    before = web_app.state.site_contacts
    web_app.state.site_contacts = contacts
    yield contacts
    web_app.state.site_contacts = before


@pytest.fixture
def spanish(patient: tuple[TestClient, str]) -> tuple[TestClient, str]:
    client, token = patient
    client.headers["accept-language"] = "es-US,es;q=0.9,en;q=0.5"
    return client, token


def test_the_portal_follows_the_browsers_language(
    spanish: tuple[TestClient, str], clinic: factories.Clinic, site_numbers: SiteContacts
) -> None:
    client, _ = spanish
    home = client.get("/portal")
    html = home.text
    assert '<html lang="es">' in html and home.headers["content-language"] == "es"
    first = clinic.patient.name.split()[0]
    assert f"<h1>Hola, {first}</h1>" in html
    assert "Cuestionarios para llenar" in html and "Cerrar sesión" in html
    # the cauda-equina example: the emergency instruction first, in Spanish, with the number
    assert html.index("Vaya ahora a una sala de emergencias") < html.index(
        "Cuestionarios para llenar"
    )
    assert "llame al número de emergencias (911)" in html
    assert "Questionnaires to fill in" not in html and "Go to an emergency" not in html
    assert '<span lang="en">Generalized Anxiety Disorder scale (GAD-7)</span> (en inglés)' in html
    for path, words in (
        ("/portal/plan", "Mi plan"),
        ("/portal/learn", "El dolor después de una cirugía de columna"),
        ("/portal/reminders", "Recordatorios"),
        ("/portal/language", "Idioma"),
    ):
        page = client.get(path).text
        assert f"<h1>{words}" in page, path
        if path != "/portal/language":
            assert "Vaya ahora a una sala de emergencias" in page or path == "/portal/reminders"


def test_learn_shows_the_knowledge_bases_patient_texts_in_spanish(
    spanish: tuple[TestClient, str],
) -> None:
    client, _ = spanish
    html = client.get("/portal/learn").text
    kb = default_knowledge()
    words = translator(SPANISH)
    fibrosis = next(e for e in kb.etiologies if e.id == "epidural-fibrosis")
    assert words.gettext(fibrosis.patient) != fibrosis.patient
    assert words.gettext(fibrosis.patient) in html and fibrosis.patient not in html
    assert "Todas las causas que considera su equipo de atención" in html


def test_phq9_is_shown_in_its_official_spanish_and_gad7_in_english_saying_so(
    spanish: tuple[TestClient, str],
) -> None:
    client, token = spanish
    phq9 = client.get("/portal/questionnaires/phq-9").text
    assert "Pregunta 1 de 9" in phq9
    assert "Poco interés o placer en hacer cosas" in phq9 and "Ningún día" in phq9
    assert "Little interest" not in phq9 and "not available in your language" not in phq9
    gad7 = client.get("/portal/questionnaires/gad-7").text
    assert "Pregunta 1 de 7" in gad7
    text = INSTRUMENTS["gad-7"].item_text
    assert text is not None and text.items[0].text in gad7
    assert '<fieldset lang="en">' in gad7 and "se muestra en inglés" in gad7
    missing = client.post(
        "/portal/questionnaires/phq-9", data={"csrf_token": token, "answers": "0", "item": "2"}
    )
    assert missing.status_code == 422 and "Por favor, elija una respuesta." in missing.text


def test_the_crisis_message_after_item_9_is_in_spanish_with_the_sites_numbers(
    spanish: tuple[TestClient, str], site_numbers: SiteContacts
) -> None:
    client, token = spanish
    response = client.post(
        "/portal/questionnaires/phq-9",
        data={"csrf_token": token, "answers": ",".join(["0"] * 8), "item": "9", "answer": "1"},
    )
    assert response.status_code == 200
    html = response.text
    words = translator(SPANISH)
    patient_text = DEFAULT_SAFETY_TEXTS["self-harm-risk"].patient
    assert words.gettext(patient_text) in html and patient_text not in html
    assert "988 Suicide and Crisis Lifeline: call or text 988" in html
    assert "Su equipo de atención: Spine center nurses 555-0100." in html
    assert html.index("Por favor, lea esto ahora") < html.index(
        "Su respuesta se envió a su equipo de atención."
    )


def test_the_patient_chooses_the_language_and_it_is_kept_on_the_account(
    patient: tuple[TestClient, str], clinic: factories.Clinic, web_engine: Engine
) -> None:
    client, token = patient
    client.headers["accept-language"] = "en-US"
    page = client.get("/portal/language").text
    assert '<a href="/portal/language" lang="es" hreflang="es">Español</a>' in page
    version = page.split('name="version" value="', 1)[1].split('"', 1)[0]
    without = client.post("/portal/language", data={"csrf_token": token, "language": "es"})
    assert without.status_code == 428
    unknown = client.post(
        "/portal/language", data={"csrf_token": token, "language": "xx", "version": version}
    )
    assert (
        unknown.status_code == 422 and "Please choose one of the languages below." in unknown.text
    )
    chosen = client.post(
        "/portal/language",
        data={"csrf_token": token, "language": "es", "version": version},
        follow_redirects=False,
    )
    assert chosen.status_code == 303
    with web_engine.connect() as connection:
        stored = connection.execute(
            select(User.language).where(User.id == clinic.patient_user.user_id)
        ).scalar_one()
    assert stored == "es"
    # the account's choice wins over the browser's English
    saved = client.get("/portal/language?saved=1").text
    assert '<html lang="es">' in saved and "Guardado." in saved
    assert "Cuestionarios para llenar" in client.get("/portal").text
    stale = client.post(
        "/portal/language", data={"csrf_token": token, "language": "en", "version": version}
    )
    assert stale.status_code == 412 and "Su cuenta se cambió en otra ventana" in stale.text


def test_the_handout_pdf_is_in_spanish(
    spanish: tuple[TestClient, str], site_numbers: SiteContacts
) -> None:
    client, _ = spanish
    response = client.get("/portal/handout.pdf")
    assert response.status_code == 200
    text = _pdf_text(response.content)
    assert text.index("Vaya ahora a una sala de emergencias") < text.index(
        "Tratamientos de los que su equipo podría hablar con usted"
    )
    assert "llame al número de emergencias (911)" in text
    assert "Su plan de atención" in text and "Cuándo buscar ayuda de inmediato" in text
    assert "impreso el" in text and " de 20" in text  # "2 de diciembre de 2026"
    assert "Go to an emergency department" not in text and "Your care plan" not in text
    assert "página 1 de" in text and "page 1 of" not in text


def test_the_handouts_charts_are_drawn_in_the_patients_language() -> None:
    points = [(dt.date(2026, 1, 5), 40.0), (dt.date(2026, 7, 5), 22.0)]
    outcome = Outcomes(
        patient_id=1,
        plan=None,
        trajectories={},
        charts=[
            Chart("odi", INSTRUMENTS["odi"].name, points, 0, 100, 10, 30, "plan goal"),
            Chart(
                "phq-9", INSTRUMENTS["phq-9"].name, points, 0, 27, 5, 35, "meaningful improvement"
            ),
        ],
    )
    spanish_charts = clinic.pdf_charts(outcome, translator(SPANISH))
    english_charts = clinic.pdf_charts(outcome)
    assert [c.title for c in spanish_charts] == [
        "Índice de Discapacidad de Oswestry v2.1a",
        "Cuestionario sobre la Salud del Paciente PHQ-9 (depresión)",
    ]
    assert "meta del plan 30" in spanish_charts[0].svg and "plan goal" not in spanish_charts[0].svg
    assert "mejoría real" in spanish_charts[1].svg
    assert "plan goal 30" in english_charts[0].svg


def test_staff_pages_stay_in_english_and_the_team_can_print_a_spanish_handout(
    clinician: tuple[TestClient, str], clinic: factories.Clinic
) -> None:
    client, _ = clinician
    client.headers["accept-language"] = "es"
    patients = client.get("/clinic/patients")
    assert '<html lang="en">' in patients.text and "Sign out" in patients.text
    base = f"/clinic/patients/{clinic.patient.id}/handout.pdf"
    assert "Your care plan" in _pdf_text(client.get(base).content)
    assert "Su plan de atención" in _pdf_text(client.get(f"{base}?lang=es").content)
    refused = client.get(f"{base}?lang=xx")
    assert refused.status_code == 422 and "unknown language" in refused.text


def test_my_plans_tasks_are_in_spanish_with_spanish_months(
    spanish: tuple[TestClient, str], web_engine: Engine, clinic: factories.Clinic
) -> None:
    client, _ = spanish
    with factories.committed(web_engine) as session:
        factories.plan(session, organization_id=clinic.id, patient_id=clinic.patient.id)
    html = client.get("/portal/plan").text
    assert "Lo que está planeado para usted" in html and "Sus cuestionarios" in html
    assert "Quién: " in html and "Cuándo: " in html and "Estado:" in html
    assert "su cirujano de columna" in html and "your spine surgeon" not in html
    assert "Cuestionario: Cuestionario sobre la Salud del Paciente PHQ-9 (depresión)" in html
    months = [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ]
    assert any(f"{m} de 20" in html for m in months)
    assert "What is planned for you" not in html and "Status:" not in html
