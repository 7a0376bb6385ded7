"""Where the database is, and how to open it.

The embedded default is a SQLite file in a data directory that is created on first use, so
`secondlook serve` needs no configuration. Setting SECONDLOOK_DATABASE_URL selects any other
database SQLAlchemy can reach; PostgreSQL (psycopg 3) is the supported production choice.
"""

from __future__ import annotations

import threading
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from secondlook.settings import settings

DATABASE_URL_ENV = "SECONDLOOK_DATABASE_URL"
DATA_DIR_ENV = "SECONDLOOK_DATA_DIR"
DEFAULT_DATA_DIR = Path("data")
SQLITE_FILE = "secondlook.db"
_WRITER_WAIT = 30.0  # seconds
_WRITER_LOCKS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()


def data_dir(explicit: Path | str | None = None) -> Path:
    """The data directory: the argument, else $SECONDLOOK_DATA_DIR, else ./data."""
    if explicit is not None:
        return Path(explicit)
    configured = settings().data_dir
    return configured if configured is not None else DEFAULT_DATA_DIR


def database_url(*, data_dir_path: Path | str | None = None, url: str | None = None) -> str:
    """Resolve the database URL.

    Order: an explicit URL, then $SECONDLOOK_DATABASE_URL, then SQLite in the data directory
    (an explicit data directory wins over the environment's database URL, so that
    `serve --data-dir X` means what it says).
    """
    if url:
        return normalize_url(url)
    if data_dir_path is None:
        env = settings().database_url
        if env:
            return normalize_url(env)
    directory = data_dir(data_dir_path)
    return f"sqlite:///{(directory / SQLITE_FILE).resolve()}"


def normalize_url(url: str) -> str:
    """Accept the usual postgres:// and postgresql:// spellings and use psycopg 3 for them."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; for SQLite create the data directory and set durable pragmas."""
    url = normalize_url(url)
    if is_sqlite(url):
        return _sqlite_engine(url, **kwargs)
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    database = make_url(url).database
    in_memory = not database or database == ":memory:"
    if not in_memory:
        Path(str(database)).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
    connect_args = kwargs.pop("connect_args", {})
    # The server answers from a thread pool; each connection is used by one thread at a time.
    connect_args.setdefault("check_same_thread", False)
    connect_args.setdefault("timeout", 30)
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, say when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # FULL: a commit is on disk before it is acknowledged, so an answered write
            # survives a killed process and a power cut.
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA busy_timeout=30000")
        finally:
            cursor.close()

    # One writer at a time: SQLite's own wait for the write lock polls with sleeps of up to
    # 100 ms, which turns contention into long tail latencies. Threads of this process queue on
    # a lock instead and are woken as soon as the writer before them finishes; other processes
    # still meet busy_timeout. The timeout keeps a forgotten open transaction from blocking
    # everyone forever: after it, we fall back to SQLite's own waiting.
    writer = threading.Lock()
    _WRITER_LOCKS[engine] = writer

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Almost every request writes (the audit trail records reads too), so take the write
        # lock up front: a deferred transaction that later upgrades to a writer fails with
        # "database is locked" instead of waiting, which concurrent requests would hit.
        conn.info["writer_lock"] = writer.acquire(timeout=_WRITER_WAIT)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(conn)
            raise

    def _release(conn: Any) -> None:
        if conn.info.pop("writer_lock", False):
            writer.release()

    event.listen(engine, "commit", _release)
    event.listen(engine, "rollback", _release)

    @event.listens_for(engine.pool, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        # A connection that went back to the pool without commit or rollback (invalidated
        # after an error) must not keep the lock.
        if record is not None and record.info.pop("writer_lock", False):
            writer.release()

    return engine


def sqlite_writer_waiting(engine: Engine) -> bool:
    """Whether a transaction of this process holds the SQLite writer lock (False elsewhere)."""
    lock = _WRITER_LOCKS.get(engine)
    return lock is not None and lock.locked()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)
