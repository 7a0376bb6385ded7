"""Demo data: an organization "Demo Spine Center" with a user of every role and a few patients
built from the bundled example cases, each with a case version, an assessment and questionnaire
responses. The demo logins are documented in docs/api.md; never use them for real data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from secondlook.examples import load_examples
from secondlook.store import accounts, flows, records
from secondlook.store.models import Organization

DEMO_ORG_SLUG = "demo"
DEMO_ORG_NAME = "Demo Spine Center"
DEMO_PASSWORD = "secondlook-demo"  # noqa: S105 - documented demo login, demo data only
DEMO_ROLES = ("clinician", "coordinator", "admin", "patient")
# Invented names; the example cases are invented too.
DEMO_NAMES = (
    "Maria Keller",
    "Jonas Berg",
    "Aiko Tanaka",
    "Samuel Okafor",
    "Lena Novak",
    "Omar Haddad",
)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    password: str


def is_empty(session: Session) -> bool:
    return session.scalar(select(Organization.id).limit(1)) is None


def demo_logins() -> list[DemoLogin]:
    return [DemoLogin(f"demo-{role}", role, DEMO_PASSWORD) for role in DEMO_ROLES]


def _birth_date(document: Mapping[str, Any]) -> dt.date | None:
    """A birth date that gives the example's age on its assessment date (the day after its
    anniversary, so the age is exact on that day)."""
    age = (document.get("patient") or {}).get("age")
    if not isinstance(age, int):
        return None
    on = dt.date.fromisoformat(str(document["assessed_on"]))
    return dt.date(on.year - age - 1, on.month, min(on.day, 28)) + dt.timedelta(days=1)


def load_demo(session: Session) -> list[DemoLogin]:
    """Create the demo organization, patients and users; commits. Does nothing (and returns no
    logins) if the demo organization exists already."""
    if records.organization_by_slug(session, slug=DEMO_ORG_SLUG) is not None:
        return []
    org = records.create_organization(session, slug=DEMO_ORG_SLUG, name=DEMO_ORG_NAME)
    clinician = accounts.create_user(
        session,
        organization_id=org.id,
        username="demo-clinician",
        role="clinician",
        password=DEMO_PASSWORD,
    )
    # The demo team's disciplines: their own worklists and conference seats work at once.
    clinician.discipline = "pain-medicine"
    first_patient: int | None = None
    examples = load_examples()
    for index, key in enumerate(sorted(examples)):
        document = examples[key]
        patient = records.create_patient(
            session,
            organization_id=org.id,
            name=DEMO_NAMES[index % len(DEMO_NAMES)],
            mrn=f"DEMO-{index + 1:03d}",
            # The last demo patient has none, so the pages show what an unrecorded one says.
            birth_date=_birth_date(document) if index < len(examples) - 1 else None,
        )
        first_patient = first_patient or patient.id
        flows.save_case(
            session,
            organization_id=org.id,
            patient_id=patient.id,
            expected_version=0,
            document=document,
            user_id=clinician.id,
        )
        flows.assess_and_store(
            session, organization_id=org.id, patient_id=patient.id, user_id=clinician.id
        )
        for instrument, answers, day in _questionnaires(document):
            flows.submit_questionnaire(
                session,
                organization_id=org.id,
                patient_id=patient.id,
                instrument=instrument,
                answers=answers,
                answered_on=day,
                user_id=clinician.id,
            )
    for role in ("coordinator", "admin"):
        member = accounts.create_user(
            session,
            organization_id=org.id,
            username=f"demo-{role}",
            role=role,
            password=DEMO_PASSWORD,
        )
        if role == "coordinator":
            member.discipline = "nursing-coordination"
    if first_patient is not None:
        accounts.create_user(
            session,
            organization_id=org.id,
            username="demo-patient",
            role="patient",
            password=DEMO_PASSWORD,
            patient_id=first_patient,
        )
    session.commit()
    return demo_logins()


def _questionnaires(document: dict[str, Any]) -> list[tuple[str, list[int | None], dt.date]]:
    """The item answers recorded in the case, or else one pain rating from its pain section."""
    found = [
        (q["instrument"], list(q["answers"]), dt.date.fromisoformat(q["date"]))
        for q in document.get("questionnaires", [])
        if isinstance(q, dict) and isinstance(q.get("answers"), list) and "date" in q
    ]
    if found:
        return found
    pain = document.get("pain", {})
    worst = max(
        (v for v in (pain.get("axial_nrs"), pain.get("limb_nrs")) if isinstance(v, int)),
        default=5,
    )
    return [("nrs-pain", [worst], dt.date.fromisoformat(document["assessed_on"]))]
