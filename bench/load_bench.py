"""Load benchmark: two server workers on PostgreSQL under concurrent clients that mix reads, case
writes (with If-Match) and assessments, with /healthz measured in the same run. Not a test: it
asserts nothing about speed, but it exits 1 if any request failed (an error is a status other
than the one the request must get, or a broken connection).

It starts a throwaway PostgreSQL server (or uses --database-url), seeds one organization with a
clinician and patients built from the bundled example cases, starts
`secondlook serve --workers 2` on loopback, and runs the clients (httpx, asyncio) for a fixed
time. Each client draws its next request at random (seeded, so runs are comparable):

    read patient   GET  /api/v1/patients/{id}               any patient          200
    read case      GET  /api/v1/patients/{id}/case          any patient          200
    write case     PUT  /api/v1/patients/{id}/case          the client's own     201
                   (If-Match: the ETag its last write or read returned)
    assess         POST /api/v1/patients/{id}/assessments   the client's own     201
    healthz        GET  /healthz                            (no database: the floor)

Writes and assessments go to the client's own patients, so that an If-Match is never stale
because another client wrote first: a 412 is counted as an error, not as a conflict won.

    .venv/bin/python bench/load_bench.py                       # 64 clients, 60 s, 2 workers
    .venv/bin/python bench/load_bench.py --clients 16 --seconds 20
    .venv/bin/python bench/load_bench.py --database-url postgresql://user@host/db

Bounded: at most 256 clients and 300 seconds; the server listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from secondlook.examples import load_examples
from secondlook.store import accounts, db, flows, migrate, records
from secondlook.store.pgtemp import TempPostgres, free_port

HOST = "127.0.0.1"  # loopback only
MAX_CLIENTS = 256
MAX_SECONDS = 300.0
# How often each kind is drawn: mostly reads, as a clinic works; a write or an assessment in
# about two requests of five.
WEIGHTS = {
    "read patient": 25,
    "read case": 25,
    "write case": 20,
    "assess": 20,
    "healthz": 10,
}


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""


@dataclass
class Seeded:
    token: str
    patients: list[int]
    documents: dict[int, dict[str, Any]]


def seed(url: str, patients: int) -> Seeded:
    engine = db.make_engine(url)
    migrate.upgrade(engine)
    examples = list(load_examples().values())
    documents: dict[int, dict[str, Any]] = {}
    with db.make_sessionmaker(engine)() as session:
        org = records.create_organization(session, slug="load", name="Load Spine Center")
        user = accounts.create_user(
            session, organization_id=org.id, username="load-clinician", role="clinician"
        )
        _, token = accounts.issue_credential(session, user=user, kind="token")
        for n in range(patients):
            patient = records.create_patient(session, organization_id=org.id, name=f"Load {n}")
            document = copy.deepcopy(examples[n % len(examples)])
            flows.save_case(
                session,
                organization_id=org.id,
                patient_id=patient.id,
                expected_version=0,
                document=document,
                user_id=user.id,
            )
            documents[patient.id] = document
        session.commit()
    engine.dispose()
    return Seeded(token, sorted(documents), documents)


def start_server(url: str, workers: int, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SECONDLOOK_")},
        db.DATABASE_URL_ENV: url,
    }
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "secondlook.api", "serve", "--host", HOST),
                *("--port", str(port), "--workers", str(workers)),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
            start_new_session=True,
        )
    base = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 120
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
        time.sleep(0.2)


async def client_loop(
    number: int,
    http: httpx.AsyncClient,
    seeded: Seeded,
    own: list[int],
    until: float,
    tallies: dict[str, Tally] | None,
) -> None:
    draw = random.Random(number)  # a reproducible mix, not a secret
    kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
    etags: dict[int, str] = {}
    writes = 0
    while time.monotonic() < until:
        kind = draw.choices(kinds, weights)[0]
        patient = draw.choice(own if kind in ("write case", "assess") else seeded.patients)
        if kind == "write case" and patient not in etags:
            kind = "read case"  # a write needs the ETag of the version it replaces: read it
        started = time.perf_counter()
        try:
            if kind == "read patient":
                response = await http.get(f"/api/v1/patients/{patient}")
                expected = 200
            elif kind == "read case":
                response = await http.get(f"/api/v1/patients/{patient}/case")
                expected = 200
            elif kind == "write case":
                writes += 1
                document = copy.deepcopy(seeded.documents[patient])
                document.setdefault("pain", {})["axial_nrs"] = writes % 11
                response = await http.put(
                    f"/api/v1/patients/{patient}/case",
                    json=document,
                    headers={"If-Match": etags[patient]},
                )
                expected = 201
            elif kind == "assess":
                response = await http.post(f"/api/v1/patients/{patient}/assessments")
                expected = 201
            else:
                response = await http.get("/healthz")
                expected = 200
            ok = response.status_code == expected
            problem = "" if ok else f"{kind}: {response.status_code} {response.text[:200]}"
            if ok and kind in ("read case", "write case") and patient in own:
                etags[patient] = response.headers["ETag"]
        except httpx.HTTPError as error:
            ok, problem = False, f"{kind}: {type(error).__name__} {error}"
        elapsed = time.perf_counter() - started
        if tallies is None:
            continue
        tally = tallies[kind]
        if ok:
            tally.latencies.append(elapsed)
        else:
            tally.errors += 1
            tally.first_error = tally.first_error or problem


async def run_load(
    base: str, seeded: Seeded, clients: int, seconds: float, warm_up: float
) -> tuple[dict[str, Tally], float]:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {seeded.token}"}
    per_client = max(1, len(seeded.patients) // clients)
    own = [
        seeded.patients[(n * per_client) % len(seeded.patients) :][:per_client]
        for n in range(clients)
    ]
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=120
    ) as http:
        # Warm up (connections, the workers' imports and knowledge base), not measured.
        until = time.monotonic() + warm_up
        await asyncio.gather(
            *(client_loop(n, http, seeded, own[n], until, None) for n in range(clients))
        )
        tallies = {kind: Tally() for kind in WEIGHTS}
        began = time.perf_counter()
        until = time.monotonic() + seconds
        measured = (
            client_loop(n + clients, http, seeded, own[n], until, tallies) for n in range(clients)
        )
        await asyncio.gather(*measured)
        return tallies, time.perf_counter() - began


def percentile(ordered: list[float], p: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


def report(
    tallies: dict[str, Tally], elapsed: float, args: argparse.Namespace, load: tuple[float, float]
) -> int:
    cpu = platform.processor() or platform.machine()
    print(
        f"\n{args.clients} concurrent clients for {elapsed:.0f} s, `serve --workers "
        f"{args.workers}` on PostgreSQL, loopback; clients and server on the same machine "
        f"({os.cpu_count()} CPUs, {cpu}, Python {platform.python_version()}); load average "
        f"{load[0]:.1f} before the run, {load[1]:.1f} after (other work on the machine shows "
        "here)\n"
    )
    print("| kind | ok | errors | req/s | p50 ms | p95 ms | p99 ms |")
    print("|---|---|---|---|---|---|---|")
    total_ok = total_errors = 0
    for kind, tally in tallies.items():
        ordered = sorted(tally.latencies)
        total_ok += len(ordered)
        total_errors += tally.errors
        print(
            f"| {kind} | {len(ordered)} | {tally.errors} | {len(ordered) / elapsed:.1f} | "
            f"{percentile(ordered, 50):.1f} | {percentile(ordered, 95):.1f} | "
            f"{percentile(ordered, 99):.1f} |"
        )
    print(f"| all | {total_ok} | {total_errors} | {total_ok / elapsed:.1f} | | | |")
    for kind, tally in tallies.items():
        if tally.first_error:
            print(f"first error of {kind}: {tally.first_error}", file=sys.stderr)
    return 1 if total_errors else 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60.0, help="measured time")
    parser.add_argument("--warm-up", type=float, default=5.0, help="seconds, not measured")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--patients", type=int, default=128)
    parser.add_argument("--database-url", help="this PostgreSQL database, not a throwaway one")
    args = parser.parse_args()
    if not 1 <= args.clients <= MAX_CLIENTS:
        parser.error(f"--clients: 1 to {MAX_CLIENTS}")
    if not 0 < args.seconds <= MAX_SECONDS or not 0 <= args.warm_up <= 60:
        parser.error(f"--seconds: up to {MAX_SECONDS:.0f}; --warm-up: up to 60")
    if not 1 <= args.workers <= 8:
        parser.error("--workers: 1 to 8")
    args.patients = max(args.patients, args.clients)

    with ExitStack() as stack:
        if args.database_url:
            url = db.normalize_url(args.database_url)
        else:
            cluster = TempPostgres().start()
            stack.callback(cluster.cleanup)
            url = cluster.create_database("load")
        seeded = seed(url, args.patients)
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="secondlook-load-")))
        process, base = start_server(url, args.workers, work / "server.log")

        def stop() -> None:
            if process.poll() is None:
                os.killpg(process.pid, 15)
            process.wait(timeout=60)

        stack.callback(stop)
        before = os.getloadavg()[0]
        tallies, elapsed = asyncio.run(
            run_load(base, seeded, args.clients, args.seconds, args.warm_up)
        )
        after = os.getloadavg()[0]
    sys.exit(report(tallies, elapsed, args, (before, after)))


if __name__ == "__main__":
    main()
