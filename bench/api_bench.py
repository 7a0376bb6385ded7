"""Benchmark: assess-and-store under concurrent load, next to a trivial endpoint of the same
server in the same run. Not a test: it asserts nothing about speed.

It starts the real server (`python -m secondlook.api serve`, one uvicorn process) on loopback,
on SQLite in a temporary data directory and on a throwaway PostgreSQL server, seeds one
organization with a clinician and patients built from the bundled example cases, then sends a
bounded number of requests from concurrent clients:

    GET  /healthz                                  (no database, no auth: the floor)
    POST /api/v1/patients/{id}/assessments         (auth, audit, read case, assess, store)

and prints p50/p95/p99 latency and throughput for each.

    .venv/bin/python bench/api_bench.py                    # both backends, defaults
    .venv/bin/python bench/api_bench.py --backend sqlite --requests 1000 --concurrency 16
    .venv/bin/python bench/api_bench.py --database-url postgresql://user@host/db  # existing PG
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx

from secondlook.examples import load_examples
from secondlook.store import accounts, db, flows, migrate, records
from secondlook.store.pgtemp import TempPostgres, free_port

HOST = "127.0.0.1"  # loopback only


@dataclass
class Result:
    name: str
    latencies: list[float]
    errors: int
    seconds: float

    def row(self) -> str:
        ordered = sorted(self.latencies)

        def pct(p: float) -> float:
            if not ordered:
                return float("nan")
            return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000

        rate = len(ordered) / self.seconds if self.seconds else 0.0
        mean = statistics.fmean(ordered) * 1000 if ordered else float("nan")
        return (
            f"| {self.name} | {len(ordered)} | {self.errors} | {pct(50):.1f} | {pct(95):.1f} | "
            f"{pct(99):.1f} | {mean:.1f} | {rate:.0f} |"
        )


def seed(url: str, patients: int) -> tuple[str, list[int]]:
    engine = db.make_engine(url)
    migrate.upgrade(engine)
    examples = list(load_examples().values())
    with db.make_sessionmaker(engine)() as session:
        org = records.create_organization(session, slug="bench", name="Bench Spine Center")
        user = accounts.create_user(
            session, organization_id=org.id, username="bench-clinician", role="clinician"
        )
        _, token = accounts.issue_credential(session, user=user, kind="token")
        ids = []
        for n in range(patients):
            patient = records.create_patient(session, organization_id=org.id, name=f"Bench {n}")
            flows.save_case(
                session,
                organization_id=org.id,
                patient_id=patient.id,
                expected_version=0,
                document=examples[n % len(examples)],
                user_id=user.id,
            )
            ids.append(patient.id)
        session.commit()
    engine.dispose()
    return token, ids


def start_server(
    args: list[str], env: dict[str, str], log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "secondlook.api",
                "serve",
                "--host",
                HOST,
                "--port",
                str(port),
                *args,
            ],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    base = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text()}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.1)


def load(
    name: str,
    base: str,
    send: Callable[[httpx.Client, int], httpx.Response],
    expected: int,
    requests: int,
    concurrency: int,
    max_seconds: float,
    headers: dict[str, str],
) -> Result:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(requests))
    deadline = time.monotonic() + max_seconds

    def worker() -> None:
        nonlocal errors
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            while time.monotonic() < deadline:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                started = time.perf_counter()
                try:
                    ok = send(client, n).status_code == expected
                except httpx.HTTPError:
                    ok = False
                elapsed = time.perf_counter() - started
                with lock:
                    if ok:
                        latencies.append(elapsed)
                    else:
                        errors += 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Result(name, latencies, errors, time.perf_counter() - began)


def bench_backend(
    label: str, url: str | None, args: argparse.Namespace, stack: ExitStack
) -> list[Result]:
    work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="secondlook-bench-")))
    if url is None:
        data = work / "data"
        url = db.database_url(data_dir_path=data)
        server_args, env = ["--data-dir", str(data)], {}
    else:
        server_args, env = [], {db.DATABASE_URL_ENV: url}
    token, patients = seed(url, args.patients)
    process, base = start_server(server_args, env, work / "server.log")
    stack.callback(process.wait)
    stack.callback(process.terminate)
    headers = {"Authorization": f"Bearer {token}"}
    common = (args.requests, args.concurrency, args.max_seconds, headers)
    # Warm up both paths (imports, connection pools, knowledge base).
    load("warm-up", base, lambda c, n: c.get("/healthz"), 200, 50, 4, 30, headers)
    load(
        "warm-up",
        base,
        lambda c, n: c.post(f"/api/v1/patients/{patients[n % len(patients)]}/assessments"),
        201,
        20,
        4,
        30,
        headers,
    )
    return [
        load(f"{label}: GET /healthz", base, lambda c, n: c.get("/healthz"), 200, *common),
        load(
            f"{label}: POST assessments",
            base,
            lambda c, n: c.post(f"/api/v1/patients/{patients[n % len(patients)]}/assessments"),
            201,
            *common,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--requests", type=int, default=500, help="per endpoint (bounded)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-seconds", type=float, default=60, help="per endpoint (bounded)")
    parser.add_argument("--patients", type=int, default=20)
    parser.add_argument(
        "--database-url", help="use this PostgreSQL database instead of a throwaway server"
    )
    args = parser.parse_args()

    results: list[Result] = []
    with ExitStack() as stack:
        if args.backend in ("sqlite", "both"):
            results += bench_backend("SQLite", None, args, stack)
        if args.backend in ("postgresql", "both"):
            if args.database_url:
                url = db.normalize_url(args.database_url)
            else:
                cluster = TempPostgres().start()
                stack.callback(cluster.cleanup)
                url = cluster.create_database("bench")
            results += bench_backend("PostgreSQL", url, args, stack)

    print(
        f"\n{args.requests} requests per endpoint, {args.concurrency} concurrent clients, "
        f"one uvicorn process, loopback, {os.cpu_count()} CPUs\n"
    )
    print("| endpoint | ok | errors | p50 ms | p95 ms | p99 ms | mean ms | req/s |")
    print("|---|---|---|---|---|---|---|---|")
    for result in results:
        print(result.row())


if __name__ == "__main__":
    main()
