"""The report as HTML (page and standalone download) and as an A4 PDF (WeasyPrint)."""

from __future__ import annotations

import math

from analysis.frequencies import spss_round
from app.reports.charts import diverging_items_svg, trust_profile_svg
from app.services.reports import RoundReport
from app.web.templating import templates

BAND_TAGS = {
    "strength": "nhsuk-tag--green",
    "borderline": "nhsuk-tag--yellow",
    "concern": "nhsuk-tag--red",
}


def number(value: object, decimals: int = 2) -> str:
    """A figure rounded half away from zero (as SPSS and the 2017 report), "-" if none."""
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return "-"
    return spss_round(float(value), decimals)


templates.env.filters["num"] = number


def report_context(report: RoundReport) -> dict[str, object]:
    """What the report templates need besides the report: charts as inline SVG."""
    context: dict[str, object] = {"report": report, "band_tags": BAND_TAGS}
    if not report.visible:
        return context
    response_scale = report.instrument.response_scales[report.instrument.items[0].response_scale]
    context["profile_svg"] = trust_profile_svg(
        report.profile, scale_min=response_scale.min, scale_max=response_scale.max
    )
    context["item_svgs"] = {
        scale.id: diverging_items_svg(
            report.frequencies_of(tuple(scale.items)),
            title=f"{scale.name}: answers to each item (raw agreement, valid percent)",
            chart_id=f"items-{scale.id}",
        )
        for scale in report.instrument.scales
    }
    return context


def report_html(report: RoundReport) -> str:
    """The standalone report: one HTML file with its styles and charts, printable on A4."""
    template = templates.env.get_template("reports/document.html")
    return template.render(report_context(report))


def report_pdf(report: RoundReport) -> bytes:
    """The standalone report printed to an A4 PDF."""
    from weasyprint import HTML

    pdf: bytes = HTML(string=report_html(report)).write_pdf()
    return pdf
