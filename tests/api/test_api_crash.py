"""Killing in the middle of a stream of writes loses no acknowledged write and leaves a database
that opens and checks clean. The real server runs as a subprocess (uvicorn via the `serve`
command); for PostgreSQL the database server itself is killed -9 and restarted."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest

from secondlook.store import accounts, db, migrate, records
from secondlook.store.pgtemp import TempPostgres, free_port

WRITERS = 4
ACKNOWLEDGED_BEFORE_KILL = 120


def seed(url: str) -> str:
    """Migrate, create an organization and a clinician; return the clinician's token."""
    engine = db.make_engine(url)
    migrate.upgrade(engine)
    with db.make_sessionmaker(engine)() as session:
        org = records.create_organization(session, slug="crash", name="Crash Test Spine")
        user = accounts.create_user(
            session, organization_id=org.id, username="crash-clinician", role="clinician"
        )
        _, token = accounts.issue_credential(session, user=user, kind="token")
        session.commit()
    engine.dispose()
    return token


@contextmanager
def server(
    args: list[str], env: dict[str, str], log: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "secondlook.api", "serve", "--port", str(port), *args],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        yield process, base
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


class WriteStream:
    """Threads creating patients as fast as they can; remembers every acknowledged (201) one."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}"}
        self.acknowledged: dict[int, str] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._write, args=(n,)) for n in range(WRITERS)]

    def _write(self, writer: int) -> None:
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=10) as client:
            n = 0
            while not self.stop.is_set():
                name = f"writer {writer} patient {n}"
                n += 1
                try:
                    response = client.post("/api/v1/patients", json={"name": name})
                except httpx.TransportError:
                    continue
                if response.status_code == 201:
                    with self.lock:
                        self.acknowledged[response.json()["id"]] = name

    def __enter__(self) -> WriteStream:
        for thread in self.threads:
            thread.start()
        return self

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + 120
        while len(self.acknowledged) < count:
            assert time.monotonic() < deadline, f"only {len(self.acknowledged)} writes answered"
            time.sleep(0.01)

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


def test_sigkill_of_the_server_loses_no_acknowledged_write_on_sqlite(tmp_path: Path) -> None:
    data = tmp_path / "data"
    token = seed(db.database_url(data_dir_path=data))
    with server(["--data-dir", str(data)], {}, tmp_path / "server.log") as (process, base):
        with WriteStream(base, token) as stream:
            stream.wait_for(ACKNOWLEDGED_BEFORE_KILL)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        acknowledged = dict(stream.acknowledged)

    connection = sqlite3.connect(data / "secondlook.db")
    try:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        stored = dict(connection.execute("SELECT id, name FROM patients").fetchall())
        audited = {
            row[0]
            for row in connection.execute(
                "SELECT patient_id FROM audit_events WHERE action = 'patient.create'"
            )
        }
    finally:
        connection.close()
    assert len(acknowledged) >= ACKNOWLEDGED_BEFORE_KILL
    assert {i: stored.get(i) for i in acknowledged} == acknowledged
    assert set(acknowledged) <= audited

    # The killed database opens again for the server.
    with server(["--data-dir", str(data)], {}, tmp_path / "server.log") as (_, base):
        some = next(iter(acknowledged))
        response = httpx.get(
            f"{base}/api/v1/patients/{some}", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.json()["name"] == acknowledged[some]


@pytest.mark.postgres
def test_sigkill_of_postgresql_loses_no_acknowledged_write(
    postgres_server: TempPostgres, tmp_path: Path
) -> None:
    cluster = TempPostgres(postgres_server.bindir).start()
    try:
        url = cluster.create_database("crash")
        token = seed(url)
        with server([], {db.DATABASE_URL_ENV: url}, tmp_path / "server.log") as (process, base):
            with WriteStream(base, token) as stream:
                stream.wait_for(ACKNOWLEDGED_BEFORE_KILL)
                cluster.kill()
                time.sleep(0.2)  # writes now fail; none of them is acknowledged
            acknowledged = dict(stream.acknowledged)
            process.send_signal(signal.SIGKILL)

        cluster.start()  # crash recovery replays the write-ahead log
        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
            stored: dict[int, str] = dict(conn.execute("SELECT id, name FROM patients").fetchall())
            assert {i: stored.get(i) for i in acknowledged} == acknowledged
            conn.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
            indexes = conn.execute(
                "SELECT c.oid::regclass::text FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid "
                "JOIN pg_am a ON a.oid = c.relam "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE a.amname = 'btree' AND n.nspname = 'public'"
            ).fetchall()
            assert indexes
            for (index,) in indexes:
                # Checks the index structure and that every heap row is in the index, which
                # reads every row of the table.
                conn.execute("SELECT bt_index_check(%s::regclass, true)", (index,))
        assert len(acknowledged) >= ACKNOWLEDGED_BEFORE_KILL
    finally:
        cluster.cleanup()
