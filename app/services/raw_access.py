"""Raw access: an admin's explicit, recorded grant to an analyst of row-level files that are not
k-anonymised.

Without a grant every row-level download (answers, scores, ``.sav``, the workbook's rows, the
JSON records) is k-anonymous over the background questions (:mod:`analysis.disclosure`). With
one, those files skip the generalisation, but still hold only published responses. Each grant
records who granted it, when and why; revoking removes it.
"""

from __future__ import annotations

from sqlmodel import Session

from app.models import Account, AccountRole, RawAccessGrant, utc_now
from app.services import accounts, audit
from app.services.errors import FieldValidationError, RecordNotFoundError

RAW_ACCESS_ROLES = frozenset({AccountRole.ANALYST, AccountRole.ADMIN})


def has_raw_access(session: Session, account: Account) -> bool:
    """Whether this account's row-level downloads skip the k-anonymity generalisation."""
    if account.id is None or not account.has_any_role(RAW_ACCESS_ROLES):
        return False
    return session.get(RawAccessGrant, account.id) is not None


def _account(session: Session, email: str) -> Account:
    account = accounts.coordinator_by_email(session, email)
    if account is None:
        raise RecordNotFoundError("account", email)
    return account


def grant_raw_access(
    session: Session, email: str, *, reason: str, granted_by: str
) -> RawAccessGrant:
    """Grant (or re-grant, with a new reason) raw row-level access to an analyst or admin.

    Parameters
    ----------
    email : str
        The analyst's (or admin's) account.
    reason : str
        Why, in words (kept with the grant).
    granted_by : str
        The e-mail of the admin who grants it.
    """
    account = _account(session, email)
    admin = _account(session, granted_by)
    problems: dict[str, str] = {}
    if not account.has_any_role(RAW_ACCESS_ROLES):
        problems["email"] = f"{account.email} is {account.role_words}: only analysts and admins"
    if AccountRole.ADMIN not in admin.role_set:
        problems["by"] = f"{admin.email} is not an admin"
    if not reason.strip():
        problems["reason"] = "say why raw access is needed"
    elif len(reason.strip()) > 500:
        problems["reason"] = "at most 500 characters"
    if problems:
        raise FieldValidationError(problems)
    assert account.id is not None
    grant = session.get(RawAccessGrant, account.id)
    if grant is None:
        grant = RawAccessGrant(account_id=account.id, reason="")
    grant.granted_by_id = admin.id
    grant.reason = reason.strip()

    grant.created_at = utc_now()
    session.add(grant)
    audit.record(
        session,
        admin,
        audit.AuditAction.RAW_ACCESS_GRANTED,
        f"account {account.email}",
        detail=grant.reason,
        commit=False,
    )
    session.commit()
    session.refresh(grant)
    return grant


def revoke_raw_access(
    session: Session, email: str, *, actor: audit.Actor = audit.COMMAND_LINE_ACTOR
) -> bool:
    """Remove an account's raw access; ``False`` if it had none."""
    account = _account(session, email)
    assert account.id is not None
    grant = session.get(RawAccessGrant, account.id)
    if grant is None:
        return False
    session.delete(grant)
    audit.record(
        session,
        actor,
        audit.AuditAction.RAW_ACCESS_REVOKED,
        f"account {account.email}",
        commit=False,
    )
    session.commit()
    return True
