"""Request dependencies: settings, the signed-in coordinator, CSRF checks, link bases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from app.database import SessionDep
from app.models import Coordinator
from app.security import csrf_token_matches
from app.services import coordinators
from app.services.coordinators import authenticate
from app.services.errors import RecordNotFoundError
from app.settings import Settings

SESSION_COORDINATOR_KEY = "coordinator_id"


class LoginRequiredError(Exception):
    """A coordinator page was asked for without signing in."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def _signed_in(request: Request, session: SessionDep) -> Coordinator | None:
    coordinator_id = request.session.get(SESSION_COORDINATOR_KEY)
    if not isinstance(coordinator_id, int):
        return None
    return session.get(Coordinator, coordinator_id)


def _in_scope(request: Request, session: SessionDep, coordinator: Coordinator) -> Coordinator:
    """The coordinator, if they may run what the path names: a ``partnership_id`` or a
    ``round_id`` of a partnership granted to them (admins: any).  Anything else, and any
    account that is not a coordinator or an admin, is "not found", as an unknown id is."""
    if coordinator.role not in coordinators.COORDINATING_ROLES:
        raise RecordNotFoundError("page", request.url.path)
    for name, check in (
        ("partnership_id", coordinators.coordinated_partnership),
        ("round_id", coordinators.coordinated_round),
    ):
        text = str(request.path_params.get(name, ""))
        if text.isascii() and text.isdigit() and 1 <= int(text) <= 2_147_483_647:
            check(session, coordinator, int(text))
    return coordinator


def page_coordinator(request: Request, session: SessionDep) -> Coordinator:
    coordinator = _signed_in(request, session)
    if coordinator is None:
        raise LoginRequiredError(request.url.path)
    return _in_scope(request, session, coordinator)


PageCoordinatorDep = Annotated[Coordinator, Depends(page_coordinator)]

_basic = HTTPBasic(auto_error=False, description="A coordinator's e-mail and password")


def api_coordinator(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
) -> Coordinator:
    """The coordinator of a signed-in browser session, or of HTTP Basic credentials."""
    coordinator = _signed_in(request, session)
    if coordinator is None and credentials is not None:
        coordinator = authenticate(session, credentials.username, credentials.password)
    if coordinator is None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="sign in as a coordinator (HTTP Basic: e-mail and password)",
            headers={"WWW-Authenticate": "Basic"},
        )
    return _in_scope(request, session, coordinator)


ApiCoordinatorDep = Annotated[Coordinator, Depends(api_coordinator)]


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
    """Where respondent links start: PUBLIC_BASE_URL, else this request's own base."""
    return (settings.public_base_url or str(request.base_url)).rstrip("/")


LinkBaseDep = Annotated[str, Depends(link_base)]


def respondent_link(base: str, token: str) -> str:
    return f"{base}/s/{token}"
