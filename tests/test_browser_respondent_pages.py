"""Every respondent page in Chromium: axe-core (WCAG 2.2 AA), 320 px and 1280 px, tap targets.

One walk through the questionnaire visits each page, in its clean state and (where the page has
a form) with errors, and audits it: zero axe violations, a clear title (``Error: `` first when
the page shows errors, distinct for every page), no horizontal scrolling at 320 px, every link,
button and radio at least 44 by 44 px, and screenshots at both widths in
``test-artifacts/screenshots``.  What was measured is written to
``test-artifacts/respondent-pages.json`` for the report.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlmodel import Session

from tests.browser_support import (
    ARTIFACTS,
    LiveServer,
    answer_page,
    axe_violations,
    describe_violations,
    screenshot,
)

pytestmark = pytest.mark.browser

NARROW, WIDE = 320, 1280
MIN_TARGET = 44
AUDITED: dict[str, dict[str, Any]] = {}

# Links, buttons and form controls a finger has to hit (the skip link shows only on focus).
TARGETS_SCRIPT = """() => [...document.querySelectorAll(
    'a, button, input:not([type=hidden]), select, textarea, label.nhsuk-radios__label')]
  .filter(e => !e.classList.contains('nhsuk-skip-link'))
  .map(e => {
    const r = e.getBoundingClientRect();
    return {what: e.tagName + ' ' + (e.id || e.textContent.trim().slice(0, 40)),
            width: r.width, height: r.height};
  })"""


def press(page: Any, name: str) -> None:
    """Click a form's button and wait for the page it leads to (auditing a page still being
    left finds no document)."""
    with page.expect_navigation():
        page.get_by_role("button", name=name).click()


def audit(page: Any, name: str, *, errors: bool = False) -> None:
    """Check the page as it is now, at 1280 and 320 px wide; keep screenshots."""
    title = page.title()
    assert title.startswith("Error: ") == errors, f"{name}: title {title!r}"
    assert page.evaluate("document.documentElement.lang") == "en-GB"
    assert page.locator("h1").count() == 1, f"{name}: one h1"
    assert (page.locator(".nhsuk-error-summary").count() == 1) == errors
    page.set_viewport_size({"width": WIDE, "height": 900})
    violations = axe_violations(page)
    assert violations == [], f"{name}:\n{describe_violations(violations)}"
    screenshot(page, f"respondent-{name}-{WIDE}")
    page.set_viewport_size({"width": NARROW, "height": 640})
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= NARROW, f"{name}: {scroll_width} px wide at {NARROW} px"
    narrow_violations = axe_violations(page)
    assert narrow_violations == [], f"{name} at 320 px:\n{describe_violations(narrow_violations)}"
    targets = page.evaluate(TARGETS_SCRIPT)
    small = [t for t in targets if t["width"] < MIN_TARGET or t["height"] < MIN_TARGET]
    assert small == [], f"{name}: tap targets under {MIN_TARGET} px: {small}"
    screenshot(page, f"respondent-{name}-{NARROW}")
    smallest = min((min(t["width"], t["height"]) for t in targets), default=None)
    AUDITED[name] = {
        "title": title,
        "axe_violations": len(violations) + len(narrow_violations),
        "scroll_width_at_320": scroll_width,
        "tap_targets": len(targets),
        "smallest_tap_target_px": smallest,
    }
    page.set_viewport_size({"width": WIDE, "height": 900})


@pytest.fixture(scope="module", autouse=True)
def _write_measurements() -> Iterator[None]:
    yield
    if AUDITED:
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "respondent-pages.json").write_text(json.dumps(AUDITED, indent=2))


def start_from_open_link(page: Any, server: LiveServer) -> str:
    """Start on the open link (a new personal link each time); the personal token."""
    page.goto(server.open_link)
    page.get_by_role("button", name="Start now").click()
    page.wait_for_url("**/sections/**")
    return str(page.url.split("/s/")[1].split("/")[0])


def rounds_outside_their_dates(server: LiveServer) -> tuple[str, str]:
    """A personal link in a closed round and one in a round not yet open."""
    from app.database import make_engine
    from app.services import invitations, partnerships, rounds

    engine = make_engine(server.database_url)
    links = []
    with Session(engine) as session:
        for name, opens, closes in [("Closed", -30, -2), ("Not yet open", 5, 40)]:
            partnership = partnerships.create_partnership(
                session, f"{name} partnership", "urgent-and-emergency-care"
            )
            assert partnership.id is not None
            survey_round = rounds.open_round(
                session,
                partnership.id,
                title=f"{name} round",
                opens_on=date.today() + timedelta(days=opens),
                closes_on=date.today() + timedelta(days=closes),
                anonymity_threshold=5,
                instrument_id="trustworthy-collaboration",
                instrument_version="2017.1",
                historical=closes < 0,
            )
            assert survey_round.id is not None
            links += invitations.create_personal_links(
                session, survey_round.id, organisation_id=None, count=1, most=1
            )
    engine.dispose()
    return links[0], links[1]


def test_every_respondent_page_passes_axe_fits_320_px_and_has_big_targets(
    live_server: LiveServer, chromium: Any
) -> None:
    context = chromium.new_context(viewport={"width": WIDE, "height": 900}, bypass_csp=True)
    page = context.new_page()

    page.goto(live_server.open_link)
    audit(page, "start-open-link")
    page.locator("#organisation_id option").nth(1).evaluate("o => { o.value = '999999'; }")
    page.select_option("#organisation_id", index=1)
    press(page, "Start now")
    audit(page, "start-open-link-errors", errors=True)
    page.select_option("#organisation_id", index=0)
    press(page, "Start now")
    token = page.url.split("/s/")[1].split("/")[0]
    base = f"{live_server.base_url}/s/{token}"

    sections = page.evaluate("document.querySelector('.nhsuk-caption-l').textContent")
    total = int(sections.rsplit(" ", 1)[1])
    for number in range(1, total + 1):
        assert f"Section {number} of {total}" in page.locator(".nhsuk-caption-l").inner_text()
        audit(page, f"section-{number}")
        if number == 1:
            page.fill("#partnership_name", "x" * 201)
        press(page, "Save and continue")
        audit(page, f"section-{number}-errors", errors=True)
        if number == 1:
            page.fill("#partnership_name", "Riverside partnership")
        answer_page(page)
        if number == 2:
            # the check page, part done: clean, then refused with errors
            press(page, "Save and come back later")
            audit(page, "save-and-return")
            page.goto(f"{base}/check")
            audit(page, "check-answers-part-done")
            press(page, "Submit my answers")
            audit(page, "check-answers-errors", errors=True)
            page.goto(f"{base}/sections/{page_section_id(page, base, 3)}")
            continue
        press(page, "Save and continue")

    page.wait_for_url("**/check")
    audit(page, "check-answers")
    press(page, "Submit my answers")
    audit(page, "confirmation")
    page.goto(base)
    audit(page, "link-already-used")

    # another browser holding only the link: asked for the resume code
    elsewhere = chromium.new_context(viewport={"width": WIDE, "height": 900}, bypass_csp=True)
    other = elsewhere.new_page()
    other.goto(base)
    audit(other, "resume-code")
    other.get_by_label("Resume code").fill("AAAAA-AAAAA")
    other.get_by_role("button", name="Continue").click()
    audit(other, "resume-code-errors", errors=True)
    elsewhere.close()

    closed, not_yet = rounds_outside_their_dates(live_server)
    page.goto(f"{live_server.base_url}/s/{closed}")
    audit(page, "round-closed")
    page.goto(f"{live_server.base_url}/s/{not_yet}")
    audit(page, "round-not-yet-open")

    page.goto(live_server.respondent_link)
    audit(page, "start-personal-link")
    context.close()

    same_page = {
        "start-personal-link": "start-open-link",
        "check-answers-part-done": "check-answers",
    }
    for name, other in same_page.items():
        assert AUDITED[name]["title"] == AUDITED[other]["title"]
    titles = [entry["title"] for name, entry in AUDITED.items() if name not in same_page]
    assert len(set(titles)) == len(titles), "every page (and its error state) has its own title"


def page_section_id(page: Any, base: str, number: int) -> str:
    """The id of section ``number`` (1-based), read from the check page's change links."""
    hrefs = page.eval_on_selector_all(
        ".nhsuk-summary-list__actions a", "links => links.map(a => a.getAttribute('href'))"
    )
    ids: list[str] = []
    for href in hrefs:
        section_id = href.split("/sections/")[1].split("?")[0]
        if section_id not in ids:
            ids.append(section_id)
    return ids[number - 1]


def test_database_down_while_posting_keeps_the_answers_to_send_again(
    live_server: LiveServer, chromium: Any
) -> None:
    context = chromium.new_context(viewport={"width": WIDE, "height": 900}, bypass_csp=True)
    page = context.new_page()
    start_from_open_link(page, live_server)
    page.get_by_role("button", name="Save and continue").click()
    assert "Section 2 of" in page.locator(".nhsuk-caption-l").inner_text()
    answer_page(page, choice=1)
    database = live_server.database_url.removeprefix("sqlite:///")
    lock = sqlite3.connect(database, timeout=1, isolation_level=None)
    try:
        lock.execute("BEGIN EXCLUSIVE")  # no one else can write: the save fails (busy)
        page.get_by_role("button", name="Save and continue").click()
        assert "could not save your answers" in page.locator("h1").inner_text()
        hidden = page.eval_on_selector_all(
            "form input[type=hidden]", "inputs => inputs.map(i => [i.name, i.value])"
        )
        audit(page, "database-unavailable")
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    answered = {name: value for name, value in hidden if name.startswith("q")}
    assert len(answered) == 6 and set(answered.values()) == {"2"}
    assert ["action", "continue"] in hidden
    page.get_by_role("button", name="Try again").click()
    assert "Section 3 of" in page.locator(".nhsuk-caption-l").inner_text()
    page.get_by_role("link", name="Back").click()
    for name, value in answered.items():
        assert page.locator(f"#{name}-{value}").is_checked()
    context.close()
