"""Command line for the server and the database: serve, db upgrade, users create, tokens create,
demo-data. `register(app)` adds them to the project's typer app."""

from __future__ import annotations

import datetime as dt
import difflib
import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine

from secondlook.store import accounts, db, migrate, records
from secondlook.store.errors import StoreError

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="where the embedded SQLite database lives (default ./data, or "
        "$SECONDLOOK_DATA_DIR); ignored when $SECONDLOOK_DATABASE_URL is set and this is not",
        show_default=False,
    ),
]


def _engine(data_dir: Path | None) -> Engine:
    engine = db.make_engine(db.database_url(data_dir_path=data_dir))
    migrate.upgrade(engine)
    return engine


def _where(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    data_dir: DataDir = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="load demo data if the database is empty")
    ] = False,
    cds_config: Annotated[
        Path | None,
        typer.Option(
            "--cds-config",
            help="CDS Hooks settings (JSON: trusted EHR issuers and keys, public base URL, "
            "app base URL; docs/fhir.md; default $SECONDLOOK_CDS_CONFIG); without it CDS Hooks "
            "calls answer 401",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="worker processes (default $SECONDLOOK_WORKERS or 1; more than one needs "
            "PostgreSQL: SQLite is one process's database; all shared state lives in the "
            "database, docs/deployment.md)",
            show_default=False,
        ),
    ] = None,
    log_format: Annotated[
        str | None,
        typer.Option(
            help="text, or json for one JSON object a line (default $SECONDLOOK_LOG_FORMAT "
            "or text)",
            show_default=False,
        ),
    ] = None,
    proxy_headers: Annotated[
        bool,
        typer.Option(
            "--proxy-headers/--no-proxy-headers",
            help="trust X-Forwarded-For/-Proto from the addresses in --forwarded-allow-ips",
        ),
    ] = True,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="comma-separated addresses of the reverse proxies whose forwarded headers "
            "are trusted (default $SECONDLOOK_FORWARDED_ALLOW_IPS or 127.0.0.1)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the web server; creates and migrates the database on start."""
    import os
    import shutil
    import tempfile

    import uvicorn

    from secondlook.api.app import SettingInvalid, check_environment, create_app
    from secondlook.commands import demo as demo_data
    from secondlook.fhir.cds_config import ENVIRONMENT_VARIABLE as CDS_CONFIG_ENV
    from secondlook.fhir.cds_config import CdsConfigInvalid, load_cds_config
    from secondlook.http.logs import LOG_FORMATS, log_config
    from secondlook.http.metrics import MULTIPROC_VARIABLE

    try:
        # Every setting, from the environment and the env file, checked before anything starts.
        current = check_environment()
    except SettingInvalid as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    # An option given on the command line wins over its setting.
    cds_config = cds_config or current.cds_config
    workers = workers or current.workers or 1
    log_format = log_format or current.log_format or "text"
    forwarded_allow_ips = forwarded_allow_ips or current.forwarded_allow_ips or "127.0.0.1"
    try:
        cds = load_cds_config(cds_config) if cds_config is not None else None
    except CdsConfigInvalid as exc:
        typer.echo(f"error: CDS Hooks configuration {exc}", err=True)
        raise typer.Exit(2) from None
    if log_format not in LOG_FORMATS:
        typer.echo(
            f"error: SECONDLOOK_LOG_FORMAT / --log-format {log_format!r}: expected "
            f"{' or '.join(LOG_FORMATS)}",
            err=True,
        )
        raise typer.Exit(2)
    url = db.database_url(data_dir_path=data_dir)
    if workers > 1 and db.is_sqlite(url):
        typer.echo(
            f"error: --workers {workers} needs PostgreSQL (SECONDLOOK_DATABASE_URL): SQLite "
            "allows one writer and is served by one process; run one worker, or several "
            "behind a proxy on PostgreSQL (docs/deployment.md)",
            err=True,
        )
        raise typer.Exit(2)
    engine = _engine(data_dir)
    typer.echo(f"database: {_where(engine)}", err=True)
    if demo:
        with db.make_sessionmaker(engine)() as session:
            logins = demo_data.load_demo(session) if demo_data.is_empty(session) else []
        if logins:
            typer.echo("demo data loaded; demo logins (demo only, never for real data):")
        else:
            typer.echo("database not empty: demo data not loaded; demo logins if present:")
        for login in demo_data.demo_logins():
            typer.echo(f"  {login.role:<12} {login.username:<18} password: {login.password}")
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"SecondLook at http://{shown}:{port}/  (API docs: http://{shown}:{port}/docs)")
    sys.stdout.flush()
    typer.echo(
        f"CDS Hooks: {'configured from ' + str(cds_config) if cds else 'not configured'}", err=True
    )
    options: dict[str, object] = {
        "host": host,
        "port": port,
        "log_config": log_config(log_format),
        "proxy_headers": proxy_headers,
        "forwarded_allow_ips": forwarded_allow_ips,
    }
    if workers == 1:
        uvicorn.run(create_app(engine, cds=cds), **options)  # type: ignore[arg-type]
        return
    # Each worker process builds its own app from the environment (uvicorn imports the factory
    # by name in every process): hand it the database and the CDS configuration chosen here.
    engine.dispose()
    os.environ[db.DATABASE_URL_ENV] = url
    if cds_config is not None:
        os.environ[CDS_CONFIG_ENV] = str(cds_config)
    # /metrics sums the workers' request counts (prometheus_client's multiprocess mode, read
    # by each worker as it starts): a fresh directory per run, unless the operator chose one.
    own_metrics_dir = None
    if not os.environ.get(MULTIPROC_VARIABLE):
        own_metrics_dir = tempfile.mkdtemp(prefix="secondlook-metrics-")
        os.environ[MULTIPROC_VARIABLE] = own_metrics_dir
    try:
        uvicorn.run(
            "secondlook.api.app:app_from_environment",
            factory=True,
            workers=workers,
            **options,  # type: ignore[arg-type]
        )
    finally:
        if own_metrics_dir is not None:
            shutil.rmtree(own_metrics_dir, ignore_errors=True)


def db_upgrade(data_dir: DataDir = None) -> None:
    """Create or migrate the database schema to the current version."""
    engine = _engine(data_dir)
    typer.echo(f"{_where(engine)} is at revision {migrate.current_revision(engine)}")


def db_backup(
    to: Annotated[Path, typer.Option("--to", help="the backup file to write (must not exist)")],
    data_dir: DataDir = None,
) -> None:
    """Copy the SQLite database to a file while the server keeps running (SQLite's online
    backup: a consistent snapshot, taken page by page without stopping writers for long). For
    PostgreSQL use pg_dump (docs/deployment.md)."""
    import sqlite3

    from sqlalchemy.engine import make_url

    url = db.database_url(data_dir_path=data_dir)
    if not db.is_sqlite(url):
        typer.echo(
            "error: db backup copies an SQLite database; for PostgreSQL use pg_dump "
            "(docs/deployment.md, Backups)",
            err=True,
        )
        raise typer.Exit(2)
    source_path = make_url(url).database
    if not source_path or not Path(source_path).is_file():
        typer.echo(f"error: no SQLite database at {source_path}", err=True)
        raise typer.Exit(1)
    if to.exists():
        typer.echo(f"error: {to} exists; a backup never overwrites a file", err=True)
        raise typer.Exit(1)
    # Written beside the target and renamed once complete: a crash never leaves a partial
    # file under the backup's name.
    partial = to.with_name(to.name + ".partial")
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    try:
        target = sqlite3.connect(partial)
        try:
            source.backup(target, pages=1024)
            check = target.execute("PRAGMA integrity_check").fetchone()
        finally:
            target.close()
    finally:
        source.close()
    if check is None or check[0] != "ok":
        partial.unlink(missing_ok=True)
        typer.echo(f"error: the copy failed its integrity check: {check}", err=True)
        raise typer.Exit(1)
    partial.replace(to)
    typer.echo(f"backed up {source_path} to {to}")


def users_create(
    role: Annotated[str, typer.Option(help="clinician, coordinator, patient or admin")],
    org: Annotated[str, typer.Option(help="organization slug (created if missing)")],
    username: Annotated[str, typer.Option()],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
    patient_id: Annotated[
        int | None, typer.Option(help="the patient record a patient user is")
    ] = None,
    org_name: Annotated[
        str | None, typer.Option(help="name for a new organization (default: the slug)")
    ] = None,
    new_org: Annotated[
        bool,
        typer.Option(
            "--new-org", help="create the organization --org names (needed once one exists)"
        ),
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Create a user (without --password-stdin the user can only use API tokens)."""
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    if password_stdin and not password:
        raise typer.BadParameter("no password on standard input", param_hint="--password-stdin")
    engine = _engine(data_dir)
    with db.make_sessionmaker(engine)() as session:
        organization = records.organization_by_slug(session, slug=org)
        if organization is None:
            # A mistyped slug must not quietly start a second organization: once there is one,
            # a new one is asked for by name. The very first one needs no flag.
            slugs = records.organization_slugs(session)
            if slugs and not new_org:
                close = difflib.get_close_matches(org, slugs, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                typer.echo(
                    f"error: no organization {org!r}; {hint}(known: {', '.join(slugs)}; "
                    "--new-org creates it)",
                    err=True,
                )
                raise typer.Exit(2)
            organization = records.create_organization(session, slug=org, name=org_name or org)
            typer.echo(f"created organization {org!r}", err=True)
        try:
            user = accounts.create_user(
                session,
                organization_id=organization.id,
                username=username,
                role=role,
                password=password,
                patient_id=patient_id,
            )
        except (ValueError, StoreError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        session.commit()
        typer.echo(f"created {role} {username!r} (id {user.id}) in {org!r}")


def tokens_create(
    username: Annotated[str, typer.Option()],
    name: Annotated[str, typer.Option(help="what the token is for")] = "command line",
    expires_in_days: Annotated[
        int | None,
        typer.Option(
            min=1, max=3650, help="lifetime (default: SECONDLOOK_TOKEN_LIFETIME_DAYS or 90)"
        ),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Create an API token and print it; it cannot be shown again. Every token expires."""
    engine = _engine(data_dir)
    with db.make_sessionmaker(engine)() as session:
        user = accounts.user_by_username(session, username=username)
        if user is None or not user.active:
            typer.echo(f"error: no active user {username!r}", err=True)
            raise typer.Exit(1)
        lifetime = dt.timedelta(days=expires_in_days) if expires_in_days else None
        _, secret = accounts.issue_credential(
            session, user=user, kind="token", name=name, lifetime=lifetime
        )
        session.commit()
    typer.echo(secret)


def demo_data(data_dir: DataDir = None) -> None:
    """Load the demo organization, users and patients (once)."""
    from secondlook.commands import demo

    engine = _engine(data_dir)
    with db.make_sessionmaker(engine)() as session:
        loaded = demo.load_demo(session)
    if not loaded:
        typer.echo("demo data already present")
    typer.echo(f"{demo.DEMO_ORG_NAME} demo logins (demo only, never for real data):")
    for login in demo.demo_logins():
        typer.echo(f"  {login.role:<12} {login.username:<18} password: {login.password}")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("demo-data")(demo_data)
    db_app = typer.Typer(help="The database.", no_args_is_help=True)
    db_app.command("upgrade")(db_upgrade)
    db_app.command("backup")(db_backup)
    app.add_typer(db_app, name="db")
    users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
    users_app.command("create")(users_create)
    app.add_typer(users_app, name="users")
    tokens_app = typer.Typer(help="API tokens.", no_args_is_help=True)
    tokens_app.command("create")(tokens_create)
    app.add_typer(tokens_app, name="tokens")
