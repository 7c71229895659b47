"""JSON API for answering: read a link's questionnaire, save a draft, submit.

The link alone gives the questionnaire, and starts an unused link; the answers saved with a
started link, changing them and submitting them need the link's resume code (header
``X-Resume-Code``), which the draft save that starts the link returns once.  Without the code
a started link and a submitted one answer alike.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, status

from analysis.instrument import Instrument
from app.database import SessionDep
from app.models import Invitation, InvitationKind, InvitationStatus
from app.services import invitations, responses
from app.services.responses import ResumeCode
from app.services.rounds import round_state
from app.web.schemas import (
    AnswersIn,
    DraftOut,
    QuestionOut,
    SavedOut,
    ScaleOut,
    SectionOut,
    SubmittedOut,
    SurveyOut,
)

router = APIRouter(prefix="/api/v1/survey", tags=["answering"])

CODE_REFUSED: dict[int | str, dict[str, Any]] = {
    403: {"description": "A started link needs its resume code (X-Resume-Code), or it is wrong"},
    429: {"description": "Too many wrong resume codes for this link lately"},
}
ResumeCodeHeader = Annotated[
    str | None,
    Header(
        alias="X-Resume-Code",
        max_length=64,
        description="The link's resume code, as the save that started the link returned it",
    ),
]


def _sections(instrument: Instrument) -> list[SectionOut]:
    sections: list[SectionOut] = []
    for section in instrument.sections:
        questions = [
            QuestionOut(
                id=q.id,
                text=q.text,
                required=q.required,
                options={o.value: o.label for o in q.options} if q.kind == "choice" else None,
            )
            for q in instrument.background
            if q.id in section.background
        ]
        for item_id in section.items:
            item = instrument.item(item_id)
            scale = instrument.response_scale_of(item_id)
            questions.append(
                QuestionOut(
                    id=item.id,
                    text=item.text,
                    required=item.required,
                    response_scale=ScaleOut(min=scale.min, max=scale.max, labels=scale.labels),
                )
            )
        sections.append(SectionOut(id=section.id, title=section.title, questions=questions))
    return sections


def _resume(request: Request, code: str | None) -> ResumeCode:
    """The code a request came with, counted per link when wrong."""
    return ResumeCode(code, request.app.state.rate_limiter) if code else ResumeCode()


def _saved(session: SessionDep, invitation: Invitation, resume: ResumeCode) -> SavedOut:
    """The saved answers, checking the code once (counted when wrong)."""
    so_far = responses.answers_so_far(session, invitation, resume)
    resume = ResumeCode(resume.code)  # checked: not asked of the limiter again
    if invitation.status == InvitationStatus.SUBMITTED:  # nothing is kept with the link
        return SavedOut(
            link_status=invitation.status, answers={}, background={}, next_section=None, missing=[]
        )
    return SavedOut(
        link_status=invitation.status,
        answers=so_far.answers,
        background=so_far.background,
        next_section=so_far.next_section,
        missing=sorted(responses.submission_problems(session, invitation, resume)),
    )


def _survey(session: SessionDep, invitation: Invitation, saved: SavedOut | None) -> SurveyOut:
    survey_round, instrument = responses.round_and_instrument(session, invitation)
    return SurveyOut(
        round_title=survey_round.title,
        opens_on=survey_round.opens_on,
        closes_on=survey_round.closes_on,
        state=round_state(survey_round),
        link_kind=invitation.kind,
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        sections=_sections(instrument),
        saved=saved,
    )


@router.get(
    "/{token}",
    summary="The questionnaire of a link; the answers saved so far only with its resume code",
    responses=CODE_REFUSED,
)
def read_survey(
    token: str, request: Request, session: SessionDep, resume_code: ResumeCodeHeader = None
) -> SurveyOut:
    invitation = invitations.invitation_for_token(session, token)
    saved = None
    if resume_code and invitation.kind == InvitationKind.PERSONAL:
        saved = _saved(session, invitation, _resume(request, resume_code))
    return _survey(session, invitation, saved)


@router.put(
    "/{token}/draft",
    summary="Save answers as a draft (personal links only); the first save gives the "
    "resume code that later ones need",
    responses=CODE_REFUSED,
)
def save_draft(
    token: str,
    body: AnswersIn,
    request: Request,
    session: SessionDep,
    resume_code: ResumeCodeHeader = None,
) -> DraftOut:
    invitation = invitations.invitation_for_token(session, token)
    resume = _resume(request, resume_code)
    saved = responses.save_draft(session, invitation, body.answers, body.background, resume)
    resume = ResumeCode(saved.resume_code or resume.code)  # checked by the save
    return DraftOut(saved=_saved(session, invitation, resume), resume_code=saved.resume_code)


@router.post(
    "/{token}/response",
    status_code=status.HTTP_201_CREATED,
    summary="Submit a response: once per personal link (a started one with its resume "
    "code); any number by open link",
    responses={**CODE_REFUSED, 409: {"description": "The personal link has already been used"}},
)
def submit_response(
    token: str,
    body: AnswersIn,
    request: Request,
    session: SessionDep,
    resume_code: ResumeCodeHeader = None,
) -> SubmittedOut:
    invitation = invitations.invitation_for_token(session, token)
    response = responses.submit_response(
        session, invitation, body.answers, body.background, _resume(request, resume_code)
    )
    return SubmittedOut(
        status=response.status,
        instrument_version=response.instrument_version,
        submitted_at=response.submitted_at,
    )
