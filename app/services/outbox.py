"""The durable outbox: e-mails are rows first, and a worker sends them.

A service that sends mail calls :func:`queue_message` inside its own transaction, so the
message exists exactly when the change that caused it is committed.  The worker
(``trust-survey worker``, :class:`MailWorker`) then, one message at a time:

1. claims a due message with a lease, and commits the claim (PostgreSQL: ``FOR UPDATE SKIP
   LOCKED``, so several workers never claim one message; SQLite: a conditional ``UPDATE``);
2. sends it through the configured backend (see :mod:`app.services.mail_backends`);
3. commits the outcome: sent; or, on a temporary failure (SMTP 4xx, connection refused, a
   timeout), queued again with an exponential back-off; or, on a permanent one (SMTP 5xx, an
   address that cannot be one), failed.

A worker killed between 1 and 2 loses nothing: the lease lapses and the message is sent later.
Killed during 2 before the server has accepted the message, the same.  The remaining window
is between the server accepting the message and step 3's commit (a few milliseconds): a worker
killed there sends that message again once its lease lapses.  Every attempt of one message
carries the same ``Message-ID`` header (fixed when it was queued), so such a repeat is
recognisable as the same message (and dropped by receivers that de-duplicate on it).

Once a message is sent or has failed for good, its recipient and body (which may hold a
personal link) are erased; counts per round remain.
"""

from __future__ import annotations

import logging
import math
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.models import OutboxMessage, OutboxStatus, utc_now

log = logging.getLogger(__name__)

ERASED = ""  # recipient and body once a message is final
MAX_BACKOFF = timedelta(hours=6)
NOTIFY_KEEPS = timedelta(days=7)
NOTIFY_BOUNCED = frozenset({"permanent-failure", "temporary-failure"})
NOTIFY_FAILED = frozenset({"technical-failure"})
LAST_ERROR_LENGTH = 300

Job = Callable[[Session, datetime], object]
"""A periodic job of the worker: called with a session of its own and the time; it commits."""


@dataclass(frozen=True)
class Sent:
    reference: str | None = None  # the provider's id of the message (Notify), if any


@dataclass(frozen=True)
class TemporaryFailure:
    reason: str


@dataclass(frozen=True)
class PermanentFailure:
    reason: str


Outcome = Sent | TemporaryFailure | PermanentFailure


class MailBackend(Protocol):
    """Sends one message; never raises for a failure of delivery (it returns one)."""

    name: str

    def send(self, message: OutboxMessage) -> Outcome: ...

    def close(self) -> None: ...


def message_id_domain(mail_from: str) -> str:
    """The domain of the From address (``localhost`` when it has none)."""
    address = parseaddr(mail_from)[1]
    domain = address.rpartition("@")[2].strip().lower()
    return domain or "localhost"


def new_message_id() -> str:
    """The left half of a Message-ID, fixed when a message is queued; the header is
    ``<left@domain>``, the domain being MAIL_FROM's (see :func:`message_id_header`)."""
    return f"outbox.{secrets.token_hex(16)}"


def message_id_header(message: OutboxMessage, mail_from: str) -> str:
    return f"<{message.message_id}@{message_id_domain(mail_from)}>"


def queue_message(
    session: Session,
    *,
    to: str,
    subject: str,
    body: str,
    purpose: str,
    round_id: int | None = None,
) -> OutboxMessage:
    """Add a message to the outbox, to be sent by the worker; the caller commits.

    ``purpose`` names why it is sent (``invitation``, ``reminder``, ``password-reset``...);
    ``round_id`` counts it in that round's delivery counts.
    """
    message = OutboxMessage(
        purpose=purpose[:32],
        round_id=round_id,
        recipient=to.strip(),
        subject=" ".join(subject.split())[:300],  # one line: a header
        body=body,
        message_id=new_message_id(),
        status=OutboxStatus.QUEUED,
    )
    session.add(message)
    return message


@dataclass(frozen=True)
class DeliveryCounts:
    """A round's messages by where they stand (not people: a person may get several)."""

    queued: int = 0
    sent: int = 0
    failed: int = 0
    bounced: int = 0

    @property
    def total(self) -> int:
        return self.queued + self.sent + self.failed + self.bounced


def delivery_counts(session: Session, round_id: int, purpose: str | None = None) -> DeliveryCounts:
    """How many of a round's messages (of one purpose, if given) are queued, sent, failed
    and bounced."""
    statement = select(OutboxMessage.status, sa.func.count()).where(
        OutboxMessage.round_id == round_id
    )
    if purpose is not None:
        statement = statement.where(OutboxMessage.purpose == purpose)
    rows = session.exec(statement.group_by(OutboxMessage.status)).all()
    counts = {str(status): int(number) for status, number in rows}
    return DeliveryCounts(
        queued=counts.get(OutboxStatus.QUEUED, 0),
        sent=counts.get(OutboxStatus.SENT, 0),
        failed=counts.get(OutboxStatus.FAILED, 0),
        bounced=counts.get(OutboxStatus.BOUNCED, 0),
    )


def mark_bounced(session: Session, message_id: str) -> bool:
    """Record that a sent message was reported undeliverable (by Notify, or a bounce mail
    naming its Message-ID, with or without ``<...@domain>``); the caller commits.  Whether
    such a message was found."""
    message_id = message_id.strip().removeprefix("<").split("@", 1)[0]
    message = session.exec(
        select(OutboxMessage).where(
            OutboxMessage.message_id == message_id, OutboxMessage.status == OutboxStatus.SENT
        )
    ).first()
    if message is None:
        return False
    message.status = OutboxStatus.BOUNCED
    session.add(message)
    return True


_ADDRESS = re.compile(r"[^\s<>\"'@,;:()]+@[^\s<>\"',;:()]+")


def without_addresses(reason: str) -> str:
    """A server's reply without any e-mail address in it (replies often quote the
    recipient); kept after the recipient itself is erased, and logged."""
    return _ADDRESS.sub("<address>", reason)[:LAST_ERROR_LENGTH]


def backoff(attempts: int, base_seconds: float) -> timedelta:
    """The wait before attempt ``attempts + 1``: base, 2x base, 4x base... at most 6 hours."""
    exponent = min(max(attempts - 1, 0), 30)
    return min(timedelta(seconds=base_seconds * math.pow(2, exponent)), MAX_BACKOFF)


class Clock(Protocol):
    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


class RealClock:
    def __init__(self, stop: threading.Event | None = None) -> None:
        self._stop = stop

    def now(self) -> datetime:
        return utc_now()

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if self._stop is not None:
            self._stop.wait(seconds)
        else:
            time.sleep(seconds)


class Throttle:
    """At most ``per_minute`` sends in any minute: each send waits until ``60 / per_minute``
    seconds after the one before."""

    def __init__(self, per_minute: int, clock: Clock) -> None:
        self.interval = 60.0 / per_minute
        self.clock = clock
        self._last: datetime | None = None

    def wait(self) -> None:
        if self._last is not None:
            due = self._last + timedelta(seconds=self.interval)
            remaining = (due - self.clock.now()).total_seconds()
            if remaining > 0:
                self.clock.sleep(remaining)
        self._last = self.clock.now()


def worker_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"[:64]


@dataclass
class WorkerOptions:
    rate_per_minute: int = 60
    max_attempts: int = 8
    retry_seconds: float = 60.0
    lease_seconds: float = 300.0
    poll_seconds: float = 5.0
    jobs_every_seconds: float = 60.0
    jobs: Sequence[Job] = field(default_factory=tuple)


class MailWorker:
    """Claims, sends and records the outbox's messages, one at a time, each in its own
    transactions; also runs the periodic jobs (scheduled round changes, reminders...)."""

    def __init__(
        self,
        engine: Engine,
        backend: MailBackend,
        options: WorkerOptions,
        *,
        clock: Clock | None = None,
        name: str | None = None,
    ) -> None:
        self.engine = engine
        self.backend = backend
        self.options = options
        self.clock = clock or RealClock()
        self.name = name or worker_name()
        self.throttle = Throttle(options.rate_per_minute, self.clock)
        self._jobs_ran_at: datetime | None = None

    # -- claiming -------------------------------------------------------------------------

    def claim(self) -> int | None:
        """Claim one due message (committed); its id, or None if none is due."""
        now = self.clock.now()
        until = now + timedelta(seconds=self.options.lease_seconds)
        table = OutboxMessage.__table__  # type: ignore[attr-defined]
        due = sa.and_(
            table.c.status == OutboxStatus.QUEUED,
            table.c.next_attempt_at <= now,
            sa.or_(table.c.lease_until.is_(None), table.c.lease_until < now),
        )
        values = {
            "lease_until": until,
            "claimed_by": self.name,
            "attempts": table.c.attempts + 1,
        }
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                candidate = (
                    sa.select(table.c.id)
                    .where(due)
                    .order_by(table.c.next_attempt_at, table.c.id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                    .scalar_subquery()
                )
                claimed = connection.execute(
                    sa.update(table)
                    .where(table.c.id == candidate)
                    .values(**values)
                    .returning(table.c.id)
                ).scalar()
                return int(claimed) if claimed is not None else None
            candidates = connection.execute(
                sa.select(table.c.id)
                .where(due)
                .order_by(table.c.next_attempt_at, table.c.id)
                .limit(20)
            ).scalars()
            for candidate_id in list(candidates):
                result = connection.execute(
                    sa.update(table).where(table.c.id == candidate_id, due).values(**values)
                )
                if result.rowcount == 1:
                    return int(candidate_id)
        return None

    # -- sending --------------------------------------------------------------------------

    def deliver(self, message_id: int) -> Outcome | None:
        """Send one claimed message and commit its outcome (None if it is no longer ours)."""
        with Session(self.engine, expire_on_commit=False) as session:
            message = session.get(OutboxMessage, message_id)
            if (
                message is None
                or message.status != OutboxStatus.QUEUED
                or message.claimed_by != self.name
            ):
                return None
            session.expunge(message)  # keeps what was read; no lazy load during the send
            session.rollback()  # no transaction stays open while the backend works
            try:
                outcome = self.backend.send(message)
            except Exception as error:  # a fault of this code or this message: never stop
                log.exception("outbox message %s could not be sent", message_id)
                outcome = TemporaryFailure(f"could not be sent: {type(error).__name__}")
            self._record(session, message_id, outcome)
            return outcome

    def _record(self, session: Session, message_id: int, outcome: Outcome) -> None:
        message = session.get(OutboxMessage, message_id)
        if message is None:  # its round was deleted meanwhile
            return
        now = self.clock.now()
        if isinstance(outcome, Sent):
            message.status = OutboxStatus.SENT
            message.sent_at = now
            message.provider_reference = outcome.reference
            message.last_error = None
            self._erase(message)
        elif isinstance(outcome, PermanentFailure) or message.attempts >= self.options.max_attempts:
            message.status = OutboxStatus.FAILED
            message.last_error = without_addresses(outcome.reason)
            self._erase(message)
            if message.participant_id is not None:
                self._mark_undeliverable(session, message.participant_id)
            log.warning("outbox message %s failed: %s", message.id, message.last_error)
        else:
            message.next_attempt_at = now + backoff(message.attempts, self.options.retry_seconds)
            message.last_error = without_addresses(outcome.reason)
            log.info(
                "outbox message %s: temporary failure (%s); next attempt at %s",
                message.id,
                message.last_error,
                message.next_attempt_at.isoformat(timespec="seconds"),
            )
        message.lease_until = None
        message.claimed_by = None
        session.add(message)
        session.commit()

    @staticmethod
    def _erase(message: OutboxMessage) -> None:
        message.recipient = ERASED
        message.body = ERASED
        message.participant_id = None

    @staticmethod
    def _mark_undeliverable(session: Session, participant_id: int) -> None:
        from app.models import Participant

        participant = session.get(Participant, participant_id)
        if participant is not None:
            participant.undeliverable = True
            session.add(participant)

    def send_due(self, most: int | None = None, stop: threading.Event | None = None) -> int:
        """Send due messages until none is left (or ``most`` were tried); how many were tried."""
        tried = 0
        while most is None or tried < most:
            if stop is not None and stop.is_set():
                break
            claimed = self.claim()
            if claimed is None:
                break
            self.throttle.wait()
            self.deliver(claimed)
            tried += 1
        return tried

    # -- periodic jobs --------------------------------------------------------------------

    def run_jobs(self, *, force: bool = False) -> None:
        now = self.clock.now()
        every = timedelta(seconds=self.options.jobs_every_seconds)
        if not force and self._jobs_ran_at is not None and now - self._jobs_ran_at < every:
            return
        self._jobs_ran_at = now
        try:
            self.check_deliveries()
        except Exception:
            log.exception("checking deliveries with the provider failed")
        for job in self.options.jobs:
            try:
                with Session(self.engine, expire_on_commit=False) as session:
                    job(session, now)
            except Exception:  # a job's failure never stops the sending
                log.exception("periodic job %s failed", getattr(job, "__name__", job))

    def check_deliveries(self) -> int:
        """Ask the provider (Notify) what became of messages sent in the last 7 days: those it
        could not deliver count as bounced (``permanent-failure``, ``temporary-failure``) or
        failed (``technical-failure``); delivered ones are not asked about again.  How many
        changed.  Backends that cannot tell (SMTP) are not asked."""
        status_of: Callable[[str], str | None] | None = getattr(self.backend, "status_of", None)
        if status_of is None:
            return 0
        now = self.clock.now()
        changed = 0
        with Session(self.engine, expire_on_commit=False) as session:
            waiting = session.exec(
                select(OutboxMessage)
                .where(
                    OutboxMessage.status == OutboxStatus.SENT,
                    col(OutboxMessage.provider_reference).is_not(None),
                )
                .order_by(col(OutboxMessage.id))
                .limit(500)
            ).all()
            for message in waiting:
                assert message.provider_reference is not None
                sent_at = message.sent_at
                if sent_at is not None and sent_at.tzinfo is None:
                    sent_at = sent_at.replace(tzinfo=now.tzinfo)
                if sent_at is not None and now - sent_at > NOTIFY_KEEPS:
                    message.provider_reference = None  # Notify no longer knows it
                    session.add(message)
                    continue
                status = status_of(message.provider_reference)
                if status in NOTIFY_BOUNCED:
                    message.status = OutboxStatus.BOUNCED
                elif status in NOTIFY_FAILED:
                    message.status = OutboxStatus.FAILED
                    message.last_error = f"Notify {status}"
                elif status != "delivered":
                    continue  # still being sent: ask again later
                message.provider_reference = None
                session.add(message)
                changed += status != "delivered"
            session.commit()
        return changed

    def run(self, stop: threading.Event) -> None:
        """Until ``stop`` is set: periodic jobs when due, then send what is due, then wait."""
        try:
            while not stop.is_set():
                self.run_jobs()
                try:
                    self.send_due(stop=stop)
                except sa.exc.OperationalError:
                    log.exception("outbox: the database is unavailable; trying again")
                stop.wait(self.options.poll_seconds)
        finally:
            self.backend.close()
