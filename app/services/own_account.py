"""What a signed-in person does with their own account: read its summary, change its
password (every other session of it ends)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from app.models import Account, Partnership, PartnershipGrant
from app.security import hash_password, verify_password
from app.services import audit
from app.services.accounts import end_account_sessions, password_problem
from app.services.audit import AuditAction
from app.services.errors import FieldValidationError
from app.services.second_factor import has_second_factor, required_for

# The password form's fields (names, not passwords)
CURRENT = "current_password"
NEW = "new_password"
CONFIRM = "confirm_password"


@dataclass(frozen=True)
class AccountSummary:
    email: str
    roles: str
    partnerships: list[str]  # the names of the partnerships granted, in order
    second_factor: bool
    second_factor_required: bool


def summary(session: Session, account: Account) -> AccountSummary:
    statement = (
        select(Partnership.name)
        .join(PartnershipGrant, col(PartnershipGrant.partnership_id) == Partnership.id)
        .where(col(PartnershipGrant.account_id) == account.id)
        .order_by(Partnership.name)
    )
    return AccountSummary(
        email=account.email,
        roles=account.role_words,
        partnerships=list(session.exec(statement)),
        second_factor=has_second_factor(account),
        second_factor_required=required_for(session, account),
    )


def current_password_fits(account: Account, password: str) -> bool:
    return account.password_hash is not None and verify_password(account.password_hash, password)


def change_password(
    session: Session, account: Account, current: str, new: str, confirm: str
) -> None:
    """Change the account's password, given its current one; every session of the account
    ends (the caller starts a new one for this browser).  Recorded in the audit trail.

    Raises :class:`FieldValidationError` with a problem per field (``current_password``,
    ``new_password``, ``confirm_password``).
    """
    problems: dict[str, str] = {}
    if not current:
        problems[CURRENT] = "Enter your current password"
    elif not current_password_fits(account, current):
        problems[CURRENT] = "Your current password is not right"
    if not new:
        problems[NEW] = "Enter a new password"
    elif (problem := password_problem(new, account.email)) is not None:
        problems[NEW] = f"The new password {problem}"
    elif new == current and CURRENT not in problems:
        problems[NEW] = "The new password must be different from your current one"
    if new and not confirm:
        problems[CONFIRM] = "Type the new password again"
    elif new and confirm != new:
        problems[CONFIRM] = "The two new passwords are not the same"
    if problems:
        raise FieldValidationError(problems)
    assert account.id is not None
    account.password_hash = hash_password(new)
    session.add(account)
    end_account_sessions(session, account.id)
    audit.record(session, account, AuditAction.PASSWORD_CHANGED, commit=False)
    session.commit()
