"""Partnerships and their member organisations."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.models import (
    Invitation,
    InvitationStatus,
    Organisation,
    Partnership,
    PartnershipGrant,
)
from app.services import audit
from app.services.answers import control_character_problem
from app.services.audit import COMMAND_LINE_ACTOR, Actor, AuditAction
from app.services.errors import (
    DuplicateRecordError,
    FieldValidationError,
    InvalidRequestError,
    RecordNotFoundError,
)
from app.services.instruments import attribute_labels

PARTNERSHIP_ATTRIBUTE = "partnership_attribute"
ORGANISATION_ATTRIBUTE = "organisation_attribute"


def _require_choice(session: Session, attribute: str, field: str, value: str) -> None:
    """``value`` must be an option that some instrument (any version) describes partnerships
    or organisations by (``attribute``): the instrument files decide, not this code."""
    choices = attribute_labels(session, attribute)
    if value not in choices:
        raise FieldValidationError({field: f"must be one of: {', '.join(choices)}"})


def _require_name(name: str) -> None:
    if not name.strip():
        raise FieldValidationError({"name": "Enter a name"})
    if (problem := control_character_problem(name)) is not None:
        raise FieldValidationError({"name": problem})


def typed_name_matches(typed: str, name: str) -> bool:
    """Whether a typed confirmation is the name (spaces around it and case aside)."""
    return " ".join(typed.split()).casefold() == " ".join(name.split()).casefold()


def create_partnership(
    session: Session,
    name: str,
    kind: str,
    *,
    granted_to: int | None = None,
    actor: Actor = COMMAND_LINE_ACTOR,
) -> Partnership:
    """A new partnership; ``granted_to`` (an account id) is granted it in the same commit."""
    _require_name(name)
    _require_choice(session, PARTNERSHIP_ATTRIBUTE, "kind", kind)
    partnership = Partnership(name=name.strip(), kind=kind)
    session.add(partnership)
    try:
        session.flush()
        if granted_to is not None:
            assert partnership.id is not None
            session.add(PartnershipGrant(account_id=granted_to, partnership_id=partnership.id))
        audit.record(
            session,
            actor,
            AuditAction.PARTNERSHIP_ADDED,
            audit.named("partnership", partnership.id, partnership.name),
            partnership_id=partnership.id,
            detail=kind,
            commit=False,
        )
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
    session: Session,
    partnership_id: int,
    name: str,
    kind: str,
    *,
    actor: Actor = COMMAND_LINE_ACTOR,
) -> Organisation:
    get_partnership(session, partnership_id)
    _require_name(name)
    _require_choice(session, ORGANISATION_ATTRIBUTE, "kind", kind)
    organisation = Organisation(partnership_id=partnership_id, name=name.strip(), kind=kind)
    session.add(organisation)
    try:
        session.flush()
        audit.record(
            session,
            actor,
            AuditAction.ORGANISATION_ADDED,
            audit.named("organisation", organisation.id, organisation.name),
            partnership_id=partnership_id,
            detail=kind,
            commit=False,
        )
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


def rename_partnership(
    session: Session, partnership_id: int, name: str, *, actor: Actor = COMMAND_LINE_ACTOR
) -> Partnership:
    partnership = get_partnership(session, partnership_id)
    _require_name(name)
    before = partnership.name
    partnership.name = name.strip()
    session.add(partnership)
    audit.record(
        session,
        actor,
        AuditAction.PARTNERSHIP_RENAMED,
        f"partnership {partnership_id}",
        partnership_id=partnership_id,
        detail=f"{before} -> {partnership.name}",
        commit=False,
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise DuplicateRecordError(
            f"a partnership called {name.strip()!r} already exists"
        ) from None
    return partnership


def rename_organisation(
    session: Session,
    partnership_id: int,
    organisation_id: int,
    name: str,
    *,
    actor: Actor = COMMAND_LINE_ACTOR,
) -> Organisation:
    organisation = get_organisation(session, partnership_id, organisation_id)
    _require_name(name)
    before = organisation.name
    organisation.name = name.strip()
    session.add(organisation)
    audit.record(
        session,
        actor,
        AuditAction.ORGANISATION_RENAMED,
        f"organisation {organisation_id}",
        partnership_id=partnership_id,
        detail=f"{before} -> {organisation.name}",
        commit=False,
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise DuplicateRecordError(
            f"the partnership already has an organisation called {name.strip()!r}"
        ) from None
    return organisation


def organisation_links(session: Session, organisation_id: int) -> dict[str, int]:
    """How many of an organisation's personal links are unused, started or submitted."""
    statement = (
        sa.select(col(Invitation.status), sa.func.count())
        .where(col(Invitation.organisation_id) == organisation_id)
        .group_by(col(Invitation.status))
    )
    return {str(status): int(number) for status, number in session.execute(statement)}


def removable(session: Session, organisation_id: int) -> bool:
    """An organisation may be removed while nobody has started or submitted a link of it."""
    links = organisation_links(session, organisation_id)
    return not links.get(InvitationStatus.STARTED) and not links.get(InvitationStatus.SUBMITTED)


def remove_organisation(
    session: Session,
    partnership_id: int,
    organisation_id: int,
    *,
    actor: Actor = COMMAND_LINE_ACTOR,
) -> None:
    """Remove an organisation that has no responses (none started or submitted); its unused
    links stop working."""
    organisation = get_organisation(session, partnership_id, organisation_id)
    if not removable(session, organisation_id):
        raise InvalidRequestError(
            "this organisation cannot be removed: people have started or sent answers "
            "through its links"
        )
    session.execute(
        sa.update(Invitation)
        .where(
            col(Invitation.organisation_id) == organisation_id,
            col(Invitation.status) == InvitationStatus.UNUSED,
        )
        .values(status=InvitationStatus.REVOKED)
    )
    target = audit.named("organisation", organisation_id, organisation.name)
    session.delete(organisation)
    audit.record(
        session,
        actor,
        AuditAction.ORGANISATION_REMOVED,
        target,
        partnership_id=partnership_id,
        commit=False,
    )
    session.commit()


def delete_partnership(
    session: Session, partnership_id: int, typed_name: str, *, actor: Actor = COMMAND_LINE_ACTOR
) -> None:
    """Delete a partnership with everything of it (organisations, rounds, links, responses,
    releases, grants), if ``typed_name`` is its name."""
    partnership = get_partnership(session, partnership_id)
    if not typed_name_matches(typed_name, partnership.name):
        raise FieldValidationError(
            {"confirm_name": "Type the partnership's name exactly as shown to delete it"}
        )
    target = audit.named("partnership", partnership_id, partnership.name)
    session.execute(sa.delete(Partnership).where(col(Partnership.id) == partnership_id))
    audit.record(
        session,
        actor,
        AuditAction.PARTNERSHIP_DELETED,
        target,
        partnership_id=partnership_id,
        commit=False,
    )
    session.commit()
    session.expunge_all()
