"""Accounts (coordinators, evaluators, analysts, admins): argon2 password hashes, looked up
by e-mail, and the partnerships granted to each account."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import UTC, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from app.models import (
    Account,
    AccountRole,
    AccountSession,
    Partnership,
    PartnershipGrant,
    SurveyRound,
    role_text,
    utc_now,
)
from app.security import hash_password, hash_session_secret, new_session_secret, verify_password
from app.services.answers import control_character_problem
from app.services.errors import DuplicateRecordError, FieldValidationError, RecordNotFoundError

MINIMUM_PASSWORD_LENGTH = 12
MAXIMUM_PASSWORD_LENGTH = 200  # longer is refused before hashing
MINIMUM_PASSWORD_SCORE = 3  # zxcvbn's 0-4: "safely unguessable" from 3
SESSION_LIFETIME = timedelta(hours=8)
PENDING_FACTOR_LIFETIME = timedelta(minutes=10)  # from the password to the second factor


def password_problem(password: str, email: str = "") -> str | None:
    """Why ``password`` is not good enough, in words for the person choosing it, else ``None``.

    At least :data:`MINIMUM_PASSWORD_LENGTH` characters, and not guessable: zxcvbn (Dropbox's
    estimator, with its lists of common passwords, names and words) must score it at least
    :data:`MINIMUM_PASSWORD_SCORE`, counting the person's e-mail address as known.
    """
    if len(password) < MINIMUM_PASSWORD_LENGTH:
        return f"must be at least {MINIMUM_PASSWORD_LENGTH} characters"
    if len(password) > MAXIMUM_PASSWORD_LENGTH:
        return f"must be at most {MAXIMUM_PASSWORD_LENGTH} characters"
    if control_character_problem(password) is not None:
        return "must not hold control characters"
    from zxcvbn import zxcvbn  # imported here: it loads its word lists (0.1 s)

    known = [part for part in re.split(r"[@._+-]", email.lower()) if len(part) > 2]
    estimate = zxcvbn(password[:100], user_inputs=known)
    if estimate["score"] < MINIMUM_PASSWORD_SCORE:
        advice = estimate["feedback"].get("warning") or "it is too easy to guess"
        return (
            f"is too easy to guess ({advice.rstrip('.').lower()}): try three or four "
            "unrelated words together"
        )
    return None


def normalised_email(email: str) -> str:
    return email.strip().lower()


COORDINATING_ROLES = frozenset({AccountRole.COORDINATOR, AccountRole.ADMIN})


def add_account(
    session: Session,
    email: str,
    password: str | None,
    role: str | Collection[str] = AccountRole.COORDINATOR,
    partnership_names: Sequence[str] = (),
) -> Account:
    """Add an account with ``role`` (one role, or several), granted the partnerships named
    (all or nothing).  ``password=None`` leaves it without a password, for an invitation."""
    roles = {role} if isinstance(role, str) else set(role)
    problems: dict[str, str] = {}
    if email_problem(email) is not None:
        problems["email"] = "must be an e-mail address"
    if password is not None and (problem := password_problem(password, email)) is not None:
        problems["password"] = problem
    if not roles or not roles <= set(AccountRole):
        problems["role"] = f"must be one of: {', '.join(AccountRole)}"
    partnerships = _partnerships_named(session, partnership_names, problems)
    if roles == {AccountRole.EVALUATOR} and not partnership_names:
        problems["partnership"] = "an evaluator needs at least one --partnership"
    if problems:
        raise FieldValidationError(problems)
    account = Account(
        email=normalised_email(email),
        password_hash=None if password is None else hash_password(password),
        roles=role_text(roles),
    )
    session.add(account)
    try:
        session.flush()
        assert account.id is not None
        for partnership in partnerships:
            assert partnership.id is not None
            session.add(PartnershipGrant(account_id=account.id, partnership_id=partnership.id))
        session.commit()
    except IntegrityError:
        session.rollback()
        raise DuplicateRecordError(f"an account with e-mail {email!r} already exists") from None
    session.refresh(account)
    return account


def email_problem(email: str) -> str | None:
    """Why ``email`` cannot be an account's address, else ``None``."""
    text = email.strip()
    local, _, domain = text.partition("@")
    if not local or "." not in domain or len(text) > 254 or " " in domain:
        return "must be an e-mail address, like name@example.nhs.uk"
    return control_character_problem(text)


def _partnerships_named(
    session: Session, names: Sequence[str], problems: dict[str, str]
) -> list[Partnership]:
    found: list[Partnership] = []
    unknown: list[str] = []
    for name in dict.fromkeys(n.strip() for n in names):
        partnership = session.exec(select(Partnership).where(Partnership.name == name)).first()
        if partnership is None:
            unknown.append(name)
        else:
            found.append(partnership)
    if unknown:
        problems["partnership"] = "no partnership called " + ", ".join(repr(n) for n in unknown)
    return found


def grant_partnership(session: Session, account: Account, partnership_id: int) -> None:
    """Let ``account`` read the partnership's reports (idempotent)."""
    assert account.id is not None
    if session.get(PartnershipGrant, (account.id, partnership_id)) is None:
        session.add(PartnershipGrant(account_id=account.id, partnership_id=partnership_id))
        session.commit()


def granted_partnership_ids(session: Session, account: Account) -> set[int]:
    statement = select(PartnershipGrant.partnership_id).where(
        col(PartnershipGrant.account_id) == account.id
    )
    return set(session.exec(statement))


def coordinator_by_email(session: Session, email: str) -> Account | None:
    if control_character_problem(email) is not None:
        return None  # no account has one; PostgreSQL would refuse a NUL in the query
    statement = select(Account).where(Account.email == normalised_email(email))
    return session.exec(statement).first()


def set_password(session: Session, coordinator: Account, password: str) -> None:
    if (problem := password_problem(password, coordinator.email)) is not None:
        raise FieldValidationError({"password": problem})
    coordinator.password_hash = hash_password(password)
    session.add(coordinator)
    session.commit()


def authenticate(
    session: Session,
    email: str,
    password: str,
    roles: Collection[str] = frozenset(AccountRole),
) -> Account | None:
    """The enabled account with this e-mail and password and one of ``roles``, else ``None``
    (also for an invited account that has not set a password yet)."""
    coordinator = coordinator_by_email(session, email)
    if coordinator is None:
        verify_password(_DUMMY_HASH, password)  # same work whether or not the e-mail exists
        return None
    if coordinator.password_hash is None:
        verify_password(_DUMMY_HASH, password)
        return None
    if not verify_password(coordinator.password_hash, password):
        return None
    if coordinator.disabled_at is not None:
        return None
    return coordinator if coordinator.has_any_role(roles) else None


_DUMMY_HASH = hash_password("not a real password, only here to even out timing")


def coordinating_scope(session: Session, account: Account) -> frozenset[int] | None:
    """The partnerships an account may run: ``None`` (all) for an admin, the granted ones for
    a coordinator, none for anyone else."""
    if AccountRole.ADMIN in account.role_set:
        return None
    if AccountRole.COORDINATOR not in account.role_set:
        return frozenset()
    return frozenset(granted_partnership_ids(session, account))


def coordinated_partnership(session: Session, account: Account, partnership_id: int) -> None:
    """Raise "not found" unless the account may run the partnership (or it does not exist)."""
    scope = coordinating_scope(session, account)
    exists = session.get(Partnership, partnership_id) is not None
    if not exists or (scope is not None and partnership_id not in scope):
        raise RecordNotFoundError("partnership", partnership_id)


def coordinated_round(session: Session, account: Account, round_id: int) -> None:
    """Raise "not found" unless the account may run the round's partnership."""
    survey_round = session.get(SurveyRound, round_id)
    scope = coordinating_scope(session, account)
    if survey_round is None or (scope is not None and survey_round.partnership_id not in scope):
        raise RecordNotFoundError("round", round_id)


def start_session(
    session: Session,
    account: Account,
    lifetime: timedelta = SESSION_LIFETIME,
    *,
    pending: bool = False,
) -> str:
    """A new signed-in session for ``account``: its secret, for the browser's cookie.

    Only the secret's SHA-256 is stored, with the account and an expiry ``lifetime`` from now;
    sessions already expired (anyone's) are deleted on the way.
    """
    assert account.id is not None
    now = utc_now()
    session.exec(delete(AccountSession).where(col(AccountSession.expires_at) <= now))
    secret = new_session_secret()
    session.add(
        AccountSession(
            token_hash=hash_session_secret(secret),
            account_id=account.id,
            created_at=now,
            expires_at=now + (PENDING_FACTOR_LIFETIME if pending else lifetime),
            pending_factor=pending,
        )
    )
    session.commit()
    return secret


def account_for_session(session: Session, secret: str) -> Account | None:
    """The account of the live session whose secret is ``secret``, else ``None`` (unknown,
    ended by signing out, expired, waiting for its second factor, or its account disabled)."""
    row = session.get(AccountSession, hash_session_secret(secret))
    if row is None or row.pending_factor or _expired(row):
        return None
    account = session.get(Account, row.account_id)
    return None if account is None or account.disabled_at is not None else account


def pending_session_account(session: Session, secret: str) -> Account | None:
    """The account of a session still waiting for its second factor, else ``None``."""
    row = session.get(AccountSession, hash_session_secret(secret))
    if row is None or not row.pending_factor or _expired(row):
        return None
    account = session.get(Account, row.account_id)
    return None if account is None or account.disabled_at is not None else account


def complete_session(session: Session, secret: str, lifetime: timedelta = SESSION_LIFETIME) -> None:
    """The second factor was right: the pending session becomes a signed-in one."""
    row = session.get(AccountSession, hash_session_secret(secret))
    if row is not None and row.pending_factor:
        row.pending_factor = False
        row.expires_at = utc_now() + lifetime
        session.add(row)
        session.commit()


def end_account_sessions(session: Session, account_id: int) -> None:
    """End every session of the account (disabled, removed, or its password changed)."""
    session.exec(delete(AccountSession).where(col(AccountSession.account_id) == account_id))


def _expired(row: AccountSession) -> bool:
    expires_at = row.expires_at
    if expires_at.tzinfo is None:  # SQLite hands back naive UTC times
        expires_at = expires_at.replace(tzinfo=UTC)
    return expires_at <= utc_now()


def end_session(session: Session, secret: str) -> None:
    """End the session whose secret is ``secret`` (nothing happens if there is none)."""
    statement = delete(AccountSession).where(
        col(AccountSession.token_hash) == hash_session_secret(secret)
    )
    session.exec(statement)
    session.commit()
