"""The report as HTML (page and standalone download) and as an A4 PDF (:mod:`app.reports.pdf`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from analysis.asymmetry import AsymmetryView
from analysis.report_tables import ReportTable, agreeing_is_favourable, profile_table_id
from app.reports.charts import (
    ItemBar,
    diverging_items_svg,
    gap_heat_map_svg,
    trend_small_multiples_svg,
    trust_profile_svg,
)
from app.reports.pdf import PdfOptions, html_to_pdf
from app.services.reports import RoundReport
from app.settings import Settings
from app.templating import context_dict, make_environment

BAND_TAGS = {
    "strength": "nhsuk-tag--green",
    "borderline": "nhsuk-tag--yellow",
    "concern": "nhsuk-tag--red",
}


_DETAILS_CLOSED = re.compile(r"<details(?![^>]*\bopen\b)")


STATIC_FOLDER = Path(__file__).resolve().parent.parent / "static"


@cache
def report_css() -> str:
    """The report's own styles, inlined into the standalone HTML and PDF, and the scroll cues
    the pages show for a box that scrolls sideways (``scroll.css``), for screens only: the
    HTML download opened on a phone shows them as the report page does; a print has none."""
    own = (STATIC_FOLDER / "report.css").read_text("utf-8")
    cues = (STATIC_FOLDER / "scroll.css").read_text("utf-8")
    return f"{own}\n@media screen {{\n{cues}\n:root {{ --app-scroll-cover: #fff; }}\n}}\n"


@dataclass(frozen=True)
class ProfileChart:
    """The trust profile's chart for the scales answered on one answer scale."""

    response_scale: str  # the answer scale's id
    span: str  # its answers, "1 to 7"
    table_id: str  # the table that gives the chart's figures
    svg: str


@dataclass(frozen=True)
class ReportDocumentPage:
    """``reports/document.html``: the report as one HTML file (the download, and the PDF's
    source), with its styles inlined and a cover."""

    report: RoundReport
    band_tags: Mapping[str, str]
    report_css: str  # the report's own styles, inlined
    profiles: Sequence[ProfileChart]
    item_svgs: Mapping[str, str]
    heat_maps: Mapping[str, str]
    trend_svg: str | None
    generated_on: date


@dataclass(frozen=True)
class ReportCharts:
    """The report's charts as inline SVG: none when its results are not shown."""

    profiles: Sequence[ProfileChart] = ()
    item_svgs: Mapping[str, str] = field(default_factory=dict)  # scale id: its items' chart
    heat_maps: Mapping[str, str] = field(default_factory=dict)  # asymmetry table id: its map
    trend_svg: str | None = None  # the trend over all rounds, when there is one


def report_charts(report: RoundReport) -> ReportCharts:
    """What the report templates need besides the report: charts as inline SVG."""
    if not report.visible:
        return ReportCharts()
    instrument = report.instrument
    several = len({bar.response_scale for bar in report.profile}) > 1
    profiles = []
    for scale_id, response_scale in instrument.response_scales.items():
        bars = [bar for bar in report.profile if bar.response_scale == scale_id]
        if not bars:
            continue
        span = f"{response_scale.min} to {response_scale.max}"
        profiles.append(
            ProfileChart(
                response_scale=scale_id,
                span=span,
                table_id=profile_table_id(scale_id, several),
                svg=_wide_and_narrow(
                    trust_profile_svg,
                    bars,
                    scale_min=response_scale.min,
                    scale_max=response_scale.max,
                    title="Trust profile"
                    + (f": scales answered {span}" if several else ": pillars and levels of trust"),
                    chart_id=f"profile-{scale_id}",
                ),
            )
        )
    return ReportCharts(
        profiles=profiles,
        item_svgs={scale.id: _items_chart(report, scale.id) for scale in instrument.scales},
        heat_maps={
            table.id: _heat_map(report, view, table)
            for view in report.asymmetries
            if (table := report.table_named(asymmetry_table_id(view))) is not None
        },
        trend_svg=_trend_chart(report) if report.trend is not None else None,
    )


def _trend_chart(report: RoundReport) -> str:
    series = report.trend
    assert series is not None
    instrument = report.instrument
    panels = []
    for scale_id in series.scale_ids:
        points = []
        for key, _title, when in series.rounds:
            point = series.point(scale_id, key)
            estimate = point.estimate if point else None
            points.append(
                (
                    when,
                    estimate.value if estimate else None,
                    estimate.low if estimate else None,
                    estimate.high if estimate else None,
                )
            )
        answers = instrument.response_scale_of_scale(scale_id)
        panels.append((instrument.scale(scale_id).name, answers.min, answers.max, points))
    return _wide_and_narrow(
        trend_small_multiples_svg,
        panels,
        title="Each scale's score in every round, with 95% intervals (higher is better)",
        chart_id="trend-chart",
    )


def asymmetry_table_id(view: AsymmetryView) -> str:
    return f"asymmetry-{view.question_id}" + ("-largest" if view.comparison == "largest" else "")


def _heat_map(report: RoundReport, view: AsymmetryView, table: ReportTable) -> str:
    """The heat map of an asymmetry view: the same cells as its table."""
    groups = view.shown_groups
    rows = []
    for row in table.rows:
        values = []
        for value, _ in groups:
            cell = view.cell(row.key, value)
            shown = cell is not None and cell.shown and cell.gap is not None
            values.append(
                (
                    cell.gap.value if shown and cell and cell.gap else None,
                    bool(shown and cell and cell.clear),
                )
            )
        rows.append((report.instrument.scale(row.key).name, values))
    return gap_heat_map_svg(
        rows,
        [label for _, label in groups],
        title=table.title,
        chart_id=f"heat-{table.id}",
    )


def _items_chart(report: RoundReport, scale_id: str) -> str:
    """A scale's items as diverging bars on the items' own answer scale."""
    instrument = report.instrument
    scale = instrument.scale(scale_id)
    response_scale = instrument.response_scale_of(scale.items[0])
    return _wide_and_narrow(
        diverging_items_svg,
        [
            ItemBar(
                table,
                instrument.item(table.item).text,
                agreeing_is_favourable(instrument, scale.id, table.item),
            )
            for table in report.frequencies_of(tuple(scale.items))
        ],
        title=f"{scale.name}: answers to each statement, favourable answers to the right",
        chart_id=f"items-{scale.id}",
        scale_min=response_scale.min,
        scale_max=response_scale.max,
    )


def _wide_and_narrow(chart: Callable[..., str], *args: Any, **options: Any) -> str:
    """A chart and its phone layout, one after the other: the report's stylesheet shows the
    narrow one on a narrow screen and the wide one otherwise (and in print)."""
    return chart(*args, **options, paired=True) + chart(*args, **options, narrow=True)


def report_html(
    report: RoundReport,
    environment: jinja2.Environment | None = None,
    generated_on: date | None = None,
) -> str:
    """The standalone report: one HTML file with its styles and charts, printable on A4, with
    a cover giving the partnership, the round, its dates and ``generated_on`` (today, UTC);
    rendered with ``environment`` (the app's; a new one for the command line)."""
    template = (environment or make_environment()).get_template("reports/document.html")
    charts = report_charts(report)
    page = ReportDocumentPage(
        report=report,
        band_tags=BAND_TAGS,
        report_css=report_css(),
        profiles=charts.profiles,
        item_svgs=charts.item_svgs,
        heat_maps=charts.heat_maps,
        trend_svg=charts.trend_svg,
        generated_on=generated_on or datetime.now(UTC).date(),
    )
    html = template.render(context_dict(page))
    # A document to print and keep: every collapsed section (frequency tables) is shown.
    return _DETAILS_CLOSED.sub("<details open", html)


def pdf_options(settings: Settings) -> PdfOptions:
    """The PDF engine and its limits from the settings (``PDF_ENGINE`` and the rest)."""
    return PdfOptions(
        engine=settings.pdf_engine,
        chromium_path=settings.chromium_path,
        timeout=settings.pdf_timeout,
        concurrency=settings.pdf_concurrency,
    )


def report_pdf(
    report: RoundReport,
    options: PdfOptions | None = None,
    generated_on: date | None = None,
    environment: jinja2.Environment | None = None,
) -> bytes:
    """The standalone report printed to an A4 PDF by the engine ``options`` choose."""
    return html_to_pdf(report_html(report, environment, generated_on), options or PdfOptions())
