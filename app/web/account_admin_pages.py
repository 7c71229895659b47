"""Account management pages: the admins' ``/admin/accounts`` (list, invite, one account's
roles, grants, disabling, removing) and a partnership's coordinators' ``.../access`` page
(who can see the partnership; invite an evaluator or coordinator; remove someone's access).

Admins only under ``/admin`` (to anyone else the pages do not exist, as elsewhere); the
partnership's page for those who run that partnership.  Every form posts, then redirects
(303) to a page saying what was done; a form with problems is shown again (422).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, select

from app.database import SessionDep
from app.models import Account, AccountRole, Partnership
from app.services import account_links, account_management, partnerships
from app.services.accounts import email_problem
from app.services.errors import FieldValidationError, RecordNotFoundError, SurveyServiceError
from app.web.deps import (
    AccountPath,
    CsrfProtected,
    LinkBaseDep,
    PageCoordinatorDep,
    PageMemberAccountId,
    PagePartnershipId,
    SettingsDep,
    path_id,
)
from app.web.forms import FormState, problems_of
from app.web.pages import (
    AdminAccountPage,
    AdminAccountsPage,
    InviteAccountPage,
    PartnershipAccessPage,
    RemoveAccountPage,
)
from app.web.redirects import see_other
from app.web.round_pages import AdminDep
from app.web.schemas import canonical_id
from app.web.templating import templates

router = APIRouter(tags=["accounts"], include_in_schema=False)
ACCOUNTS = "/admin/accounts"
ROLE_CHOICES = {
    AccountRole.ADMIN: "Admin: everything, including accounts",
    AccountRole.COORDINATOR: "Coordinator: runs the rounds of their partnerships",
    AccountRole.ANALYST: "Analyst: every partnership's reports and pooled figures",
    AccountRole.EVALUATOR: "Evaluator: reads the reports of their partnerships",
}
PARTNERSHIP_ROLE_CHOICES = {
    AccountRole.EVALUATOR: "Evaluator: reads this partnership's reports",
    AccountRole.COORDINATOR: "Coordinator: runs this partnership's rounds",
}


def _page(
    request: Request, template: str, context: object, form: FormState | None = None
) -> Response:
    """A page of its typed context (``app/web/pages.py``); 422 when a form is shown again."""
    return templates.TemplateResponse(
        request,
        template,
        context,
        status_code=422 if form else 200,
        headers={"Cache-Control": "no-store"},
    )


def _all_partnerships(session: Session) -> list[Partnership]:
    return list(session.exec(select(Partnership).order_by(col(Partnership.name))))


def _form_ids(values: list[str], state: FormState, name: str) -> list[int]:
    ids: list[int] = []
    for text in values:
        parsed = canonical_id(text)
        if parsed is None:
            state.add(name, "Choose one of the listed partnerships")
        else:
            ids.append(parsed)
    return ids


def _roles(values: list[str], state: FormState) -> list[str]:
    if not values:
        state.add("roles", "Choose at least one role")
    elif not set(values) <= set(ROLE_CHOICES):
        state.add("roles", "Choose roles from the list")
    return values


def _admin_account_id(account_id: str) -> int:
    return path_id(account_id, "account")


# -- the list and invitations ------------------------------------------------------------------


@router.get(ACCOUNTS, response_class=HTMLResponse)
def accounts_page(
    request: Request,
    session: SessionDep,
    admin: AdminDep,
    role: str = "",
    partnership: str = "",
    q: str = "",
) -> Response:
    partnership_id = canonical_id(partnership) if partnership else None
    rows = account_management.list_accounts(
        session,
        role=role if role in ROLE_CHOICES else None,
        partnership_id=partnership_id,
        text=q[:254],
    )
    page = AdminAccountsPage(
        account=admin,
        rows=rows,
        partnerships=_all_partnerships(session),
        chosen={"role": role, "partnership": partnership, "q": q[:254]},
        roles=ROLE_CHOICES,
    )
    return _page(request, "admin/accounts.html", page)


def _invite_page(
    request: Request, session: Session, admin: Account, form: FormState | None = None
) -> Response:
    listed = _all_partnerships(session)
    page = InviteAccountPage(
        account=admin,
        form=form,
        roles=ROLE_CHOICES,
        partnerships=listed,
        partnership_choices={str(p.id): p.name for p in listed},
    )
    return _page(request, "admin/invite.html", page, form)


@router.get(f"{ACCOUNTS}/invite", response_class=HTMLResponse)
def invite_page(request: Request, session: SessionDep, admin: AdminDep) -> Response:
    return _invite_page(request, session, admin)


@router.post(f"{ACCOUNTS}/invite", response_class=HTMLResponse, dependencies=[CsrfProtected])
def invite(
    request: Request,
    session: SessionDep,
    admin: AdminDep,
    settings: SettingsDep,
    base: LinkBaseDep,
    email: Annotated[str, Form(max_length=1000)] = "",
    roles: Annotated[list[str] | None, Form()] = None,
    partnership: Annotated[list[str] | None, Form()] = None,
) -> Response:
    chosen_roles = roles or []
    chosen = partnership or []
    state = FormState(
        {"email": email, "roles": " ".join(chosen_roles), "partnership": " ".join(chosen)}
    )
    if email_problem(email) is not None:
        state.add("email", "Enter an e-mail address, like name@example.nhs.uk")
    _roles(chosen_roles, state)
    ids = _form_ids(chosen, state, "partnership")
    if not state:
        try:
            invited = account_management.invite(
                session, admin, email, chosen_roles, ids, base, settings.account_link_hours
            )
        except SurveyServiceError as error:
            for name, message in problems_of(error, "email").items():
                state.add(name, message)
        else:
            done = "invited" if invited.created else "added"
            return see_other(f"{ACCOUNTS}/{invited.account.id}?done={done}")
    return _invite_page(request, session, admin, state)


# -- one account ------------------------------------------------------------------------------


def _account_page(
    request: Request,
    session: Session,
    admin: Account,
    account_id: int,
    form: FormState | None = None,
) -> Response:
    row = account_management.account_row(session, account_id)
    granted = {p.id for p in row.partnerships}
    page = AdminAccountPage(
        account=admin,
        form=form,
        row=row,
        roles=ROLE_CHOICES,
        others=[p for p in _all_partnerships(session) if p.id not in granted],
        is_self=row.account.id == admin.id,
    )
    return _page(request, "admin/account.html", page, form)


@router.get(f"{ACCOUNTS}/{{account_id}}", response_class=HTMLResponse)
def account_page(
    request: Request, account_id: AccountPath, session: SessionDep, admin: AdminDep
) -> Response:
    return _account_page(request, session, admin, _admin_account_id(account_id))


def _acted(
    request: Request,
    session: Session,
    admin: Account,
    account_id: int,
    done: str,
    action: Callable[[], object],
    form_id: str,
) -> Response:
    """Run ``action``; on a refusal, the account page again with it."""
    try:
        action()
    except FieldValidationError as error:
        state = FormState({}, problems_of(error), form_id=form_id)
        return _account_page(request, session, admin, account_id, state)
    except SurveyServiceError as error:
        if isinstance(error, RecordNotFoundError):
            raise
        text = str(error)
        state = FormState({}, {"": text[:1].upper() + text[1:]}, form_id=form_id)
        return _account_page(request, session, admin, account_id, state)
    return see_other(f"{ACCOUNTS}/{account_id}?done={done}")


@router.post(f"{ACCOUNTS}/{{account_id}}/roles", dependencies=[CsrfProtected])
def change_roles(
    request: Request,
    account_id: AccountPath,
    session: SessionDep,
    admin: AdminDep,
    roles: Annotated[list[str] | None, Form()] = None,
) -> Response:
    number = _admin_account_id(account_id)
    account_management.get_account(session, number)
    chosen = roles or []
    state = FormState({"roles": " ".join(chosen)}, form_id="roles")
    _roles(chosen, state)
    if state:
        return _account_page(request, session, admin, number, state)
    return _acted(
        request,
        session,
        admin,
        number,
        "roles",
        lambda: account_management.set_roles(session, admin, number, chosen),
        "roles",
    )


def _one_partnership(session: Session, text: str, state: FormState) -> int | None:
    parsed = canonical_id(text)
    if parsed is None or session.get(Partnership, parsed) is None:
        state.add("partnership", "Choose one of the listed partnerships")
        return None
    return parsed


@router.post(f"{ACCOUNTS}/{{account_id}}/grants", dependencies=[CsrfProtected])
def add_grant(
    request: Request,
    account_id: AccountPath,
    session: SessionDep,
    admin: AdminDep,
    partnership: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    number = _admin_account_id(account_id)
    account_management.get_account(session, number)
    state = FormState({"partnership": partnership}, form_id="grant")
    partnership_id = _one_partnership(session, partnership, state)
    if partnership_id is None:
        return _account_page(request, session, admin, number, state)
    account_management.add_grant(session, admin, number, partnership_id)
    return see_other(f"{ACCOUNTS}/{number}?done=granted")


@router.post(f"{ACCOUNTS}/{{account_id}}/grants/remove", dependencies=[CsrfProtected])
def remove_grant(
    request: Request,
    account_id: AccountPath,
    session: SessionDep,
    admin: AdminDep,
    partnership: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    number = _admin_account_id(account_id)
    account_management.get_account(session, number)
    state = FormState({"partnership": partnership}, form_id="grant")
    partnership_id = _one_partnership(session, partnership, state)
    if partnership_id is None:
        return _account_page(request, session, admin, number, state)
    account_management.remove_grant(session, admin, number, partnership_id)
    return see_other(f"{ACCOUNTS}/{number}?done=revoked")


@router.post(f"{ACCOUNTS}/{{account_id}}/disable", dependencies=[CsrfProtected])
def disable(
    request: Request, account_id: AccountPath, session: SessionDep, admin: AdminDep
) -> Response:
    number = _admin_account_id(account_id)
    return _acted(
        request,
        session,
        admin,
        number,
        "disabled",
        lambda: account_management.disable(session, admin, number),
        "state",
    )


@router.post(f"{ACCOUNTS}/{{account_id}}/enable", dependencies=[CsrfProtected])
def enable(
    request: Request, account_id: AccountPath, session: SessionDep, admin: AdminDep
) -> Response:
    number = _admin_account_id(account_id)
    account_management.enable(session, admin, number)
    return see_other(f"{ACCOUNTS}/{number}?done=enabled")


@router.post(f"{ACCOUNTS}/{{account_id}}/reset-password", dependencies=[CsrfProtected])
def send_reset_link(
    request: Request,
    account_id: AccountPath,
    session: SessionDep,
    admin: AdminDep,
    settings: SettingsDep,
    base: LinkBaseDep,
) -> Response:
    number = _admin_account_id(account_id)
    account = account_management.get_account(session, number)
    return _acted(
        request,
        session,
        admin,
        number,
        "link-sent",
        lambda: account_links.send_reset_link(
            session, admin, account, base, settings.account_link_hours
        ),
        "state",
    )


@router.get(f"{ACCOUNTS}/{{account_id}}/remove", response_class=HTMLResponse)
def remove_page(
    request: Request, account_id: AccountPath, session: SessionDep, admin: AdminDep
) -> Response:
    number = _admin_account_id(account_id)
    row = account_management.account_row(session, number)
    page = RemoveAccountPage(account=admin, form=None, row=row, is_self=number == admin.id)
    return _page(request, "admin/remove_account.html", page)


@router.post(f"{ACCOUNTS}/{{account_id}}/remove", dependencies=[CsrfProtected])
def remove(
    request: Request,
    account_id: AccountPath,
    session: SessionDep,
    admin: AdminDep,
    confirm_email: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    number = _admin_account_id(account_id)
    row = account_management.account_row(session, number)
    state = FormState({"confirm_email": confirm_email})
    if confirm_email.strip().lower() != row.account.email:
        state.add("confirm_email", "Type the account's e-mail address exactly, to confirm")
    else:
        try:
            account_management.remove(session, admin, number)
        except SurveyServiceError as error:
            text = str(error)
            state.add("", text[:1].upper() + text[1:])
        else:
            return see_other(f"{ACCOUNTS}?done=removed")
    page = RemoveAccountPage(account=admin, form=state, row=row, is_self=number == admin.id)
    return _page(request, "admin/remove_account.html", page, state)


# -- a partnership's coordinators -------------------------------------------------------------


def _access_page(
    request: Request,
    session: Session,
    coordinator: Account,
    partnership_id: int,
    form: FormState | None = None,
) -> Response:
    page = PartnershipAccessPage(
        coordinator=coordinator,
        form=form,
        partnership=partnerships.get_partnership(session, partnership_id),
        members=account_management.partnership_members(session, partnership_id),
        roles=PARTNERSHIP_ROLE_CHOICES,
    )
    return _page(request, "coordinator/access.html", page, form)


@router.get("/coordinator/partnerships/{partnership_id}/access", response_class=HTMLResponse)
def access_page(
    request: Request,
    partnership_id: PagePartnershipId,
    session: SessionDep,
    coordinator: PageCoordinatorDep,
) -> Response:
    return _access_page(request, session, coordinator, partnership_id)


@router.post(
    "/coordinator/partnerships/{partnership_id}/access",
    response_class=HTMLResponse,
    dependencies=[CsrfProtected],
)
def invite_to_partnership(
    request: Request,
    partnership_id: PagePartnershipId,
    session: SessionDep,
    coordinator: PageCoordinatorDep,
    settings: SettingsDep,
    base: LinkBaseDep,
    email: Annotated[str, Form(max_length=1000)] = "",
    role: Annotated[str, Form(max_length=50)] = "",
) -> Response:
    state = FormState({"email": email, "role": role})
    if email_problem(email) is not None:
        state.add("email", "Enter an e-mail address, like name@example.nhs.uk")
    if role not in PARTNERSHIP_ROLE_CHOICES:
        state.add("role", "Choose evaluator or coordinator")
    if not state:
        try:
            account_management.invite_to_partnership(
                session,
                coordinator,
                partnership_id,
                email,
                role,
                base,
                settings.account_link_hours,
            )
        except SurveyServiceError as error:
            for name, message in problems_of(error, "email").items():
                state.add(name, message)
        else:
            return see_other(f"/coordinator/partnerships/{partnership_id}/access?done=invited")
    return _access_page(request, session, coordinator, partnership_id, state)


@router.post(
    "/coordinator/partnerships/{partnership_id}/access/{account_id}/remove",
    dependencies=[CsrfProtected],
)
def remove_access(
    request: Request,
    partnership_id: PagePartnershipId,
    account_id: PageMemberAccountId,
    session: SessionDep,
    coordinator: PageCoordinatorDep,
) -> Response:
    try:
        account_management.remove_partnership_grant(
            session, coordinator, partnership_id, account_id
        )
    except SurveyServiceError as error:
        if isinstance(error, RecordNotFoundError):
            raise
        text = str(error)
        state = FormState({}, {"": text[:1].upper() + text[1:]})
        return _access_page(request, session, coordinator, partnership_id, state)
    return see_other(f"/coordinator/partnerships/{partnership_id}/access?done=removed")
