"""Accounts (coordinators, evaluators, analysts, admins): argon2 password hashes, looked up
by e-mail, and the partnerships granted to each account."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from app.models import (
    AccountRole,
    AccountSession,
    Coordinator,
    CoordinatorRole,
    Partnership,
    PartnershipGrant,
    SurveyRound,
    utc_now,
)
from app.security import hash_password, hash_session_secret, new_session_secret, verify_password
from app.services.answers import control_character_problem
from app.services.errors import DuplicateRecordError, FieldValidationError, RecordNotFoundError

MINIMUM_PASSWORD_LENGTH = 12
SESSION_LIFETIME = timedelta(hours=8)


def normalised_email(email: str) -> str:
    return email.strip().lower()


COORDINATING_ROLES = frozenset({AccountRole.COORDINATOR, AccountRole.ADMIN})


def add_coordinator(
    session: Session,
    email: str,
    password: str,
    role: str = CoordinatorRole.COORDINATOR,
    partnership_names: Sequence[str] = (),
) -> Coordinator:
    """Add an account with ``role``, granted the partnerships named (all or nothing)."""
    problems: dict[str, str] = {}
    if "@" not in email or len(email) > 254 or control_character_problem(email):
        problems["email"] = "must be an e-mail address"
    if len(password) < MINIMUM_PASSWORD_LENGTH:
        problems["password"] = f"must be at least {MINIMUM_PASSWORD_LENGTH} characters"
    if role not in set(CoordinatorRole):
        problems["role"] = f"must be one of: {', '.join(CoordinatorRole)}"
    partnerships = _partnerships_named(session, partnership_names, problems)
    if role == AccountRole.EVALUATOR and not partnership_names:
        problems["partnership"] = "an evaluator needs at least one --partnership"
    if problems:
        raise FieldValidationError(problems)
    coordinator = Coordinator(
        email=normalised_email(email), password_hash=hash_password(password), role=role
    )
    session.add(coordinator)
    try:
        session.flush()
        assert coordinator.id is not None
        for partnership in partnerships:
            assert partnership.id is not None
            session.add(PartnershipGrant(account_id=coordinator.id, partnership_id=partnership.id))
        session.commit()
    except IntegrityError:
        session.rollback()
        raise DuplicateRecordError(f"an account with e-mail {email!r} already exists") from None
    session.refresh(coordinator)
    return coordinator


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


def grant_partnership(session: Session, account: Coordinator, partnership_id: int) -> None:
    """Let ``account`` read the partnership's reports (idempotent)."""
    assert account.id is not None
    if session.get(PartnershipGrant, (account.id, partnership_id)) is None:
        session.add(PartnershipGrant(account_id=account.id, partnership_id=partnership_id))
        session.commit()


def granted_partnership_ids(session: Session, account: Coordinator) -> set[int]:
    statement = select(PartnershipGrant.partnership_id).where(
        col(PartnershipGrant.account_id) == account.id
    )
    return set(session.exec(statement))


def coordinator_by_email(session: Session, email: str) -> Coordinator | None:
    if control_character_problem(email) is not None:
        return None  # no account has one; PostgreSQL would refuse a NUL in the query
    statement = select(Coordinator).where(Coordinator.email == normalised_email(email))
    return session.exec(statement).first()


def set_password(session: Session, coordinator: Coordinator, password: str) -> None:
    if len(password) < MINIMUM_PASSWORD_LENGTH:
        raise FieldValidationError(
            {"password": f"must be at least {MINIMUM_PASSWORD_LENGTH} characters"}
        )
    coordinator.password_hash = hash_password(password)
    session.add(coordinator)
    session.commit()


def authenticate(
    session: Session,
    email: str,
    password: str,
    roles: Collection[str] = COORDINATING_ROLES,
) -> Coordinator | None:
    """The account with this e-mail and password and one of ``roles``, else ``None``.

    By default only coordinators and admins: evaluators and analysts cannot sign in to the
    coordinator screens.
    """
    coordinator = coordinator_by_email(session, email)
    if coordinator is None:
        verify_password(_DUMMY_HASH, password)  # same work whether or not the e-mail exists
        return None
    if not verify_password(coordinator.password_hash, password):
        return None
    return coordinator if coordinator.role in roles else None


_DUMMY_HASH = hash_password("not a real password, only here to even out timing")


def coordinating_scope(session: Session, account: Coordinator) -> frozenset[int] | None:
    """The partnerships an account may run: ``None`` (all) for an admin, the granted ones for
    a coordinator, none for anyone else."""
    if account.role == AccountRole.ADMIN:
        return None
    if account.role != AccountRole.COORDINATOR:
        return frozenset()
    return frozenset(granted_partnership_ids(session, account))


def coordinated_partnership(session: Session, account: Coordinator, partnership_id: int) -> None:
    """Raise "not found" unless the account may run the partnership (or it does not exist)."""
    scope = coordinating_scope(session, account)
    exists = session.get(Partnership, partnership_id) is not None
    if not exists or (scope is not None and partnership_id not in scope):
        raise RecordNotFoundError("partnership", partnership_id)


def coordinated_round(session: Session, account: Coordinator, round_id: int) -> None:
    """Raise "not found" unless the account may run the round's partnership."""
    survey_round = session.get(SurveyRound, round_id)
    scope = coordinating_scope(session, account)
    if survey_round is None or (scope is not None and survey_round.partnership_id not in scope):
        raise RecordNotFoundError("round", round_id)


def start_session(
    session: Session, account: Coordinator, lifetime: timedelta = SESSION_LIFETIME
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
            expires_at=now + lifetime,
        )
    )
    session.commit()
    return secret


def account_for_session(session: Session, secret: str) -> Coordinator | None:
    """The account of the live session whose secret is ``secret``, else ``None`` (unknown,
    ended by signing out, or expired)."""
    row = session.get(AccountSession, hash_session_secret(secret))
    if row is None:
        return None
    expires_at = row.expires_at
    if expires_at.tzinfo is None:  # SQLite hands back naive UTC times
        expires_at = expires_at.replace(tzinfo=UTC)
    if expires_at <= utc_now():
        return None
    return session.get(Coordinator, row.account_id)


def end_session(session: Session, secret: str) -> None:
    """End the session whose secret is ``secret`` (nothing happens if there is none)."""
    statement = delete(AccountSession).where(
        col(AccountSession.token_hash) == hash_session_secret(secret)
    )
    session.exec(statement)
    session.commit()
