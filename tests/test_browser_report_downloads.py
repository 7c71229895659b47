"""The downloads of a report in a real browser: the list at 320 and 1280 px, the names files
are saved under, and the open round that offers no file (only the "not yet" note); axe-core
on each, screenshots in test-artifacts/screenshots/."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from app.services.demo import DEMO_OPEN_ROUND, DEMO_PARTNERSHIP, DEMO_REPORT_ROUND
from tests.browser_support import LiveServer, axe_violations, describe_violations, screenshot

pytestmark = pytest.mark.browser
PASSWORD = "evaluator password 123"
WIDTHS = (320, 1280)


@pytest.fixture(scope="module")
def evaluator(live_server: LiveServer) -> str:
    from app.cli import main

    env = {"DATABASE_URL": live_server.database_url, "TRUST_SURVEY_PASSWORD": PASSWORD}
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        email = "files@example.org"
        arguments = ["user", "add", email, "--password-from-env", "--role", "evaluator"]
        assert main([*arguments, "--partnership", DEMO_PARTNERSHIP]) == 0
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return email


def _signed_in(chromium: Any, server: LiveServer, email: str) -> Any:
    context = chromium.new_context(accept_downloads=True, bypass_csp=True)  # for axe-core
    page = context.new_page()
    page.goto(server.base_url + "/sign-in")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/reports")
    return page


def test_downloads_are_listed_and_saved_under_names_people_keep(
    chromium: Any, live_server: LiveServer, evaluator: str, tmp_path: Path
) -> None:
    page = _signed_in(chromium, live_server, evaluator)
    page.click(f"text={DEMO_REPORT_ROUND}")
    downloads = page.locator("#downloads")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        downloads.scroll_into_view_if_needed()
        downloads.screenshot(path=str(screenshot(page, f"report-downloads-{width}")))
        assert downloads.bounding_box()["width"] <= width  # type: ignore[index]
    violations = axe_violations(page)
    assert violations == [], describe_violations(violations)
    names = {}
    for link in downloads.locator("a").all():
        href = link.get_attribute("href") or ""
        if href.startswith("/api/"):
            continue
        with page.expect_download() as download_info:
            link.click()
        names[href.rsplit("/", 1)[1]] = download_info.value.suggested_filename
    assert set(names) == {
        "report.pdf",
        "report.html",
        "report.xlsx",
        "report.docx",
        "answers.csv",
        "scores.csv",
        "answers.sav",
    }
    for file_name, saved_as in names.items():
        assert re.fullmatch(
            r"northshire-health-and-care-partnership-demo_demo-round-[a-z0-9-]+_"
            r"\d{4}-\d{2}-\d{2}_" + re.escape(file_name),
            saved_as,
        ), saved_as


def test_a_round_without_results_offers_no_file(
    chromium: Any, live_server: LiveServer, evaluator: str
) -> None:
    page = _signed_in(chromium, live_server, evaluator)
    page.click(f"text={DEMO_OPEN_ROUND}")
    assert page.locator("#downloads").count() == 0
    note = page.locator("#no-downloads")
    assert "No files to download yet" in note.inner_text()
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        screenshot(page, f"report-no-downloads-{width}")
    violations = axe_violations(page)
    assert violations == [], describe_violations(violations)
