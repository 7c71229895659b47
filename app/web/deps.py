"""Request dependencies: settings, who is signed in, CSRF and Origin checks, scoped ids, link
bases.

Signing in stores a row (:class:`app.models.AccountSession`) holding the SHA-256 of a random
secret; the signed session cookie carries only that secret (one sign-in, at ``/sign-in``,
for every role).  Every request finds its account through the row, so signing out (which
deletes it) or disabling the account ends the session at once, wherever the cookie was
copied to, and a cookie forged with the signing key names no account.

Ids in a path are read once, by the dependencies below (``PagePartnershipId``, ``ApiRoundId``,
...): canonical digits only, else 404; the partnership scope is checked on that parsed id, and
the route receives the same integer.  No route reads an id from its path any other way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import (
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)
from sqlmodel import Session

from app.database import SessionDep
from app.models import Account, AccountRole
from app.security import csrf_token_matches
from app.services import account_management, accounts, api_tokens, partnerships, second_factor
from app.services.accounts import authenticate
from app.services.errors import RecordNotFoundError
from app.settings import Settings
from app.web.schemas import ID_PATTERN, canonical_id

SESSION_KEY = "account_session"
SIGN_IN_PATH = "/sign-in"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "x-csrf-token"


class LoginRequiredError(Exception):
    """A page behind the sign-in was asked for without signing in."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def signed_in_account(request: Request, session: Session) -> Account | None:
    """The account of this browser's live, enabled sign-in, else ``None`` (also when one of
    its roles requires a second factor it has not set up: it signs in again and sets one up)."""
    secret = request.session.get(SESSION_KEY)
    if isinstance(secret, str):
        account = accounts.account_for_session(session, secret)
        if account is not None and second_factor.blocked(session, account):
            return None
        return account
    return None


BASIC_REFUSED = (
    "this account signs in with a second factor, so HTTP Basic (e-mail and password) is "
    "refused: make a personal API token on your account's API tokens page (/account/tokens, "
    "or `trust-survey token create`) and send it as `Authorization: Bearer <token>`"
)


def basic_account(
    session: Session, credentials: HTTPBasicCredentials, roles: frozenset[str]
) -> Account | None:
    """The account of HTTP Basic credentials with one of ``roles``, else ``None``.  An account
    that signs in with a second factor (or whose role requires one) is refused (401): the
    password alone must not be enough anywhere."""
    account = authenticate(session, credentials.username, credentials.password, roles)
    if account is not None and second_factor.asks_for_code(session, account):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail=BASIC_REFUSED,
            headers={"WWW-Authenticate": "Bearer"},
        )
    return account


def sign_in(request: Request, session: Session, account: Account, *, pending: bool = False) -> None:
    """Start a server-side session for ``account``; the cookie holds only its secret.

    ``pending``: the password was right but a second factor is still to come; the session
    counts as signed in only once :func:`app.services.accounts.complete_session` says so.
    """
    sign_out(request, session)
    request.session[SESSION_KEY] = accounts.start_session(session, account, pending=pending)


def sign_out(request: Request, session: Session) -> None:
    """End this browser's session on the server and empty its cookie."""
    secret = request.session.get(SESSION_KEY)
    if isinstance(secret, str):
        accounts.end_session(session, secret)
    request.session.clear()


def session_secret(request: Request) -> str | None:
    secret = request.session.get(SESSION_KEY)
    return secret if isinstance(secret, str) else None


def _signed_in_coordinator(request: Request, session: SessionDep) -> Account | None:
    return signed_in_account(request, session)


def _coordinating(request: Request, coordinator: Account) -> Account:
    """Any account that is not a coordinator or an admin is "not found", as an unknown id is."""
    if not coordinator.has_any_role(accounts.COORDINATING_ROLES):
        raise RecordNotFoundError("page", request.url.path)
    return coordinator


def page_coordinator(request: Request, session: SessionDep) -> Account:
    coordinator = _signed_in_coordinator(request, session)
    if coordinator is None:
        raise LoginRequiredError(request.url.path)
    return _coordinating(request, coordinator)


PageCoordinatorDep = Annotated[Account, Depends(page_coordinator)]

_basic = HTTPBasic(auto_error=False, description="A coordinator's e-mail and password")


_bearer = HTTPBearer(
    auto_error=False,
    description="A personal API token (`trust-survey token create`, or the account's "
    "API tokens page): checked with one keyed hash, where HTTP Basic costs a password hash",
)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def token_account(
    request: Request, session: Session, bearer: HTTPAuthorizationCredentials, roles: frozenset[str]
) -> Account | None:
    """The account of a live personal API token with one of ``roles``, else ``None``."""
    secret_key: str = request.app.state.secret_key
    return api_tokens.account_for_token(session, secret_key, bearer.credentials, roles)


def _own_origins(request: Request, settings: Settings) -> set[str]:
    """The ``host[:port]`` this site is reached at: the request's Host and PUBLIC_BASE_URL's."""
    own = {request.headers.get("host", "").lower()}
    if settings.public_base_url:
        own.add(urlsplit(settings.public_base_url).netloc.lower())
    return own - {""}


def refuse_cross_site(request: Request, settings: Settings, *, by_cookie: bool) -> None:
    """Refuse a state-changing API call that another site could have made.

    A browser names the page's site in ``Origin`` on every POST, PUT, PATCH and DELETE: one
    that is not this site is refused whoever is signed in (a browser may also replay HTTP
    Basic credentials it remembers).  A call signed in by the session cookie must moreover
    show it came from this site: ``Origin`` of this site, or the session's CSRF token in an
    ``X-CSRF-Token`` header.  Scripts using HTTP Basic send no ``Origin`` and are unaffected.
    """
    if request.method not in UNSAFE_METHODS:
        return
    origin = request.headers.get("origin")
    if origin is not None:
        if urlsplit(origin).netloc.lower() in _own_origins(request, settings):
            return
        raise HTTPException(
            status_code=status.HTTP_403_FORBIDDEN,
            detail=f"refused: this request came from another site ({origin[:100]})",
        )
    if by_cookie and not csrf_token_matches(request.session, request.headers.get(CSRF_HEADER)):
        raise HTTPException(
            status_code=status.HTTP_403_FORBIDDEN,
            detail="refused: a signed-in browser's request must come from this site "
            "(an Origin header of this site, or the X-CSRF-Token header of the session)",
        )


def api_coordinator(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
    bearer: BearerDep,
) -> Account:
    """The coordinator of a signed-in browser session, of a personal API token (Bearer), or
    of HTTP Basic credentials."""
    coordinator = _signed_in_coordinator(request, session)
    by_cookie = coordinator is not None
    if coordinator is None and bearer is not None:
        coordinator = token_account(request, session, bearer, accounts.COORDINATING_ROLES)
    elif coordinator is None and credentials is not None:
        coordinator = basic_account(session, credentials, frozenset(AccountRole))
    if coordinator is None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="sign in as a coordinator (a personal API token as Bearer, or HTTP Basic: "
            "e-mail and password)",
            headers={"WWW-Authenticate": "Bearer, Basic"},
        )
    refuse_cross_site(request, settings, by_cookie=by_cookie)
    return _coordinating(request, coordinator)


ApiCoordinatorDep = Annotated[Account, Depends(api_coordinator)]

_ID_SCHEMA = {"pattern": f"^{ID_PATTERN.pattern}$"}
PartnershipPath = Annotated[
    str, Path(description="A partnership's id (digits)", json_schema_extra=_ID_SCHEMA)
]
RoundPath = Annotated[str, Path(description="A round's id (digits)", json_schema_extra=_ID_SCHEMA)]
OrganisationPath = Annotated[
    str, Path(description="An organisation's id (digits)", json_schema_extra=_ID_SCHEMA)
]
AccountPath = Annotated[
    str, Path(description="An account's id (digits)", json_schema_extra=_ID_SCHEMA)
]
ScopeCheck = Callable[[Session, Account, int], None]


def path_id(text: str, kind: str) -> int:
    """The id a path names, written canonically; anything else is "not found"."""
    parsed = canonical_id(text)
    if parsed is None:
        raise RecordNotFoundError(kind, "with that id")
    return parsed


def _scoped(session: Session, coordinator: Account, text: str, kind: str, check: ScopeCheck) -> int:
    parsed = path_id(text, kind)
    check(session, coordinator, parsed)
    return parsed


def page_partnership_id(
    partnership_id: PartnershipPath, session: SessionDep, coordinator: PageCoordinatorDep
) -> int:
    """The path's partnership, if the signed-in coordinator runs it (else 404)."""
    check = accounts.coordinated_partnership
    return _scoped(session, coordinator, partnership_id, "partnership", check)


def page_round_id(round_id: RoundPath, session: SessionDep, coordinator: PageCoordinatorDep) -> int:
    """The path's round, if the signed-in coordinator runs its partnership (else 404)."""
    return _scoped(session, coordinator, round_id, "round", accounts.coordinated_round)


def api_partnership_id(
    partnership_id: PartnershipPath, session: SessionDep, coordinator: ApiCoordinatorDep
) -> int:
    check = accounts.coordinated_partnership
    return _scoped(session, coordinator, partnership_id, "partnership", check)


def api_round_id(round_id: RoundPath, session: SessionDep, coordinator: ApiCoordinatorDep) -> int:
    return _scoped(session, coordinator, round_id, "round", accounts.coordinated_round)


PagePartnershipId = Annotated[int, Depends(page_partnership_id)]
PageRoundId = Annotated[int, Depends(page_round_id)]
ApiPartnershipId = Annotated[int, Depends(api_partnership_id)]
ApiRoundId = Annotated[int, Depends(api_round_id)]


def _member(session: Session, partnership_id: int, organisation_id: OrganisationPath) -> int:
    parsed = path_id(organisation_id, "organisation")
    partnerships.get_organisation(session, partnership_id, parsed)  # of that partnership
    return parsed


def page_organisation_id(
    organisation_id: OrganisationPath, partnership_id: PagePartnershipId, session: SessionDep
) -> int:
    """The path's organisation, if it belongs to the path's partnership (itself in scope)."""
    return _member(session, partnership_id, organisation_id)


def api_organisation_id(
    organisation_id: OrganisationPath, partnership_id: ApiPartnershipId, session: SessionDep
) -> int:
    return _member(session, partnership_id, organisation_id)


PageOrganisationId = Annotated[int, Depends(page_organisation_id)]
ApiOrganisationId = Annotated[int, Depends(api_organisation_id)]


def page_member_account_id(
    account_id: AccountPath, partnership_id: PagePartnershipId, session: SessionDep
) -> int:
    """The path's account, if it is granted the path's partnership (itself in scope) and is
    not an admin; else 404."""
    parsed = path_id(account_id, "account")
    account_management.granted_member(session, partnership_id, parsed)
    return parsed


PageMemberAccountId = Annotated[int, Depends(page_member_account_id)]
PATH_ID_DEPENDENCIES = frozenset(
    {
        page_member_account_id,
        page_partnership_id,
        page_round_id,
        api_partnership_id,
        api_round_id,
        page_organisation_id,
        api_organisation_id,
    }
)


async def require_csrf(request: Request) -> None:
    """Refuse a form post whose ``csrf_token`` does not match the browser session's."""
    form = await request.form()
    if not csrf_token_matches(request.session, form.get("csrf_token")):
        raise HTTPException(
            status_code=status.HTTP_403_FORBIDDEN,
            detail="the form has expired or came from another site; go back and try again",
        )


CsrfProtected = Depends(require_csrf)


def link_base(request: Request, settings: SettingsDep) -> str:
    """Where respondent links start: PUBLIC_BASE_URL, else this request's own base (whose
    host the trusted-host check has already vetted)."""
    return (settings.public_base_url or str(request.base_url)).rstrip("/")


LinkBaseDep = Annotated[str, Depends(link_base)]


def respondent_link(base: str, token: str) -> str:
    return f"{base}/s/{token}"
