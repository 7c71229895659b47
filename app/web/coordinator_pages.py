"""Coordinator pages behind a login: partnerships, organisations, rounds, links, progress."""

from __future__ import annotations

import csv
import io
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from analysis.instrument import Instrument
from app.database import SessionDep
from app.models import Account
from app.services import accounts, instruments, invitations, partnerships, reports, rounds
from app.services.errors import SurveyServiceError
from app.settings import MINIMUM_ANONYMITY_THRESHOLD, Settings
from app.web.deps import (
    CsrfProtected,
    LinkBaseDep,
    PageCoordinatorDep,
    PagePartnershipId,
    PageRoundId,
    SettingsDep,
    respondent_link,
)
from app.web.forms import (
    FormState,
    parse_choice,
    parse_date,
    parse_optional_id,
    parse_whole_number,
    problems_of,
)
from app.web.pages import (
    CoordinatorDashboardPage,
    CoordinatorPartnershipPage,
    CoordinatorRoundPage,
)
from app.web.redirects import see_other
from app.web.templating import templates

router = APIRouter(include_in_schema=False)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: str) -> str:
    """A CSV cell a spreadsheet shows as text: one that starts like a formula (``=``, ``+``,
    ``-``, ``@``, tab or carriage return) gets a leading ``'``, as OWASP advises."""
    return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell


def _default_instrument(session: Session, settings: Settings) -> Instrument:
    """The newest version of the INSTRUMENT setting's instrument (partnership and
    organisation descriptions, new rounds' default)."""
    version = instruments.newest_version(session, settings.instrument)
    return instruments.stored_instrument(session, settings.instrument, version)


def _dashboard(
    request: Request,
    session: Session,
    coordinator: Account,
    settings: Settings,
    form: FormState | None = None,
) -> Response:
    default = _default_instrument(session, settings)
    return templates.TemplateResponse(
        request,
        "coordinator/dashboard.html",
        CoordinatorDashboardPage(
            coordinator=coordinator,
            partnerships=partnerships.list_partnerships(
                session, accounts.coordinating_scope(session, coordinator)
            ),
            partnership_kinds=instruments.attribute_choices(
                session, "partnership_attribute", default
            ),
            partnership_kind_labels=instruments.attribute_labels(session, "partnership_attribute"),
            form=form,
        ),
        status_code=422 if form else 200,
    )


@router.get("/coordinator", response_class=HTMLResponse)
def dashboard(
    request: Request, session: SessionDep, coordinator: PageCoordinatorDep, settings: SettingsDep
) -> Response:
    return _dashboard(request, session, coordinator, settings)


@router.post("/coordinator/partnerships", dependencies=[CsrfProtected])
def create_partnership(
    request: Request,
    session: SessionDep,
    coordinator: PageCoordinatorDep,
    settings: SettingsDep,
    name: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    form = FormState({"name": name, "kind": kind}, form_id="partnership")
    try:
        partnership = partnerships.create_partnership(
            session, name, kind, granted_to=coordinator.id, actor=coordinator
        )
    except SurveyServiceError as error:
        form.problems = problems_of(error)
        return _dashboard(request, session, coordinator, settings, form)
    return see_other(f"/coordinator/partnerships/{partnership.id}")


def partnership_page_response(
    request: Request,
    session: Session,
    coordinator: Account,
    settings: Settings,
    partnership_id: int,
    form: FormState | None = None,
) -> Response:
    """The partnership page, with a form's problems (status 422) when given."""
    default = _default_instrument(session, settings)
    listed = rounds.list_rounds(session, partnership_id)
    choices = instruments.instrument_choices(session)
    default_key = next((c.key for c in choices if c.instrument_id == default.id and c.newest), "")
    organisations = partnerships.list_organisations(session, partnership_id)
    return templates.TemplateResponse(
        request,
        "coordinator/partnership.html",
        CoordinatorPartnershipPage(
            coordinator=coordinator,
            partnership=partnerships.get_partnership(session, partnership_id),
            organisations=organisations,
            removable={o.id: partnerships.removable(session, o.id) for o in organisations if o.id},
            rounds=listed,
            organisation_kinds=instruments.attribute_choices(
                session, "organisation_attribute", default
            ),
            organisation_kind_labels=instruments.attribute_labels(
                session, "organisation_attribute"
            ),
            partnership_kind_labels=instruments.attribute_labels(session, "partnership_attribute"),
            instrument_choices={c.key: c.label for c in choices},
            default_instrument=default_key,
            today=rounds.today(),
            threshold=settings.anonymity_threshold,
            round_state=rounds.round_state,
            form=form,
        ),
        status_code=422 if form else 200,
    )


@router.get("/coordinator/partnerships/{partnership_id}", response_class=HTMLResponse)
def partnership_page(
    request: Request,
    partnership_id: PagePartnershipId,
    session: SessionDep,
    coordinator: PageCoordinatorDep,
    settings: SettingsDep,
) -> Response:
    return partnership_page_response(request, session, coordinator, settings, partnership_id)


@router.post(
    "/coordinator/partnerships/{partnership_id}/organisations", dependencies=[CsrfProtected]
)
def add_organisation(
    request: Request,
    partnership_id: PagePartnershipId,
    session: SessionDep,
    coordinator: PageCoordinatorDep,
    settings: SettingsDep,
    name: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    form = FormState({"name": name, "kind": kind}, form_id="organisation")
    try:
        partnerships.add_organisation(session, partnership_id, name, kind, actor=coordinator)
    except SurveyServiceError as error:
        form.problems = problems_of(error)
        return partnership_page_response(
            request, session, coordinator, settings, partnership_id, form
        )
    return see_other(f"/coordinator/partnerships/{partnership_id}#organisations")


ROUND_FIELDS = ("title", "instrument", "anonymity_threshold", "release_policy")
RELEASE_POLICIES = {
    "at-close": "When the round closes (recommended)",
    "interim": "Interim results while open",
}


@router.post("/coordinator/partnerships/{partnership_id}/rounds", dependencies=[CsrfProtected])
def open_round(
    request: Request,
    partnership_id: PagePartnershipId,
    session: SessionDep,
    coordinator: PageCoordinatorDep,
    settings: SettingsDep,
    title: Annotated[str, Form(max_length=200)] = "",
    instrument: Annotated[str, Form(max_length=100)] = "",
    anonymity_threshold: Annotated[str, Form(max_length=20)] = "",
    release_policy: Annotated[str, Form(max_length=16)] = "",
    opens_day: Annotated[str, Form(alias="opens_on-day", max_length=10)] = "",
    opens_month: Annotated[str, Form(alias="opens_on-month", max_length=10)] = "",
    opens_year: Annotated[str, Form(alias="opens_on-year", max_length=10)] = "",
    closes_day: Annotated[str, Form(alias="closes_on-day", max_length=10)] = "",
    closes_month: Annotated[str, Form(alias="closes_on-month", max_length=10)] = "",
    closes_year: Annotated[str, Form(alias="closes_on-year", max_length=10)] = "",
    opens_on: Annotated[str, Form(max_length=20)] = "",
    closes_on: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    posted = {
        "opens_on": opens_on,
        "closes_on": closes_on,
        "title": title,
        "instrument": instrument,
        "anonymity_threshold": anonymity_threshold,
        "release_policy": release_policy,
        "opens_on-day": opens_day,
        "opens_on-month": opens_month,
        "opens_on-year": opens_year,
        "closes_on-day": closes_day,
        "closes_on-month": closes_month,
        "closes_on-year": closes_year,
    }
    return _open_round(request, partnership_id, session, coordinator, settings, posted)


def _open_round(
    request: Request,
    partnership_id: int,
    session: Session,
    coordinator: Account,
    settings: Settings,
    posted: dict[str, str],
) -> Response:
    form = FormState(posted, form_id="round")
    title = posted.get("title", "")
    if (problem := rounds.title_problem(title)) is not None:
        form.add("title", problem)
    opens_on = parse_date(posted, "opens_on", form)
    closes_on = parse_date(posted, "closes_on", form)
    if closes_on is not None and (problem := rounds.closing_date_problem(closes_on)):
        form.add("closes_on", problem)
    if opens_on and closes_on and closes_on < opens_on:
        form.add("closes_on", "The closing date must be the same as or after the opening date")
    threshold = parse_whole_number(
        posted, "anonymity_threshold", form, low=MINIMUM_ANONYMITY_THRESHOLD, high=1000
    )
    if not posted.get("release_policy"):
        posted["release_policy"] = "at-close"
    policy = parse_choice(posted, "release_policy", RELEASE_POLICIES, form)
    choices = {c.key: c for c in instruments.instrument_choices(session)}
    if not posted.get("instrument"):
        default = _default_instrument(session, settings)
        posted["instrument"] = f"{default.id}@{default.version}"
    labels = {key: choice.label for key, choice in choices.items()}
    chosen = parse_choice(posted, "instrument", labels, form)
    if form or opens_on is None or closes_on is None or threshold is None:
        return partnership_page_response(
            request, session, coordinator, settings, partnership_id, form
        )
    assert chosen is not None and policy is not None
    try:
        survey_round = rounds.open_round(
            session,
            partnership_id,
            title=title,
            opens_on=opens_on,
            closes_on=closes_on,
            anonymity_threshold=threshold,
            instrument_id=choices[chosen].instrument_id,
            instrument_version=choices[chosen].version,
            release_policy=policy,
            actor=coordinator,
        )
    except SurveyServiceError as error:
        form.problems = problems_of(error, "title")
        return partnership_page_response(
            request, session, coordinator, settings, partnership_id, form
        )
    return see_other(f"/coordinator/rounds/{survey_round.id}")


def _reads_report(session: Session, account: Account, partnership_id: int) -> bool:
    """Whether ``account`` may open the reports of ``partnership_id`` (as the reports do)."""
    viewer = reports.viewer_for(session, account)
    return viewer is not None and viewer.may_read(partnership_id)


def round_page_response(
    request: Request,
    session: Session,
    coordinator: Account,
    settings: Settings,
    round_id: int,
    base: str,
    form: FormState | None = None,
) -> Response:
    """The round page (with the links form's problems, status 422, when given)."""
    survey_round = rounds.get_round(session, round_id)
    token = invitations.current_open_link(session, round_id, settings.signing_key())
    progress, total = rounds.round_progress_with_total(session, round_id)
    return templates.TemplateResponse(
        request,
        "coordinator/round.html",
        CoordinatorRoundPage(
            coordinator=coordinator,
            round=survey_round,
            state=rounds.round_state(survey_round),
            instrument=instruments.round_instrument(session, survey_round),
            partnership=partnerships.get_partnership(session, survey_round.partnership_id),
            organisations=partnerships.list_organisations(session, survey_round.partnership_id),
            progress=progress,
            total=total,
            most_links=settings.max_links_per_request,
            open_link=respondent_link(base, token) if token else None,
            has_open_link=invitations.has_open_link(session, round_id),
            form=form,
            reads_report=_reads_report(session, coordinator, survey_round.partnership_id),
        ),
        status_code=422 if form else 200,
        headers={"Cache-Control": "no-store"},
    )


@router.get("/coordinator/rounds/{round_id}", response_class=HTMLResponse)
def round_page(
    request: Request,
    round_id: PageRoundId,
    session: SessionDep,
    coordinator: PageCoordinatorDep,
    settings: SettingsDep,
    base: LinkBaseDep,
) -> Response:
    return round_page_response(request, session, coordinator, settings, round_id, base)


@router.post("/coordinator/rounds/{round_id}/links", dependencies=[CsrfProtected])
def personal_links_csv(
    request: Request,
    round_id: PageRoundId,
    session: SessionDep,
    coordinator: PageCoordinatorDep,
    settings: SettingsDep,
    base: LinkBaseDep,
    count: Annotated[str, Form(max_length=20)] = "",
    organisation_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    posted = {"count": count, "organisation_id": organisation_id}
    form = FormState(posted, form_id="links")
    number = parse_whole_number(posted, "count", form, low=1, high=settings.max_links_per_request)
    chosen = parse_optional_id(posted, "organisation_id", form)
    if form or number is None:
        return round_page_response(request, session, coordinator, settings, round_id, base, form)
    tokens = invitations.create_personal_links(
        session,
        round_id,
        organisation_id=chosen,
        count=number,
        most=settings.max_links_per_request,
        actor=coordinator,
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
    round_id: PageRoundId,
    session: SessionDep,
    settings: SettingsDep,
    coordinator: PageCoordinatorDep,
    confirm: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Make the round's open link, then show it on the round's page (post-redirect-get). A
    round that has one already goes to a confirmation page first: replacing it stops the
    link already sent out from working."""
    if invitations.has_open_link(session, round_id) and confirm != "replace":
        return see_other(f"/coordinator/rounds/{round_id}/open-link/replace")
    invitations.create_open_link(
        session, round_id, signing_key=settings.signing_key(), actor=coordinator
    )
    return see_other(f"/coordinator/rounds/{round_id}?made=open-link#open-link")


@router.post("/coordinator/rounds/{round_id}/close", dependencies=[CsrfProtected])
def close_round(
    round_id: PageRoundId, session: SessionDep, coordinator: PageCoordinatorDep
) -> Response:
    """Close the round (the confirmation page's button)."""
    rounds.close_round(session, round_id, actor=coordinator)
    return see_other(f"/coordinator/rounds/{round_id}?done=closed")
