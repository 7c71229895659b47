"""Set-your-password links, sent by e-mail: an invitation (an invited account's first
password) or a reset ("forgot password").

A link is ``{base}/account/set-password/{secret}``.  Only the SHA-256 of the secret is stored
(:class:`app.models.AccountLink`); a link works once, until ``expires_at``
(ACCOUNT_LINK_HOURS after it was made, 72 by default), and only while its account is enabled.
Making a new link for an account ends its earlier unused ones, so only the newest mail works.
Setting a password through a link ends every session of the account.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, delete, select

from app.models import Account, AccountLink, AccountLinkPurpose, utc_now
from app.security import hash_link_token, hash_password, new_session_secret
from app.services import audit
from app.services.accounts import coordinator_by_email, end_account_sessions, password_problem
from app.services.audit import AuditAction
from app.services.errors import FieldValidationError, SurveyServiceError
from app.services.outbox import queue_message

DEFAULT_LINK_HOURS = 72
SET_PASSWORD_PATH = "/account/set-password"  # noqa: S105 (a path, not a password)
MAIL_PURPOSES = {
    AccountLinkPurpose.INVITATION: "account-invitation",
    AccountLinkPurpose.PASSWORD_RESET: "password-reset",
}


class AccountLinkUnusableError(SurveyServiceError):
    """The link is unknown, already used, expired, or its account is disabled or gone."""

    def __init__(self) -> None:
        super().__init__("this link no longer works")


def set_password_link(base: str, secret: str) -> str:
    return f"{base.rstrip('/')}{SET_PASSWORD_PATH}/{secret}"


def target(account: Account) -> str:
    """How the audit trail names an account."""
    return f"account {account.email}"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def new_link(
    session: Session,
    account: Account,
    purpose: AccountLinkPurpose,
    hours: int = DEFAULT_LINK_HOURS,
    now: datetime | None = None,
) -> str:
    """A new link's secret for ``account`` (the caller commits); its earlier unused links
    stop working."""
    assert account.id is not None
    moment = now or utc_now()
    session.exec(
        delete(AccountLink).where(
            col(AccountLink.account_id) == account.id, col(AccountLink.used_at).is_(None)
        )
    )
    secret = new_session_secret()
    session.add(
        AccountLink(
            account_id=account.id,
            purpose=purpose,
            token_hash=hash_link_token(secret),
            created_at=moment,
            expires_at=moment + timedelta(hours=hours),
        )
    )
    return secret


def _mail_text(purpose: AccountLinkPurpose, link: str, hours: int) -> tuple[str, str]:
    if purpose == AccountLinkPurpose.INVITATION:
        subject = "You have been given an account on the Partnership Trust Survey"
        opening = (
            "You have been given an account on the Partnership Trust Survey. To start, set "
            "your password:"
        )
    else:
        subject = "Set a new password for the Partnership Trust Survey"
        opening = (
            "Someone (we hope you) asked to set a new password for your account on the "
            "Partnership Trust Survey. To set one, open this link:"
        )
    body = (
        f"{opening}\n\n{link}\n\n"
        f"The link works once, for {hours} hours. If it has stopped working, ask for a new "
        'one on the sign-in page ("Forgot your password?").\n\n'
        "If you did not expect this e-mail, you can ignore it: nothing changes until the "
        "link is used.\n"
    )
    return subject, body


def queue_link_mail(
    session: Session,
    account: Account,
    purpose: AccountLinkPurpose,
    base: str,
    hours: int = DEFAULT_LINK_HOURS,
) -> None:
    """Make a link for ``account`` and queue the e-mail that holds it (the caller commits)."""
    secret = new_link(session, account, purpose, hours)
    subject, body = _mail_text(purpose, set_password_link(base, secret), hours)
    queue_message(
        session, to=account.email, subject=subject, body=body, purpose=MAIL_PURPOSES[purpose]
    )


def _live_link(session: Session, secret: str, now: datetime) -> tuple[AccountLink, Account]:
    if not secret or len(secret) > 200:
        raise AccountLinkUnusableError
    row = session.exec(
        select(AccountLink).where(AccountLink.token_hash == hash_link_token(secret))
    ).first()
    if row is None or row.used_at is not None or _aware(row.expires_at) <= now:
        raise AccountLinkUnusableError
    account = session.get(Account, row.account_id)
    if account is None or account.disabled_at is not None:
        raise AccountLinkUnusableError
    return row, account


def account_for_link(session: Session, secret: str, now: datetime | None = None) -> Account:
    """The account a working link sets the password of; else :class:`AccountLinkUnusableError`."""
    return _live_link(session, secret, now or utc_now())[1]


def set_password_with_link(
    session: Session, secret: str, password: str, now: datetime | None = None
) -> Account:
    """Set the account's password through a working link, which then stops working; every
    session of the account ends.  A password that is not good enough is a
    :class:`FieldValidationError` (the link still works)."""
    moment = now or utc_now()
    row, account = _live_link(session, secret, moment)
    if (problem := password_problem(password, account.email)) is not None:
        raise FieldValidationError({"password": problem})
    assert account.id is not None
    account.password_hash = hash_password(password)
    row.used_at = moment
    session.add_all([account, row])
    session.exec(
        delete(AccountLink).where(
            col(AccountLink.account_id) == account.id,
            col(AccountLink.used_at).is_(None),
            col(AccountLink.id) != row.id,
        )
    )
    end_account_sessions(session, account.id)
    audit.record(
        session,
        account,
        AuditAction.PASSWORD_CHANGED,
        target(account),
        detail=f"through an e-mailed link ({row.purpose})",
        commit=False,
    )
    session.commit()
    session.refresh(account)
    return account


def request_password_reset(
    session: Session, email: str, base: str, hours: int = DEFAULT_LINK_HOURS
) -> None:
    """ "Forgot password": queue a reset link if an enabled account has this address.

    Nothing tells the caller whether one has: the answer is the same either way.  Only a
    request for an account's address is recorded (an unknown one may be a typo'd password).
    """
    account = coordinator_by_email(session, email)
    if account is None or account.disabled_at is not None:
        return
    queue_link_mail(session, account, AccountLinkPurpose.PASSWORD_RESET, base, hours)
    audit.record(session, None, AuditAction.PASSWORD_RESET_REQUESTED, target(account), commit=False)
    session.commit()


def send_reset_link(
    session: Session,
    actor: Account | str,
    account: Account,
    base: str,
    hours: int = DEFAULT_LINK_HOURS,
) -> None:
    """An admin (or the command line) sends ``account`` a link to set a new password (a new
    invitation, if it has never set one)."""
    if account.disabled_at is not None:
        raise FieldValidationError({"email": "is of a disabled account: enable it first"})
    purpose = (
        AccountLinkPurpose.INVITATION
        if account.password_hash is None
        else AccountLinkPurpose.PASSWORD_RESET
    )
    queue_link_mail(session, account, purpose, base, hours)
    audit.record(
        session, actor, AuditAction.PASSWORD_RESET_REQUESTED, target(account), commit=False
    )
    session.commit()
