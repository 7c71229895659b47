"""The questionnaire for respondents: start, one page per section, check, submit, thanks.

Plain HTML forms, so it works with JavaScript off.  The link's token is the only key: no
cookie is set, and the draft saved on every page lets the same link resume.  "Save and come
back later" saves the page without asking for missing answers and shows the link to come back
with.  When the database does not answer while a page is posted, a 503 page keeps the posted
answers in a form that sends them again.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from starlette.datastructures import FormData

from analysis.instrument import Instrument
from app.database import SessionDep
from app.models import Invitation, InvitationKind, InvitationStatus
from app.services import invitations, partnerships, responses
from app.services.answers import UNANSWERED, form_value, section_by_id
from app.services.errors import (
    FieldValidationError,
    LinkAlreadyUsedError,
    RecordNotFoundError,
)
from app.services.rounds import require_open
from app.services.validation import (
    PageProblem,
    first_input_id,
    page_problems,
    submission_problems_shown,
)
from app.web.redirects import see_other
from app.web.schemas import optional_record_id
from app.web.templating import templates

router = APIRouter(prefix="/s", include_in_schema=False)
templates.env.globals["first_input_id"] = first_input_id

SAVE_FOR_LATER = "save-for-later"
NOT_FORM_FIELDS = {"change", "csrf_token", "action"}
RETRY_AFTER_SECONDS = "60"


def _personal_and_unused(session: SessionDep, token: str) -> Invitation:
    """The personal link ``token``; raises when it was used up."""
    invitation = invitations.invitation_for_token(session, token)
    if invitation.status == InvitationStatus.SUBMITTED:
        raise LinkAlreadyUsedError()
    return invitation


def _forget(session: SessionDep) -> None:
    """Roll back what the failed request began, if the database lets us."""
    with suppress(SQLAlchemyError):
        session.rollback()


def _try_again(request: Request, form: FormData | None = None) -> Response:
    """503: the database did not answer; the posted fields go back in a form to send again."""
    posted = [
        (name, value)
        for name, value in (form.multi_items() if form is not None else [])
        if isinstance(value, str) and name != "csrf_token"
    ]
    return templates.TemplateResponse(
        request,
        "respondent/try_again.html",
        {"retry_url": request.url.path, "posted": posted},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )


def _start_page(
    request: Request, session: SessionDep, token: str, problems: list[PageProblem] | None = None
) -> Response:
    invitation = _personal_and_unused(session, token)
    survey_round, instrument = responses.round_and_instrument(session, invitation)
    require_open(survey_round)
    context: dict[str, object] = {
        "token": token,
        "round": survey_round,
        "instrument": instrument,
        "partnership": partnerships.get_partnership(session, survey_round.partnership_id),
        "open_link": invitation.kind == InvitationKind.OPEN,
        "page_problems": problems or [],
    }
    if invitation.kind == InvitationKind.OPEN:
        context["organisations"] = partnerships.list_organisations(
            session, survey_round.partnership_id
        )
    else:
        so_far = responses.answers_so_far(session, invitation)
        context["has_draft"] = so_far.has_draft
        context["next_url"] = (
            f"/s/{token}/sections/{so_far.next_section}"
            if so_far.next_section
            else f"/s/{token}/check"
        )
    return templates.TemplateResponse(
        request,
        "respondent/start.html",
        context,
        status_code=status.HTTP_400_BAD_REQUEST if problems else status.HTTP_200_OK,
    )


@router.get("/{token}", response_class=HTMLResponse)
def start_page(request: Request, token: str, session: SessionDep) -> Response:
    return _start_page(request, session, token)


@router.post("/{token}/start")
def start_from_open_link(
    request: Request,
    token: str,
    session: SessionDep,
    organisation_id: Annotated[str, Form()] = "",
) -> Response:
    invitation = invitations.invitation_for_token(session, token)
    if invitation.kind != InvitationKind.OPEN:
        return see_other(f"/s/{token}")
    try:
        chosen = optional_record_id(organisation_id, "organisation_id")
        personal_token = invitations.start_from_open_link(session, invitation, chosen)
    except (FieldValidationError, RecordNotFoundError):
        session.rollback()
        problem = PageProblem(
            "organisation_id",
            "Select your organisation from the list",
            "Select your organisation from the list, or “Prefer not to say”",
            "#organisation_id",
        )
        return _start_page(request, session, token, [problem])
    _, instrument = responses.round_and_instrument(session, invitation)
    return see_other(f"/s/{personal_token}/sections/{instrument.sections[0].id}?new=1")


def _back_from_section(token: str, instrument: Instrument, position: int, change: bool) -> str:
    if change:
        return f"/s/{token}/check"
    if position:
        return f"/s/{token}/sections/{instrument.sections[position - 1].id}"
    return f"/s/{token}"


def _section_page(
    request: Request,
    session: SessionDep,
    token: str,
    section_id: str,
    *,
    problems: dict[str, str] | None = None,
    posted_text: dict[str, str] | None = None,
    change: bool = False,
    new: bool = False,
) -> Response:
    invitation = _personal_and_unused(session, token)
    if invitation.kind == InvitationKind.OPEN:
        return see_other(f"/s/{token}")
    survey_round, instrument = responses.round_and_instrument(session, invitation)
    require_open(survey_round)
    section = section_by_id(instrument, section_id)
    if section is None:
        raise RecordNotFoundError("page", section_id)
    so_far = responses.answers_so_far(session, invitation)
    position = [s.id for s in instrument.sections].index(section.id)
    shown = page_problems(instrument, problems or {}, [section])
    return templates.TemplateResponse(
        request,
        "respondent/section.html",
        {
            "token": token,
            "round": survey_round,
            "instrument": instrument,
            "section": section,
            "position": position,
            "back_url": _back_from_section(token, instrument, position, change),
            "back_text": "Back to check your answers" if change else "Back",
            "answers": so_far.answers,
            "background": so_far.background,
            "posted_text": posted_text or {},
            "page_problems": shown,
            "problems": {problem.field_id: problem.message for problem in shown},
            "change": change,
            "new": new,
        },
        status_code=status.HTTP_400_BAD_REQUEST if shown else status.HTTP_200_OK,
    )


@router.get("/{token}/sections/{section_id}", response_class=HTMLResponse)
def section_page(
    request: Request,
    token: str,
    section_id: str,
    session: SessionDep,
    change: bool = False,
    new: bool = False,
) -> Response:
    return _section_page(request, session, token, section_id, change=change, new=new)


@router.post("/{token}/sections/{section_id}")
async def save_section(
    request: Request, token: str, section_id: str, session: SessionDep
) -> Response:
    form = await request.form()
    try:
        return _save_section(request, session, token, section_id, form)
    except OperationalError:
        _forget(session)
        return _try_again(request, form)


def _save_section(
    request: Request, session: SessionDep, token: str, section_id: str, form: FormData
) -> Response:
    change = form.get("change") == "1"
    for_later = form.get("action") == SAVE_FOR_LATER
    invitation = invitations.invitation_for_token(session, token)
    if invitation.kind == InvitationKind.OPEN:
        return see_other(f"/s/{token}")
    texts = {key: value for key, value in form.items() if isinstance(value, str)}
    values = {key: form_value(value) for key, value in texts.items() if key not in NOT_FORM_FIELDS}
    problems = responses.save_section(session, invitation, section_id, values, values)
    if for_later:
        problems = {field: text for field, text in problems.items() if text != UNANSWERED}
    if problems:
        kept = {field: texts[field] for field in problems if field in texts}
        return _section_page(
            request,
            session,
            token,
            section_id,
            problems=problems,
            posted_text=kept,
            change=change,
        )
    if for_later:
        return see_other(f"/s/{token}/saved")
    so_far = responses.answers_so_far(session, invitation)
    if change or so_far.next_section is None:
        return see_other(f"/s/{token}/check")
    return see_other(f"/s/{token}/sections/{so_far.next_section}")


def _resume_url(request: Request, token: str) -> str:
    base = request.app.state.settings.public_base_url or str(request.base_url)
    return f"{str(base).rstrip('/')}/s/{token}"


@router.get("/{token}/saved", response_class=HTMLResponse)
def saved_for_later(request: Request, token: str, session: SessionDep) -> Response:
    invitation = _personal_and_unused(session, token)
    if invitation.kind == InvitationKind.OPEN:
        return see_other(f"/s/{token}")
    survey_round, instrument = responses.round_and_instrument(session, invitation)
    require_open(survey_round)
    return templates.TemplateResponse(
        request,
        "respondent/saved.html",
        {
            "round": survey_round,
            "instrument": instrument,
            "resume_url": _resume_url(request, token),
        },
    )


def _check_page(
    request: Request, session: SessionDep, token: str, problems: dict[str, str] | None = None
) -> Response:
    invitation = _personal_and_unused(session, token)
    if invitation.kind == InvitationKind.OPEN:
        return see_other(f"/s/{token}")
    survey_round, instrument = responses.round_and_instrument(session, invitation)
    require_open(survey_round)
    so_far = responses.answers_so_far(session, invitation)
    if not so_far.has_draft:
        return see_other(f"/s/{token}")
    missing = responses.submission_problems(session, invitation) if problems is None else problems
    links = {
        field_id: f"/s/{token}/sections/{section.id}?change=1"
        f"#{first_input_id(instrument, field_id)}"
        for section in instrument.sections
        for field_id in [*section.background, *section.items]
    }
    shown = submission_problems_shown(instrument, problems or {}, links)
    return templates.TemplateResponse(
        request,
        "respondent/check.html",
        {
            "token": token,
            "round": survey_round,
            "instrument": instrument,
            "answers": so_far.answers,
            "background": so_far.background,
            "missing": missing,
            "page_problems": shown,
            "back_url": f"/s/{token}/sections/{instrument.sections[-1].id}",
        },
        status_code=status.HTTP_400_BAD_REQUEST if shown else status.HTTP_200_OK,
    )


@router.get("/{token}/check", response_class=HTMLResponse)
def check_page(request: Request, token: str, session: SessionDep) -> Response:
    return _check_page(request, session, token)


@router.post("/{token}/submit")
def submit(request: Request, token: str, session: SessionDep) -> Response:
    try:
        invitation = invitations.invitation_for_token(session, token)
        if invitation.kind == InvitationKind.OPEN:
            return see_other(f"/s/{token}")
        try:
            responses.submit_response(session, invitation)
        except FieldValidationError as error:
            plain = {field.split(".", 1)[-1]: text for field, text in error.problems.items()}
            return _check_page(request, session, token, plain)
    except OperationalError:
        _forget(session)
        return _try_again(request)
    return see_other(f"/s/{token}/thank-you")


@router.get("/{token}/thank-you", response_class=HTMLResponse)
def thank_you(request: Request, token: str, session: SessionDep) -> Response:
    invitation = invitations.invitation_for_token(session, token)
    if invitation.status != InvitationStatus.SUBMITTED:
        return see_other(f"/s/{token}")
    survey_round, instrument = responses.round_and_instrument(session, invitation)
    return templates.TemplateResponse(
        request, "respondent/thank_you.html", {"round": survey_round, "instrument": instrument}
    )
