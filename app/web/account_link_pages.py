"""Set-your-password links: "Forgot your password?" (``/sign-in/forgot``) and the page an
e-mailed link opens (``/account/set-password/{token}``).

``/sign-in/forgot`` answers the same whether or not an account has the address typed.  It is
limited per client address (then 429) and per address asked about (then nothing more is sent,
and the answer is still the same), so it can neither be used to find out who has an account
nor to fill someone's inbox.  Its answer also takes the same time either way: queueing a
link (for an address with an account) costs a few milliseconds more than finding none, so
every answer waits until :data:`FORGOT_ANSWER_SECONDS` have passed since the request began
(``bench/bench_forgot.py`` measures the two).
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, Response

from app.database import SessionDep
from app.services import account_links
from app.services.account_links import AccountLinkUnusableError
from app.services.accounts import email_problem, normalised_email
from app.services.errors import FieldValidationError
from app.services.rate_limits import RateLimiter
from app.web.deps import CsrfProtected, LinkBaseDep, SettingsDep
from app.web.forms import FormState
from app.web.pages import ForgotPasswordPage, LinkUnusablePage, SetPasswordPage, TooManyPage
from app.web.redirects import see_other
from app.web.templating import templates

router = APIRouter(tags=["account links"], include_in_schema=False)
FORGOT_PATH = "/sign-in/forgot"
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
FORGOT_ANSWER_SECONDS = 0.25


def _forgot_page(
    request: Request, form: FormState | None = None, *, sent: bool = False
) -> Response:
    return templates.TemplateResponse(
        request,
        "account/forgot.html",
        ForgotPasswordPage(form=form, sent=sent),
        status_code=422 if form else 200,
        headers={"Cache-Control": "no-store"},
    )


@router.get(FORGOT_PATH, response_class=HTMLResponse)
def forgot_page(request: Request, sent: str = "") -> Response:
    return _forgot_page(request, sent=sent == "1")


@router.post(FORGOT_PATH, response_class=HTMLResponse, dependencies=[CsrfProtected])
def forgot(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    base: LinkBaseDep,
    email: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    started = time.monotonic()
    if email_problem(email) is not None:
        form = FormState(
            {"email": email}, {"email": "Enter your e-mail address, like name@example.nhs.uk"}
        )
        return _forgot_page(request, form)
    limiter: RateLimiter = request.app.state.rate_limiter
    client = request.client.host if request.client else "unknown"
    refusal = limiter.take([(limiter.policy.reset_per_address, client)])
    if refusal is not None:
        minutes = max(1, (refusal.retry_after + 59) // 60)
        return templates.TemplateResponse(
            request,
            "too_many.html",
            TooManyPage(
                message=f"too many new-password requests from this network: try again in "
                f"{minutes} minute{'s' if minutes != 1 else ''}",
                posted=[],
                retry_url=FORGOT_PATH,
                keeps_answers=False,
            ),
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            headers={"Retry-After": str(refusal.retry_after)},
        )
    if limiter.take([(limiter.policy.reset_per_email, normalised_email(email))]) is None:
        account_links.request_password_reset(session, email, base, settings.account_link_hours)
    time.sleep(max(0.0, FORGOT_ANSWER_SECONDS - (time.monotonic() - started)))
    return see_other(f"{FORGOT_PATH}?sent=1")


def _set_password_page(
    request: Request, token: str, email: str, form: FormState | None = None
) -> Response:
    return templates.TemplateResponse(
        request,
        "account/set_password.html",
        SetPasswordPage(form=form, token=token, email=email),
        status_code=422 if form else 200,
        headers=NO_STORE,
    )


def _unusable(request: Request) -> Response:
    return templates.TemplateResponse(
        request,
        "account/link_unusable.html",
        LinkUnusablePage(forgot=FORGOT_PATH),
        status_code=status.HTTP_404_NOT_FOUND,
        headers=NO_STORE,
    )


@router.get(f"{account_links.SET_PASSWORD_PATH}/{{token}}", response_class=HTMLResponse)
def set_password_page(request: Request, token: str, session: SessionDep) -> Response:
    try:
        account = account_links.account_for_link(session, token)
    except AccountLinkUnusableError:
        return _unusable(request)
    return _set_password_page(request, token, account.email)


@router.post(
    f"{account_links.SET_PASSWORD_PATH}/{{token}}",
    response_class=HTMLResponse,
    dependencies=[CsrfProtected],
)
def set_password(
    request: Request,
    token: str,
    session: SessionDep,
    password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    try:
        account = account_links.account_for_link(session, token)
        if not password:
            raise FieldValidationError({"password": "Enter a new password"})
        account_links.set_password_with_link(session, token, password)
    except AccountLinkUnusableError:
        return _unusable(request)
    except FieldValidationError as error:
        message = error.problems.get("password", str(error))
        if message[:1].islower():
            message = f"The password {message}"
        return _set_password_page(
            request, token, account.email, FormState({}, {"password": message})
        )
    return see_other("/sign-in?done=password-set")
