"""The worker's periodic jobs: each is called with a session of its own and the time, about
once a minute, and commits its own changes.

Scheduled opening and closing of rounds (``rounds.apply_round_schedule``) runs first, so a
round closed on schedule has its participants' addresses forgotten in the same pass.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from sqlmodel import Session

from app.services import participants, rounds
from app.services.outbox import Job


def periodic_jobs(secret: str) -> list[Job]:
    """The jobs ``trust-survey worker`` runs, in order; ``secret`` is the deployment's
    SECRET_KEY, which rebuilds participants' links for reminders."""
    return [
        rounds.apply_round_schedule,
        participants.forget_closed_rounds,
        _named(partial(participants.queue_due_reminders, secret=secret)),
    ]


def _named(job: partial[int]) -> Job:
    def queue_due_reminders(session: Session, now: datetime) -> object:
        return job(session, now)

    return queue_due_reminders
