"""The demo partnership: seeded once, with the demo responses of ``analysis.demo``.

The partnership's kind and organisations come from the pilot file (``instruments/pilots/``,
its ``demo_partnership``).  The responses are in a closed round, so that its report (published
when a round closes, by default) shows; the links printed for trying the questionnaire belong
to a second, open round.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

import pandas as pd
from sqlmodel import Session, select

from analysis.pilot import load_pilot
from app.instruments import instrument_named
from app.models import (
    Invitation,
    InvitationKind,
    InvitationStatus,
    Organisation,
    Response,
    ResponseStatus,
    SurveyRound,
)
from app.security import hash_link_token, new_link_token, new_password
from app.services import accounts, invitations, partnerships, rounds
from app.services.responses import stored_hour

DEMO_PARTNERSHIP = "Northshire Health and Care Partnership (demo)"
DEMO_COORDINATOR = "demo.coordinator@example.org"
UNUSED_LINKS_PER_ORGANISATION = 2
DEMO_REPORT_ROUND = "Demo round: the report's 39 leaders"
DEMO_OPEN_ROUND = "Demo round: try the questionnaire"


@dataclass(frozen=True)
class DemoSeed:
    """The demo's rounds; its links and password only when just made (else ``None``)."""

    round_id: int  # the closed round with the 39 published responses
    respondent_token: str | None
    open_token: str | None
    coordinator_email: str
    coordinator_password: str | None
    created: bool
    responses: int
    open_round_id: int = 0  # the open round that the printed links belong to


def _load_demo_responses() -> pd.DataFrame | None:
    try:
        from analysis.demo import demo_responses
    except ImportError:
        return None
    return demo_responses()


def _response_from_row(
    row: pd.Series, item_ids: list[str], background_ids: list[str]
) -> tuple[dict[str, int], dict[str, str]]:
    answers: dict[str, int] = {}
    for item_id in item_ids:
        value = row.get(item_id)
        if isinstance(value, int | float) and not math.isnan(value):
            answers[item_id] = int(value)
    background = {
        question_id: str(row[question_id])
        for question_id in background_ids
        if question_id in row and isinstance(row[question_id], str)
    }
    return answers, background


def _seed_partnership(session: Session, instrument_id: str, anonymity_threshold: int) -> int:
    """Partnership, organisations, an open round and the demo responses; the round's id."""
    instrument = instrument_named(instrument_id)
    demo = load_pilot().spec.demo_partnership  # its kinds are the pilot's data
    partnership = partnerships.create_partnership(session, DEMO_PARTNERSHIP, demo.kind)
    assert partnership.id is not None
    organisation_ids: dict[str, int] = {}
    for kind, name in demo.organisations.items():
        organisation = partnerships.add_organisation(session, partnership.id, name, kind)
        assert organisation.id is not None
        organisation_ids[kind] = organisation.id
    today = rounds.today()
    survey_round = rounds.open_round(
        session,
        partnership.id,
        title=DEMO_REPORT_ROUND,
        opens_on=today - timedelta(days=28),
        closes_on=today - timedelta(days=14),
        anonymity_threshold=anonymity_threshold,
        instrument_id=instrument.id,
        instrument_version=instrument.version,  # the version the demo's answers were given to
        historical=True,  # it closed a fortnight ago
    )
    assert survey_round.id is not None
    frame = _load_demo_responses()
    background_ids = [question.id for question in instrument.background]
    for _, row in (frame if frame is not None else pd.DataFrame()).iterrows():
        answers, background = _response_from_row(row, instrument.item_ids, background_ids)
        session.add(
            Invitation(
                round_id=survey_round.id,
                organisation_id=organisation_ids.get(
                    background.get(instrument.organisation_attribute or "", "")
                ),
                kind=InvitationKind.PERSONAL,
                token_hash=hash_link_token(new_link_token()),
                status=InvitationStatus.SUBMITTED,
            )
        )
        session.add(
            Response(
                round_id=survey_round.id,
                status=ResponseStatus.SUBMITTED,
                instrument_version=instrument.version,
                answers=answers,
                background=background,
                started_at=stored_hour(),
                updated_at=stored_hour(),
                submitted_at=stored_hour(),
            )
        )
    session.commit()
    rounds.close_round(session, survey_round.id)  # publishes the 39 responses
    open_round_id = _open_round(session, partnership.id, instrument.id, anonymity_threshold)
    for organisation_id in organisation_ids.values():
        invitations.create_personal_links(
            session,
            open_round_id,
            organisation_id=organisation_id,
            count=UNUSED_LINKS_PER_ORGANISATION,
            most=UNUSED_LINKS_PER_ORGANISATION,
        )
    return survey_round.id


def _open_round(
    session: Session, partnership_id: int, instrument_id: str, anonymity_threshold: int
) -> int:
    """The demo's open round for trying the questionnaire (made if missing); its id."""
    existing = session.exec(
        select(SurveyRound).where(
            SurveyRound.partnership_id == partnership_id, SurveyRound.title == DEMO_OPEN_ROUND
        )
    ).first()
    if existing is not None and existing.id is not None:
        return existing.id
    today = rounds.today()
    survey_round = rounds.open_round(
        session,
        partnership_id,
        title=DEMO_OPEN_ROUND,
        opens_on=today,
        closes_on=today + timedelta(days=365),
        anonymity_threshold=anonymity_threshold,
        instrument_id=instrument_id,
    )
    assert survey_round.id is not None
    return survey_round.id


def seed_demo(
    session: Session, *, instrument_id: str, anonymity_threshold: int, new_secrets: bool = False
) -> DemoSeed:
    """Seed the demo partnership if it is not there yet.

    When it is seeded (or ``new_secrets`` asks for it) the demo's open round gets a new random
    respondent link, a new open link (earlier open links stop working) and a new random
    password for the demo coordinator, handed back once here: only their hashes are stored.
    Otherwise the seed holds no secrets (``None``): the ones printed before still work.
    """
    existing = partnerships.partnership_by_name(session, DEMO_PARTNERSHIP)
    created = existing is None
    if existing is None:
        round_id = _seed_partnership(session, instrument_id, anonymity_threshold)
    else:
        demo_round = session.exec(
            select(SurveyRound).where(
                SurveyRound.partnership_id == existing.id, SurveyRound.title == DEMO_REPORT_ROUND
            )
        ).first()
        assert demo_round is not None and demo_round.id is not None
        round_id = demo_round.id
    report_round = rounds.get_round(session, round_id)
    if rounds.round_state(report_round) != rounds.RoundState.CLOSED:
        rounds.close_round(session, round_id)  # a demo seeded before rounds published at close
    open_round_id = _open_round(
        session, report_round.partnership_id, report_round.instrument_id, anonymity_threshold
    )
    responses = len(rounds.round_items_matrix(session, round_id))
    if not (created or new_secrets):
        return DemoSeed(
            round_id, None, None, DEMO_COORDINATOR, None, created, responses, open_round_id
        )
    demo = load_pilot().spec.demo_partnership
    linked = session.exec(
        select(Organisation).where(
            Organisation.partnership_id == report_round.partnership_id,
            Organisation.name == demo.organisations[demo.link_organisation],
        )
    ).first()
    respondent_token = invitations.create_personal_links(
        session, open_round_id, organisation_id=linked.id if linked else None, count=1, most=1
    )[0]
    open_token = invitations.create_open_link(session, open_round_id)
    password = new_password()
    coordinator = accounts.coordinator_by_email(session, DEMO_COORDINATOR)
    if coordinator is None:
        coordinator = accounts.add_account(session, DEMO_COORDINATOR, password)
    else:
        accounts.set_password(session, coordinator, password)
    accounts.grant_partnership(session, coordinator, report_round.partnership_id)
    return DemoSeed(
        round_id=round_id,
        respondent_token=respondent_token,
        open_token=open_token,
        coordinator_email=DEMO_COORDINATOR,
        coordinator_password=password,
        created=created,
        responses=responses,
        open_round_id=open_round_id,
    )
