"""The second factor's pages: the code after the password (``/sign-in/code``), setting one up
while signing in when a role requires it (``/sign-in/second-factor``), a person's own second
factor (``/account/second-factor``), and the admins' policy (``/admin/security``).

A session whose password was right but whose code is still to come is *pending*: no other
page or API counts it as signed in (:func:`app.services.accounts.account_for_session`).  Wrong
codes are limited per pending session (then it ends, and the password is asked again) and per
account (:class:`app.services.rate_limits.RateLimitPolicy`).  Once the code is right, the
pending session is ended and a new one started, with a new secret.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response

from app.database import SessionDep
from app.models import Account, AccountRole
from app.security import hash_session_secret
from app.services import accounts, audit, own_account, second_factor
from app.services.audit import AuditAction
from app.services.errors import FieldValidationError, RecordNotFoundError
from app.services.rate_limits import Limit, RateLimiter, Refusal
from app.web.deps import (
    SIGN_IN_PATH,
    CsrfProtected,
    LoginRequiredError,
    session_secret,
    sign_in,
    sign_out,
    signed_in_account,
)
from app.web.forms import FormState
from app.web.pages import (
    SecondFactorPage,
    SecondFactorSetUpPage,
    SecurityPage,
    SignInCodePage,
    TooManyPage,
)
from app.web.rate_limits import wait_text
from app.web.redirects import safe_next, see_other
from app.web.sign_in_pages import SECOND_FACTOR_PATH, SIGNED_IN_AREAS, home_path
from app.web.templating import templates

router = APIRouter(tags=["second factor"], include_in_schema=False)
CODE_PATH = SECOND_FACTOR_PATH
SIGN_IN_SET_UP_PATH = "/sign-in/second-factor"
OWN_PATH = "/account/second-factor"
OFF_PATH = "/account/second-factor/off"
SECURITY_PATH = "/admin/security"
ROLE_LABELS = {
    AccountRole.COORDINATOR: "Coordinators",
    AccountRole.EVALUATOR: "Evaluators",
    AccountRole.ANALYST: "Analysts",
    AccountRole.ADMIN: "Admins",
}


def _secret_key(request: Request) -> str:
    key: str = request.app.state.secret_key
    return key


def _limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


# -- Pending sign-ins ----------------------------------------------------------------------


def _pending(request: Request, session: SessionDep) -> tuple[str, Account]:
    """The pending session's secret and account; without one, back to the sign-in page."""
    secret = session_secret(request)
    account = None if secret is None else accounts.pending_session_account(session, secret)
    if secret is None or account is None:
        raise HTTPException(status.HTTP_303_SEE_OTHER, headers={"Location": SIGN_IN_PATH})
    return secret, account


PendingDep = Annotated[tuple[str, Account], Depends(_pending)]


def _code_checks(request: Request, secret: str, account: Account) -> list[tuple[Limit, str]]:
    policy = _limiter(request).policy
    return [
        (policy.second_factor_per_session, hash_session_secret(secret)),
        (policy.second_factor_per_account, str(account.id)),
    ]


def _too_many(request: Request, session: SessionDep, refusal: Refusal) -> Response:
    """Too many wrong codes: the pending sign-in ends; the password is asked again."""
    sign_out(request, session)
    if refusal.limit.bucket == _limiter(request).policy.second_factor_per_session.bucket:
        message = (
            "that was too many wrong codes for one sign-in, so it has ended; sign in again "
            "with your password, then type the code your app shows at that moment"
        )
    else:
        message = (
            "there have been too many wrong codes for this account lately; wait "
            f"{wait_text(refusal.retry_after)} and sign in again"
        )
    return templates.TemplateResponse(
        request,
        "too_many.html",
        TooManyPage(message=message, posted=[], retry_url=SIGN_IN_PATH, keeps_answers=False),
        status_code=status.HTTP_429_TOO_MANY_REQUESTS,
        headers={"Retry-After": str(refusal.retry_after)},
    )


def _with_next(path: str, next: str) -> str:
    from urllib.parse import urlencode

    return path + (f"?{urlencode({'next': next})}" if next else "")


def _signed_in_now(request: Request, session: SessionDep, account: Account, next: str) -> Response:
    sign_in(request, session, account)  # ends the pending session; a new secret
    audit.record(session, account, AuditAction.SIGN_IN, detail="with a second factor")
    return see_other(safe_next(next, SIGNED_IN_AREAS, home_path(account)))


def _code_page(
    request: Request, next: str, form: FormState | None = None, status_code: int = 200
) -> Response:
    return templates.TemplateResponse(
        request,
        "account/sign_in_code.html",
        SignInCodePage(next=next, form=form),
        status_code=status_code,
    )


@router.get(CODE_PATH, response_class=HTMLResponse)
def code_page(request: Request, pending: PendingDep, next: str = "") -> Response:
    _, account = pending
    if not second_factor.has_second_factor(account):
        return see_other(_with_next(SIGN_IN_SET_UP_PATH, next))
    return _code_page(request, next)


@router.post(CODE_PATH, response_class=HTMLResponse, dependencies=[CsrfProtected])
def check_code(
    request: Request,
    session: SessionDep,
    pending: PendingDep,
    code: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    secret, account = pending
    if not second_factor.has_second_factor(account):
        return see_other(_with_next(SIGN_IN_SET_UP_PATH, next))
    limiter, checks = _limiter(request), _code_checks(request, secret, account)
    session.rollback()
    if (refusal := limiter.refusal(checks)) is not None:
        return _too_many(request, session, refusal)
    if (problem := second_factor.code_problem(code)) is not None:
        return _code_page(request, next, FormState(problems={"code": problem}), 422)
    if second_factor.check_code(session, _secret_key(request), account, code):
        return _signed_in_now(request, session, account, next)
    limiter.count_failure(checks)
    if (refusal := limiter.refusal(checks)) is not None:
        return _too_many(request, session, refusal)
    problem = "The code is not right, or has been used already: type the code your app shows now"
    return _code_page(request, next, FormState(problems={"code": problem}), 401)


# -- Setting one up --------------------------------------------------------------------------


def _qr_svg(uri: str) -> str:
    """The address as an inline SVG QR code (what an authenticator app scans)."""
    import segno  # imported here: only this page draws one

    svg: str = segno.make(uri, error="m").svg_inline(scale=4, title="QR code of the set-up key")
    return svg


def _set_up_page(
    request: Request,
    account: Account,
    *,
    action: str,
    next: str = "",
    sealed: str | None = None,
    form: FormState | None = None,
    status_code: int = 200,
    signed_in: bool,
) -> Response:
    key = _secret_key(request)
    context = second_factor.set_up_context(account)
    if sealed is None or (secret := second_factor.unseal(key, context, sealed)) is None:
        secret = second_factor.new_secret()
        sealed = second_factor.seal(key, context, secret)
    uri = second_factor.otpauth_uri(secret, account.email)
    return templates.TemplateResponse(
        request,
        "account/second_factor_set_up.html",
        SecondFactorSetUpPage(
            account=account if signed_in else None,
            action=action,
            next=next,
            sealed=sealed,
            grouped=second_factor.grouped(secret),
            uri=uri,
            qr_svg=_qr_svg(uri),
            form=form,
            required=not signed_in,
        ),
        status_code=status_code,
    )


@router.get(SIGN_IN_SET_UP_PATH, response_class=HTMLResponse)
def sign_in_set_up_page(request: Request, pending: PendingDep, next: str = "") -> Response:
    _, account = pending
    if second_factor.has_second_factor(account):
        return see_other(_with_next(CODE_PATH, next))
    return _set_up_page(request, account, action=SIGN_IN_SET_UP_PATH, next=next, signed_in=False)


@router.post(SIGN_IN_SET_UP_PATH, response_class=HTMLResponse, dependencies=[CsrfProtected])
def sign_in_set_up(
    request: Request,
    session: SessionDep,
    pending: PendingDep,
    sealed: Annotated[str, Form(max_length=200)] = "",
    code: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    _, account = pending
    if second_factor.has_second_factor(account):
        return see_other(_with_next(CODE_PATH, next))
    try:
        second_factor.set_up(session, _secret_key(request), account, sealed, code)
    except FieldValidationError as error:
        return _set_up_page(
            request,
            account,
            action=SIGN_IN_SET_UP_PATH,
            next=next,
            sealed=sealed,
            form=FormState(problems=dict(error.problems)),
            status_code=422,
            signed_in=False,
        )
    return _signed_in_now(request, session, account, next)


# -- A signed-in person's own second factor -------------------------------------------------


def _own_account(request: Request, session: SessionDep) -> Account:
    account = signed_in_account(request, session)
    if account is None:
        raise LoginRequiredError(request.url.path)
    return account


OwnDep = Annotated[Account, Depends(_own_account)]


def _own_page(
    request: Request,
    session: SessionDep,
    account: Account,
    form: FormState | None = None,
    status_code: int = 200,
) -> Response:
    return templates.TemplateResponse(
        request,
        "account/second_factor.html",
        SecondFactorPage(
            account=account,
            required=second_factor.required_for(session, account),
            form=form,
        ),
        status_code=status_code,
    )


@router.get(OWN_PATH, response_class=HTMLResponse)
def own_second_factor(request: Request, session: SessionDep, account: OwnDep) -> Response:
    if second_factor.has_second_factor(account):
        return _own_page(request, session, account)
    return _set_up_page(request, account, action=OWN_PATH, signed_in=True)


@router.post(OWN_PATH, response_class=HTMLResponse, dependencies=[CsrfProtected])
def set_up_own(
    request: Request,
    session: SessionDep,
    account: OwnDep,
    sealed: Annotated[str, Form(max_length=200)] = "",
    code: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    if second_factor.has_second_factor(account):
        return see_other(OWN_PATH)
    try:
        second_factor.set_up(session, _secret_key(request), account, sealed, code)
    except FieldValidationError as error:
        return _set_up_page(
            request,
            account,
            action=OWN_PATH,
            sealed=sealed,
            form=FormState(problems=dict(error.problems)),
            status_code=422,
            signed_in=True,
        )
    return see_other("/account?done=second-factor-on")


@router.post(OFF_PATH, response_class=HTMLResponse, dependencies=[CsrfProtected])
def turn_off_own(
    request: Request,
    session: SessionDep,
    account: OwnDep,
    password: Annotated[str, Form(max_length=1024)] = "",
    code: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    if not second_factor.has_second_factor(account):
        return see_other(OWN_PATH)
    limiter = _limiter(request)
    password_check = [(limiter.policy.login_per_email, account.email)]
    code_check = [(limiter.policy.second_factor_per_account, str(account.id))]
    session.rollback()
    if (refusal := limiter.refusal(password_check + code_check)) is not None:
        problem = f"Too many wrong attempts: wait {wait_text(refusal.retry_after)} and try again"
        return _own_page(request, session, account, FormState(problems={"": problem}), 429)
    try:
        second_factor.turn_off(session, _secret_key(request), account, password, code)
    except FieldValidationError as error:
        if password and "password" in error.problems:
            limiter.count_failure(password_check)
        elif "code" in error.problems and not second_factor.code_problem(code):
            limiter.count_failure(code_check)
        return _own_page(request, session, account, FormState(problems=dict(error.problems)), 422)
    return see_other("/account?done=second-factor-off")


# -- The admins' policy ----------------------------------------------------------------------


def _admin(request: Request, session: SessionDep) -> Account:
    account = _own_account(request, session)
    if AccountRole.ADMIN not in account.role_set:
        raise RecordNotFoundError("page", request.url.path)
    return account


AdminDep = Annotated[Account, Depends(_admin)]


def _security_page(
    request: Request,
    session: SessionDep,
    admin: Account,
    *,
    chosen: frozenset[str] | None = None,
    form: FormState | None = None,
    saved: bool = False,
    status_code: int = 200,
) -> Response:
    return templates.TemplateResponse(
        request,
        "admin/security.html",
        SecurityPage(
            account=admin,
            roles=ROLE_LABELS,
            chosen=second_factor.required_roles(session) if chosen is None else chosen,
            form=form,
            saved=saved,
            own_summary=own_account.summary(session, admin),
        ),
        status_code=status_code,
    )


@router.get(SECURITY_PATH, response_class=HTMLResponse)
def security_page(
    request: Request, session: SessionDep, admin: AdminDep, saved: str = ""
) -> Response:
    return _security_page(request, session, admin, saved=saved == "1")


@router.post(SECURITY_PATH, response_class=HTMLResponse, dependencies=[CsrfProtected])
def set_security(
    request: Request,
    session: SessionDep,
    admin: AdminDep,
    role: Annotated[list[str] | None, Form(max_length=32)] = None,
) -> Response:
    chosen = frozenset(role or ())
    try:
        second_factor.set_policy(session, admin, chosen)
    except FieldValidationError as error:
        state = FormState(problems={"roles": next(iter(error.problems.values()))})
        return _security_page(request, session, admin, chosen=chosen, form=state, status_code=422)
    return see_other(f"{SECURITY_PATH}?saved=1")
