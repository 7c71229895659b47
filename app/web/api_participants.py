"""Participants and invitations through the JSON API (``/api/v1/rounds/{id}/participants``
and ``.../invitations``): the same service as the round's "Participants and invitations"
page, for a coordinator's script.  Answers give counts only, never an address or whether
anyone has answered."""

from __future__ import annotations

from fastapi import APIRouter, status

from app.database import SessionDep
from app.services import participants
from app.services.errors import FieldValidationError
from app.web.deps import ApiCoordinatorDep, ApiRoundId, LinkBaseDep, SettingsDep
from app.web.schemas import (
    InvitationsQueuedOut,
    OrganisationParticipantsOut,
    ParticipantsAddedOut,
    ParticipantsIn,
)

router = APIRouter(prefix="/api/v1", tags=["participants"])


@router.get("/rounds/{round_id}/participants")
def participant_counts(
    round_id: ApiRoundId, session: SessionDep
) -> list[OrganisationParticipantsOut]:
    """Per organisation: participants listed, invited, wanting no reminders, not deliverable."""
    return [
        OrganisationParticipantsOut.model_validate(counts, from_attributes=True)
        for counts in participants.participant_counts(session, round_id)
    ]


@router.post("/rounds/{round_id}/participants", status_code=status.HTTP_201_CREATED)
def add_participants(
    round_id: ApiRoundId,
    body: ParticipantsIn,
    session: SessionDep,
    settings: SettingsDep,
    coordinator: ApiCoordinatorDep,
) -> ParticipantsAddedOut:
    """Add addresses, each with its organisation's name: all or none.  A 422 names every
    bad entry (``participants.N``: not an address, an organisation the partnership does not
    have, an address given twice or already in the round)."""
    rows = [
        participants.ParticipantRow(number, given.email, given.organisation)
        for number, given in enumerate(body.participants, start=1)
    ]
    result = participants.import_participants(
        session, round_id, rows, secret=settings.signing_key(), actor=coordinator
    )
    if result.problems:
        raise FieldValidationError(
            {
                f"participants.{problem.number - 1}" if problem.number else "participants": (
                    problem.message
                )
                for problem in result.problems
            }
        )
    return ParticipantsAddedOut(added=result.added)


@router.post("/rounds/{round_id}/invitations")
def send_invitations(
    round_id: ApiRoundId,
    session: SessionDep,
    settings: SettingsDep,
    base: LinkBaseDep,
    coordinator: ApiCoordinatorDep,
) -> InvitationsQueuedOut:
    """Queue a personal invitation for every participant not yet invited; the worker sends
    them (reminders follow the round's reminder dates)."""
    queued = participants.send_invitations(
        session, round_id, secret=settings.signing_key(), base=base, actor=coordinator
    )
    return InvitationsQueuedOut(queued=queued)
