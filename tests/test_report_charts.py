"""Report charts are well-formed SVG that state their figures in words."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from analysis.frequencies import frequency_table
from analysis.summary import ProfileBar
from app.reports.charts import (
    FAVOURABLE_COLOURS,
    NEUTRAL_COLOUR,
    UNFAVOURABLE_COLOURS,
    ItemBar,
    diverging_items_svg,
    trust_profile_svg,
)

SVG = "{http://www.w3.org/2000/svg}"
LABELS = {1: "Strongly disagree", 2: "Disagree", 3: "Not sure", 4: "Agree", 5: "Strongly agree"}


def test_trust_profile_bars_and_text_alternative() -> None:
    bars = [
        ProfileBar("pillar", "Ability", 3.6, ("a",)),
        ProfileBar("trust level", "Inter <b>", 2.0, ("b",)),
    ]
    root = ET.fromstring(trust_profile_svg(bars))
    assert root.get("role") == "img"
    desc = root.find(f"{SVG}desc")
    assert desc is not None and "Ability 3.60" in (desc.text or "")  # as the profile table
    assert "Inter <b> 2.00" in (desc.text or "")  # escaped in markup, intact as text
    widths = [float(r.get("width", 0)) for r in root.iter(f"{SVG}rect")]
    assert widths[0] > widths[1] > 0


def _q30() -> ItemBar:
    table = frequency_table(
        pd.Series([1.0] * 2 + [2.0] * 12 + [3.0] * 11 + [4.0] * 12 + [5.0] * 2),
        labels=LABELS,
        item="q30",
    )
    return ItemBar(table, "Partners promised things & did not do them.", False)


def _segments(root: ET.Element) -> list[ET.Element]:
    rects = list(root.iter(f"{SVG}rect"))
    return rects[5:]  # after the legend's five swatches


def test_diverging_bar_segments_follow_the_answers_and_favourability() -> None:
    bar = _q30()  # negatively worded: disagreeing is favourable
    svg = diverging_items_svg([bar], title="Items", chart_id="c")
    root = ET.fromstring(svg)
    desc = root.find(f"{SVG}desc")
    assert desc is not None
    text = desc.text or ""
    assert text.startswith(
        "Partners promised things & did not do them. (disagreeing is favourable)"
    )
    assert "36% favourable, 28% not sure, 36% unfavourable" in text
    assert "5.1% Strongly disagree, 30.8% Disagree, 28.2% Not sure" in text
    # Labelled with the statement, never the item id.
    labels = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert "Partners promised things & did not do them." in labels and "q30" not in svg
    assert "36%" in labels
    segments = _segments(root)
    widths = [float(r.get("width", 0)) for r in segments]
    colours = [r.get("fill") for r in segments]
    # Agreeing is unfavourable here: the bar runs strongly agree (left) ... strongly disagree.
    assert colours == [
        UNFAVOURABLE_COLOURS[1],
        UNFAVOURABLE_COLOURS[0],
        NEUTRAL_COLOUR,
        FAVOURABLE_COLOURS[0],
        FAVOURABLE_COLOURS[1],
    ]
    assert widths[3] / widths[4] == pytest.approx(6.0, rel=0.01)  # disagree 12 : strongly 2
    # The same answers on a positively worded item: colours follow agreement instead.
    positive = ET.fromstring(
        diverging_items_svg(
            [ItemBar(bar.table, "Partners keep promises.", True)], title="Items", chart_id="d"
        )
    )
    assert [r.get("fill") for r in _segments(positive)] == [
        UNFAVOURABLE_COLOURS[1],
        UNFAVOURABLE_COLOURS[0],
        NEUTRAL_COLOUR,
        FAVOURABLE_COLOURS[0],
        FAVOURABLE_COLOURS[1],
    ]
    first = _segments(positive)[0]
    assert float(first.get("width", 0)) == pytest.approx(widths[4], rel=0.01)  # strongly disagree


def test_heat_map_colours_only_clear_gaps_strongly() -> None:
    from app.reports.charts import NHS_DARK_BLUE, NHS_RED, gap_heat_map_svg

    svg = gap_heat_map_svg(
        [("Competition", [(1.0, False), (1.0, True), (-0.9, True), (None, False)])],
        ["A", "B", "C", "D"],
        title="Gaps",
        chart_id="g",
    )
    root = ET.fromstring(svg)
    fills = [r.get("fill") for r in root.iter(f"{SVG}rect")]
    assert fills[1] == NHS_DARK_BLUE and fills[2] == NHS_RED  # clear gaps
    assert fills[0] not in {NHS_DARK_BLUE, NHS_RED}  # as large, but inside its interval
    assert fills[3] == "#ffffff"  # hidden
    desc = root.find(f"{SVG}desc")
    assert desc is not None and "A +1.00, B +1.00 (clear), C -0.90 (clear), D hidden" in (
        desc.text or ""
    )


PHONE_COLUMN = 288  # a 320 px window less the page's 16 px gutters
LEGIBLE_PX = 12


def _smallest_text_px(root: ET.Element, column: int) -> float:
    """The smallest font size of ``root``'s text once the chart is scaled to ``column`` px."""
    width = float((root.get("viewBox") or "0 0 1 1").split()[2])
    sizes = [float(t.get("font-size", 0)) for t in root.iter(f"{SVG}text")]
    return min(sizes) * min(column, width) / width


def test_narrow_charts_stay_legible_in_a_phone_column() -> None:
    """At 320 px the wide charts shrink to text a few pixels tall; their narrow layouts put
    each label above its bar and keep every word at least 12 px high."""
    bars = [
        ProfileBar("pillar", "Ability", 3.6, ("a",)),
        ProfileBar("trust level", "Inter-organisational trust", 2.0, ("b",)),
    ]
    wide = ET.fromstring(trust_profile_svg(bars))
    assert _smallest_text_px(wide, PHONE_COLUMN) < LEGIBLE_PX  # what the phone saw before
    for svg in (
        trust_profile_svg(bars, chart_id="p", narrow=True),
        diverging_items_svg([_q30(), _q30()], title="Items", chart_id="c", narrow=True),
    ):
        root = ET.fromstring(svg)
        assert "app-chart--narrow" in (root.get("class") or "")
        assert _smallest_text_px(root, PHONE_COLUMN) >= LEGIBLE_PX, svg[:200]
        ids = [e.get("id") for e in root.iter() if e.get("id")]
        # Its own ids, so that it can sit beside the wide chart.
        assert ids and all("-narrow-" in str(i) for i in ids), ids
    profile = ET.fromstring(trust_profile_svg(bars, chart_id="p", narrow=True))
    texts = {t.text: float(t.get("y", 0)) for t in profile.iter(f"{SVG}text")}
    bar_tops = [float(r.get("y", 0)) for r in profile.iter(f"{SVG}rect")]
    assert texts["Ability"] < bar_tops[0] < texts["Inter-organisational trust"] < bar_tops[1]
    # The same figures and colours as the wide chart.
    narrow_items = ET.fromstring(
        diverging_items_svg([_q30()], title="Items", chart_id="c", narrow=True)
    )
    wide_items = ET.fromstring(diverging_items_svg([_q30()], title="Items", chart_id="c"))
    assert [r.get("fill") for r in _segments(narrow_items)] == [
        r.get("fill") for r in _segments(wide_items)
    ]
    assert (narrow_items.find(f"{SVG}desc").text or "") == (  # type: ignore[union-attr]
        wide_items.find(f"{SVG}desc").text or ""  # type: ignore[union-attr]
    )


def test_paired_wide_chart_is_marked_so_a_phone_can_swap_it() -> None:
    bars = [ProfileBar("pillar", "Ability", 3.6, ("a",))]
    root = ET.fromstring(trust_profile_svg(bars, paired=True))
    assert (root.get("class") or "").split() == ["trust-chart", "app-chart--wide"]
    assert (ET.fromstring(trust_profile_svg(bars)).get("class") or "") == "trust-chart"


@pytest.mark.parametrize("narrow", [False, True])
def test_legend_entries_leave_room_for_their_words(narrow: bool) -> None:
    """Each legend entry's words end before the next swatch begins, at a generous 0.6 em a
    character (DejaVu Sans, the fallback of the page's and the PDF's font, needs about 0.51
    em: "Unfavourable (darker: strongly)" ran into the "Not sure" swatch)."""
    root = ET.fromstring(diverging_items_svg([_q30()], title="Items", chart_id="c", narrow=narrow))
    legend_rects = list(root.iter(f"{SVG}rect"))[:5]
    legend_texts = [t for t in root.iter(f"{SVG}text") if "(darker" in (t.text or "")] + [
        t for t in root.iter(f"{SVG}text") if t.text == "Not sure"
    ]
    assert len(legend_texts) == 3
    width = float((root.get("viewBox") or "0 0 0 0").split()[2])
    for text in legend_texts:
        x, y = float(text.get("x", 0)), float(text.get("y", 0))
        end = x + 0.6 * float(text.get("font-size", 12)) * len(text.text or "")
        assert end <= width, text.text
        for rect in legend_rects:
            rx, ry = float(rect.get("x", 0)), float(rect.get("y", 0))
            same_line = ry <= y <= ry + float(rect.get("height", 0)) + 1
            if same_line and rx > x:
                assert end < rx, f"{text.text!r} runs into the swatch at x={rx}"
