"""JSON API for answering: read a link's questionnaire, save a draft, submit.

The link alone gives the questionnaire, and starts an unused link; the answers saved with a
started link, changing them and submitting them need the link's resume code (header
``X-Resume-Code``), which the draft save that starts the link returns once.  Without the code
a started link and a submitted one answer alike.

These routes are the respondents' hot path: async, on the async engine, Core statements only
(:mod:`app.services.answering`), on the connection the link limits' middleware read the link
with (:class:`app.web.rate_limits.LinkLookup`): one connection and one read of the link per
request, no worker thread.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, status
from sqlalchemy.ext.asyncio import AsyncConnection

from analysis.instrument import Instrument
from app.database import AsyncDatabase
from app.models import InvitationKind
from app.services import answering
from app.services.answering import Link, Saved
from app.services.errors import RecordNotFoundError
from app.services.responses import ResumeCode
from app.services.rounds import round_state
from app.web.rate_limits import LINK_LOOKUP, LinkLookup
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


@dataclass(frozen=True)
class LinkInRequest:
    """The request's link, the connection to work on, and the app's async database."""

    link: Link
    connection: AsyncConnection
    database: AsyncDatabase


async def request_link(token: str, request: Request) -> AsyncIterator[LinkInRequest]:
    """The live link of ``token`` (404 otherwise), as the middleware read it, or read here
    when it could not (the database was down: this read then answers 503)."""
    database: AsyncDatabase = request.app.state.async_database
    lookup: LinkLookup | None = request.scope.get(LINK_LOOKUP)
    if lookup is not None and lookup.token == token:
        if lookup.link is None:
            raise RecordNotFoundError("link", "")
        yield LinkInRequest(lookup.link, lookup.connection, database)
        return
    async with database.engine.connect() as connection:
        link = await answering.find_link(connection, token)
        if link is None:
            raise RecordNotFoundError("link", "")
        yield LinkInRequest(link, connection, database)


LinkDep = Annotated[LinkInRequest, Depends(request_link)]


def _sections(instrument: Instrument) -> list[SectionOut]:
    """The questionnaire of an instrument (made once per version: they do not change)."""
    key = (instrument.id, instrument.version)
    if key not in _SECTIONS:
        _SECTIONS[key] = _sections_of(instrument)
    return _SECTIONS[key]


_SECTIONS: dict[tuple[str, str], list[SectionOut]] = {}


def _sections_of(instrument: Instrument) -> list[SectionOut]:
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


def _saved_out(saved: Saved) -> SavedOut:
    return SavedOut(
        link_status=saved.link_status,
        answers=saved.answers,
        background=saved.background,
        next_section=saved.next_section,
        missing=saved.missing,
    )


def _survey(link: Link, saved: SavedOut | None) -> SurveyOut:
    instrument = link.instrument
    return SurveyOut(
        round_title=link.round.title,
        opens_on=link.round.opens_on,
        closes_on=link.round.closes_on,
        state=round_state(link.round),
        link_kind=link.kind,
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
async def read_survey(
    request: Request, found: LinkDep, resume_code: ResumeCodeHeader = None
) -> SurveyOut:
    saved = None
    if resume_code and found.link.kind == InvitationKind.PERSONAL:
        resume = _resume(request, resume_code)
        saved = _saved_out(
            await answering.saved_answers(found.database, found.connection, found.link, resume)
        )
    return _survey(found.link, saved)


@router.put(
    "/{token}/draft",
    summary="Save answers as a draft (personal links only); the first save gives the "
    "resume code that later ones need",
    responses=CODE_REFUSED,
)
async def save_draft(
    body: AnswersIn, request: Request, found: LinkDep, resume_code: ResumeCodeHeader = None
) -> DraftOut:
    saved = await answering.save_draft(
        found.database,
        found.connection,
        found.link,
        body.answers,
        body.background,
        _resume(request, resume_code),
    )
    return DraftOut(saved=_saved_out(saved.saved), resume_code=saved.resume_code)


@router.post(
    "/{token}/response",
    status_code=status.HTTP_201_CREATED,
    summary="Submit a response: once per personal link (a started one with its resume "
    "code); any number by open link",
    responses={**CODE_REFUSED, 409: {"description": "The personal link has already been used"}},
)
async def submit_response(
    body: AnswersIn, request: Request, found: LinkDep, resume_code: ResumeCodeHeader = None
) -> SubmittedOut:
    response = await answering.submit_response(
        found.database,
        found.connection,
        found.link,
        body.answers,
        body.background,
        _resume(request, resume_code),
    )
    return SubmittedOut(
        status=response.status,
        instrument_version=response.instrument_version,
        submitted_at=response.submitted_at,
    )
