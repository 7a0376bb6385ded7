"""Care coordination pages of the clinician workspace: the case conference form, the plan
builder (accept / edit / reject each suggested item, with the reasons the care domain asks
for) and the task board of a patient's plan (by discipline, columns by status).

The conference and plan pages call `services.plans`, the task board, task moves and worklists
`services.care`, as the API does: the permissions and audit actions are the care API's
(docs/care.md), and the care domain's refusals are shown on the page at the item they are
about, never turned into a block of their own."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from secondlook.care import (
    DISCIPLINES,
    AgendaItem,
    Attendee,
    Decision,
    Edit,
    Goal,
    PlanDraft,
    reason_required,
    suggested_action,
)
from secondlook.care.results import FINDINGS, SIDES
from secondlook.care.vocabulary import CLOSE_OUTCOMES, OWNERS, TASK_STATUSES
from secondlook.http.deps import SessionDep, access_of, path_id
from secondlook.platform import clock
from secondlook.platform.access import Access, Principal
from secondlook.platform.errors import Refused
from secondlook.platform.ids import MAX_ID
from secondlook.platform.preconditions import IfMatchVersion
from secondlook.services import alerts, care, plans
from secondlook.web.clinic import PatientPath
from secondlook.web.common import StaffUser, redirect, render

router = APIRouter(prefix="/clinic")
TaskPath = Annotated[int, path_id("the task's id")]
PlanPath = Annotated[int, path_id("the plan's id")]

ATTENDEE_SLOTS = 6
MAX_TEXT = 2000


def _text(form: FormData, name: str, limit: int = MAX_TEXT) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _day(form: FormData, name: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(_text(form, name, 10))
    except ValueError:
        return None


def _problems(exc: Refused) -> list[str]:
    if exc.status != 422 or not exc.errors:
        raise exc
    return [e.message for e in exc.errors]


# --- case conference ---------------------------------------------------------------------------

GUEST_SLOTS = 3


def _conference_page(
    request: Request,
    form: plans.ConferenceForm,
    *,
    values: dict[str, str] | None = None,
    chosen: Sequence[str] = (),
    errors: Sequence[str] = (),
    status: int = 200,
) -> Response:
    return render(
        request,
        "clinic/conference.html",
        {
            "patient": form.patient,
            "assessment_id": form.assessment.id,
            "agenda": form.agenda,
            "items": form.items,
            "team": form.team,
            "chosen": set(chosen),
            "disciplines": DISCIPLINES,
            "guests": range(GUEST_SLOTS),
            "values": values or {"held_on": clock.today().isoformat()},
            "errors": list(errors),
        },
        status=status,
    )


@router.get("/patients/{patient_id}/conference")
def conference_form(
    patient_id: PatientPath, request: Request, session: SessionDep, user: StaffUser
) -> Response:
    form = plans.conference_form(session, access=access_of(request, user), patient_id=patient_id)
    return _conference_page(request, form)


def _attendees(form: FormData, team: Sequence[Any]) -> tuple[list[Attendee], list[str], list[str]]:
    """The attendees the form names (the team members ticked, then the guests), the ticked
    user ids as sent, and the problems of the form itself."""
    by_id = {str(u.id): u for u in team}
    chosen = [v for v in form.getlist("attendee-user") if isinstance(v, str)]
    attendees: list[Attendee] = []
    problems: list[str] = []
    for value in chosen:
        member = by_id.get(value)
        if member is None:
            problems.append("attendees: a chosen attendee is no longer an active team member")
            continue
        discipline = member.discipline or _text(form, f"attendee-user-{value}-discipline", 40)
        if not discipline:
            problems.append(f"attendees ({member.username}): choose the discipline they attend for")
            continue
        attendees.append(Attendee(member.username, discipline, member.id))  # type: ignore[arg-type]
    for i in range(GUEST_SLOTS):
        name = _text(form, f"guest-{i}-name", 200)
        if name:
            attendees.append(Attendee(name, _text(form, f"guest-{i}-discipline", 40)))  # type: ignore[arg-type]
    return attendees, chosen, problems


def _titled(problems: Sequence[str], agenda: Sequence[AgendaItem]) -> list[str]:
    """The domain's problems with a decision named by the agenda item the team wrote it under
    (the form's decision ids are its own, never shown)."""
    titles = {f"decision 'd{i + 1}'": item.title for i, item in enumerate(agenda)}
    titles[f"decision 'd{len(agenda) + 1}'"] = "General decision"
    out = []
    for problem in problems:
        head, sep, rest = problem.partition(": ")
        out.append(f"{titles[head]}: {rest}" if sep and head in titles else problem)
    return out


@router.post("/patients/{patient_id}/conference")
async def conference_save(
    patient_id: PatientPath, request: Request, session: SessionDep, user: StaffUser
) -> Response:
    form = await request.form()
    values = {k: v.strip()[:MAX_TEXT] for k, v in form.items() if isinstance(v, str)}
    access = access_of(request, user)
    # Read first (its own audit event): the decisions are placed on the assessment's agenda.
    page = plans.conference_form(session, access=access, patient_id=patient_id)
    attendees, chosen, errors = _attendees(form, page.team)
    decisions = _conference_decisions(form, page.agenda)
    held_on = _day(form, "held_on")
    if held_on is None:
        errors.append("held_on: enter the date of the conference")
    if not decisions:
        errors.append("decisions: record at least one decision")
    conference = None
    if not errors:
        assert held_on is not None
        try:
            conference = plans.create_conference(
                session,
                access=access,
                patient_id=patient_id,
                assessment_id=page.assessment.id,
                held_on=held_on,
                attendees=attendees,
                decisions=decisions,
            )
        except Refused as exc:
            errors = _titled(_problems(exc), page.agenda)
    if conference is None:
        return _conference_page(
            request, page, values=values, chosen=chosen, errors=errors, status=422
        )
    return redirect(f"/clinic/patients/{patient_id}/conferences/{conference.id}")


def _conference_decisions(form: FormData, agenda: Sequence[AgendaItem]) -> list[dict[str, Any]]:
    """The decisions the form records, one per filled agenda slot (the last slot is about no
    agenda item), as the conference's JSON documents; a decision may also accept or reject one
    plan item."""
    decisions: list[dict[str, Any]] = []
    for position, item in enumerate([*agenda, None]):
        key = f"decision-{position}"
        text = _text(form, key)
        if not text:
            continue
        dissent_by = _text(form, f"{key}-dissent-by", 200)
        dissent_text = _text(form, f"{key}-dissent")
        dissent = (
            [{"attendee": dissent_by, "text": dissent_text}] if dissent_by or dissent_text else []
        )
        plan_item = _text(form, f"{key}-item", 200) or None
        action = _text(form, f"{key}-action", 10) or None
        decisions.append(
            {
                "id": f"d{position + 1}",
                "text": text,
                "agenda_key": item.key if item else None,
                "dissent": dissent,
                "plan_item_id": plan_item,
                "plan_action": action if plan_item else None,
            }
        )
    return decisions


@router.get("/patients/{patient_id}/conferences/{conference_id}")
def conference_minutes(
    patient_id: PatientPath,
    conference_id: Annotated[int, path_id("the conference's id")],
    request: Request,
    session: SessionDep,
    user: StaffUser,
) -> Response:
    """A recorded conference as minutes: who attended, what was decided on each agenda item
    and why, any dissent, who recorded it and when. Printable as it is."""
    minutes = plans.conference_minutes(
        session, access=access_of(request, user), patient_id=patient_id, conference_id=conference_id
    )
    conference = minutes.conference
    by_agenda: dict[str | None, list[dict[str, Any]]] = {}
    for decision in conference.decisions:
        by_agenda.setdefault(decision.get("agenda_key"), []).append(decision)
    return render(
        request,
        "clinic/conference_minutes.html",
        {
            "patient": minutes.patient,
            "conference": conference,
            "by_agenda": by_agenda,
            "user_names": minutes.user_names,
            "item_names": minutes.item_names,
        },
    )


# --- plan builder ------------------------------------------------------------------------------


def _item_errors(problems: Sequence[str], item_ids: Sequence[str], goal_ids: Sequence[str]) -> Any:
    """The domain's problems placed at their item or goal (by the id they start with); the
    rest belong to the whole form."""
    at_item: dict[str, list[str]] = {}
    at_goal: dict[str, list[str]] = {}
    general: list[str] = []
    for problem in problems:
        head, _, rest = problem.partition(": ")
        goal = re.match(r"goal '([^']*)'", head)
        if head in item_ids:
            at_item.setdefault(head, []).append(rest or problem)
        elif goal and goal.group(1) in goal_ids:
            at_goal.setdefault(goal.group(1), []).append(rest or problem)
        else:
            general.append(problem)
    return at_item, at_goal, general


def _plan_page(
    request: Request,
    user: Principal,
    builder: plans.PlanBuilder,
    *,
    form: FormData | None = None,
    problems: Sequence[str] = (),
    status: int = 200,
    conference: plans.ConferenceStart | None = None,
) -> Response:
    draft = builder.draft
    decided = conference.decisions if conference is not None else {}
    items = []
    for i, item in enumerate(draft.items):
        # An amendment starts from the plan's decisions; a new plan from the conference's
        # decisions where it took one, else from the suggestion (recommended proposed,
        # "consider" undecided). Each is still a choice the clinician sends.
        entry = builder.current.get(item.id)
        edit = entry.edit if entry is not None else None
        agreed = decided.get(item.id) if entry is None else None
        default = (
            entry.action
            if entry is not None
            else agreed.action
            if agreed is not None
            else suggested_action(item) or ""
        )
        items.append(
            {
                "n": i,
                "item": item,
                "entry": entry,
                "new": item.id in builder.new_items,
                "needs_reason": "reject"
                if reason_required(item, "reject")
                else "accept"
                if reason_required(item, "accept")
                else None,
                "action": _text(form, f"action-{i}", 10) if form else default,
                "reason": _text(form, f"reason-{i}")
                if form
                else (entry and entry.reason) or (agreed and agreed.reason) or "",
                "from_conference": agreed is not None,
                "owner": _text(form, f"owner-{i}", 40) if form else (edit and edit.owner) or "",
                "due": _text(form, f"due-{i}", 10)
                if form
                else (edit.due.isoformat() if edit and edit.due else ""),
                "note": _text(form, f"note-{i}") if form else (edit and edit.note) or "",
            }
        )
    goals = [
        {
            "n": j,
            "goal": g,
            "keep": (form.get(f"goal-{j}-keep") == "yes") if form else True,
            "target": _text(form, f"goal-{j}-target", 10) if form else g.target_on.isoformat(),
        }
        for j, g in enumerate(draft.goals)
    ]
    at_item, at_goal, general = _item_errors(
        problems, [it.id for it in draft.items], [g.id for g in draft.goals]
    )
    review = draft.review_on.isoformat() if draft.review_on else ""
    return render(
        request,
        "clinic/plan.html",
        {
            "patient": builder.patient,
            "assessment_id": builder.assessment.id,
            "items": items,
            "goals": goals,
            "owners": OWNERS,
            "review_on": _text(form, "review_on", 10) if form else review,
            "new_goal_text": _text(form, "new_goal_text") if form else "",
            "new_goal_target": _text(form, "new_goal_target", 10) if form else "",
            "item_errors": at_item,
            "goal_errors": at_goal,
            "general_errors": general,
            "error_count": len(problems),
            "can_decide": user.role == "clinician",
            "plan": builder.plan,
            "amend_reason": _text(form, "amend_reason") if form else "",
            "conference": conference,
        },
        status=status,
    )


def _conference_start(
    session: Session, access: Access, patient_id: int, conference_id: int | None
) -> plans.ConferenceStart | None:
    if conference_id is None:
        return None
    return plans.conference_start(
        session, access=access, patient_id=patient_id, conference_id=conference_id
    )


@router.get("/patients/{patient_id}/plan")
def plan_form(
    patient_id: PatientPath,
    request: Request,
    session: SessionDep,
    user: StaffUser,
    conference: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    """The plan builder; ``?conference=`` starts a new plan from that conference's decisions
    (an active plan is amended from its own)."""
    access = access_of(request, user)
    builder = plans.plan_builder(session, access=access, patient_id=patient_id)
    start = (
        None
        if builder.plan is not None
        else _conference_start(session, access, patient_id, conference)
    )
    return _plan_page(request, user, builder, conference=start)


def _goals(form: FormData, suggested: Sequence[Goal]) -> tuple[list[Goal], list[str]]:
    goals: list[Goal] = []
    problems: list[str] = []
    for j, goal in enumerate(suggested):
        if form.get(f"goal-{j}-keep") != "yes":
            continue
        target = _day(form, f"goal-{j}-target")
        if target is None:
            problems.append(f"goal {goal.id!r}: enter the target date")
            continue
        goals.append(_replace_target(goal, target))
    text = _text(form, "new_goal_text", 500)
    if text:
        target = _day(form, "new_goal_target")
        if target is None:
            problems.append("new goal: enter its target date")
        else:
            taken = {g.id for g in suggested}
            gid = next(f"patient-{k}" for k in range(1, 100) if f"patient-{k}" not in taken)
            goals.append(Goal(id=gid, kind="patient", text=text, target_on=target))
    return goals, problems


def _replace_target(goal: Goal, target: dt.date) -> Goal:
    return dataclasses.replace(goal, target_on=target)


@router.post("/patients/{patient_id}/plan")
async def plan_save(
    patient_id: PatientPath, request: Request, session: SessionDep, user: StaffUser
) -> Response:
    form = await request.form()
    access = access_of(request, user)
    # Propose first (its own audit event): the form's decisions are by the proposal's items.
    builder = plans.plan_builder(session, access=access, patient_id=patient_id)
    decisions = _plan_decisions(form, builder.draft)
    goals, problems = _goals(form, builder.draft.goals)
    review_on = _day(form, "review_on")
    if _text(form, "review_on") and review_on is None:
        problems.append("review_on: enter a date")
    if builder.plan is not None:
        return _amend(request, session, user, builder, form, decisions, goals, review_on, problems)
    conference_id = _int(form, "conference_id")
    start = (
        _conference_start(session, access, patient_id, conference_id) if conference_id > 0 else None
    )
    if not problems:
        try:
            plans.create_plan(
                session,
                access=access,
                patient_id=patient_id,
                assessment_id=builder.assessment.id,
                decisions=decisions,
                decided_on=clock.today(),
                goals=goals,
                review_on=review_on,
                conference_id=start.conference_id if start is not None else None,
            )
        except Refused as exc:
            problems = _problems(exc)
    if problems:
        return _plan_page(
            request, user, builder, form=form, problems=problems, status=422, conference=start
        )
    return redirect(f"/clinic/patients/{patient_id}/tasks")


def _amend(
    request: Request,
    session: Session,
    user: Principal,
    builder: plans.PlanBuilder,
    form: FormData,
    decisions: list[Decision],
    goals: list[Goal],
    review_on: dt.date | None,
    problems: list[str],
) -> Response:
    """The builder's form as an amendment of the active plan (a new version, If-Match from the
    version the form was read at)."""
    plan = builder.plan
    assert plan is not None
    # Without a reason the service still authorizes and audits the act before it refuses it.
    reason = _text(form, "amend_reason")
    status = 422
    if not problems:
        try:
            plans.amend_plan(
                session,
                access=access_of(request, user),
                patient_id=plan.patient_id,
                plan_id=plan.id,
                expected=IfMatchVersion.of(max(_int(form, "version"), 0)),
                decisions=decisions,
                reason=reason,
                decided_on=clock.today(),
                goals=goals,
                review_on=review_on,
            )
        except Refused as exc:
            if exc.status == 412:
                problems, status = [_STALE_PLAN], 412
            else:
                problems = _problems(exc)
    if problems:
        return _plan_page(request, user, builder, form=form, problems=problems, status=status)
    return redirect(f"/clinic/patients/{plan.patient_id}/plans/{plan.id}")


_STALE_PLAN = (
    "Someone else changed this plan meanwhile; it is shown as it is now. Check it and send "
    "your change again."
)


def _int(form: FormData, name: str) -> int:
    try:
        return int(_text(form, name, 12))
    except ValueError:
        return -1


# --- a plan, its versions and its closing ------------------------------------------------------


def _plan_view(
    request: Request,
    user: Principal,
    found: plans.PlanVersions,
    *,
    message: str | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "clinic/plan_view.html",
        {
            "plan": found.plan,
            "patient_id": found.plan.patient_id,
            "versions": list(reversed(found.versions)),
            "current": found.versions[-1] if found.versions else None,
            "outcomes": CLOSE_OUTCOMES,
            "can_decide": user.role == "clinician",
            "message": message,
            "values": values or {},
        },
        status=status,
    )


@router.get("/patients/{patient_id}/plans/{plan_id}")
def plan_view(
    patient_id: PatientPath,
    plan_id: PlanPath,
    request: Request,
    session: SessionDep,
    user: StaffUser,
) -> Response:
    found = plans.plan_versions(
        session, access=access_of(request, user), patient_id=patient_id, plan_id=plan_id
    )
    return _plan_view(request, user, found)


@router.post("/patients/{patient_id}/plans/{plan_id}/closing")
async def plan_close(
    patient_id: PatientPath,
    plan_id: PlanPath,
    request: Request,
    session: SessionDep,
    user: StaffUser,
) -> Response:
    form = await request.form()
    access = access_of(request, user)
    outcome = _text(form, "outcome", 20)
    reason = _text(form, "reason")
    values = {"outcome": outcome, "reason": reason, "carry_over": _text(form, "carry_over", 3)}
    try:
        if outcome not in CLOSE_OUTCOMES:
            raise Refused(422, "Choose how the plan ends: completed, discharged or replaced.")
        plans.close_plan(
            session,
            access=access,
            patient_id=patient_id,
            plan_id=plan_id,
            expected=IfMatchVersion.of(max(_int(form, "version"), 0)),
            outcome=outcome,
            reason=reason,
            on=clock.today(),
            carry_over=outcome == "replaced" and values["carry_over"] == "yes",
        )
    except Refused as exc:
        if exc.status not in (409, 412, 422):
            raise
        if exc.status == 412:
            detail = _STALE_PLAN
        elif exc.errors:
            # The domain's problems name their field first ("reason: ..."); the form says it.
            detail = "; ".join(_sentence(e.message) for e in exc.errors)
        else:
            detail = exc.detail or ""
        found = plans.plan_versions(session, access=access, patient_id=patient_id, plan_id=plan_id)
        return _plan_view(request, user, found, message=detail, values=values, status=exc.status)
    if outcome == "replaced":
        return redirect(f"/clinic/patients/{patient_id}/plan")
    return redirect(f"/clinic/patients/{patient_id}/plans/{plan_id}")


def _sentence(problem: str) -> str:
    text = problem.split(": ", 1)[-1]
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _plan_decisions(form: FormData, draft: PlanDraft) -> list[Decision]:
    """One decision per proposed item, as the form's rows say (an edit without a change is an
    accept)."""
    decisions = []
    for i, item in enumerate(draft.items):
        action = _text(form, f"action-{i}", 10)
        if not action:  # left undecided: the care domain names the item (no decision)
            continue
        edit = None
        if action == "edit":
            owner = _text(form, f"owner-{i}", 40) or None
            edit = Edit(
                owner=owner,  # type: ignore[arg-type]
                due=_day(form, f"due-{i}"),
                note=_text(form, f"note-{i}") or None,
            )
            if edit == Edit():
                edit = None
        decisions.append(
            Decision(item.id, action, _text(form, f"reason-{i}") or None, edit)  # type: ignore[arg-type]
        )
    return decisions


# --- task board --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class BoardView:
    """How the board is narrowed (its GET form, carried through every form on it so an action
    returns to the same view) and which task to show with its group open."""

    owner: str | None = None
    assignee: care.Assignee | None = None
    at: int | None = None

    def query(self, at: int | None = None) -> str:
        parts = []
        if self.owner:
            parts.append(f"owner={self.owner}")
        if self.assignee is not None:
            parts.append(f"assignee={self.assignee}")
        if at is not None:
            parts.append(f"at={at}")
        return ("?" + "&".join(parts)) if parts else ""


def _assignee(text: str) -> care.Assignee | None:
    """The board's "assigned to" choice: "" all, "nobody", or a team member's id (anything
    else is passed on as an id the service refuses: a 422 naming it)."""
    if not text:
        return None
    if text == "nobody":
        return "nobody"
    try:
        return int(text)
    except ValueError:
        raise Refused(
            422,
            "assignee: choose a team member from the list",
            kind="request-invalid",
        ) from None


def _view_of(form: FormData) -> BoardView:
    """The board's view as a form on it carries it (hidden fields)."""
    owner = _text(form, "view_owner", 40) or None
    try:
        assignee = _assignee(_text(form, "view_assignee", 12))
    except Refused:
        assignee = None
    return BoardView(owner if owner in OWNERS else None, assignee)


def _board_url(patient_id: int, view: BoardView, task_id: int, anchor: str | None = None) -> str:
    return (
        f"/clinic/patients/{patient_id}/tasks{view.query(at=task_id)}#{anchor or f'task-{task_id}'}"
    )


def _board_page(
    request: Request,
    patient: Any,
    board: care.Board,
    *,
    view: BoardView | None = None,
    message: tuple[int, str] | None = None,
    status: int = 200,
    result_version: int | None = None,
    can_assess: bool = False,
) -> Response:
    view = view or BoardView()
    at = message[0] if message else view.at
    return render(
        request,
        "clinic/tasks.html",
        {
            "result_version": result_version,
            "can_assess": can_assess,
            "findings": FINDINGS,
            "sides": SIDES,
            "patient": patient,
            "plan": board.plan,
            "board": board,
            "columns": board.columns,
            "team": board.team,
            "team_names": {u.id: u for u in board.team},
            "message": message,
            "owners": OWNERS,
            "view": view,
            "at": at,
        },
        status=status,
    )


@router.get("/patients/{patient_id}/tasks")
def task_board(
    patient_id: PatientPath,
    request: Request,
    session: SessionDep,
    user: StaffUser,
    result: int | None = None,
    owner: Annotated[str | None, Query(max_length=40)] = None,
    assignee: Annotated[str | None, Query(max_length=12)] = None,
    at: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
) -> Response:
    """The board; ``result``: the case version a task's result was just stored in (the page
    then prompts a re-assessment); ``owner`` and ``assignee`` narrow it (a discipline, a team
    member's id or "nobody"); ``at``: the task an action returned to (its group is open)."""
    view = BoardView(owner or None, _assignee(assignee or ""), at)
    board = care.board(
        session,
        access=access_of(request, user),
        patient_id=patient_id,
        owner=view.owner,
        assignee=view.assignee,
    )
    return _board_page(
        request,
        board.patient,
        board,
        view=view,
        result_version=result,
        can_assess=user.role == "clinician",
    )


_STALE_TASK = "Someone else changed this task meanwhile; it is shown as it is now."


def _board_refused(
    request: Request,
    session: Session,
    access: Access,
    patient_id: int,
    task_id: int,
    exc: Refused,
    *,
    stale: str = _STALE_TASK,
    moving: bool = False,
    view: BoardView | None = None,
) -> Response:
    """A change of a task the service refused (409, 412, 422), said at the task on the board
    as it is now; any other refusal goes on to the error pages. A refused move says it was
    refused; other forms list the fields' problems."""
    if exc.status not in (409, 412, 422):
        raise exc
    view = view or BoardView()
    detail = exc.detail or ""
    if exc.status == 412:
        detail = stale
    elif moving and exc.status == 409:
        detail = "Refused: " + detail
    elif not moving and exc.errors:
        detail = "; ".join(e.message for e in exc.errors)
    board = care.board(
        session, access=access, patient_id=patient_id, owner=view.owner, assignee=view.assignee
    )
    return _board_page(
        request, board.patient, board, view=view, message=(task_id, detail), status=exc.status
    )


@router.post("/patients/{patient_id}/tasks/{task_id}")
async def task_move(
    patient_id: PatientPath,
    task_id: TaskPath,
    request: Request,
    session: SessionDep,
    user: StaffUser,
) -> Response:
    form = await request.form()
    status = _text(form, "status", 20)
    reason = _text(form, "reason") or None
    version = _int(form, "version")
    access = access_of(request, user)
    try:
        if status not in TASK_STATUSES:
            raise Refused(422, "Choose what to do with the task.")
        care.update_task(
            session,
            access=access,
            patient_id=patient_id,
            task_id=task_id,
            expected=IfMatchVersion.of(max(version, 0)),
            status=status,
            reason=reason,
        )
    except Refused as exc:
        return _board_refused(
            request, session, access, patient_id, task_id, exc, moving=True, view=_view_of(form)
        )
    return redirect(_board_url(patient_id, _view_of(form), task_id))


def _result_fields(form: FormData) -> tuple[dict[str, Any], list[str]]:
    """The result form's fields as the care domain checks them (numbers parsed here)."""
    result: dict[str, Any] = {}
    problems: list[str] = []
    relief = _text(form, "relief_percent", 20)
    if relief:
        try:
            result["relief_percent"] = float(relief.rstrip("%").strip())
        except ValueError:
            problems.append(f"Relief: {relief!r} is not a number of percent (0 to 100).")
    confirmatory = _text(form, "confirmatory", 5)
    if confirmatory in ("yes", "no"):
        result["confirmatory"] = confirmatory == "yes"
    for name in ("finding", "level", "side", "report"):
        value = _text(form, name)
        if value:
            result[name] = value
    return result, problems


@router.post("/patients/{patient_id}/tasks/{task_id}/result")
async def task_result(
    patient_id: PatientPath,
    task_id: TaskPath,
    request: Request,
    session: SessionDep,
    user: StaffUser,
) -> Response:
    """Complete a diagnostic task with its result: a new case version, then the board says
    so and offers to assess again."""
    form = await request.form()
    version = _int(form, "version")
    result, problems = _result_fields(form)
    access = access_of(request, user)
    try:
        if problems:
            raise Refused(422, " ".join(problems))
        found = care.record_task_result(
            session,
            access=access,
            patient_id=patient_id,
            task_id=task_id,
            expected=IfMatchVersion.of(max(version, 0)),
            result=result,
            on=_day(form, "on"),
        )
    except Refused as exc:
        stale = "Someone else changed this task or the case meanwhile; see it as it is now."
        return _board_refused(
            request, session, access, patient_id, task_id, exc, stale=stale, view=_view_of(form)
        )
    view = _view_of(form)
    url = _board_url(patient_id, view, task_id, anchor="reassess")
    return redirect(url.replace("/tasks?", f"/tasks?result={found.case_version}&", 1))


@router.post("/patients/{patient_id}/tasks/{task_id}/assign")
async def task_assign(
    patient_id: PatientPath,
    task_id: TaskPath,
    request: Request,
    session: SessionDep,
    user: StaffUser,
) -> Response:
    """Give the task to a team member (or to nobody in particular) and/or re-date it; the
    change is recorded in the task's assignment history."""
    form = await request.form()
    version = _int(form, "version")
    assignee_text = _text(form, "assignee", 12)
    due = _day(form, "due")
    access = access_of(request, user)
    try:
        if due is None:
            raise Refused(422, "Enter the due date as a date (YYYY-MM-DD).")
        try:
            assignee = int(assignee_text) if assignee_text else None
        except ValueError:
            raise Refused(422, "Choose a team member from the list.") from None
        care.update_task(
            session,
            access=access,
            patient_id=patient_id,
            task_id=task_id,
            expected=IfMatchVersion.of(max(version, 0)),
            assignee_user_id=assignee,
            due=due,
        )
    except Refused as exc:
        return _board_refused(
            request, session, access, patient_id, task_id, exc, view=_view_of(form)
        )
    return redirect(_board_url(patient_id, _view_of(form), task_id))


# --- worklists ---------------------------------------------------------------------------------

WORKLIST_LIMIT = 50


@router.get("/worklists")
def worklists(
    request: Request, session: SessionDep, user: StaffUser, discipline: str | None = None
) -> Response:
    """The team's worklists, first WORKLIST_LIMIT of each. The discipline's list is the
    signed-in user's own discipline until another is chosen in the GET form (a discipline
    name is not patient data)."""
    chosen: Any = care.MY_DISCIPLINE
    if discipline is not None:
        chosen = discipline if discipline in DISCIPLINES else None
    access = access_of(request, user)
    inbox = alerts.inbox(session, access=access)
    lists = care.worklists(session, access=access, discipline=chosen, limit=WORKLIST_LIMIT)
    return render(
        request,
        "clinic/worklists.html",
        {
            "inbox": inbox,
            "resolution_actions": alerts.RESOLUTION_ACTIONS,
            "disciplines": DISCIPLINES,
            "discipline": lists.discipline,
            "my_discipline": lists.my_discipline,
            "today": lists.today,
            "limit": lists.limit,
            "within_days": lists.review_within_days,
            "names": lists.patient_names,
            "mine": lists.mine,
            "theirs": lists.theirs,
            "overdue": lists.overdue,
            "questionnaires": lists.questionnaires,
            "flags": lists.red_flags,
            "reviews": lists.reviews,
        },
    )
