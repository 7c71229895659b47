"""The audit trail: an append-only record of who did what, to what, and when.

Services call :func:`record` in the same transaction as the action they record (``commit``
defaults to ``True`` for actions that write nothing else, such as a report view).  The trail
never holds an answer, a link, a password, a session secret or a token: a line names its actor
by account id and e-mail address and its target by kind and id (``"round 3"``).  Lines are
never updated; they are deleted only by the retention purge, once older than the
deployment's ``AUDIT_RETENTION_DAYS``.
"""

from __future__ import annotations

from enum import StrEnum

from sqlmodel import Session

from app.models import Account, AuditEvent, utc_now

WORKER_ACTOR = "worker"
COMMAND_LINE_ACTOR = "command line"


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
    FILE_DOWNLOADED = "file downloaded"
    RAW_ANSWERS_DOWNLOADED = "raw answers downloaded"
    AUDIT_EXPORTED = "audit trail exported"
    PURGED = "purged"


def record(
    session: Session,
    actor: Account | str | None,
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
