"""Invitation links: personal single-use links and one open link per round.

A link's token is shown once, when it is made; only its SHA-256 hash is stored.
"""

from __future__ import annotations

from sqlmodel import Session, select

from app.models import Invitation, InvitationKind, InvitationStatus
from app.security import hash_link_token, new_link_token
from app.services.errors import FieldValidationError, RecordNotFoundError
from app.services.partnerships import get_organisation
from app.services.rounds import get_round, require_open


def create_personal_links(
    session: Session,
    round_id: int,
    *,
    organisation_id: int | None,
    count: int,
    most: int,
) -> list[str]:
    """Make ``count`` personal links for a round (and organisation); returns their tokens."""
    survey_round = get_round(session, round_id)
    if not 1 <= count <= most:
        raise FieldValidationError({"count": f"must be from 1 to {most}"})
    if organisation_id is not None:
        get_organisation(session, survey_round.partnership_id, organisation_id)
    tokens = [new_link_token() for _ in range(count)]
    session.add_all(
        Invitation(
            round_id=round_id,
            organisation_id=organisation_id,
            kind=InvitationKind.PERSONAL,
            token_hash=hash_link_token(token),
        )
        for token in tokens
    )
    session.commit()
    return tokens


def create_open_link(session: Session, round_id: int, token: str | None = None) -> str:
    """Make the round's open link, revoking any earlier one; returns its token."""
    get_round(session, round_id)
    earlier = session.exec(
        select(Invitation).where(
            Invitation.round_id == round_id,
            Invitation.kind == InvitationKind.OPEN,
            Invitation.status != InvitationStatus.REVOKED,
        )
    )
    for invitation in earlier:
        invitation.status = InvitationStatus.REVOKED
        session.add(invitation)
    token = token or new_link_token()
    session.add(
        Invitation(round_id=round_id, kind=InvitationKind.OPEN, token_hash=hash_link_token(token))
    )
    session.commit()
    return token


def invitation_for_token(session: Session, token: str) -> Invitation:
    """The live invitation of a link token; revoked and unknown links are not found."""
    if not token or len(token) > 200:
        raise RecordNotFoundError("link", "")
    invitation = session.exec(
        select(Invitation).where(Invitation.token_hash == hash_link_token(token))
    ).first()
    if invitation is None or invitation.status == InvitationStatus.REVOKED:
        raise RecordNotFoundError("link", "")
    return invitation


def start_from_open_link(
    session: Session, open_invitation: Invitation, organisation_id: int | None
) -> str:
    """Give one respondent of an open link a personal link of their own, so they can resume."""
    survey_round = get_round(session, open_invitation.round_id)
    require_open(survey_round)
    if organisation_id is not None:
        get_organisation(session, survey_round.partnership_id, organisation_id)
    token = new_link_token()
    session.add(
        Invitation(
            round_id=open_invitation.round_id,
            organisation_id=organisation_id,
            kind=InvitationKind.PERSONAL,
            token_hash=hash_link_token(token),
        )
    )
    session.commit()
    return token
