"""The patient page as a clinician reads it (header, one primary action, the banner graded by
severity) and the patient list that scales (orders, visible paging with an opaque cursor, the
open-alerts column, the birth date and age)."""

from __future__ import annotations

import copy
import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

import factories
from secondlook.examples import load_example
from secondlook.instruments import INSTRUMENTS
from secondlook.instruments.registry import SHORT_NAMES
from secondlook.services.records import patient_header
from secondlook.store import audit
from secondlook.store.models import AuditEvent, Patient
from secondlook.web import clinic as clinic_pages


def _main(html: str) -> str:
    return html.split('<main id="main" tabindex="-1">', 1)[1]


# -- the header -----------------------------------------------------------------------------------


def test_the_header_reads_the_patient_and_the_case() -> None:
    document = copy.deepcopy(load_example("recurrent-disc"))
    document["surgeries"].append(
        {"date": "2019-01-01", "date_precision": "year", "procedure": "laminectomy"}
    )
    record = Patient(id=1, name="Ana", birth_date=dt.date(1970, 6, 30))
    header = patient_header(record, document, today=dt.date(2026, 6, 29))
    assert (header.age, header.age_source) == (55, "birth-date")  # the day before the birthday
    assert header.sex == document["patient"]["sex"] and header.region == "lumbar"
    # newest first, in words
    assert [s.procedure for s in header.surgeries] == ["microdiscectomy", "laminectomy"]
    assert header.surgeries[0].levels == ["L5-S1"] and header.surgeries[0].side == "right"
    assert header.surgeries[1].date_precision == "year"
    # 2025-01-14 to 2026-06-29: 531 days, in the classification's months (365.25 / 12 days)
    assert header.months_since_last_surgery == 17.4 and not header.months_approximate


def test_unknown_is_unknown_in_the_header() -> None:
    record = Patient(id=1, name="Ana", birth_date=None)
    empty = patient_header(record, None, today=dt.date(2026, 6, 29))
    assert (empty.age, empty.age_source, empty.sex, empty.region) == (None, None, None, None)
    assert empty.surgeries == [] and empty.months_since_last_surgery is None
    # without a birth date, the case's age, dated by its evaluation; "unknown" sex is not a sex
    document = copy.deepcopy(load_example("recurrent-disc"))
    document["patient"]["sex"] = "unknown"
    from_case = patient_header(record, document, today=dt.date(2026, 6, 29))
    assert from_case.age == document["patient"]["age"] and from_case.age_source == "case"
    assert from_case.age_on == dt.date.fromisoformat(document["assessed_on"])
    assert from_case.sex is None


def test_every_instrument_has_a_short_name() -> None:
    assert set(SHORT_NAMES) == set(INSTRUMENTS)


def test_the_patient_page_opens_with_the_header_and_one_primary_action(
    clinician: tuple[TestClient, str], web_engine: Engine, clinic: factories.Clinic
) -> None:
    client, _ = clinician
    with factories.committed(web_engine) as session:
        pid = factories.patient(
            session, organization_id=clinic.id, example="thoracic-sacroiliac", assessed=True
        ).id
        session.execute(
            update(Patient).where(Patient.id == pid).values(birth_date=dt.date(1960, 1, 2))
        )
    html = client.get(f"/clinic/patients/{pid}").text
    header = html.split('<div class="patient-header">', 1)[1].split('<div class="action-bar">')[0]
    today = dt.date.today()
    age = today.year - 1960 - ((today.month, today.day) < (1, 2))
    assert f"<dd>{age} years" in header and 'datetime="1960-01-02"' in header
    assert "<dd>Male</dd>" in header and "Thoracic spine" in header
    assert re.search(r"<dd>\d+(\.\d)? months</dd>", header)
    assert 'datetime="2025-02-03"' in header and "at T11-T12" in header
    # the latest score, by the instrument's short name with its full name on hover
    assert '<abbr title="Patient Health Questionnaire-9 (depression)">PHQ-9</abbr>' in header
    # versions are out of the way; no raw instrument code in the header
    assert "case version" not in header.lower() and "phq-9" not in header
    bar = html.split('<div class="action-bar">', 1)[1].split("</div>", 1)[0]
    assert bar.count('class="button primary"') + bar.count('class="primary"') == 1
    assert f'class="button primary" href="/clinic/patients/{pid}/plan"' in bar


def test_without_a_case_the_primary_action_is_to_enter_one(
    clinician: tuple[TestClient, str], web_engine: Engine, clinic: factories.Clinic
) -> None:
    client, _ = clinician
    with factories.committed(web_engine) as session:
        pid = factories.patient(session, organization_id=clinic.id, example=None).id
    html = client.get(f"/clinic/patients/{pid}").text
    bar = html.split('<div class="action-bar">', 1)[1].split("</div>", 1)[0]
    assert f'<a class="button primary" href="/clinic/patients/{pid}/intake">Enter case</a>' in bar
    assert "age not recorded" in html and "no surgery recorded" in html


def test_the_banner_puts_emergencies_first_then_urgent_then_safety(
    clinician: tuple[TestClient, str], web_engine: Engine, clinic: factories.Clinic
) -> None:
    client, _ = clinician
    document = copy.deepcopy(load_example("cauda-equina"))
    # the same case with a safety alert too (overdose risk: 60 MME/day with a benzodiazepine)
    document.setdefault("medications", {}).update(
        {"opioid_mme_per_day": 60, "benzodiazepine": True}
    )
    with factories.committed(web_engine) as session:
        pid = factories.patient(
            session, organization_id=clinic.id, document=document, example=None, assessed=True
        ).id
    main = _main(client.get(f"/clinic/patients/{pid}").text)
    assert main.lstrip().startswith('<section class="banner" role="alert"')
    banner = main.split("</section>", 1)[0]
    emergency = banner.index('class="banner-group grade-emergency"')
    safety = banner.index('class="banner-group grade-safety"')
    assert emergency < safety
    if "grade-urgent" in banner:
        assert emergency < banner.index('class="banner-group grade-urgent"') < safety
    # each grade says itself in a word, not by colour alone
    assert "EMERGENCY · red flag" in banner and "SAFETY · alert" in banner
    assert "Cauda equina syndrome" in banner.split("grade-safety", 1)[0]
    assert "Opioid overdose risk" in banner.split("grade-safety", 1)[1]


# -- the patient list -----------------------------------------------------------------------------


@pytest.fixture
def listed(web_engine: Engine, clinic: factories.Clinic) -> dict[str, int]:
    """Three more patients of the clinic: one with an emergency (cauda equina), one with urgent
    and safety alerts, one without a case; names chosen for the name order."""
    with factories.committed(web_engine) as session:
        ids = {
            "zoe": factories.patient(
                session, organization_id=clinic.id, name="Zoë Adams", assessed=True
            ).id,
            "emile": factories.patient(
                session,
                organization_id=clinic.id,
                name="Émile Brun",
                example="thoracic-sacroiliac",
                assessed=True,
            ).id,
            "aaron": factories.patient(
                session, organization_id=clinic.id, name="Aaron Zed", example=None
            ).id,
        }
        session.execute(
            update(Patient).where(Patient.id == ids["aaron"]).values(birth_date=dt.date(1950, 3, 4))
        )
    ids["clinic"] = clinic.patient.id
    return ids


def _order(html: str) -> list[int]:
    body = html.split('<table class="list patients">', 1)[1].split("</table>", 1)[0]
    return [int(i) for i in re.findall(r'<td><a href="/clinic/patients/(\d+)">', body)]


def test_the_list_orders_by_name_ignoring_accents_and_case(
    clinician: tuple[TestClient, str], clinic: factories.Clinic, listed: dict[str, int]
) -> None:
    client, _ = clinician
    html = client.get("/clinic/patients?sort=name").text
    order = _order(html)
    assert order.index(listed["aaron"]) < order.index(listed["emile"]) < order.index(listed["zoe"])
    assert '<strong aria-current="true">Name</strong>' in html


def test_the_list_orders_by_open_alerts_most_urgent_first(
    clinician: tuple[TestClient, str], listed: dict[str, int]
) -> None:
    client, _ = clinician
    html = client.get("/clinic/patients?sort=alerts").text
    order = _order(html)
    # the list's default order
    default = client.get("/clinic/patients").text
    assert (
        _order(default) == order and '<strong aria-current="true">Open alerts</strong>' in default
    )
    emergencies = {listed["zoe"], listed["clinic"]}
    assert set(order[:2]) == emergencies
    assert order[2] == listed["emile"] and order[-1] == listed["aaron"]
    body = html.split('<table class="list patients">', 1)[1]
    zoe = body.split(f'href="/clinic/patients/{listed["zoe"]}"', 1)[1].split("</tr>", 1)[0]
    assert '<span class="severity severity-emergency">Emergency</span>' in zoe and " open" in zoe
    emile = body.split(f'href="/clinic/patients/{listed["emile"]}"', 1)[1].split("</tr>", 1)[0]
    assert '<span class="severity severity-urgent">Urgent</span>' in emile
    aaron = body.split(f'href="/clinic/patients/{listed["aaron"]}"', 1)[1].split("</tr>", 1)[0]
    assert "none" in aaron and 'datetime="1950-03-04"' in aaron and "years)" in aaron


def test_the_list_orders_by_the_latest_change(
    clinician: tuple[TestClient, str], web_engine: Engine, listed: dict[str, int]
) -> None:
    client, _ = clinician
    with factories.committed(web_engine) as session:
        session.execute(
            update(Patient)
            .where(Patient.id == listed["aaron"])
            .values(updated_at=dt.datetime(2099, 1, 1, tzinfo=dt.UTC))
        )
    assert _order(client.get("/clinic/patients?sort=updated").text)[0] == listed["aaron"]


@pytest.mark.parametrize("size", [1, 2, 3])
def test_the_list_pages_forwards_and_back_with_an_opaque_cursor(
    clinician: tuple[TestClient, str],
    web_engine: Engine,
    listed: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
    size: int,
) -> None:
    client, _ = clinician
    monkeypatch.setattr(clinic_pages, "PAGE_SIZE", size)
    for sort in ("name", "alerts", "updated"):
        everyone = []
        html = client.get(f"/clinic/patients?sort={sort}").text
        assert 'rel="prev"' not in html
        pages = 0
        while True:
            everyone += _order(html)
            pages += 1
            found = re.search(r'rel="next" href="([^"]+)"', html)
            if not found:
                break
            link = found.group(1).replace("&amp;", "&")
            # the cursor is a patient's id, never a name or a date
            assert re.fullmatch(rf"/clinic/patients\?sort={sort}&after=\d+", link), link
            html = client.get(link).text
        # every patient once, on as many pages as it takes (4 patients)
        assert pages == -(-4 // size) and sorted(everyone) == sorted(listed.values()), sort
        # back from the last page: the page before it, in the same order
        last = len(_order(html))
        back = re.search(r'rel="prev" href="([^"]+)"', html)
        assert back is not None
        link = back.group(1).replace("&amp;", "&")
        assert re.fullmatch(rf"/clinic/patients\?sort={sort}&before=\d+", link), link
        before = client.get(link).text
        assert _order(before) == everyone[-last - size : -last], sort
        assert 'rel="next"' in before
        assert ('rel="prev"' in before) == (pages > 2), sort


@pytest.mark.parametrize(
    ("query", "says"),
    [("sort=age", "unknown order"), ("after=999999999", "is not a patient of this list")],
)
def test_a_bad_order_or_cursor_is_a_clear_422_page(
    clinician: tuple[TestClient, str], query: str, says: str
) -> None:
    client, _ = clinician
    answer = client.get(f"/clinic/patients?{query}")
    assert answer.status_code == 422 and answer.headers["content-type"].startswith("text/html")
    assert says in answer.text


def test_the_list_is_audited_as_the_patients_it_shows(
    clinician: tuple[TestClient, str],
    web_engine: Engine,
    clinic: factories.Clinic,
    listed: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, _ = clinician
    monkeypatch.setattr(clinic_pages, "PAGE_SIZE", 2)
    shown = _order(client.get("/clinic/patients?sort=alerts").text)
    with Session(web_engine) as session:
        event = session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.action == "patient.list",
                AuditEvent.actor_user_id == clinic.clinician.user_id,
            )
            .order_by(AuditEvent.id.desc())
        ).first()
        assert event is not None and event.outcome == "success"
        assert audit.disclosures(session, event_ids=[event.id]) == {event.id: sorted(shown)}


def test_the_search_shows_the_same_columns(
    clinician: tuple[TestClient, str], listed: dict[str, int]
) -> None:
    client, token = clinician
    html = client.post("/clinic/patients/search", data={"q": "emile", "csrf_token": token}).text
    assert _order(html) == [listed["emile"]]
    assert '<span class="severity severity-urgent">Urgent</span>' in html
