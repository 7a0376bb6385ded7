"""Command line for care coordination: `secondlook care worklist` and `secondlook care cohort`,
run as a named user of the database (`--as`) through the same services, permissions and audit
trail as the API (the client is recorded as `cli`). `register(app)` adds the `care` group."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from secondlook.care import cohort_csv, cohort_report
from secondlook.platform import clock
from secondlook.platform.access import Access
from secondlook.platform.errors import Refused
from secondlook.services import accounts, care
from secondlook.store import db, migrate

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


def _act(session: Session, username: str, command: str) -> Access:
    try:
        return accounts.acting_as(session, username=username, command=command)
    except Refused as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from None


@contextmanager
def _refusals() -> Iterator[None]:
    """A refusal (a role that may not, an invalid request) as a message and exit code 2; the
    service has already written it to the audit trail."""
    try:
        yield
    except Refused as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from None


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
        day = dt.date.fromisoformat(as_of) if as_of else clock.today()
    except ValueError:
        raise typer.BadParameter("expected YYYY-MM-DD", param_hint="--as-of") from None
    if which is Worklist.discipline and discipline is None:
        raise typer.BadParameter("name the discipline", param_hint="--discipline")
    engine = db.make_engine(db.database_url(data_dir_path=data_dir))
    migrate.upgrade(engine)
    with db.make_sessionmaker(engine)() as session, _refusals():
        access = _act(session, username, f"care worklist {which.value}")
        page = care.worklist(
            session,
            access=access,
            kind=which.value,
            limit=limit,
            day=day,
            discipline=discipline,
        )
    rows: list[dict[str, Any]]
    if page.kind in ("my-tasks", "discipline", "overdue-tasks"):
        rows = [
            {
                "task_id": t.id,
                "patient_id": t.patient_id,
                "patient_name": page.patient_names[t.patient_id],
                "plan_id": t.plan_id,
                "name": t.name,
                "owner": t.owner,
                "person": t.person,
                "due": t.due,
                "status": t.status,
            }
            for t in page.tasks
        ]
    elif page.kind == "plan-reviews":
        rows = [
            {
                "plan_id": plan.id,
                "patient_id": plan.patient_id,
                "patient_name": name,
                "review_on": plan.review_on,
            }
            for plan, name in page.reviews
        ]
    else:
        rows = [vars(r) for r in page.patients]
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
    with db.make_sessionmaker(engine)() as session, _refusals():
        rows = care.cohort(session, access=_act(session, username, "care cohort"))
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
