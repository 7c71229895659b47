"""Answering a round: drafts saved page by page, and submission (once per personal link).

A started link's draft is read, changed and submitted only with its resume code
(:func:`app.services.invitations.require_resume_code`), and only while the round is open.
Times are stored to the hour (UTC): what a report needs, and no more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from analysis.instrument import Instrument
from app.models import (
    Invitation,
    InvitationKind,
    InvitationStatus,
    Organisation,
    Partnership,
    Response,
    ResponseStatus,
    SurveyRound,
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
from app.services.instruments import round_instrument
from app.services.invitations import (
    hash_resume_code,
    is_resume_code,
    is_started,
    require_resume_code,
    start_link,
)
from app.services.rate_limits import RateLimiter
from app.services.rounds import get_round, require_open


def stored_hour(moment: datetime | None = None) -> datetime:
    """``moment`` (default now) to the hour, in UTC: how response times are stored."""
    when = (moment or datetime.now(UTC)).astimezone(UTC)
    return when.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class ResumeCode:
    """The resume code a request came with, and who counts it when wrong.

    ``code`` is as typed (header, form) or as the app signed it into the browser's cookie;
    ``limiter`` counts wrong typed codes per link, and is ``None`` for signed ones.
    """

    code: str | None = None
    limiter: RateLimiter | None = None


NO_CODE = ResumeCode()


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
    return survey_round, round_instrument(session, survey_round)


def draft_of(session: Session, invitation: Invitation) -> Response | None:
    return session.exec(
        select(Response).where(
            Response.invitation_id == invitation.id, Response.status == ResponseStatus.DRAFT
        )
    ).first()


def _prefilled_background(
    session: Session, invitation: Invitation, survey_round: SurveyRound, instrument: Instrument
) -> dict[str, str]:
    """Background answers the link already tells (one query): the partnership's name and
    kind, and the organisation's type, into the questions the instrument names for them."""
    found = session.execute(
        sa.select(col(Partnership.name), col(Partnership.kind), col(Organisation.kind))
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
    known = instrument.link_background(*found)
    return check_answers(instrument, {}, known).background


def answers_so_far(
    session: Session, invitation: Invitation, resume: ResumeCode = NO_CODE
) -> AnswersSoFar:
    """A personal link's saved answers (a started link's need its resume code), or what the
    link fills in for a new one."""
    require_resume_code(session, invitation, resume.code, resume.limiter)
    draft = draft_of(session, invitation)
    if draft is not None:
        return AnswersSoFar(dict(draft.answers), dict(draft.background), draft.next_section, True)
    survey_round, instrument = round_and_instrument(session, invitation)
    background = _prefilled_background(session, invitation, survey_round, instrument)
    return AnswersSoFar({}, background, instrument.sections[0].id, False)


def _require_answerable(
    session: Session, invitation: Invitation, resume: ResumeCode
) -> tuple[SurveyRound, Instrument]:
    """A personal link that takes answers now: the round is open (checked first, so that a
    closed round's links all answer alike), a started link came with its resume code, and it
    was not used up (which only the code's holder learns)."""
    if invitation.kind != InvitationKind.PERSONAL:
        raise RecordNotFoundError("personal link", "")
    survey_round, instrument = round_and_instrument(session, invitation)
    require_open(survey_round)
    require_resume_code(session, invitation, resume.code, resume.limiter)
    if invitation.status == InvitationStatus.SUBMITTED:
        raise LinkAlreadyUsedError()
    return survey_round, instrument


def _merge(response: Response, checked: CheckedAnswers) -> None:
    answers = {**response.answers, **checked.answers}
    background = {**response.background, **checked.background}
    for field_id in checked.cleared:
        answers.pop(field_id, None)
        background.pop(field_id, None)
    response.answers = answers  # a new dict, so the JSON column is written
    response.background = background
    response.updated_at = stored_hour()


def _new_draft(
    session: Session, invitation: Invitation, survey_round: SurveyRound, instrument: Instrument
) -> Response:
    """A link's first draft (not yet added to the session), with what the link tells."""
    hour = stored_hour()
    return Response(
        round_id=invitation.round_id,
        invitation_id=invitation.id,
        instrument_version=instrument.version,
        background=_prefilled_background(session, invitation, survey_round, instrument),
        next_section=instrument.sections[0].id,
        from_open_link=invitation.from_open_link,
        started_at=hour,
        updated_at=hour,
    )


def _draft_for_writing(
    session: Session,
    invitation: Invitation,
    survey_round: SurveyRound,
    instrument: Instrument,
    resume: ResumeCode,
    *,
    may_propose: bool = False,
) -> tuple[Response, str | None]:
    """The link's draft to write to, and the resume code if this write starts the link
    (with the code the request came with, when ``may_propose``)."""
    new_code = None
    if not is_started(invitation):
        # A conditional UPDATE, never a write of the (possibly stale) loaded row: a concurrent
        # request may have started the link, or a submission used it, since it was read.
        new_code = start_link(session, invitation, resume.code if may_propose else None)
        if new_code is None:  # it did: this request needs the link's code after all
            session.refresh(invitation)
            require_resume_code(session, invitation, resume.code, resume.limiter)
            if invitation.status == InvitationStatus.SUBMITTED:
                raise LinkAlreadyUsedError()
    else:
        draft = draft_of(session, invitation)
        if draft is not None:
            return draft, None
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
    return draft, new_code


@dataclass(frozen=True)
class SectionSaved:
    """What saving a page found wrong (a message per field), and the resume code when this
    save started the link (to show the respondent once)."""

    problems: dict[str, str]
    resume_code: str | None


def save_section(
    session: Session,
    invitation: Invitation,
    section_id: str,
    answers: Mapping[str, object],
    background: Mapping[str, object],
    resume: ResumeCode = NO_CODE,
) -> SectionSaved:
    """Save one page's answers as the draft; returns a message per missing or invalid answer.

    Valid answers are kept even when others on the page are missing.  The first save starts
    the link and gives its resume code.
    """
    survey_round, instrument = _require_answerable(session, invitation, resume)
    section = section_by_id(instrument, section_id)
    if section is None:
        raise RecordNotFoundError("section", section_id)
    checked = check_answers(
        instrument,
        {k: v for k, v in answers.items() if k in section.items},
        {k: v for k, v in background.items() if k in section.background},
    )
    draft, new_code = _draft_for_writing(session, invitation, survey_round, instrument, resume)
    _merge(draft, checked)
    problems = dict(checked.problems)
    problems.update(unanswered_required(instrument, draft.answers, draft.background, [section]))
    if not problems:
        draft.next_section = _first_incomplete_section(instrument, draft, after=section_id)
    session.add(draft)
    session.commit()
    return SectionSaved(problems, new_code)


def _first_incomplete_section(instrument: Instrument, draft: Response, after: str) -> str | None:
    """The page after ``after``; ``None`` (the check page) once every page is done."""
    following = section_after(instrument, after)
    if following is not None:
        return following
    for section in instrument.sections:
        if unanswered_required(instrument, draft.answers, draft.background, [section]):
            return section.id
    return None


@dataclass(frozen=True)
class DraftSaved:
    """The saved draft, and the resume code when this save started the link."""

    draft: Response
    resume_code: str | None


def save_draft(
    session: Session,
    invitation: Invitation,
    answers: Mapping[str, object],
    background: Mapping[str, object],
    resume: ResumeCode = NO_CODE,
) -> DraftSaved:
    """Save any answers as the draft (the API's way); raises on answers that do not fit.

    The first save of an unused link starts it and gives its resume code, which every later
    save needs: a new one, or the one the request came with (an API client's own, so that it
    can retry that first save).
    """
    survey_round, instrument = _require_answerable(session, invitation, resume)
    checked = check_answers(instrument, answers, background)
    if checked.problems:
        raise FieldValidationError(
            _located(instrument, checked.problems, checked.background_problems)
        )
    draft, new_code = _draft_for_writing(
        session, invitation, survey_round, instrument, resume, may_propose=True
    )
    _merge(draft, checked)
    session.add(draft)
    session.commit()
    return DraftSaved(draft, new_code)


def _located(
    instrument: Instrument, problems: Mapping[str, str], background_fields: set[str] | None = None
) -> dict[str, str]:
    """Prefix each field with its group: ``answers.<item id>``, ``background.<question id>``."""
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
    resume: ResumeCode = NO_CODE,
) -> Response:
    """Submit a response: a personal link's draft plus ``answers``, or a new one by open link.

    A personal link submits once; the response is then detached from its link.  A started
    link needs its resume code.  Responses through the open link (straight, or through a
    personal link it gave) are marked as such.
    """
    survey_round, instrument = round_and_instrument(session, invitation)
    require_open(survey_round)
    if invitation.kind == InvitationKind.PERSONAL:
        require_resume_code(session, invitation, resume.code, resume.limiter)
        if invitation.status == InvitationStatus.SUBMITTED:
            raise LinkAlreadyUsedError()
    checked = check_answers(instrument, answers or {}, background or {})
    if checked.problems:
        raise FieldValidationError(
            _located(instrument, checked.problems, checked.background_problems)
        )
    personal = invitation.kind == InvitationKind.PERSONAL
    if personal:
        _claim(session, invitation, resume)
        response = draft_of(session, invitation) or _new_draft(
            session, invitation, survey_round, instrument
        )
    else:
        hour = stored_hour()
        response = Response(
            round_id=invitation.round_id,
            instrument_version=instrument.version,
            from_open_link=True,
            started_at=hour,
            updated_at=hour,
        )
    _merge(response, checked)
    missing = unanswered_required(instrument, response.answers, response.background)
    if missing:
        session.rollback()  # and with it the claim
        raise FieldValidationError(_located(instrument, missing))
    response.status = ResponseStatus.SUBMITTED
    response.submitted_at = stored_hour()
    response.from_open_link = response.from_open_link or invitation.from_open_link
    response.invitation_id = None
    response.next_section = None
    session.add(response)
    session.commit()
    if personal:
        set_committed_value(invitation, "status", InvitationStatus.SUBMITTED)
    return response


def _claim(session: Session, invitation: Invitation, resume: ResumeCode) -> None:
    """Mark the link submitted, first of all the submission's writes: a conditional UPDATE,
    so that of two submissions at once (double click, two tabs, two workers) exactly one
    claims it; the other waits for the first to commit, finds the link submitted and is told
    so (with the link's code; without it, like any started link).  A submission that fails
    later rolls the claim back with everything else.

    The claim holds only for the state the caller checked: a started link (its code was
    given), or an unused one, which a request with the link alone must not submit once the
    respondent has started it.  An API client's own code, sent with the submission of an
    unused link, becomes the link's code, so that the client can retry the submission.
    """
    values: dict[str, object] = {"status": InvitationStatus.SUBMITTED}
    if is_started(invitation):
        condition = col(Invitation.status) == InvitationStatus.STARTED
    else:
        condition = sa.and_(
            col(Invitation.status) == InvitationStatus.UNUSED,
            col(Invitation.resume_code_hash).is_(None),
        )
        if resume.code is not None:
            if not is_resume_code(resume.code):
                raise FieldValidationError(
                    {"X-Resume-Code": "must have the form of a resume code, or be left out"},
                    location=("header",),
                )
            values["resume_code_hash"] = hash_resume_code(invitation, resume.code)
    claimed = session.connection().execute(
        sa.update(Invitation)
        .where(col(Invitation.id) == invitation.id, condition)
        .values(values)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        session.rollback()
        session.refresh(invitation)
        require_resume_code(session, invitation, resume.code, None)
        raise LinkAlreadyUsedError()


def submission_problems(
    session: Session, invitation: Invitation, resume: ResumeCode = NO_CODE
) -> dict[str, str]:
    """What still stops a personal link's draft from being submitted (plain field ids)."""
    _, instrument = round_and_instrument(session, invitation)
    so_far = answers_so_far(session, invitation, resume)
    return unanswered_required(instrument, so_far.answers, so_far.background)
