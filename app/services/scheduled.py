"""The worker's periodic jobs: each is called with a session of its own and the time, about
once a minute, and commits its own changes.

Scheduled opening and closing of rounds (``rounds.apply_round_schedule``) runs first, so a
round closed on schedule has its participants' addresses forgotten in the same pass; the
retention purge (``retention.purge``) runs last, when the worker is given the settings.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from sqlmodel import Session

from app.services import participants, retention, rounds
from app.services.outbox import Job
from app.settings import Settings


def periodic_jobs(secret: str, settings: Settings | None = None) -> list[Job]:
    """The jobs ``trust-survey worker`` runs, in order; ``secret`` is the deployment's
    SECRET_KEY, which rebuilds participants' links for reminders; with ``settings``, the
    retention purge too (an audit line only when it deleted something)."""
    jobs: list[Job] = [
        rounds.apply_round_schedule,
        participants.forget_closed_rounds,
        _named(partial(participants.queue_due_reminders, secret=secret)),
    ]
    if settings is not None:
        jobs.append(_purge_job(settings))
    return jobs


def _purge_job(settings: Settings) -> Job:
    def purge(session: Session, now: datetime) -> object:
        return retention.purge(session, settings, now, record_empty=False)

    return purge


def _named(job: partial[int]) -> Job:
    def queue_due_reminders(session: Session, now: datetime) -> object:
        return job(session, now)

    return queue_due_reminders
