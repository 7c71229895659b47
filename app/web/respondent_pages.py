"""The questionnaire for respondents: start, one page per section, check, submit, thanks.

Plain HTML forms, so it works with JavaScript off.  The link's token opens a link that has
not been started yet; starting it (the first save, or "Start now" on the open link) gives the
respondent a resume code, shown on the first page after starting and on the "saved" page, and
sets a cookie for that link alone (signed, HttpOnly, SameSite=Lax, scoped to the link's path)
that carries it, so the same browser resumes with the link alone.  Anywhere else a started
link asks for the code first: whoever holds only the link (the coordinator who downloaded it)
sees neither the answers nor whether they were submitted.  "Save and come back later" saves
the page without asking for missing answers and shows the link and code to come back with.
When the database does not answer while a page is posted, a 503 page keeps the posted answers
in a form that sends them again; so does the resume-code page when a posted page needed it.
"""

from __future__ import annotations

import hashlib
import hmac
from contextlib import suppress
from datetime import UTC, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from starlette.datastructures import FormData

from analysis.instrument import Instrument, Section
from app.database import SessionDep
from app.models import Invitation, InvitationKind, InvitationStatus, Organisation, SurveyRound
from app.services import invitations, partnerships, responses
from app.services.answers import UNANSWERED, section_by_id, unanswered_required
from app.services.errors import (
    FieldValidationError,
    LinkAlreadyUsedError,
    RecordNotFoundError,
    ResumeCodeError,
    TooManyResumeCodesError,
)
from app.services.rate_limits import RateLimiter
from app.services.responses import NO_CODE, ResumeCode
from app.services.rounds import require_open
from app.web.deps import link_base, respondent_link
from app.web.page_problems import (
    PageProblem,
    first_input_id,
    form_value,
    page_problems,
    submission_problems_shown,
)
from app.web.pages import (
    CheckPage,
    ResumePage,
    SavedPage,
    SectionPage,
    StartPage,
    ThankYouPage,
    TryAgainPage,
)
from app.web.redirects import see_other
from app.web.schemas import optional_record_id
from app.web.templating import templates

router = APIRouter(prefix="/s", include_in_schema=False)

SAVE_FOR_LATER = "save-for-later"
RESUME_FIELDS = {"resume_code", "then"}
NOT_FORM_FIELDS = {"change", "question", "csrf_token", "action", *RESUME_FIELDS}
RETRY_AFTER_SECONDS = "60"
RESUME_COOKIE = "trust_survey_resume"
SUBMIT = "submit"


# -- The resume cookie: the code, signed for one link with the app's secret key --------------


def _signature(request: Request, invitation: Invitation, code: str) -> str:
    secret = str(request.app.state.secret_key).encode()  # SECRET_KEY or SECRET_KEY_FILE's
    message = f"resume-cookie\x00{invitation.token_hash}\x00{code}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def _cookie_code(request: Request, invitation: Invitation) -> str | None:
    """The resume code this browser keeps for the link, if its signature and the code hold."""
    value = request.cookies.get(RESUME_COOKIE, "")
    code, _, signature = value.partition(".")
    if not code or not hmac.compare_digest(signature, _signature(request, invitation, code)):
        return None
    return code if invitations.resume_code_fits(invitation, code) else None


def _resume_of(request: Request, invitation: Invitation) -> ResumeCode:
    """The resume code this browser holds for the link (signed by the app: not counted)."""
    code = _cookie_code(request, invitation)
    return ResumeCode(code) if code else NO_CODE


def _keep_code(
    request: Request,
    response: Response,
    token: str,
    invitation: Invitation,
    survey_round: SurveyRound,
    code: str,
) -> Response:
    """Let this browser resume the link without typing ``code``, until the round closes."""
    normalised = invitations.normalised_resume_code(code)
    until = datetime.combine(survey_round.closes_on + timedelta(days=1), time(), tzinfo=UTC)
    response.set_cookie(
        RESUME_COOKIE,
        f"{normalised}.{_signature(request, invitation, normalised)}",
        max_age=max(3600, int((until - datetime.now(UTC)).total_seconds())),
        path=f"/s/{token}",
        httponly=True,
        samesite="lax",
        secure=bool(request.app.state.settings.is_production),
    )
    return response


def _grouped(code: str | None) -> str | None:
    """The code as it is shown to the respondent: grouped for reading."""
    if not code:
        return None
    plain = invitations.normalised_resume_code(code)
    size = invitations.RESUME_CODE_GROUP
    return "-".join(plain[start : start + size] for start in range(0, len(plain), size))


# -- Pages ------------------------------------------------------------------------------------


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
        TryAgainPage(retry_url=request.url.path, posted=posted),
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )


def _resume_page(
    request: Request,
    session: SessionDep,
    token: str,
    invitation: Invitation,
    *,
    form: FormData | None = None,
    then: str = "",
    error: ResumeCodeError | TooManyResumeCodesError | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    """Ask for the resume code of a started link; the same page for started and submitted
    links.  Fields posted to a page that needed the code are kept, to be saved after it."""
    survey_round, instrument = responses.round_and_instrument(session, invitation)
    posted = [
        (name, value)
        for name, value in (form.multi_items() if form is not None else [])
        if isinstance(value, str) and name not in {"csrf_token", "resume_code"}
    ]
    if then and not any(name == "then" for name, _ in posted):
        posted.append(("then", then))
    problem = None
    headers = None
    if isinstance(error, TooManyResumeCodesError):
        problem = str(error).capitalize()
        headers = {"Retry-After": str(error.retry_after)}
        status_code = status.HTTP_429_TOO_MANY_REQUESTS
    elif isinstance(error, ResumeCodeError) and error.given:
        problem = "The resume code is not right: check it and enter it again"
        status_code = status.HTTP_400_BAD_REQUEST
    elif isinstance(error, ResumeCodeError):
        problem = "Enter your resume code" if form is not None and "resume_code" in form else None
        if problem:
            status_code = status.HTTP_400_BAD_REQUEST
    typed = form.get("resume_code", "") if form is not None else ""
    return templates.TemplateResponse(
        request,
        "respondent/resume.html",
        ResumePage(
            token=token,
            round=survey_round,
            instrument=instrument,
            posted=posted,
            problem=problem,
            typed=typed if isinstance(typed, str) else "",
            page_problems=[PageProblem("resume_code", problem, problem, "#resume_code")]
            if problem
            else [],
        ),
        status_code=status_code,
        headers=headers,
    )


def _start_page(
    request: Request, session: SessionDep, token: str, problems: list[PageProblem] | None = None
) -> Response:
    invitation = invitations.invitation_for_token(session, token)
    survey_round, instrument = responses.round_and_instrument(session, invitation)
    require_open(survey_round)
    open_link = invitation.kind == InvitationKind.OPEN
    organisations: list[Organisation] = []
    has_draft, next_url = False, ""
    if open_link:
        organisations = partnerships.list_organisations(session, survey_round.partnership_id)
    else:
        try:
            so_far = responses.answers_so_far(session, invitation, _resume_of(request, invitation))
        except ResumeCodeError:
            return _resume_page(request, session, token, invitation)
        if invitation.status == InvitationStatus.SUBMITTED:
            raise LinkAlreadyUsedError()
        has_draft = so_far.has_draft
        next_url = (
            f"/s/{token}/sections/{so_far.next_section}"
            if so_far.next_section
            else f"/s/{token}/check"
        )
    return templates.TemplateResponse(
        request,
        "respondent/start.html",
        StartPage(
            token=token,
            round=survey_round,
            instrument=instrument,
            partnership=partnerships.get_partnership(session, survey_round.partnership_id),
            open_link=open_link,
            page_problems=problems or [],
            organisations=organisations,
            has_draft=has_draft,
            next_url=next_url,
        ),
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
        personal_token, code = invitations.start_from_open_link(session, invitation, chosen)
    except (FieldValidationError, RecordNotFoundError):
        session.rollback()
        problem = PageProblem(
            "organisation_id",
            "Select your organisation from the list",
            "Select your organisation from the list, or “Prefer not to say”",
            "#organisation_id",
        )
        return _start_page(request, session, token, [problem])
    survey_round, instrument = responses.round_and_instrument(session, invitation)
    personal = invitations.invitation_for_token(session, personal_token)
    redirect = see_other(f"/s/{personal_token}/sections/{instrument.sections[0].id}?new=1")
    return _keep_code(request, redirect, personal_token, personal, survey_round, code)


@router.post("/{token}/resume")
async def resume(request: Request, token: str, session: SessionDep) -> Response:
    """Check a typed resume code; then carry on where the respondent was going (saving the
    page they had posted, or submitting), keeping the code in this browser."""
    form = await request.form()
    try:
        return _resume(request, session, token, form)
    except OperationalError:
        _forget(session)
        return _try_again(request, form)


def _resume(request: Request, session: SessionDep, token: str, form: FormData) -> Response:
    invitation = invitations.invitation_for_token(session, token)
    if invitation.kind == InvitationKind.OPEN:
        return see_other(f"/s/{token}")
    survey_round, _ = responses.round_and_instrument(session, invitation)
    require_open(survey_round)
    typed = form.get("resume_code")
    code = typed if isinstance(typed, str) else ""
    then = form.get("then")
    limiter: RateLimiter = request.app.state.rate_limiter
    try:
        invitations.require_resume_code(session, invitation, code, limiter)
    except (ResumeCodeError, TooManyResumeCodesError) as error:
        return _resume_page(request, session, token, invitation, form=form, error=error)
    if invitation.status == InvitationStatus.SUBMITTED:
        raise LinkAlreadyUsedError()
    signed = ResumeCode(invitations.normalised_resume_code(code))
    if then == SUBMIT:
        answer = _submit(request, session, token, invitation, signed)
    elif isinstance(then, str) and then.startswith("sections/"):
        answer = _save_section(
            request, session, token, then.removeprefix("sections/"), form, signed
        )
    else:
        answer = see_other(f"/s/{token}")
    return _keep_code(request, answer, token, invitation, survey_round, signed.code or "")


def _back_from_section(token: str, instrument: Instrument, position: int, change: bool) -> str:
    if change:
        return f"/s/{token}/check"
    if position:
        return f"/s/{token}/sections/{instrument.sections[position - 1].id}"
    return f"/s/{token}"


def _personal(session: SessionDep, token: str) -> Invitation | None:
    """The personal link ``token`` (``None`` for the open link)."""
    invitation = invitations.invitation_for_token(session, token)
    return None if invitation.kind == InvitationKind.OPEN else invitation


OpenDraft = tuple[SurveyRound, Instrument, ResumeCode, "responses.AnswersSoFar"]


def _open_draft(
    request: Request, session: SessionDep, token: str, resume: ResumeCode | None
) -> OpenDraft | Response:
    """A personal link's answers so far, for a page that shows them: the round open, and
    the resume code held (``resume``, else this browser's cookie); otherwise the redirect to
    the link's own page (the open link's, or the resume-code page's), the same for started
    and submitted links."""
    invitation = _personal(session, token)
    if invitation is None:
        return see_other(f"/s/{token}")
    survey_round, instrument = responses.round_and_instrument(session, invitation)
    require_open(survey_round)
    resume_code = resume or _resume_of(request, invitation)
    try:
        so_far = responses.answers_so_far(session, invitation, resume_code)
    except ResumeCodeError:
        return see_other(f"/s/{token}")
    if invitation.status == InvitationStatus.SUBMITTED:
        raise LinkAlreadyUsedError()
    return survey_round, instrument, resume_code, so_far


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
    resume: ResumeCode | None = None,
    question: str = "",
) -> Response:
    """One section's page; ``resume`` is the code when the browser has no cookie for it yet
    (the page drawn by the save that started the link).  ``question``: the one the respondent
    came to change (from the check page), whose chosen answer gets the focus."""
    opened = _open_draft(request, session, token, resume)
    if isinstance(opened, Response):
        return opened
    _survey_round, instrument, resume_code, so_far = opened
    section = section_by_id(instrument, section_id)
    if section is None:
        raise RecordNotFoundError("page", section_id)
    position = [s.id for s in instrument.sections].index(section.id)
    shown = page_problems(instrument, problems or {}, [section])
    return templates.TemplateResponse(
        request,
        "respondent/section.html",
        SectionPage(
            token=token,
            instrument=instrument,
            section=section,
            position=position,
            back_url=_back_from_section(token, instrument, position, change),
            back_text="Back to check your answers" if change else "Back",
            answers=so_far.answers,
            background=so_far.background,
            posted_text=posted_text or {},
            page_problems=shown,
            problems={problem.field_id: problem.message for problem in shown},
            change=change,
            focus=question if question in _field_ids(section) else "",
            # What the link filled in before anything was saved: said so on the page.
            prefilled=[]
            if so_far.has_draft
            else [
                q.text
                for q in instrument.background
                if q.id in section.background and q.id in so_far.background
            ],
            new=new,
            resume_code=_grouped(resume_code.code) if new else None,
        ),
        status_code=status.HTTP_400_BAD_REQUEST if shown else status.HTTP_200_OK,
    )


def _field_ids(section: Section) -> set[str]:
    return {*section.background, *section.items}


@router.get("/{token}/sections/{section_id}", response_class=HTMLResponse)
def section_page(
    request: Request,
    token: str,
    section_id: str,
    session: SessionDep,
    change: bool = False,
    new: bool = False,
    question: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    return _section_page(
        request, session, token, section_id, change=change, new=new, question=question
    )


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
    request: Request,
    session: SessionDep,
    token: str,
    section_id: str,
    form: FormData,
    resume: ResumeCode | None = None,
) -> Response:
    """Save a posted page; ``resume`` is a code already checked on the resume-code page
    (else this browser's cookie is used)."""
    change = form.get("change") == "1"
    for_later = form.get("action") == SAVE_FOR_LATER
    invitation = _personal(session, token)
    if invitation is None:
        return see_other(f"/s/{token}")
    texts = {key: value for key, value in form.items() if isinstance(value, str)}
    values = {key: form_value(value) for key, value in texts.items() if key not in NOT_FORM_FIELDS}
    resume_code = resume or _resume_of(request, invitation)
    try:
        saved = responses.save_section(session, invitation, section_id, values, values, resume_code)
    except ResumeCodeError:
        then = f"sections/{section_id}"
        return _resume_page(
            request,
            session,
            token,
            invitation,
            form=form,
            then=then,
            status_code=status.HTTP_403_FORBIDDEN,
        )
    resume_code = ResumeCode(saved.resume_code) if saved.resume_code else resume_code
    answer = _after_save(
        request, session, token, section_id, form, saved, resume_code, change, for_later
    )
    if saved.resume_code is not None:
        survey_round, _ = responses.round_and_instrument(session, invitation)
        _keep_code(request, answer, token, invitation, survey_round, saved.resume_code)
    return answer


def _after_save(
    request: Request,
    session: SessionDep,
    token: str,
    section_id: str,
    form: FormData,
    saved: responses.SectionSaved,
    resume_code: ResumeCode,
    change: bool,
    for_later: bool,
) -> Response:
    """The page after a save: the same page with its problems, or the next one.  A save that
    started the link says so to the next page, which shows the resume code."""
    problems = saved.problems
    new = saved.resume_code is not None
    asked = form.get("question")
    question = asked if isinstance(asked, str) else ""
    if for_later:
        problems = {field: text for field, text in problems.items() if text != UNANSWERED}
    if problems:
        texts = {key: value for key, value in form.items() if isinstance(value, str)}
        kept = {field: texts[field] for field in problems if field in texts}
        return _section_page(
            request,
            session,
            token,
            section_id,
            problems=problems,
            posted_text=kept,
            change=change,
            new=new,
            resume=resume_code,
            question=question,
        )
    if for_later:
        return see_other(f"/s/{token}/saved")
    invitation = invitations.invitation_for_token(session, token)
    so_far = responses.answers_so_far(session, invitation, resume_code)
    flag = "?new=1" if new else ""
    _, instrument = responses.round_and_instrument(session, invitation)
    section = section_by_id(instrument, section_id)
    anchor = f"#{question}" if section is not None and question in _field_ids(section) else ""
    if change or so_far.next_section is None:
        return see_other(f"/s/{token}/check{flag}{anchor if change else ''}")
    return see_other(f"/s/{token}/sections/{so_far.next_section}{flag}")


@router.get("/{token}/saved", response_class=HTMLResponse)
def saved_for_later(request: Request, token: str, session: SessionDep) -> Response:
    invitation = _personal(session, token)
    if invitation is None:
        return see_other(f"/s/{token}")
    survey_round, instrument = responses.round_and_instrument(session, invitation)
    require_open(survey_round)
    resume_code = _resume_of(request, invitation)
    if resume_code.code is None:  # not started, or not in this browser
        return see_other(f"/s/{token}")
    if invitation.status == InvitationStatus.SUBMITTED:
        raise LinkAlreadyUsedError()
    return templates.TemplateResponse(
        request,
        "respondent/saved.html",
        SavedPage(
            round=survey_round,
            instrument=instrument,
            resume_url=respondent_link(link_base(request, request.app.state.settings), token),
            resume_code=_grouped(resume_code.code),
        ),
    )


def _check_page(
    request: Request,
    session: SessionDep,
    token: str,
    problems: dict[str, str] | None = None,
    *,
    resume: ResumeCode | None = None,
    new: bool = False,
) -> Response:
    opened = _open_draft(request, session, token, resume)
    if isinstance(opened, Response):
        return opened
    _survey_round, instrument, resume_code, so_far = opened
    if not so_far.has_draft:
        return see_other(f"/s/{token}")
    missing = (
        unanswered_required(instrument, so_far.answers, so_far.background)
        if problems is None
        else problems
    )
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
        CheckPage(
            token=token,
            instrument=instrument,
            answers=so_far.answers,
            background=so_far.background,
            missing=missing,
            page_problems=shown,
            back_url=f"/s/{token}/sections/{instrument.sections[-1].id}",
            new=new,
            resume_code=_grouped(resume_code.code) if new else None,
        ),
        status_code=status.HTTP_400_BAD_REQUEST if shown else status.HTTP_200_OK,
    )


@router.get("/{token}/check", response_class=HTMLResponse)
def check_page(request: Request, token: str, session: SessionDep, new: bool = False) -> Response:
    return _check_page(request, session, token, new=new)


@router.post("/{token}/submit")
def submit(request: Request, token: str, session: SessionDep) -> Response:
    try:
        invitation = _personal(session, token)
        if invitation is None:
            return see_other(f"/s/{token}")
        return _submit(request, session, token, invitation, _resume_of(request, invitation))
    except OperationalError:
        _forget(session)
        return _try_again(request)


def _submit(
    request: Request,
    session: SessionDep,
    token: str,
    invitation: Invitation,
    resume_code: ResumeCode,
) -> Response:
    try:
        responses.submit_response(session, invitation, resume=resume_code)
    except ResumeCodeError:
        return _resume_page(
            request,
            session,
            token,
            invitation,
            then=SUBMIT,
            status_code=status.HTTP_403_FORBIDDEN,
        )
    except FieldValidationError as error:
        plain = {field.split(".", 1)[-1]: text for field, text in error.problems.items()}
        return _check_page(request, session, token, plain, resume=resume_code)
    return see_other(f"/s/{token}/thank-you")


@router.get("/{token}/thank-you", response_class=HTMLResponse)
def thank_you(request: Request, token: str, session: SessionDep) -> Response:
    """Thanks, in the browser that submitted (elsewhere the link asks for its code)."""
    invitation = invitations.invitation_for_token(session, token)
    if invitation.status != InvitationStatus.SUBMITTED or _cookie_code(request, invitation) is None:
        return see_other(f"/s/{token}")
    survey_round, instrument = responses.round_and_instrument(session, invitation)
    return templates.TemplateResponse(
        request,
        "respondent/thank_you.html",
        ThankYouPage(round=survey_round, instrument=instrument),
    )
