"""Benchmark: the notification worker's claim loop on PostgreSQL. Not a test: it asserts
nothing about speed.

It starts a throwaway PostgreSQL server (secondlook.store.pgtemp), migrates it, loads with COPY
`--history` notifications already sent (default 100,000) and `--pending` due ones (default
10,000), then drains the pending ones with `--workers` worker threads, each running the
worker's own loop (services.delivery.drain: claim a batch with FOR UPDATE SKIP LOCKED, send,
record the outcome and its audit event, one transaction per message). The "send" is either
nothing (`--channel none`: the outbox's own cost) or a real SMTP delivery to an aiosmtpd server
on 127.0.0.1 (`--channel smtp`). Prints sends per second and the p50/p95 of one claim.

    .venv/bin/python bench/worker_bench.py                              # 10k pending, 1/2/4 workers
    .venv/bin/python bench/worker_bench.py --pending 2000 --channel smtp
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import threading
import time
from collections import Counter
from typing import Any

from sqlalchemy import Engine, text

from secondlook.services import delivery
from secondlook.services.notifications import NotifySettings, Smtp
from secondlook.store import db, migrate
from secondlook.store import outbox as store
from secondlook.store.models import utcnow
from secondlook.store.pgtemp import TempPostgres, find_bindir

COLUMNS = (
    "organization_id",
    "kind",
    "channel",
    "recipient",
    "template",
    "subject",
    "body",
    "idempotency_key",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
    "sent_at",
)


def load(engine: Engine, *, history: int, pending: int, batch_name: str) -> None:
    with engine.begin() as connection:
        org = connection.execute(
            text(
                "INSERT INTO organizations (slug, name, created_at) "
                "VALUES (:s, 'Bench', now()) RETURNING id"
            ),
            {"s": batch_name},
        ).scalar_one()
    raw: Any = engine.raw_connection()
    try:
        now = utcnow()
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY notification_outbox ({', '.join(COLUMNS)}) FROM STDIN") as copy,
        ):
            for n in range(history + pending):
                done = n < history
                copy.write_row(
                    (
                        org,
                        "alert",
                        "email",
                        f"staff{n % 50}@bench.example.org",
                        "staff-alert",
                        "Urgent: an alert needs attention in SecondLook",
                        "An urgent alert needs attention in SecondLook.\n",
                        f"{batch_name}/alert:{n}",
                        "sent" if done else "pending",
                        1 if done else 0,
                        now - dt.timedelta(seconds=history + pending - n),
                        now - dt.timedelta(seconds=history + pending - n),
                        now if done else None,
                    )
                )
        raw.commit()
    finally:
        raw.close()
    with engine.begin() as connection:
        connection.execute(text("ANALYZE notification_outbox"))


def run(
    engine: Engine, workers: int, send: delivery.Sender
) -> tuple[float, list[float], Counter[str]]:
    sessions = db.make_sessionmaker(engine)
    claims: list[float] = []
    counts: Counter[str] = Counter()
    lock = threading.Lock()
    claim = store.claim

    def timed_claim(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        rows = claim(*args, **kwargs)
        with lock:
            claims.append(time.perf_counter() - started)
        return rows

    def counted_send(message: delivery.Outgoing) -> None:
        send(message)
        with lock:
            counts[message.idempotency_key] += 1

    def one(name: str) -> None:
        delivery.drain(sessions, counted_send, worker=name, batch=20)

    # The worker's own loop, with its claim timed (the bench only, never the application).
    store.claim = timed_claim
    try:
        threads = [threading.Thread(target=one, args=(f"bench-{i}",)) for i in range(workers)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started, claims, counts
    finally:
        store.claim = claim


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--channel", choices=("none", "smtp"), default="none")
    args = parser.parse_args()
    server = TempPostgres(find_bindir()).start()
    controller = None
    try:

        def send(message: delivery.Outgoing) -> None:
            return None

        if args.channel == "smtp":
            from aiosmtpd.controller import Controller

            class Sink:
                async def handle_DATA(self, *_: Any) -> str:
                    return "250 OK"

            controller = Controller(Sink(), hostname="127.0.0.1", port=8125)
            controller.start()
            settings = NotifySettings(
                base_url="http://localhost:8000",
                smtp=Smtp("127.0.0.1", 8125, False, "bench@bench.example.org", None, None),
            )
            send = delivery.Channels(settings).send
        for workers in args.workers:
            engine = db.make_engine(server.create_database(f"worker_bench_{workers}"))
            migrate.upgrade(engine)
            load(engine, history=args.history, pending=args.pending, batch_name=f"w{workers}")
            seconds, claims, counts = run(engine, workers, send)
            with engine.connect() as connection:
                left = connection.execute(
                    text("SELECT count(*) FROM notification_outbox WHERE status <> 'sent'")
                ).scalar_one()
            claims_ms = sorted(c * 1000 for c in claims)
            p95 = claims_ms[int(len(claims_ms) * 0.95) - 1]
            print(
                f"{workers} worker(s), channel {args.channel}: {args.pending} sent in "
                f"{seconds:.1f} s = {args.pending / seconds:.0f}/s; claim p50 "
                f"{statistics.median(claims_ms):.1f} ms, p95 {p95:.1f} ms; "
                f"sent twice {sum(1 for c in counts.values() if c > 1)}, left {left}"
            )
            engine.dispose()
    finally:
        if controller is not None:
            controller.stop()
        server.cleanup()


if __name__ == "__main__":
    main()
