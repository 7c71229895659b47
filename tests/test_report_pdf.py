"""The report PDF, from both engines: a cover, no heading left at a page's foot, no empty page,
page numbers in the body font; rendered to PNG (poppler's pdftoppm) and read back through its
text layer (pdftotext -bbox-layout). The PNGs are kept in test-artifacts/report-pdf/ to look at.
"""

from __future__ import annotations

import html as html_module
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from PIL import Image

from app.reports import pdf as pdf_engines
from app.reports.pdf import PdfOptions, find_chromium
from app.reports.rendering import report_html, report_pdf
from app.services.errors import PdfUnavailableError
from app.services.reports import RoundReport

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "report-pdf"
GENERATED = date(2026, 12, 2)
FOOTER_POINTS = 40  # the bottom margin (18 mm) holds only the page number and the round
XHTML = "{http://www.w3.org/1999/xhtml}"

pytestmark = pytest.mark.slow
needs_poppler = pytest.mark.skipif(
    shutil.which("pdftoppm") is None, reason="poppler-utils (pdftoppm) is not installed"
)


@dataclass(frozen=True)
class Line:
    page: int
    top: float
    bottom: float
    text: str


@dataclass(frozen=True)
class Page:
    number: int
    height: float
    lines: tuple[Line, ...]

    @property
    def body(self) -> list[Line]:
        return [line for line in self.lines if line.top < self.height - FOOTER_POINTS]

    @property
    def footer(self) -> str:
        return " ".join(line.text for line in self.lines if line.top >= self.height - FOOTER_POINTS)


def text_layer(pdf: Path) -> list[Page]:
    """Every page's lines with their vertical position, from ``pdftotext -bbox-layout``."""
    xhtml = subprocess.run(
        ["pdftotext", "-bbox-layout", str(pdf), "-"], check=True, capture_output=True
    ).stdout
    root = ET.fromstring(xhtml)
    pages = []
    for number, page in enumerate(root.iter(f"{XHTML}page"), start=1):
        lines = tuple(
            Line(
                number,
                float(line.get("yMin", 0)),
                float(line.get("yMax", 0)),
                " ".join(word.text or "" for word in line.iter(f"{XHTML}word")),
            )
            for line in page.iter(f"{XHTML}line")
        )
        pages.append(Page(number, float(page.get("height", 0)), lines))
    return pages


def headings_of(html: str) -> list[str]:
    """The text of every visible heading and table caption of the HTML, whitespace collapsed
    (a visually hidden heading, such as a contents list's, is for screen readers only)."""
    found = re.findall(r"<(h[1-4]|caption)\b([^>]*)>(.*?)</\1>", html, flags=re.S)
    hidden = re.compile(r'<span class="nhsuk-u-visually-hidden">.*?</span>', flags=re.S)
    return [
        _words(html_module.unescape(re.sub(r"<[^>]+>", " ", hidden.sub("", inner))))
        for _, attributes, inner in found
        if "nhsuk-u-visually-hidden" not in attributes
    ]


def _words(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def last_row(page: Page) -> str:
    """What is printed lowest on the page above the footer: the lines that share the lowest
    baseline (a table row's cells are separate lines side by side)."""
    body = page.body
    lowest = max(line.bottom for line in body)
    return _words(" ".join(line.text for line in body if lowest - line.bottom < 3))


def is_heading_end(row: str, headings: list[str]) -> bool:
    """Whether the lowest row is a heading, or the last line of one that wraps."""
    return any(heading == row or (heading.endswith(row) and len(row) > 12) for heading in headings)


def engines() -> list[object]:
    chromium = pytest.mark.skipif(find_chromium() is None, reason="Chromium is not installed")
    return [pytest.param("chromium", marks=chromium), "weasyprint"]


@needs_poppler
@pytest.mark.parametrize("engine", engines())
def test_pdf_has_a_cover_no_orphaned_heading_and_no_empty_page(
    demo_report: RoundReport, engine: str
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"demo-{engine}.pdf"
    path.write_bytes(
        report_pdf(demo_report, PdfOptions(engine=engine), generated_on=GENERATED)  # type: ignore[arg-type]
    )
    pages = text_layer(path)
    assert len(pages) >= 4
    html = report_html(demo_report, generated_on=GENERATED)
    headings = headings_of(html)
    assert any(h.startswith("Summary") for h in headings)
    assert not re.search(r"<details(?![^>]*\bopen\b)", html)  # nothing collapsed in print
    printed = _words(" ".join(line.text for page in pages for line in page.lines))
    for heading in headings:  # every heading and caption is printed: nothing hidden
        assert heading[:40] in printed, heading
    # The screen's scroll hints and phone charts are not printed; the words are the page's.
    assert "Scroll sideways" not in printed
    assert "Answered" in printed and "Missing System" not in printed

    cover = _words(" ".join(line.text for line in pages[0].lines))
    survey_round = demo_report.survey_round
    for expected in (
        demo_report.partnership.name,
        survey_round.title,
        f"{survey_round.opens_on:%-d %B %Y} to {survey_round.closes_on:%-d %B %Y}",
        "Generated 2 December 2026",
    ):
        assert expected in cover, expected
    assert "Table 4" not in cover  # the cover is a page of its own
    assert pages[0].footer == ""  # and carries no page number

    for page in pages:
        assert page.body, f"page {page.number} holds nothing but its footer"
        row = last_row(page)
        assert not is_heading_end(row, headings), f"page {page.number} ends with a heading: {row}"
        if page.number > 1:
            assert f"Page {page.number} of {len(pages)}" in page.footer, page.footer
            assert demo_report.partnership.name in page.footer

    fonts = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True, text=True)
    families = {line.split()[0].split("+")[-1] for line in fonts.stdout.splitlines()[2:]}
    # One family for everything, the page numbers included: the body font and its bold.
    assert families <= {"DejaVuSans", "DejaVuSans-Bold", "DejaVu-Sans", "DejaVu-Sans-Bold"}, (
        families
    )

    for old in ARTIFACTS.glob(f"{engine}-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(path), str(ARTIFACTS / engine)], check=True)
    images = sorted(ARTIFACTS.glob(f"{engine}-*.png"))
    assert len(images) == len(pages)
    for number, image_path in enumerate(images, start=1):
        image = Image.open(image_path).convert("L")
        width, height = image.size
        footer = round(height * FOOTER_POINTS / pages[number - 1].height)
        body = image.crop((0, 0, width, height - footer))
        inked = sum(body.histogram()[:200])
        assert inked > 300, f"page {number} is blank above its footer ({inked} dark pixels)"


@needs_poppler
@pytest.mark.parametrize("engine", engines())
def test_a_short_report_table_is_printed_on_one_page(demo_report: RoundReport, engine: str) -> None:
    """A report table of at most SHORT_TABLE_ROWS rows is never split: every row is printed on
    the page of its caption, below it (the trust profile's table once left its caption, its
    header and one row at the foot of a page and the rest on the next)."""
    from analysis.report_tables import SHORT_TABLE_ROWS

    path = ARTIFACTS / f"short-tables-{engine}.pdf"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        report_pdf(demo_report, PdfOptions(engine=engine), generated_on=GENERATED)  # type: ignore[arg-type]
    )
    pages = text_layer(path)
    short = [t for t in demo_report.tables if len(t.rows) <= SHORT_TABLE_ROWS]
    assert short
    for table in short:
        start = _words(table.title)[:30]
        page, caption = next(
            (page, line) for page in pages for line in page.lines if start in _words(line.text)
        )
        below = _words(" ".join(line.text for line in page.body if line.top > caption.top))
        below = below.replace("- ", "-")  # a cell's words wrapped at a hyphen ("Inter-")
        for cells in table.text_rows():
            first_word = cells[0].split()[0]
            assert first_word in below, (
                f"{table.id}: row {cells[0]!r} is not on page {page.number} with its caption"
            )


def test_orphan_check_catches_a_heading_left_at_the_foot() -> None:
    """The check itself: a page whose lowest row is a heading (or the end of one) fails."""
    headings = [
        "Summary of the scales (Table 4)",
        "q22: Cooperating in the partnership could damage my organisation",
    ]
    page = Page(
        2,
        842.0,
        (
            Line(2, 700, 712, "Some text of a paragraph"),
            Line(2, 760, 775, "Summary of the scales (Table 4)"),
            Line(2, 815, 825, "Page 2 of 9"),
        ),
    )
    assert last_row(page) == "Summary of the scales (Table 4)"
    assert is_heading_end(last_row(page), headings)
    assert is_heading_end("could damage my organisation", headings)
    assert not is_heading_end("Valid 1 Strongly disagree 2 5.1", headings)


def test_css_strings_cannot_break_out_of_the_stylesheet() -> None:
    from app.templating import css_string

    text = str(css_string('North "x"; } </style><script>alert(1)</script> é'))
    assert text.startswith('"North\\000020\\000022x') and text.endswith('\\0000e9"')
    assert not set(text[1:-1]) & set("\"'<>;{} ")


def test_chromium_failures_are_clean(tmp_path: Path) -> None:
    """A Chromium that hangs is killed at the timeout; one that fails is reported; ``auto``
    falls back to WeasyPrint and ``chromium`` answers with the error."""
    hanging = tmp_path / "hanging-chromium"
    helper = tmp_path / "helper.pid"
    hanging.write_text(f"#!/bin/sh\nsleep 30 &\necho $! > {helper}\nexec sleep 30\n")
    hanging.chmod(0o755)
    failing = tmp_path / "failing-chromium"
    failing.write_text("#!/bin/sh\necho 'cannot open display' >&2\nexit 3\n")
    failing.chmod(0o755)
    html = "<!DOCTYPE html><html><body><p>Hello</p></body></html>"
    with pytest.raises(PdfUnavailableError) as timed_out:
        pdf_engines.chromium_pdf(html, hanging, timeout=1)
    assert "longer than 1 s" in timed_out.value.reason
    assert _dies(int(helper.read_text())), "the browser's helper outlived the timeout"
    with pytest.raises(PdfUnavailableError) as failed:
        pdf_engines.chromium_pdf(html, failing, timeout=10)
    assert "status 3" in failed.value.reason and "cannot open display" in failed.value.reason
    with pytest.raises(PdfUnavailableError):
        pdf_engines.html_to_pdf(html, PdfOptions(engine="chromium", chromium_path=failing))
    with pytest.raises(PdfUnavailableError):
        pdf_engines.html_to_pdf(
            html, PdfOptions(engine="chromium", chromium_path=tmp_path / "missing")
        )
    fallback = pdf_engines.html_to_pdf(html, PdfOptions(engine="auto", chromium_path=failing))
    assert fallback.startswith(b"%PDF")


def _dies(pid: int) -> bool:
    """Whether ``pid`` is dead within a few seconds: SIGKILL is delivered when the process is
    next scheduled, which on a loaded machine is not at once."""
    import time

    deadline = time.monotonic() + 5
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        return False
    state = next(line for line in status.read_text().splitlines() if line.startswith("State:"))
    return "Z" not in state.split()[1]  # a zombie waiting for its reaper is dead


def test_prints_take_turns_and_a_print_that_gets_no_turn_fails_cleanly() -> None:
    import threading

    executable = find_chromium()
    if executable is None:
        pytest.skip("Chromium is not installed")
    html = "<!DOCTYPE html><html><body><h1>Turns</h1></body></html>"
    slots = pdf_engines._print_slots(1)
    assert slots.acquire(timeout=5)
    try:
        with pytest.raises(PdfUnavailableError) as busy:
            pdf_engines.chromium_pdf(html, executable, timeout=0.3, concurrency=1)
        assert busy.value.reason == "every PDF printer is busy"
    finally:
        slots.release()
    results: list[bytes] = []
    failures: list[BaseException] = []

    def print_one() -> None:
        try:
            results.append(pdf_engines.chromium_pdf(html, executable, timeout=60, concurrency=2))
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=print_one) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(results) == 3 and all(r.startswith(b"%PDF") for r in results)
