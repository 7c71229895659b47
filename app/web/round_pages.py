"""Coordinator pages for a round's and a partnership's life: confirmation pages (close, replace
the open link, reopen, delete), closing dates, renames, removing an organisation, the
questionnaire preview; and the admin's instruments page.

Every form follows post-redirect-get: a POST that works answers 303 to a page, so reloading
that page repeats nothing; one that does not renders its page again with the problems (422).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from app.database import SessionDep
from app.models import Account, AccountRole
from app.services import instruments, partnerships, rounds
from app.services.errors import RecordNotFoundError, SurveyServiceError
from app.web.deps import (
    CsrfProtected,
    PageCoordinatorDep,
    PageOrganisationId,
    PagePartnershipId,
    PageRoundId,
)
from app.web.forms import FormState, parse_date, problems_of
from app.web.pages import (
    CloseRoundPage,
    ClosingDatePage,
    DeletePage,
    InstrumentsPage,
    PreviewPage,
    RemoveOrganisationPage,
    RenamePage,
    ReopenRoundPage,
    ReplaceOpenLinkPage,
)
from app.web.redirects import see_other
from app.web.templating import templates

router = APIRouter(include_in_schema=False)
MAX_UPLOAD_BYTES = 500_000


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


# -- closing, reopening, dates -------------------------------------------------------------


@router.get("/coordinator/rounds/{round_id}/close", response_class=HTMLResponse)
def close_page(
    request: Request, round_id: PageRoundId, session: SessionDep, coordinator: PageCoordinatorDep
) -> Response:
    survey_round = rounds.get_round(session, round_id)
    page = CloseRoundPage(
        coordinator=coordinator,
        round=survey_round,
        partnership=partnerships.get_partnership(session, survey_round.partnership_id),
        state=rounds.round_state(survey_round),
        submitted=rounds.round_progress_total(session, round_id),
    )
    return _page(request, "coordinator/close.html", page)


@router.post("/coordinator/rounds/{round_id}/open-now", dependencies=[CsrfProtected])
def open_now(
    round_id: PageRoundId, session: SessionDep, coordinator: PageCoordinatorDep
) -> Response:
    rounds.open_now(session, round_id, actor=coordinator)
    return see_other(f"/coordinator/rounds/{round_id}?done=opened")


DatePage = Callable[[Request, Session, Account, int, FormState], Response]


def _closing_date_page(
    request: Request,
    session: Session,
    coordinator: Account,
    round_id: int,
    form: FormState | None = None,
) -> Response:
    page = ClosingDatePage(
        coordinator=coordinator,
        form=form,
        round=rounds.get_round(session, round_id),
        today=rounds.today(),
    )
    return _page(request, "coordinator/closing_date.html", page, form)


def _reopen_page(
    request: Request,
    session: Session,
    coordinator: Account,
    round_id: int,
    form: FormState | None = None,
) -> Response:
    survey_round = rounds.get_round(session, round_id)
    page = ReopenRoundPage(
        coordinator=coordinator,
        form=form,
        round=survey_round,
        state=rounds.round_state(survey_round),
        closed_on=rounds.closed_on(survey_round),
        today=rounds.today(),
    )
    return _page(request, "coordinator/reopen.html", page, form)


@router.get("/coordinator/rounds/{round_id}/closing-date", response_class=HTMLResponse)
def closing_date_page(
    request: Request, round_id: PageRoundId, session: SessionDep, coordinator: PageCoordinatorDep
) -> Response:
    return _closing_date_page(request, session, coordinator, round_id)


def _posted_date(day: str, month: str, year: str) -> dict[str, str]:
    return {"closes_on-day": day, "closes_on-month": month, "closes_on-year": year}


def _post_closing_date(
    request: Request,
    session: Session,
    coordinator: Account,
    round_id: int,
    posted: dict[str, str],
    change: Callable[..., object],
    date_page: DatePage,
    done: str,
) -> Response:
    """A posted closing date handed to ``change`` (extend or reopen, called as
    ``change(session, round_id, closes_on, actor=coordinator)``): its page (``date_page``)
    again with the problems and the typed date kept, or the round's page
    (post-redirect-get)."""
    form = FormState(posted)
    closes_on = parse_date(posted, "closes_on", form)
    if closes_on is not None:
        try:
            change(session, round_id, closes_on, actor=coordinator)
        except SurveyServiceError as error:
            form.problems = problems_of(error, "closes_on")
    if form or closes_on is None:
        return date_page(request, session, coordinator, round_id, form)
    return see_other(f"/coordinator/rounds/{round_id}?done={done}")


DayPart = Annotated[str, Form(alias="closes_on-day", max_length=10)]
MonthPart = Annotated[str, Form(alias="closes_on-month", max_length=10)]
YearPart = Annotated[str, Form(alias="closes_on-year", max_length=10)]


@router.post("/coordinator/rounds/{round_id}/closing-date", dependencies=[CsrfProtected])
def change_closing_date(
    request: Request,
    round_id: PageRoundId,
    session: SessionDep,
    coordinator: PageCoordinatorDep,
    day: DayPart = "",
    month: MonthPart = "",
    year: YearPart = "",
) -> Response:
    return _post_closing_date(
        request,
        session,
        coordinator,
        round_id,
        _posted_date(day, month, year),
        rounds.change_closing_date,
        _closing_date_page,
        "closing-date",
    )


@router.get("/coordinator/rounds/{round_id}/reopen", response_class=HTMLResponse)
def reopen_page(
    request: Request, round_id: PageRoundId, session: SessionDep, coordinator: PageCoordinatorDep
) -> Response:
    return _reopen_page(request, session, coordinator, round_id)


@router.post("/coordinator/rounds/{round_id}/reopen", dependencies=[CsrfProtected])
def reopen(
    request: Request,
    round_id: PageRoundId,
    session: SessionDep,
    coordinator: PageCoordinatorDep,
    day: DayPart = "",
    month: MonthPart = "",
    year: YearPart = "",
) -> Response:
    return _post_closing_date(
        request,
        session,
        coordinator,
        round_id,
        _posted_date(day, month, year),
        rounds.reopen_round,
        _reopen_page,
        "reopened",
    )


@router.get("/coordinator/rounds/{round_id}/open-link/replace", response_class=HTMLResponse)
def replace_open_link_page(
    request: Request, round_id: PageRoundId, session: SessionDep, coordinator: PageCoordinatorDep
) -> Response:
    page = ReplaceOpenLinkPage(coordinator=coordinator, round=rounds.get_round(session, round_id))
    return _page(request, "coordinator/replace_open_link.html", page)


# -- renames ------------------------------------------------------------------------------


def _rename_page(
    request: Request,
    coordinator: Account,
    *,
    what: str,
    current: str,
    action: str,
    back: str,
    form: FormState | None = None,
    field_label: str = "New name",
) -> Response:
    page = RenamePage(
        coordinator=coordinator,
        form=form,
        what=what,
        current=current,
        action=action,
        back=back,
        field_label=field_label,
    )
    return _page(request, "coordinator/rename.html", page, form)


NameField = Annotated[str, Form(max_length=200)]


@router.get("/coordinator/partnerships/{partnership_id}/rename", response_class=HTMLResponse)
def rename_partnership_page(
    request: Request,
    partnership_id: PagePartnershipId,
    session: SessionDep,
    coordinator: PageCoordinatorDep,
) -> Response:
    partnership = partnerships.get_partnership(session, partnership_id)
    path = f"/coordinator/partnerships/{partnership_id}"
    return _rename_page(
        request,
        coordinator,
        what="the partnership",
        current=partnership.name,
        action=f"{path}/rename",
        back=path,
    )


@router.post("/coordinator/partnerships/{partnership_id}/rename", dependencies=[CsrfProtected])
def rename_partnership(
    request: Request,
    partnership_id: PagePartnershipId,
    session: SessionDep,
    coordinator: PageCoordinatorDep,
    name: NameField = "",
) -> Response:
    path = f"/coordinator/partnerships/{partnership_id}"
    try:
        partnerships.rename_partnership(session, partnership_id, name, actor=coordinator)
    except SurveyServiceError as error:
        current = partnerships.get_partnership(session, partnership_id).name
        form = FormState({"name": name}, problems_of(error))
        return _rename_page(
            request,
            coordinator,
            what="the partnership",
            current=current,
            action=f"{path}/rename",
            back=path,
            form=form,
        )
    return see_other(f"{path}?done=renamed")


@router.get(
    "/coordinator/partnerships/{partnership_id}/organisations/{organisation_id}/rename",
    response_class=HTMLResponse,
)
def rename_organisation_page(
    request: Request,
    partnership_id: PagePartnershipId,
    organisation_id: PageOrganisationId,
    session: SessionDep,
    coordinator: PageCoordinatorDep,
) -> Response:
    organisation = partnerships.get_organisation(session, partnership_id, organisation_id)
    path = f"/coordinator/partnerships/{partnership_id}"
    return _rename_page(
        request,
        coordinator,
        what="the organisation",
        current=organisation.name,
        action=f"{path}/organisations/{organisation.id}/rename",
        back=path,
    )


@router.post(
    "/coordinator/partnerships/{partnership_id}/organisations/{organisation_id}/rename",
    dependencies=[CsrfProtected],
)
def rename_organisation(
    request: Request,
    partnership_id: PagePartnershipId,
    organisation_id: PageOrganisationId,
    session: SessionDep,
    coordinator: PageCoordinatorDep,
    name: NameField = "",
) -> Response:
    chosen = organisation_id
    path = f"/coordinator/partnerships/{partnership_id}"
    try:
        partnerships.rename_organisation(session, partnership_id, chosen, name, actor=coordinator)
    except SurveyServiceError as error:
        if isinstance(error, RecordNotFoundError):
            raise
        current = partnerships.get_organisation(session, partnership_id, chosen).name
        return _rename_page(
            request,
            coordinator,
            what="the organisation",
            current=current,
            action=f"{path}/organisations/{chosen}/rename",
            back=path,
            form=FormState({"name": name}, problems_of(error)),
        )
    return see_other(f"{path}?done=organisation-renamed#organisations")


@router.get("/coordinator/rounds/{round_id}/rename", response_class=HTMLResponse)
def rename_round_page(
    request: Request, round_id: PageRoundId, session: SessionDep, coordinator: PageCoordinatorDep
) -> Response:
    survey_round = rounds.get_round(session, round_id)
    path = f"/coordinator/rounds/{round_id}"
    return _rename_page(
        request,
        coordinator,
        what="the round",
        current=survey_round.title,
        action=f"{path}/rename",
        back=path,
        field_label="New title",
    )


@router.post("/coordinator/rounds/{round_id}/rename", dependencies=[CsrfProtected])
def rename_round(
    request: Request,
    round_id: PageRoundId,
    session: SessionDep,
    coordinator: PageCoordinatorDep,
    title: NameField = "",
) -> Response:
    path = f"/coordinator/rounds/{round_id}"
    try:
        rounds.rename_round(session, round_id, title, actor=coordinator)
    except SurveyServiceError as error:
        problems = {"name": " ".join(problems_of(error, "title").values())}
        return _rename_page(
            request,
            coordinator,
            what="the round",
            current=rounds.get_round(session, round_id).title,
            action=f"{path}/rename",
            back=path,
            field_label="New title",
            form=FormState({"name": title}, problems),
        )
    return see_other(f"{path}?done=renamed")


# -- removing and deleting ----------------------------------------------------------------


@router.get(
    "/coordinator/partnerships/{partnership_id}/organisations/{organisation_id}/remove",
    response_class=HTMLResponse,
)
def remove_organisation_page(
    request: Request,
    partnership_id: PagePartnershipId,
    organisation_id: PageOrganisationId,
    session: SessionDep,
    coordinator: PageCoordinatorDep,
) -> Response:
    organisation = partnerships.get_organisation(session, partnership_id, organisation_id)
    assert organisation.id is not None
    page = RemoveOrganisationPage(
        coordinator=coordinator,
        partnership=partnerships.get_partnership(session, partnership_id),
        organisation=organisation,
        removable=partnerships.removable(session, organisation.id),
        unused=partnerships.organisation_links(session, organisation.id).get("unused", 0),
    )
    return _page(request, "coordinator/remove_organisation.html", page)


@router.post(
    "/coordinator/partnerships/{partnership_id}/organisations/{organisation_id}/remove",
    dependencies=[CsrfProtected],
)
def remove_organisation(
    partnership_id: PagePartnershipId,
    organisation_id: PageOrganisationId,
    session: SessionDep,
    coordinator: PageCoordinatorDep,
) -> Response:
    partnerships.remove_organisation(session, partnership_id, organisation_id, actor=coordinator)
    return see_other(f"/coordinator/partnerships/{partnership_id}?done=organisation-removed")


def _delete_page(
    request: Request,
    coordinator: Account,
    *,
    what: str,
    name: str,
    action: str,
    back: str,
    losing: list[str],
    form: FormState | None = None,
) -> Response:
    page = DeletePage(
        coordinator=coordinator,
        form=form,
        what=what,
        name=name,
        action=action,
        back=back,
        losing=losing,
    )
    return _page(request, "coordinator/delete.html", page, form)


def _round_losses(session: Session, round_id: int) -> list[str]:
    submitted = rounds.round_progress_total(session, round_id)
    return [
        f"{submitted} submitted response{'s' if submitted != 1 else ''} and every saved answer",
        "every personal link and the open link (they stop working)",
        "its reports and downloads",
    ]


ConfirmField = Annotated[str, Form(max_length=400)]


@router.get("/coordinator/rounds/{round_id}/delete", response_class=HTMLResponse)
def delete_round_page(
    request: Request, round_id: PageRoundId, session: SessionDep, coordinator: PageCoordinatorDep
) -> Response:
    survey_round = rounds.get_round(session, round_id)
    path = f"/coordinator/rounds/{round_id}"
    return _delete_page(
        request,
        coordinator,
        what="round",
        name=survey_round.title,
        action=f"{path}/delete",
        back=path,
        losing=_round_losses(session, round_id),
    )


@router.post("/coordinator/rounds/{round_id}/delete", dependencies=[CsrfProtected])
def delete_round(
    request: Request,
    round_id: PageRoundId,
    session: SessionDep,
    coordinator: PageCoordinatorDep,
    confirm_name: ConfirmField = "",
) -> Response:
    try:
        partnership_id = rounds.delete_round(session, round_id, confirm_name, actor=coordinator)
    except SurveyServiceError as error:
        if isinstance(error, RecordNotFoundError):
            raise
        path = f"/coordinator/rounds/{round_id}"
        return _delete_page(
            request,
            coordinator,
            what="round",
            name=rounds.get_round(session, round_id).title,
            action=f"{path}/delete",
            back=path,
            losing=_round_losses(session, round_id),
            form=FormState({"confirm_name": confirm_name}, problems_of(error)),
        )
    return see_other(f"/coordinator/partnerships/{partnership_id}?done=round-deleted")


def _partnership_losses(session: Session, partnership_id: int) -> list[str]:
    listed = rounds.list_rounds(session, partnership_id)
    organisations = partnerships.list_organisations(session, partnership_id)
    responses = sum(rounds.round_progress_total(session, r.id) for r in listed if r.id)
    return [
        f"{len(listed)} round{'s' if len(listed) != 1 else ''} with {responses} submitted "
        f"response{'s' if responses != 1 else ''}, their links and reports",
        f"{len(organisations)} member organisation{'s' if len(organisations) != 1 else ''}",
        "everyone's access to the partnership",
    ]


@router.get("/coordinator/partnerships/{partnership_id}/delete", response_class=HTMLResponse)
def delete_partnership_page(
    request: Request,
    partnership_id: PagePartnershipId,
    session: SessionDep,
    coordinator: PageCoordinatorDep,
) -> Response:
    path = f"/coordinator/partnerships/{partnership_id}"
    return _delete_page(
        request,
        coordinator,
        what="partnership",
        name=partnerships.get_partnership(session, partnership_id).name,
        action=f"{path}/delete",
        back=path,
        losing=_partnership_losses(session, partnership_id),
    )


@router.post("/coordinator/partnerships/{partnership_id}/delete", dependencies=[CsrfProtected])
def delete_partnership(
    request: Request,
    partnership_id: PagePartnershipId,
    session: SessionDep,
    coordinator: PageCoordinatorDep,
    confirm_name: ConfirmField = "",
) -> Response:
    try:
        partnerships.delete_partnership(session, partnership_id, confirm_name, actor=coordinator)
    except SurveyServiceError as error:
        if isinstance(error, RecordNotFoundError):
            raise
        path = f"/coordinator/partnerships/{partnership_id}"
        return _delete_page(
            request,
            coordinator,
            what="partnership",
            name=partnerships.get_partnership(session, partnership_id).name,
            action=f"{path}/delete",
            back=path,
            losing=_partnership_losses(session, partnership_id),
            form=FormState({"confirm_name": confirm_name}, problems_of(error)),
        )
    return see_other("/coordinator?done=partnership-deleted")


# -- preview ------------------------------------------------------------------------------


@router.get("/coordinator/rounds/{round_id}/preview", response_class=HTMLResponse)
def preview(
    request: Request, round_id: PageRoundId, session: SessionDep, coordinator: PageCoordinatorDep
) -> Response:
    """The questionnaire as respondents see it, every section on one page, with nothing to
    send: no link is used and nothing is stored."""
    survey_round = rounds.get_round(session, round_id)
    page = PreviewPage(
        coordinator=coordinator,
        round=survey_round,
        instrument=instruments.round_instrument(session, survey_round),
    )
    return _page(request, "coordinator/preview.html", page)


# -- the admin's instruments ----------------------------------------------------------------


def admin_account(coordinator: PageCoordinatorDep, request: Request) -> Account:
    """Admins only; to anyone else the page does not exist."""
    if AccountRole.ADMIN not in coordinator.role_set:
        raise RecordNotFoundError("page", request.url.path)
    return coordinator


AdminDep = Annotated[Account, Depends(admin_account)]


def _instruments_page(
    request: Request, session: Session, admin: Account, form: FormState | None = None
) -> Response:
    return templates.TemplateResponse(
        request,
        "admin/instruments.html",
        InstrumentsPage(
            coordinator=admin, form=form, choices=instruments.instrument_choices(session)
        ),
        status_code=422 if form else 200,
        headers={"Cache-Control": "no-store"},
    )


@router.get("/admin/instruments", response_class=HTMLResponse)
def instruments_page(request: Request, session: SessionDep, admin: AdminDep) -> Response:
    return _instruments_page(request, session, admin)


@router.post("/admin/instruments", dependencies=[CsrfProtected])
async def add_instrument(
    request: Request,
    session: SessionDep,
    admin: AdminDep,
    document: Annotated[UploadFile | None, File()] = None,
) -> Response:
    text = ""
    if document is not None and document.filename:
        name = document.filename[:100]
        raw = await document.read(MAX_UPLOAD_BYTES + 1)
        problem = None
        if len(raw) > MAX_UPLOAD_BYTES:
            problem = f"The file {name} is too big: at most {MAX_UPLOAD_BYTES // 1000} kB"
        else:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                problem = f"The file {name} must be UTF-8 text (YAML): save it as UTF-8"
        if problem is not None:
            return _instruments_page(request, session, admin, FormState({}, {"document": problem}))
    if not text.strip():
        form = FormState({}, {"document": "Choose an instrument file (YAML) to add"})
        return _instruments_page(request, session, admin, form)
    try:
        # "The file x.yaml: ...": the message starts a sentence without recasing the name
        added = instruments.add_instrument(session, text, f"The file {name}", actor=admin)
    except SurveyServiceError as error:
        form = FormState({}, {"document": str(error)})
        return _instruments_page(request, session, admin, form)
    return see_other(f"/admin/instruments?added={added.id}@{added.version}")
