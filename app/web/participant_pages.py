"""Participants of a round and their e-mails: the coordinator's list, texts and sending
pages, and the public page that stops reminders."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Request, UploadFile, status
from fastapi.responses import HTMLResponse, Response

from app.database import SessionDep
from app.models import Account
from app.services import participants, partnerships, rounds
from app.services.errors import FieldValidationError, RecordNotFoundError, RoundNotOpenError
from app.services.outbox import delivery_counts
from app.web.deps import (
    CsrfProtected,
    LinkBaseDep,
    PageCoordinatorDep,
    PageRoundId,
    SettingsDep,
)
from app.web.page_problems import PageProblem
from app.web.pages import MailingPage, NoContext, OptOutPage, ParticipantsPage
from app.web.redirects import see_other
from app.web.schemas import optional_record_id
from app.web.templating import templates

router = APIRouter(include_in_schema=False)

MAILING_FIELDS = {
    "invitation_subject": "Invitation subject",
    "invitation_text": "Invitation text",
    "reminder_subject": "Reminder subject",
    "reminder_text": "Reminder text",
    "reminder_dates": "Reminder dates",
}


def _count(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() and len(text) < 7 else None


def _participants_page(
    request: Request,
    session: SessionDep,
    coordinator: Account,
    round_id: int,
    *,
    text: str = "",
    problems: list[participants.RowProblem] | None = None,
    remove_problem: str | None = None,
    remove_value: str = "",
    status_code: int = status.HTTP_200_OK,
) -> Response:
    survey_round = rounds.get_round(session, round_id)
    mailing = participants.mailing_of(session, round_id)
    page_problems = [
        PageProblem(
            "participants",
            problem.message,
            f"Row {problem.number}: {problem.message}" if problem.number else problem.message,
            "#participants",
        )
        for problem in problems or []
    ]
    if remove_problem is not None:
        page_problems.append(
            PageProblem("remove-email", remove_problem, remove_problem, "#remove-email")
        )
    done = participants.reminders_done(session, round_id)
    return templates.TemplateResponse(
        request,
        "coordinator/participants.html",
        ParticipantsPage(
            coordinator=coordinator,
            round=survey_round,
            state=rounds.round_state(survey_round),
            partnership=partnerships.get_partnership(session, survey_round.partnership_id),
            organisations=partnerships.list_organisations(session, survey_round.partnership_id),
            counts=participants.participant_counts(session, round_id),
            invitations=delivery_counts(session, round_id, participants.INVITATION),
            all_messages=delivery_counts(session, round_id),
            reminders=[
                (day, day in done)
                for day in sorted(date.fromisoformat(text) for text in mailing.reminder_dates)
            ],
            text=text,
            page_problems=page_problems,
            row_problems=problems or [],
            added=_count(request.query_params.get("added")),
            queued=_count(request.query_params.get("queued")),
            removed=request.query_params.get("removed") == "1",
            remove_problem=remove_problem,
            remove_value=remove_value,
        ),
        status_code=status_code,
    )


@router.get("/coordinator/rounds/{round_id}/participants", response_class=HTMLResponse)
def participants_page(
    request: Request, round_id: PageRoundId, session: SessionDep, coordinator: PageCoordinatorDep
) -> Response:
    return _participants_page(request, session, coordinator, round_id)


@router.post("/coordinator/rounds/{round_id}/participants", dependencies=[CsrfProtected])
async def add_participants(
    request: Request,
    round_id: PageRoundId,
    session: SessionDep,
    coordinator: PageCoordinatorDep,
    settings: SettingsDep,
    participants_text: Annotated[str, Form(alias="participants", max_length=500_000)] = "",
    organisation_id: Annotated[str, Form()] = "",
    participant_file: Annotated[UploadFile | None, Form(alias="file")] = None,
) -> Response:
    default = optional_record_id(organisation_id, "organisation_id")
    text = participants_text
    try:
        if participant_file is not None and participant_file.filename:
            content = await participant_file.read(participants.MOST_FILE_BYTES + 1)
            rows = participants.parse_participant_file(participant_file.filename, content)
            text = participants.ImportResult(rows=rows).as_text
        else:
            rows = participants.parse_participant_text(participants_text)
    except participants.ParticipantFileError as error:
        problem = participants.RowProblem(0, f"The file cannot be used: {error.problems['file']}")
        return _participants_page(
            request,
            session,
            coordinator,
            round_id,
            text=text,
            problems=[problem],
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    result = participants.import_participants(
        session,
        round_id,
        rows,
        secret=settings.signing_key(),
        default_organisation_id=default,
        actor=coordinator,
    )
    if result.problems:
        return _participants_page(
            request,
            session,
            coordinator,
            round_id,
            text=result.as_text,
            problems=result.problems,
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    return see_other(f"/coordinator/rounds/{round_id}/participants?added={result.added}")


@router.post("/coordinator/rounds/{round_id}/participants/remove", dependencies=[CsrfProtected])
def remove_participant(
    request: Request,
    round_id: PageRoundId,
    session: SessionDep,
    coordinator: PageCoordinatorDep,
    email: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    problem = participants.remove_participant(session, round_id, email)
    if problem is not None:
        return _participants_page(
            request,
            session,
            coordinator,
            round_id,
            remove_problem=problem,
            remove_value=email,
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    return see_other(f"/coordinator/rounds/{round_id}/participants?removed=1")


@router.post("/coordinator/rounds/{round_id}/invitations", dependencies=[CsrfProtected])
def send_invitations(
    round_id: PageRoundId,
    session: SessionDep,
    settings: SettingsDep,
    base: LinkBaseDep,
    coordinator: PageCoordinatorDep,
) -> Response:
    queued = participants.send_invitations(
        session, round_id, secret=settings.signing_key(), base=base, actor=coordinator
    )
    return see_other(f"/coordinator/rounds/{round_id}/participants?queued={queued}")


def _mailing_page(
    request: Request,
    session: SessionDep,
    coordinator: Account,
    round_id: int,
    base: str,
    *,
    values: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
    show_preview: bool = False,
    refused: bool = False,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    survey_round = rounds.get_round(session, round_id)
    mailing = participants.mailing_of(session, round_id)
    closed = rounds.round_state(survey_round) == rounds.RoundState.CLOSED
    if values is None or closed:
        values = {
            "invitation_subject": mailing.invitation_subject,
            "invitation_text": mailing.invitation_text,
            "reminder_subject": mailing.reminder_subject,
            "reminder_text": mailing.reminder_text,
            "reminder_dates": ", ".join(mailing.reminder_dates),
        }
    letters = []
    if show_preview and not problems:
        letters = participants.preview(
            session,
            round_id,
            base,
            invitation_subject=values["invitation_subject"],
            invitation_text=values["invitation_text"],
            reminder_subject=values["reminder_subject"],
            reminder_text=values["reminder_text"],
        )
    problems = problems or {}
    return templates.TemplateResponse(
        request,
        "coordinator/mailing.html",
        MailingPage(
            coordinator=coordinator,
            round=survey_round,
            values=values,
            problems=problems,
            page_problems=[
                PageProblem(name, message, f"{MAILING_FIELDS[name]}: {message}", f"#{name}")
                for name, message in problems.items()
            ],
            letters=letters,
            placeholders=participants.PLACEHOLDERS,
            saved=request.query_params.get("saved") == "1",
            closed=closed,
            reminder_days=[date.fromisoformat(day) for day in mailing.reminder_dates],
            refused=refused,
        ),
        status_code=status_code,
    )


@router.get("/coordinator/rounds/{round_id}/mailing", response_class=HTMLResponse)
def mailing_page(
    request: Request,
    round_id: PageRoundId,
    session: SessionDep,
    coordinator: PageCoordinatorDep,
    base: LinkBaseDep,
) -> Response:
    return _mailing_page(request, session, coordinator, round_id, base)


@router.post("/coordinator/rounds/{round_id}/mailing", dependencies=[CsrfProtected])
def save_mailing(
    request: Request,
    round_id: PageRoundId,
    session: SessionDep,
    coordinator: PageCoordinatorDep,
    base: LinkBaseDep,
    invitation_subject: Annotated[str, Form(max_length=1000)] = "",
    invitation_text: Annotated[str, Form(max_length=20_000)] = "",
    reminder_subject: Annotated[str, Form(max_length=1000)] = "",
    reminder_text: Annotated[str, Form(max_length=20_000)] = "",
    reminder_dates: Annotated[str, Form(max_length=1000)] = "",
    action: Annotated[str, Form(max_length=16)] = "save",
) -> Response:
    values = {
        "invitation_subject": invitation_subject,
        "invitation_text": invitation_text,
        "reminder_subject": reminder_subject,
        "reminder_text": reminder_text,
        "reminder_dates": reminder_dates,
    }
    try:
        if action == "preview":
            participants.check_mailing(session, round_id, **values)
        else:
            participants.save_mailing(session, round_id, **values)
    except RoundNotOpenError:
        return _mailing_page(
            request,
            session,
            coordinator,
            round_id,
            base,
            refused=True,
            status_code=status.HTTP_409_CONFLICT,
        )
    except FieldValidationError as error:
        return _mailing_page(
            request,
            session,
            coordinator,
            round_id,
            base,
            values=values,
            problems=error.problems,
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    if action == "preview":
        return _mailing_page(
            request, session, coordinator, round_id, base, values=values, show_preview=True
        )
    return see_other(f"/coordinator/rounds/{round_id}/mailing?saved=1")


@router.get("/mail/opt-out/{token}", response_class=HTMLResponse)
def opt_out_page(request: Request, token: str, session: SessionDep) -> Response:
    try:
        participant = participants.participant_for_opt_out(session, token)
    except RecordNotFoundError:
        return _unknown_opt_out_link(request)
    return templates.TemplateResponse(
        request,
        "mail/opt_out.html",
        OptOutPage(token=token, done=participant.reminders_opted_out),
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


@router.post("/mail/opt-out/{token}")
def opt_out(request: Request, token: str, session: SessionDep) -> Response:
    try:
        participants.opt_out(session, token)
    except RecordNotFoundError:
        return _unknown_opt_out_link(request)
    return see_other(f"/mail/opt-out/{token}")


def _unknown_opt_out_link(request: Request) -> Response:
    """404: no participant has this opt-out link (mistyped, or the round closed and its
    addresses were deleted); the page says what to do instead."""
    return templates.TemplateResponse(
        request,
        "mail/opt_out_unknown.html",
        NoContext(),
        status_code=status.HTTP_404_NOT_FOUND,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )
