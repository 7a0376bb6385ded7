"""Command line for care coordination: `secondlook care worklist` and `secondlook care cohort`,
run as a named user of the database (`--as`), with the same permissions and audit trail as the
API (the client is recorded as `cli`). `register(app)` adds the `care` group."""

from __future__ import annotations

import datetime as dt
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from secondlook.care import cohort_csv, cohort_report
from secondlook.platform.access import PERMISSIONS, Principal
from secondlook.store import audit, care_records, db, migrate
from secondlook.store.accounts import user_by_username

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="where the embedded SQLite database lives (default ./data, or "
        "$SECONDLOOK_DATA_DIR); ignored when $SECONDLOOK_DATABASE_URL is set",
        show_default=False,
    ),
]
As = Annotated[
    str, typer.Option("--as", help="the username to act as (a clinician or coordinator)")
]


class Worklist(StrEnum):
    my_tasks = "my-tasks"
    discipline = "discipline"
    overdue_tasks = "overdue-tasks"
    questionnaires = "questionnaires"
    red_flags = "red-flags"
    plan_reviews = "plan-reviews"


def _principal(session: Session, username: str, action: str) -> Principal:
    user = user_by_username(session, username=username)
    if user is None or not user.active:
        typer.echo(f"error: no active user {username!r}", err=True)
        raise typer.Exit(2)
    principal = Principal(
        user_id=user.id,
        username=user.username,
        role=user.role,
        organization_id=user.organization_id,
        patient_id=user.patient_id,
        credential_id=0,
        credential_kind="cli",
    )
    if user.role not in PERMISSIONS[action]:
        _audit(session, principal, action, "denied", 403, f"the {user.role} role may not")
        session.commit()
        typer.echo(f"error: the {user.role} role may not do {action}", err=True)
        raise typer.Exit(2)
    return principal


def _audit(
    session: Session,
    principal: Principal,
    action: str,
    outcome: str,
    status: int,
    detail: str | None = None,
) -> None:
    audit.record(
        session,
        actor=principal,
        action=action,
        resource=f"cli {action}",
        outcome=outcome,
        status=status,
        client="cli",
        detail=detail,
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def worklist(
    which: Annotated[Worklist, typer.Argument(help="which worklist")],
    username: As,
    discipline: Annotated[
        str | None, typer.Option(help="for `discipline` (required) and `overdue-tasks`")
    ] = None,
    as_of: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default today, UTC)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    data_dir: DataDir = None,
) -> None:
    """Print a worklist of your organization as JSON Lines, one row a line."""
    try:
        day = dt.date.fromisoformat(as_of) if as_of else dt.datetime.now(dt.UTC).date()
    except ValueError:
        raise typer.BadParameter("expected YYYY-MM-DD", param_hint="--as-of") from None
    if which is Worklist.discipline and discipline is None:
        raise typer.BadParameter("name the discipline", param_hint="--discipline")
    engine = db.make_engine(db.database_url(data_dir_path=data_dir))
    migrate.upgrade(engine)
    with db.make_sessionmaker(engine)() as session:
        me = _principal(session, username, "care.worklist.read")
        org = me.organization_id
        rows: list[dict[str, Any]]
        if which in (Worklist.my_tasks, Worklist.discipline, Worklist.overdue_tasks):
            if which is Worklist.my_tasks:
                tasks = care_records.worklist_my_tasks(
                    session, organization_id=org, user_id=me.user_id, limit=limit, after=None
                )
            elif which is Worklist.discipline:
                assert discipline is not None
                tasks = care_records.worklist_discipline(
                    session, organization_id=org, discipline=discipline, limit=limit, after=None
                )
            else:
                tasks = care_records.worklist_overdue(
                    session,
                    organization_id=org,
                    today=day,
                    limit=limit,
                    after=None,
                    discipline=discipline,
                )
            names = care_records.patient_names(session, (t.patient_id for t in tasks))
            rows = [
                {
                    "task_id": t.id,
                    "patient_id": t.patient_id,
                    "patient_name": names[t.patient_id],
                    "plan_id": t.plan_id,
                    "name": t.name,
                    "owner": t.owner,
                    "person": t.person,
                    "due": t.due,
                    "status": t.status,
                }
                for t in tasks
            ]
        elif which is Worklist.questionnaires:
            rows = [
                vars(r)
                for r in care_records.worklist_questionnaires(
                    session, organization_id=org, today=day, limit=limit, after_patient=0
                )
            ]
        elif which is Worklist.red_flags:
            rows = [
                vars(r)
                for r in care_records.worklist_red_flags(
                    session, organization_id=org, limit=limit, after_patient=0
                )
            ]
        else:
            rows = [
                {
                    "plan_id": plan.id,
                    "patient_id": plan.patient_id,
                    "patient_name": name,
                    "review_on": plan.review_on,
                }
                for plan, name in care_records.worklist_reviews(
                    session,
                    organization_id=org,
                    until=day + dt.timedelta(days=14),
                    limit=limit,
                    after=None,
                )
            ]
        _audit(session, me, "care.worklist.read", "success", 200, which.value)
        session.commit()
    engine.dispose()
    for row in rows:
        typer.echo(json.dumps({k: _jsonable(v) for k, v in row.items()}, ensure_ascii=False))


def cohort(
    username: As,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV (RFC 4180) instead of JSON")] = False,
    data_dir: DataDir = None,
) -> None:
    """Print your organization's cohort report (JSON), or one CSV row per patient."""
    engine = db.make_engine(db.database_url(data_dir_path=data_dir))
    migrate.upgrade(engine)
    with db.make_sessionmaker(engine)() as session:
        me = _principal(session, username, "care.cohort.read")
        rows = care_records.cohort_rows(session, organization_id=me.organization_id)
        _audit(session, me, "care.cohort.read", "success", 200)
        session.commit()
    engine.dispose()
    if as_csv:
        typer.echo(cohort_csv(rows), nl=False)
        return
    report = cohort_report(rows)
    typer.echo(
        json.dumps(
            {
                "patients": report.patients,
                "by_course": report.by_course,
                "by_etiology": report.by_etiology,
                "by_course_and_etiology": [
                    {"course": c, "etiology": e, "patients": n}
                    for (c, e), n in report.by_course_and_etiology.items()
                ],
                "responders_6m": vars_of(report.responders_6m),
                "responders_12m": vars_of(report.responders_12m),
                "work_status_baseline": report.work_status_baseline,
                "work_status_12m": report.work_status_12m,
            },
            indent=2,
        )
    )


def vars_of(count: Any) -> dict[str, Any]:
    return {"responders": count.responders, "measured": count.measured, "rate": count.rate}


def register(app: typer.Typer) -> None:
    care_app = typer.Typer(
        help="Care coordination: worklists and the cohort.", no_args_is_help=True
    )
    care_app.command("worklist")(worklist)
    care_app.command("cohort")(cohort)
    app.add_typer(care_app, name="care")
