"""The worker's periodic jobs: each is called with a session of its own and the time, about
once a minute, and commits its own changes.

The ``rounds`` work (scheduled opening and closing of rounds) plugs in through
:data:`ROUND_SCHEDULE_HOOK`: a function ``apply_round_schedule(session, now)`` in
``app.services.rounds``, called first when it exists.
"""

from __future__ import annotations

from app.services import rounds
from app.services.outbox import Job

ROUND_SCHEDULE_HOOK = "apply_round_schedule"


def periodic_jobs() -> list[Job]:
    """The jobs ``trust-survey worker`` runs, in order."""
    jobs: list[Job] = []
    round_schedule: Job | None = getattr(rounds, ROUND_SCHEDULE_HOOK, None)
    if round_schedule is not None:
        jobs.append(round_schedule)
    return jobs
