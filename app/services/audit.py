"""The audit trail: an append-only record of who did what, to what, and when.

Services call :func:`record` in the same transaction as the action they record (``commit``
defaults to ``True`` for actions that write nothing else, such as a report view).  The trail
never holds an answer, a link, a password, a session secret or a token: a line names its actor
by account id and e-mail address and its target by kind and id (``"round 3"``).  Lines are
never updated; they are deleted only by the retention purge, once older than the
deployment's ``AUDIT_RETENTION_DAYS``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.models import Account, AuditEvent, utc_now
from app.services import clock

WORKER_ACTOR = "worker"
COMMAND_LINE_ACTOR = "command line"

Actor = Account | str | None
"""Who acts: an account, or a name such as :data:`WORKER_ACTOR`; ``None`` is someone not
signed in."""


class AuditAction(StrEnum):
    """Every kind of line in the trail (the admins' filter offers these)."""

    SIGN_IN = "sign-in"
    SIGN_IN_FAILED = "sign-in failed"
    SIGN_OUT = "sign-out"
    SECOND_FACTOR_FAILED = "second factor failed"
    PASSWORD_CHANGED = "password changed"  # noqa: S105
    PASSWORD_RESET_REQUESTED = "password reset requested"  # noqa: S105
    ACCOUNT_INVITED = "account invited"
    ACCOUNT_ADDED = "account added"
    ACCOUNT_DISABLED = "account disabled"
    ACCOUNT_ENABLED = "account enabled"
    ACCOUNT_REMOVED = "account removed"
    ROLES_CHANGED = "roles changed"
    GRANT_ADDED = "grant added"
    GRANT_REMOVED = "grant removed"
    SECOND_FACTOR_SET_UP = "second factor set up"
    SECOND_FACTOR_TURNED_OFF = "second factor turned off"
    SECOND_FACTOR_POLICY_CHANGED = "second factor policy changed"
    API_TOKEN_MADE = "API token made"  # noqa: S105
    API_TOKEN_REVOKED = "API token revoked"  # noqa: S105
    RAW_ACCESS_GRANTED = "raw access granted"
    RAW_ACCESS_REVOKED = "raw access revoked"
    PARTNERSHIP_ADDED = "partnership added"
    PARTNERSHIP_RENAMED = "partnership renamed"
    PARTNERSHIP_DELETED = "partnership deleted"
    ORGANISATION_ADDED = "organisation added"
    ORGANISATION_RENAMED = "organisation renamed"
    ORGANISATION_REMOVED = "organisation removed"
    ROUND_ADDED = "round added"
    ROUND_OPENED = "round opened"
    ROUND_CLOSED = "round closed"
    ROUND_REOPENED = "round reopened"
    ROUND_EXTENDED = "round extended"
    ROUND_RENAMED = "round renamed"
    ROUND_DELETED = "round deleted"
    THRESHOLD_CHANGED = "threshold changed"
    RELEASE_POLICY_CHANGED = "release policy changed"
    RESULTS_RELEASED = "results released"
    LINKS_MADE = "links made"
    PARTICIPANTS_ADDED = "participants added"
    INVITATIONS_SENT = "invitations sent"
    INSTRUMENT_ADDED = "instrument added"
    REPORT_VIEWED = "report viewed"
    ANALYSIS_RUN = "pooled analysis run"
    FILE_DOWNLOADED = "file downloaded"
    RAW_ANSWERS_DOWNLOADED = "raw answers downloaded"
    AUDIT_EXPORTED = "audit trail exported"
    PURGED = "purged"


def record(
    session: Session,
    actor: Actor,
    action: AuditAction,
    target: str = "",
    *,
    partnership_id: int | None = None,
    outcome: str = "done",
    detail: str = "",
    commit: bool = True,
) -> AuditEvent:
    """Add one line to the trail: ``actor`` (an account, or a name such as
    :data:`WORKER_ACTOR`, or ``None`` for someone not signed in) did ``action`` to ``target``.
    """
    if isinstance(actor, Account):
        actor_id, actor_name = actor.id, actor.email
    else:
        actor_id, actor_name = None, actor or "not signed in"
    event = AuditEvent(
        occurred_at=utc_now(),
        actor_id=actor_id,
        actor=actor_name[:254],
        action=action.value,
        target=target[:300],
        partnership_id=partnership_id,
        outcome=outcome,
        detail=detail[:500],
    )
    session.add(event)
    if commit:
        session.commit()
    return event


def named(kind: str, record_id: int | None, name: str) -> str:
    """A target that keeps what it named, for lines that outlive it: ``"round 3 (Baseline)"``."""
    return f"{kind} {record_id} ({name})"


@dataclass(frozen=True)
class AuditFilter:
    """What the admins' view of the trail is narrowed to (every part optional).

    ``from_day`` and ``to_day`` are days in the deployment's time zone, both included.
    """

    action: AuditAction | None = None
    actor_contains: str = ""
    partnership_id: int | None = None
    from_day: date | None = None
    to_day: date | None = None


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=clock.time_zone()).astimezone(UTC)


def _filtered(statement: Any, where: AuditFilter) -> Any:
    if where.action is not None:
        statement = statement.where(col(AuditEvent.action) == where.action.value)
    if where.actor_contains.strip():
        needle = where.actor_contains.strip().lower()
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        statement = statement.where(
            sa.func.lower(col(AuditEvent.actor)).like(f"%{escaped}%", escape="\\")
        )
    if where.partnership_id is not None:
        statement = statement.where(col(AuditEvent.partnership_id) == where.partnership_id)
    if where.from_day is not None:
        statement = statement.where(col(AuditEvent.occurred_at) >= _local_midnight(where.from_day))
    if where.to_day is not None:
        end = _local_midnight(where.to_day + timedelta(days=1))
        statement = statement.where(col(AuditEvent.occurred_at) < end)
    return statement


def count_events(session: Session, where: AuditFilter) -> int:
    """How many lines match ``where``."""
    statement = _filtered(sa.select(sa.func.count()).select_from(AuditEvent), where)
    return int(session.execute(statement).scalar_one())


def _newest_first(where: AuditFilter) -> Any:
    return _filtered(select(AuditEvent), where).order_by(
        col(AuditEvent.occurred_at).desc(), col(AuditEvent.id).desc()
    )


def list_events(
    session: Session, where: AuditFilter, *, offset: int = 0, limit: int = 50
) -> list[AuditEvent]:
    """One page of the lines matching ``where``, newest first."""
    statement = _newest_first(where).offset(max(offset, 0)).limit(limit)
    return list(session.exec(statement))


def iter_events(session: Session, where: AuditFilter, *, batch: int = 1000) -> Iterator[AuditEvent]:
    """Every line matching ``where``, newest first, read ``batch`` lines at a time (keyset
    paging, so an export of a long trail holds one batch in memory)."""
    last: tuple[datetime, int] | None = None
    while True:
        statement = _newest_first(where).limit(batch)
        if last is not None:
            at, event_id = last
            statement = statement.where(
                sa.or_(
                    col(AuditEvent.occurred_at) < at,
                    sa.and_(col(AuditEvent.occurred_at) == at, col(AuditEvent.id) < event_id),
                )
            )
        rows = list(session.exec(statement))
        yield from rows
        if len(rows) < batch:
            return
        final = rows[-1]
        assert final.id is not None
        last = (final.occurred_at, final.id)


def delete_older_than(session: Session, cutoff: datetime, *, commit: bool = True) -> int:
    """Delete the lines that occurred before ``cutoff`` (the retention purge's one way of
    removing lines; nothing updates one) and commit unless ``commit=False`` (the purge
    commits, or rolls back a dry run); returns how many went."""
    if cutoff.tzinfo is not None:
        cutoff = cutoff.astimezone(UTC)
    result = session.execute(
        sa.delete(AuditEvent)
        .where(col(AuditEvent.occurred_at) < cutoff)
        .execution_options(synchronize_session=False)
    )
    if commit:
        session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
