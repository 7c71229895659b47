"""Coordinator accounts: argon2 password hashes, looked up by e-mail."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.models import Coordinator, CoordinatorRole
from app.security import hash_password, verify_password
from app.services.errors import DuplicateRecordError, FieldValidationError

MINIMUM_PASSWORD_LENGTH = 12


def normalised_email(email: str) -> str:
    return email.strip().lower()


def add_coordinator(
    session: Session, email: str, password: str, role: str = CoordinatorRole.COORDINATOR
) -> Coordinator:
    problems: dict[str, str] = {}
    if "@" not in email or len(email) > 254:
        problems["email"] = "must be an e-mail address"
    if len(password) < MINIMUM_PASSWORD_LENGTH:
        problems["password"] = f"must be at least {MINIMUM_PASSWORD_LENGTH} characters"
    if role not in set(CoordinatorRole):
        problems["role"] = f"must be one of: {', '.join(CoordinatorRole)}"
    if problems:
        raise FieldValidationError(problems)
    coordinator = Coordinator(
        email=normalised_email(email), password_hash=hash_password(password), role=role
    )
    session.add(coordinator)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise DuplicateRecordError(f"a coordinator with e-mail {email!r} already exists") from None
    session.refresh(coordinator)
    return coordinator


def coordinator_by_email(session: Session, email: str) -> Coordinator | None:
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


def authenticate(session: Session, email: str, password: str) -> Coordinator | None:
    """The coordinator whose e-mail and password these are, else ``None``."""
    coordinator = coordinator_by_email(session, email)
    if coordinator is None:
        verify_password(_DUMMY_HASH, password)  # same work whether or not the e-mail exists
        return None
    return coordinator if verify_password(coordinator.password_hash, password) else None


_DUMMY_HASH = hash_password("not a real password, only here to even out timing")
