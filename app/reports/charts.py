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
from analysis.report_tables import format_number, signed
from analysis.summary import ProfileBar

# NHS identity colours (https://www.england.nhs.uk/nhsidentity/identity-guidelines/colours/).
NHS_BLUE = "#005eb8"
NHS_DARK_BLUE = "#003087"
NHS_DARK_GREY = "#425563"
NHS_MID_GREY = "#768692"
NHS_RED = "#8a1538"  # NHS dark red
NHS_WARM_YELLOW = "#ffb81c"
NHS_PALE_GREY = "#e8edee"


def _number(value: float) -> str:
    """As the report's tables show a score (two decimals, half away from zero)."""
    return format_number(value, 2)


NARROW_WIDTH = 300
"""A narrow chart's width in user units: about its size in a phone's 288 px column, so its
13-14 px text stays 12 px or more where the wide chart's would be a few pixels tall."""


def _chart_class(narrow: bool, paired: bool) -> str:
    """``trust-chart``, marked ``app-chart--narrow`` or, beside a narrow one, ``--wide``: the
    report's stylesheet shows one of a pair, the narrow one on a phone screen."""
    if narrow:
        return "trust-chart app-chart--narrow"
    return "trust-chart app-chart--wide" if paired else "trust-chart"


def _narrow_id(chart_id: str, narrow: bool) -> str:
    return f"{chart_id}-narrow" if narrow else chart_id


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
    narrow: bool = False,
    paired: bool = False,
) -> str:
    """Horizontal bars of favourable-keyed means on the response scale.

    Parameters
    ----------
    bars : sequence of ProfileBar
        From :func:`analysis.summary.trust_profile`.
    narrow : bool
        The phone layout: each label above its bar, :data:`NARROW_WIDTH` wide (ids end in
        ``-narrow``, so it can sit beside the wide chart).
    paired : bool
        The wide chart is shown with its narrow layout (marked ``app-chart--wide``).
    """
    chart_id = _narrow_id(chart_id, narrow)
    if narrow:
        box = ChartBox(width=NARROW_WIDTH, label_width=0, row_height=46, top=8)
        plot_width = box.width - 44
        label_size, value_size, tick_size = 14, 14, 13
        label_rows = [_wrap(bar.label, 34) for bar in bars]
        tops = []
        y = box.top
        for lines in label_rows:
            tops.append(y)
            y += box.row_height + 17 * (len(lines) - 1)
        height = y + 24
    else:
        box = ChartBox(width=640, label_width=220, row_height=34, top=28)
        plot_width = box.width - box.label_width - 60
        label_size, value_size, tick_size = 14, 13, 13
        label_rows = [[bar.label] for bar in bars]
        tops = [box.top + row * box.row_height for row in range(len(bars))]
        height = box.top + box.row_height * len(bars) + 30

    def x(value: float) -> float:
        return box.label_width + (value - scale_min) / (scale_max - scale_min) * plot_width

    description = "; ".join(f"{b.label} {_number(b.mean)}" for b in bars)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{_chart_class(narrow, paired)}" '
        f'role="img" viewBox="0 0 {box.width} {height}" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">Mean scores from {scale_min} to {scale_max}, '
        f"higher is better: {escape(description)}.</desc>",
    ]
    for tick in range(scale_min, scale_max + 1):
        anchor = "middle"
        if narrow and tick == scale_min:
            anchor = "start"
        parts.append(
            f'<line x1="{x(tick):.1f}" y1="{box.top - 6 if not narrow else box.top}" '
            f'x2="{x(tick):.1f}" y2="{height - 24}" stroke="{NHS_PALE_GREY}" stroke-width="1"/>'
            f'<text x="{x(tick):.1f}" y="{height - 8}" text-anchor="{anchor}" '
            f'font-size="{tick_size}" fill="{NHS_DARK_GREY}">{tick}</text>'
        )
    for bar, y, lines in zip(bars, tops, label_rows, strict=True):
        colour = NHS_BLUE if bar.group == "pillar" else NHS_DARK_BLUE
        if narrow:
            for number, line in enumerate(lines):
                parts.append(
                    f'<text x="0" y="{y + 14 + 17 * number}" font-size="{label_size}" '
                    f'fill="#212b32">{escape(line)}</text>'
                )
            bar_top = y + 20 + 17 * (len(lines) - 1)
        else:
            parts.append(
                f'<text x="{box.label_width - 10}" y="{y + 20}" text-anchor="end" '
                f'font-size="{label_size}" fill="#212b32">{escape(bar.label)}</text>'
            )
            bar_top = y + 6
        parts.append(
            f'<rect x="{x(scale_min):.1f}" y="{bar_top}" '
            f'width="{x(bar.mean) - x(scale_min):.1f}" height="20" fill="{colour}"/>'
            f'<text x="{x(bar.mean) + 6:.1f}" y="{bar_top + 15}" font-size="{value_size}" '
            f'fill="#212b32">{_number(bar.mean)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


FAVOURABLE_COLOURS = (NHS_BLUE, NHS_DARK_BLUE)  # favourable, strongly favourable
UNFAVOURABLE_COLOURS = ("#d5281b", NHS_RED)  # unfavourable, strongly unfavourable
NEUTRAL_COLOUR = NHS_MID_GREY


@dataclass(frozen=True)
class ItemBar:
    """One item of a diverging chart: its statement, answers, and which way is favourable."""

    table: FrequencyTable
    statement: str
    agreeing_is_favourable: bool


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*lines, line] if line else lines


def _answer_colour(value: int, low: int, high: int, neutral: float, agreeing_good: bool) -> str:
    if value == neutral:
        return NEUTRAL_COLOUR
    agreeing = value > neutral
    favourable = agreeing == agreeing_good
    strong = value in (low, high)
    palette = FAVOURABLE_COLOURS if favourable else UNFAVOURABLE_COLOURS
    return palette[1] if strong else palette[0]


def favourable_shares(bar: ItemBar, neutral: float) -> tuple[float, float, float]:
    """Valid percent of unfavourable, neutral and favourable answers."""
    shares = {int(r.value): r.valid_percent for r in bar.table.rows if r.value.is_integer()}
    agree = sum(p for v, p in shares.items() if v > neutral)
    disagree = sum(p for v, p in shares.items() if v < neutral)
    middle = shares.get(int(neutral), 0.0) if float(neutral).is_integer() else 0.0
    if bar.agreeing_is_favourable:
        return disagree, middle, agree
    return agree, middle, disagree


def diverging_items_svg(
    bars: Sequence[ItemBar],
    *,
    title: str,
    chart_id: str,
    scale_min: int = 1,
    scale_max: int = 5,
    narrow: bool = False,
    paired: bool = False,
) -> str:
    """A diverging stacked bar per item: unfavourable answers left of centre, favourable right.

    Colour follows favourability, not agreement: where disagreeing is the favourable answer (a
    negatively worded statement, or a barrier such as a fear of damage), "disagree" is blue and
    on the right. Each bar is labelled with the item's statement and the percentages of
    unfavourable, neutral and favourable answers (of valid answers); the neutral answer is split
    across the centre line. ``narrow`` is the phone layout (:data:`NARROW_WIDTH` wide, the
    statement wrapped shorter, the legend one entry a line; ids end in ``-narrow``);
    ``paired`` marks the wide chart shown with it.
    """
    chart_id = _narrow_id(chart_id, narrow)
    neutral = (scale_min + scale_max) / 2
    if narrow:
        width, margin, side, font, wrap_at, line_height = NARROW_WIDTH, 0, 40, 14, 34, 18
    else:
        width, margin, side, font, wrap_at, line_height = 640, 10, 60, 13, 84, 16
    half = (width - 2 * margin - 2 * side) / 2
    centre = margin + side + half
    if narrow:
        legend_rows = (
            (
                16,
                (UNFAVOURABLE_COLOURS[1], UNFAVOURABLE_COLOURS[0]),
                "Unfavourable (darker: strongly)",
            ),
            (36, (NEUTRAL_COLOUR,), "Not sure"),
            (56, (FAVOURABLE_COLOURS[0], FAVOURABLE_COLOURS[1]), "Favourable (darker: strongly)"),
        )
        legend = "".join(
            "".join(
                f'<rect x="{margin + 14 * index}" y="{y - 11}" width="12" height="12" '
                f'fill="{colour}"/>'
                for index, colour in enumerate(colours)
            )
            + f'<text x="{margin + 32}" y="{y}" font-size="13" fill="#212b32">{words}</text>'
            for y, colours, words in legend_rows
        )
        axis_y, y = 80, 88
    else:
        # Room for each entry's words at about 0.6 em a character (DejaVu Sans, the fonts'
        # fallback, needs 0.51 em), so that no entry runs into the next swatch.
        legend = (
            f'<rect x="{margin}" y="8" width="12" height="12" fill="{UNFAVOURABLE_COLOURS[1]}"/>'
            f'<rect x="{margin + 14}" y="8" width="12" height="12" '
            f'fill="{UNFAVOURABLE_COLOURS[0]}"/>'
            f'<text x="{margin + 32}" y="19" font-size="12" fill="#212b32">Unfavourable '
            "(darker: strongly)</text>"
            f'<rect x="{margin + 262}" y="8" width="12" height="12" fill="{NEUTRAL_COLOUR}"/>'
            f'<text x="{margin + 280}" y="19" font-size="12" fill="#212b32">Not sure</text>'
            f'<rect x="{margin + 342}" y="8" width="12" height="12" '
            f'fill="{FAVOURABLE_COLOURS[0]}"/>'
            f'<rect x="{margin + 356}" y="8" width="12" height="12" '
            f'fill="{FAVOURABLE_COLOURS[1]}"/>'
            f'<text x="{margin + 374}" y="19" font-size="12" fill="#212b32">Favourable '
            "(darker: strongly)</text>"
        )
        axis_y, y = 40, 52
    axis_size = 13 if narrow else 12
    legend += (
        f'<text x="{centre - 6:.1f}" y="{axis_y}" text-anchor="end" font-size="{axis_size}" '
        f'fill="{NHS_DARK_GREY}">unfavourable</text>'
        f'<text x="{centre + 6:.1f}" y="{axis_y}" font-size="{axis_size}" '
        f'fill="{NHS_DARK_GREY}">favourable</text>'
    )
    rows: list[str] = []
    for bar in bars:
        for line in _wrap(bar.statement, wrap_at):
            rows.append(
                f'<text x="{margin}" y="{y + 12}" font-size="{font}" fill="#212b32">'
                f"{escape(line)}</text>"
            )
            y += line_height
        y += 4
        shares = {int(r.value): r.valid_percent for r in bar.table.rows if r.value.is_integer()}
        bad, middle, good = favourable_shares(bar, neutral)
        values = sorted(shares)
        ordered = values if bar.agreeing_is_favourable else list(reversed(values))
        start = centre - (bad + middle / 2) / 100 * half
        for value in ordered:
            share = shares.get(value, 0.0)
            if share <= 0:
                continue
            segment = share / 100 * half
            colour = _answer_colour(
                value, scale_min, scale_max, neutral, bar.agreeing_is_favourable
            )
            rows.append(
                f'<rect x="{start:.1f}" y="{y}" width="{segment:.1f}" height="20" '
                f'fill="{colour}" stroke="#ffffff" stroke-width="1"/>'
            )
            start += segment
        # The centre line beside each bar only, so that it never crosses a statement.
        rows.append(
            f'<line x1="{centre:.1f}" y1="{y - 3}" x2="{centre:.1f}" y2="{y + 23}" '
            'stroke="#212b32" stroke-width="1"/>'
        )
        rows.append(
            f'<text x="{centre - half - 6:.1f}" y="{y + 15}" text-anchor="end" '
            f'font-size="{font}" fill="{NHS_RED}">{spss_round(bad, 0)}%</text>'
            f'<text x="{centre + half + 6:.1f}" y="{y + 15}" font-size="{font}" '
            f'fill="{NHS_DARK_BLUE}">{spss_round(good, 0)}%</text>'
        )
        y += 34
    height = y + 4
    return "".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="{_chart_class(narrow, paired)}" '
            f'role="img" viewBox="0 0 {width} {height}" '
            f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc">',
            f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
            f'<desc id="{escape(chart_id)}-desc">{escape(_describe_items(bars, neutral))}</desc>',
            legend,
            *rows,
            "</svg>",
        ]
    )


def _describe_items(bars: Sequence[ItemBar], neutral: float) -> str:
    sentences = []
    for bar in bars:
        bad, middle, good = favourable_shares(bar, neutral)
        way = "agreeing" if bar.agreeing_is_favourable else "disagreeing"
        answers = ", ".join(
            f"{spss_round(r.valid_percent)}% {r.label or int(r.value)}" for r in bar.table.rows
        )
        sentences.append(
            f"{bar.statement} ({way} is favourable): {spss_round(good, 0)}% favourable, "
            f"{spss_round(middle, 0)}% not sure, {spss_round(bad, 0)}% unfavourable "
            f"({answers})"
        )
    return "; ".join(sentences) + "."


def _gap_fill(gap: float, clear: bool = True) -> tuple[str, str]:
    """Cell colour and text colour for a gap (favourable-keyed: positive is better). Only a
    clear gap (its interval excluding zero) gets a strong colour: a gap within sampling noise
    is at most pale, however large its estimate, so colour never says more than the interval."""
    if not clear:
        if gap >= 0.2:
            return "#dbe8f5", "#212b32"
        if gap <= -0.2:
            return "#f9dcd9", "#212b32"
        return "#f0f4f5", "#212b32"
    if gap >= 0.5:
        return NHS_DARK_BLUE, "#ffffff"
    if gap >= 0.2:
        return "#a6c8ea", "#212b32"
    if gap > -0.2:
        return "#f0f4f5", "#212b32"
    if gap > -0.5:
        return "#f4b9b3", "#212b32"
    return NHS_RED, "#ffffff"


def gap_heat_map_svg(
    rows: Sequence[tuple[str, Sequence[tuple[float | None, bool]]]],
    columns: Sequence[str],
    *,
    title: str,
    chart_id: str,
) -> str:
    """A compact heat map of gaps: one row per scale, one column per group.

    ``rows`` holds (scale name, [(gap or ``None`` when hidden, clear)] per column). The figure is
    written in the cell; a clear gap (interval excluding zero) is outlined, marked with a
    diamond and coloured by its size and sign; a gap within its interval of zero is only
    tinted; a hidden cell is left blank with a dash. The table beside the chart gives the
    intervals.
    """
    label_width, cell_width, cell_height, header = 200, 72, 26, 70
    width = label_width + cell_width * len(columns) + 8
    height = header + cell_height * len(rows) + 8
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="trust-chart app-heat-map" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
    ]
    described = []
    for name, values in rows:
        figures = ", ".join(
            f"{column} {_signed(gap)}{' (clear)' if clear else ''}"
            if gap is not None
            else f"{column} hidden"
            for column, (gap, clear) in zip(columns, values, strict=True)
        )
        described.append(f"{name}: {figures}")
    parts.append(f'<desc id="{escape(chart_id)}-desc">{escape("; ".join(described))}.</desc>')
    for index, column in enumerate(columns):
        x = label_width + index * cell_width + cell_width / 2
        for line_number, line in enumerate(_wrap(column, 11)[:5]):
            parts.append(
                f'<text x="{x:.1f}" y="{12 + line_number * 12}" text-anchor="middle" '
                f'font-size="10" fill="#212b32">{escape(line)}</text>'
            )
    for row_index, (name, values) in enumerate(rows):
        y = header + row_index * cell_height
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 17}" text-anchor="end" font-size="12" '
            f'fill="#212b32">{escape(name)}</text>'
        )
        for index, (gap, clear) in enumerate(values):
            x = label_width + index * cell_width
            if gap is None:
                parts.append(
                    f'<rect x="{x + 1}" y="{y + 1}" width="{cell_width - 2}" '
                    f'height="{cell_height - 2}" fill="#ffffff" stroke="{NHS_PALE_GREY}"/>'
                    f'<text x="{x + cell_width / 2:.1f}" y="{y + 17}" text-anchor="middle" '
                    f'font-size="12" fill="{NHS_DARK_GREY}">-</text>'
                )
                continue
            fill, ink = _gap_fill(gap, clear)
            outline = (
                ' stroke="#212b32" stroke-width="2"' if clear else f' stroke="{NHS_PALE_GREY}"'
            )
            parts.append(
                f'<rect x="{x + 1}" y="{y + 1}" width="{cell_width - 2}" '
                f'height="{cell_height - 2}" fill="{fill}"{outline}/>'
                f'<text x="{x + cell_width / 2:.1f}" y="{y + 17}" text-anchor="middle" '
                f'font-size="12" fill="{ink}">{_signed(gap)}{" ◆" if clear else ""}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _signed(value: float) -> str:
    return signed(value)


def trend_small_multiples_svg(
    panels: Sequence[
        tuple[str, int, int, Sequence[tuple[str, float | None, float | None, float | None]]]
    ],
    *,
    title: str,
    chart_id: str,
    columns: int = 3,
    narrow: bool = False,
    paired: bool = False,
) -> str:
    """One small panel per scale: its score in each round (oldest left) with 95% whiskers.

    ``panels`` holds (scale name, answer minimum, maximum, [(round label, score, low, high)]);
    a missing score leaves a gap. Each panel's vertical axis is its scale's answer range
    (higher is better), the same for scales answered alike, so panels can be compared at a
    glance; the table beside the chart gives the figures. ``narrow`` is the phone layout (one
    column of panels; ids end in ``-narrow``); ``paired`` marks the wide chart shown with it.
    """
    chart_id = _narrow_id(chart_id, narrow)
    columns = 1 if narrow else columns
    panel_width, panel_height, gap = 200, 120, 12
    rows = (len(panels) + columns - 1) // columns
    width = columns * panel_width + (columns - 1) * gap
    height = rows * (panel_height + gap)
    described = []
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{_chart_class(narrow, paired)}" '
        f'role="img" viewBox="0 0 {width} {height}" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
    ]
    body: list[str] = []
    for index, (name, scale_min, scale_max, points) in enumerate(panels):
        left = (index % columns) * (panel_width + gap)
        top = (index // columns) * (panel_height + gap)
        plot_top, plot_bottom = top + 30, top + panel_height - 18
        plot_left, plot_right = left + 24, left + panel_width - 10

        def y(
            value: float,
            bottom: float = plot_bottom,
            top_: float = plot_top,
            low: int = scale_min,
            high: int = scale_max,
        ) -> float:
            share = (value - low) / (high - low)
            return bottom - share * (bottom - top_)

        body.append(
            f'<rect x="{left}" y="{top}" width="{panel_width}" height="{panel_height}" '
            f'fill="#ffffff" stroke="{NHS_PALE_GREY}"/>'
            f'<text x="{left + 6}" y="{top + 16}" font-size="12" font-weight="bold" '
            f'fill="#212b32">{escape(name[:30])}</text>'
        )
        for tick in (scale_min, (scale_min + scale_max) / 2, scale_max):
            body.append(
                f'<line x1="{plot_left}" y1="{y(tick):.1f}" x2="{plot_right}" y2="{y(tick):.1f}" '
                f'stroke="{NHS_PALE_GREY}"/>'
                f'<text x="{plot_left - 4}" y="{y(tick) + 4:.1f}" text-anchor="end" '
                f'font-size="10" fill="{NHS_DARK_GREY}">{tick:g}</text>'
            )
        step = (plot_right - plot_left) / max(len(points) - 1, 1)
        previous: tuple[float, float] | None = None
        words = []
        for position, (label, score, low, high) in enumerate(points):
            x = plot_left + step * position if len(points) > 1 else (plot_left + plot_right) / 2
            if score is None:
                previous = None
                words.append(f"{label} no figure")
                continue
            if low is not None and high is not None:
                body.append(
                    f'<line x1="{x:.1f}" y1="{y(low):.1f}" x2="{x:.1f}" y2="{y(high):.1f}" '
                    f'stroke="{NHS_BLUE}" stroke-width="2"/>'
                )
            if previous is not None:
                body.append(
                    f'<line x1="{previous[0]:.1f}" y1="{previous[1]:.1f}" x2="{x:.1f}" '
                    f'y2="{y(score):.1f}" stroke="{NHS_DARK_BLUE}" stroke-width="1.5"/>'
                )
            body.append(f'<circle cx="{x:.1f}" cy="{y(score):.1f}" r="4" fill="{NHS_DARK_BLUE}"/>')
            previous = (x, y(score))
            interval = (
                f" (95% CI {format_number(low, 2)} to {format_number(high, 2)})"
                if low is not None and high is not None
                else ""
            )
            words.append(f"{label} {format_number(score, 2)}{interval}")
        last = next((p for p in reversed(points) if p[1] is not None), None)
        if last is not None and last[1] is not None:
            body.append(
                f'<text x="{left + panel_width - 8}" y="{top + 16}" text-anchor="end" '
                f'font-size="12" fill="{NHS_DARK_BLUE}">{format_number(last[1], 2)}</text>'
            )
        described.append(f"{name}: " + ", ".join(words))
    parts.append(f'<desc id="{escape(chart_id)}-desc">{escape("; ".join(described))}.</desc>')
    return "".join([*parts, *body, "</svg>"])
