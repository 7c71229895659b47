"""The account holder's own page: personal API tokens (make, list, revoke).

Any signed-in account (coordinator, evaluator, analyst, admin) has it; signed out, the
browser is sent to sign in.  A new token is shown on the page that made it, once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.database import SessionDep
from app.models import Account
from app.services import accounts, api_tokens
from app.services.api_tokens import NewToken
from app.services.errors import FieldValidationError
from app.web.deps import CsrfProtected, path_id, signed_in_account
from app.web.templating import templates

router = APIRouter(tags=["account"], include_in_schema=False)
TOKENS_PATH = "/account/tokens"


def account_holder(request: Request, session: SessionDep) -> Account:
    account = signed_in_account(request, session)
    if account is None:
        raise HTTPException(
            status_code=status.HTTP_303_SEE_OTHER,
            headers={"Location": f"/sign-in?next={TOKENS_PATH}"},
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
    home = "/coordinator" if account.has_any_role(accounts.COORDINATING_ROLES) else "/reports"
    return templates.TemplateResponse(
        request,
        "account/tokens.html",
        {
            "account": account,
            "tokens": api_tokens.list_tokens(session, account),
            "new_token": new_token,
            "problem": problem,
            "name": name,
            "home": home,
        },
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
