"""JSON API for answering: read a link's questionnaire, save a draft, submit."""

from __future__ import annotations

from fastapi import APIRouter, status

from analysis.instrument import Instrument
from app.database import SessionDep
from app.models import Invitation, InvitationKind
from app.services import invitations, responses
from app.services.rounds import round_state
from app.web.schemas import (
    AnswersIn,
    QuestionOut,
    ScaleOut,
    SectionOut,
    SubmittedOut,
    SurveyOut,
)

router = APIRouter(prefix="/api/v1/survey", tags=["answering"])


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


def _survey(session: SessionDep, invitation: Invitation) -> SurveyOut:
    survey_round, instrument = responses.round_and_instrument(session, invitation)
    personal = invitation.kind == InvitationKind.PERSONAL
    so_far = responses.answers_so_far(session, invitation) if personal else None
    return SurveyOut(
        round_title=survey_round.title,
        opens_on=survey_round.opens_on,
        closes_on=survey_round.closes_on,
        state=round_state(survey_round),
        link_kind=invitation.kind,
        link_status=invitation.status,
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        sections=_sections(instrument),
        answers=so_far.answers if so_far else {},
        background=so_far.background if so_far else {},
        next_section=so_far.next_section if so_far else instrument.sections[0].id,
        missing=sorted(responses.submission_problems(session, invitation)) if personal else [],
    )


@router.get("/{token}", summary="The questionnaire of a link, with the answers saved so far")
def read_survey(token: str, session: SessionDep) -> SurveyOut:
    return _survey(session, invitations.invitation_for_token(session, token))


@router.put("/{token}/draft", summary="Save answers as a draft (personal links only)")
def save_draft(token: str, body: AnswersIn, session: SessionDep) -> SurveyOut:
    invitation = invitations.invitation_for_token(session, token)
    responses.save_draft(session, invitation, body.answers, body.background)
    return _survey(session, invitation)


@router.post(
    "/{token}/response",
    status_code=status.HTTP_201_CREATED,
    summary="Submit a response: once per personal link; any number by open link",
    responses={409: {"description": "The personal link has already been used"}},
)
def submit_response(token: str, body: AnswersIn, session: SessionDep) -> SubmittedOut:
    invitation = invitations.invitation_for_token(session, token)
    response = responses.submit_response(session, invitation, body.answers, body.background)
    return SubmittedOut(
        status=response.status,
        instrument_version=response.instrument_version,
        submitted_at=response.submitted_at,
    )
