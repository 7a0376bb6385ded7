"""Who may call what: every endpoint against every kind of caller, as one table.

Callers: the clinician, coordinator and admin of organization alpha; the patient whose record is
the target (`patient`) and another patient of the same organization (`other_patient`); no
credentials (`anonymous`); and the clinician and admin of another organization (beta). Every
patient-scoped row targets patient one of alpha.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

if TYPE_CHECKING:
    from conftest import World

CALLERS = (
    "clinician",
    "coordinator",
    "patient",
    "other_patient",
    "admin",
    "anonymous",
    "beta_clinician",
    "beta_admin",
)


def expect(**statuses: int) -> dict[str, int]:
    assert set(statuses) == set(CALLERS), set(CALLERS) ^ set(statuses)
    return statuses


# Reading a patient's clinical data: staff of the organization and the patient themself.
READ = expect(
    clinician=200,
    coordinator=200,
    patient=200,
    other_patient=404,
    admin=403,
    anonymous=401,
    beta_clinician=404,
    beta_admin=403,
)
# Changing patient data: staff only (a patient's role is refused before visibility is checked).
STAFF_WRITE = expect(
    clinician=200,
    coordinator=200,
    patient=403,
    other_patient=403,
    admin=403,
    anonymous=401,
    beta_clinician=404,
    beta_admin=403,
)
ADMIN_ONLY = expect(
    clinician=403,
    coordinator=403,
    patient=403,
    other_patient=403,
    admin=200,
    anonymous=401,
    beta_clinician=403,
    beta_admin=200,
)
ANY_USER = expect(
    clinician=200,
    coordinator=200,
    patient=200,
    other_patient=200,
    admin=200,
    anonymous=401,
    beta_clinician=200,
    beta_admin=200,
)
PUBLIC = dict.fromkeys(CALLERS, 200)
PATIENT_ONLY = expect(
    clinician=403,
    coordinator=403,
    patient=200,
    other_patient=200,
    admin=403,
    anonymous=401,
    beta_clinician=403,
    beta_admin=403,
)


def created(statuses: dict[str, int]) -> dict[str, int]:
    return {who: 201 if status == 200 else status for who, status in statuses.items()}


@dataclass(frozen=True)
class Ctx:
    client: TestClient
    world: World
    assessment_id: int

    @property
    def p1(self) -> str:
        return f"/api/v1/patients/{self.world.patient_one}"

    def etag(self, path: str) -> str:
        """The current ETag of a resource, read by someone allowed to."""
        who = "admin" if path.startswith("/api/v1/users") else "clinician"
        response = self.client.get(path, headers=self.world.auth(who))
        assert response.status_code == 200, response.text
        return str(response.headers["ETag"])


Request = tuple[str, str, dict[str, Any]]
Builder = Callable[[Ctx], Request]


def _fresh_token(ctx: Ctx) -> Request:
    made = ctx.client.post(
        "/api/v1/tokens", json={"name": "to revoke"}, headers=ctx.world.auth("clinician")
    )
    assert made.status_code == 201
    return "DELETE", f"/api/v1/tokens/{made.json()['id']}", {}


TABLE: list[tuple[str, Builder, dict[str, int]]] = [
    ("GET /healthz", lambda c: ("GET", "/healthz", {}), PUBLIC),
    ("GET /readyz", lambda c: ("GET", "/readyz", {}), PUBLIC),
    ("GET /openapi.json", lambda c: ("GET", "/openapi.json", {}), PUBLIC),
    (
        "GET /api/v1/patients",
        lambda c: ("GET", "/api/v1/patients", {}),
        {**READ, "other_patient": 200, "beta_clinician": 200},
    ),
    (
        "POST /api/v1/patients",
        lambda c: ("POST", "/api/v1/patients", {"json": {"name": "New Patient"}}),
        created({**STAFF_WRITE, "beta_clinician": 200}),
    ),
    ("GET /api/v1/patients/{patient_id}", lambda c: ("GET", c.p1, {}), READ),
    (
        "GET /api/v1/patients/{patient_id}/write-back",
        lambda c: ("GET", f"{c.p1}/write-back", {}),
        READ,
    ),
    (
        "GET /api/v1/patients/{patient_id}/write-back/document-reference",
        lambda c: ("GET", f"{c.p1}/write-back/document-reference", {}),
        READ,
    ),
    (
        "PATCH /api/v1/patients/{patient_id}",
        lambda c: (
            "PATCH",
            c.p1,
            {"json": {"mrn": uuid.uuid4().hex[:8]}, "headers": {"If-Match": c.etag(c.p1)}},
        ),
        STAFF_WRITE,
    ),
    ("GET /api/v1/patients/{patient_id}/case", lambda c: ("GET", f"{c.p1}/case", {}), READ),
    (
        "PUT /api/v1/patients/{patient_id}/case",
        lambda c: (
            "PUT",
            f"{c.p1}/case",
            {
                "json": c.client.get(f"{c.p1}/case", headers=c.world.auth("clinician")).json()[
                    "document"
                ],
                "headers": {"If-Match": c.etag(f"{c.p1}/case")},
            },
        ),
        created(STAFF_WRITE),
    ),
    (
        "GET /api/v1/patients/{patient_id}/case/versions",
        lambda c: ("GET", f"{c.p1}/case/versions", {}),
        READ,
    ),
    (
        "GET /api/v1/patients/{patient_id}/case/versions/{number}",
        lambda c: ("GET", f"{c.p1}/case/versions/1", {}),
        READ,
    ),
    (
        "POST /api/v1/patients/{patient_id}/assessments",
        lambda c: ("POST", f"{c.p1}/assessments", {}),
        created({**STAFF_WRITE, "coordinator": 403}),
    ),
    (
        "GET /api/v1/patients/{patient_id}/assessments",
        lambda c: ("GET", f"{c.p1}/assessments", {}),
        READ,
    ),
    (
        "GET /api/v1/patients/{patient_id}/assessments/{assessment_id}",
        lambda c: ("GET", f"{c.p1}/assessments/{c.assessment_id}", {}),
        READ,
    ),
    (
        "POST /api/v1/patients/{patient_id}/questionnaires",
        lambda c: (
            "POST",
            f"{c.p1}/questionnaires",
            {"json": {"instrument": "nrs-pain", "answers": [4]}},
        ),
        created(READ),
    ),
    (
        "GET /api/v1/patients/{patient_id}/questionnaires",
        lambda c: ("GET", f"{c.p1}/questionnaires", {}),
        READ,
    ),
    ("GET /api/v1/patients/{patient_id}/history", lambda c: ("GET", f"{c.p1}/history", {}), READ),
    ("GET /api/v1/audit", lambda c: ("GET", "/api/v1/audit", {}), ADMIN_ONLY),
    ("GET /api/v1/users", lambda c: ("GET", "/api/v1/users", {}), ADMIN_ONLY),
    (
        "POST /api/v1/users",
        lambda c: (
            "POST",
            "/api/v1/users",
            {"json": {"username": f"u-{uuid.uuid4().hex[:10]}", "role": "coordinator"}},
        ),
        created(ADMIN_ONLY),
    ),
    (
        "GET /api/v1/users/{user_id}",
        lambda c: ("GET", f"/api/v1/users/{c.world.users['coordinator']}", {}),
        {**ADMIN_ONLY, "beta_admin": 404},
    ),
    (
        "PATCH /api/v1/users/{user_id}",
        lambda c: (
            "PATCH",
            f"/api/v1/users/{c.world.users['coordinator']}",
            {
                "json": {"active": True},
                "headers": {"If-Match": c.etag(f"/api/v1/users/{c.world.users['coordinator']}")},
            },
        ),
        {**ADMIN_ONLY, "beta_admin": 404},
    ),
    (
        "DELETE /api/v1/users/{user_id}/login-failures",
        lambda c: ("DELETE", f"/api/v1/users/{c.world.users['coordinator']}/login-failures", {}),
        {**ADMIN_ONLY, "admin": 204, "beta_admin": 404},
    ),
    ("GET /api/v1/session", lambda c: ("GET", "/api/v1/session", {}), ANY_USER),
    (
        "DELETE /api/v1/session",
        lambda c: ("DELETE", "/api/v1/session", {}),
        {**ANY_USER, **{w: 204 for w in CALLERS if w != "anonymous"}},
    ),
    (
        "POST /api/v1/tokens",
        lambda c: ("POST", "/api/v1/tokens", {"json": {"name": "matrix"}}),
        created(ANY_USER),
    ),
    ("GET /api/v1/tokens", lambda c: ("GET", "/api/v1/tokens", {}), ANY_USER),
    # A patient's own reminder choice: patients only (a write without If-Match answers 428).
    ("GET /api/v1/reminders", lambda c: ("GET", "/api/v1/reminders", {}), PATIENT_ONLY),
    (
        "PUT /api/v1/reminders",
        lambda c: ("PUT", "/api/v1/reminders", {"json": {"enabled": False}}),
        {**PATIENT_ONLY, "patient": 428, "other_patient": 428},
    ),
    (
        "DELETE /api/v1/tokens/{token_id}",
        _fresh_token,
        expect(
            clinician=204,
            coordinator=404,
            patient=404,
            other_patient=404,
            admin=204,
            anonymous=401,
            beta_clinician=404,
            beta_admin=404,
        ),
    ),
    (
        "POST /api/v1/session",
        lambda c: (
            "POST",
            "/api/v1/session",
            {
                "json": {
                    "username": _username(c, "patient"),
                    "password": c.world.passwords["patient"],
                }
            },
        ),
        PUBLIC,
    ),
]


# FHIR REST API and CDS Hooks (not in the OpenAPI document; their errors are OperationOutcomes
# and CDS problem details). tests/fhir_api checks every resource type against every caller.
TABLE += [
    ("GET /fhir/metadata", lambda c: ("GET", "/fhir/metadata", {}), PUBLIC),
    (
        "GET /fhir/{resource_type}/{resource_id}",
        lambda c: ("GET", f"/fhir/Patient/{c.world.patient_one}", {}),
        READ,
    ),
    (
        "GET /fhir/{resource_type}",
        lambda c: ("GET", f"/fhir/DetectedIssue?patient={c.world.patient_one}", {}),
        READ,
    ),
    (
        "POST /fhir/{resource_type}/_search",
        lambda c: (
            "POST",
            "/fhir/DetectedIssue/_search",
            {"data": {"patient": str(c.world.patient_one)}},
        ),
        READ,
    ),
    # Not configured in the test app: discovery answers, calls are refused.
    ("GET /cds-services", lambda c: ("GET", "/cds-services", {}), PUBLIC),
    (
        "POST /cds-services/{service_id}",
        lambda c: ("POST", "/cds-services/secondlook-patient-view", {"json": {}}),
        dict.fromkeys(CALLERS, 401),
    ),
    (
        "POST /cds-services/{service_id}/feedback",
        lambda c: ("POST", "/cds-services/secondlook-patient-view/feedback", {"json": {}}),
        dict.fromkeys(CALLERS, 401),
    ),
]


# Care coordination (docs/care.md). Patient one's plan, conference and task are made once per
# app by the clinician (`_care`); the conference and the worklists are for the team only.
TEAM_READ = {**STAFF_WRITE, "clinician": 200, "coordinator": 200}
TEAM_ANY_ORG = expect(
    clinician=200,
    coordinator=200,
    patient=403,
    other_patient=403,
    admin=403,
    anonymous=401,
    beta_clinician=200,
    beta_admin=403,
)
# Completing the table's (non-diagnostic) task with a result: staff may ask, and are told
# the task records none.
STAFF_RESULT = expect(
    clinician=422,
    coordinator=422,
    patient=403,
    other_patient=403,
    admin=403,
    anonymous=401,
    beta_clinician=404,
    beta_admin=403,
)
# The team's users here have no discipline on record: they are told so.
TEAM_NO_DISCIPLINE = expect(
    clinician=409,
    coordinator=409,
    patient=403,
    other_patient=403,
    admin=403,
    anonymous=401,
    beta_clinician=409,
    beta_admin=403,
)
_CARE: dict[tuple[int, int], dict[str, int]] = {}


def _care(c: Ctx) -> dict[str, int]:
    """Patient one's conference, plan (a patient goal, no taper) and first task."""
    key = (id(c.client.app), c.world.patient_one)
    if key not in _CARE:
        auth = c.world.auth("clinician")
        conference = c.client.post(
            f"{c.p1}/care/conferences",
            json={
                "assessment_id": c.assessment_id,
                "held_on": "2026-07-04",
                "attendees": [{"name": "Dr A", "discipline": "spine-surgery"}],
            },
            headers=auth,
        )
        assert conference.status_code == 201, conference.text
        plan = c.client.post(f"{c.p1}/care/plans", json=_plan_body(c), headers=auth)
        assert plan.status_code == 201, plan.text
        tasks = c.client.get(f"{c.p1}/care/plans/{plan.json()['id']}/tasks", headers=auth)
        _CARE[key] = {
            "conference": conference.json()["id"],
            "plan": plan.json()["id"],
            "task": tasks.json()["items"][0]["id"],
        }
    return _CARE[key]


def _plan_body(c: Ctx) -> dict[str, Any]:
    proposal = c.client.get(
        f"{c.p1}/care/plan-proposal?assessment_id={c.assessment_id}",
        headers=c.world.auth("clinician"),
    )
    assert proposal.status_code == 200, proposal.text
    return {
        "assessment_id": c.assessment_id,
        "decisions": [
            {
                "item_id": item["id"],
                "action": "accept" if item["kind"] == "workup" else "reject",
                "reason": "Not now." if item["reason_required_to"] == "reject" else None,
            }
            for item in proposal.json()["items"]
        ],
        "goals": [
            {"id": "walk", "kind": "patient", "text": "Walk the dog", "target_on": "2199-01-01"}
        ],
    }


def _care_url(c: Ctx, what: str) -> str:
    ids = _care(c)
    return {
        "conference": f"{c.p1}/care/conferences/{ids['conference']}",
        "plan": f"{c.p1}/care/plans/{ids['plan']}",
        "task": f"{c.p1}/care/tasks/{ids['task']}",
    }[what]


TABLE += [
    (
        "POST /api/v1/patients/{patient_id}/care/conferences",
        lambda c: (
            "POST",
            f"{c.p1}/care/conferences",
            {
                "json": {
                    "assessment_id": c.assessment_id,
                    "held_on": "2026-07-05",
                    "attendees": [{"name": "Dr B", "discipline": "pain-medicine"}],
                }
            },
        ),
        created(STAFF_WRITE),
    ),
    (
        "GET /api/v1/patients/{patient_id}/care/conferences",
        lambda c: ("GET", f"{c.p1}/care/conferences", {}),
        TEAM_READ,
    ),
    (
        "GET /api/v1/patients/{patient_id}/care/conferences/{conference_id}",
        lambda c: ("GET", _care_url(c, "conference"), {}),
        TEAM_READ,
    ),
    (
        "GET /api/v1/patients/{patient_id}/care/plan-proposal",
        lambda c: ("GET", f"{c.p1}/care/plan-proposal?assessment_id={c.assessment_id}", {}),
        TEAM_READ,
    ),
    (
        # The patient already has an active plan (made first): a clinician is told so (409).
        "POST /api/v1/patients/{patient_id}/care/plans",
        lambda c: (_care(c), ("POST", f"{c.p1}/care/plans", {"json": _plan_body(c)}))[1],
        {**STAFF_WRITE, "clinician": 409, "coordinator": 403},
    ),
    (
        "POST /api/v1/patients/{patient_id}/care/plans/{plan_id}/amendments",
        lambda c: (
            "POST",
            f"{_care_url(c, 'plan')}/amendments",
            {
                "json": {"reason": "Reviewed", "decisions": []},
                "headers": {"If-Match": c.etag(_care_url(c, "plan"))},
            },
        ),
        created({**STAFF_WRITE, "coordinator": 403, "beta_clinician": 404}),
    ),
    (
        # Its goal is not met yet: the allowed caller learns what is unmet (409), the plan stays.
        "POST /api/v1/patients/{patient_id}/care/plans/{plan_id}/closing",
        lambda c: (
            "POST",
            f"{_care_url(c, 'plan')}/closing",
            {
                "json": {"outcome": "completed"},
                "headers": {"If-Match": c.etag(_care_url(c, "plan"))},
            },
        ),
        {**STAFF_WRITE, "clinician": 409, "coordinator": 403},
    ),
    (
        "GET /api/v1/patients/{patient_id}/care/plans/{plan_id}/versions",
        lambda c: ("GET", f"{_care_url(c, 'plan')}/versions", {}),
        READ,
    ),
    (
        "GET /api/v1/patients/{patient_id}/care/plans/{plan_id}/versions/{number}",
        lambda c: ("GET", f"{_care_url(c, 'plan')}/versions/1", {}),
        READ,
    ),
    (
        "GET /api/v1/patients/{patient_id}/care/plans",
        lambda c: ("GET", f"{c.p1}/care/plans", {}),
        READ,
    ),
    (
        "GET /api/v1/patients/{patient_id}/care/plans/{plan_id}",
        lambda c: ("GET", _care_url(c, "plan"), {}),
        READ,
    ),
    (
        "PATCH /api/v1/patients/{patient_id}/care/plans/{plan_id}",
        lambda c: (
            "PATCH",
            _care_url(c, "plan"),
            {
                "json": {"review_on": "2198-01-01"},
                "headers": {"If-Match": c.etag(_care_url(c, "plan"))},
            },
        ),
        STAFF_WRITE,
    ),
    (
        "GET /api/v1/patients/{patient_id}/care/plans/{plan_id}/tasks",
        lambda c: ("GET", f"{_care_url(c, 'plan')}/tasks", {}),
        READ,
    ),
    (
        # This plan has no taper: the allowed callers learn that (404); the E2E test reads one.
        "GET /api/v1/patients/{patient_id}/care/plans/{plan_id}/taper",
        lambda c: ("GET", f"{_care_url(c, 'plan')}/taper", {}),
        {**READ, "clinician": 404, "coordinator": 404, "patient": 404},
    ),
    (
        "GET /api/v1/patients/{patient_id}/care/plans/{plan_id}/questionnaires",
        lambda c: ("GET", f"{_care_url(c, 'plan')}/questionnaires", {}),
        READ,
    ),
    (
        "POST /api/v1/patients/{patient_id}/care/plans/{plan_id}/goal-checks",
        lambda c: (
            "POST",
            f"{_care_url(c, 'plan')}/goal-checks",
            {"json": {"goal_id": "walk", "checked_on": "2026-08-01", "achieved": False}},
        ),
        created(READ),
    ),
    (
        "GET /api/v1/patients/{patient_id}/care/tasks/{task_id}",
        lambda c: ("GET", _care_url(c, "task"), {}),
        READ,
    ),
    (
        "PATCH /api/v1/patients/{patient_id}/care/tasks/{task_id}",
        lambda c: (
            "PATCH",
            _care_url(c, "task"),
            {"json": {"person": "Dr C"}, "headers": {"If-Match": c.etag(_care_url(c, "task"))}},
        ),
        STAFF_WRITE,
    ),
    (
        "GET /api/v1/patients/{patient_id}/care/tasks/{task_id}/assignments",
        lambda c: ("GET", f"{_care_url(c, 'task')}/assignments", {}),
        READ,
    ),
    (
        # The table's task is not a diagnostic one: a team member is told it records no result.
        "POST /api/v1/patients/{patient_id}/care/tasks/{task_id}/result",
        lambda c: (
            "POST",
            f"{_care_url(c, 'task')}/result",
            {
                "json": {"relief_percent": 80, "confirmatory": False},
                "headers": {"If-Match": c.etag(_care_url(c, "task"))},
            },
        ),
        STAFF_RESULT,
    ),
    (
        "GET /api/v1/patients/{patient_id}/care/outcomes",
        lambda c: ("GET", f"{c.p1}/care/outcomes", {}),
        READ,
    ),
    *[
        (
            f"GET /api/v1/care/worklists/{name}",
            (lambda u: lambda c: ("GET", u, {}))(url),
            TEAM_ANY_ORG,
        )
        for name, url in (
            ("my-tasks", "/api/v1/care/worklists/my-tasks"),
            ("discipline/{discipline}", "/api/v1/care/worklists/discipline/psychology"),
            ("overdue-tasks", "/api/v1/care/worklists/overdue-tasks"),
            ("questionnaires", "/api/v1/care/worklists/questionnaires"),
            ("red-flags", "/api/v1/care/worklists/red-flags"),
            ("plan-reviews", "/api/v1/care/worklists/plan-reviews"),
        )
    ],
    (
        "GET /api/v1/care/worklists/my-discipline",
        lambda c: ("GET", "/api/v1/care/worklists/my-discipline", {}),
        TEAM_NO_DISCIPLINE,
    ),
    ("GET /api/v1/care/cohort", lambda c: ("GET", "/api/v1/care/cohort", {}), TEAM_ANY_ORG),
    ("GET /api/v1/care/cohort.csv", lambda c: ("GET", "/api/v1/care/cohort.csv", {}), TEAM_ANY_ORG),
]


def _alert_url(ctx: Ctx, fresh: bool = False) -> str:
    """An alert of patient one (the red flag its assessment raised), or, ``fresh``, the
    self-harm alert of a new patient (so that each caller's resolve finds one still open)."""
    auth = ctx.world.auth("clinician")
    patient_id = ctx.world.patient_one
    if fresh:
        made = ctx.client.post("/api/v1/patients", json={"name": "Alert Patient"}, headers=auth)
        patient_id = made.json()["id"]
        answered = ctx.client.post(
            f"/api/v1/patients/{patient_id}/questionnaires",
            json={"instrument": "phq-9", "answers": [0, 0, 0, 0, 0, 0, 0, 0, 1]},
            headers=auth,
        )
        assert answered.status_code == 201, answered.text
    found = ctx.client.get("/api/v1/alerts", params={"patient_id": patient_id}, headers=auth)
    return f"/api/v1/alerts/{found.json()['items'][0]['id']}"


def _alert_write(ctx: Ctx, act: str) -> Request:
    url = _alert_url(ctx, fresh=act == "resolve")
    body = {"resolution": "seen-today", "note": "seen"} if act == "resolve" else {}
    return "POST", f"{url}/{act}", {"json": body, "headers": {"If-Match": ctx.etag(url)}}


TABLE += [
    ("GET /api/v1/alerts", lambda c: ("GET", "/api/v1/alerts", {}), TEAM_ANY_ORG),
    ("GET /api/v1/alerts/{alert_id}", lambda c: ("GET", _alert_url(c), {}), STAFF_WRITE),
    (
        "GET /api/v1/patients/{patient_id}/alerts",
        lambda c: ("GET", f"{c.p1}/alerts", {}),
        STAFF_WRITE,
    ),
    (
        "POST /api/v1/alerts/{alert_id}/acknowledge",
        lambda c: _alert_write(c, "acknowledge"),
        STAFF_WRITE,
    ),
    ("POST /api/v1/alerts/{alert_id}/resolve", lambda c: _alert_write(c, "resolve"), STAFF_WRITE),
]


def _username(ctx: Ctx, who: str) -> str:
    response = ctx.client.get("/api/v1/session", headers=ctx.world.auth(who))
    return str(response.json()["username"])


CASES = [
    pytest.param(builder, caller, statuses[caller], id=f"{route} as {caller}")
    for route, builder, statuses in TABLE
    for caller in CALLERS
]


@pytest.mark.parametrize(("build", "caller", "status"), CASES)
def test_endpoint_answers_caller_with_expected_status(
    client: TestClient,
    world: World,
    patient_one_records: int,
    build: Builder,
    caller: str,
    status: int,
) -> None:
    method, url, kwargs = build(Ctx(client, world, patient_one_records))
    headers = dict(kwargs.pop("headers", {}))
    if caller != "anonymous":
        headers.update(world.auth(caller))
    response = client.request(method, url, headers=headers, **kwargs)
    assert response.status_code == status, response.text
    if status >= 400:
        fhir = url.startswith("/fhir/")
        expected = "application/fhir+json" if fhir else "application/problem+json"
        assert response.headers["content-type"] == expected


def test_the_table_covers_every_route(client: TestClient) -> None:
    """A new route must get a row in the table above."""
    spec = client.get("/openapi.json").json()
    documented = {
        f"{method.upper()} {path}"
        for path, operations in spec["paths"].items()
        for method in operations
    }
    # Routes kept out of the OpenAPI document (FHIR and CDS Hooks) need rows too.
    undocumented = {
        f"{method} {route.path_format}"
        for route in iter_route_contexts(client.app.routes)  # type: ignore[attr-defined]
        if str(route.path_format).startswith(("/fhir", "/cds-services"))
        for method in route.methods or ()
        if method != "HEAD"
    }
    assert documented | undocumented == {route for route, _, _ in TABLE} - {"GET /openapi.json"}
