"""``trust-survey worker`` (sends the outbox's e-mails and runs the periodic jobs) and
``trust-survey mail-bounced MESSAGE-ID...`` (records bounces reported by mail)."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from types import FrameType
from typing import Any

from app.cli import CommandError


def _log_to_standard_error() -> None:
    """The worker's own messages (never addresses or bodies) on standard error."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("trust-survey worker: %(message)s"))
    logger = logging.getLogger("app")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _worker(args: argparse.Namespace) -> int:
    from app.database import make_engine
    from app.migrating import DatabaseNotMigratedError, require_migrated
    from app.services.mail_backends import MailSettingsError, backend_for
    from app.services.outbox import MailWorker, RealClock, WorkerOptions
    from app.services.scheduled import periodic_jobs
    from app.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as error:
        raise CommandError(f"bad setting: {error}") from None
    from app.services.clock import set_time_zone

    set_time_zone(settings.time_zone)  # round dates are days in TIME_ZONE
    try:
        backend = backend_for(settings)
    except MailSettingsError as error:
        raise CommandError(str(error)) from None
    engine = make_engine(settings.database_url, pool_size=2)
    try:
        require_migrated(engine, settings.database_url)
    except DatabaseNotMigratedError as error:
        raise CommandError(str(error)) from None
    _log_to_standard_error()
    stop = threading.Event()

    def finish(_signal: int, _frame: FrameType | None) -> None:
        stop.set()  # the message being sent is finished and recorded first

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)
    worker = MailWorker(
        engine,
        backend,
        WorkerOptions(
            rate_per_minute=settings.mail_rate_per_minute,
            max_attempts=settings.mail_max_attempts,
            retry_seconds=settings.mail_retry_seconds,
            lease_seconds=settings.mail_lease_seconds,
            poll_seconds=settings.worker_poll_seconds,
            jobs=periodic_jobs(settings.signing_key(), settings),
        ),
        clock=RealClock(stop),
    )
    print(
        f"trust-survey worker: sending with {backend.name}, at most "
        f"{settings.mail_rate_per_minute} a minute ({worker.name})",
        flush=True,
    )
    try:
        if args.once:
            worker.run_jobs(force=True)
            worker.send_due(stop=stop)
        else:
            worker.run(stop)
    finally:
        backend.close()
        engine.dispose()
    return 0


def _bounced(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from app.database import make_engine
    from app.services.outbox import mark_bounced
    from app.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as error:
        raise CommandError(f"bad setting: {error}") from None
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        with Session(engine) as session:
            found = [
                message_id for message_id in args.message_ids if mark_bounced(session, message_id)
            ]
            session.commit()
    finally:
        engine.dispose()
    unknown = [message_id for message_id in args.message_ids if message_id not in found]
    print(f"trust-survey mail-bounced: {len(found)} sent message(s) marked bounced")
    if unknown:
        raise CommandError("no sent message has the Message-ID " + ", ".join(unknown))
    return 0


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``worker``."""
    worker = subparsers.add_parser(
        "worker",
        help="send queued e-mails (SMTP or GOV.UK Notify) and run scheduled jobs until stopped",
    )
    worker.add_argument(
        "--once",
        action="store_true",
        help="run the scheduled jobs and send what is due, then stop",
    )
    worker.set_defaults(handler=_worker)

    bounced = subparsers.add_parser(
        "mail-bounced",
        help="record that sent e-mails bounced (their Message-IDs, from the bounce reports)",
    )
    bounced.add_argument("message_ids", nargs="+", metavar="MESSAGE-ID")
    bounced.set_defaults(handler=_bounced)
