"""Test data made through the store's own functions, in a session the caller gives.

Instead of the demo's fixed ids and names, each test makes what it needs: an organization,
users of every role (with a known password, an API token and a signed-in browser session), a
patient with a case version from the bundled examples, an assessment, questionnaire responses,
a case conference and a care plan with its tasks. Names, usernames and MRNs carry a random
suffix, so tests that share a database never see each other's records and never depend on an
id or on the order they run in.

Every function takes keyword-only arguments with sensible defaults, flushes (so ids are
known) and leaves committing to the caller, or use `committed(engine)`:

    with factories.committed(engine) as session:
        clinic = factories.clinic(session)
    client.cookies.set(SESSION_COOKIE, clinic.clinician.session)
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from secondlook.care import Attendee, ConferenceDecision, Decision, Goal
from secondlook.care.plan import PlanItem
from secondlook.examples import load_example
from secondlook.http.deps import SESSION_COOKIE
from secondlook.store import accounts, care_records, db, flows, records
from secondlook.store.care_models import CareConference, CarePlan, CareTask
from secondlook.store.models import Assessment, CaseVersion, Organization, Patient
from secondlook.store.models import QuestionnaireResponse as Response
from secondlook.web.common import CSRF_COOKIE, session_form_token

PASSWORD = "factory-password-1"  # test accounts only
STAFF_ROLES = ("clinician", "coordinator", "admin")


def unique(prefix: str) -> str:
    """`prefix` with a random suffix: unique across tests sharing a database."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@contextmanager
def committed(engine: Engine) -> Iterator[Session]:
    """A session on `engine` whose work is committed when the block ends without an error."""
    with db.make_sessionmaker(engine)() as session:
        yield session
        session.commit()


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


# --- organizations and people ------------------------------------------------------------------


def organization(
    session: Session, *, slug: str | None = None, name: str = "Test Spine Center"
) -> Organization:
    return records.create_organization(session, slug=slug or unique("org"), name=name)


@dataclass(frozen=True)
class Person:
    """A user as tests use one: who it is and the secrets it signs in with."""

    user_id: int
    username: str
    role: str
    organization_id: int
    patient_id: int | None
    password: str | None
    token: str  # an API token (Authorization: Bearer ...)
    session: str  # a signed-in browser session (the `secondlook_session` cookie)

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@functools.cache
def _password_hash(password: str) -> str:
    # Argon2id is slow by design (about 0.1 s); one hash per password keeps hundreds of
    # test users cheap. Sign-in still verifies it with the store's own code.
    return accounts.hash_password(password)


def user(
    session: Session,
    *,
    organization_id: int,
    role: str = "clinician",
    patient_id: int | None = None,
    username: str | None = None,
    password: str | None = PASSWORD,
) -> Person:
    """A user of `role` with an API token and a browser session. A patient user without a
    `patient_id` gets a new, empty patient record of its own. `password=None`: no password."""
    if role == "patient" and patient_id is None:
        patient_id = patient(session, organization_id=organization_id, example=None).id
    account = accounts.create_user(
        session,
        organization_id=organization_id,
        username=username or unique(role),
        role=role,
        patient_id=patient_id,
    )
    if password is not None:
        account.password_hash = _password_hash(password)
        session.flush()
    _, token = accounts.issue_credential(session, user=account, kind="token", name="tests")
    _, browser = accounts.issue_credential(
        session, user=account, kind="session", lifetime=accounts.SESSION_TTL
    )
    return Person(
        user_id=account.id,
        username=account.username,
        role=role,
        organization_id=organization_id,
        patient_id=patient_id,
        password=password,
        token=token,
        session=browser,
    )


def signed_in(client: TestClient, person: Person) -> str:
    """Make `client` a browser signed in as `person`: its session cookie and a CSRF cookie, as
    the sign-in form leaves them (other cookies are dropped). Returns the form token the pages
    give a signed-in browser (bound to its session); the signed-out token stays in the CSRF
    cookie. The sign-in form itself has its own tests; this keeps the others quick."""
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, person.session)
    client.cookies.set(CSRF_COOKIE, secrets.token_urlsafe(32))
    return session_form_token(person.session)


# --- patients and their records ----------------------------------------------------------------


def patient(
    session: Session,
    *,
    organization_id: int,
    name: str | None = None,
    mrn: str | None = None,
    example: str | None = "cauda-equina",
    document: dict[str, Any] | None = None,
    assessed: bool = False,
    user_id: int | None = None,
) -> Patient:
    """A patient (a unique name and MRN) whose first case version is the bundled `example`
    (or `document`); `example=None` and no document: no case. `assessed`: with an
    assessment of that case."""
    record = records.create_patient(
        session,
        organization_id=organization_id,
        name=name or f"Pat {uuid.uuid4().hex[:8].upper()}",
        mrn=mrn or unique("MRN"),
    )
    if document is not None or example is not None:
        case_version(
            session,
            organization_id=organization_id,
            patient_id=record.id,
            example=example,
            document=document,
            user_id=user_id,
        )
        if assessed:
            assessment(
                session, organization_id=organization_id, patient_id=record.id, user_id=user_id
            )
    return record


def case_version(
    session: Session,
    *,
    organization_id: int,
    patient_id: int,
    example: str | None = "cauda-equina",
    document: dict[str, Any] | None = None,
    user_id: int | None = None,
) -> CaseVersion:
    """The patient's next case version: `document`, or else the bundled `example`."""
    if document is None:
        assert example is not None, "give an example name or a document"
        document = load_example(example)
    current = session.get(Patient, patient_id)
    assert current is not None
    return flows.save_case(
        session,
        organization_id=organization_id,
        patient_id=patient_id,
        expected_version=current.case_version,
        document=document,
        user_id=user_id,
    )


def assessment(
    session: Session, *, organization_id: int, patient_id: int, user_id: int | None = None
) -> Assessment:
    """An assessment of the patient's current case version, stored as the API stores one."""
    stored, _ = flows.assess_and_store(
        session, organization_id=organization_id, patient_id=patient_id, user_id=user_id
    )
    return stored


def latest_assessment(session: Session, *, organization_id: int, patient_id: int) -> Assessment:
    found = session.scalars(
        select(Assessment)
        .where(Assessment.organization_id == organization_id, Assessment.patient_id == patient_id)
        .order_by(Assessment.id.desc())
        .limit(1)
    ).first()
    assert found is not None, f"patient {patient_id} has no assessment"
    return found


def questionnaire_response(
    session: Session,
    *,
    organization_id: int,
    patient_id: int,
    instrument: str = "nrs-pain",
    answers: Sequence[int | None] = (6,),
    answered_on: dt.date | None = None,
    user_id: int | None = None,
) -> Response:
    """A scored questionnaire response (alerts raised as the instrument says)."""
    return flows.submit_questionnaire(
        session,
        organization_id=organization_id,
        patient_id=patient_id,
        instrument=instrument,
        answers=list(answers),
        answered_on=answered_on or today(),
        user_id=user_id,
    )


def case_questionnaires(
    session: Session, *, organization_id: int, patient_id: int, user_id: int | None = None
) -> list[Response]:
    """The questionnaires with item answers of the patient's current case, stored as
    responses on their dates (as the demo data has them)."""
    version = records.get_case_version(
        session, organization_id=organization_id, patient_id=patient_id
    )
    assert version is not None, f"patient {patient_id} has no case"
    return [
        questionnaire_response(
            session,
            organization_id=organization_id,
            patient_id=patient_id,
            instrument=q["instrument"],
            answers=q["answers"],
            answered_on=dt.date.fromisoformat(q["date"]),
            user_id=user_id,
        )
        for q in version.document.get("questionnaires", [])
        if isinstance(q.get("answers"), list)
    ]


# --- care --------------------------------------------------------------------------------------


def conference(
    session: Session,
    *,
    organization_id: int,
    patient_id: int,
    assessment_id: int | None = None,
    held_on: dt.date | None = None,
    attendees: Sequence[Attendee] = (Attendee("Dr Test", "spine-surgery"),),
    decisions: Sequence[ConferenceDecision] = (
        ConferenceDecision("d1", "Go ahead with the work-up"),
    ),
    user_id: int | None = None,
) -> CareConference:
    """A case conference on the assessment (the patient's latest by default)."""
    if assessment_id is None:
        assessment_id = latest_assessment(
            session, organization_id=organization_id, patient_id=patient_id
        ).id
    return care_records.create_conference(
        session,
        organization_id=organization_id,
        patient_id=patient_id,
        assessment_id=assessment_id,
        held_on=held_on or today(),
        attendees=attendees,
        decisions=decisions,
        user_id=user_id,
    )


def recommended_or_considered(item: PlanItem) -> bool:
    """The default choice: every recommended or considered item except the opioid taper
    (whose schedule has its own tests)."""
    return item.recommendation in ("recommended", "consider") and item.id != (
        "treatment:opioid-taper"
    )


def nothing(item: PlanItem) -> bool:
    return False


def plan(
    session: Session,
    *,
    organization_id: int,
    patient_id: int,
    assessment_id: int | None = None,
    accept: Callable[[PlanItem], bool] = recommended_or_considered,
    reason: str = "Decided in the test",
    decided_on: dt.date | None = None,
    goals: Sequence[Goal] | None = None,
    review_on: dt.date | None = None,
    draft: bool = False,
    user_id: int | None = None,
) -> CarePlan:
    """A care plan decided from the engine's proposal: the items `accept` picks are accepted,
    the others rejected, each with `reason` (enough for every item the domain asks one for).
    Unless a draft, it is active with its tasks and questionnaires."""
    if assessment_id is None:
        assessment_id = latest_assessment(
            session, organization_id=organization_id, patient_id=patient_id
        ).id
    day = decided_on or today()
    proposal = care_records.propose(
        session,
        organization_id=organization_id,
        patient_id=patient_id,
        assessment_id=assessment_id,
        today=day,
    )
    decisions = [
        Decision(item.id, "accept" if accept(item) else "reject", reason) for item in proposal.items
    ]
    return care_records.create_plan(
        session,
        organization_id=organization_id,
        patient_id=patient_id,
        assessment_id=assessment_id,
        decisions=decisions,
        decided_on=day,
        decided_by="factory",
        goals=goals,
        review_on=review_on,
        draft=draft,
        user_id=user_id,
    )


def task(session: Session, *, plan_id: int, item_id: str) -> CareTask:
    """The plan's first task for a plan item (`workup:mri`, `treatment:spinal-cord-stimulation`).
    An item may bring more than one task (stimulation brings its trial too): by id, so that
    every call names the same one (PostgreSQL returns rows in no given order)."""
    found = session.scalars(
        select(CareTask)
        .where(CareTask.plan_id == plan_id, CareTask.plan_item_id == item_id)
        .order_by(CareTask.id)
    ).first()
    assert found is not None, f"plan {plan_id} has no task for {item_id}"
    return found


def care_tasks(session: Session, *, plan_id: int) -> list[CareTask]:
    """The plan's care tasks (not its questionnaires), in order."""
    return [t for t in care_records.plan_tasks(session, plan_id=plan_id) if t.kind == "care"]


# --- a whole clinic ----------------------------------------------------------------------------


@dataclass
class Clinic:
    """An organization with a user of every role; `patient` is the record the `patient` user
    is linked to (a case of `example`, assessed)."""

    organization: Organization
    patient: Patient
    people: dict[str, Person] = field(default_factory=dict)

    @property
    def id(self) -> int:
        return self.organization.id

    @property
    def clinician(self) -> Person:
        return self.people["clinician"]

    @property
    def coordinator(self) -> Person:
        return self.people["coordinator"]

    @property
    def admin(self) -> Person:
        return self.people["admin"]

    @property
    def patient_user(self) -> Person:
        return self.people["patient"]


def clinic(
    session: Session,
    *,
    example: str | None = "cauda-equina",
    assessed: bool = True,
    roles: Sequence[str] = (*STAFF_ROLES, "patient"),
    name: str = "Test Spine Center",
) -> Clinic:
    """A fresh organization, a patient (with a case of `example`, assessed unless told not
    to) and a user of each of `roles`; the patient user is linked to that patient."""
    org = organization(session, name=name)
    record = patient(
        session, organization_id=org.id, example=example, assessed=assessed and bool(example)
    )
    made = Clinic(org, record)
    for role in roles:
        made.people[role] = user(
            session,
            organization_id=org.id,
            role=role,
            patient_id=record.id if role == "patient" else None,
        )
    return made
