"""A round on another instrument, end to end in Chromium through real links: the Recommendation
6 self-check, and version 2026.1 of the main instrument.

A coordinator sets up the round on the partnership page choosing the questionnaire and its
version, downloads personal links, and a respondent answers every page and submits; once the
round's threshold of responses is in (the others through the JSON API, with real links) the
coordinator closes the round on its confirmation page, and the report renders, page and every
download, with scales on different answer scales (the self-check's 1 to 3 beside its 1 to 5)
in profiles of their own.  axe-core finds nothing on the respondent pages (at 320 px, where
nothing scrolls sideways) or on the report.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import urllib.request
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from tests.browser_support import ARTIFACTS, LiveServer, axe_violations, describe_violations

pytestmark = pytest.mark.browser

ADMIN_EMAIL = "journeys.admin@example.org"
ADMIN_PASSWORD = "a long admin password for the journeys"
THRESHOLD = 3
FOLDER = ARTIFACTS / "screenshots" / "journeys"
FILES = {
    "report.pdf",
    "report.html",
    "report.xlsx",
    "report.docx",
    "answers.csv",
    "scores.csv",
    "answers.sav",
}


@pytest.fixture(scope="module")
def partnership(live_server: LiveServer) -> int:
    from app.database import make_engine
    from app.services import accounts, partnerships

    engine = make_engine(live_server.database_url)
    with Session(engine, expire_on_commit=False) as session:
        accounts.add_account(session, ADMIN_EMAIL, ADMIN_PASSWORD, role="admin")
        made = partnerships.create_partnership(session, "Estuary Care Partnership", "other")
        for name, kind in (
            ("Estuary Hospital", "acute-trust"),
            ("Estuary Council", "local-authority"),
        ):
            assert made.id is not None
            partnerships.add_organisation(session, made.id, name, kind)
    engine.dispose()
    assert made.id is not None
    return made.id


def _sign_in(chromium: Any, server: LiveServer, where: str, **options: Any) -> tuple[Any, Any]:
    context = chromium.new_context(
        accept_downloads=True, viewport={"width": 1280, "height": 900}, **options
    )
    page = context.new_page()
    page.goto(f"{server.base_url}/sign-in?next=/{where}")
    page.fill("#email", ADMIN_EMAIL)
    page.fill("#password", ADMIN_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"**/{where}")
    return context, page


def _shot(page: Any, name: str) -> None:
    FOLDER.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(FOLDER / f"{name}.png"), full_page=True)


def _answer_by_api(server: LiveServer, token: str, seed: int) -> None:
    """Every question answered through the JSON API, from what the link itself serves."""
    with urllib.request.urlopen(f"{server.base_url}/api/v1/survey/{token}", timeout=20) as got:
        survey = json.load(got)
    rng = random.Random(seed)
    answers: dict[str, int] = {}
    background: dict[str, str] = {}
    for section in survey["sections"]:
        for question in section["questions"]:
            if question.get("response_scale"):
                scale = question["response_scale"]
                answers[question["id"]] = rng.randint(scale["min"], scale["max"])
            elif question.get("options"):
                background[question["id"]] = rng.choice(sorted(question["options"]))
    request = urllib.request.Request(
        f"{server.base_url}/api/v1/survey/{token}/response",
        data=json.dumps({"answers": answers, "background": background}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=20) as sent:
        assert sent.status == 201


def _answer_in_the_browser(chromium: Any, link: str, name: str) -> int:
    """A respondent on their personal link answers every page and submits; pages seen."""
    context = chromium.new_context(viewport={"width": 320, "height": 640}, bypass_csp=True)
    page = context.new_page()
    page.goto(link)
    page.get_by_role("button", name="Start now").click()
    page.wait_for_url("**/sections/**")
    seen = 0
    while "/check" not in page.url:
        seen += 1
        violations = axe_violations(page)  # this instrument's pages, at 320 px
        assert violations == [], f"{page.url}:\n{describe_violations(violations)}"
        assert page.evaluate("document.documentElement.scrollWidth") <= 320, page.url
        for number, group in enumerate(page.locator(".nhsuk-radios").all()):
            labels = group.locator("label")
            labels.nth((number + seen) % labels.count()).click()
        if seen == 1:
            _shot(page, f"{name}-first-section-320")
        page.get_by_role("button", name="Save and continue").click()
        page.wait_for_load_state()
        assert not page.title().startswith("Error: "), page.url
    assert axe_violations(page) == [], "the check-your-answers page"
    page.get_by_role("button", name="Submit my answers").click()
    assert "submitted" in page.locator("h1").inner_text()
    context.close()
    return seen


@pytest.mark.parametrize(
    ("key", "title"),
    [
        ("partnership-self-check@2017.1", "Self-check 2027"),
        ("trustworthy-collaboration@2026.1", "ICS trust survey 2027"),
    ],
)
def test_a_round_on_another_instrument_from_set_up_to_report(
    chromium: Any,
    live_server: LiveServer,
    partnership: int,
    key: str,
    title: str,
    tmp_path: Path,
) -> None:
    from app.instruments import bundled_catalogue

    instrument_id, version = key.split("@")
    instrument = bundled_catalogue()[(instrument_id, version)].instrument
    name = instrument_id + "-" + version

    # The coordinator sets up the round, choosing the questionnaire and its version.
    context, page = _sign_in(chromium, live_server, "coordinator")
    page.goto(f"{live_server.base_url}/coordinator/partnerships/{partnership}")
    page.fill("#title", title)
    page.select_option("#instrument", key)
    closes = date.today() + timedelta(days=14)
    page.fill("#closes_on-day", str(closes.day))
    page.fill("#closes_on-month", str(closes.month))
    page.fill("#closes_on-year", str(closes.year))
    page.fill("#anonymity_threshold", str(THRESHOLD))
    page.get_by_role("button", name="Set up round").click()
    page.wait_for_url(re.compile(r".*/coordinator/rounds/\d+$"))
    round_id = int(page.url.rsplit("/", 1)[1])
    assert page.locator("h1").inner_text() == title
    assert f"{instrument.title}, version {version}" in page.locator("main").inner_text()

    # Personal links, as the CSV file the page gives.
    page.fill("#count", str(THRESHOLD))
    with page.expect_download() as download:
        page.get_by_role("button", name="Download links (CSV)").click()
    sheet = download.value.path().read_text(encoding="utf-8")
    links = [row["link"] for row in csv.DictReader(io.StringIO(sheet))]
    assert len(links) == THRESHOLD

    # One respondent in the browser (every page), the others by the API.
    pages = _answer_in_the_browser(chromium, links[0], name)
    assert pages == len(instrument.sections)
    for number, link in enumerate(links[1:]):
        _answer_by_api(live_server, link.rsplit("/s/", 1)[1], seed=number)

    page.goto(f"{live_server.base_url}/coordinator/rounds/{round_id}")
    rows = "#progress tbody tr:not(.app-progress__total)"
    submitted = page.locator(f"{rows} td:nth-child(4)").all_inner_texts()
    # the two organisations issued no links; the links of no organisation have all come back
    assert submitted == ["0", "0", str(THRESHOLD)], submitted
    total = page.locator("#progress tr.app-progress__total td:nth-child(4)").inner_text()
    assert total == str(THRESHOLD)
    page.get_by_role("link", name="Close this round now").click()
    page.get_by_role("button", name="Yes, close the round today").click()
    page.wait_for_url(f"**/coordinator/rounds/{round_id}?done=closed")
    assert "Closed" in page.locator("main dl").inner_text()
    _shot(page, f"{name}-round-closed")
    context.close()

    # The report: the page and every download.
    context, page = _sign_in(chromium, live_server, "reports", bypass_csp=True)
    answer = page.goto(f"{live_server.base_url}/reports/rounds/{round_id}")
    assert answer is not None and answer.status == 200
    assert page.locator("h1").inner_text().startswith(title)
    _shot(page, f"{name}-report")
    report_violations = axe_violations(page)
    assert report_violations == [], describe_violations(report_violations)
    text = page.locator("main").inner_text()
    assert f"{THRESHOLD} responses" in text or f"{THRESHOLD} people" in text, text[:500]
    scales = [instrument.response_scale_of(item.id) for item in instrument.items]
    spans = {f"{scale.min} to {scale.max}" for scale in scales}
    for span in spans:
        assert span in text, span
    if len(spans) > 1:  # each answer scale has a profile of its own, never averaged together
        for span in spans:
            top = float(span.rsplit(" ", 1)[1])
            table = page.locator("table", has=page.locator(f"caption:has-text('from {span}')"))
            assert table.count() == 1, span
            means = [
                float(cell) for cell in table.locator("tbody td:nth-child(2)").all_inner_texts()
            ]
            assert means and all(1 <= mean <= top for mean in means), (span, means)
    hrefs = {
        (link.get_attribute("href") or "").rsplit("/", 1)[1]: link.get_attribute("href")
        for link in page.locator("#downloads a").all()
        if not (link.get_attribute("href") or "").startswith("/api/")
    }
    assert set(hrefs) == FILES, hrefs
    saved: dict[str, Path] = {}
    for file_name, href in hrefs.items():
        got = page.request.get(f"{live_server.base_url}{href}")
        assert got.status == 200, (file_name, got.status, got.text()[:300])
        saved[file_name] = tmp_path / file_name
        saved[file_name].write_bytes(got.body())
    context.close()

    assert saved["report.pdf"].read_bytes().startswith(b"%PDF")
    assert title in saved["report.html"].read_text(encoding="utf-8")
    import pyreadstat  # type: ignore[import-untyped]
    from openpyxl import load_workbook  # type: ignore[import-untyped]

    frame, _meta = pyreadstat.read_sav(str(saved["answers.sav"]))
    assert len(frame) == THRESHOLD
    assert load_workbook(saved["report.xlsx"]).sheetnames
    for file_name in ("answers.csv", "scores.csv"):
        rows = list(csv.reader(io.StringIO(saved[file_name].read_text(encoding="utf-8-sig"))))
        assert len(rows) == THRESHOLD + 1, (file_name, len(rows))
    answered = list(csv.DictReader(io.StringIO(saved["answers.csv"].read_text("utf-8-sig"))))
    for item in instrument.items:
        scale = instrument.response_scale_of(item.id)
        values = {int(float(row[item.id])) for row in answered if row.get(item.id)}
        assert values and values <= set(scale.values), (item.id, values)
