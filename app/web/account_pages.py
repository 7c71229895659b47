"""The account holder's own page: personal API tokens (make, list, revoke).

Any signed-in account (coordinator, evaluator, analyst, admin) has it; signed out, the
browser is sent to sign in.  A new token is shown on the page that made it, once.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.database import SessionDep
from app.models import Account
from app.services import accounts, api_tokens, own_account
from app.services.api_tokens import NewToken
from app.services.errors import FieldValidationError
from app.services.rate_limits import RateLimiter
from app.web.deps import CsrfProtected, path_id, sign_in, signed_in_account
from app.web.forms import FormState
from app.web.pages import AccountSummaryPage, AccountTokensPage, PasswordPage
from app.web.rate_limits import wait_text
from app.web.redirects import see_other
from app.web.templating import templates

router = APIRouter(tags=["account"], include_in_schema=False)
TOKENS_PATH = "/account/tokens"


ACCOUNT_PATH = "/account"
PASSWORD_PATH = "/account/password"  # noqa: S105 (a path)
# What the account page confirms after a change (``?done=...``).
DONE = {
    "password": "Your password has been changed. Every other browser signed in to your "
    "account has been signed out.",
    "second-factor-on": "Your second factor is set up. Signing in now asks for a code from "
    "your authenticator app after your password.",
    "second-factor-off": "Your second factor is turned off. Signing in asks only for your "
    "password.",
}


def account_holder(request: Request, session: SessionDep) -> Account:
    account = signed_in_account(request, session)
    if account is None:
        raise HTTPException(
            status_code=status.HTTP_303_SEE_OTHER,
            headers={"Location": f"/sign-in?{urlencode({'next': request.url.path})}"},
        )
    return account


AccountDep = Annotated[Account, Depends(account_holder)]


def _page(
    request: Request,
    session: SessionDep,
    account: Account,
    *,
    new_token: NewToken | None = None,
    problem: str | None = None,
    name: str = "",
    status_code: int = 200,
) -> Response:
    return templates.TemplateResponse(
        request,
        "account/tokens.html",
        AccountTokensPage(
            account=account,
            tokens=api_tokens.list_tokens(session, account),
            new_token=new_token,
            problem=problem,
            name=name,
        ),
        status_code=status_code,
    )


@router.get(TOKENS_PATH, response_class=HTMLResponse)
def tokens_page(request: Request, session: SessionDep, account: AccountDep) -> Response:
    return _page(request, session, account)


@router.post(TOKENS_PATH, response_class=HTMLResponse, dependencies=[CsrfProtected])
def make_token(
    request: Request,
    session: SessionDep,
    account: AccountDep,
    name: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    try:
        made = api_tokens.create_token(session, account, name, request.app.state.secret_key)
    except FieldValidationError as error:
        problem = error.problems.get("name", str(error))
        return _page(request, session, account, problem=problem, name=name, status_code=422)
    return _page(request, session, account, new_token=made)


@router.post(f"{TOKENS_PATH}/{{token_id}}/revoke", dependencies=[CsrfProtected])
def revoke_token(token_id: str, session: SessionDep, account: AccountDep) -> Response:
    api_tokens.revoke_token(session, account, path_id(token_id, "API token"))
    return RedirectResponse(TOKENS_PATH, status_code=status.HTTP_303_SEE_OTHER)


# -- Your account ------------------------------------------------------------------------


@router.get(ACCOUNT_PATH, response_class=HTMLResponse)
def account_page(
    request: Request, session: SessionDep, account: AccountDep, done: str = ""
) -> Response:
    return templates.TemplateResponse(
        request,
        "account/summary.html",
        AccountSummaryPage(
            account=account, summary=own_account.summary(session, account), done=DONE.get(done)
        ),
    )


def _password_page(
    request: Request, account: Account, form: FormState | None = None, status_code: int = 200
) -> Response:
    return templates.TemplateResponse(
        request,
        "account/password.html",
        PasswordPage(account=account, form=form, minimum=accounts.MINIMUM_PASSWORD_LENGTH),
        status_code=status_code,
    )


@router.get(PASSWORD_PATH, response_class=HTMLResponse)
def password_page(request: Request, account: AccountDep) -> Response:
    return _password_page(request, account)


@router.post(PASSWORD_PATH, response_class=HTMLResponse, dependencies=[CsrfProtected])
def change_password(
    request: Request,
    session: SessionDep,
    account: AccountDep,
    current_password: Annotated[str, Form(max_length=1024)] = "",
    new_password: Annotated[str, Form(max_length=1024)] = "",
    confirm_password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    """Guesses at the current password (a session left open, or stolen) count against the
    same per-account limit as signing in with the password."""
    limiter: RateLimiter = request.app.state.rate_limiter
    check = [(limiter.policy.login_per_email, accounts.normalised_email(account.email))]
    session.rollback()
    if (refusal := limiter.refusal(check)) is not None:
        problem = (
            "There have been too many wrong passwords for your account lately: wait "
            f"{wait_text(refusal.retry_after)} and try again"
        )
        return _password_page(request, account, FormState(problems={"": problem}), 429)
    try:
        own_account.change_password(
            session, account, current_password, new_password, confirm_password
        )
    except FieldValidationError as error:
        if current_password and "current_password" in error.problems:
            limiter.count_failure(check)
        return _password_page(request, account, FormState(problems=dict(error.problems)), 422)
    sign_in(request, session, account)  # every session ended: this browser gets a new one
    return see_other(f"{ACCOUNT_PATH}?done=password")
