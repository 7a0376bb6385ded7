"""Who may open which page and send which form: every web route against every kind of browser,
as one table (the web counterpart of tests/api/test_api_authorization.py).

Browsers: signed out (`anonymous`); the clinician, coordinator and admin of organization
alpha; the patient whose record is the target (`patient`) and another patient of alpha
(`other_patient`); and the clinician, coordinator, admin and a patient of organization beta.
Every patient-scoped row targets the alpha patient: the cauda-equina example, assessed, with a
questionnaire response, a case conference and an active plan. Each test gets fresh
organizations (factories), so a form that changes a record never changes another cell.

Each cell states the answer (a page, the way to the sign-in page, a redirect elsewhere, the
403 page or the 404 page) and the audit events the request leaves (action, outcome, status,
actor, patient): a signed-out browser sent to /login leaves `authenticate` (401), a page the
role may not use `authorize` (403), like the API's refusals.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

import factories
from secondlook.care import reason_required
from secondlook.examples import load_example
from secondlook.http.deps import SESSION_COOKIE
from secondlook.store import care_records
from secondlook.store.alert_models import Alert
from secondlook.store.models import AuditEvent, Credential, Patient
from secondlook.web import intake
from secondlook.web.common import CSRF_COOKIE, is_web_path

CALLERS = (
    "anonymous",
    "clinician",
    "coordinator",
    "admin",
    "patient",
    "other_patient",
    "beta_clinician",
    "beta_coordinator",
    "beta_admin",
    "beta_patient",
)
ALPHA_STAFF = ("clinician", "coordinator")
BETA_STAFF = ("beta_clinician", "beta_coordinator")
PATIENTS = ("patient", "other_patient", "beta_patient")
NOT_STAFF = ("admin", "patient", "other_patient", "beta_admin", "beta_patient")
NOT_PATIENTS = tuple(c for c in CALLERS[1:] if c not in PATIENTS)
# Who must never see the target patient's name or MRN on a page.
OUTSIDERS = tuple(c for c in CALLERS[1:] if c not in (*ALPHA_STAFF, "patient"))

Event = tuple[str, str, int]  # action, outcome, status


@dataclass(frozen=True)
class Cell:
    status: int
    location: str | None = None  # a redirect's target (a regular expression)
    events: tuple[Event, ...] | None = ()  # None: not checked


PAGE = 200
LOGIN = Cell(303, "/login", events=(("authenticate", "denied", 401),))  # sent to sign in
REFUSED = Cell(403, events=(("authorize", "denied", 403),))  # the role may not use the page
TO_LOGIN = Cell(303, "/login")  # a page with no data of its own sends a signed-out browser on


def ok(*events: Event, status: int = 200, location: str | None = None) -> Cell:
    return Cell(status, location, events)


def success(action: str, status: int = 200) -> Event:
    return (action, "success", status)


def denied(action: str, status: int) -> Event:
    return (action, "denied", status)


def expect(cells: dict[str, Cell]) -> dict[str, Cell]:
    assert set(cells) == set(CALLERS), set(CALLERS) ^ set(cells)
    return cells


def staff_page(*events: Event, status: int = 200, location: str | None = None) -> dict[str, Cell]:
    """A page about the target patient for the team: its own staff get it, another
    organization's staff the 404 page (the first operation denied), everyone else the 403."""
    allowed = ok(*events, status=status, location=location)
    return expect(
        {
            "anonymous": LOGIN,
            **dict.fromkeys(ALPHA_STAFF, allowed),
            **dict.fromkeys(BETA_STAFF, ok(denied(events[0][0], 404), status=404)),
            **dict.fromkeys(NOT_STAFF, REFUSED),
        }
    )


def team_page(*events: Event, status: int = 200, location: str | None = None) -> dict[str, Cell]:
    """A page of the team's own organization (no target patient): staff of either."""
    allowed = ok(*events, status=status, location=location)
    return expect(
        {
            "anonymous": LOGIN,
            **dict.fromkeys((*ALPHA_STAFF, *BETA_STAFF), allowed),
            **dict.fromkeys(NOT_STAFF, REFUSED),
        }
    )


def admin_page(
    *events: Event, status: int = 200, location: str | None = None, beta: Cell | None = None
) -> dict[str, Cell]:
    """An administrators' page (/admin): the admins of either organization get it (about their
    own organization; ``beta``: what alpha's record gives beta's admin), everyone else the
    403 page."""
    allowed = ok(*events, status=status, location=location)
    return expect(
        {
            "anonymous": LOGIN,
            "admin": allowed,
            "beta_admin": beta or allowed,
            **{c: REFUSED for c in CALLERS if c not in ("anonymous", "admin", "beta_admin")},
        }
    )


def of_alpha(action: str) -> Cell:
    """Beta's admin naming a record of alpha: the 404 page, the act recorded as failed."""
    return ok((action, "failed", 404), status=404)


def portal_page(*events: Event, status: int = 200, location: str | None = None) -> dict[str, Cell]:
    """A page of the signed-in patient's own record (events name their own patient)."""
    return expect(
        {
            "anonymous": LOGIN,
            **dict.fromkeys(PATIENTS, ok(*events, status=status, location=location)),
            **dict.fromkeys(NOT_PATIENTS, REFUSED),
        }
    )


@dataclass
class World:
    people: dict[str, factories.Person]
    target: Patient
    task_id: int
    task_version: int
    plan_form: dict[str, str] = field(default_factory=dict)
    alert_id: int = 0
    plan_id: int = 0
    plan_version: int = 1
    conference_id: int = 0
    token_id: int = 0  # an API token of alpha's clinician
    invitee_id: int = 0  # a patient record of alpha without a portal account

    def path(self, template: str, key: str = "nrs-pain") -> str:
        return template.format(
            user_id=self.people["clinician"].user_id,
            token_id=self.token_id,
            patient_id=self.target.id,
            task_id=self.task_id,
            alert_id=self.alert_id,
            plan_id=self.plan_id,
            conference_id=self.conference_id,
            key=key,
            kind="red-flag",
            record_id="cauda-equina",
        )


@dataclass(frozen=True)
class Row:
    route: str  # "METHOD /path/{param}", as the app declares it
    expect: dict[str, Cell]
    form: Callable[[World, str], dict[str, Any]] = lambda world, caller: {}
    # Whose patient id the events carry: the target's, the caller's own, none, or not checked.
    patient: str = "target"
    # Who the events name as actor, when not the caller (signing in as someone).
    actor: Callable[[World, str], int | None] | None = None
    key: str = "nrs-pain"  # the portal questionnaire of the row
    # The page names the target patient to its team (so that its absence elsewhere means
    # something).
    names_target: bool = False


def _cauda_form(world: World, caller: str) -> dict[str, Any]:
    values: dict[str, Any] = dict(intake.form_values(load_example("cauda-equina")))
    return {**values, "name": "Matrix New", "mrn": factories.unique("MX")}


def _intake_form(world: World, caller: str) -> dict[str, Any]:
    values: dict[str, Any] = dict(intake.form_values(load_example("cauda-equina")))
    return {**values, "expected_version": "1"}


def _login_as(world: World, caller: str) -> factories.Person:
    return world.people["clinician" if caller == "anonymous" else caller]


def _login_form(world: World, caller: str) -> dict[str, Any]:
    person = _login_as(world, caller)
    return {"username": person.username, "password": person.password}


NEW_PASSWORD = "walnut harbour violin sketch"  # passes the password rules

CONFERENCE = {
    "held_on": "2026-11-20",
    "guest-0-name": "Dr A",
    "guest-0-discipline": "spine-surgery",
    "decision-0": "Emergency MRI today",
}
HOME = {"clinician": "/clinic/patients", "coordinator": "/clinic/patients", "admin": "/admin/users"}
HOME |= {f"beta_{role}": home for role, home in HOME.items()}
HOME |= dict.fromkeys(PATIENTS, "/portal")

P = "/clinic/patients/{patient_id}"
TABLE: list[Row] = [
    # Signing in and out, and the start page.
    Row(
        "GET /",
        expect({"anonymous": TO_LOGIN, **{c: Cell(303, HOME[c]) for c in CALLERS[1:]}}),
        patient="none",
    ),
    Row(
        "GET /login",
        expect({"anonymous": ok(), **{c: Cell(303, HOME[c]) for c in CALLERS[1:]}}),
        patient="none",
    ),
    Row(
        "POST /login",
        expect(
            {
                "anonymous": ok(success("session.create"), status=303, location=HOME["clinician"]),
                **{
                    c: ok(success("session.create"), status=303, location=HOME[c])
                    for c in CALLERS[1:]
                },
            }
        ),
        form=_login_form,
        patient="none",
        actor=lambda world, caller: _login_as(world, caller).user_id,
    ),
    Row(
        "POST /logout",
        expect(
            {
                "anonymous": TO_LOGIN,
                **{
                    who: ok(success("session.end", 204), status=303, location="/login")
                    for who in CALLERS
                    if who != "anonymous"
                },
            }
        ),
        patient="none",
    ),
    Row(
        "GET /account",
        expect({"anonymous": TO_LOGIN, **dict.fromkeys(CALLERS[1:], ok(success("token.read")))}),
        patient="none",
    ),
    # The SMART EHR launch, not configured in this app: the same "not configured" page for
    # everyone, before anything is read (tests/web/test_web_smart.py tests it configured).
    Row("GET /smart/launch", expect(dict.fromkeys(CALLERS, Cell(404))), patient="none"),
    Row("GET /smart/callback", expect(dict.fromkeys(CALLERS, Cell(404))), patient="none"),
    # The clinician workspace.
    Row(
        "GET /clinic",
        expect(dict.fromkeys(CALLERS, Cell(303, "/clinic/patients"))),
        patient="none",
    ),
    Row(
        "GET /clinic/patients",
        # the alert inbox first, then the patient list
        team_page(success("alert.read"), success("patient.list")),
        patient="none",
        names_target=True,
    ),
    Row(
        "POST /clinic/patients/search",
        team_page(success("patient.list")),
        form=lambda world, caller: {"q": world.target.name.split()[-1]},
        patient="none",
        names_target=True,
    ),
    Row("GET /clinic/patients/new", team_page(), patient="none"),
    Row(
        "POST /clinic/patients/new",
        {
            **team_page(
                success("patient.create", 201),
                success("case.write", 201),
                success("assessment.create", 201),
                status=303,
                location=r"/clinic/patients/\d+",
            ),
            # A coordinator saves the case; assessing is for clinicians.
            **dict.fromkeys(
                ("coordinator", "beta_coordinator"),
                ok(
                    success("patient.create", 201),
                    success("case.write", 201),
                    status=303,
                    location=r"/clinic/patients/\d+",
                ),
            ),
        },
        form=_cauda_form,
        patient="any",  # the new patient's
    ),
    Row(f"GET {P}", staff_page(success("patient.read")), names_target=True),
    Row(
        f"POST {P}/assess",
        {
            **staff_page(success("assessment.create", 201), status=303, location=P),
            # The role is refused before the record is looked up (as in the API).
            **dict.fromkeys(
                ("coordinator", "beta_coordinator"),
                ok(denied("assessment.create", 403), status=403),
            ),
        },
    ),
    Row(f"GET {P}/intake", staff_page(success("case.read"))),
    Row(
        f"POST {P}/intake",
        {
            **staff_page(
                success("case.read"),
                success("case.write", 201),
                success("assessment.create", 201),
                status=303,
                location=P,
            ),
            "coordinator": ok(
                success("case.read"), success("case.write", 201), status=303, location=P
            ),
        },
        form=_intake_form,
    ),
    Row(f"GET {P}/summary.pdf", staff_page(success("assessment.read"))),
    Row(f"GET {P}/handout.pdf", staff_page(success("assessment.read"))),
    Row("GET /clinic/book", team_page(), patient="none"),
    Row("GET /clinic/book/{kind}/{record_id}", team_page(), patient="none"),
    Row(f"GET {P}/conference", staff_page(success("care.conference.read"))),
    Row(
        f"POST {P}/conference",
        staff_page(
            success("care.conference.read"),
            success("care.conference.create", 201),
            status=303,
            location=f"{P}/conferences/[0-9]+",
        ),
        form=lambda world, caller: dict(CONFERENCE),
    ),
    Row(f"GET {P}/conferences/{{conference_id}}", staff_page(success("care.conference.read"))),
    Row(f"GET {P}/plan", staff_page(success("care.plan.propose"))),
    Row(
        # The target has an active plan: the builder's form amends it (a new version).
        f"POST {P}/plan",
        {
            **staff_page(
                success("care.plan.propose"),
                success("care.plan.amend", 201),
                status=303,
                location=f"{P}/plans/[0-9]+",
            ),
            # Deciding a plan is a clinician's act; the coordinator may read the proposal.
            "coordinator": ok(
                success("care.plan.propose"), denied("care.plan.amend", 403), status=403
            ),
        },
        form=lambda world, caller: dict(world.plan_form),
    ),
    Row(f"GET {P}/plans/{{plan_id}}", staff_page(success("care.plan.read"))),
    Row(
        f"POST {P}/plans/{{plan_id}}/closing",
        {
            **staff_page(success("care.plan.close"), status=303, location=f"{P}/plans/[0-9]+"),
            # Closing the team's plan is a clinician's act (the role is refused first).
            **dict.fromkeys(
                ("coordinator", "beta_coordinator"), ok(denied("care.plan.close", 403), status=403)
            ),
        },
        form=lambda world, caller: {
            "outcome": "discharged",
            "reason": "Moved to another city",
            "version": str(world.plan_version),
        },
    ),
    Row(f"GET {P}/tasks", staff_page(success("care.task.read"))),
    Row(
        f"POST {P}/tasks/{{task_id}}",
        staff_page(
            success("care.task.update"), status=303, location=f"{P}/tasks\\?at=[0-9]+#task-[0-9]+"
        ),
        form=lambda world, caller: {"status": "accepted", "version": str(world.task_version)},
    ),
    # The alert inbox's forms (the alert is the target's); another organization's staff get
    # the 404 page, recorded without a patient (the alert is not theirs to name).
    Row(
        "POST /clinic/alerts/{alert_id}/acknowledge",
        staff_page(success("alert.update"), status=303, location="/clinic/patients#alert-[0-9]+"),
        form=lambda world, caller: {"version": "1"},
        patient="any",
    ),
    Row(
        "POST /clinic/alerts/{alert_id}/resolve",
        staff_page(success("alert.update"), status=303, location="/clinic/patients"),
        form=lambda world, caller: {"version": "1", "resolution": "seen-today", "note": "seen"},
        patient="any",
    ),
    Row(
        f"POST {P}/tasks/{{task_id}}/assign",
        staff_page(
            success("care.task.update"), status=303, location=f"{P}/tasks\\?at=[0-9]+#task-[0-9]+"
        ),
        form=lambda world, caller: {"due": "2030-01-02", "version": str(world.task_version)},
    ),
    Row(
        # The matrix's task is not a diagnostic one: it records no result (refused, audited).
        f"POST {P}/tasks/{{task_id}}/result",
        staff_page(("care.task.update", "failed", 422), success("care.task.read"), status=422),
        form=lambda world, caller: {"relief_percent": "80", "version": str(world.task_version)},
    ),
    Row(f"GET {P}/questionnaires/paper", staff_page(success("patient.read"))),
    Row(
        f"POST {P}/questionnaires/paper",
        staff_page(
            success("patient.read"),
            success("questionnaire.create", 201),
            status=303,
            location=f"{P}#h-outcomes",
        ),
        form=lambda world, caller: {
            "instrument": "nrs-pain",
            "answered_on": "2026-11-02",
            "item-0": "5",
        },
    ),
    Row(
        "GET /clinic/worklists",
        team_page(success("alert.read"), success("care.worklist.read")),
        patient="none",
        names_target=True,  # open red flags
    ),
    # The administrators' pages: the account records of alpha's clinician.
    Row("GET /admin", admin_page(status=303, location="/admin/users"), patient="none"),
    Row("GET /admin/users", admin_page(success("user.read")), patient="none"),
    Row(
        "POST /admin/users",
        admin_page(
            success("user.write", 201), status=303, location=r"/admin/users/\d+\?saved=created"
        ),
        form=lambda world, caller: {
            "username": factories.unique("new"),
            "role": "coordinator",
            "discipline": "",
            "password": NEW_PASSWORD,
            "password_again": NEW_PASSWORD,
        },
        patient="none",
    ),
    Row(
        "GET /admin/users/{user_id}",
        admin_page(success("user.read"), beta=of_alpha("user.read")),
        patient="none",
    ),
    Row(
        "POST /admin/users/{user_id}/role",
        admin_page(
            success("user.write"),
            status=303,
            location=r"/admin/users/\d+\?saved=role",
            beta=of_alpha("user.write"),
        ),
        form=lambda world, caller: {"role": "coordinator", "discipline": "", "version": "1"},
        patient="none",
    ),
    Row(
        "POST /admin/users/{user_id}/active",
        admin_page(
            success("user.write"),
            status=303,
            location=r"/admin/users/\d+\?saved=active",
            beta=of_alpha("user.write"),
        ),
        form=lambda world, caller: {"active": "false", "version": "1"},
        patient="none",
    ),
    Row(
        "POST /admin/users/{user_id}/password",
        admin_page(
            success("user.write"),
            status=303,
            location=r"/admin/users/\d+\?saved=password",
            beta=of_alpha("user.write"),
        ),
        form=lambda world, caller: {
            "password": NEW_PASSWORD,
            "password_again": NEW_PASSWORD,
            "version": "1",
        },
        patient="none",
    ),
    Row(
        "POST /admin/users/{user_id}/unlock",
        admin_page(
            success("user.write", 204),
            status=303,
            location=r"/admin/users/\d+\?saved=unlock",
            beta=of_alpha("user.write"),
        ),
        patient="none",
    ),
    Row("GET /admin/tokens", admin_page(success("token.read-all")), patient="none"),
    Row(
        "POST /admin/tokens/{token_id}/revoke",
        admin_page(
            success("token.revoke", 204),
            status=303,
            location=r"/admin/tokens\?revoked=\d+#token-\d+",
            beta=of_alpha("token.revoke"),
        ),
        patient="none",
    ),
    Row("GET /admin/invitations", admin_page(success("invitation.read")), patient="none"),
    Row(
        "POST /admin/invitations",
        admin_page(
            success("invitation.create", 201),
            status=303,
            location=r"/admin/invitations\?sent=\d+#invitation-\d+",
            # Beta's admin cannot name alpha's patient: the form again, saying so.
            beta=ok(denied("invitation.create", 404), success("invitation.read"), status=404),
        ),
        form=lambda world, caller: {
            "patient_id": str(world.invitee_id),
            "username": factories.unique("invitee"),
            "email": "invitee@example.org",
        },
        patient="any",
    ),
    Row("GET /admin/settings", admin_page(success("settings.read")), patient="none"),
    Row(
        "GET /admin/audit",
        # the users for the filter, then the trail
        admin_page(success("user.read"), success("audit.read")),
        patient="none",
    ),
    # An invitation link's page: without a working link, the same "no longer works" page for
    # everyone, before anything is written (tests/web/test_web_admin.py follows a real link).
    Row("GET /welcome", expect(dict.fromkeys(CALLERS, Cell(404))), patient="none"),
    Row(
        "POST /welcome",
        expect(dict.fromkeys(CALLERS, Cell(404))),
        form=lambda world, caller: {"token": "not-a-link", "password": NEW_PASSWORD},
        patient="none",
    ),
    # The patient portal: always the signed-in patient's own record.
    Row("GET /portal", portal_page(success("patient.read")), patient="own"),
    Row("GET /portal/questionnaires/{key}", portal_page(), patient="own"),
    Row(
        "POST /portal/questionnaires/{key}",
        portal_page(success("questionnaire.create", 201)),
        form=lambda world, caller: {"answers": "", "answer": "6"},
        patient="own",
    ),
    Row(
        "POST /portal/questionnaires/{key}/continue",
        portal_page(),
        form=lambda world, caller: {"answers": "0"},
        patient="own",
        key="phq-9",
    ),
    Row("GET /portal/plan", portal_page(success("patient.read")), patient="own"),
    Row("GET /portal/learn", portal_page(success("patient.read")), patient="own"),
    Row("GET /portal/reminders", portal_page(success("reminder.read")), patient="own"),
    Row(
        "POST /portal/reminders",
        portal_page(success("reminder.update"), status=303, location=r"/portal/reminders\?saved=1"),
        form=lambda world, caller: {"enabled": "on", "email": "me@example.org", "version": "1"},
        patient="own",
    ),
    Row("GET /portal/language", portal_page(success("language.read")), patient="none"),
    Row(
        "POST /portal/language",
        portal_page(success("language.update"), status=303, location=r"/portal/language\?saved=1"),
        form=lambda world, caller: {"language": "es", "version": "1"},
        patient="none",
    ),
    Row(
        "GET /portal/handout.pdf",
        {
            **portal_page(success("patient.read")),
            # Their records have no assessment: no handout, and never the target's.
            **dict.fromkeys(
                ("other_patient", "beta_patient"), ok(success("patient.read"), status=404)
            ),
        },
        patient="own",
    ),
]


def _plan_form(session: Session, target: Patient, assessment_id: int) -> dict[str, str]:
    """The plan builder's form as a clinician sends it: work-up and recommended or considered
    treatments accepted, the rest rejected, a reason wherever the domain asks for one."""
    draft = care_records.propose(
        session,
        organization_id=target.organization_id,
        patient_id=target.id,
        assessment_id=assessment_id,
        today=factories.today(),
    )
    form = {"new_goal_text": "Walk the dog again", "new_goal_target": "2199-01-01"}
    for i, item in enumerate(draft.items):
        action: Literal["accept", "reject"] = (
            "accept" if factories.recommended_or_considered(item) else "reject"
        )
        form[f"action-{i}"] = action
        if reason_required(item, action):
            form[f"reason-{i}"] = "Decided at the matrix conference"
    return form


@pytest.fixture
def world(web_engine: Engine) -> World:
    """Organizations alpha and beta, a user of every role in each, and alpha's target patient
    with every kind of record; made fresh for each test."""
    with factories.committed(web_engine) as session:
        alpha = factories.organization(session, name="Alpha Spine").id
        beta = factories.organization(session, name="Beta Spine").id
        target = factories.patient(session, organization_id=alpha, assessed=True)
        factories.questionnaire_response(session, organization_id=alpha, patient_id=target.id)
        conference = factories.conference(session, organization_id=alpha, patient_id=target.id)
        plan = factories.plan(session, organization_id=alpha, patient_id=target.id)
        task = factories.care_tasks(session, plan_id=plan.id)[0]
        people = {
            "patient": factories.user(
                session, organization_id=alpha, role="patient", patient_id=target.id
            ),
            "other_patient": factories.user(session, organization_id=alpha, role="patient"),
            "beta_patient": factories.user(session, organization_id=beta, role="patient"),
        }
        for role in factories.STAFF_ROLES:
            people[role] = factories.user(session, organization_id=alpha, role=role)
            people[f"beta_{role}"] = factories.user(session, organization_id=beta, role=role)
        form = {
            **_plan_form(session, target, plan.assessment_id),
            "amend_reason": "Reviewed at the follow-up visit",
            "version": str(plan.version),
        }
        # The target's assessment raised its red flag: the alert the inbox forms act on.
        alert_id = session.scalars(
            select(Alert.id).where(Alert.patient_id == target.id).order_by(Alert.id)
        ).first()
        assert alert_id is not None
        token_id = session.scalars(
            select(Credential.id).where(
                Credential.user_id == people["clinician"].user_id, Credential.kind == "token"
            )
        ).one()
        invitee = factories.patient(session, organization_id=alpha, example=None)
        return World(
            people,
            target,
            task.id,
            task.version,
            form,
            alert_id=alert_id,
            plan_id=plan.id,
            plan_version=plan.version,
            conference_id=conference.id,
            token_id=token_id,
            invitee_id=invitee.id,
        )


@pytest.fixture(scope="module")
def one_browser(web_app: FastAPI) -> Iterator[TestClient]:
    """One client for the module's many cells (starting one costs more than a cell); each
    cell replaces its cookies, so nothing carries over."""
    with TestClient(web_app, follow_redirects=False) as client:
        yield client


CASES = [
    pytest.param(row, caller, id=f"{row.route} as {caller}") for row in TABLE for caller in CALLERS
]


def _last_event_id(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.max(AuditEvent.id))).scalar() or 0)


@pytest.mark.parametrize(("row", "caller"), CASES)
def test_page_answers_browser_as_the_table_says(
    one_browser: TestClient, web_engine: Engine, world: World, row: Row, caller: str
) -> None:
    browser = one_browser
    method, template = row.route.split(" ", 1)
    url = world.path(template, row.key)
    if caller == "anonymous":  # signed out, with a form's token (as the sign-in page gives)
        factories.signed_in(browser, world.people["clinician"])
        browser.cookies.delete(SESSION_COOKIE)
        token = str(browser.cookies.get(CSRF_COOKIE))
    else:
        token = factories.signed_in(browser, world.people[caller])
    before = _last_event_id(web_engine)
    if method == "GET":
        response = browser.get(url)
    else:
        response = browser.post(url, data={**row.form(world, caller), "csrf_token": token})
    cell = row.expect[caller]

    assert response.status_code == cell.status, response.text[:2000]
    if cell.status == 303:
        expected = world.path(cell.location or "")
        assert re.fullmatch(expected, response.headers["location"]), response.headers["location"]
    elif url.endswith(".pdf") and cell.status == 200:
        assert response.headers["content-type"] == "application/pdf"
        assert response.content.startswith(b"%PDF-")
    else:
        assert response.headers["content-type"].startswith("text/html")
    if row.names_target and caller in ALPHA_STAFF:
        assert world.target.name in response.text
    if caller in OUTSIDERS and not url.endswith(".pdf"):
        assert world.target.name not in response.text
        assert str(world.target.mrn) not in response.text

    if cell.events is None:
        return
    with Session(web_engine) as session:
        rows = list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.id > before, AuditEvent.resource == f"{method} {url}")
                .order_by(AuditEvent.id)
            )
        )
    assert [(e.action, e.outcome, e.status) for e in rows] == list(cell.events)
    person = world.people.get(caller)
    actor = row.actor(world, caller) if row.actor else (person.user_id if person else None)
    assert all(e.actor_user_id == actor for e in rows)
    if row.patient != "any":
        patient = {
            "target": world.target.id,
            "own": person.patient_id if person else None,
            "none": None,
        }[row.patient]
        assert all(e.patient_id == patient for e in rows), [e.patient_id for e in rows]


def test_the_table_covers_every_page_and_form(web_app: FastAPI) -> None:
    """A new page or form must get a row in the table above."""
    routes = {
        f"{method} {route.path_format}"
        for route in iter_route_contexts(web_app.routes)
        if is_web_path(str(route.path_format))
        for method in route.methods or ()
        if method != "HEAD"
    }
    assert routes == {row.route for row in TABLE}


def test_a_task_is_moved_only_through_its_own_patient(
    browser: TestClient, web_engine: Engine, world: World
) -> None:
    """A task id is looked up under the patient of the URL: another patient's task (of the
    same organization or another) is not found, and does not change."""
    with factories.committed(web_engine) as session:
        alpha = world.target.organization_id
        other = factories.patient(session, organization_id=alpha, assessed=True)
        beta = factories.clinic(session)
        beta_plan = factories.plan(session, organization_id=beta.id, patient_id=beta.patient.id)
        beta_task = factories.care_tasks(session, plan_id=beta_plan.id)[0]
    token = factories.signed_in(browser, world.people["clinician"])
    for patient_id, task_id, version in (
        (other.id, world.task_id, world.task_version),
        (world.target.id, beta_task.id, beta_task.version),
    ):
        response = browser.post(
            f"/clinic/patients/{patient_id}/tasks/{task_id}",
            data={"csrf_token": token, "status": "accepted", "version": str(version)},
        )
        assert response.status_code == 404
    with factories.committed(web_engine) as session:
        assert factories.task(session, plan_id=beta_plan.id, item_id=str(beta_task.plan_item_id))
        statuses = {t.id: t.status for t in factories.care_tasks(session, plan_id=beta_plan.id)}
        mine = care_records.get_task(
            session, organization_id=alpha, patient_id=world.target.id, task_id=world.task_id
        )
    assert statuses[beta_task.id] == "requested"
    assert mine is not None and mine.status == "requested"


def _events_after(engine: Engine, before: int, resource: str) -> list[tuple[str, str, int]]:
    with engine.connect() as connection:
        return [
            (e.action, e.outcome, e.status)
            for e in connection.execute(
                select(AuditEvent.action, AuditEvent.outcome, AuditEvent.status).where(
                    AuditEvent.id > before, AuditEvent.resource == resource
                )
            )
        ]


def test_a_page_refused_for_the_role_is_on_the_audit_trail(
    browser: TestClient, web_engine: Engine, world: World
) -> None:
    factories.signed_in(browser, world.people["patient"])
    before = _last_event_id(web_engine)
    url = f"/clinic/patients/{world.target.id}"
    assert browser.get(url).status_code == 403
    assert ("authorize", "denied", 403) in _events_after(web_engine, before, f"GET {url}")


def test_a_signed_out_request_for_a_patient_page_is_on_the_audit_trail(
    browser: TestClient, web_engine: Engine, world: World
) -> None:
    before = _last_event_id(web_engine)
    url = f"/clinic/patients/{world.target.id}"
    assert browser.get(url).headers["location"] == "/login"
    events = _events_after(web_engine, before, f"GET {url}")
    assert events == [("authenticate", "denied", 401)]
