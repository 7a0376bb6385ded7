"""`secondlook worker`: send the outbox's notifications and the patients' reminders
(docs/notifications.md). `register(app)` adds it to the project's typer app."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import socket
import threading
from typing import Annotated

import typer

from secondlook.commands.server import DataDir, _engine, _where


def worker(
    data_dir: DataDir = None,
    once: Annotated[
        bool, typer.Option("--once", help="send everything due now, then exit (0 when done)")
    ] = False,
    name: Annotated[
        str | None,
        typer.Option(
            help="this worker's name, unique among running workers (default host:pid); a "
            "worker restarted under the same name resends at once what it had claimed",
            show_default=False,
        ),
    ] = None,
    batch: Annotated[int, typer.Option(min=1, max=1000, help="notifications per claim")] = 20,
    lease_seconds: Annotated[
        int,
        typer.Option(
            min=5, max=3600, help="how long a claim lasts before another worker may take it over"
        ),
    ] = 120,
    poll_seconds: Annotated[
        float, typer.Option(min=0.1, max=600, help="wait between rounds when idle")
    ] = 5.0,
) -> None:
    """Send notifications from the outbox (email, webhook) and enqueue due reminders."""
    from secondlook.api.app import SettingInvalid, check_environment
    from secondlook.services import delivery
    from secondlook.services.notifications import load_settings, outbox_counts
    from secondlook.store import db

    try:
        # Every setting, from the environment and the env file, checked before anything starts
        # (the same checks as `serve`: the worker writes the links the server answers).
        settings = load_settings(check_environment())
    except SettingInvalid as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    engine = _engine(data_dir)
    # After the migration, whose own log lines are not the worker's news.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if engine.dialect.name == "sqlite" and not once:
        typer.echo(
            "worker on SQLite: run only one worker for this database (PostgreSQL allows several)",
            err=True,
        )
    me = name or f"{socket.gethostname()}:{os.getpid()}"
    typer.echo(f"worker {me} on {_where(engine)}", err=True)
    typer.echo(
        f"email: {'via ' + settings.smtp.host if settings.smtp else 'not configured'}; "
        f"webhook: {'configured' if settings.webhook_url else 'not configured'}; "
        f"alert recipients: {len(settings.staff_recipients)}",
        err=True,
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    done = delivery.serve(
        db.make_sessionmaker(engine),
        settings,
        worker=me,
        stop=stop,
        once=once,
        batch=batch,
        lease=dt.timedelta(seconds=lease_seconds),
        poll=poll_seconds,
    )
    with db.make_sessionmaker(engine)() as session:
        counts = outbox_counts(session)
    typer.echo(
        f"sent {done.sent}, to retry {done.retried}, given up {done.failed}; outbox: "
        + ", ".join(f"{counts.get(s, 0)} {s}" for s in ("pending", "sending", "sent", "failed")),
        err=True,
    )


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
