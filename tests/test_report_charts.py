"""Report charts are well-formed SVG that state their figures in words."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from analysis.frequencies import frequency_table
from analysis.summary import ProfileBar
from app.reports.charts import diverging_items_svg, trust_profile_svg

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
    assert desc is not None and "Ability 3.6" in (desc.text or "")
    assert "Inter <b> 2.0" in (desc.text or "")  # escaped in markup, intact as text
    widths = [float(r.get("width", 0)) for r in root.iter(f"{SVG}rect")]
    assert widths[0] > widths[1] > 0


def test_diverging_bar_segments_follow_the_answers() -> None:
    q30 = frequency_table(
        pd.Series([1.0] * 2 + [2.0] * 12 + [3.0] * 11 + [4.0] * 12 + [5.0] * 2),
        labels=LABELS,
        item="q30",
    )
    root = ET.fromstring(diverging_items_svg([q30], title="Items", chart_id="c"))
    desc = root.find(f"{SVG}desc")
    assert desc is not None
    assert "q30: 5.1% Strongly disagree, 30.8% Disagree, 28.2% Not sure" in (desc.text or "")
    # five legend swatches, then five segments whose widths are proportional to the shares
    segments = [float(r.get("width", 0)) for r in list(root.iter(f"{SVG}rect"))[5:]]
    assert len(segments) == 5
    assert segments[1] / segments[0] == pytest.approx(6.0, rel=0.01)
