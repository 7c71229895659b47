"""Partnerships and their member organisations."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.instruments import background_choices
from app.models import Organisation, Partnership, PartnershipGrant
from app.services.answers import control_character_problem
from app.services.errors import DuplicateRecordError, FieldValidationError, RecordNotFoundError


def _require_choice(question_id: str, value: str) -> None:
    choices = background_choices(question_id)
    if value not in choices:
        raise FieldValidationError({question_id: f"must be one of: {', '.join(choices)}"})


def _require_name(name: str) -> None:
    if not name.strip():
        raise FieldValidationError({"name": "must not be blank"})
    if (problem := control_character_problem(name)) is not None:
        raise FieldValidationError({"name": problem})


def create_partnership(
    session: Session, name: str, care_model: str, *, granted_to: int | None = None
) -> Partnership:
    """A new partnership; ``granted_to`` (an account id) is granted it in the same commit."""
    _require_name(name)
    _require_choice("care_model", care_model)
    partnership = Partnership(name=name.strip(), care_model=care_model)
    session.add(partnership)
    try:
        session.flush()
        if granted_to is not None:
            assert partnership.id is not None
            session.add(PartnershipGrant(account_id=granted_to, partnership_id=partnership.id))
        session.commit()
    except IntegrityError:
        session.rollback()
        raise DuplicateRecordError(f"a partnership called {name!r} already exists") from None
    session.refresh(partnership)
    return partnership


def list_partnerships(session: Session, only: frozenset[int] | None = None) -> list[Partnership]:
    """Every partnership, or only those with ids in ``only``."""
    statement = select(Partnership).order_by(col(Partnership.name))
    if only is not None:
        statement = statement.where(col(Partnership.id).in_(only))
    return list(session.exec(statement))


def get_partnership(session: Session, partnership_id: int) -> Partnership:
    partnership = session.get(Partnership, partnership_id)
    if partnership is None:
        raise RecordNotFoundError("partnership", partnership_id)
    return partnership


def partnership_by_name(session: Session, name: str) -> Partnership | None:
    return session.exec(select(Partnership).where(Partnership.name == name)).first()


def add_organisation(
    session: Session, partnership_id: int, name: str, organisation_type: str
) -> Organisation:
    get_partnership(session, partnership_id)
    _require_name(name)
    _require_choice("organisation_type", organisation_type)
    organisation = Organisation(
        partnership_id=partnership_id, name=name.strip(), organisation_type=organisation_type
    )
    session.add(organisation)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise DuplicateRecordError(
            f"the partnership already has an organisation called {name!r}"
        ) from None
    session.refresh(organisation)
    return organisation


def list_organisations(session: Session, partnership_id: int) -> list[Organisation]:
    statement = (
        select(Organisation)
        .where(Organisation.partnership_id == partnership_id)
        .order_by(col(Organisation.name))
    )
    return list(session.exec(statement))


def get_organisation(session: Session, partnership_id: int, organisation_id: int) -> Organisation:
    organisation = session.get(Organisation, organisation_id)
    if organisation is None or organisation.partnership_id != partnership_id:
        raise RecordNotFoundError("organisation", organisation_id)
    return organisation
