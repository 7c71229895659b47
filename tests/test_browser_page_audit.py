"""Every page state of every role (``tests/page_audit.py``) in Chromium, at 320 and 1280 px:
zero axe-core violations (WCAG 2.2 AA), no sideways scrolling at 320 px, targets of at least
44 by 44 px, the header's links readable on the header (contrast of at least 4.5:1), the
status and the error summary the state should have, and a screenshot of each
(``test-artifacts/screenshots/<role>/<page>-<state>-<width>.png``).  What was measured is
written to ``test-artifacts/page-audit.json``.

Then keyboard-only journeys: a coordinator opens a round, an evaluator downloads a report,
with the Tab and Enter keys alone.

One live server and one Chromium for the module; each signed-in account keeps one browser
context, respondents get a new one per state.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.browser_support import ARTIFACTS, LiveServer, axe_violations, describe_violations
from tests.page_audit import (
    ACCOUNTS,
    PAGES,
    AuditWorld,
    Page,
    State,
    build_world,
    whole_questionnaire,
)

pytestmark = pytest.mark.browser

WIDTHS = {1280: 900, 320: 640}
MIN_TARGET = 44
MIN_CONTRAST = 4.5
MEASURED: dict[str, dict[str, Any]] = {}

# Targets a finger has to hit: links that stand alone (a link inside a sentence is exempt,
# as WCAG 2.5.8 allows), buttons, form controls, and the labels of radios and checkboxes
# (whose inputs are drawn by the label).  Hidden things and the skip link are left out.
TARGETS_SCRIPT = """() => {
  const shown = (e) => {
    const r = e.getBoundingClientRect();
    const style = getComputedStyle(e);
    return r.width > 1 && r.height > 1 && style.visibility !== 'hidden' &&
      !e.closest('.nhsuk-u-visually-hidden, .nhsuk-skip-link, [hidden]');
  };
  const inSentence = (e) => {
    const block = e.closest('p, li, td, dd, span.nhsuk-caption-l, .nhsuk-hint');
    if (!block) return false;
    return block.textContent.replace(/\\s+/g, ' ').trim() !==
      e.textContent.replace(/\\s+/g, ' ').trim();
  };
  const found = [...document.querySelectorAll(
      'a, button, select, textarea, label.nhsuk-radios__label, label.nhsuk-checkboxes__label,' +
      ' input:not([type=hidden]):not([type=radio]):not([type=checkbox])')]
    .filter(shown)
    .filter(e => e.tagName !== 'A' || !inSentence(e));
  return found.map(e => {
    const r = e.getBoundingClientRect();
    return {what: e.tagName.toLowerCase() + ' ' + (e.id || e.textContent.trim().slice(0, 40)),
            width: Math.round(r.width), height: Math.round(r.height)};
  });
}"""

# Each link and button in the header: its text colour against the header behind it.
HEADER_CONTRAST_SCRIPT = """() => {
  const rgb = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const c = [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 :
      Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const background = (e) => {
    for (let n = e; n; n = n.parentElement) {
      const c = rgb(getComputedStyle(n).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  return [...document.querySelectorAll('header a, header button')]
    .filter(e => e.getBoundingClientRect().width > 1 && !e.closest('.nhsuk-u-visually-hidden'))
    .map(e => {
      const fg = luminance(rgb(getComputedStyle(e).color).slice(0, 3));
      const bg = luminance(background(e));
      const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
      return {what: e.textContent.trim().slice(0, 40), ratio: Math.round(ratio * 100) / 100};
    });
}"""


@pytest.fixture(scope="module")
def world(live_server: LiveServer) -> Iterator[AuditWorld]:
    built = build_world(live_server)
    yield built
    built.engine.dispose()


class Browsers:
    """One signed-in context per account; a fresh one for each respondent state."""

    def __init__(self, chromium: Any, world: AuditWorld) -> None:
        self.chromium = chromium
        self.world = world
        self.signed_in: dict[str, Any] = {}

    def new_context(self) -> Any:
        # bypass_csp: axe-core is added to the page as a script of its own.
        return self.chromium.new_context(accept_downloads=True, bypass_csp=True, locale="en-GB")

    def page_for(self, account: str | None) -> Any:
        if account is None:
            return self.new_context().new_page()
        if account not in self.signed_in:
            page = self.new_context().new_page()
            login, email = ACCOUNTS[account]
            page.goto(self.world.url(login))
            page.fill("#email", email)
            page.fill("#password", self.world.password_of(account))
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_load_state()
            assert "/login" not in page.url, f"{account} could not sign in"
            self.signed_in[account] = page
        return self.signed_in[account]

    def close(self) -> None:
        for page in self.signed_in.values():
            page.context.close()


@pytest.fixture(scope="module")
def browsers(chromium: Any, world: AuditWorld) -> Iterator[Browsers]:
    opened = Browsers(chromium, world)
    yield opened
    opened.close()


@pytest.fixture(scope="module", autouse=True)
def _write_measurements() -> Iterator[None]:
    yield
    if MEASURED:
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "page-audit.json").write_text(json.dumps(MEASURED, indent=2))


def account_for(page: Page, state: State) -> str | None:
    if state.account:
        return state.account
    if page.role in ("anonymous", "respondent"):
        return None
    if page.role == "admin":
        return "admin" if page.route[1].startswith(("/coordinator", "/admin")) else "admin-reports"
    return page.role


def screenshot_path(role: str, name: str, state: str, width: int) -> Path:
    folder = ARTIFACTS / "screenshots" / role
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}-{state}-{width}.png"


def audit_now(page: Any, role: str, name: str, state: State) -> dict[str, Any]:
    """Check the page as it is, at each width; keep screenshots; what was measured."""
    label = f"{role}/{name}-{state.name}"
    title = page.title()
    assert page.evaluate("document.documentElement.lang") == "en-GB", label
    assert page.locator("h1").count() == 1, f"{label}: one h1"
    if state.errors is not None:
        assert (page.locator(".nhsuk-error-summary").count() == 1) == state.errors, label
        assert title.startswith("Error: ") == state.errors, f"{label}: title {title!r}"
    measured: dict[str, Any] = {"title": title, "url": re.sub(r"/s/[^/]+", "/s/…", page.url)}
    for width, height in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        violations = axe_violations(page)
        page.screenshot(path=str(screenshot_path(role, name, state.name, width)), full_page=True)
        assert violations == [], f"{label} at {width} px:\n{describe_violations(violations)}"
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= width, f"{label}: {scroll_width} px wide at {width} px"
        targets = page.evaluate(TARGETS_SCRIPT)
        small = [t for t in targets if t["width"] < MIN_TARGET or t["height"] < MIN_TARGET]
        assert small == [], f"{label} at {width} px: targets under {MIN_TARGET} px: {small}"
        contrasts = page.evaluate(HEADER_CONTRAST_SCRIPT)
        faint = [c for c in contrasts if c["ratio"] < MIN_CONTRAST]
        assert faint == [], f"{label} at {width} px: header links under {MIN_CONTRAST}:1: {faint}"
        header = page.locator("header").first.bounding_box()
        measured[str(width)] = {
            "page_height": page.evaluate("document.documentElement.scrollHeight"),
            "header_height": round(header["height"]) if header else None,
            "targets": len(targets),
            "smallest_target": min((min(t["width"], t["height"]) for t in targets), default=None),
            "header_contrast": min((c["ratio"] for c in contrasts), default=None),
        }
    page.set_viewport_size({"width": 1280, "height": 900})
    return measured


CASES = [(page, state) for page in PAGES for state in page.states]


@pytest.mark.parametrize(
    ("entry", "state"),
    CASES,
    ids=[f"{page.role}/{page.name}-{state.name}" for page, state in CASES],
)
def test_page_state(browsers: Browsers, world: AuditWorld, entry: Page, state: State) -> None:
    account = account_for(entry, state)
    page = browsers.page_for(account)
    answers: list[int] = []

    def record(response: Any) -> None:
        if response.request.resource_type == "document":
            answers.append(response.status)

    page.on("response", record)
    try:
        state.go(page, world)
        page.wait_for_load_state()
    finally:
        page.remove_listener("response", record)
    if state.status is not None:
        assert answers and answers[-1] == state.status, f"statuses {answers}"
    if state.expect is not None:
        state.expect(page, world)
    MEASURED[f"{entry.role}/{entry.name}-{state.name}"] = audit_now(
        page, entry.role, entry.name, state
    )
    if account is None:
        page.context.close()


# -- Keyboard only -------------------------------------------------------------------------


def tab_to(page: Any, wanted: str, *, most: int = 80) -> None:
    """Press Tab until the focused element's text, label or value contains ``wanted``."""
    for _ in range(most):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => { const e = document.activeElement; if (!e) return '';
              const label = e.id ? document.querySelector(`label[for="${e.id}"]`) : null;
              return [e.textContent, e.value, e.getAttribute('aria-label'),
                      label && label.textContent].filter(Boolean).join(' '); }"""
        )
        if wanted.lower() in " ".join(str(focused).split()).lower():
            return
    raise AssertionError(f"Tab never reached {wanted!r}")


def keyboard_sign_in(page: Any, world: AuditWorld, account: str) -> None:
    login, email = ACCOUNTS[account]
    page.goto(world.url(login))
    tab_to(page, "e-mail")
    page.keyboard.type(email)
    tab_to(page, "password")
    page.keyboard.type(world.password_of(account))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/login" not in page.url


def type_date(page: Any, name: str, when: date) -> None:
    """Type a date: into the NHS.UK date input (day, month, year), or into the browser's own
    date field, which Chromium here shows as mm/dd/yyyy whatever the page's language (the
    reason for the NHS.UK date input)."""
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") in (name, f"{name}-day"):
            break
    else:
        raise AssertionError(f"Tab never reached the date {name}")
    page.keyboard.press("Control+A")
    kind = page.evaluate("document.activeElement.type")
    if kind == "date":
        page.keyboard.type(when.strftime("%m%d%Y"))
        typed = page.evaluate("document.activeElement.value")
        assert typed == when.isoformat(), f"{name}: typed {when}, the field holds {typed!r}"
        return
    for part in (when.day, when.month, when.year):
        page.keyboard.press("Control+A")
        page.keyboard.type(str(part))
        page.keyboard.press("Tab")


def test_a_coordinator_opens_a_round_with_the_keyboard_alone(
    browsers: Browsers, world: AuditWorld
) -> None:
    page = browsers.new_context().new_page()
    keyboard_sign_in(page, world, "coordinator")
    tab_to(page, "Eastfield Care Alliance")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_url(f"**/coordinator/partnerships/{world.ids['empty_partnership']}")
    tab_to(page, "Title")
    page.keyboard.press("Control+A")
    page.keyboard.type("Keyboard round")
    type_date(page, "opens_on", date.today())
    type_date(page, "closes_on", date.today() + timedelta(days=21))
    tab_to(page, "Set up round")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_url("**/coordinator/rounds/*")
    assert page.locator("h1").inner_text() == "Keyboard round"
    page.context.close()


def test_an_evaluator_downloads_a_report_with_the_keyboard_alone(
    browsers: Browsers, world: AuditWorld
) -> None:
    page = browsers.new_context().new_page()
    keyboard_sign_in(page, world, "evaluator")
    tab_to(page, "the report's 39 leaders")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_url(f"**/reports/rounds/{world.ids['report_round']}")
    tab_to(page, "Report (PDF, A4)")
    with page.expect_download() as download_info:
        page.keyboard.press("Enter")
    download = download_info.value
    name = download.suggested_filename
    assert name.endswith("_report.pdf") and not name.startswith("round-"), name
    saved = Path(download.path())
    assert saved.read_bytes()[:5] == b"%PDF-"
    page.context.close()


def test_change_focuses_the_chosen_answer_and_saving_returns_to_that_question(
    browsers: Browsers, world: AuditWorld
) -> None:
    page = browsers.new_context().new_page()
    whole_questionnaire(page, world)
    assert page.url.split("?")[0].endswith("/check")
    row = page.locator(".nhsuk-summary-list__row").nth(6)  # an item of the second section
    question = row.get_attribute("id")
    before = row.locator(".nhsuk-summary-list__value").inner_text()
    row.get_by_role("link", name="Change").click()
    page.wait_for_load_state()
    focused = page.evaluate(
        "({id: document.activeElement.id, checked: document.activeElement.checked})"
    )
    assert focused["checked"] and focused["id"].startswith(f"{question}-"), focused
    page.keyboard.press("ArrowDown")  # the next answer, with the keyboard
    page.get_by_role("button", name="Save and go back to your answers").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/check#{question}"), page.url
    after = page.locator(f"[id='{question}'] .nhsuk-summary-list__value").inner_text()
    assert after != before
    page.context.close()


def test_the_api_docs_draw_from_the_app_alone(browsers: Browsers, world: AuditWorld) -> None:
    """Swagger UI comes from the app (npm's swagger-ui-dist): it draws the API's operations
    with every other host blocked, and the Content-Security-Policy refuses nothing."""
    context = browsers.chromium.new_context()  # no bypass_csp: the real policy applies
    outside: list[str] = []
    context.route(
        re.compile(r"^https?://(?!127\.0\.0\.1)"),
        lambda route: (outside.append(route.request.url), route.abort()),
    )
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.goto(world.url("/api/docs"))
    page.locator(".opblock").first.wait_for()
    assert page.locator(".opblock").count() > 10
    assert problems == [] and outside == [], (problems, outside)
    context.close()
