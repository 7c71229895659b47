"""Retention: deleting what the deployment keeps no longer (``trust-survey purge`` and the
worker's periodic job).

What is deleted, and when (``now`` is given, so the periods are exact and testable):

* the submitted answers, drafts and links of a round closed more than
  ``RESPONSE_RETENTION_DAYS`` days ago (the round itself, its organisations and its release
  counts stay, holding no answer, and the round records the day: its report then says the
  answers were deleted, and it cannot be reopened); ``0`` keeps them;
* the unfinished drafts of a round closed more than ``DRAFT_GRACE_DAYS`` days ago;
* participants' e-mail addresses of every closed round (as when the round closes:
  :func:`app.services.participants.forget_closed_rounds`);
* account links (set-your-password) that have expired or been used, and expired sessions;
* rate-limit counters of windows that have ended;
* audit trail lines older than ``AUDIT_RETENTION_DAYS`` days; ``0`` keeps them.

One ``purged`` line is added to the audit trail with the counts, never any content.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlmodel import Session, col, select

from app.models import (
    AccountLink,
    AccountSession,
    Invitation,
    Participant,
    Response,
    ResponseStatus,
    SurveyRound,
)
from app.services import audit, clock, participants, rounds
from app.services.audit import AuditAction
from app.services.rate_limits import RateLimitPolicy, prune_statement
from app.settings import Settings


@dataclass(frozen=True)
class PurgeReport:
    """How many rows of each kind a purge deleted (or, dry, would delete)."""

    submitted_responses: int = 0
    drafts: int = 0
    invitations: int = 0
    participants: int = 0
    account_links: int = 0
    sessions: int = 0
    rate_limit_counters: int = 0
    audit_lines: int = 0

    @property
    def total(self) -> int:
        return sum(int(getattr(self, item.name)) for item in fields(self))

    def as_text(self) -> str:
        """``submitted responses 3, drafts 1, ...``: the counts only."""
        return ", ".join(
            f"{item.name.replace('_', ' ')} {getattr(self, item.name)}" for item in fields(self)
        )


def _deleted(session: Session, statement: sa.Delete) -> int:
    """Run a DELETE; how many rows it deleted.  Objects already loaded in the session are not
    matched in Python (SQLite hands back naive times that cannot be compared with ``now``)."""
    result = session.execute(statement, execution_options={"synchronize_session": False})
    assert isinstance(result, CursorResult)
    return int(result.rowcount or 0)


def _closed_longer_ago_than(session: Session, now: datetime, days: int) -> list[int]:
    """The rounds that closed more than ``days`` days before ``now``'s day (TIME_ZONE)."""
    today = clock.local_day(now)
    found = []
    for survey_round in session.exec(select(SurveyRound)).all():
        closed = rounds.closed_on(survey_round, today)
        if closed is not None and (today - closed).days > days:
            assert survey_round.id is not None
            found.append(survey_round.id)
    return found


def _addresses_of_closed_rounds(session: Session, now: datetime) -> int:
    closed = set(_closed_longer_ago_than(session, now, -1))
    if not closed:
        return 0
    return int(
        session.execute(
            sa.select(sa.func.count())
            .select_from(Participant)
            .where(col(Participant.round_id).in_(closed))
        ).scalar_one()
    )


def purge(
    session: Session,
    settings: Settings,
    now: datetime,
    actor: str = audit.WORKER_ACTOR,
    *,
    dry_run: bool = False,
    record_empty: bool = True,
) -> PurgeReport:
    """Delete everything past its retention period at ``now`` and record it (one audit line
    with the counts; with ``record_empty=False`` none when nothing was deleted).  With
    ``dry_run`` nothing is deleted or recorded: the report says what would be."""
    counts: dict[str, int] = {}
    if dry_run:
        counts["participants"] = _addresses_of_closed_rounds(session, now)
    else:
        counts["participants"] = participants.forget_closed_rounds(session, now)  # commits
    if settings.response_retention_days > 0:
        expired = _closed_longer_ago_than(session, now, settings.response_retention_days)
        if expired:
            of_expired = col(Response.round_id).in_(expired)
            counts["submitted_responses"] = _deleted(
                session,
                sa.delete(Response).where(
                    of_expired, col(Response.status) == ResponseStatus.SUBMITTED
                ),
            )
            counts["drafts"] = _deleted(session, sa.delete(Response).where(of_expired))
            counts["invitations"] = _deleted(
                session, sa.delete(Invitation).where(col(Invitation.round_id).in_(expired))
            )
            # The round's report says so from now on, in every process (the report cache
            # keys on it), instead of figures from answers that no longer exist.
            session.execute(
                sa.update(SurveyRound)
                .where(
                    col(SurveyRound.id).in_(expired),
                    col(SurveyRound.answers_deleted_on).is_(None),
                )
                .values(answers_deleted_on=clock.local_day(now))
                .execution_options(synchronize_session="fetch")  # rounds loaded here see it
            )
    past_grace = _closed_longer_ago_than(session, now, settings.draft_grace_days)
    if past_grace:
        counts["drafts"] = counts.get("drafts", 0) + _deleted(
            session,
            sa.delete(Response).where(
                col(Response.round_id).in_(past_grace),
                col(Response.status) == ResponseStatus.DRAFT,
            ),
        )
    counts["account_links"] = _deleted(
        session,
        sa.delete(AccountLink).where(
            sa.or_(col(AccountLink.expires_at) <= now, col(AccountLink.used_at).is_not(None))
        ),
    )
    counts["sessions"] = _deleted(
        session, sa.delete(AccountSession).where(col(AccountSession.expires_at) <= now)
    )
    counts["rate_limit_counters"] = _deleted(
        session, prune_statement(RateLimitPolicy(), now.timestamp())
    )
    if settings.audit_retention_days > 0:
        counts["audit_lines"] = audit.delete_older_than(
            session, now - timedelta(days=settings.audit_retention_days), commit=False
        )
    report = PurgeReport(**counts)
    if dry_run:
        session.rollback()
        return report
    if report.total or record_empty:
        audit.record(session, actor, AuditAction.PURGED, "", detail=report.as_text(), commit=False)
    session.commit()
    return report
