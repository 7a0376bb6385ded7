"""The clinician workspace, server side: patient page, intake form, knowledge base."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

import factories
from secondlook.examples import load_example, load_examples
from secondlook.store.models import Assessment, CaseVersion, Patient
from secondlook.web import intake

CAUDA = {
    "assessed_on": "2026-07-03",
    "region": "lumbar",
    "patient.age": "55",
    "surgeries.0.date": "2026-06-28",
    "surgeries.0.procedure": "microdiscectomy",
    "neuro.motor_deficit": "progressive",
    "neuro.saddle_anesthesia": "yes",
    "neuro.urinary_retention": "yes",
    "neuro.bilateral_limb_symptoms": "yes",
}


def _patient_id(engine: Engine, mrn: str) -> int:
    with engine.connect() as connection:
        found = connection.execute(select(Patient.id).where(Patient.mrn == mrn)).scalar_one()
    return int(found)


def test_patient_list_links_by_opaque_id(
    clinician: tuple[TestClient, str], clinic: factories.Clinic
) -> None:
    client, _ = clinician
    html = client.get("/clinic/patients").text
    assert clinic.patient.name in html
    assert f'href="/clinic/patients/{clinic.patient.id}"' in html


def test_patient_page_puts_red_flags_first_in_an_alert(
    clinician: tuple[TestClient, str], clinic: factories.Clinic
) -> None:
    client, _ = clinician
    html = client.get(f"/clinic/patients/{clinic.patient.id}").text  # the cauda-equina example
    main = html.split('<main id="main" tabindex="-1">', 1)[1]
    assert main.lstrip().startswith('<section class="banner" role="alert"')
    banner = main.split("</section>", 1)[0]
    assert "Cauda equina syndrome" in banner and "EMERGENCY" in banner
    assert main.index("Cauda equina syndrome") < main.index("<h1>")


def test_patient_page_shows_the_whole_assessment(
    clinician: tuple[TestClient, str], clinic: factories.Clinic, web_engine: Engine
) -> None:
    client, _ = clinician
    with factories.committed(web_engine) as session:
        scs = factories.patient(
            session, organization_id=clinic.id, example="scs-candidate", assessed=True
        )
        factories.case_questionnaires(session, organization_id=clinic.id, patient_id=scs.id)
    html = client.get(f"/clinic/patients/{scs.id}").text
    for heading in ("Classification", "Differential", "Work-up", "Treatment options"):
        assert f">{heading}</h2>" in html
    assert "Spinal cord stimulation" in html
    assert "<details" in html and "<summary>Sources (" in html
    assert "Supporting</h3>" in html
    assert "<summary>Evidence (" in html
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg"') >= 1  # outcome charts
    assert 'role="alert"' not in html  # no red flag, no alert


def test_new_patient_through_the_intake_form(
    clinician: tuple[TestClient, str], web_engine: Engine
) -> None:
    client, token = clinician
    mrn = factories.unique("WEB")
    response = client.post(
        "/clinic/patients/new",
        data={**CAUDA, "name": "Form Person", "mrn": mrn, "csrf_token": token},
    )
    assert response.status_code == 303
    location = response.headers["location"]
    assert re.fullmatch(r"/clinic/patients/\d+", location)
    patient_id = _patient_id(web_engine, mrn)
    assert location.endswith(f"/{patient_id}")
    page = client.get(location).text
    assert 'role="alert"' in page and "Cauda equina syndrome" in page
    with web_engine.connect() as connection:
        stored = connection.execute(
            select(CaseVersion.document).where(CaseVersion.patient_id == patient_id)
        ).scalar_one()
        assessments = connection.execute(
            select(Assessment.id).where(Assessment.patient_id == patient_id)
        ).all()
    assert stored["neuro"]["saddle_anesthesia"] is True
    assert len(assessments) == 1


def test_invalid_intake_shows_each_problem_at_its_field(
    clinician: tuple[TestClient, str],
) -> None:
    client, token = clinician
    response = client.post(
        "/clinic/patients/new",
        data={
            **CAUDA,
            "patient.age": "fifty",
            "surgeries.0.date": "2026-02-30",
            "name": "",
            "csrf_token": token,
        },
    )
    assert response.status_code == 422
    html = response.text
    assert 'id="error-summary"' in html and 'role="alert"' in html
    for field_id in ("f-patient-age", "f-surgeries-0-date", "f-name"):
        assert f'href="#{field_id}"' in html
        assert f'id="{field_id}-error"' in html
        tag = re.search(rf'<(?:input|select)[^>]*id="{field_id}"[^>]*>', html)
        assert tag and 'aria-invalid="true"' in tag.group(0), field_id
    # what was typed is kept
    assert 'value="fifty"' in html
    assert re.search(r'<option value="yes" selected>yes</option>', html)


def test_every_field_has_a_label(clinician: tuple[TestClient, str]) -> None:
    client, _ = clinician
    html = client.get("/clinic/patients/new").text
    ids = re.findall(r'<(?:input|select|textarea)[^>]*\sid="([^"]+)"', html)
    assert len(ids) > 150
    for field_id in ids:
        assert f'for="{field_id}"' in html, field_id
    assert "<fieldset" in html and "<legend>Neurological red-flag screen</legend>" in html


def test_edit_keeps_the_case_and_detects_a_concurrent_edit(
    clinician: tuple[TestClient, str], web_engine: Engine, clinic: factories.Clinic
) -> None:
    client, token = clinician
    with factories.committed(web_engine) as session:
        patient_id = factories.patient(
            session, organization_id=clinic.id, example="recurrent-disc", assessed=True
        ).id
    form = client.get(f"/clinic/patients/{patient_id}/intake").text
    expected = re.search(r'name="expected_version" value="(\d+)"', form)
    assert expected
    values = intake.form_values(load_examples()["recurrent-disc"])
    data: dict[str, str | list[str]] = {**values, "csrf_token": token}
    data["expected_version"] = expected.group(1)
    data["pain.axial_nrs"] = "2"
    saved = client.post(f"/clinic/patients/{patient_id}/intake", data=data)
    assert saved.status_code == 303
    stale = client.post(f"/clinic/patients/{patient_id}/intake", data=data)  # same version again
    assert stale.status_code == 409
    assert "Someone else saved this case" in stale.text
    with web_engine.connect() as connection:
        versions = connection.execute(
            select(CaseVersion.number, CaseVersion.document)
            .where(CaseVersion.patient_id == patient_id)
            .order_by(CaseVersion.number)
        ).all()
    assert len(versions) == 2
    assert versions[-1].document["pain"]["axial_nrs"] == 2


def test_coordinator_saves_a_case_but_does_not_assess(
    browser: TestClient,
    sign_in: Callable[..., str],
    web_engine: Engine,
    clinic: factories.Clinic,
) -> None:
    token = sign_in(browser, clinic.coordinator.username)
    form = browser.get("/clinic/patients/new").text
    assert "and assess" not in form
    mrn = factories.unique("WEB")
    response = browser.post(
        "/clinic/patients/new",
        data={**CAUDA, "name": "Coordinated", "mrn": mrn, "csrf_token": token},
    )
    assert response.status_code == 303
    patient_id = _patient_id(web_engine, mrn)
    page = browser.get(f"/clinic/patients/{patient_id}").text
    assert "No assessment yet" in page
    assert "Assess the case" not in page and "Assess again" not in page
    assert (
        browser.post(
            f"/clinic/patients/{patient_id}/assess", data={"csrf_token": token}
        ).status_code
        == 403
    )


def test_duplicate_mrn_is_shown_at_the_mrn_field(
    clinician: tuple[TestClient, str], clinic: factories.Clinic
) -> None:
    client, token = clinician
    response = client.post(
        "/clinic/patients/new",
        data={**CAUDA, "name": "Twin", "mrn": clinic.patient.mrn, "csrf_token": token},
    )
    assert response.status_code == 422
    assert 'id="f-mrn-error"' in response.text


def test_knowledge_base_book(clinician: tuple[TestClient, str]) -> None:
    client, _ = clinician
    index = client.get("/clinic/book").text
    for chapter in ("Red flags", "Safety alerts", "Causes (the differential)", "Treatments"):
        assert chapter in index
    page = client.get("/clinic/book/etiology/pseudarthrosis")
    assert page.status_code == 200
    assert "For patients" in page.text and "Supporting findings" in page.text
    assert "References" in page.text
    assert client.get("/clinic/book/etiology/no-such-thing").status_code == 404
    assert client.get("/clinic/book/nonsense/pseudarthrosis").status_code == 404


def test_care_plan_pdfs(clinician: tuple[TestClient, str], clinic: factories.Clinic) -> None:
    client, _ = clinician
    for name in ("summary.pdf", "handout.pdf"):
        response = client.get(f"/clinic/patients/{clinic.patient.id}/{name}")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["content-disposition"].startswith("attachment;")
        for word in clinic.patient.name.split():
            assert word not in response.headers["content-disposition"]
        assert response.content.startswith(b"%PDF-")


def test_a_record_you_may_not_see_is_a_page_not_json(
    clinician: tuple[TestClient, str], web_engine: Engine
) -> None:
    client, _ = clinician
    with factories.committed(web_engine) as session:  # a patient of another organization
        elsewhere = factories.patient(
            session, organization_id=factories.organization(session).id, example=None
        ).id
    response = client.get(f"/clinic/patients/{elsewhere}")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Not Found" in response.text
    api = client.get(f"/api/v1/patients/{elsewhere}")
    assert api.status_code == 404
    assert api.headers["content-type"] == "application/problem+json"


def test_the_banner_says_when_its_red_flags_come_from_an_assessment_older_than_the_case(
    clinician: tuple[TestClient, str], web_engine: Engine, clinic: factories.Clinic
) -> None:
    client, _ = clinician
    page = client.get(f"/clinic/patients/{clinic.patient.id}").text
    banner = page.split('class="banner"', 1)[1].split("</section>", 1)[0]
    assert "Cauda equina" in banner and "From an older assessment" not in banner
    with factories.committed(web_engine) as session:
        factories.case_version(session, organization_id=clinic.id, patient_id=clinic.patient.id)
    page = client.get(f"/clinic/patients/{clinic.patient.id}").text
    banner = page.split('class="banner"', 1)[1].split("</section>", 1)[0]
    assert "Cauda equina" in banner  # still shown: an old red flag is not a resolved one
    assert "From an older assessment" in banner and "Assess again" in banner


def test_the_patient_page_shows_the_cases_imaging_with_its_report_and_uncoded_findings(
    clinician: tuple[TestClient, str], web_engine: Engine, clinic: factories.Clinic
) -> None:
    client, _ = clinician
    document = load_example("recurrent-disc")
    document["imaging"] = [
        {
            "date": "2026-01-05",
            "modality": "mri-gadolinium",
            "findings": [{"finding": "foraminal-stenosis", "level": "L4-L5", "side": "left"}],
        },
        {
            "date": "2026-01-20",
            "modality": "ct",
            "findings": [],
            "findings_coded": False,
            "report": "IMPRESSION: solid posterolateral fusion L4-L5.\nNo hardware failure.",
        },
    ]
    with factories.committed(web_engine) as session:
        factories.case_version(
            session, organization_id=clinic.id, patient_id=clinic.patient.id, document=document
        )
    page = client.get(f"/clinic/patients/{clinic.patient.id}").text
    section = page.split('id="h-imaging"', 1)[1].split("</section>", 1)[0]
    assert (
        '<strong>MRI with gadolinium</strong>, <time class="date" datetime="2026-01-05"' in section
    )
    assert "foraminal stenosis at L4-L5 (left)" in section
    ct = section.split("<strong>CT</strong>", 1)[1]
    assert "findings not coded" in ct and "no findings" not in ct
    assert "IMPRESSION: solid posterolateral fusion L4-L5." in ct
    # newest first
    assert section.index("<strong>CT</strong>") < section.index("MRI with gadolinium")
