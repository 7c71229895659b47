"""The questionnaire for respondents: start, one page per section, check, submit, thanks.

Plain HTML forms, so it works with JavaScript off.  The link's token is the only key: no
cookie is set, and the draft saved on every page lets the same link resume.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.database import SessionDep
from app.models import InvitationKind, InvitationStatus
from app.services import invitations, partnerships, responses
from app.services.answers import form_value, section_by_id
from app.services.errors import FieldValidationError, LinkAlreadyUsedError, RecordNotFoundError
from app.services.rounds import require_open
from app.web.schemas import optional_record_id
from app.web.templating import templates

router = APIRouter(prefix="/s", include_in_schema=False)


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER)


@router.get("/{token}", response_class=HTMLResponse)
def start_page(request: Request, token: str, session: SessionDep) -> Response:
    invitation = invitations.invitation_for_token(session, token)
    survey_round, instrument = responses.round_and_instrument(session, invitation)
    if invitation.status == InvitationStatus.SUBMITTED:
        raise LinkAlreadyUsedError()
    require_open(survey_round)
    context: dict[str, object] = {
        "token": token,
        "round": survey_round,
        "instrument": instrument,
        "partnership": partnerships.get_partnership(session, survey_round.partnership_id),
        "open_link": invitation.kind == InvitationKind.OPEN,
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
    return templates.TemplateResponse(request, "respondent/start.html", context)


@router.post("/{token}/start")
def start_from_open_link(
    token: str,
    session: SessionDep,
    organisation_id: Annotated[str, Form()] = "",
) -> Response:
    invitation = invitations.invitation_for_token(session, token)
    if invitation.kind != InvitationKind.OPEN:
        return _see_other(f"/s/{token}")
    chosen = optional_record_id(organisation_id, "organisation_id")
    personal_token = invitations.start_from_open_link(session, invitation, chosen)
    _, instrument = responses.round_and_instrument(session, invitation)
    return _see_other(f"/s/{personal_token}/sections/{instrument.sections[0].id}?new=1")


def _section_page(
    request: Request,
    session: SessionDep,
    token: str,
    section_id: str,
    *,
    problems: dict[str, str] | None = None,
    change: bool = False,
    new: bool = False,
) -> Response:
    invitation = invitations.invitation_for_token(session, token)
    if invitation.kind == InvitationKind.OPEN:
        return _see_other(f"/s/{token}")
    if invitation.status == InvitationStatus.SUBMITTED:
        raise LinkAlreadyUsedError()
    survey_round, instrument = responses.round_and_instrument(session, invitation)
    require_open(survey_round)
    section = section_by_id(instrument, section_id)
    if section is None:
        raise RecordNotFoundError("page", section_id)
    so_far = responses.answers_so_far(session, invitation)
    position = [s.id for s in instrument.sections].index(section.id)
    return templates.TemplateResponse(
        request,
        "respondent/section.html",
        {
            "token": token,
            "round": survey_round,
            "instrument": instrument,
            "section": section,
            "position": position,
            "previous": instrument.sections[position - 1].id if position else None,
            "answers": so_far.answers,
            "background": so_far.background,
            "problems": problems or {},
            "change": change,
            "new": new,
        },
        status_code=status.HTTP_400_BAD_REQUEST if problems else status.HTTP_200_OK,
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
    change = form.get("change") == "1"
    invitation = invitations.invitation_for_token(session, token)
    if invitation.kind == InvitationKind.OPEN:
        return _see_other(f"/s/{token}")
    values = {
        key: form_value(value if isinstance(value, str) else None)
        for key, value in form.items()
        if key not in {"change", "csrf_token"}
    }
    problems = responses.save_section(session, invitation, section_id, values, values)
    if problems:
        return _section_page(request, session, token, section_id, problems=problems, change=change)
    so_far = responses.answers_so_far(session, invitation)
    if change or so_far.next_section is None:
        return _see_other(f"/s/{token}/check")
    return _see_other(f"/s/{token}/sections/{so_far.next_section}")


def _check_page(
    request: Request, session: SessionDep, token: str, problems: dict[str, str] | None = None
) -> Response:
    invitation = invitations.invitation_for_token(session, token)
    if invitation.kind == InvitationKind.OPEN:
        return _see_other(f"/s/{token}")
    if invitation.status == InvitationStatus.SUBMITTED:
        raise LinkAlreadyUsedError()
    survey_round, instrument = responses.round_and_instrument(session, invitation)
    require_open(survey_round)
    so_far = responses.answers_so_far(session, invitation)
    if not so_far.has_draft:
        return _see_other(f"/s/{token}")
    if problems is None:
        problems = responses.submission_problems(session, invitation)
        shown: dict[str, str] = {}
    else:
        shown = problems
    return templates.TemplateResponse(
        request,
        "respondent/check.html",
        {
            "token": token,
            "round": survey_round,
            "instrument": instrument,
            "answers": so_far.answers,
            "background": so_far.background,
            "missing": problems,
            "problems": shown,
        },
        status_code=status.HTTP_400_BAD_REQUEST if shown else status.HTTP_200_OK,
    )


@router.get("/{token}/check", response_class=HTMLResponse)
def check_page(request: Request, token: str, session: SessionDep) -> Response:
    return _check_page(request, session, token)


@router.post("/{token}/submit")
def submit(request: Request, token: str, session: SessionDep) -> Response:
    invitation = invitations.invitation_for_token(session, token)
    if invitation.kind == InvitationKind.OPEN:
        return _see_other(f"/s/{token}")
    try:
        responses.submit_response(session, invitation)
    except FieldValidationError as error:
        plain = {field.split(".", 1)[-1]: text for field, text in error.problems.items()}
        return _check_page(request, session, token, plain)
    return _see_other(f"/s/{token}/thank-you")


@router.get("/{token}/thank-you", response_class=HTMLResponse)
def thank_you(request: Request, token: str, session: SessionDep) -> Response:
    invitation = invitations.invitation_for_token(session, token)
    if invitation.status != InvitationStatus.SUBMITTED:
        return _see_other(f"/s/{token}")
    survey_round, instrument = responses.round_and_instrument(session, invitation)
    return templates.TemplateResponse(
        request, "respondent/thank_you.html", {"round": survey_round, "instrument": instrument}
    )
