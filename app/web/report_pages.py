"""Report pages and downloads for evaluators, analysts and admins."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.database import SessionDep
from app.reports import documents, rendering
from app.services import report_cache, reports, rounds
from app.services.errors import RecordNotFoundError
from app.services.reports import RoundReport, Viewer
from app.web.deps import SettingsDep
from app.web.pages import ReportRoundPage, ReportsIndexPage
from app.web.redirects import see_other
from app.web.report_access import (
    PageViewerDep,
    report_round_id,
    signed_in_account,
)
from app.web.templating import templates

router = APIRouter(include_in_schema=False)
ROUND_STATE_NAMES = {
    rounds.RoundState.OPEN: "Open",
    rounds.RoundState.NOT_YET_OPEN: "Not open yet",
    rounds.RoundState.CLOSED: "Closed",
}
ROUND_STATE_TAGS = {
    rounds.RoundState.OPEN: "nhsuk-tag--green",
    rounds.RoundState.NOT_YET_OPEN: "nhsuk-tag--grey",
    rounds.RoundState.CLOSED: "nhsuk-tag--white",
}


@router.get("/reports", response_class=HTMLResponse)
def index(request: Request, session: SessionDep) -> Response:
    account = signed_in_account(request, session)
    viewer = reports.viewer_for(session, account)
    if viewer is None:
        return see_other("/sign-in?next=/reports")
    listed = reports.readable_rounds(session, viewer)
    return templates.TemplateResponse(
        request,
        "reports/index.html",
        ReportsIndexPage(
            viewer=viewer,
            listed=listed,
            round_state=rounds.round_state,
            state_names=ROUND_STATE_NAMES,
            state_tags=ROUND_STATE_TAGS,
        ),
    )


def _report(session: SessionDep, viewer: PageViewerDep, round_id: str) -> RoundReport:
    survey_round = reports.readable_round(session, viewer, report_round_id(round_id))
    return report_cache.round_report(session, survey_round, viewer)  # once per release


def _round_page(viewer: Viewer, report: RoundReport) -> ReportRoundPage:
    charts = rendering.report_charts(report)
    return ReportRoundPage(
        viewer=viewer,
        report=report,
        band_tags=rendering.BAND_TAGS,
        report_files=documents.offered_files(report),
        profiles=charts.profiles,
        item_svgs=charts.item_svgs,
        heat_maps=charts.heat_maps,
        trend_svg=charts.trend_svg,
    )


@router.get("/reports/rounds/{round_id}", response_class=HTMLResponse)
def round_page(
    request: Request, round_id: str, session: SessionDep, viewer: PageViewerDep
) -> Response:
    report = _report(session, viewer, round_id)
    reports.record_view(session, viewer, report.survey_round, "page")
    return templates.TemplateResponse(
        request,
        "reports/round.html",
        _round_page(viewer, report),
        headers={"Cache-Control": "no-store"},
    )


def _download(content: bytes, media_type: str, name: str) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/reports/rounds/{round_id}/{file_name}")
def download(
    request: Request,
    round_id: str,
    file_name: str,
    session: SessionDep,
    viewer: PageViewerDep,
    settings: SettingsDep,
) -> Response:
    """``report.html``, ``report.pdf``, ``report.xlsx``, ``report.docx``, ``answers.csv``,
    ``scores.csv`` or ``answers.sav``, when the round's published set offers it
    (:func:`documents.offered_files`); one it does not offer sends the reader to the report's
    downloads, which say why (no results yet, or fewer than the threshold); any other name
    is not found."""
    environment = request.app.state.templates.env
    makers: dict[str, Callable[[RoundReport], bytes]] = {
        "report.html": lambda r: rendering.report_html(r, environment).encode(),
        "report.pdf": lambda r: rendering.report_pdf(
            r, rendering.pdf_options(settings), environment=environment
        ),
        "report.xlsx": documents.workbook,
        "report.docx": documents.docx,
        "answers.csv": documents.answers_csv,
        "scores.csv": documents.scores_csv,
        "answers.sav": documents.sav,
    }
    report = _report(session, viewer, round_id)
    offered = {f.name: f for f in documents.offered_files(report)}
    if file_name not in offered:
        if file_name in makers:  # a file this round does not offer (yet): its report says why
            return see_other(f"/reports/rounds/{report.survey_round.id}#download")
        raise RecordNotFoundError("file", file_name)
    content = makers[file_name](report)
    name = documents.download_name(report, file_name)
    reports.record_download(
        session,
        viewer,
        report.survey_round,
        file_name,
        # the workbook holds the rows too (answers and scores sheets) when a round offers them
        row_level=offered[file_name].row_level
        or (file_name == "report.xlsx" and report.rows_available),
        detail=name,
    )
    return _download(content, offered[file_name].media_type, name)
