"""Who is acting, from where, and what each role may do: one table for the REST API, the web
pages, the command line and the FHIR server alike (docs/architecture.md).

A service receives an :class:`Access` (never a framework request), checks it against
:data:`PERMISSIONS` and records it in the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

Role = Literal["clinician", "coordinator", "patient", "admin"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)
ROLE_LABELS: Final[dict[Role, str]] = {
    "clinician": "Clinician",
    "coordinator": "Care coordinator",
    "admin": "Administrator",
    "patient": "Patient",
}

ALL_CLINICAL: Final = frozenset({"clinician", "coordinator", "patient"})
STAFF: Final = frozenset({"clinician", "coordinator"})
EVERYONE: Final = frozenset(ROLES)

# Who may do what. Admins manage accounts and read the audit trail; they do not see clinical
# data. Patients see their own record and answer their own questionnaires. Running an
# assessment is a clinical act and is kept to clinicians.
PERMISSIONS: Final[dict[str, frozenset[str]]] = {
    "patient.list": ALL_CLINICAL,
    "patient.create": STAFF,
    "patient.read": ALL_CLINICAL,
    "patient.update": STAFF,
    "case.read": ALL_CLINICAL,
    "case.write": STAFF,
    "assessment.create": frozenset({"clinician"}),
    "assessment.read": ALL_CLINICAL,
    "questionnaire.create": ALL_CLINICAL,
    "questionnaire.read": ALL_CLINICAL,
    "history.read": ALL_CLINICAL,
    # Care coordination (docs/care.md). Deciding a plan is a clinical act (clinicians); the team
    # (clinicians and coordinators) records conferences, moves tasks and keeps plans up to
    # date; a patient reads their own plan, tasks and outcomes and checks their own goals.
    "care.conference.create": STAFF,
    "care.conference.read": STAFF,
    "care.plan.propose": STAFF,
    "care.plan.create": frozenset({"clinician"}),
    "care.plan.read": ALL_CLINICAL,
    "care.plan.update": STAFF,
    # Amending a plan re-decides its items, and closing one ends or replaces the team's plan:
    # clinical acts, as deciding it is.
    "care.plan.amend": frozenset({"clinician"}),
    "care.plan.close": frozenset({"clinician"}),
    "care.task.read": ALL_CLINICAL,
    "care.task.update": STAFF,
    "care.goal-check.create": ALL_CLINICAL,
    "care.outcome.read": ALL_CLINICAL,
    "care.worklist.read": STAFF,
    "care.cohort.read": STAFF,
    # A patient chooses, and can stop, reminders of due questionnaires (docs/notifications.md).
    "reminder.read": frozenset({"patient"}),
    "reminder.update": frozenset({"patient"}),
    # Everyone chooses the language of their own pages (the portal offers it to patients).
    "language.read": EVERYONE,
    "language.update": EVERYONE,
    # Alerts (docs/care.md, "Alerts"): the team reads the inbox and acknowledges and resolves
    # alerts; a patient is told what to do by their warnings, never shown the inbox.
    "alert.read": STAFF,
    "alert.update": STAFF,
    # Everyone manages their own API tokens and ends their own session; an administrator may
    # also revoke any token of the organization (services.accounts.revoke_token).
    "session.end": EVERYONE,
    "token.create": EVERYONE,
    "token.read": EVERYONE,
    "token.revoke": EVERYONE,
    # Administrators see every token of the organization (owner, prefix, dates: never a
    # secret) and the site's settings, and invite patients to the portal.
    "token.read-all": frozenset({"admin"}),
    "settings.read": frozenset({"admin"}),
    "invitation.create": frozenset({"admin"}),
    "invitation.read": frozenset({"admin"}),
    "audit.read": frozenset({"admin"}),
    "user.read": frozenset({"admin"}),
    "user.write": frozenset({"admin"}),
    # FHIR REST API (/fhir): the same rule as reading a patient's records; the shipped
    # Questionnaires are definitions, not patient data, so every signed-in role may read them.
    "fhir.read": ALL_CLINICAL,
    "fhir.search": ALL_CLINICAL,
    "fhir.definition.read": EVERYONE,
    # The knowledge book is the rules, not patient data; the team reads it.
    "knowledge.read": STAFF,
}


@dataclass(frozen=True)
class Principal:
    """Who is making a request, as the rest of the code needs to know it."""

    user_id: int
    username: str
    role: str
    organization_id: int
    patient_id: int | None
    credential_id: int
    credential_kind: str
    #: The language the user chose (``en``, ``es``), None when not chosen.
    language: str | None = None


@dataclass(frozen=True)
class Access:
    """An act of a principal: who, from which client (an address, or ``cli``), through what
    (``GET /api/v1/patients/3``, ``web POST /clinic/...``, ``cli care worklist``)."""

    principal: Principal
    client: str
    via: str

    @property
    def organization_id(self) -> int:
        return self.principal.organization_id


def may(role: str, action: str) -> bool:
    """Whether ``role`` may do ``action`` (an unknown action is a programming error)."""
    return role in PERMISSIONS[action]


def sees_patient(principal: Principal, patient_id: int) -> bool:
    """A patient sees only their own record; staff see every patient of their organization
    (the organization is checked by the query that loads the record)."""
    return principal.role != "patient" or principal.patient_id == patient_id
