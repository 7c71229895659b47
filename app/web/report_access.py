"""Who is reading: the signed-in evaluator, analyst or admin, for pages and for the API.

Not signed in: pages send the browser to ``/sign-in`` and the API answers 401. Signed in
without the right (a coordinator, an evaluator of another partnership, an id that does not
exist): 404, the same answer whatever the reason.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from app.database import SessionDep
from app.models import Account
from app.services import reports
from app.services.errors import RecordNotFoundError
from app.services.reports import Viewer
from app.web import deps
from app.web.deps import (
    BearerDep,
    SettingsDep,
    path_id,
    refuse_cross_site,
)


def signed_in_account(request: Request, session: SessionDep) -> Account | None:
    """The account of this browser's live sign-in."""
    return deps.signed_in_account(request, session)


def page_viewer(request: Request, session: SessionDep) -> Viewer:
    account = signed_in_account(request, session)
    if account is None:
        raise HTTPException(
            status_code=status.HTTP_303_SEE_OTHER,
            headers={"Location": f"/sign-in?next={quote(request.url.path)}"},
        )
    viewer = reports.viewer_for(session, account)
    if viewer is None:
        raise RecordNotFoundError("page", request.url.path)
    return viewer


PageViewerDep = Annotated[Viewer, Depends(page_viewer)]


def analyst_page_viewer(viewer: PageViewerDep, request: Request) -> Viewer:
    if not viewer.is_analyst:
        raise RecordNotFoundError("page", request.url.path)
    return viewer


AnalystPageDep = Annotated[Viewer, Depends(analyst_page_viewer)]

_basic = HTTPBasic(
    auto_error=False, description="An evaluator's, analyst's or admin's e-mail and password"
)


def api_viewer(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
    bearer: BearerDep,
) -> Viewer:
    account = signed_in_account(request, session)
    by_cookie = account is not None
    if account is None and bearer is not None:
        account = deps.token_account(request, session, bearer, reports.REPORT_ROLES)
    elif account is None and credentials is not None:
        account = deps.basic_account(session, credentials, frozenset(reports.REPORT_ROLES))
    if account is None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="sign in as an evaluator, analyst or admin (a personal API token as Bearer, "
            "or HTTP Basic: e-mail and password)",
            headers={"WWW-Authenticate": "Bearer, Basic"},
        )
    refuse_cross_site(request, settings, by_cookie=by_cookie)
    viewer = reports.viewer_for(session, account)
    if viewer is None:
        raise RecordNotFoundError("resource", request.url.path)
    return viewer


ApiViewerDep = Annotated[Viewer, Depends(api_viewer)]


def api_analyst(viewer: ApiViewerDep, request: Request) -> Viewer:
    if not viewer.is_analyst:
        raise RecordNotFoundError("resource", request.url.path)
    return viewer


ApiAnalystDep = Annotated[Viewer, Depends(api_analyst)]


def report_round_id(round_id: str) -> int:
    """A round id from a report path: canonical digits only, else "not found".  Whether the
    reader may read the round is decided on this integer (``reports.readable_round``)."""
    return path_id(round_id, "round")
