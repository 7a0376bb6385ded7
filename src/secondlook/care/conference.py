"""Case conference: the agenda from an assessment, and the record of the meeting.

The agenda puts red flags and safety alerts first, then the five seats of the evaluation
(CONTRACT.md §2 ``perspectives``) in their fixed order, each with its findings and needs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from secondlook.care.models import DISCIPLINES, AssessmentRef, CareInvalid, Discipline
from secondlook.knowledge.models import PERSPECTIVES

AgendaKind = Literal["red-flag", "safety-alert", "perspective"]
#: What a conference may decide about a plan item: the builder then starts from it.
PlanAction = Literal["accept", "reject"]


@dataclass(frozen=True, slots=True)
class AgendaItem:
    """One item of a conference agenda. ``key`` is the red flag, alert or perspective id."""

    position: int
    kind: AgendaKind
    key: str
    title: str
    urgency: str | None
    findings: tuple[str, ...]
    needs: tuple[str, ...]


def conference_agenda(assessment: Mapping[str, Any]) -> list[AgendaItem]:
    """The agenda: every red flag (most urgent first, as the engine ranks them), every safety
    alert, then the five perspectives in their fixed order, even when one has nothing to say (a
    seat with no findings is itself worth a look)."""
    out: list[AgendaItem] = []

    def add(kind: AgendaKind, key: str, title: str, urgency: str | None, f: Any, n: Any) -> None:
        out.append(
            AgendaItem(len(out) + 1, kind, key, title, urgency, tuple(map(str, f)), tuple(n))
        )

    for flag in assessment.get("red_flags", []):
        add(
            "red-flag",
            flag["id"],
            f"Red flag: {flag.get('name', flag['id'])}",
            flag["urgency"],
            flag.get("because", []),
            [flag["action"]],
        )
    for alert in assessment.get("safety_alerts", []):
        add(
            "safety-alert",
            alert["id"],
            f"Safety alert: {alert.get('name', alert['id'])}",
            "urgent",
            alert.get("because", []),
            [alert["action"]],
        )
    by_id = {p["id"]: p for p in assessment.get("perspectives", [])}
    for perspective in PERSPECTIVES:
        seat = by_id.get(perspective, {"findings": [], "needs": []})
        add(
            "perspective",
            perspective,
            perspective.replace("-", " ").capitalize(),
            None,
            seat["findings"],
            seat["needs"],
        )
    return out


@dataclass(frozen=True, slots=True)
class Attendee:
    """Someone at the conference: a user of the organization (``user_id``) or a guest."""

    name: str
    discipline: Discipline
    user_id: int | None = None


@dataclass(frozen=True, slots=True)
class Dissent:
    """A recorded disagreement with a decision, by an attendee (named as in ``attendees``)."""

    attendee: str
    text: str


@dataclass(frozen=True, slots=True)
class ConferenceDecision:
    """A decision of the conference. ``agenda_key`` ties it to an agenda item (or ``None``
    for a general decision); ``plan_item_id`` and ``plan_action`` say what it decided about an
    item the plan builder will propose (accept or reject it), the text being the reason."""

    id: str
    text: str
    agenda_key: str | None = None
    dissent: tuple[Dissent, ...] = ()
    plan_item_id: str | None = None
    plan_action: PlanAction | None = None


@dataclass(frozen=True, slots=True)
class Conference:
    id: str
    patient_id: str
    held_on: dt.date
    assessment: AssessmentRef
    attendees: tuple[Attendee, ...]
    agenda: tuple[AgendaItem, ...]
    decisions: tuple[ConferenceDecision, ...]


def record_conference(
    *,
    id: str,
    patient_id: str,
    held_on: dt.date,
    assessment: Mapping[str, Any],
    assessment_ref: AssessmentRef,
    attendees: Sequence[Attendee],
    decisions: Sequence[ConferenceDecision],
    plan_item_ids: Sequence[str] | None = None,
) -> Conference:
    """A validated conference record; every problem is reported at once (``CareInvalid``).

    Checks: at least one attendee, known disciplines, decisions with text and unique ids,
    decisions tied to an agenda item that exists, dissent only by someone who attended, a plan
    item decided only with an action and only when the proposal has it (``plan_item_ids``), and
    an assessment reference whose versions match the assessment shown.
    """
    problems: list[str] = []
    if not attendees:
        problems.append("attendees: a conference needs at least one attendee")
    for i, person in enumerate(attendees):
        if person.discipline not in DISCIPLINES:
            problems.append(
                f"attendees[{i}] ({person.name}): unknown discipline {person.discipline!r}; "
                f"use one of {', '.join(DISCIPLINES)}"
            )
    for key in ("knowledge_version", "engine_version"):
        if str(assessment.get(key)) != getattr(assessment_ref, key):
            problems.append(
                f"assessment_ref.{key}: {getattr(assessment_ref, key)!r} does not match the "
                f"assessment shown ({assessment.get(key)!r})"
            )
    agenda = conference_agenda(assessment)
    keys = {item.key for item in agenda}
    names = {person.name for person in attendees}
    seen: set[str] = set()
    for decision in decisions:
        where = f"decision {decision.id!r}"
        if (decision.plan_item_id is None) != (decision.plan_action is None):
            problems.append(f"{where}: a decision about a plan item names both item and action")
        if decision.plan_action is not None and decision.plan_action not in get_args(PlanAction):
            problems.append(
                f"{where}: unknown plan action {decision.plan_action!r}; use accept or reject"
            )
        if (
            decision.plan_item_id is not None
            and plan_item_ids is not None
            and decision.plan_item_id not in plan_item_ids
        ):
            problems.append(
                f"{where}: plan item {decision.plan_item_id!r} is not among the items the plan "
                "builder proposes for this assessment"
            )
        if decision.id in seen:
            problems.append(f"{where}: the id is used twice")
        seen.add(decision.id)
        if not decision.text.strip():
            problems.append(f"{where}: the decision has no text")
        if decision.agenda_key is not None and decision.agenda_key not in keys:
            problems.append(f"{where}: agenda item {decision.agenda_key!r} is not on the agenda")
        for dissent in decision.dissent:
            if dissent.attendee not in names:
                problems.append(f"{where}: dissent by {dissent.attendee!r}, who did not attend")
            if not dissent.text.strip():
                problems.append(f"{where}: dissent by {dissent.attendee!r} has no text")
    if problems:
        raise CareInvalid(problems)
    return Conference(
        id=id,
        patient_id=patient_id,
        held_on=held_on,
        assessment=assessment_ref,
        attendees=tuple(attendees),
        agenda=tuple(agenda),
        decisions=tuple(decisions),
    )
