"""The coordinator's round and partnership pages in Chromium, clean and with errors: axe-core
(WCAG 2.2 AA) at 1280 and 320 px, no horizontal scrolling at 320 px, a title that starts
"Error: " exactly when the page shows errors, one h1; screenshots at both widths in
``test-artifacts/screenshots/coordinator/``.

Pages: the list of partnerships with its form and errors, the partnership page with the round
form (NHS.UK date input) and its errors, the round page (open with its open link shown again,
a draft, a closed round), the confirmation pages (close, reopen, replace the open link, delete
a round or a partnership), the closing date, renames, removing an organisation (allowed and
not), the questionnaire previews, and the admin's questionnaires page.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from tests.browser_support import (
    ARTIFACTS,
    TEST_SECRET,
    LiveServer,
    axe_violations,
    describe_violations,
)

pytestmark = pytest.mark.browser

NARROW, WIDE = 320, 1280
FOLDER = ARTIFACTS / "screenshots" / "coordinator"
ADMIN_EMAIL = "pages.admin@example.org"
ADMIN_PASSWORD = "a long admin password for the pages"
AUDITED: dict[str, dict[str, Any]] = {}


@dataclass(frozen=True)
class Place:
    partnership: int
    removable: int
    kept: int
    open_round: int
    draft_round: int
    closed_round: int
    check_round: int


@pytest.fixture(scope="module")
def place(live_server: LiveServer) -> Place:
    """A partnership with two organisations (one with a started link), an open round on the
    newest main instrument, a draft, a closed round and a round on the self-check."""
    from app.database import make_engine
    from app.models import Invitation, InvitationStatus
    from app.services import accounts, invitations, partnerships, rounds

    engine = make_engine(live_server.database_url)
    today = date.today()
    with Session(engine, expire_on_commit=False) as session:
        accounts.add_account(session, ADMIN_EMAIL, ADMIN_PASSWORD, role="admin")
        partnership = partnerships.create_partnership(
            session, "Riverside and Hillshire Integrated Care Partnership", "other"
        )
        assert partnership.id is not None
        kept = partnerships.add_organisation(
            session, partnership.id, "Riverside University Hospitals NHS Trust", "acute-trust"
        )
        spare = partnerships.add_organisation(
            session, partnership.id, "Hillshire County Council", "local-authority"
        )

        partnership_id = partnership.id

        def make(
            title: str, opens: int, closes: int, instrument: str = "trustworthy-collaboration"
        ) -> int:
            made = rounds.open_round(
                session,
                partnership_id,
                title=title,
                opens_on=today + timedelta(days=opens),
                closes_on=today + timedelta(days=closes),
                anonymity_threshold=5,
                instrument_id=instrument,
            )
            assert made.id is not None
            return made.id

        open_round = make("Spring 2027 partnership trust survey", -2, 20)
        draft = make("Autumn 2027 survey", 10, 40)
        closed = make("Winter 2026 survey", -40, 20)
        rounds.close_round(session, closed)
        check = make("Recommendation 6 self-check", -1, 20, "partnership-self-check")
        for organisation in (kept, spare):
            invitations.create_personal_links(
                session, open_round, organisation_id=organisation.id, count=3, most=10
            )
        started = session.exec(
            select(Invitation).where(Invitation.organisation_id == kept.id)
        ).first()
        assert started is not None
        started.status = InvitationStatus.STARTED
        session.add(started)
        session.commit()
        # SECRET_KEY of the live server: the link can be shown again on the round's page
        invitations.create_open_link(session, open_round, signing_key=TEST_SECRET)
        assert kept.id is not None and spare.id is not None
        found = Place(partnership.id, spare.id, kept.id, open_round, draft, closed, check)
    engine.dispose()
    return found


@pytest.fixture(scope="module")
def page(chromium: Any, live_server: LiveServer, place: Place) -> Iterator[Any]:
    context = chromium.new_context(bypass_csp=True)  # for axe-core
    signed_in = context.new_page()
    signed_in.goto(live_server.base_url + "/sign-in")
    signed_in.fill("#email", ADMIN_EMAIL)
    signed_in.fill("#password", ADMIN_PASSWORD)
    signed_in.click("main button[type=submit]")
    signed_in.wait_for_url("**/coordinator")
    yield signed_in
    context.close()


@pytest.fixture(scope="module", autouse=True)
def _write_measurements() -> Iterator[None]:
    yield
    if AUDITED:
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "coordinator-pages.json").write_text(json.dumps(AUDITED, indent=2))


# The elements that stick out past the right edge (for the assertion message).
WIDEST = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth)
  .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))
  .slice(-5)"""


def _shot(page: Any, name: str) -> Path:
    FOLDER.mkdir(parents=True, exist_ok=True)
    path = FOLDER / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def audit(page: Any, name: str, *, errors: bool = False) -> None:
    """Check the page as it is now at 1280 and 320 px wide, and keep screenshots."""
    title = page.title()
    assert title.startswith("Error: ") == errors, f"{name}: title {title!r}"
    assert page.locator("h1").count() == 1, f"{name}: one h1"
    assert (page.locator(".nhsuk-error-summary").count() == 1) == errors, name
    if errors:
        assert page.locator(".nhsuk-error-message").count() >= 1, name
    page.set_viewport_size({"width": WIDE, "height": 900})
    violations = axe_violations(page)
    _shot(page, f"{name}-{WIDE}")
    assert violations == [], f"{name}:\n{describe_violations(violations)}"
    page.set_viewport_size({"width": NARROW, "height": 640})
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    narrow = axe_violations(page)
    _shot(page, f"{name}-{NARROW}")
    assert scroll_width <= NARROW, f"{name}: {scroll_width} px wide: {page.evaluate(WIDEST)}"
    assert narrow == [], f"{name} at {NARROW} px:\n{describe_violations(narrow)}"
    AUDITED[name] = {"title": title, "scroll_width_at_320": scroll_width, "errors": errors}
    page.set_viewport_size({"width": WIDE, "height": 900})


def _go(page: Any, server: LiveServer, path: str, status: int = 200) -> None:
    answer = page.goto(server.base_url + path)
    assert answer is not None and answer.status == status, (path, answer and answer.status)


def _send(page: Any, action: str, status: int = 422) -> None:
    """Press the submit button of the form posting to ``action``; expect ``status``."""
    with page.expect_response(lambda r: r.url.endswith(action) and r.request.method == "POST") as r:
        page.locator(f"form[action='{action}'] button[type=submit]").click()
    assert r.value.status == status, (action, r.value.status)
    page.wait_for_load_state()


def test_partnership_page_and_round_form(page: Any, live_server: LiveServer, place: Place) -> None:
    _go(page, live_server, "/coordinator")
    audit(page, "dashboard")
    page.fill("#name", "")
    _send(page, "/coordinator/partnerships")
    audit(page, "dashboard-errors", errors=True)
    path = f"/coordinator/partnerships/{place.partnership}"
    _go(page, live_server, path)
    assert page.locator("#opens_on-day").count() == 1
    options = page.locator("#instrument option").all_inner_texts()
    assert any("self-check" in option.lower() for option in options), options
    audit(page, "partnership")
    page.fill("#title", " ")
    page.fill("#opens_on-day", "31")
    page.fill("#opens_on-month", "2")
    page.fill("#closes_on-day", "")
    _send(page, f"{path}/rounds")
    assert page.locator("#title-error").count() == 1
    assert page.locator("#opens_on-error").count() == 1
    assert page.locator("#opens_on-day").input_value() == "31"  # the typed value is kept
    audit(page, "round-form-errors", errors=True)


def test_round_pages(page: Any, live_server: LiveServer, place: Place) -> None:
    _go(page, live_server, f"/coordinator/rounds/{place.open_round}")
    assert "/s/" in page.locator("#open-link-text").input_value()
    audit(page, "round-open")
    _go(page, live_server, f"/coordinator/rounds/{place.draft_round}")
    assert page.get_by_role("button", name="Open the round today").count() == 1
    audit(page, "round-draft")
    _go(page, live_server, f"/coordinator/rounds/{place.closed_round}")
    audit(page, "round-closed")


def test_confirmation_pages(page: Any, live_server: LiveServer, place: Place) -> None:
    _go(page, live_server, f"/coordinator/rounds/{place.open_round}/close")
    audit(page, "close")
    _go(page, live_server, f"/coordinator/rounds/{place.open_round}/open-link/replace")
    audit(page, "replace-open-link")
    reopen = f"/coordinator/rounds/{place.closed_round}/reopen"
    _go(page, live_server, reopen)
    audit(page, "reopen")
    page.fill("#closes_on-day", "1")
    page.fill("#closes_on-month", "1")
    page.fill("#closes_on-year", "2020")
    _send(page, reopen)
    audit(page, "reopen-errors", errors=True)
    for what, path in (
        ("round", f"/coordinator/rounds/{place.open_round}/delete"),
        ("partnership", f"/coordinator/partnerships/{place.partnership}/delete"),
    ):
        _go(page, live_server, path)
        audit(page, f"delete-{what}")
        page.fill("#confirm_name", "not the name")
        _send(page, path)
        assert page.locator("#confirm_name").input_value() == "not the name"
        audit(page, f"delete-{what}-errors", errors=True)


def test_dates_renames_and_removing(page: Any, live_server: LiveServer, place: Place) -> None:
    closing = f"/coordinator/rounds/{place.open_round}/closing-date"
    _go(page, live_server, closing)
    audit(page, "closing-date")
    page.fill("#closes_on-day", "31")
    page.fill("#closes_on-month", "2")
    page.fill("#closes_on-year", str(date.today().year + 1))
    _send(page, closing)
    audit(page, "closing-date-errors", errors=True)
    organisations = f"/coordinator/partnerships/{place.partnership}/organisations"
    for what, path in (
        ("partnership", f"/coordinator/partnerships/{place.partnership}/rename"),
        ("organisation", f"{organisations}/{place.kept}/rename"),
        ("round", f"/coordinator/rounds/{place.open_round}/rename"),
    ):
        _go(page, live_server, path)
        audit(page, f"rename-{what}")
        page.fill("#name", "")
        _send(page, path)
        audit(page, f"rename-{what}-errors", errors=True)
    _go(page, live_server, f"{organisations}/{place.removable}/remove")
    assert page.get_by_role("button", name="Yes, remove the organisation").count() == 1
    audit(page, "remove-organisation")
    _go(page, live_server, f"{organisations}/{place.kept}/remove")
    assert "cannot be removed" in page.locator("h1").inner_text()
    audit(page, "remove-organisation-refused")


def test_previews_and_the_instruments_page(
    page: Any, live_server: LiveServer, place: Place, tmp_path: Path
) -> None:
    for name, round_id in (
        ("preview", place.open_round),
        ("preview-self-check", place.check_round),
    ):
        _go(page, live_server, f"/coordinator/rounds/{round_id}/preview")
        assert page.locator("input[type=radio]").count() > 0
        assert page.locator("main form[method=post]").count() == 0  # nothing to send
        audit(page, name)
    _go(page, live_server, "/admin/instruments")
    assert "partnership-self-check" in page.locator("table").inner_text()
    audit(page, "instruments")
    bad = tmp_path / "broken.yaml"
    bad.write_text("id: [unclosed\n", encoding="utf-8")
    page.set_input_files("#document", str(bad))
    _send(page, "/admin/instruments")
    assert "broken.yaml" in page.locator("#document-error").inner_text()
    audit(page, "instruments-errors", errors=True)
