"""The worker's periodic jobs: each is called with a session of its own and the time, about
once a minute, and commits its own changes.

The ``rounds`` work (scheduled opening and closing of rounds) plugs in through
:data:`ROUND_SCHEDULE_HOOK`: a function ``apply_round_schedule(session, now)`` in
``app.services.rounds``, called first when it exists (so a round closed on schedule has its
addresses forgotten in the same pass).
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from sqlmodel import Session

from app.services import participants, rounds
from app.services.outbox import Job

ROUND_SCHEDULE_HOOK = "apply_round_schedule"


def periodic_jobs(secret: str) -> list[Job]:
    """The jobs ``trust-survey worker`` runs, in order; ``secret`` is the deployment's
    SECRET_KEY, which rebuilds participants' links for reminders."""
    jobs: list[Job] = []
    round_schedule: Job | None = getattr(rounds, ROUND_SCHEDULE_HOOK, None)
    if round_schedule is not None:
        jobs.append(round_schedule)
    jobs.append(participants.forget_closed_rounds)
    jobs.append(_named(partial(participants.queue_due_reminders, secret=secret)))
    return jobs


def _named(job: partial[int]) -> Job:
    def queue_due_reminders(session: Session, now: datetime) -> object:
        return job(session, now)

    return queue_due_reminders
