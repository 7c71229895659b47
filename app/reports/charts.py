"""Charts for the partnership report as inline SVG: no JavaScript, printable, in the PDF.

Each chart is an ``<svg role="img">`` with a ``<title>`` and a ``<desc>`` that state the
figures in words; the report page also shows the same figures in a table, so nothing is
conveyed by colour or shape alone. Colours come from the NHS identity palette and keep a
contrast of at least 3:1 against white for graphical objects (WCAG 2.2, 1.4.11).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from analysis.frequencies import FrequencyTable, spss_round
from analysis.summary import ProfileBar

# NHS identity colours (https://www.england.nhs.uk/nhsidentity/identity-guidelines/colours/).
NHS_BLUE = "#005eb8"
NHS_DARK_BLUE = "#003087"
NHS_DARK_GREY = "#425563"
NHS_MID_GREY = "#768692"
NHS_RED = "#8a1538"  # NHS dark red
NHS_WARM_YELLOW = "#ffb81c"
NHS_PALE_GREY = "#e8edee"

# Diverging palette for a 5-point agreement scale: disagree (reds) .. agree (blues).
AGREEMENT_COLOURS = ("#8a1538", "#d5281b", NHS_MID_GREY, NHS_BLUE, NHS_DARK_BLUE)


def _number(value: float) -> str:
    return f"{value:.1f}"


@dataclass(frozen=True)
class ChartBox:
    width: int
    label_width: int
    row_height: int
    top: int


def trust_profile_svg(
    bars: Sequence[ProfileBar],
    *,
    scale_min: int = 1,
    scale_max: int = 5,
    title: str = "Trust profile: the four pillars and two levels of trust",
    chart_id: str = "profile",
) -> str:
    """Horizontal bars of favourable-keyed means on the response scale.

    Parameters
    ----------
    bars : sequence of ProfileBar
        From :func:`analysis.summary.trust_profile`.
    """
    box = ChartBox(width=640, label_width=220, row_height=34, top=28)
    plot_width = box.width - box.label_width - 60
    height = box.top + box.row_height * len(bars) + 30

    def x(value: float) -> float:
        return box.label_width + (value - scale_min) / (scale_max - scale_min) * plot_width

    description = "; ".join(f"{b.label} {_number(b.mean)}" for b in bars)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="trust-chart" role="img" '
        f'viewBox="0 0 {box.width} {height}" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">Mean scores from {scale_min} to {scale_max}, '
        f"higher is better: {escape(description)}.</desc>",
    ]
    for tick in range(scale_min, scale_max + 1):
        parts.append(
            f'<line x1="{x(tick):.1f}" y1="{box.top - 6}" x2="{x(tick):.1f}" '
            f'y2="{height - 24}" stroke="{NHS_PALE_GREY}" stroke-width="1"/>'
            f'<text x="{x(tick):.1f}" y="{height - 8}" text-anchor="middle" '
            f'font-size="13" fill="{NHS_DARK_GREY}">{tick}</text>'
        )
    for row, bar in enumerate(bars):
        y = box.top + row * box.row_height
        parts.append(
            f'<text x="{box.label_width - 10}" y="{y + 20}" text-anchor="end" font-size="14" '
            f'fill="#212b32">{escape(bar.label)}</text>'
            f'<rect x="{x(scale_min):.1f}" y="{y + 6}" width="{x(bar.mean) - x(scale_min):.1f}" '
            f'height="20" fill="{NHS_BLUE if bar.group == "pillar" else NHS_DARK_BLUE}"/>'
            f'<text x="{x(bar.mean) + 6:.1f}" y="{y + 21}" font-size="13" '
            f'fill="#212b32">{_number(bar.mean)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def diverging_items_svg(
    tables: Sequence[FrequencyTable],
    *,
    title: str,
    chart_id: str,
    neutral_value: float = 3,
    colours: Sequence[str] = AGREEMENT_COLOURS,
) -> str:
    """A diverging stacked bar per item: disagreement left of centre, agreement right.

    The neutral answer is split across the centre line. Percentages are of valid answers.
    """
    box = ChartBox(width=640, label_width=70, row_height=30, top=40)
    half = (box.width - box.label_width - 20) / 2
    centre = box.label_width + half
    height = box.top + box.row_height * len(tables) + 10
    labels = _category_labels(tables)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="trust-chart" role="img" '
        f'viewBox="0 0 {box.width} {height}" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(_describe_items(tables))}</desc>',
    ]
    legend_x = box.label_width
    for value, label in labels:
        colour = colours[(value - 1) % len(colours)]
        parts.append(
            f'<rect x="{legend_x}" y="6" width="12" height="12" fill="{colour}"/>'
            f'<text x="{legend_x + 16}" y="17" font-size="12" fill="#212b32">'
            f"{escape(label)}</text>"
        )
        legend_x += 24 + 7 * len(label)
    for row, table in enumerate(tables):
        y = box.top + row * box.row_height
        shares: dict[float, float] = {
            int(r.value): r.valid_percent for r in table.rows if r.value.is_integer()
        }
        left = sum(p for v, p in shares.items() if v < neutral_value)
        left += shares.get(neutral_value, 0.0) / 2
        start = centre - left / 100 * half
        parts.append(
            f'<text x="{box.label_width - 8}" y="{y + 18}" text-anchor="end" font-size="13" '
            f'fill="#212b32">{escape(table.item)}</text>'
        )
        for value, _ in labels:
            share = shares.get(value, 0.0)
            if share <= 0:
                continue
            width = share / 100 * half
            colour = colours[(value - 1) % len(colours)]
            parts.append(
                f'<rect x="{start:.1f}" y="{y + 4}" width="{width:.1f}" height="20" '
                f'fill="{colour}" stroke="#ffffff" stroke-width="1"/>'
            )
            start += width
    parts.append(
        f'<line x1="{centre:.1f}" y1="{box.top - 4}" x2="{centre:.1f}" y2="{height - 4}" '
        f'stroke="#212b32" stroke-width="1"/>'
    )
    parts.append("</svg>")
    return "".join(parts)


def palette(points: int) -> tuple[str, ...]:
    """Colours for an answer scale of ``points`` values, spread over the diverging palette
    (a 3-point scale gets its two ends and the middle grey)."""
    if points >= len(AGREEMENT_COLOURS) or points < 2:
        return AGREEMENT_COLOURS
    last = len(AGREEMENT_COLOURS) - 1
    return tuple(AGREEMENT_COLOURS[round(i * last / (points - 1))] for i in range(points))


def _category_labels(tables: Sequence[FrequencyTable]) -> list[tuple[int, str]]:
    seen: dict[int, str] = {}
    for table in tables:
        for row in table.rows:
            if row.value.is_integer():
                seen.setdefault(int(row.value), row.label or str(int(row.value)))
    return sorted(seen.items())


def _describe_items(tables: Sequence[FrequencyTable]) -> str:
    sentences = []
    for table in tables:
        shares = ", ".join(
            f"{spss_round(r.valid_percent)}% {r.label or int(r.value)}" for r in table.rows
        )
        sentences.append(f"{table.item}: {shares}")
    return "; ".join(sentences) + "."
