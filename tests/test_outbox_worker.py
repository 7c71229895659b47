"""`trust-survey worker` as a process: killed with SIGKILL mid-batch and started again, and two
at once on PostgreSQL, against a real SMTP server on loopback.  Each message must reach the
server exactly once.

Where the worker is killed is chosen by the SMTP server, which holds the connection at a
given message until the test has killed the worker; no assertion depends on how long
anything takes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.models import OutboxMessage, OutboxStatus
from app.services.outbox import queue_message
from tests.conftest import TEST_SECRET
from tests.mail_support import SmtpServer, smtp_server, until

__all__ = ["smtp_server"]

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = 30


def worker_environment(database_url: str, server: SmtpServer) -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SMTP_", "MAIL_", "NOTIFY_", "WORKER_"))
    }
    environment.update(
        {
            "PYTHONPATH": str(ROOT),
            "ENVIRONMENT": "test",
            "DATABASE_URL": database_url,
            "SECRET_KEY": TEST_SECRET,
            "SMTP_HOST": server.host,
            "SMTP_PORT": str(server.port),
            "SMTP_SECURITY": "none",
            "MAIL_FROM": "Trust Survey <survey@example.nhs.uk>",
            "MAIL_RATE_PER_MINUTE": "60000",
            # A dead worker's claim lapses after 7 s; a busy machine's slow reply within 3 s
            # is no failure, and a failure is retried soon.
            "MAIL_TIMEOUT": "3",
            "MAIL_LEASE_SECONDS": "7",
            "MAIL_RETRY_SECONDS": "0.5",
            "WORKER_POLL_SECONDS": "0.1",
        }
    )
    return environment


class Workers:
    def __init__(self, database_url: str, server: SmtpServer, folder: Path) -> None:
        self.environment = worker_environment(database_url, server)
        self.extra_environment: dict[str, str] = {}
        self.folder = folder
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, *extra: str) -> subprocess.Popen[bytes]:
        log = (self.folder / f"worker-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker", *extra],
            cwd=self.folder,
            env=self.environment | self.extra_environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def logs(self) -> str:
        return "\n".join(path.read_text() for path in sorted(self.folder.glob("worker-*.log")))

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def workers(migrated_url: str, smtp_server: SmtpServer, tmp_path: Path) -> Iterator[Workers]:
    started = Workers(migrated_url, smtp_server, tmp_path)
    yield started
    started.stop_all()


def queue_batch(engine: Engine, count: int = MESSAGES) -> list[str]:
    recipients = [f"person{number:02d}@example.org" for number in range(count)]
    with Session(engine) as session:
        for number, recipient in enumerate(recipients):
            queue_message(
                session,
                to=recipient,
                subject=f"Invitation {number}",
                body=f"Your link: https://survey.example/s/token{number}",
                purpose="invitation",
            )
        session.commit()
    return recipients


def statuses(engine: Engine) -> Counter[str]:
    with Session(engine) as session:
        return Counter(str(row.status) for row in session.exec(select(OutboxMessage)))


def test_a_worker_killed_mid_batch_and_restarted_sends_each_message_once(
    engine: Engine, smtp_server: SmtpServer, workers: Workers
) -> None:
    recipients = queue_batch(engine)
    handler = smtp_server.handler
    reached, killed = threading.Event(), threading.Event()
    rcpts: list[str] = []

    async def hold_the_eleventh(address: str, peer: str) -> None:
        rcpts.append(address)
        if len(rcpts) == 11:  # ten delivered, the eleventh in its SMTP transaction
            reached.set()
            await until(killed)

    handler.before_rcpt = hold_the_eleventh
    first = workers.start()
    assert reached.wait(60), workers.logs()
    first.send_signal(signal.SIGKILL)
    first.wait(30)
    killed.set()
    assert first.returncode == -signal.SIGKILL
    delivered_before = [item.recipient for item in handler.received]
    assert delivered_before == recipients[:10]

    workers.start()  # sends the rest, the held one once its dead worker's lease lapses
    handler.wait_for(MESSAGES)
    workers.stop_all()

    counts = Counter(item.recipient for item in handler.received)
    assert counts == Counter(recipients), "every message exactly once"
    assert statuses(engine) == Counter({OutboxStatus.SENT: MESSAGES})
    assert len({item.message_id for item in handler.received}) == MESSAGES


def test_a_worker_killed_after_the_server_took_a_message_resends_it_with_its_message_id(
    engine: Engine, smtp_server: SmtpServer, workers: Workers
) -> None:
    """The window that remains: the server has the message, the worker dies before it hears
    so.  That one message arrives twice, both with the same Message-ID; no other does."""
    recipients = queue_batch(engine)
    handler = smtp_server.handler
    reached, killed = threading.Event(), threading.Event()

    async def die_before_the_reply(address: str, peer: str) -> None:
        if address == recipients[5]:
            reached.set()
            await until(killed)

    handler.before_data = die_before_the_reply
    first = workers.start()
    assert reached.wait(60), workers.logs()
    first.send_signal(signal.SIGKILL)
    first.wait(30)
    handler.before_data = None
    killed.set()

    workers.start()
    handler.wait_for(MESSAGES + 1)
    workers.stop_all()

    counts = Counter(item.recipient for item in handler.received)
    assert counts == Counter(recipients) + Counter([recipients[5]])
    twice = [item.message_id for item in handler.received if item.recipient == recipients[5]]
    assert len(twice) == 2 and twice[0] == twice[1]
    assert statuses(engine) == Counter({OutboxStatus.SENT: MESSAGES})


def test_sigterm_finishes_the_message_in_hand_then_stops(
    engine: Engine, smtp_server: SmtpServer, workers: Workers
) -> None:
    recipients = queue_batch(engine, 5)
    handler = smtp_server.handler
    reached, asked = threading.Event(), threading.Event()

    async def stop_at_the_third(address: str, peer: str) -> None:
        if address == recipients[2]:
            reached.set()
            await until(asked)

    handler.before_data = stop_at_the_third
    worker = workers.start()
    assert reached.wait(60), workers.logs()
    worker.send_signal(signal.SIGTERM)
    asked.set()
    assert worker.wait(30) == 0
    assert [item.recipient for item in handler.received] == recipients[:3]
    assert statuses(engine) == Counter({OutboxStatus.SENT: 3, OutboxStatus.QUEUED: 2})


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_workers_on_postgresql_never_send_one_message_twice(
    engine: Engine, smtp_server: SmtpServer, workers: Workers
) -> None:
    recipients = queue_batch(engine, 60)
    handler = smtp_server.handler
    peers: set[str] = set()
    both = threading.Event()

    async def wait_for_both_workers(address: str, peer: str) -> None:
        peers.add(peer)
        if len(peers) >= 2:
            both.set()
        await until(both)  # each worker's first message waits until both are sending

    handler.before_rcpt = wait_for_both_workers
    # The first worker's first message waits for the second worker to start: no timeout then.
    workers.extra_environment = {"MAIL_TIMEOUT": "60", "MAIL_LEASE_SECONDS": "180"}
    workers.start("--once")
    workers.start("--once")
    handler.wait_for(60)
    for process in workers.processes:
        assert process.wait(60) == 0, workers.logs()

    assert both.is_set(), "both workers took part"
    assert Counter(item.recipient for item in handler.received) == Counter(recipients)
    assert len({item.peer for item in handler.received}) >= 2
    assert statuses(engine) == Counter({OutboxStatus.SENT: 60})
