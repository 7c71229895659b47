"""The outbox and its worker, in process, against a real SMTP server on loopback (aiosmtpd)
and a loopback server speaking GOV.UK Notify's API, on SQLite and PostgreSQL.

Time is a fake clock the worker is given: back-off and throttling are checked by counting
what the worker did at each (fake) moment, never by measuring how long anything took."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.models import OutboxMessage, OutboxStatus, utc_now
from app.services.mail_backends import (
    ConsoleBackend,
    MailSettingsError,
    NotifyBackend,
    SmtpBackend,
    backend_for,
)
from app.services.outbox import (
    MailBackend,
    MailWorker,
    Outcome,
    Sent,
    WorkerOptions,
    backoff,
    delivery_counts,
    mark_bounced,
    message_id_header,
    queue_message,
    without_addresses,
)
from app.services.scheduled import periodic_jobs
from app.settings import Settings, SettingsError, load_settings
from tests.conftest import TEST_SECRET, SurveySetUp
from tests.mail_support import (
    NOTIFY_API_KEY,
    NOTIFY_TEMPLATE_ID,
    NotifyServer,
    SmtpServer,
    free_port,
    notify_server,
    smtp_server,
)

__all__ = ["notify_server", "smtp_server"]  # fixtures

MAIL_FROM = "Trust Survey <survey@example.nhs.uk>"


class FakeClock:
    """Time that moves only when the worker sleeps or the test says so."""

    def __init__(self) -> None:
        self.moment = utc_now() + timedelta(seconds=1)
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self.moment

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.moment += timedelta(seconds=seconds)

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


def smtp_backend(server: SmtpServer, port: int | None = None) -> SmtpBackend:
    return SmtpBackend(
        host=server.host,
        port=port or server.port,
        security="none",
        username=None,
        password=None,
        mail_from=MAIL_FROM,
        timeout=10,
    )


def make_worker(
    engine: Engine,
    backend: MailBackend,
    clock: FakeClock,
    *,
    rate: int = 6000,
    max_attempts: int = 8,
    jobs: tuple[Callable[[Session, datetime], object], ...] = (),
) -> MailWorker:
    options = WorkerOptions(
        rate_per_minute=rate,
        max_attempts=max_attempts,
        retry_seconds=60,
        lease_seconds=300,
        jobs=jobs,
    )
    return MailWorker(engine, backend, options, clock=clock)


def queue(session: Session, to: str, round_id: int | None = None, number: int = 1) -> int:
    message = queue_message(
        session,
        to=to,
        subject=f"Survey invitation {number}",
        body=f"Hello {number}.\nYour link: https://survey.example/s/token{number}\n",
        purpose="invitation",
        round_id=round_id,
    )
    session.commit()
    assert message.id is not None
    return message.id


def aware(moment: datetime) -> datetime:
    """SQLite gives back times without their zone (they are stored in UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def stored(session: Session, message_id: int) -> OutboxMessage:
    session.expire_all()
    message = session.get(OutboxMessage, message_id)
    assert message is not None
    return message


def test_queue_message_leaves_the_commit_to_the_caller(session: Session) -> None:
    queue_message(session, to="a@example.org", subject="s", body="b", purpose="test")
    session.rollback()
    assert session.exec(select(OutboxMessage)).all() == []


def test_messages_are_delivered_once_each_and_erased_after(
    session: Session,
    engine: Engine,
    smtp_server: SmtpServer,
    make_round: Callable[..., SurveySetUp],
) -> None:
    setup = make_round()
    ids = [queue(session, f"person{n}@example.org", setup.round_id, number=n) for n in range(3)]
    queue(session, "account@example.org", None, number=9)  # not a round's message
    worker = make_worker(engine, smtp_backend(smtp_server), FakeClock())

    assert worker.send_due() == 4
    assert worker.send_due() == 0  # nothing is sent twice

    received = smtp_server.handler.wait_for(4)
    assert sorted(item.recipient for item in received) == sorted(
        [f"person{n}@example.org" for n in range(3)] + ["account@example.org"]
    )
    first = smtp_server.handler.to("person0@example.org")[0]
    assert first.subject == "Survey invitation 0"
    assert "https://survey.example/s/token0" in first.body
    assert first.message["From"] == MAIL_FROM
    for number, message_id in enumerate(ids):
        row = stored(session, message_id)
        assert row.status == OutboxStatus.SENT
        assert (row.recipient, row.body) == ("", "")  # the link is gone from the database
        assert row.sent_at is not None and row.attempts == 1
        assert smtp_server.handler.to(f"person{number}@example.org")[0].message_id == (
            message_id_header(row, MAIL_FROM)
        )
    counts = delivery_counts(session, setup.round_id)
    assert (counts.queued, counts.sent, counts.failed, counts.bounced) == (0, 3, 0, 0)


def test_a_4xx_reply_is_retried_with_back_off_under_the_same_message_id(
    session: Session, engine: Engine, smtp_server: SmtpServer
) -> None:
    message_id = queue(session, "tempfail@example.org")
    clock = FakeClock()
    worker = make_worker(engine, smtp_backend(smtp_server), clock)

    assert worker.send_due() == 1
    row = stored(session, message_id)
    assert (row.status, row.attempts) == (OutboxStatus.QUEUED, 1)
    assert row.last_error is not None and row.last_error.startswith("SMTP 451")
    assert aware(row.next_attempt_at) == clock.now() + timedelta(seconds=60)
    assert row.recipient == "tempfail@example.org"  # kept until it is sent

    clock.advance(59)
    assert worker.send_due() == 0  # not due yet
    clock.advance(1)
    assert worker.send_due() == 1  # second 451: the wait doubles
    row = stored(session, message_id)
    assert aware(row.next_attempt_at) == clock.now() + timedelta(seconds=120)
    clock.advance(120)
    assert worker.send_due() == 1

    row = stored(session, message_id)
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 3)
    attempts = smtp_server.handler.attempts
    assert len(attempts) == 3
    assert {message_id for _, message_id in attempts} == {message_id_header(row, MAIL_FROM)}
    assert len(smtp_server.handler.to("tempfail@example.org")) == 1


def test_replies_kept_and_logged_lose_their_addresses() -> None:
    assert without_addresses("550 5.1.1 <bob.smith@nhs.net>: Recipient unknown") == (
        "550 5.1.1 <<address>>: Recipient unknown"
    )


class BrokenBackend:
    name = "broken"

    def send(self, message: OutboxMessage) -> Outcome:
        raise RuntimeError("a fault")

    def close(self) -> None:
        return None


def test_a_fault_while_sending_is_retried_not_fatal(session: Session, engine: Engine) -> None:
    message_id = queue(session, "someone@example.org")
    assert make_worker(engine, BrokenBackend(), FakeClock()).send_due() == 1
    row = stored(session, message_id)
    assert (row.status, row.last_error) == (OutboxStatus.QUEUED, "could not be sent: RuntimeError")


def test_a_subject_is_one_line() -> None:
    message = queue_message(
        Session(), to="a@example.org", subject="Two\r\nBcc: x@example.org", body="", purpose="t"
    )
    assert message.subject == "Two Bcc: x@example.org"


def test_back_off_doubles_up_to_six_hours() -> None:
    assert [backoff(n, 60).total_seconds() for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert backoff(40, 60) == timedelta(hours=6)


def test_a_refused_connection_is_temporary(
    session: Session, engine: Engine, smtp_server: SmtpServer
) -> None:
    message_id = queue(session, "someone@example.org")
    worker = make_worker(engine, smtp_backend(smtp_server, port=free_port()), FakeClock())
    assert worker.send_due() == 1
    row = stored(session, message_id)
    assert row.status == OutboxStatus.QUEUED
    assert row.last_error is not None and "ConnectionRefused" in row.last_error


def test_a_5xx_reply_and_an_impossible_address_fail_for_good(
    session: Session,
    engine: Engine,
    smtp_server: SmtpServer,
    make_round: Callable[..., SurveySetUp],
) -> None:
    setup = make_round()
    refused = queue(session, "permfail@example.org", setup.round_id)
    impossible = queue(session, "not an address", setup.round_id)
    fine = queue(session, "fine@example.org", setup.round_id)
    clock = FakeClock()
    worker = make_worker(engine, smtp_backend(smtp_server), clock)
    assert worker.send_due() == 3
    clock.advance(86_400)
    assert worker.send_due() == 0  # failed messages are never tried again

    for message_id in (refused, impossible):
        row = stored(session, message_id)
        assert (row.status, row.attempts, row.recipient, row.body) == (
            OutboxStatus.FAILED,
            1,
            "",
            "",
        )
    assert (stored(session, refused).last_error or "").startswith("SMTP 550")
    assert "not an e-mail address" in (stored(session, impossible).last_error or "")
    assert stored(session, fine).status == OutboxStatus.SENT
    assert [item.recipient for item in smtp_server.handler.received] == ["fine@example.org"]
    counts = delivery_counts(session, setup.round_id)
    assert (counts.sent, counts.failed) == (1, 2)


def test_temporary_failures_give_up_after_the_most_attempts(
    session: Session, engine: Engine, smtp_server: SmtpServer
) -> None:
    smtp_server.handler.temporary_failures = 10
    message_id = queue(session, "tempfail@example.org")
    clock = FakeClock()
    worker = make_worker(engine, smtp_backend(smtp_server), clock, max_attempts=3)
    for _ in range(5):
        worker.send_due()
        clock.advance(3600)
    row = stored(session, message_id)
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, 3)
    assert len(smtp_server.handler.attempts) == 3


class RecordingBackend:
    """Sends through SMTP and notes the (fake) moment of each send."""

    name = "recording"

    def __init__(self, inner: SmtpBackend, clock: FakeClock) -> None:
        self.inner = inner
        self.clock = clock
        self.moments: list[datetime] = []

    def send(self, message: OutboxMessage) -> Outcome:
        self.moments.append(self.clock.now())
        return self.inner.send(message)

    def close(self) -> None:
        self.inner.close()


def test_the_rate_is_honoured_in_every_minute(
    session: Session, engine: Engine, smtp_server: SmtpServer
) -> None:
    for number in range(10):
        queue(session, f"person{number}@example.org", number=number)
    clock = FakeClock()
    backend = RecordingBackend(smtp_backend(smtp_server), clock)
    worker = make_worker(engine, backend, clock, rate=3)

    assert worker.send_due() == 10
    assert len(smtp_server.handler.wait_for(10)) == 10
    moments = backend.moments
    for start in moments:
        in_minute = [m for m in moments if start <= m < start + timedelta(minutes=1)]
        assert len(in_minute) <= 3, f"{len(in_minute)} sends in one minute at rate 3"
    assert moments[-1] - moments[0] == timedelta(seconds=20 * 9)  # and no slower than that


def test_periodic_jobs_run_each_in_its_own_session_and_a_failure_stops_none(
    engine: Engine, smtp_server: SmtpServer
) -> None:
    calls: list[str] = []

    def failing(session: Session, now: datetime) -> None:
        calls.append("failing")
        raise RuntimeError("boom")

    def counting(session: Session, now: datetime) -> None:
        assert session.exec(select(OutboxMessage)).all() == []
        calls.append(f"counting at {now.isoformat()}")

    clock = FakeClock()
    worker = make_worker(engine, smtp_backend(smtp_server), clock, jobs=(failing, counting))
    worker.run_jobs()
    worker.run_jobs()  # not due again within the minute
    clock.advance(60)
    worker.run_jobs()
    assert calls == [
        "failing",
        f"counting at {(clock.now() - timedelta(seconds=60)).isoformat()}",
        "failing",
        f"counting at {clock.now().isoformat()}",
    ]


def test_a_bounce_reported_later_is_counted(
    session: Session,
    engine: Engine,
    smtp_server: SmtpServer,
    make_round: Callable[..., SurveySetUp],
) -> None:
    setup = make_round()
    message_id = queue(session, "gone@example.org", setup.round_id)
    make_worker(engine, smtp_backend(smtp_server), FakeClock()).send_due()
    header = smtp_server.handler.wait_for(1)[0].message_id
    assert mark_bounced(session, header)
    session.commit()
    assert not mark_bounced(session, header)  # once
    assert stored(session, message_id).status == OutboxStatus.BOUNCED
    assert delivery_counts(session, setup.round_id).bounced == 1


def test_the_mail_bounced_command_records_bounces_by_message_id(
    session: Session,
    engine: Engine,
    smtp_server: SmtpServer,
    migrated_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from app.cli import main

    message_id = queue(session, "gone@example.org")
    make_worker(engine, smtp_backend(smtp_server), FakeClock()).send_due()
    header = smtp_server.handler.wait_for(1)[0].message_id
    monkeypatch.setenv("DATABASE_URL", migrated_url)
    assert main(["mail-bounced", header, "<outbox.unknown@example.nhs.uk>"]) == 2
    assert "no sent message has the Message-ID <outbox.unknown@" in capsys.readouterr().err
    assert stored(session, message_id).status == OutboxStatus.BOUNCED


# -- GOV.UK Notify --------------------------------------------------------------------------


def notify_backend(server: NotifyServer, api_key: str = NOTIFY_API_KEY) -> NotifyBackend:
    return NotifyBackend(
        api_key=api_key, template_id=NOTIFY_TEMPLATE_ID, base_url=server.base_url, timeout=10
    )


def test_notify_sends_through_its_template_and_keeps_its_id(
    session: Session, engine: Engine, notify_server: NotifyServer
) -> None:
    message_id = queue(session, "person@example.org")
    assert make_worker(engine, notify_backend(notify_server), FakeClock()).send_due() == 1
    [sent] = notify_server.state.sent
    row = stored(session, message_id)
    assert sent["email_address"] == "person@example.org"
    assert sent["template_id"] == NOTIFY_TEMPLATE_ID
    assert sent["personalisation"]["subject"] == "Survey invitation 1"
    assert "https://survey.example/s/token1" in sent["personalisation"]["body"]
    assert sent["reference"] == row.message_id
    assert (row.status, row.provider_reference) == (OutboxStatus.SENT, sent["id"])


def test_notify_refusals_are_permanent_or_temporary_as_notify_means_them(
    session: Session, engine: Engine, notify_server: NotifyServer
) -> None:
    invalid = queue(session, "permfail@example.org")
    limited = queue(session, "ratelimit@example.org")
    clock = FakeClock()
    worker = make_worker(engine, notify_backend(notify_server), clock)
    assert worker.send_due() == 2
    assert stored(session, invalid).status == OutboxStatus.FAILED
    row = stored(session, limited)
    assert row.status == OutboxStatus.QUEUED and (row.last_error or "").startswith("Notify 429")
    clock.advance(60)
    assert worker.send_due() == 1
    assert stored(session, limited).status == OutboxStatus.SENT
    assert [status for status, _ in notify_server.state.rejected] == [400, 429]


def test_notify_bounces_are_asked_for_and_counted(
    session: Session,
    engine: Engine,
    notify_server: NotifyServer,
    make_round: Callable[..., SurveySetUp],
) -> None:
    setup = make_round()
    bounced = queue(session, "bounce@example.org", setup.round_id)
    delivered = queue(session, "fine@example.org", setup.round_id)
    clock = FakeClock()
    worker = make_worker(engine, notify_backend(notify_server), clock)
    assert worker.send_due() == 2
    assert worker.check_deliveries() == 1
    assert stored(session, bounced).status == OutboxStatus.BOUNCED
    assert (stored(session, delivered).status, stored(session, delivered).provider_reference) == (
        OutboxStatus.SENT,
        None,
    )
    assert worker.check_deliveries() == 0  # nothing left to ask about
    counts = delivery_counts(session, setup.round_id)
    assert (counts.sent, counts.bounced) == (1, 1)


def test_a_wrong_notify_key_is_a_setting_to_mend_not_a_failed_address(
    session: Session, engine: Engine, notify_server: NotifyServer
) -> None:
    message_id = queue(session, "person@example.org")
    wrong_key = NOTIFY_API_KEY[:-36] + "00000000-0000-0000-0000-000000000009"
    worker = make_worker(engine, notify_backend(notify_server, wrong_key), FakeClock())
    assert worker.send_due() == 1
    row = stored(session, message_id)
    assert row.status == OutboxStatus.QUEUED
    assert (row.last_error or "").startswith("Notify 403")
    assert notify_server.state.sent == []


# -- choosing a backend ---------------------------------------------------------------------


def _settings(**values: object) -> Settings:
    return Settings(database_url="sqlite://", secret_key=TEST_SECRET, **values)  # type: ignore[arg-type]


def test_without_an_smtp_host_development_prints_and_production_refuses() -> None:
    backend = backend_for(_settings(environment="development"))
    assert isinstance(backend, ConsoleBackend)
    with pytest.raises(MailSettingsError, match="SMTP_HOST is not set"):
        backend_for(_settings(environment="production", public_base_url="https://s.example"))
    assert isinstance(
        backend_for(
            _settings(environment="production", public_base_url="https://s.example", smtp_host="mx")
        ),
        SmtpBackend,
    )


def test_the_console_backend_prints_the_message() -> None:
    stream = io.StringIO()
    message = OutboxMessage(
        purpose="test", recipient="a@example.org", subject="Hi", body="Link", message_id="x"
    )
    assert ConsoleBackend(stream).send(message) == Sent()
    assert "To: a@example.org\nSubject: Hi\n\nLink" in stream.getvalue()


def test_mail_settings_are_checked_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://survey.example")
    monkeypatch.setenv("MAIL_BACKEND", "console")
    with pytest.raises(SettingsError, match=r"MAIL_BACKEND=console .* refused"):
        load_settings()
    monkeypatch.setenv("MAIL_BACKEND", "notify")
    with pytest.raises(SettingsError, match="needs NOTIFY_API_KEY and NOTIFY_TEMPLATE_ID"):
        load_settings()
    monkeypatch.setenv("MAIL_BACKEND", "smtp")
    monkeypatch.setenv("SMTP_SECURITY", "tls")
    with pytest.raises(SettingsError, match=r"^SMTP_SECURITY: "):
        load_settings()


def test_the_worker_runs_the_rounds_schedule_first() -> None:
    names = [getattr(job, "__name__", "") for job in periodic_jobs(TEST_SECRET)]
    assert names == ["apply_round_schedule", "forget_closed_rounds", "queue_due_reminders"]
