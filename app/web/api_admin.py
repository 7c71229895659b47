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
from app.services import accounts, instruments, invitations, partnerships, rounds
from app.services.errors import DuplicateRecordError
from app.web.deps import (
    ApiCoordinatorDep,
    ApiOrganisationId,
    ApiPartnershipId,
    ApiRoundId,
    LinkBaseDep,
    SettingsDep,
    respondent_link,
)
from app.web.schemas import (
    ClosingDateIn,
    ConfirmNameIn,
    CurrentOpenLinkOut,
    DeletedOut,
    InstrumentOut,
    LinksIn,
    LinksOut,
    NameIn,
    OpenLinkIn,
    OpenLinkOut,
    OrganisationIn,
    OrganisationOut,
    PartnershipIn,
    PartnershipOut,
    ProgressOut,
    RoundIn,
    RoundOut,
    TitleIn,
)

router = APIRouter(prefix="/api/v1", tags=["coordinating"])


def _partnership(partnership: Partnership) -> PartnershipOut:
    assert partnership.id is not None
    return PartnershipOut(id=partnership.id, name=partnership.name, kind=partnership.kind)


def _organisation(organisation: Organisation) -> OrganisationOut:
    return OrganisationOut.model_validate(organisation, from_attributes=True)


def _round(survey_round: SurveyRound) -> RoundOut:
    return RoundOut.model_validate(
        {**survey_round.model_dump(), "state": rounds.round_state(survey_round)}
    )


@router.get("/instruments")
def list_instruments(session: SessionDep, coordinator: ApiCoordinatorDep) -> list[InstrumentOut]:
    """Every instrument version a new round may use (bundled, and those an admin added),
    newest first per instrument."""
    return [
        InstrumentOut(
            instrument_id=choice.instrument_id,
            version=choice.version,
            title=choice.title,
            source=choice.source,
            newest=choice.newest,
        )
        for choice in instruments.instrument_choices(session)
    ]


@router.get("/partnerships")
def list_partnerships(session: SessionDep, coordinator: ApiCoordinatorDep) -> list[PartnershipOut]:
    """The partnerships you run: those granted to you (admins: all)."""
    scope = accounts.coordinating_scope(session, coordinator)
    return [_partnership(p) for p in partnerships.list_partnerships(session, scope)]


@router.post("/partnerships", status_code=status.HTTP_201_CREATED)
def create_partnership(
    body: PartnershipIn, session: SessionDep, coordinator: ApiCoordinatorDep
) -> PartnershipOut:
    """A new partnership, granted to you."""
    created = partnerships.create_partnership(
        session, body.name, body.kind, granted_to=coordinator.id, actor=coordinator
    )
    return _partnership(created)


@router.get("/partnerships/{partnership_id}")
def read_partnership(partnership_id: ApiPartnershipId, session: SessionDep) -> PartnershipOut:
    return _partnership(partnerships.get_partnership(session, partnership_id))


@router.put("/partnerships/{partnership_id}/name")
def rename_partnership(
    partnership_id: ApiPartnershipId,
    body: NameIn,
    session: SessionDep,
    coordinator: ApiCoordinatorDep,
) -> PartnershipOut:
    """Rename a partnership (its reports show the new name)."""
    renamed = partnerships.rename_partnership(session, partnership_id, body.name, actor=coordinator)
    return _partnership(renamed)


@router.delete("/partnerships/{partnership_id}")
def delete_partnership(
    partnership_id: ApiPartnershipId,
    body: ConfirmNameIn,
    session: SessionDep,
    coordinator: ApiCoordinatorDep,
) -> DeletedOut:
    """Delete a partnership with all its organisations, rounds, links, responses and reports;
    ``confirm_name`` must be its name."""
    partnerships.delete_partnership(session, partnership_id, body.confirm_name, actor=coordinator)
    return DeletedOut(deleted="partnership", id=partnership_id)


@router.get("/partnerships/{partnership_id}/organisations")
def list_organisations(
    partnership_id: ApiPartnershipId, session: SessionDep
) -> list[OrganisationOut]:
    partnerships.get_partnership(session, partnership_id)
    return [_organisation(o) for o in partnerships.list_organisations(session, partnership_id)]


@router.post("/partnerships/{partnership_id}/organisations", status_code=status.HTTP_201_CREATED)
def add_organisation(
    partnership_id: ApiPartnershipId,
    body: OrganisationIn,
    session: SessionDep,
    coordinator: ApiCoordinatorDep,
) -> OrganisationOut:
    organisation = partnerships.add_organisation(
        session, partnership_id, body.name, body.kind, actor=coordinator
    )
    return _organisation(organisation)


@router.put("/partnerships/{partnership_id}/organisations/{organisation_id}/name")
def rename_organisation(
    partnership_id: ApiPartnershipId,
    organisation_id: ApiOrganisationId,
    body: NameIn,
    session: SessionDep,
    coordinator: ApiCoordinatorDep,
) -> OrganisationOut:
    renamed = partnerships.rename_organisation(
        session, partnership_id, organisation_id, body.name, actor=coordinator
    )
    return _organisation(renamed)


@router.delete("/partnerships/{partnership_id}/organisations/{organisation_id}")
def remove_organisation(
    partnership_id: ApiPartnershipId,
    organisation_id: ApiOrganisationId,
    session: SessionDep,
    coordinator: ApiCoordinatorDep,
) -> DeletedOut:
    """Remove an organisation nobody has started or sent answers for (else 400); its unused
    links stop working."""
    partnerships.remove_organisation(session, partnership_id, organisation_id, actor=coordinator)
    return DeletedOut(deleted="organisation", id=organisation_id)


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
    coordinator: ApiCoordinatorDep,
) -> RoundOut:
    """A new round on an instrument version (default: the newest of INSTRUMENT's); a draft
    until its opening day.  Its closing date may not be past."""
    chosen = instruments.choose_version(
        session, body.instrument_id or settings.instrument, body.instrument_version
    )
    survey_round = rounds.open_round(
        session,
        partnership_id,
        title=body.title,
        opens_on=body.opens_on,
        closes_on=body.closes_on,
        anonymity_threshold=body.anonymity_threshold or settings.anonymity_threshold,
        instrument_id=chosen.instrument_id,
        instrument_version=chosen.version,
        release_policy=body.release_policy,
        actor=coordinator,
    )
    return _round(survey_round)


@router.get("/rounds/{round_id}")
def read_round(round_id: ApiRoundId, session: SessionDep) -> RoundOut:
    return _round(rounds.get_round(session, round_id))


@router.post("/rounds/{round_id}/close")
def close_round(
    round_id: ApiRoundId, session: SessionDep, coordinator: ApiCoordinatorDep
) -> RoundOut:
    """Close the round now; its final release is made if the rules allow."""
    return _round(rounds.close_round(session, round_id, actor=coordinator))


@router.post("/rounds/{round_id}/open-now")
def open_round_now(
    round_id: ApiRoundId, session: SessionDep, coordinator: ApiCoordinatorDep
) -> RoundOut:
    """Open a round that has not opened yet today (its opening date becomes today)."""
    return _round(rounds.open_now(session, round_id, actor=coordinator))


@router.put("/rounds/{round_id}/closing-date")
def change_closing_date(
    round_id: ApiRoundId, body: ClosingDateIn, session: SessionDep, coordinator: ApiCoordinatorDep
) -> RoundOut:
    """Move an open or not yet open round's closing date (extend it, or end it sooner)."""
    return _round(rounds.change_closing_date(session, round_id, body.closes_on, actor=coordinator))


@router.post("/rounds/{round_id}/reopen")
def reopen_round(
    round_id: ApiRoundId, body: ClosingDateIn, session: SessionDep, coordinator: ApiCoordinatorDep
) -> RoundOut:
    """Reopen a closed round until a new closing date. What was published stays; a new
    release comes only once at least the threshold of new responses have arrived."""
    return _round(rounds.reopen_round(session, round_id, body.closes_on, actor=coordinator))


@router.put("/rounds/{round_id}/title")
def rename_round(
    round_id: ApiRoundId, body: TitleIn, session: SessionDep, coordinator: ApiCoordinatorDep
) -> RoundOut:
    return _round(rounds.rename_round(session, round_id, body.title, actor=coordinator))


@router.delete("/rounds/{round_id}")
def delete_round(
    round_id: ApiRoundId, body: ConfirmNameIn, session: SessionDep, coordinator: ApiCoordinatorDep
) -> DeletedOut:
    """Delete a round with all its links, responses and reports; ``confirm_name`` must be its
    title."""
    rounds.delete_round(session, round_id, body.confirm_name, actor=coordinator)
    return DeletedOut(deleted="round", id=round_id)


@router.post("/rounds/{round_id}/links", status_code=status.HTTP_201_CREATED)
def create_personal_links(
    round_id: ApiRoundId,
    body: LinksIn,
    session: SessionDep,
    settings: SettingsDep,
    base: LinkBaseDep,
    coordinator: ApiCoordinatorDep,
) -> LinksOut:
    tokens = invitations.create_personal_links(
        session,
        round_id,
        organisation_id=body.organisation_id,
        count=body.count,
        most=settings.max_links_per_request,
        actor=coordinator,
    )
    return LinksOut(links=[respondent_link(base, token) for token in tokens])


@router.get("/rounds/{round_id}/open-link")
def read_open_link(
    round_id: ApiRoundId, session: SessionDep, settings: SettingsDep, base: LinkBaseDep
) -> CurrentOpenLinkOut:
    """The round's working open link, shown again."""
    token = invitations.current_open_link(session, round_id, settings.signing_key())
    return CurrentOpenLinkOut(
        link=respondent_link(base, token) if token else None,
        has_open_link=invitations.has_open_link(session, round_id),
    )


@router.post("/rounds/{round_id}/open-link", status_code=status.HTTP_201_CREATED)
def create_open_link(
    round_id: ApiRoundId,
    session: SessionDep,
    settings: SettingsDep,
    base: LinkBaseDep,
    coordinator: ApiCoordinatorDep,
    body: OpenLinkIn | None = None,
) -> OpenLinkOut:
    """Make the round's open link. A round that has one already keeps it (409) unless
    ``replace`` is true: the link already sent out then stops working."""
    if invitations.has_open_link(session, round_id) and not (body and body.replace):
        raise DuplicateRecordError(
            "this round has an open link already (GET shows it); send replace: true to "
            "replace it, and the link already sent out stops working"
        )
    token = invitations.create_open_link(
        session, round_id, signing_key=settings.signing_key(), actor=coordinator
    )
    return OpenLinkOut(link=respondent_link(base, token))


@router.get("/rounds/{round_id}/progress", summary="Counts per organisation (never answers)")
def round_progress(round_id: ApiRoundId, session: SessionDep) -> list[ProgressOut]:
    return [ProgressOut.of(row) for row in rounds.round_progress(session, round_id)]
