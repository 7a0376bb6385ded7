"""`serve --workers N`: several worker processes on one PostgreSQL share sessions, the login rate
limit and CDS Hooks replay protection, because all of it lives in the database. Each response
names the process that served it (a header only the tests switch on), so the test proves its
requests reached different workers instead of assuming it. On SQLite, more than one worker is
refused with a reason."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from secondlook.api.app import WORKER_PID_VARIABLE
from secondlook.commands.demo import DEMO_ORG_SLUG, DEMO_PASSWORD
from secondlook.store import db
from secondlook.store.pgtemp import TempPostgres, free_port

PUBLIC_BASE = "https://secondlook.hospital.example"
ISSUER = "https://ehr.hospital.example"
KEY = ec.generate_private_key(ec.SECP384R1())
# Enough fresh connections for the kernel to hand some to each of two workers; the loops stop
# as soon as both have answered, and fail with what they saw if that never happens.
ATTEMPTS = 400
METRICS_TOKEN = "two-workers-metrics-token-0123456789"


def signed(path: str, jti: str) -> dict[str, str]:
    now = int(time.time())
    payload = {
        "iss": ISSUER,
        "sub": "ehr-client",
        "aud": PUBLIC_BASE + path,
        "exp": now + 300,
        "iat": now,
        "jti": jti,
    }
    token = jwt.encode(payload, KEY, algorithm="ES384", headers={"kid": "ehr-1"})
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def two_workers(database_url: str, tmp_path: Path) -> Iterator[str]:
    config = {
        "app_base_url": PUBLIC_BASE + "/app",
        "public_base_url": PUBLIC_BASE,
        "issuers": {
            ISSUER: {
                "keys": [{**ECAlgorithm.to_jwk(KEY.public_key(), as_dict=True), "kid": "ehr-1"}]
            }
        },
        "fhir_servers": {ISSUER: ["https://ehr.hospital.example/fhir/r4"]},
        "organization": DEMO_ORG_SLUG,
        "mrn_system": "urn:oid:1.2.840.114350.1.13.0.1.7.5.737384.14",
    }
    cds = tmp_path / "cds.json"
    cds.write_text(json.dumps(config), "utf-8")
    port = free_port()
    log = tmp_path / "server.log"
    env = {
        **{k: v for k, v in os.environ.items() if k != db.DATA_DIR_ENV},
        db.DATABASE_URL_ENV: database_url,
        WORKER_PID_VARIABLE: "1",
        "SECONDLOOK_BASE_URL": PUBLIC_BASE,
        "SECONDLOOK_METRICS_TOKEN": METRICS_TOKEN,
    }
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "secondlook.api", "serve", "--port", str(port)),
                *("--workers", "2", "--demo", "--cds-config", str(cds)),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
            start_new_session=True,  # its own process group: the workers are stopped with it
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not start: " + log.read_text()
            time.sleep(0.2)
        yield base
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def fresh(method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request on a new connection, so that any worker may accept it."""
    with httpx.Client(timeout=10) as client:
        return client.request(method, url, **kwargs)


@pytest.mark.postgres
def test_two_workers_share_sessions_login_limits_and_cds_replay_protection(
    postgres_server: TempPostgres, tmp_path: Path
) -> None:
    url = postgres_server.create_database(f"secondlook_workers_{uuid.uuid4().hex[:8]}")
    with two_workers(url, tmp_path) as base:
        # A session made by one worker is honoured by every worker.
        login = fresh(
            "POST",
            f"{base}/api/v1/session",
            json={"username": "demo-clinician", "password": DEMO_PASSWORD},
        )
        assert login.status_code == 200, login.text
        cookie = {"Cookie": "; ".join(f"{k}={v}" for k, v in login.cookies.items())}
        made_by = login.headers["x-worker-pid"]
        session_pids: set[str] = set()
        for _ in range(ATTEMPTS):
            who = fresh("GET", f"{base}/api/v1/session", headers=cookie)
            assert who.status_code == 200, who.text
            assert who.json()["username"] == "demo-clinician"
            session_pids.add(who.headers["x-worker-pid"])
            if session_pids - {made_by}:
                break
        assert session_pids - {made_by}, f"every request reached worker {made_by}"

        # Failed logins counted by either worker lock the username on both (limit 5).
        statuses: list[tuple[int, str]] = []
        refused_by: set[str] = set()
        for _ in range(ATTEMPTS):
            attempt = fresh(
                "POST",
                f"{base}/api/v1/session",
                json={"username": "demo-coordinator", "password": "not-the-password-1"},
            )
            statuses.append((attempt.status_code, attempt.headers["x-worker-pid"]))
            if attempt.status_code == 429:
                refused_by.add(attempt.headers["x-worker-pid"])
            if len(refused_by) == 2:
                break
        assert [s for s, _ in statuses[:5]] == [401] * 5
        assert {s for s, _ in statuses[5:]} == {429}
        assert len(refused_by) == 2, statuses
        right = fresh(
            "POST",
            f"{base}/api/v1/session",
            json={"username": "demo-coordinator", "password": DEMO_PASSWORD},
        )
        assert right.status_code == 429  # locked for a while, whichever worker answers

        # A CDS Hooks token accepted by one worker is refused as a replay by the other.
        jti = f"jti-{uuid.uuid4()}"
        first = fresh("GET", f"{base}/cds-services", headers=signed("/cds-services", jti))
        assert first.status_code == 200, first.text
        accepted_by = first.headers["x-worker-pid"]
        replay_pids: set[str] = set()
        for _ in range(ATTEMPTS):
            replay = fresh("GET", f"{base}/cds-services", headers=signed("/cds-services", jti))
            assert replay.status_code == 401, replay.text
            replay_pids.add(replay.headers["x-worker-pid"])
            if replay_pids - {accepted_by}:
                break
        assert replay_pids - {accepted_by}, f"every replay reached worker {accepted_by}"

        # /metrics counts the requests of both workers, whichever worker answers the scrape.
        healthz = 0
        for _ in range(20):
            assert fresh("GET", f"{base}/healthz").status_code == 200
            healthz += 1
        counts: dict[str, float] = {}
        for _ in range(ATTEMPTS):
            scrape = fresh(
                "GET", f"{base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
            )
            assert scrape.status_code == 200, scrape.text
            counts[scrape.headers["x-worker-pid"]] = healthz_count(scrape.text)
            if len(counts) == 2:
                break
        assert len(counts) == 2, f"every scrape reached worker {set(counts)}"
        # The start-up polls of /healthz count too; both workers give the same sum.
        assert len(set(counts.values())) == 1, counts
        assert next(iter(counts.values())) >= healthz


def healthz_count(exposition: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    return sum(
        sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == "secondlook_http_requests_total"
        and sample.labels.get("route") == "/healthz"
    )


def test_more_than_one_worker_on_sqlite_is_refused_with_the_reason(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != db.DATABASE_URL_ENV}
    done = subprocess.run(
        [
            *(sys.executable, "-m", "secondlook.api", "serve", "--workers", "2"),
            *("--data-dir", str(tmp_path / "data"), "--port", str(free_port())),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--workers 2 needs PostgreSQL" in done.stderr
    assert "SQLite allows one writer" in done.stderr
    assert not (tmp_path / "data").exists()  # refused before any database was created
