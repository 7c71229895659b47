"""Coordinator pages behind a login: partnerships, organisations, rounds, links, progress."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.database import SessionDep
from app.instruments import background_choices
from app.services import coordinators, invitations, partnerships, rounds
from app.web.deps import (
    SESSION_COORDINATOR_KEY,
    CsrfProtected,
    LinkBaseDep,
    PageCoordinatorDep,
    PagePartnershipId,
    PageRoundId,
    SettingsDep,
    respondent_link,
    sign_in,
    sign_out,
)
from app.web.redirects import safe_next, see_other
from app.web.schemas import optional_record_id
from app.web.templating import templates

router = APIRouter(include_in_schema=False)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: str) -> str:
    """A CSV cell a spreadsheet shows as text: one that starts like a formula (``=``, ``+``,
    ``-``, ``@``, tab or carriage return) gets a leading ``'``, as OWASP advises."""
    return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell


@router.get("/")
def home() -> RedirectResponse:
    return see_other("/coordinator")


@router.get("/coordinator/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/coordinator") -> Response:
    return templates.TemplateResponse(request, "coordinator/login.html", {"next": next})


@router.post("/coordinator/login", dependencies=[CsrfProtected])
def login(
    request: Request,
    session: SessionDep,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form()] = "/coordinator",
) -> Response:
    coordinator = coordinators.authenticate(session, email, password)
    if coordinator is None:
        return templates.TemplateResponse(
            request,
            "coordinator/login.html",
            {"next": next, "email": email, "failed": True},
            status_code=status.HTTP_401_UNAUTHORIZED,
        )
    sign_in(request, session, coordinator, SESSION_COORDINATOR_KEY)
    return see_other(safe_next(next, ("/coordinator",), "/coordinator"))


@router.post("/coordinator/logout", dependencies=[CsrfProtected])
def logout(request: Request, session: SessionDep) -> Response:
    sign_out(request, session)
    return see_other("/coordinator/login")


@router.get("/coordinator", response_class=HTMLResponse)
def dashboard(request: Request, session: SessionDep, coordinator: PageCoordinatorDep) -> Response:
    return templates.TemplateResponse(
        request,
        "coordinator/dashboard.html",
        {
            "coordinator": coordinator,
            "partnerships": partnerships.list_partnerships(
                session, coordinators.coordinating_scope(session, coordinator)
            ),
            "care_models": background_choices("care_model"),
        },
    )


@router.post("/coordinator/partnerships", dependencies=[CsrfProtected])
def create_partnership(
    session: SessionDep,
    coordinator: PageCoordinatorDep,
    name: Annotated[str, Form(max_length=200)],
    care_model: Annotated[str, Form(max_length=64)],
) -> Response:
    partnership = partnerships.create_partnership(
        session, name, care_model, granted_to=coordinator.id
    )
    return see_other(f"/coordinator/partnerships/{partnership.id}")


@router.get("/coordinator/partnerships/{partnership_id}", response_class=HTMLResponse)
def partnership_page(
    request: Request,
    partnership_id: PagePartnershipId,
    session: SessionDep,
    coordinator: PageCoordinatorDep,
    settings: SettingsDep,
) -> Response:
    return templates.TemplateResponse(
        request,
        "coordinator/partnership.html",
        {
            "coordinator": coordinator,
            "partnership": partnerships.get_partnership(session, partnership_id),
            "organisations": partnerships.list_organisations(session, partnership_id),
            "rounds": rounds.list_rounds(session, partnership_id),
            "organisation_types": background_choices("organisation_type"),
            "care_models": background_choices("care_model"),
            "today": rounds.today(),
            "threshold": settings.anonymity_threshold,
            "round_state": rounds.round_state,
        },
    )


@router.post(
    "/coordinator/partnerships/{partnership_id}/organisations", dependencies=[CsrfProtected]
)
def add_organisation(
    partnership_id: PagePartnershipId,
    session: SessionDep,
    name: Annotated[str, Form(max_length=200)],
    organisation_type: Annotated[str, Form(max_length=64)],
) -> Response:
    partnerships.add_organisation(session, partnership_id, name, organisation_type)
    return see_other(f"/coordinator/partnerships/{partnership_id}")


@router.post("/coordinator/partnerships/{partnership_id}/rounds", dependencies=[CsrfProtected])
def open_round(
    partnership_id: PagePartnershipId,
    session: SessionDep,
    settings: SettingsDep,
    title: Annotated[str, Form(max_length=200)],
    opens_on: Annotated[date, Form()],
    closes_on: Annotated[date, Form()],
    anonymity_threshold: Annotated[int, Form(ge=3, le=1000)],
    release_policy: Annotated[str, Form(max_length=16)] = "at-close",
) -> Response:
    survey_round = rounds.open_round(
        session,
        partnership_id,
        title=title,
        opens_on=opens_on,
        closes_on=closes_on,
        anonymity_threshold=anonymity_threshold,
        instrument_id=settings.instrument,
        release_policy=release_policy,
    )
    return see_other(f"/coordinator/rounds/{survey_round.id}")


@router.get("/coordinator/rounds/{round_id}", response_class=HTMLResponse)
def round_page(
    request: Request,
    round_id: PageRoundId,
    session: SessionDep,
    coordinator: PageCoordinatorDep,
    settings: SettingsDep,
) -> Response:
    survey_round = rounds.get_round(session, round_id)
    return templates.TemplateResponse(
        request,
        "coordinator/round.html",
        {
            "coordinator": coordinator,
            "round": survey_round,
            "state": rounds.round_state(survey_round),
            "partnership": partnerships.get_partnership(session, survey_round.partnership_id),
            "organisations": partnerships.list_organisations(session, survey_round.partnership_id),
            "progress": rounds.round_progress(session, round_id),
            "most_links": settings.max_links_per_request,
        },
    )


@router.post("/coordinator/rounds/{round_id}/links", dependencies=[CsrfProtected])
def personal_links_csv(
    round_id: PageRoundId,
    session: SessionDep,
    settings: SettingsDep,
    base: LinkBaseDep,
    count: Annotated[int, Form(ge=1)],
    organisation_id: Annotated[str, Form()] = "",
) -> Response:
    chosen = optional_record_id(organisation_id, "organisation_id")
    tokens = invitations.create_personal_links(
        session,
        round_id,
        organisation_id=chosen,
        count=count,
        most=settings.max_links_per_request,
    )
    name = ""
    if chosen is not None:
        survey_round = rounds.get_round(session, round_id)
        name = partnerships.get_organisation(session, survey_round.partnership_id, chosen).name
    sheet = io.StringIO()
    writer = csv.writer(sheet)
    writer.writerow(["organisation", "link"])
    writer.writerows([spreadsheet_safe(name), respondent_link(base, token)] for token in tokens)
    return Response(
        sheet.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="round-{round_id}-links.csv"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/coordinator/rounds/{round_id}/open-link", dependencies=[CsrfProtected])
def open_link(
    request: Request,
    round_id: PageRoundId,
    session: SessionDep,
    coordinator: PageCoordinatorDep,
    base: LinkBaseDep,
) -> Response:
    token = invitations.create_open_link(session, round_id)
    return templates.TemplateResponse(
        request,
        "coordinator/open_link.html",
        {
            "coordinator": coordinator,
            "round": rounds.get_round(session, round_id),
            "link": respondent_link(base, token),
        },
        headers={"Cache-Control": "no-store"},
    )


@router.post("/coordinator/rounds/{round_id}/close", dependencies=[CsrfProtected])
def close_round(round_id: PageRoundId, session: SessionDep) -> Response:
    rounds.close_round(session, round_id)
    return see_other(f"/coordinator/rounds/{round_id}")
