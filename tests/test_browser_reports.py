"""An evaluator in a real browser: signs in, reads the demo report, downloads every format;
the PDF's pages rendered to PNG and checked, the .sav read back with its labels; another
partnership's report and files are 404; axe-core finds no WCAG 2.2 AA violation."""

from __future__ import annotations

import base64
import json
import os
import urllib.request
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.services.demo import DEMO_PARTNERSHIP, DEMO_REPORT_ROUND
from tests.browser_support import (
    ARTIFACTS,
    LiveServer,
    axe_violations,
    describe_violations,
    screenshot,
)

pytestmark = pytest.mark.browser
PASSWORD = "evaluator password 123"
A4_POINTS = (595.28, 841.89)


def _user_add(server: LiveServer, email: str, *options: str) -> None:
    """``trust-survey user add`` on the server's database (in this process: no second start
    of the command line)."""
    from app.cli import main

    env = {"DATABASE_URL": server.database_url, "TRUST_SURVEY_PASSWORD": PASSWORD}
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        assert main(["user", "add", email, "--password-from-env", *options]) == 0
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _coordinator_api(server: LiveServer, path: str, body: dict[str, object]) -> Any:
    credentials = f"{server.coordinator_email}:{server.coordinator_password}".encode()
    request = urllib.request.Request(
        server.base_url + path,
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": "Basic " + base64.b64encode(credentials).decode(),
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


@pytest.fixture(scope="module")
def accounts(live_server: LiveServer) -> dict[str, int]:
    _user_add(
        live_server,
        "evaluator@example.org",
        "--role",
        "evaluator",
        "--partnership",
        DEMO_PARTNERSHIP,
    )
    _user_add(live_server, "analyst@example.org", "--role", "analyst")
    other = _coordinator_api(
        live_server, "/api/v1/partnerships", {"name": "Other Alliance", "kind": "other"}
    )
    other_round = _coordinator_api(
        live_server,
        f"/api/v1/partnerships/{other['id']}/rounds",
        {
            "title": "Other round",
            "opens_on": (date.today() - timedelta(days=1)).isoformat(),
            "closes_on": (date.today() + timedelta(days=9)).isoformat(),
        },
    )
    return {"other_round": int(other_round["id"])}


def _sign_in(chromium: Any, server: LiveServer, email: str) -> Any:
    context = chromium.new_context(accept_downloads=True, bypass_csp=True)  # for axe-core
    page = context.new_page()
    page.goto(server.base_url + "/sign-in?next=/reports")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/reports")
    return page


def _check_pdf(path: Path) -> int:
    import pypdfium2  # type: ignore[import-untyped]

    pdf = pypdfium2.PdfDocument(str(path))
    folder = ARTIFACTS / "report-pdf"
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(len(pdf)):
        width, height = pdf[number].get_size()
        assert abs(width - A4_POINTS[0]) < 1 and abs(height - A4_POINTS[1]) < 1
        image = pdf[number].render(scale=0.5).to_pil().convert("L")
        image.save(folder / f"page-{number + 1}.png")
        inked = sum(image.histogram()[:200])
        assert inked > 500, f"page {number + 1} is (nearly) blank: {inked} dark pixels"
    return len(pdf)


def test_evaluator_reads_and_downloads_the_demo_report(
    chromium: Any, live_server: LiveServer, accounts: dict[str, int], tmp_path: Path
) -> None:
    page = _sign_in(chromium, live_server, "evaluator@example.org")
    page.click(f"text={DEMO_REPORT_ROUND}")  # the closed round with the 39 responses
    page.wait_for_load_state()
    assert page.locator("h1").inner_text().endswith(": report")
    assert page.locator("#table4 tbody tr").count() == 11
    # the profile, one per scale, and a heat map per asymmetry question; each of the first
    # twelve has a phone layout beside it
    assert page.locator("svg.trust-chart:not(.app-chart--narrow)").count() == 12 + 2
    assert page.locator("svg.app-chart--narrow").count() == 12
    assert "Recommendation 6" in page.content()
    violations = axe_violations(page)
    screenshot(page, "report-demo")
    assert violations == [], describe_violations(violations)
    report_url = page.url

    saved: dict[str, Path] = {}
    for link in page.locator("#downloads a").all():
        href = link.get_attribute("href") or ""
        if href.startswith("/api/"):
            continue
        with page.expect_download() as download_info:
            link.click()
        download = download_info.value
        saved[href.rsplit("/", 1)[1]] = tmp_path / download.suggested_filename
        download.save_as(saved[href.rsplit("/", 1)[1]])
    assert set(saved) == {
        "report.pdf",
        "report.html",
        "report.xlsx",
        "report.docx",
        "answers.csv",
        "scores.csv",
        "answers.sav",
    }

    assert _check_pdf(saved["report.pdf"]) >= 3
    import pyreadstat  # type: ignore[import-untyped]
    from openpyxl import load_workbook  # type: ignore[import-untyped]

    frame, meta = pyreadstat.read_sav(str(saved["answers.sav"]))
    assert len(frame) == 39
    assert meta.variable_value_labels["q10"][5.0] == "Strongly agree"
    assert (
        meta.column_names_to_labels["organisation_type"]
        == "What type of organisation do you work for?"
    )
    assert "Inter-Individual Trust (scale score, higher is better)" in meta.column_labels
    sheets = load_workbook(saved["report.xlsx"]).sheetnames
    assert sheets[:3] == ["Table 4", "Scores", "Trust profile"]
    assert {"Frequencies", "Item answers", "Scale scores", "Notes"} <= set(sheets)
    assert saved["answers.csv"].read_text(encoding="utf-8-sig").startswith("respondent,")

    other = accounts["other_round"]
    assert page.goto(f"{live_server.base_url}/reports/rounds/{other}").status == 404
    for name in saved:
        answer = page.request.get(f"{live_server.base_url}/reports/rounds/{other}/{name}")
        assert answer.status == 404, name
    assert page.request.get(f"{live_server.base_url}/api/v1/reports/rounds/{other}").status == 404
    assert page.goto(f"{live_server.base_url}/analyst").status == 404
    assert page.goto(report_url).status == 200


def test_analyst_pages_are_accessible(
    chromium: Any, live_server: LiveServer, accounts: dict[str, int]
) -> None:
    page = _sign_in(chromium, live_server, "analyst@example.org")
    page.goto(live_server.base_url + "/analyst")
    assert "Multispecialty community providers" in page.locator("#partnership-kinds").inner_text()
    violations = axe_violations(page)
    screenshot(page, "analyst-pooled")
    assert violations == [], describe_violations(violations)
    page.goto(live_server.base_url + "/analyst/reliability")
    for item in ("q26", "q27", "q28"):
        page.check(f"#item-{item}")
    page.check("#missing-listwise")
    page.click("text=Compute alpha")
    assert page.locator("#alpha").inner_text().startswith("0.833")
    violations = axe_violations(page)
    screenshot(page, "analyst-reliability")
    assert violations == [], describe_violations(violations)
    # The other partnership's round is open (and has no answers): it is listed as not pooled.
    page.goto(live_server.base_url + "/analyst")
    assert "No: not closed yet" in page.locator("#pooled-rounds").inner_text()


# After two frames: a scroll-driven animation (the hint's) follows a change of size on the next.
SCROLL_CUES = """async () => {
    await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
    return [...document.querySelectorAll('.app-table-scroll, .app-heat-map-figure')]
    .filter(box => box.checkVisibility())
    .map(box => {
        const hint = box.querySelector(':scope > .app-scroll-hint');
        return {
            id: box.id || box.querySelector('[id]')?.id,
            overflows: box.scrollWidth > box.clientWidth + 1,
            scrolls: getComputedStyle(box).overflowX === 'auto',
            hint: Boolean(hint && hint.checkVisibility({visibilityProperty: true})
                && hint.getBoundingClientRect().height > 0),
            focusable: box.tabIndex === 0,
            named: Boolean(box.getAttribute('aria-label') || box.getAttribute('aria-labelledby')),
            shadow: getComputedStyle(box).backgroundImage.includes('gradient'),
        };
    });
}"""


def assert_scroll_cues(page: Any, where: str) -> int:
    """Every box that scrolls sideways says so, and only then: the hint "Scroll sideways to
    see ..." shows exactly when its content overflows, beside the shadow at its edge; the box
    can be focused and has a name. Returns how many boxes overflow."""
    boxes = page.evaluate(SCROLL_CUES)
    for box in boxes:
        assert box["hint"] == (box["overflows"] and box["scrolls"]), f"{where}: {box}"
        if box["scrolls"]:
            assert box["focusable"] and box["named"] and box["shadow"], f"{where}: {box}"
    return sum(box["overflows"] for box in boxes)


CHART_TEXT = """() => [...document.querySelectorAll('main svg.trust-chart')]
    .filter(svg => svg.checkVisibility())
    .map(svg => ({
        chart: svg.getAttribute('aria-labelledby').split(' ')[0],
        heat: svg.classList.contains('app-heat-map'),
        smallest: Math.min(...[...svg.querySelectorAll('text')].map(
            t => parseFloat(t.getAttribute('font-size')) * t.getScreenCTM().a)),
    }))"""


ANALYST_PAGES = {
    "omega": "/analyst/omega?item=q26&item=q27&item=q28&bootstrap=100&action=compute",
    "factor": "/analyst/factor?item=q26&item=q27&item=q28&item=q29&action=compute",
    "agreement": "/analyst/agreement?action=compute",
    "reliability-one-item": "/analyst/reliability?item=q26&action=compute",
    "omega-two-items": "/analyst/omega?item=q26&item=q27&action=compute",
}


def test_analyst_analysis_pages_are_accessible_at_320_and_1280(
    chromium: Any, live_server: LiveServer, accounts: dict[str, int]
) -> None:
    page = _sign_in(chromium, live_server, "analyst@example.org")
    page.goto(live_server.base_url + "/analyst/reliability")
    page.select_option("#fill-scale", index=0)
    page.click("text=Use this scale's items")
    assert page.locator("#alpha").count() == 1 and page.locator("#settings").count() == 1
    pages = {"reliability-filled": page.url, **ANALYST_PAGES}
    for name, path in pages.items():
        url = path if path.startswith("http") else live_server.base_url + path
        answer = page.goto(url)
        assert answer is not None
        errors = name in ("reliability-one-item", "omega-two-items")
        assert answer.status == (422 if errors else 200), name
        assert (page.locator(".nhsuk-error-summary").count() == 1) == errors, name
        assert page.title().startswith("Error: ") == errors, name
        for width, height in ((1280, 900), (320, 640)):
            page.set_viewport_size({"width": width, "height": height})
            assert_scroll_cues(page, f"{name} at {width} px")
            violations = axe_violations(page)
            screenshot(page, f"analyst-{name}-{width}")
            assert violations == [], f"{name} at {width} px:\n{describe_violations(violations)}"
        page.set_viewport_size({"width": 1280, "height": 900})


@pytest.mark.parametrize("width", [320, 1280])
def test_demo_report_fits_reads_at_a_glance_and_passes_axe(
    chromium: Any, live_server: LiveServer, accounts: dict[str, int], width: int
) -> None:
    page = _sign_in(chromium, live_server, "evaluator@example.org")
    page.set_viewport_size({"width": width, "height": 900})
    page.click(f"text={DEMO_REPORT_ROUND}")
    page.wait_for_load_state()
    screenshot(page, f"report-demo-{width}")
    wide = page.evaluate(
        """() => [...document.querySelectorAll('main *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
            .slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.className)"""
    )
    # Nothing scrolls sideways: not the page, not Table 4.
    overflow = page.evaluate("() => document.scrollingElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow} px wider than the {width} px window: {wide}"
    table = page.locator("#table4")
    box = table.evaluate("t => [t.scrollWidth, t.parentElement.clientWidth]")
    assert box[0] <= box[1], f"Table 4 is {box[0]} px wide in a {box[1]} px column"
    # The summary comes first, with in-page navigation to every section.
    assert page.locator("main h2").first.inner_text() == "Summary"
    for link in page.locator("#contents a").all():
        target = (link.get_attribute("href") or "").removeprefix("#")
        assert page.locator(f"[id='{target}']").count() == 1, target
    # Every chart's words are readable: on a phone the narrow layouts replace the wide charts
    # (12 px or more; a heat map keeps its size and scrolls in its box, its smallest words
    # 10 px), never text a few pixels tall.
    charts = page.evaluate(CHART_TEXT)
    assert len(charts) == 12 + 2
    for chart in charts:
        assert chart["smallest"] >= (10 if chart["heat"] else 11), chart
    if width == 320:
        assert all(c["chart"].endswith("-narrow-title") for c in charts if not c["heat"])
    # A box that scrolls sideways says so (the heat map by organisation type does at 320 px).
    page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
    overflowing = assert_scroll_cues(page, f"report at {width} px")
    assert (overflowing > 0) == (width == 320)
    page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = false)")
    # No internal ids in what people read.
    text = page.locator("main").text_content() or ""  # collapsed details and charts too
    for internal in (
        "ability_behaviours",
        "inter_organisational_trust",
        "q22",
        "acute-trust",
        "care_model",  # the row-level files' note names questions as the report does
        "organisation_type",
    ):
        assert internal not in text
    # Plain words: no SPSS "Valid" / "Missing System" rows, no band said twice in a row.
    frequencies = page.locator(".report-frequencies").first.text_content() or ""
    assert "Answered" in frequencies and "Valid" not in frequencies
    assert "Missing" not in text and "System" not in text
    assert "Borderline. Borderline" not in text and "Borderline;" not in text
    violations = axe_violations(page)
    assert violations == [], describe_violations(violations)


@pytest.mark.parametrize("width", [320, 1280])
def test_the_standalone_report_shows_its_scroll_cues_on_a_phone(
    chromium: Any, demo_report: Any, width: int
) -> None:
    """The HTML download opened on a phone: the page itself never scrolls sideways; a box
    that does (a frequency table, a heat map) says so as the report page does, with styles
    inlined in the file (it asks for nothing over the network)."""
    from app.reports.rendering import report_html

    context = chromium.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.set_content(report_html(demo_report))
    page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
    screenshot(page, f"report-standalone-{width}")
    assert [url for url in asked if not url.startswith(("data:", "about:"))] == []
    overflow = page.evaluate("() => document.scrollingElement.scrollWidth - window.innerWidth")
    wide = page.evaluate(
        """() => [...document.querySelectorAll('main *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
            .slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.className)"""
    )
    assert overflow <= 0, f"the standalone report is {overflow} px wider than {width} px: {wide}"
    overflowing = assert_scroll_cues(page, f"standalone report at {width} px")
    assert (overflowing > 0) == (width == 320)
    # In print (the PDF is printed from this file) no hint is shown.
    page.emulate_media(media="print")
    hints = page.evaluate(
        "() => [...document.querySelectorAll('.app-scroll-hint')].filter(h => h.checkVisibility())"
        ".length"
    )
    assert hints == 0
    context.close()
