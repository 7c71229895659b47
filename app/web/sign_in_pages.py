"""One sign-in for every role: ``/sign-in`` and ``/sign-out``.

Whoever signs in lands where their roles lead (:func:`home_path`), or on the page they asked
for.  The sign-in pages of earlier versions (``/coordinator/login``, ``/reports/login``)
send the browser here.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.database import SessionDep
from app.models import Account, AccountRole
from app.services import accounts, audit, second_factor
from app.services.audit import AuditAction
from app.web.deps import SIGN_IN_PATH, CsrfProtected, sign_in, sign_out, signed_in_account
from app.web.pages import SignInPage
from app.web.redirects import safe_next, see_other
from app.web.templating import templates

router = APIRouter(tags=["sign-in"], include_in_schema=False)

# Where a sign-in may send someone next: the pages behind it.
# The second step of signing in, for an account with a second factor (or whose role requires
# one): app/web/second_factor_pages.py.
SECOND_FACTOR_PATH = "/sign-in/code"
SIGNED_IN_AREAS = ("/coordinator", "/reports", "/analyst", "/account", "/admin")


def home_path(account: Account) -> str:
    """Where an account lands after signing in: the first page its roles lead to."""
    roles = account.role_set
    if roles & {AccountRole.ADMIN, AccountRole.COORDINATOR}:
        return "/coordinator"
    if AccountRole.ANALYST in roles:
        return "/analyst"
    return "/reports"


def _sign_in_page(
    request: Request, next: str, *, email: str = "", failed: bool = False
) -> Response:
    return templates.TemplateResponse(
        request,
        "account/sign_in.html",
        SignInPage(next=next, email=email, failed=failed),
        status_code=status.HTTP_401_UNAUTHORIZED if failed else status.HTTP_200_OK,
    )


@router.get("/", response_class=RedirectResponse)
def home(request: Request, session: SessionDep) -> Response:
    account = signed_in_account(request, session)
    return see_other(SIGN_IN_PATH if account is None else home_path(account))


@router.get(SIGN_IN_PATH, response_class=HTMLResponse)
def sign_in_page(request: Request, next: str = "") -> Response:
    return _sign_in_page(request, next)


@router.post(SIGN_IN_PATH, response_class=HTMLResponse, dependencies=[CsrfProtected])
def sign_in_with_password(
    request: Request,
    session: SessionDep,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    account = accounts.authenticate(session, email, password)
    if account is None:
        known = accounts.coordinator_by_email(session, email)
        # Only an address that is an account's is recorded: text typed into the e-mail box
        # of a failed sign-in is sometimes a password.
        audit.record(session, known, AuditAction.SIGN_IN_FAILED, outcome="refused")
        return _sign_in_page(request, next, email=email, failed=True)
    if second_factor.asks_for_code(session, account):
        # The password was right; the session counts as signed in once the code is.
        sign_in(request, session, account, pending=True)
        return see_other(SECOND_FACTOR_PATH + (f"?{urlencode({'next': next})}" if next else ""))
    sign_in(request, session, account)
    audit.record(session, account, AuditAction.SIGN_IN)
    return see_other(safe_next(next, SIGNED_IN_AREAS, home_path(account)))


@router.post("/sign-out", response_class=RedirectResponse, dependencies=[CsrfProtected])
def sign_out_everywhere(request: Request, session: SessionDep) -> Response:
    account = signed_in_account(request, session)
    sign_out(request, session)
    if account is not None:
        audit.record(session, account, AuditAction.SIGN_OUT)
    return see_other(SIGN_IN_PATH)


@router.get("/coordinator/login", response_class=RedirectResponse)
@router.get("/reports/login", response_class=RedirectResponse)
def earlier_sign_in(request: Request) -> Response:
    """The sign-in pages of earlier versions, kept for bookmarks and old e-mails."""
    query = request.url.query
    return RedirectResponse(
        SIGN_IN_PATH + (f"?{query}" if query else ""),
        status_code=status.HTTP_301_MOVED_PERMANENTLY,
    )
