"""Request and response bodies. Unknown keys in request bodies are rejected (422), never ignored."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    field_validator,
    model_validator,
)

from secondlook.care.models import Discipline
from secondlook.platform.access import Role
from secondlook.platform.ids import MAX_ID
from secondlook.store.passwords import MAX_LENGTH as PASSWORD_MAX
from secondlook.store.passwords import MIN_LENGTH as PASSWORD_MIN

T = TypeVar("T")


def _iso_date(value: object) -> object:
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("expected a date as YYYY-MM-DD")
    if not isinstance(value, str | dt.date):
        raise ValueError("expected a date as YYYY-MM-DD")
    return value


# A date in a JSON body: only the string YYYY-MM-DD (not a number of seconds).
IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]


def _json_integer(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("expected an integer")
    return value


# An integer in a JSON body: a number without fraction, not true/false and not a string.
JsonInt = Annotated[int, BeforeValidator(_json_integer)]
# (Bounds go before the validator, or the JSON Schema shows them as `ge`/`le`.)
IdInt = Annotated[int, Field(ge=1, le=MAX_ID), BeforeValidator(_json_integer)]
DaysInt = Annotated[int, Field(ge=1, le=3650), BeforeValidator(_json_integer)]


NO_NUL = "^[^\\x00]*$"


def _no_nul_in_schema(schema: dict[str, Any]) -> None:
    """Say in the JSON Schema what `_no_nul` enforces (PostgreSQL cannot store NUL)."""
    for prop in schema.get("properties", {}).values():
        for option in prop.get("anyOf", [prop]):
            if (
                option.get("type") == "string"
                and "pattern" not in option
                and "format" not in option
            ):
                option["pattern"] = NO_NUL


class Strict(BaseModel):
    """A request body: unknown keys and NUL characters in text are refused."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_no_nul_in_schema)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("text must not contain NUL characters")
        return value


class Page(BaseModel, Generic[T]):
    items: list[T]
    next: str | None = Field(description="the next page, or null on the last page")


# --- patients ---------------------------------------------------------------------------------

Name = Field(min_length=1, max_length=200)
Mrn = Field(default=None, min_length=1, max_length=64, description="medical record number")


class PatientIn(Strict):
    name: str = Name
    mrn: str | None = Mrn
    birth_date: IsoDate | None = None


def _name_not_nullable(schema: dict[str, Any]) -> None:
    _no_nul_in_schema(schema)
    schema["properties"]["name"] = {
        "type": "string",
        "minLength": 1,
        "maxLength": 200,
        "pattern": NO_NUL,
    }


class PatientPatch(Strict):
    """Only the keys you send change; `mrn` and `birth_date` may be set to null."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_name_not_nullable)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    mrn: str | None = Mrn
    birth_date: IsoDate | None = None

    @model_validator(mode="after")
    def _name_not_null(self) -> PatientPatch:
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name cannot be null")
        return self


class PatientOut(BaseModel):
    id: int
    name: str
    mrn: str | None
    birth_date: dt.date | None
    version: int = Field(description="the patient's ETag; send it in If-Match to PATCH")
    case_version: int = Field(description="number of the current case version, 0 = no case yet")
    created_at: dt.datetime
    updated_at: dt.datetime


# --- case versions ----------------------------------------------------------------------------


class CaseVersionSummary(BaseModel):
    patient_id: int
    version: int
    created_at: dt.datetime
    created_by: int | None
    href: str


class CaseVersionOut(CaseVersionSummary):
    document: dict[str, Any] = Field(description="the validated case document (CONTRACT.md §1)")


# --- assessments ------------------------------------------------------------------------------


class AssessmentRequest(Strict):
    case_version: IdInt | None = Field(
        default=None,
        description="assess this case version instead of the current one",
    )


class AssessmentSummary(BaseModel):
    id: int
    patient_id: int
    case_version: int
    knowledge_version: str
    engine_version: str
    created_at: dt.datetime
    created_by: int | None
    red_flags: list[str] = Field(description="ids of the red flags found")
    safety_alerts: list[str] = Field(description="ids of the safety alerts raised")
    href: str


class AssessmentOut(AssessmentSummary):
    document: dict[str, Any] = Field(description="the assessment document (CONTRACT.md §2)")


# --- questionnaires ---------------------------------------------------------------------------


class QuestionnaireIn(Strict):
    instrument: str = Field(min_length=1, max_length=32, examples=["phq-9"])
    answers: list[JsonInt | None] = Field(
        default_factory=list,
        max_length=100,
        description="item answers in the published order; null = skipped",
    )
    answered_on: IsoDate | None = Field(default=None, description="defaults to today (UTC)")
    total: float | None = Field(
        default=None,
        allow_inf_nan=False,
        description="the total alone, for a form whose item answers were not kept (then no "
        "`answers`); item-level alerts cannot be judged from a total (see `problems`)",
    )
    on_paper: StrictBool = Field(
        default=False,
        description="answered on paper and entered by you (recorded as `source` paper, with "
        "you as `created_by`)",
    )


class QuestionnaireOut(BaseModel):
    id: int
    patient_id: int
    instrument: str
    answered_on: dt.date
    answers: list[int | None]
    score: float | None
    max_score: float | None
    band: str | None
    subscales: dict[str, Any]
    alerts: list[str] = Field(description="safety alerts, e.g. self-harm-risk; act on them")
    problems: list[str]
    source: str | None = Field(
        default=None, description="paper: entered from a paper form by `created_by`"
    )
    created_at: dt.datetime
    created_by: int | None
    href: str


# --- history ----------------------------------------------------------------------------------


class HistoryItem(BaseModel):
    kind: Literal["case_version", "assessment", "questionnaire_response"]
    at: dt.datetime
    id: int
    href: str
    version: int | None = Field(default=None, description="case_version: its number")
    case_version: int | None = Field(default=None, description="assessment: the case version")
    knowledge_version: str | None = None
    engine_version: str | None = None
    red_flags: list[str] | None = None
    safety_alerts: list[str] | None = None
    instrument: str | None = None
    score: float | None = None
    band: str | None = None
    alerts: list[str] | None = None


# --- accounts ---------------------------------------------------------------------------------

Username = Field(min_length=3, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")


class LoginIn(Strict):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)


class SessionOut(BaseModel):
    user_id: int
    username: str
    role: Role
    organization_id: int
    patient_id: int | None
    via: Literal["token", "session"]


class UserIn(Strict):
    username: str = Username
    role: Role
    password: str | None = Field(default=None, min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)
    patient_id: IdInt | None = Field(default=None, description="required for role patient")


class UserPatch(Strict):
    active: StrictBool | None = None
    password: str | None = Field(default=None, min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)
    discipline: Discipline | None = Field(
        default=None,
        description="the care discipline a clinician or coordinator works in; send null to "
        "clear it (leave it out to keep it)",
    )
    role: Literal["clinician", "coordinator", "admin"] | None = Field(
        default=None,
        description="another staff role for a clinician, coordinator or administrator (a "
        "patient user stays one); an administrator cannot change their own",
    )


class UserOut(BaseModel):
    id: int
    username: str
    role: Role
    patient_id: int | None
    active: bool
    discipline: Discipline | None = None
    version: int
    created_at: dt.datetime


class TokenIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    expires_in_days: DaysInt | None = None


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str = Field(description="the first characters of the token, to recognise it")
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="the secret; shown only in this response")


# --- audit ------------------------------------------------------------------------------------


class AuditEventOut(BaseModel):
    id: int
    at: dt.datetime
    actor_user_id: int | None
    actor_username: str | None
    actor_role: str | None
    action: str
    patient_id: int | None
    resource: str
    outcome: Literal["success", "denied", "failed"]
    status: int
    client: str | None
    detail: str | None
    disclosed_patient_ids: list[int] = Field(
        default_factory=list,
        description="the patients a list showed (patient list and search, worklists, cohort, "
        "FHIR Patient search); `patient_id` filters match these too",
    )


class Health(BaseModel):
    status: Literal["ok"]
