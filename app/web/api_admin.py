"""JSON API for coordinators: partnerships, organisations, rounds, links and progress.

A coordinator sees and runs only the partnerships granted to them (and those they create);
admins all of them.  Any other partnership or round is 404, as an unknown id is: the check is
made on the id the path names, parsed once (canonical digits only) by :data:`ApiPartnershipId`
or :data:`ApiRoundId`, which hand the route that same id.
"""

from __future__ import annotations

from fastapi import APIRouter, status

from app.database import SessionDep
from app.models import Organisation, Partnership, SurveyRound
from app.services import coordinators, invitations, partnerships, rounds
from app.web.deps import (
    ApiCoordinatorDep,
    ApiPartnershipId,
    ApiRoundId,
    LinkBaseDep,
    SettingsDep,
    respondent_link,
)
from app.web.schemas import (
    LinksIn,
    LinksOut,
    OpenLinkOut,
    OrganisationIn,
    OrganisationOut,
    PartnershipIn,
    PartnershipOut,
    ProgressOut,
    RoundIn,
    RoundOut,
)

router = APIRouter(prefix="/api/v1", tags=["coordinating"])


def _partnership(partnership: Partnership) -> PartnershipOut:
    assert partnership.id is not None
    return PartnershipOut(
        id=partnership.id, name=partnership.name, care_model=partnership.care_model
    )


def _organisation(organisation: Organisation) -> OrganisationOut:
    return OrganisationOut.model_validate(organisation, from_attributes=True)


def _round(survey_round: SurveyRound) -> RoundOut:
    return RoundOut.model_validate(
        {**survey_round.model_dump(), "state": rounds.round_state(survey_round)}
    )


@router.get("/partnerships")
def list_partnerships(session: SessionDep, coordinator: ApiCoordinatorDep) -> list[PartnershipOut]:
    """The partnerships you run: those granted to you (admins: all)."""
    scope = coordinators.coordinating_scope(session, coordinator)
    return [_partnership(p) for p in partnerships.list_partnerships(session, scope)]


@router.post("/partnerships", status_code=status.HTTP_201_CREATED)
def create_partnership(
    body: PartnershipIn, session: SessionDep, coordinator: ApiCoordinatorDep
) -> PartnershipOut:
    """A new partnership, granted to you."""
    created = partnerships.create_partnership(
        session, body.name, body.care_model, granted_to=coordinator.id
    )
    return _partnership(created)


@router.get("/partnerships/{partnership_id}")
def read_partnership(partnership_id: ApiPartnershipId, session: SessionDep) -> PartnershipOut:
    return _partnership(partnerships.get_partnership(session, partnership_id))


@router.get("/partnerships/{partnership_id}/organisations")
def list_organisations(
    partnership_id: ApiPartnershipId, session: SessionDep
) -> list[OrganisationOut]:
    partnerships.get_partnership(session, partnership_id)
    return [_organisation(o) for o in partnerships.list_organisations(session, partnership_id)]


@router.post("/partnerships/{partnership_id}/organisations", status_code=status.HTTP_201_CREATED)
def add_organisation(
    partnership_id: ApiPartnershipId, body: OrganisationIn, session: SessionDep
) -> OrganisationOut:
    organisation = partnerships.add_organisation(
        session, partnership_id, body.name, body.organisation_type
    )
    return _organisation(organisation)


@router.get("/partnerships/{partnership_id}/rounds")
def list_rounds(partnership_id: ApiPartnershipId, session: SessionDep) -> list[RoundOut]:
    partnerships.get_partnership(session, partnership_id)
    return [_round(r) for r in rounds.list_rounds(session, partnership_id)]


@router.post("/partnerships/{partnership_id}/rounds", status_code=status.HTTP_201_CREATED)
def open_round(
    partnership_id: ApiPartnershipId,
    body: RoundIn,
    session: SessionDep,
    settings: SettingsDep,
) -> RoundOut:
    survey_round = rounds.open_round(
        session,
        partnership_id,
        title=body.title,
        opens_on=body.opens_on,
        closes_on=body.closes_on,
        anonymity_threshold=body.anonymity_threshold or settings.anonymity_threshold,
        instrument_id=settings.instrument,
        release_policy=body.release_policy,
    )
    return _round(survey_round)


@router.get("/rounds/{round_id}")
def read_round(round_id: ApiRoundId, session: SessionDep) -> RoundOut:
    return _round(rounds.get_round(session, round_id))


@router.post("/rounds/{round_id}/close")
def close_round(round_id: ApiRoundId, session: SessionDep) -> RoundOut:
    return _round(rounds.close_round(session, round_id))


@router.post("/rounds/{round_id}/links", status_code=status.HTTP_201_CREATED)
def create_personal_links(
    round_id: ApiRoundId,
    body: LinksIn,
    session: SessionDep,
    settings: SettingsDep,
    base: LinkBaseDep,
) -> LinksOut:
    tokens = invitations.create_personal_links(
        session,
        round_id,
        organisation_id=body.organisation_id,
        count=body.count,
        most=settings.max_links_per_request,
    )
    return LinksOut(links=[respondent_link(base, token) for token in tokens])


@router.post("/rounds/{round_id}/open-link", status_code=status.HTTP_201_CREATED)
def create_open_link(round_id: ApiRoundId, session: SessionDep, base: LinkBaseDep) -> OpenLinkOut:
    return OpenLinkOut(link=respondent_link(base, invitations.create_open_link(session, round_id)))


@router.get("/rounds/{round_id}/progress", summary="Counts per organisation (never answers)")
def round_progress(round_id: ApiRoundId, session: SessionDep) -> list[ProgressOut]:
    return [ProgressOut.of(row) for row in rounds.round_progress(session, round_id)]
