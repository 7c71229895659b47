"""The demo report's words and charts as the page, the HTML download and the PDF print them
(one set of templates): plain words for SPSS's, each band said once, questions by their names,
and every chart with a phone layout of its own."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import date

import pytest

from app.reports.rendering import report_html
from app.services.reports import RoundReport


@pytest.fixture(scope="module")
def demo_html(demo_report: RoundReport) -> tuple[RoundReport, str]:
    return demo_report, report_html(demo_report, generated_on=date(2026, 12, 2))


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_frequency_tables_say_answered_and_no_answer(demo_html: tuple[RoundReport, str]) -> None:
    _, html = demo_html
    tables = re.findall(r'<table class="nhsuk-table report-frequencies".*?</table>', html, re.S)
    assert tables
    words = _text(" ".join(tables))
    assert "Answered" in words and "Percent of answers" in words
    for spss in ("Valid", "Missing", "System"):
        assert spss not in words, spss


def test_each_scale_reading_names_its_band_once(demo_html: tuple[RoundReport, str]) -> None:
    report, html = demo_html
    readings = re.findall(r'<p data-reading="[^"]+">(.*?)</p>', html, re.S)
    assert len(readings) == len(report.readings)
    for reading, shown in zip(report.readings, readings, strict=True):
        assert reading.band_label is not None
        assert _text(shown).count(reading.band_label) == 1, _text(shown)
    assert "Borderline. Borderline" not in _text(html)


def test_withheld_answers_are_named_as_the_questionnaire_names_them(
    demo_html: tuple[RoundReport, str],
) -> None:
    report, html = demo_html
    note = report.withheld_note
    assert note is not None and note in html
    for question in report.instrument.background:
        assert f"{question.id} on" not in note
    assert any(f"{q.name} on" in note for q in report.instrument.background)


def test_every_chart_has_a_phone_layout_with_ids_of_its_own(
    demo_html: tuple[RoundReport, str],
) -> None:
    _, html = demo_html
    ids = Counter(re.findall(r'\bid="([^"]+)"', html))
    assert [i for i, n in ids.items() if n > 1] == []
    svgs = re.findall(r"<svg .*?</svg>", html, re.S)
    classes = [ET.fromstring(svg).get("class") or "" for svg in svgs]
    wide = [c for c in classes if "app-chart--wide" in c]
    narrow = [c for c in classes if "app-chart--narrow" in c]
    assert len(wide) == len(narrow) == 12  # the profile and a chart per scale
    # The stylesheet shows the narrow one on a narrow screen only, never in print.
    css = html[html.index("<style>") : html.index("</style>")]
    assert re.search(
        r"@media screen and \(max-width: [\d.]+em\) \{\s*\.report-figure svg\.app-chart--wide", css
    )


def test_the_document_prints_no_scroll_hints(demo_html: tuple[RoundReport, str]) -> None:
    """The scroll hints show on a screen only when a box overflows (scroll.css); the document
    (the HTML download and the PDF) hides them, and inlines scroll.css for screens only, so
    the download opened on a phone shows them and a print never does."""
    _, html = demo_html
    assert 'class="app-scroll-hint"' in html
    css = html[html.index("<style>") : html.index("</style>")]
    assert re.search(r"\.app-scroll-hint \{ display: none; \}", css)
    screen = css[css.index("@media screen {\n/* Scroll cues") :]
    assert ".app-table-scroll {" in screen and "--app-scroll-shadows" in screen


def test_the_contents_list_every_section(demo_html: tuple[RoundReport, str]) -> None:
    """Every section of the report (each visible ``h2`` with an id, and the cautions) has its
    link in the contents list, "Items in no scale" included (the demo's q32)."""
    _, html = demo_html
    contents = re.search(r'<nav class="nhsuk-contents-list".*?</nav>', html, re.S)
    assert contents is not None
    linked = set(re.findall(r'href="#([^"]+)"', contents.group(0)))
    sections = set(re.findall(r'<h2 class="nhsuk-heading-m" id="([^"]+)"', html))
    assert "other-items" in sections
    assert sections | {"cautions"} <= linked, sorted(sections - linked)
