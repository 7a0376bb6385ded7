"""The worker as operators run it (`secondlook worker`, a process of its own): killed in the
middle of a burst it loses nothing, and several workers on PostgreSQL never take the same
notification."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from notify_support import Mailbox, notify_engine, notify_url, smtp_server

import factories
from secondlook.services import notifications
from secondlook.services.notifications import WEBHOOK
from secondlook.store import db
from secondlook.store import outbox as store
from secondlook.store.models import AuditEvent, utcnow
from secondlook.store.notify_models import OutboxMessage

__all__ = ["notify_engine", "notify_url"]  # fixtures used by the tests below

SECONDLOOK = str(Path(sys.executable).parent / "secondlook")


def burst(engine: Engine, count: int) -> list[str]:
    """``count`` staff alerts to different addresses, committed; returns their keys."""
    keys = []
    with factories.committed(engine) as session:
        org = factories.organization(session)
        for n in range(count):
            key = f"alert:{n}/0/staff{n}@spine.example.org"
            notifications.enqueue(
                session,
                kind="alert",
                recipient=f"staff{n}@spine.example.org",
                template="staff-alert",
                context={"site": "Burst Spine", "link": "https://secondlook.example.org/clinic"},
                idempotency_key=key,
                organization_id=org.id,
            )
            keys.append(key)
    return keys


def environment(url: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "SECONDLOOK_DATABASE_URL": url,
        "SECONDLOOK_SMTP_HOST": "127.0.0.1",
        "SECONDLOOK_SMTP_PORT": str(port),
        "SECONDLOOK_SMTP_STARTTLS": "false",
        "SECONDLOOK_SMTP_FROM": "secondlook@spine.example.org",
    }


@contextmanager
def worker(
    url: str, port: int, name: str, log: Path, *args: str
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [SECONDLOOK, "worker", "--once", "--name", name, "--batch", "5", *args],
            env=environment(url, port),
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=60)


def outbox(engine: Engine) -> list[OutboxMessage]:
    with db.make_sessionmaker(engine)() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def audited_sends(engine: Engine) -> Counter[str]:
    """How many successful sends the audit trail records per notification."""
    with db.make_sessionmaker(engine)() as session:
        resources = session.scalars(
            select(AuditEvent.resource).where(
                AuditEvent.action == "notification.send", AuditEvent.outcome == "success"
            )
        )
        return Counter(r.rsplit(" ", 1)[1] for r in resources)


def test_a_worker_killed_mid_burst_loses_nothing_and_records_each_send_once(
    notify_engine: Engine, notify_url: str, tmp_path: Path
) -> None:
    """SIGKILL lands while the relay is taking a burst of 20 messages. A restarted worker
    (same name) sends what was left, including the messages its predecessor had claimed.

    "Exactly once as far as the outbox can tell": every row ends ``sent`` once, with one
    successful send on the audit trail, and the relay saw every idempotency key at least
    once. A message the relay accepted just before the kill, but whose row was not yet
    marked, is sent again after the restart with the same key (and the same Message-ID):
    the outbox cannot know the relay took it, so delivery is at least once on the wire and
    the receiver can drop the repeat by its key."""
    keys = burst(notify_engine, 20)
    log = tmp_path / "worker.log"
    with smtp_server(delay=0.05) as (box, port):
        with worker(notify_url, port, "w1", log) as first:
            box.wait_for(7)  # mid-way through the second batch of five
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=60)
        assert first.returncode == -signal.SIGKILL
        got_before = len(box.messages)
        assert got_before < 20, "the kill came after the burst"
        left = [m for m in outbox(notify_engine) if m.status != "sent"]
        assert left, "nothing was left to send after the kill"
        assert any(m.status == "sending" for m in left), "the kill did not land mid-batch"
        with worker(notify_url, port, "w1", log) as second:
            assert second.wait(timeout=120) == 0, log.read_text()
    seen = Counter(box.keys())
    assert set(seen) == set(keys)  # none lost
    assert all(m.status == "sent" and m.sent_at is not None for m in outbox(notify_engine))
    assert audited_sends(notify_engine) == Counter({str(m.id): 1 for m in outbox(notify_engine)})
    # At most the messages in flight at the kill were repeated, each with its own key.
    assert sum(seen.values()) - len(keys) <= 1


def test_a_lease_that_runs_out_lets_another_worker_take_the_row_over(
    notify_engine: Engine,
) -> None:
    (key,) = burst(notify_engine, 1)
    sessions = db.make_sessionmaker(notify_engine)
    now = utcnow()
    lease = dt.timedelta(minutes=2)
    with sessions() as session:
        (taken,) = store.claim(session, worker="hung", now=now, lease=lease, limit=10)
        session.commit()
    with sessions() as session:
        assert (
            store.claim(session, worker="other", now=now + lease / 2, lease=lease, limit=10) == []
        )
        (again,) = store.claim(session, worker="other", now=now + lease * 2, lease=lease, limit=10)
        session.commit()
    assert (again.id, again.idempotency_key, again.attempts) == (taken.id, key, 2)
    with sessions() as session:
        # The hung worker wakes up: its record is refused, the new owner's stands.
        assert not store.mark_sent(session, message_id=taken.id, worker="hung", now=now)
        assert store.mark_sent(session, message_id=taken.id, worker="other", now=now)
        session.commit()


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_two_workers_on_postgresql_never_claim_the_same_row(notify_engine: Engine) -> None:
    burst(notify_engine, 10)
    sessions = db.make_sessionmaker(notify_engine)
    now = utcnow()
    lease = dt.timedelta(minutes=2)
    with sessions() as first, sessions() as second:
        mine = store.claim(first, worker="a", now=now, lease=lease, limit=6)
        # The first worker's transaction is still open: SKIP LOCKED passes over its rows
        # instead of waiting for them or taking them too.
        theirs = store.claim(second, worker="b", now=now, lease=lease, limit=10)
        first.commit()
        second.commit()
    assert len(mine) == 6 and len(theirs) == 4
    assert not {m.id for m in mine} & {m.id for m in theirs}


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_two_worker_processes_on_postgresql_send_each_notification_once(
    notify_engine: Engine, notify_url: str, tmp_path: Path
) -> None:
    keys = burst(notify_engine, 40)
    log = tmp_path / "workers.log"
    box: Mailbox
    with smtp_server(delay=0.02) as (box, port), worker(notify_url, port, "a", log) as a:
        with worker(notify_url, port, "b", log) as b:
            assert b.wait(timeout=120) == 0, log.read_text()
        assert a.wait(timeout=120) == 0, log.read_text()
    assert sorted(box.keys()) == sorted(keys)  # each exactly once: nobody sent a row twice
    assert audited_sends(notify_engine) == Counter({str(m.id): 1 for m in outbox(notify_engine)})


def test_a_webhook_row_without_a_webhook_waits_instead_of_vanishing(
    notify_engine: Engine, notify_url: str, tmp_path: Path
) -> None:
    with factories.committed(notify_engine) as session:
        org = factories.organization(session)
        notifications.enqueue(
            session,
            kind="alert",
            recipient=WEBHOOK,
            template="staff-alert",
            context={"site": "x", "link": "https://secondlook.example.org/clinic"},
            idempotency_key="alert:1/0/webhook",
            organization_id=org.id,
        )
    log = tmp_path / "worker.log"
    with smtp_server() as (_box, port), worker(notify_url, port, "w", log) as process:
        assert process.wait(timeout=120) == 0, log.read_text()
    (row,) = outbox(notify_engine)
    assert (row.status, row.last_error) == (
        "pending",
        "no webhook configured (SECONDLOOK_NOTIFY_WEBHOOK_URL)",
    )
    # The operator is told what waits.
    assert "outbox: 1 pending, 0 sending, 0 sent, 0 failed" in log.read_text()
