"""The report as HTML (page and standalone download) and as an A4 PDF (WeasyPrint)."""

from __future__ import annotations

import math

from analysis.frequencies import spss_round
from app.reports.charts import diverging_items_svg, palette, trust_profile_svg
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
    instrument = report.instrument
    several = len({bar.response_scale for bar in report.profile}) > 1
    profiles = []
    for scale_id, response_scale in instrument.response_scales.items():
        bars = [bar for bar in report.profile if bar.response_scale == scale_id]
        if not bars:
            continue
        span = f"{response_scale.min} to {response_scale.max}"
        profiles.append(
            {
                "response_scale": scale_id,
                "span": span,
                "bars": bars,
                "svg": trust_profile_svg(
                    bars,
                    scale_min=response_scale.min,
                    scale_max=response_scale.max,
                    title="Trust profile"
                    + (f": scales answered {span}" if several else ": pillars and levels of trust"),
                    chart_id=f"profile-{scale_id}",
                ),
            }
        )
    context["profiles"] = profiles
    context["profile_svg"] = "".join(str(p["svg"]) for p in profiles)
    item_svgs = {}
    for scale in instrument.scales:
        answer_scale = instrument.response_scale_of_scale(scale.id)
        item_svgs[scale.id] = diverging_items_svg(
            report.frequencies_of(tuple(scale.items)),
            title=f"{scale.name}: answers to each item (raw agreement, valid percent)",
            chart_id=f"items-{scale.id}",
            neutral_value=(answer_scale.min + answer_scale.max) / 2,
            colours=palette(len(answer_scale.values)),
        )
    context["item_svgs"] = item_svgs
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
