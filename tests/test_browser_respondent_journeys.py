"""Respondents' journeys in Chromium: keyboard only, errors fixed, saved and resumed, no JavaScript.

The server is the real ``trust-survey serve --demo`` (one per module).  Each journey starts
from the demo's open link, which gives every visitor a personal link of their own, except the
keyboard journey, which uses the demo's personal link.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.browser_support import (
    LiveServer,
    answer_page,
    start_live_server,
    stop_live_server,
)

pytestmark = pytest.mark.browser

ACTIVE = """() => {
  const e = document.activeElement;
  return {tag: e.tagName, type: e.type || '', name: e.name || '', value: e.value || '',
          text: (e.textContent || '').trim(), href: e.getAttribute('href') || '',
          groupChecked: e.type === 'radio'
            ? !!document.querySelector(`input[name="${e.name}"]:checked`) : false};
}"""


def new_page(chromium: Any, **options: Any) -> tuple[Any, Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, **options)
    return context, context.new_page()


def caption(page: Any) -> str:
    return str(page.locator(".nhsuk-caption-l").inner_text())


def start_from_open_link(page: Any, server: LiveServer) -> str:
    """Start on the open link; the new personal link."""
    page.goto(server.open_link)
    page.get_by_role("button", name="Start now").click()
    page.wait_for_url("**/sections/**")
    return f"{server.base_url}/s/{page.url.split('/s/')[1].split('/')[0]}"


def tab_to(page: Any, wanted: str, answer_radios: bool = False, most: int = 400) -> dict[str, Any]:
    """Press Tab until the focus is on the control whose text is ``wanted``.

    With ``answer_radios``, each radio group reached unanswered is answered from the keyboard:
    Space picks the first option, then the Down arrow moves to (and picks) the second.
    """
    for _ in range(most):
        page.keyboard.press("Tab")
        focused: dict[str, Any] = page.evaluate(ACTIVE)
        if focused["text"] == wanted:
            return focused
        if answer_radios and focused["type"] == "radio" and not focused["groupChecked"]:
            page.keyboard.press("Space")
            page.keyboard.press("ArrowDown")
    raise AssertionError(f"never reached {wanted!r} by Tab")


def test_a_whole_questionnaire_by_keyboard_only(live_server: LiveServer, chromium: Any) -> None:
    context, page = new_page(chromium)
    page.goto(live_server.respondent_link)
    first = page.evaluate(ACTIVE)
    assert first["tag"] == "BODY"
    page.keyboard.press("Tab")
    assert page.evaluate(ACTIVE)["text"] == "Skip to main content"
    tab_to(page, "Start now")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    sections = int(caption(page).rsplit(" ", 1)[1])
    for number in range(1, sections + 1):
        assert caption(page) == f"Section {number} of {sections}"
        tab_to(page, "Save and continue", answer_radios=True)
        with page.expect_navigation():
            page.keyboard.press("Enter")
    assert page.url.endswith("/check")
    assert page.locator(".nhsuk-error-summary").count() == 0
    # the Down arrow after Space left the second option chosen: "Disagree"
    values = page.locator(".nhsuk-summary-list__value").all_inner_texts()
    assert values.count("Disagree") == 22 and "Not answered" not in values
    tab_to(page, "Submit my answers")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/thank-you")
    assert "your answers have been submitted" in page.locator("h1").inner_text()
    context.close()


def test_a_validation_error_is_shown_then_fixed(live_server: LiveServer, chromium: Any) -> None:
    context, page = new_page(chromium)
    start_from_open_link(page, live_server)
    page.get_by_role("button", name="Save and continue").click()
    assert caption(page).startswith("Section 2 of")
    page.locator(".nhsuk-radios").first.locator("label").nth(4).click()
    page.get_by_role("button", name="Save and continue").click()

    assert page.title().startswith("Error: ")
    summary = page.locator(".nhsuk-error-summary")
    assert summary.locator("h2").inner_text() == "There is a problem"
    links = summary.locator("a")
    assert links.count() == 5
    # the summary takes the focus, so a screen reader reads it first
    assert page.evaluate("document.activeElement.classList.contains('nhsuk-error-summary')")
    # the answer already given is kept, and each unanswered question says so inline
    groups = page.locator(".nhsuk-form-group")
    assert groups.first.locator("input:checked").get_attribute("value") == "5"
    assert page.locator(".nhsuk-form-group--error").count() == 5
    message = page.locator(".nhsuk-error-message").first.inner_text()
    assert " ".join(message.split()) == "Error: Select an answer"
    # a summary link puts the focus on the question's first radio
    target = links.first.get_attribute("href")
    links.first.click()
    assert page.evaluate("'#' + document.activeElement.id") == target
    fieldset = page.locator(f"{target}").locator("xpath=ancestor::fieldset")
    assert "-error" in (fieldset.get_attribute("aria-describedby") or "")

    answer_page(page, choice=2)
    page.get_by_role("button", name="Save and continue").click()
    assert caption(page).startswith("Section 3 of")
    assert not page.title().startswith("Error: ")
    page.get_by_role("link", name="Back").click()
    assert page.locator("input:checked").count() == 6
    context.close()


def test_saved_closed_resumed_in_a_new_browser_submitted_and_the_link_then_used(
    live_server: LiveServer, chromium: Any
) -> None:
    context, page = new_page(chromium)
    start_from_open_link(page, live_server)
    page.get_by_role("button", name="Save and continue").click()
    page.locator(".nhsuk-radios").nth(0).locator("label").nth(0).click()
    page.locator(".nhsuk-radios").nth(1).locator("label").nth(4).click()
    page.get_by_role("button", name="Save and come back later").click()
    assert page.locator("h1").inner_text() == "Your answers have been saved"
    link = page.locator(".app-resume-link a").inner_text()
    assert link.startswith(f"{live_server.base_url}/s/")
    code = page.locator("#resume-code").inner_text()
    context.close()

    # another browser: the link alone asks for the resume code
    context, page = new_page(chromium)
    page.goto(link)
    assert page.locator("h1").inner_text() == "Enter your resume code"
    page.get_by_label("Resume code").fill(code)
    page.get_by_role("button", name="Continue").click()
    resume = page.get_by_role("button", name="Continue where you left off")
    resume.click()
    assert caption(page).startswith("Section 2 of")
    first, second = page.locator(".nhsuk-radios").nth(0), page.locator(".nhsuk-radios").nth(1)
    assert first.locator("input:checked").get_attribute("value") == "1"
    assert second.locator("input:checked").get_attribute("value") == "5"
    while "/check" not in page.url:
        answer_page(page)
        page.get_by_role("button", name="Save and continue").click()
    rows = page.locator(".nhsuk-summary-list__value").all_inner_texts()
    assert rows[4:6] == ["Strongly disagree", "Strongly agree"]  # after 4 background rows
    page.get_by_role("button", name="Submit my answers").click()
    assert page.locator(".nhsuk-panel h1").inner_text().startswith("Thank you")
    context.close()

    # a third browser: the link alone tells nothing; with the code, that it was used
    context, page = new_page(chromium)
    page.goto(link)
    assert page.locator("h1").inner_text() == "Enter your resume code"
    page.get_by_label("Resume code").fill(code)
    with page.expect_response(lambda answer: answer.url.endswith("/resume")) as posted:
        page.get_by_role("button", name="Continue").click()
    assert posted.value.status == 409
    assert page.locator("h1").inner_text() == "This link has already been used"
    assert page.locator("form").count() == 0
    context.close()


def test_a_submission_with_javascript_switched_off(live_server: LiveServer, chromium: Any) -> None:
    context, page = new_page(chromium, java_script_enabled=False)
    start_from_open_link(page, live_server)
    assert "js-enabled" not in (page.get_attribute("body", "class") or "")
    page.get_by_role("button", name="Save and continue").click()
    page.get_by_role("button", name="Save and continue").click()  # nothing answered: errors
    assert page.title().startswith("Error: ")
    first_link = page.locator(".nhsuk-error-summary a").first
    first_link.click()  # a plain in-page link without JavaScript
    assert page.url.endswith(str(first_link.get_attribute("href")))
    while "/check" not in page.url:
        answer_page(page, choice=0)
        page.get_by_role("button", name="Save and continue").click()
    page.get_by_role("button", name="Submit my answers").click()
    assert "your answers have been submitted" in page.locator("h1").inner_text()
    context.close()


def test_a_draft_survives_a_restart_of_the_server(chromium: Any) -> None:
    folder = Path(tempfile.mkdtemp(prefix="restart-"))
    server = start_live_server(folder)
    try:
        context, page = new_page(chromium)
        link = start_from_open_link(page, server)
        page.get_by_role("button", name="Save and continue").click()
        answer_page(page, choice=1)
        page.get_by_role("button", name="Save and come back later").click()
        code = page.locator("#resume-code").inner_text()
        context.close()
    finally:
        stop_live_server(server)
    assert server.process.poll() is not None

    again = start_live_server(folder)  # a new process on the same database file
    try:
        assert again.database_url == server.database_url
        assert again.process.pid != server.process.pid
        token = link.split("/s/")[1]
        context, page = new_page(chromium)
        page.goto(f"{again.base_url}/s/{token}")
        page.get_by_label("Resume code").fill(code)
        page.get_by_role("button", name="Continue").click()
        page.get_by_role("button", name="Continue where you left off").click()
        assert caption(page).startswith("Section 3 of")
        page.get_by_role("link", name="Back").click()
        checked = page.locator("input:checked")
        assert checked.count() == 6
        assert set(checked.evaluate_all("inputs => inputs.map(i => i.value)")) == {"2"}
        context.close()
    finally:
        stop_live_server(again)
