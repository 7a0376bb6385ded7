"""Benchmark: the care worklist queries on a large PostgreSQL database. Not a test: it asserts
nothing about speed.

It starts a throwaway PostgreSQL server (secondlook.store.pgtemp), migrates it, loads with COPY
`--patients` patients (default 100,000) spread over `--organizations` organizations, each with a
case version, an assessment (a few percent with red flags), a care plan, and `--tasks-per-patient`
tasks (default 10, so 1,000,000): 6 care tasks of the six disciplines (about 40% still open,
a third of those assigned to a team member) and 4 questionnaire tasks of the patient, plus
questionnaire answers for about half of those. Then it runs each worklist query, exactly as the
API runs it (the functions of secondlook.store.care_worklists, one SQLAlchemy session), `--runs`
times with a random organization, user and discipline, and prints p50/p95/max per query.

    .venv/bin/python bench/care_worklist_bench.py                       # 100k patients, 1M tasks
    .venv/bin/python bench/care_worklist_bench.py --patients 10000 --runs 50   # a quick look
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from secondlook.store import care_worklists, db, migrate
from secondlook.store.care_worklists import DueCursor
from secondlook.store.pgtemp import TempPostgres

DISCIPLINES = (
    "spine-surgery",
    "pain-medicine",
    "internal-medicine",
    "physical-therapy",
    "psychology",
    "nursing-coordination",
)
INSTRUMENTS = ("odi", "nrs-pain", "phq-9", "dn4")
TODAY = dt.date(2026, 11, 21)
USERS_PER_ORG = 20
# A plan's completion criteria as the application stores them (pages read them back).
COMPLETION = json.dumps(
    {"goals": [], "measured_after_months": 12, "tasks_closed": True, "discharge": []}
)
NOW = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)


def _copy(raw: Any, table: str, columns: tuple[str, ...], rows: Iterator[tuple[Any, ...]]) -> int:
    count = 0
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def load(engine: Engine, *, patients: int, organizations: int, tasks_per_patient: int) -> None:
    rng = random.Random(7)
    raw = engine.raw_connection()
    conn: Any = raw.driver_connection
    started = time.perf_counter()

    def step(name: str, n: int) -> None:
        print(f"  {name:<28} {n:>9,} rows  {time.perf_counter() - started:6.1f} s", flush=True)

    n = _copy(
        conn,
        "organizations",
        ("id", "slug", "name", "created_at"),
        ((o, f"org-{o}", f"Org {o}", NOW) for o in range(1, organizations + 1)),
    )
    step("organizations", n)
    users = [(u, (u - 1) // USERS_PER_ORG + 1) for u in range(1, organizations * USERS_PER_ORG + 1)]
    n = _copy(
        conn,
        "users",
        ("id", "organization_id", "username", "role", "active", "version", "created_at"),
        (
            (u, o, f"user-{u}", "clinician" if u % 2 else "coordinator", True, 1, NOW)
            for u, o in users
        ),
    )
    step("users", n)

    def org_of(p: int) -> int:
        return (p - 1) % organizations + 1

    n = _copy(
        conn,
        "patients",
        (
            "id",
            "organization_id",
            "name",
            "version",
            "case_version",
            "created_at",
            "updated_at",
        ),
        ((p, org_of(p), f"Patient {p}", 1, 1, NOW, NOW) for p in range(1, patients + 1)),
    )
    step("patients", n)
    n = _copy(
        conn,
        "case_versions",
        ("id", "organization_id", "patient_id", "number", "document", "created_at"),
        (
            (p, org_of(p), p, 1, '{"region": "lumbar", "patient": {}}', NOW)
            for p in range(1, patients + 1)
        ),
    )
    step("case_versions", n)
    flag = json.dumps(
        {
            "red_flags": [{"id": "cauda-equina", "name": "Cauda equina", "urgency": "emergency"}],
            "knowledge_version": "bench",
        }
    )
    calm = '{"red_flags": [], "knowledge_version": "bench"}'
    n = _copy(
        conn,
        "assessments",
        (
            "id",
            "organization_id",
            "patient_id",
            "case_version_id",
            "knowledge_version",
            "engine_version",
            "document",
            "created_at",
        ),
        (
            (p, org_of(p), p, p, "bench", "bench", flag if rng.random() < 0.03 else calm, NOW)
            for p in range(1, patients + 1)
        ),
    )
    step("assessments", n)

    def start_of(p: int) -> dt.date:
        return TODAY - dt.timedelta(days=(p * 7919) % 900)

    n = _copy(
        conn,
        "care_plans",
        (
            "id",
            "organization_id",
            "patient_id",
            "assessment_id",
            "knowledge_version",
            "engine_version",
            "region",
            "proposed_on",
            "decided_on",
            "decided_by",
            "start_on",
            "review_on",
            "status",
            "entries",
            "goals",
            "completion",
            "questionnaire_options",
            "version",
            "created_at",
            "updated_at",
        ),
        (
            (
                p,
                org_of(p),
                p,
                p,
                "bench",
                "bench",
                "lumbar",
                start_of(p),
                start_of(p),
                "bench",
                start_of(p),
                start_of(p) + dt.timedelta(days=91 + (p % 120)),
                "active" if p % 5 else "completed",
                "[]",
                "[]",
                COMPLETION,
                "{}",
                1,
                NOW,
                NOW,
            )
            for p in range(1, patients + 1)
        ),
    )
    step("care_plans", n)

    care_per_patient = min(6, tasks_per_patient)
    questionnaires_per_patient = tasks_per_patient - care_per_patient
    answers: list[tuple[int, int, str, dt.date]] = []

    def tasks() -> Iterator[tuple[Any, ...]]:
        task_id = 0
        for p in range(1, patients + 1):
            org, start = org_of(p), start_of(p)
            for k in range(care_per_patient):
                task_id += 1
                due = start + dt.timedelta(days=rng.randint(0, 120))
                open_ = rng.random() < 0.4
                status = (
                    rng.choice(("requested", "accepted", "in-progress"))
                    if open_
                    else (rng.choice(("completed", "completed", "completed", "cancelled")))
                )
                assignee = None
                if open_ and rng.random() < 0.33:
                    assignee = (org - 1) * USERS_PER_ORG + rng.randint(1, USERS_PER_ORG)
                yield (
                    task_id, org, p, p, f"{p}/task-{k}", "care", f"task-{k}", f"Task {k}",
                    DISCIPLINES[(p + k) % len(DISCIPLINES)], assignee, due, status, "[]",
                    None, None, None, None, 1, NOW,
                )  # fmt: skip
            for q in range(questionnaires_per_patient):
                task_id += 1
                months = (0, 3, 6, 12, 24)[q % 5]
                due = start + dt.timedelta(days=round(months * 30.4))
                instrument = INSTRUMENTS[q % len(INSTRUMENTS)]
                opens = due - dt.timedelta(days=14)
                if rng.random() < 0.5 and opens <= TODAY:
                    answers.append(
                        (org, p, instrument, opens + dt.timedelta(days=rng.randint(0, 28)))
                    )
                yield (
                    task_id, org, p, p, f"{p}/questionnaire/{q}", "questionnaire",
                    f"questionnaire:{instrument}", f"Questionnaire {instrument}", "patient", None,
                    due, "requested", "[]", instrument, f"{months}m", opens, None, 1, NOW,
                )  # fmt: skip

    n = _copy(
        conn,
        "care_tasks",
        (
            "id",
            "organization_id",
            "patient_id",
            "plan_id",
            "task_key",
            "kind",
            "key",
            "name",
            "owner",
            "assignee_user_id",
            "due",
            "status",
            "blocked_by",
            "instrument",
            "time_point",
            "window_opens",
            "window_closes",
            "version",
            "updated_at",
        ),
        tasks(),
    )
    step("care_tasks", n)
    n = _copy(
        conn,
        "questionnaire_responses",
        (
            "organization_id",
            "patient_id",
            "instrument",
            "answered_on",
            "answers",
            "score",
            "subscales",
            "alerts",
            "problems",
            "created_at",
        ),
        ((o, p, i, d, "[]", 10.0, "{}", "[]", "[]", NOW) for o, p, i, d in answers),
    )
    step("questionnaire_responses", n)
    with conn.cursor() as cursor:
        for table in ("users", "patients", "care_plans", "care_tasks"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
    conn.commit()
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    # The connection goes back to the pool: as the application expects it, in transactions.
    conn.autocommit = False
    step("vacuum analyze", 0)
    raw.close()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def measure(engine: Engine, *, organizations: int, runs: int) -> list[tuple[str, list[float], int]]:
    rng = random.Random(11)
    maker = db.make_sessionmaker(engine)
    limit = 51  # a page of 50, and one more to know there is a next page

    def org() -> int:
        return rng.randint(1, organizations)

    def user(o: int) -> int:
        return (o - 1) * USERS_PER_ORG + rng.randint(1, USERS_PER_ORG)

    queries: dict[str, Callable[[Session], list[Any]]] = {
        "my tasks": lambda s: (
            o := org(),
            care_worklists.worklist_my_tasks(
                s, organization_id=o, user_id=user(o), limit=limit, after=None
            ),
        )[1],
        "my discipline's tasks": lambda s: care_worklists.worklist_discipline(
            s, organization_id=org(), discipline=rng.choice(DISCIPLINES), limit=limit, after=None
        ),
        "my discipline's, page 20": lambda s: care_worklists.worklist_discipline(
            s,
            organization_id=org(),
            discipline=rng.choice(DISCIPLINES),
            limit=limit,
            after=DueCursor(TODAY - dt.timedelta(days=rng.randint(0, 600)), 0),
        ),
        "overdue tasks": lambda s: care_worklists.worklist_overdue(
            s, organization_id=org(), today=TODAY, limit=limit, after=None
        ),
        "questionnaires not completed": lambda s: care_worklists.worklist_questionnaires(
            s, organization_id=org(), today=TODAY, limit=limit, after_patient=0
        ),
        "questionnaires overdue": lambda s: care_worklists.worklist_questionnaires(
            s, organization_id=org(), today=TODAY, limit=limit, after_patient=0, include_due=False
        ),
        "open red flags": lambda s: care_worklists.worklist_red_flags(
            s, organization_id=org(), limit=limit, after_patient=0
        ),
        "plans due for review": lambda s: care_worklists.worklist_reviews(
            s,
            organization_id=org(),
            until=TODAY + dt.timedelta(days=14),
            limit=limit,
            after=None,
        ),
    }
    out = []
    for name, query in queries.items():
        latencies: list[float] = []
        rows = 0
        with maker() as session:
            for _ in range(5):  # warm up the connection and the cache
                query(session)
                session.rollback()
            for _ in range(runs):
                begin = time.perf_counter()
                rows += len(query(session))
                latencies.append((time.perf_counter() - begin) * 1000)
                session.rollback()
        out.append((name, latencies, rows // runs))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--tasks-per-patient", type=int, default=10)
    parser.add_argument("--organizations", type=int, default=4)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    with TempPostgres() as server:
        url = server.create_database("care_bench")
        engine = db.make_engine(url)
        migrate.upgrade(engine)
        print(
            f"loading {args.patients:,} patients and "
            f"{args.patients * args.tasks_per_patient:,} tasks into PostgreSQL:",
            flush=True,
        )
        load(
            engine,
            patients=args.patients,
            organizations=args.organizations,
            tasks_per_patient=args.tasks_per_patient,
        )
        with engine.connect() as connection:
            version = connection.execute(text("SHOW server_version")).scalar()
        results = measure(engine, organizations=args.organizations, runs=args.runs)
        engine.dispose()
    print(f"\nPostgreSQL {version}, {args.runs} runs each, pages of 50 (51 rows fetched):\n")
    print("| worklist | rows | p50 ms | p95 ms | max ms |")
    print("|---|---|---|---|---|")
    for name, latencies, rows in results:
        print(
            f"| {name} | {rows} | {statistics.median(latencies):.1f} | "
            f"{percentile(latencies, 95):.1f} | {max(latencies):.1f} |"
        )


if __name__ == "__main__":
    main()
