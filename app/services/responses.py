"""Answering a round: drafts saved page by page, and submission (once per personal link)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from analysis.instrument import Instrument
from app.instruments import instrument_version
from app.models import (
    Invitation,
    InvitationKind,
    InvitationStatus,
    Organisation,
    Partnership,
    Response,
    ResponseStatus,
    SurveyRound,
    utc_now,
)
from app.services.answers import (
    CheckedAnswers,
    check_answers,
    section_after,
    section_by_id,
    unanswered_required,
)
from app.services.errors import (
    FieldValidationError,
    LinkAlreadyUsedError,
    RecordNotFoundError,
)
from app.services.rounds import get_round, require_open


@dataclass
class AnswersSoFar:
    """What a respondent has answered (or what is filled in for them), and where to go next."""

    answers: dict[str, int]
    background: dict[str, str]
    next_section: str | None
    has_draft: bool


def round_and_instrument(
    session: Session, invitation: Invitation
) -> tuple[SurveyRound, Instrument]:
    survey_round = get_round(session, invitation.round_id)
    return survey_round, instrument_version(
        survey_round.instrument_id, survey_round.instrument_version
    )


def draft_of(session: Session, invitation: Invitation) -> Response | None:
    return session.exec(
        select(Response).where(
            Response.invitation_id == invitation.id, Response.status == ResponseStatus.DRAFT
        )
    ).first()


def _prefilled_background(
    session: Session, invitation: Invitation, survey_round: SurveyRound, instrument: Instrument
) -> dict[str, str]:
    """Background answers the link already tells: the partnership and organisation type
    (one query)."""
    found = session.execute(
        sa.select(
            col(Partnership.name), col(Partnership.care_model), col(Organisation.organisation_type)
        )
        .select_from(Partnership)
        .outerjoin(
            Organisation,
            sa.and_(
                col(Organisation.id) == invitation.organisation_id,
                col(Organisation.partnership_id) == col(Partnership.id),
            ),
        )
        .where(col(Partnership.id) == survey_round.partnership_id)
    ).first()
    if found is None:
        raise RecordNotFoundError("partnership", survey_round.partnership_id)
    name, care_model, organisation_type = found
    known: dict[str, str] = {"partnership_name": name, "care_model": care_model}
    if organisation_type is not None:
        known["organisation_type"] = organisation_type
    return check_answers(instrument, {}, known).background


def answers_so_far(session: Session, invitation: Invitation) -> AnswersSoFar:
    draft = draft_of(session, invitation)
    if draft is not None:
        return AnswersSoFar(dict(draft.answers), dict(draft.background), draft.next_section, True)
    survey_round, instrument = round_and_instrument(session, invitation)
    background = _prefilled_background(session, invitation, survey_round, instrument)
    return AnswersSoFar({}, background, instrument.sections[0].id, False)


def _require_answerable(session: Session, invitation: Invitation) -> tuple[SurveyRound, Instrument]:
    if invitation.kind != InvitationKind.PERSONAL:
        raise RecordNotFoundError("personal link", "")
    if invitation.status == InvitationStatus.SUBMITTED:
        raise LinkAlreadyUsedError()
    survey_round, instrument = round_and_instrument(session, invitation)
    require_open(survey_round)
    return survey_round, instrument


def _merge(response: Response, checked: CheckedAnswers) -> None:
    answers = {**response.answers, **checked.answers}
    background = {**response.background, **checked.background}
    for field_id in checked.cleared:
        answers.pop(field_id, None)
        background.pop(field_id, None)
    response.answers = answers  # a new dict, so the JSON column is written
    response.background = background
    response.updated_at = utc_now()


def _new_draft(
    session: Session, invitation: Invitation, survey_round: SurveyRound, instrument: Instrument
) -> Response:
    """A link's first draft (not yet added to the session), with what the link tells."""
    return Response(
        round_id=invitation.round_id,
        invitation_id=invitation.id,
        instrument_version=instrument.version,
        background=_prefilled_background(session, invitation, survey_round, instrument),
        next_section=instrument.sections[0].id,
    )


def _draft_for_writing(
    session: Session, invitation: Invitation, survey_round: SurveyRound, instrument: Instrument
) -> Response:
    draft = draft_of(session, invitation)
    if draft is not None:
        return draft
    if invitation.status == InvitationStatus.UNUSED:
        # A conditional UPDATE, never a write of the (possibly stale) loaded row: a concurrent
        # submission may have marked the link submitted since it was read.
        started = session.connection().execute(
            sa.update(Invitation)
            .where(
                col(Invitation.id) == invitation.id,
                col(Invitation.status) == InvitationStatus.UNUSED,
            )
            .values(status=InvitationStatus.STARTED)
            .execution_options(synchronize_session=False)
        )
        if started.rowcount == 1:  # the loaded link says so too, without reading it again
            set_committed_value(invitation, "status", InvitationStatus.STARTED)
        else:
            session.refresh(invitation)
    # Insert the draft unless another request just did (the link is unique on a response),
    # inside this request's transaction, then use whichever draft is there.
    fresh = _new_draft(session, invitation, survey_round, instrument)
    columns = [c.name for c in Response.__table__.columns if c.name != "id"]  # type: ignore[attr-defined]
    dialect_insert = (
        postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    )
    session.connection().execute(
        dialect_insert(Response)
        .values({name: getattr(fresh, name) for name in columns})
        .on_conflict_do_nothing(index_elements=["invitation_id"])
    )
    draft = draft_of(session, invitation)
    if draft is None:
        raise LinkAlreadyUsedError()
    return draft


def save_section(
    session: Session,
    invitation: Invitation,
    section_id: str,
    answers: Mapping[str, object],
    background: Mapping[str, object],
) -> dict[str, str]:
    """Save one page's answers as the draft; returns a message per missing or invalid answer.

    Valid answers are kept even when others on the page are missing.
    """
    survey_round, instrument = _require_answerable(session, invitation)
    section = section_by_id(instrument, section_id)
    if section is None:
        raise RecordNotFoundError("section", section_id)
    checked = check_answers(
        instrument,
        {k: v for k, v in answers.items() if k in section.items},
        {k: v for k, v in background.items() if k in section.background},
    )
    draft = _draft_for_writing(session, invitation, survey_round, instrument)
    _merge(draft, checked)
    problems = dict(checked.problems)
    problems.update(unanswered_required(instrument, draft.answers, draft.background, [section]))
    if not problems:
        draft.next_section = _first_incomplete_section(instrument, draft, after=section_id)
    session.add(draft)
    session.commit()
    return problems


def _first_incomplete_section(instrument: Instrument, draft: Response, after: str) -> str | None:
    """The page after ``after``; ``None`` (the check page) once every page is done."""
    following = section_after(instrument, after)
    if following is not None:
        return following
    for section in instrument.sections:
        if unanswered_required(instrument, draft.answers, draft.background, [section]):
            return section.id
    return None


def save_draft(
    session: Session,
    invitation: Invitation,
    answers: Mapping[str, object],
    background: Mapping[str, object],
) -> Response:
    """Save any answers as the draft (the API's way); raises on answers that do not fit."""
    survey_round, instrument = _require_answerable(session, invitation)
    checked = check_answers(instrument, answers, background)
    if checked.problems:
        raise FieldValidationError(
            _located(instrument, checked.problems, checked.background_problems)
        )
    draft = _draft_for_writing(session, invitation, survey_round, instrument)
    _merge(draft, checked)
    session.add(draft)
    session.commit()
    return draft


def _located(
    instrument: Instrument, problems: Mapping[str, str], background_fields: set[str] | None = None
) -> dict[str, str]:
    """Prefix each field with its group: ``answers.q10``, ``background.care_model``."""
    background_ids = {question.id for question in instrument.background} | (
        background_fields or set()
    )
    return {
        (f"background.{field_id}" if field_id in background_ids else f"answers.{field_id}"): text
        for field_id, text in problems.items()
    }


def submit_response(
    session: Session,
    invitation: Invitation,
    answers: Mapping[str, object] | None = None,
    background: Mapping[str, object] | None = None,
) -> Response:
    """Submit a response: a personal link's draft plus ``answers``, or a new one by open link.

    A personal link submits once; the response is then detached from its link.
    """
    survey_round, instrument = round_and_instrument(session, invitation)
    if (
        invitation.kind == InvitationKind.PERSONAL
        and invitation.status == InvitationStatus.SUBMITTED
    ):
        raise LinkAlreadyUsedError()
    require_open(survey_round)
    checked = check_answers(instrument, answers or {}, background or {})
    if checked.problems:
        raise FieldValidationError(
            _located(instrument, checked.problems, checked.background_problems)
        )
    personal = invitation.kind == InvitationKind.PERSONAL
    if personal:
        _claim(session, invitation)
        response = draft_of(session, invitation) or _new_draft(
            session, invitation, survey_round, instrument
        )
    else:
        response = Response(round_id=invitation.round_id, instrument_version=instrument.version)
    _merge(response, checked)
    missing = unanswered_required(instrument, response.answers, response.background)
    if missing:
        session.rollback()  # and with it the claim
        raise FieldValidationError(_located(instrument, missing))
    response.status = ResponseStatus.SUBMITTED
    response.submitted_at = utc_now()
    response.invitation_id = None
    response.next_section = None
    session.add(response)
    session.commit()
    if personal:
        set_committed_value(invitation, "status", InvitationStatus.SUBMITTED)
    return response


def _claim(session: Session, invitation: Invitation) -> None:
    """Mark the link submitted, first of all the submission's writes: a conditional UPDATE,
    so that of two submissions at once (double click, two tabs, two workers) exactly one
    claims it; the other waits for the first to commit, finds the link submitted and is told
    so.  A submission that fails later rolls the claim back with everything else."""
    claimed = session.connection().execute(
        sa.update(Invitation)
        .where(
            col(Invitation.id) == invitation.id,
            col(Invitation.status).in_([InvitationStatus.UNUSED, InvitationStatus.STARTED]),
        )
        .values(status=InvitationStatus.SUBMITTED)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        session.rollback()
        raise LinkAlreadyUsedError()


def submission_problems(session: Session, invitation: Invitation) -> dict[str, str]:
    """What still stops a personal link's draft from being submitted (plain field ids)."""
    _, instrument = round_and_instrument(session, invitation)
    so_far = answers_so_far(session, invitation)
    return unanswered_required(instrument, so_far.answers, so_far.background)
