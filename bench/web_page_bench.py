"""Benchmark: server time of the clinician's main pages on a large PostgreSQL database. Not a
test: it asserts nothing about speed.

It loads the care-worklist dataset (bench/care_worklist_bench.py: `--patients` patients, default
100,000, with case versions, assessments, care plans and `--tasks-per-patient` tasks each, default
10, so 1,000,000), then gives `--sample` patients of the first organization a real case document
and its assessment (the bundled examples, assessed by the engine), signs a clinician in, and times
each page in-process (FastAPI's TestClient: the server's own time, without a network) `--runs`
times: the patient page, the patient list in each of its orders (first and a later page), the
worklists, the task board (whole and narrowed to a discipline). Prints p50/p95/max.

    .venv/bin/python bench/web_page_bench.py                        # 100k patients, 1M tasks
    .venv/bin/python bench/web_page_bench.py --patients 5000 --runs 30   # a quick look
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from care_worklist_bench import load, percentile

from secondlook.api.app import create_app
from secondlook.examples import load_examples
from secondlook.http.deps import SESSION_COOKIE
from secondlook.store import accounts, db, flows, migrate
from secondlook.store.models import User
from secondlook.store.pgtemp import TempPostgres

# Tables the dataset loader fills with explicit ids; their sequences must follow before the
# benchmark adds rows through the application.
LOADED = ("case_versions", "assessments", "questionnaire_responses", "credentials", "audit_events")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--tasks-per-patient", type=int, default=10)
    parser.add_argument("--organizations", type=int, default=4)
    parser.add_argument("--sample", type=int, default=50)
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    rng = random.Random(11)
    with TempPostgres() as server:
        engine = db.make_engine(server.create_database("web_bench"))
        migrate.upgrade(engine)
        print(f"loading {args.patients:,} patients:", flush=True)
        load(
            engine,
            patients=args.patients,
            organizations=args.organizations,
            tasks_per_patient=args.tasks_per_patient,
        )
        with engine.begin() as connection:
            for table in LOADED:
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"
                    )
                )
        # patients of organization 1 are those with id % organizations == 1 (see the loader)
        first_org = [p for p in range(1, args.patients + 1) if p % args.organizations == 1]
        sample = rng.sample(first_org, min(args.sample, len(first_org)))
        examples = [d for d in load_examples().values() if d["region"] == "lumbar"]
        with db.make_sessionmaker(engine)() as session:
            user = session.scalars(
                select(User).where(User.organization_id == 1, User.role == "clinician")
            ).first()
            assert user is not None
            _, secret = accounts.issue_credential(
                session, user=user, kind="session", lifetime=accounts.SESSION_TTL
            )
            for i, patient_id in enumerate(sample):
                flows.save_case(
                    session,
                    organization_id=1,
                    patient_id=patient_id,
                    expected_version=1,
                    document=json.loads(json.dumps(examples[i % len(examples)])),
                    user_id=user.id,
                )
                flows.assess_and_store(
                    session, organization_id=1, patient_id=patient_id, user_id=user.id
                )
            session.commit()
        app = create_app(engine)
        pages: dict[str, Callable[[], str]] = {
            "patient page": lambda: f"/clinic/patients/{rng.choice(sample)}",
            "patient list (by name)": lambda: "/clinic/patients?sort=name",
            "patient list (by name, a later page)": lambda: (
                f"/clinic/patients?sort=name&after={rng.choice(sample)}"
            ),
            "patient list (by record updated)": lambda: "/clinic/patients?sort=updated",
            "patient list (by open alerts)": lambda: "/clinic/patients?sort=alerts",
            "patient list (by open alerts, a later page)": lambda: (
                f"/clinic/patients?sort=alerts&after={rng.choice(sample)}"
            ),
            "worklists": lambda: "/clinic/worklists?discipline=physical-therapy",
            "task board": lambda: f"/clinic/patients/{rng.choice(sample)}/tasks",
            "task board (one discipline)": lambda: (
                f"/clinic/patients/{rng.choice(sample)}/tasks?owner=pain-medicine"
            ),
        }
        results: list[tuple[str, list[float], int]] = []
        with TestClient(app, base_url="http://localhost") as client:
            client.cookies.set(SESSION_COOKIE, secret)
            for name, url in pages.items():
                client.get(url())  # warm up
                times: list[float] = []
                statuses: set[int] = set()
                for _ in range(args.runs):
                    start = time.perf_counter()
                    response = client.get(url())
                    times.append((time.perf_counter() - start) * 1000)
                    statuses.add(response.status_code)
                results.append((name, times, max(statuses)))
        engine.dispose()
    print(f"\n{args.patients:,} patients, {args.runs} requests per page, in-process:\n")
    print("| page | status | p50 ms | p95 ms | max ms |")
    print("|---|---|---|---|---|")
    for name, times, status in results:
        print(
            f"| {name} | {status} | {statistics.median(times):.1f} | "
            f"{percentile(times, 95):.1f} | {max(times):.1f} |"
        )


if __name__ == "__main__":
    main()
