"""The page audit's registry: every HTML page of every role, in each of its states.

A page is one :class:`Page` entry: the app's route that draws it, whose browser it is seen in
(``role``), and its states (clean and with errors, empty and full, ...), each a small function
that brings a Playwright page to that state.  ``tests/test_browser_page_audit.py`` audits every
state at 320 and 1280 px (axe-core, no sideways scrolling, 44 px targets, the header's
contrast) and keeps a screenshot of each as
``test-artifacts/screenshots/<role>/<page>-<state>-<width>.png``;
``tests/test_page_audit_coverage.py`` fails when one of the app's HTML routes has no entry
here (nor a reason in ``NOT_PAGES``), as the authorisation matrix does for every route.

To add a page: add one ``Page(...)`` to ``PAGES``.  A state's function gets the Playwright page
(already signed in as ``role``) and the :class:`AuditWorld` (the live server, the demo's ids,
fresh links); paths may use ``{partnership}``, ``{round}`` ... from ``AuditWorld.ids``.  A state
that posts a form to draw its page names that route in ``covers``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.services import accounts, invitations, partnerships, rounds
from app.services.demo import DEMO_COORDINATOR, DEMO_OPEN_ROUND, DEMO_PARTNERSHIP, DEMO_REPORT_ROUND
from tests.browser_support import LiveServer

Route = tuple[str, str]
PASSWORD = "page audit password 123"
TWO_FACTOR_EMAIL = "two.factor@example.org"
SET_UP_EMAIL = "set.up@example.org"
ROLES = ("anonymous", "respondent", "coordinator", "evaluator", "analyst", "admin")
# Who signs in where (the sign-in page and the account), by the audit's account names.
ACCOUNTS = {
    "coordinator": ("/sign-in", DEMO_COORDINATOR),
    "new-coordinator": ("/sign-in", "new.coordinator@example.org"),
    "evaluator": ("/sign-in", "evaluator@example.org"),
    "new-evaluator": ("/sign-in", "new.evaluator@example.org"),
    "analyst": ("/sign-in", "analyst@example.org"),
    "admin": ("/sign-in", "admin@example.org"),
    "admin-reports": ("/sign-in", "admin@example.org"),
}


@dataclass
class AuditWorld:
    """The live server, the ids of what the demo and the audit made, and fresh links."""

    server: LiveServer
    engine: Engine
    ids: dict[str, int] = field(default_factory=dict)
    coordinator_password: str = ""

    def url(self, path: str) -> str:
        return self.server.base_url + path.format(**self.ids)

    def personal_link(self, round_key: str = "open_round") -> str:
        """A fresh personal link (its token) of a round."""
        with Session(self.engine) as session:
            return invitations.create_personal_links(
                session, self.ids[round_key], organisation_id=None, count=1, most=1
            )[0]

    def password_of(self, account: str) -> str:
        return self.coordinator_password if account == "coordinator" else PASSWORD


def build_world(server: LiveServer) -> AuditWorld:
    """The demo as served, plus the accounts and the empty things the audit needs."""
    from app.database import make_engine

    engine = make_engine(server.database_url)
    world = AuditWorld(server, engine, coordinator_password=server.coordinator_password)
    with Session(engine) as session:
        demo = partnerships.partnership_by_name(session, DEMO_PARTNERSHIP)
        assert demo is not None and demo.id is not None
        world.ids["partnership"] = demo.id
        for survey_round in rounds.list_rounds(session, demo.id):
            assert survey_round.id is not None
            if survey_round.title == DEMO_REPORT_ROUND:
                world.ids["report_round"] = survey_round.id
            elif survey_round.title == DEMO_OPEN_ROUND:
                world.ids["open_round"] = survey_round.id
        empty = partnerships.create_partnership(
            session, "Eastfield Care Alliance", "integrated-primary-and-acute-care-systems"
        )
        assert empty.id is not None
        world.ids["empty_partnership"] = empty.id
        new_round = rounds.open_round(
            session,
            demo.id,
            title="Winter round (no answers yet)",
            opens_on=date.today(),
            closes_on=date.today() + timedelta(days=28),
            anonymity_threshold=5,
            instrument_id="trustworthy-collaboration",
        )
        later = rounds.open_round(
            session,
            empty.id,
            title="Spring round (not open yet)",
            opens_on=date.today() + timedelta(days=10),
            closes_on=date.today() + timedelta(days=40),
            anonymity_threshold=5,
            instrument_id="trustworthy-collaboration",
        )
        assert new_round.id is not None and later.id is not None
        world.ids["new_round"] = new_round.id
        world.ids["later_round"] = later.id
        for key, title, opens in (
            ("spare_round", "Round to change", 0),
            ("draft_round", "Round to open today", 10),
        ):
            made = rounds.open_round(
                session,
                empty.id,
                title=title,
                opens_on=date.today() + timedelta(days=opens),
                closes_on=date.today() + timedelta(days=60),
                anonymity_threshold=5,
                instrument_id="trustworthy-collaboration",
            )
            assert made.id is not None
            world.ids[key] = made.id
        rounds.close_round(session, world.ids["spare_round"])
        organisation = partnerships.add_organisation(
            session, empty.id, "Eastfield District Council", "local-authority"
        )
        assert organisation.id is not None
        world.ids["organisation"] = organisation.id
        coordinator = accounts.coordinator_by_email(session, DEMO_COORDINATOR)
        assert coordinator is not None
        accounts.grant_partnership(session, coordinator, empty.id)
        accounts.add_account(session, "new.coordinator@example.org", PASSWORD)
        accounts.add_account(
            session, "evaluator@example.org", PASSWORD, "evaluator", [DEMO_PARTNERSHIP]
        )
        accounts.add_account(  # granted only a partnership with no report yet
            session, "new.evaluator@example.org", PASSWORD, "evaluator", [empty.name]
        )
        accounts.add_account(session, "analyst@example.org", PASSWORD, "analyst")
        # Second factors at sign-in: one who sets one up on their account page (then is
        # asked for codes), one whose role will require one they have not set up.
        accounts.add_account(session, TWO_FACTOR_EMAIL, PASSWORD, "evaluator", [DEMO_PARTNERSHIP])
        accounts.add_account(session, SET_UP_EMAIL, PASSWORD, "analyst")
        accounts.add_account(session, "admin@example.org", PASSWORD, "admin")
        invited = accounts.add_account(
            session, "invited.evaluator@example.org", None, "evaluator", [DEMO_PARTNERSHIP]
        )
        assert invited.id is not None
        world.ids["invited_account"] = invited.id
        session.commit()
    return world


Step = Callable[[Any, AuditWorld], None]


@dataclass(frozen=True)
class State:
    """One state of a page: how to get there, the status it answers with, whether it shows
    the error summary (``None``: not checked), and the other routes it draws."""

    name: str
    go: Step
    status: int | None = 200
    errors: bool | None = False
    account: str | None = None  # whose browser, when not the page's role (e.g. new-coordinator)
    covers: tuple[Route, ...] = ()
    expect: Step | None = None  # what this state must show, checked before the audit


@dataclass(frozen=True)
class Page:
    """An HTML page: the route that draws it, the role it is seen as, its states."""

    route: Route
    role: str
    name: str
    states: tuple[State, ...]


# -- Steps --------------------------------------------------------------------------------


def visit(path: str) -> Step:
    """Go to ``path`` (with ``{round}`` etc. filled in from the world's ids)."""

    def go(page: Any, world: AuditWorld) -> None:
        page.goto(world.url(path))

    return go


def _enough_audit_lines(_page: Any, world: AuditWorld) -> None:
    """Three pages of audit lines (once), for the page's numbered pagination."""
    from app.services import audit

    with Session(world.engine) as session:
        missing = 120 - audit.count_events(session, audit.AuditFilter())
        for number in range(max(missing, 0)):
            audit.record(
                session,
                f"reader{number % 4}@example.org",
                audit.AuditAction.REPORT_VIEWED,
                f"report of round {world.ids['report_round']}",
                partnership_id=world.ids["partnership"],
                detail="page",
                commit=False,
            )
        session.commit()


def steps(*parts: Step) -> Step:
    def go(page: Any, world: AuditWorld) -> None:
        for part in parts:
            part(page, world)

    return go


def click(name: str, role: str = "button") -> Step:
    def go(page: Any, _world: AuditWorld) -> None:
        page.get_by_role(role, name=name, exact=True).first.click()
        page.wait_for_load_state()

    return go


def fill(selector: str, value: str) -> Step:
    def go(page: Any, _world: AuditWorld) -> None:
        page.fill(selector, value)

    return go


def check(selector: str) -> Step:
    def go(page: Any, _world: AuditWorld) -> None:
        page.check(selector)

    return go


def select(selector: str, index: int) -> Step:
    def go(page: Any, _world: AuditWorld) -> None:
        page.select_option(selector, index=index)

    return go


def upload(selector: str, name: str, content: bytes) -> Step:
    """Choose a file of ``content`` for the file input ``selector``."""

    def go(page: Any, _world: AuditWorld) -> None:
        page.set_input_files(selector, {"name": name, "mimeType": "text/yaml", "buffer": content})

    return go


def uncheck_all(name: str) -> Step:
    def go(page: Any, _world: AuditWorld) -> None:
        for box in page.locator(f'input[name="{name}"]').all():
            box.uncheck()

    return go


def set_password_link(page: Any, world: AuditWorld) -> None:
    """A fresh set-your-password link of the invited evaluator."""
    from app.models import AccountLinkPurpose
    from app.services import account_links

    with Session(world.engine) as session:
        account = accounts.coordinator_by_email(session, "invited.evaluator@example.org")
        assert account is not None
        token = account_links.new_link(session, account, AccountLinkPurpose.INVITATION)
        session.commit()
    page.goto(world.url(f"/account/set-password/{token}"))


def answer_every_question(page: Any, _world: AuditWorld) -> None:
    """Pick the middle answer of every radio group on the page."""
    for group in page.locator(".nhsuk-radios").all():
        labels = group.locator("label")
        labels.nth(labels.count() // 2).click()


def respondent_link(round_key: str = "open_round", then: str = "") -> Step:
    """A fresh personal link of the round, then ``then`` under it."""

    def go(page: Any, world: AuditWorld) -> None:
        page.goto(world.url(f"/s/{world.personal_link(round_key)}{then}"))

    return go


def first_section(page: Any, world: AuditWorld) -> None:
    """A fresh personal link's first section (what the link tells is filled in)."""
    respondent_link()(page, world)
    page.get_by_role("button", name="Start now").click()
    page.wait_for_url("**/sections/**")


def started_link(page: Any, world: AuditWorld) -> None:
    """A fresh personal link, started: its first section saved; on the second, which shows
    the resume code."""
    first_section(page, world)
    page.get_by_role("button", name="Save and continue").click()
    page.wait_for_url("**/sections/**?new=1")


def whole_questionnaire(page: Any, world: AuditWorld) -> None:
    """A started link, every section answered: on the check page."""
    started_link(page, world)
    while "/sections/" in page.url:
        answer_every_question(page, world)
        page.get_by_role("button", name="Save and continue").click()
        page.wait_for_load_state()


def in_another_browser(page: Any, _world: AuditWorld) -> None:
    """Forget this browser's resume cookie: the link now asks for its code."""
    page.context.clear_cookies()
    page.reload()


def database_busy(*then: Step) -> Step:
    """``then`` while another connection holds the SQLite database's write lock: a save
    waits SQLITE_BUSY_TIMEOUT (5 s for the live server), then answers the 503 page that keeps
    the posted answers.  The lock goes at the end of the step, whatever happens."""

    def go(page: Any, world: AuditWorld) -> None:
        import sqlite3

        url = world.server.database_url
        assert url.startswith("sqlite:///"), url
        lock = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=5, isolation_level=None)
        try:
            lock.execute("BEGIN EXCLUSIVE")
            for part in then:
                part(page, world)
        finally:
            lock.close()

    return go


def wrong_resume_codes(count: int) -> Step:
    """Type a wrong resume code ``count`` times (the link's limit is 10 in 15 minutes)."""

    def go(page: Any, world: AuditWorld) -> None:
        for _ in range(count):
            fill("#resume_code", "WRONG-CODE")(page, world)
            click("Continue")(page, world)

    return go


def saved_then_check(page: Any, _world: AuditWorld) -> None:
    """Save the first section for later, then go to the check page (answers missing)."""
    page.get_by_role("button", name="Save and come back later").click()
    page.wait_for_url("**/saved")
    page.goto(page.url.replace("/saved", "/check"))


def shows(selector: str, text: str = "", count: int | None = None) -> Step:
    """The page has ``selector`` (``count`` times, if given) and it contains ``text``."""

    def go(page: Any, _world: AuditWorld) -> None:
        found = page.locator(selector)
        if count is not None:
            assert found.count() == count, f"{selector}: {found.count()} on the page, not {count}"
        if text:
            assert text in found.first.inner_text(), f"{selector} does not say {text!r}"

    return go


def open_link(page: Any, world: AuditWorld) -> None:
    page.goto(world.server.open_link)


# -- The registry ----------------------------------------------------------------------------

COORDINATOR_PAGES = [
    Page(
        ("GET", "/sign-in"),
        "anonymous",
        "sign-in",
        (
            State("clean", visit("/sign-in")),
            State(
                "errors",
                steps(
                    visit("/sign-in"),
                    fill("#email", "someone@example.org"),
                    fill("#password", "not the password"),
                    click("Sign in"),
                ),
                status=None,
                errors=None,
                covers=(("POST", "/sign-in"),),
            ),
        ),
    ),
    Page(
        ("GET", "/coordinator"),
        "coordinator",
        "partnerships",
        (
            State("full", visit("/coordinator")),
            State("empty", visit("/coordinator"), account="new-coordinator"),
            State(
                "errors",
                steps(visit("/coordinator"), click("Add partnership")),
                status=None,
                errors=None,
                covers=(("POST", "/coordinator/partnerships"),),
            ),
        ),
    ),
    Page(
        ("GET", "/coordinator/partnerships/{partnership_id}"),
        "coordinator",
        "partnership",
        (
            State("full", visit("/coordinator/partnerships/{partnership}")),
            State("empty", visit("/coordinator/partnerships/{empty_partnership}")),
            State(
                "errors",
                steps(
                    visit("/coordinator/partnerships/{empty_partnership}"), click("Set up round")
                ),
                status=422,
                errors=True,
                covers=(
                    ("POST", "/coordinator/partnerships/{partnership_id}/rounds"),
                    ("POST", "/coordinator/partnerships/{partnership_id}/organisations"),
                ),
            ),
        ),
    ),
    Page(
        ("GET", "/coordinator/rounds/{round_id}"),
        "coordinator",
        "round",
        (
            State(
                "full",
                visit("/coordinator/rounds/{report_round}"),
                expect=steps(
                    shows("#progress thead", "In progress"),
                    shows("#progress tbody tr.app-progress__total", "All organisations", 1),
                ),
            ),
            State("open", visit("/coordinator/rounds/{open_round}")),
            State("empty", visit("/coordinator/rounds/{new_round}")),
            State("not-open-yet", visit("/coordinator/rounds/{later_round}")),
        ),
    ),
    Page(
        ("POST", "/coordinator/rounds/{round_id}/open-link"),
        "coordinator",
        "open-link",
        (
            State(
                "made",
                steps(visit("/coordinator/rounds/{new_round}"), click("Make an open link")),
            ),
        ),
    ),
    Page(
        ("GET", "/coordinator"),
        "admin",
        "partnerships",
        (State("full", visit("/coordinator")),),
    ),
    *[
        Page(
            ("GET", route),
            "coordinator",
            name,
            (
                State("clean", visit(path)),
                *(
                    [
                        State(
                            "errors",
                            steps(visit(path), *fix, click(button)),
                            status=422,
                            errors=True,
                            covers=(("POST", route),),
                        )
                    ]
                    if button
                    else []
                ),
            ),
        )
        for route, path, name, fix, button in [
            (
                "/coordinator/rounds/{round_id}/rename",
                "/coordinator/rounds/{spare_round}/rename",
                "rename-round",
                [fill("#name", "")],
                "Save",
            ),
            (
                "/coordinator/rounds/{round_id}/closing-date",
                "/coordinator/rounds/{new_round}/closing-date",
                "closing-date",
                [fill("#closes_on-day", "31"), fill("#closes_on-month", "2")],
                "Save the closing date",
            ),
            (
                "/coordinator/rounds/{round_id}/delete",
                "/coordinator/rounds/{spare_round}/delete",
                "delete-round",
                [fill("#confirm_name", "not the name")],
                "Delete the round",
            ),
            (
                "/coordinator/partnerships/{partnership_id}/rename",
                "/coordinator/partnerships/{empty_partnership}/rename",
                "rename-partnership",
                [fill("#name", "")],
                "Save",
            ),
            (
                "/coordinator/partnerships/{partnership_id}/delete",
                "/coordinator/partnerships/{empty_partnership}/delete",
                "delete-partnership",
                [fill("#confirm_name", "not the name")],
                "Delete the partnership",
            ),
            (
                "/coordinator/partnerships/{partnership_id}/organisations/{organisation_id}/rename",
                "/coordinator/partnerships/{empty_partnership}/organisations/{organisation}/rename",
                "rename-organisation",
                [fill("#name", "")],
                "Save",
            ),
            (
                "/coordinator/partnerships/{partnership_id}/organisations/{organisation_id}/remove",
                "/coordinator/partnerships/{empty_partnership}/organisations/{organisation}/remove",
                "remove-organisation",
                [],
                "",
            ),
            (
                "/coordinator/rounds/{round_id}/close",
                "/coordinator/rounds/{new_round}/close",
                "close-round",
                [],
                "",
            ),
            (
                "/coordinator/rounds/{round_id}/reopen",
                "/coordinator/rounds/{spare_round}/reopen",
                "reopen-round",
                [],
                "",
            ),
            (
                "/coordinator/rounds/{round_id}/open-link/replace",
                "/coordinator/rounds/{open_round}/open-link/replace",
                "replace-open-link",
                [],
                "",
            ),
            (
                "/coordinator/rounds/{round_id}/preview",
                "/coordinator/rounds/{open_round}/preview",
                "preview",
                [],
                "",
            ),
        ]
    ],
    Page(
        ("POST", "/coordinator/rounds/{round_id}/open-now"),
        "coordinator",
        "round-opened-today",
        (
            State(
                "opened",
                steps(visit("/coordinator/rounds/{draft_round}"), click("Open the round today")),
            ),
        ),
    ),
    Page(
        ("GET", "/admin/instruments"),
        "admin",
        "instruments",
        (
            State("clean", visit("/admin/instruments")),
            State(
                "errors",
                steps(visit("/admin/instruments"), click("Add questionnaire")),
                status=None,
                errors=True,
                covers=(("POST", "/admin/instruments"),),
            ),
            State(
                "bad-yaml",
                steps(
                    visit("/admin/instruments"),
                    upload("#document", "local-check.yaml", b"id: local-check\ntitle: [Trust\n"),
                    click("Add questionnaire"),
                ),
                status=422,
                errors=True,
                expect=shows(".nhsuk-error-summary", "line 2: the list opened with [ on this"),
            ),
        ),
    ),
    Page(
        ("GET", "/admin/audit"),
        "admin",
        "audit",
        (
            State("clean", visit("/admin/audit")),
            State("no-lines", visit("/admin/audit?actor=nobody-at-all")),
            State("many-pages", steps(_enough_audit_lines, visit("/admin/audit?page=2"))),
            State(
                "errors",
                visit("/admin/audit?from-day=31&from-month=2&from-year=2026&to-day=1"),
                status=422,
                errors=True,
            ),
        ),
    ),
]

READER_PAGES = [
    Page(
        ("GET", "/reports"),
        "evaluator",
        "reports",
        (
            State(
                "full",
                visit("/reports"),
                expect=steps(shows("main", "Closed"), shows("main", "Open")),
            ),
            State(
                "empty",
                visit("/reports"),
                account="new-evaluator",
                expect=shows("main", "Not open yet"),
            ),
        ),
    ),
    Page(
        ("GET", "/reports/rounds/{round_id}"),
        "evaluator",
        "report",
        (
            State("full", visit("/reports/rounds/{report_round}"), expect=shows("#downloads a")),
            State(
                "below-threshold",
                visit("/reports/rounds/{new_round}"),
                expect=steps(shows("#below-threshold"), shows("#downloads", count=0)),
            ),
        ),
    ),
    Page(("GET", "/reports"), "admin", "reports", (State("full", visit("/reports")),)),
]


def _reliability_filled(page: Any, world: AuditWorld) -> None:
    page.goto(world.url("/analyst/reliability"))
    page.select_option("#fill-scale", index=0)
    page.get_by_role("button", name="Use this scale's items").click()
    page.wait_for_load_state()


FOUR_ITEMS = "item=q26&item=q27&item=q28&item=q29"
ANALYST_PAGES = [
    Page(("GET", "/analyst"), "analyst", "pooled", (State("full", visit("/analyst")),)),
    Page(
        ("GET", "/analyst/reliability"),
        "analyst",
        "reliability",
        (
            State("clean", visit("/analyst/reliability")),
            State("scale-filled", _reliability_filled),
            State(
                "result",
                steps(_reliability_filled, click("Compute alpha")),
            ),
            State(
                "nothing-chosen",
                visit("/analyst/reliability?action=compute"),
                status=422,
                errors=True,
            ),
            State(
                "one-item",
                visit("/analyst/reliability?item=q26&action=compute"),
                status=422,
                errors=True,
            ),
        ),
    ),
    Page(
        ("GET", "/analyst/omega"),
        "analyst",
        "omega",
        (
            State("clean", visit("/analyst/omega")),
            State(
                "result",
                visit("/analyst/omega?item=q26&item=q27&item=q28&bootstrap=100&action=compute"),
            ),
            State(
                "errors",
                visit("/analyst/omega?item=q26&item=q27&action=compute"),
                status=422,
                errors=True,
            ),
        ),
    ),
    Page(
        ("GET", "/analyst/factor"),
        "analyst",
        "factor",
        (
            State("clean", visit("/analyst/factor")),
            State(
                "result",
                visit("/analyst/factor?item=q26&item=q27&item=q28&item=q29&action=compute"),
            ),
        ),
    ),
    Page(
        ("GET", "/analyst/agreement"),
        "analyst",
        "agreement",
        (
            State("clean", visit("/analyst/agreement")),
            State(
                "result",
                visit("/analyst/agreement?action=compute"),
                expect=shows("#icc-notes", "at least 2 partnerships", count=1),
            ),
        ),
    ),
]

RESPONDENT_PAGES = [
    Page(("GET", "/privacy"), "anonymous", "privacy", (State("notice", visit("/privacy")),)),
    Page(
        ("GET", "/s/{token}"),
        "respondent",
        "start",
        (
            State("personal-link", respondent_link()),
            State("open-link", open_link),
            State("not-open-yet", respondent_link("later_round"), status=403),
            State("unknown-link", visit("/s/no-such-link"), status=404),
            State("asks-for-resume-code", steps(started_link, in_another_browser)),
        ),
    ),
    Page(
        ("POST", "/s/{token}/start"),
        "respondent",
        "start-open-link",
        (State("organisation-chosen", steps(open_link, click("Start now"))),),
    ),
    Page(
        ("GET", "/s/{token}/sections/{section_id}"),
        "respondent",
        "section",
        (
            State(
                "first-pre-filled",
                first_section,
                expect=shows("#prefilled", "from your survey link"),
            ),
            State("second-with-resume-code", started_link),
            State(
                "errors",
                steps(started_link, click("Save and continue")),
                status=400,
                errors=True,
                covers=(("POST", "/s/{token}/sections/{section_id}"),),
            ),
            State(
                "database-busy",
                steps(started_link, database_busy(click("Save and continue"))),
                status=503,
                errors=None,
                expect=shows("h1", "could not save your answers"),
            ),
        ),
    ),
    Page(
        ("GET", "/s/{token}/saved"),
        "respondent",
        "saved",
        (State("clean", steps(started_link, click("Save and come back later"))),),
    ),
    Page(
        ("POST", "/s/{token}/resume"),
        "respondent",
        "resume-code",
        (
            State(
                "errors",
                steps(
                    started_link,
                    in_another_browser,
                    fill("#resume_code", "WRONG-CODE"),
                    click("Continue"),
                ),
                status=400,
                errors=True,
            ),
            State(
                "too-many",
                steps(started_link, in_another_browser, wrong_resume_codes(11)),
                status=429,
                errors=None,
                expect=shows("main", "Too many wrong resume codes"),
            ),
        ),
    ),
    Page(
        ("GET", "/s/{token}/check"),
        "respondent",
        "check-answers",
        (
            State("complete", whole_questionnaire),
            State(
                "errors",
                steps(started_link, saved_then_check, click("Submit my answers")),
                status=400,
                errors=True,
                covers=(("POST", "/s/{token}/submit"),),
            ),
        ),
    ),
    Page(
        ("GET", "/s/{token}/thank-you"),
        "respondent",
        "thank-you",
        (State("clean", steps(whole_questionnaire, click("Submit my answers"))),),
    ),
    Page(
        ("GET", "/{path}"),  # no such route: any unknown address
        "anonymous",
        "not-found",
        (State("clean", visit("/no/such/page"), status=404),),
    ),
]

MAIL_PAGES = [
    Page(
        ("GET", "/coordinator/rounds/{round_id}/participants"),
        "coordinator",
        "participants",
        (
            State("clean", visit("/coordinator/rounds/{new_round}/participants")),
            State(
                "errors",
                steps(
                    visit("/coordinator/rounds/{new_round}/participants"),
                    click("Add participants"),
                ),
                status=None,
                errors=None,
                covers=(("POST", "/coordinator/rounds/{round_id}/participants"),),
            ),
        ),
    ),
    Page(
        ("GET", "/coordinator/rounds/{round_id}/mailing"),
        "coordinator",
        "mailing",
        (
            State("clean", visit("/coordinator/rounds/{new_round}/mailing")),
            State(
                "preview",
                steps(visit("/coordinator/rounds/{new_round}/mailing"), click("Preview")),
                status=None,
                errors=None,
                covers=(("POST", "/coordinator/rounds/{round_id}/mailing"),),
            ),
            State("closed", visit("/coordinator/rounds/{report_round}/mailing")),
        ),
    ),
    Page(
        ("GET", "/mail/opt-out/{token}"),
        "anonymous",
        "no-reminders",
        (
            State(
                "unknown-link",
                visit("/mail/opt-out/no-such-token"),
                status=404,
                expect=shows("h1", "link to stop reminders does not work"),
            ),
        ),
    ),
]

ACCOUNT_PAGES = [
    Page(
        ("GET", "/sign-in/forgot"),
        "anonymous",
        "forgot-password",
        (
            State("clean", visit("/sign-in/forgot")),
            State(
                "errors",
                steps(visit("/sign-in/forgot"), click("Send me a link")),
                status=None,
                errors=True,
                covers=(("POST", "/sign-in/forgot"),),
            ),
            State("sent", visit("/sign-in/forgot?sent=1")),
        ),
    ),
    Page(
        ("GET", "/account/set-password/{token}"),
        "anonymous",
        "set-password",
        (
            State("clean", set_password_link),
            State(
                "errors",
                steps(set_password_link, fill("#password", "password1234"), click("Set password")),
                status=None,
                errors=True,
                covers=(("POST", "/account/set-password/{token}"),),
            ),
            State("no-longer-works", visit("/account/set-password/no-such-link"), status=None),
        ),
    ),
    Page(
        ("GET", "/admin/accounts"),
        "admin",
        "accounts",
        (
            State("clean", visit("/admin/accounts")),
            State("filtered", visit("/admin/accounts?role=evaluator&q=example")),
        ),
    ),
    Page(
        ("GET", "/admin/accounts/invite"),
        "admin",
        "invite-account",
        (
            State("clean", visit("/admin/accounts/invite")),
            State(
                "errors",
                steps(visit("/admin/accounts/invite"), click("Send invitation")),
                status=None,
                errors=True,
                covers=(("POST", "/admin/accounts/invite"),),
            ),
        ),
    ),
    Page(
        ("GET", "/admin/accounts/{account_id}"),
        "admin",
        "account",
        (
            State("clean", visit("/admin/accounts/{invited_account}")),
            State(
                "errors",
                steps(
                    visit("/admin/accounts/{invited_account}"),
                    uncheck_all("roles"),
                    click("Change roles"),
                ),
                status=None,
                errors=True,
                covers=(("POST", "/admin/accounts/{account_id}/roles"),),
            ),
        ),
    ),
    Page(
        ("GET", "/admin/accounts/{account_id}/remove"),
        "admin",
        "remove-account",
        (
            State("clean", visit("/admin/accounts/{invited_account}/remove")),
            State(
                "errors",
                steps(
                    visit("/admin/accounts/{invited_account}/remove"),
                    fill("#confirm_email", "someone.else@example.org"),
                    click("Remove the account"),
                ),
                status=None,
                errors=True,
                covers=(("POST", "/admin/accounts/{account_id}/remove"),),
            ),
        ),
    ),
    Page(
        ("GET", "/coordinator/partnerships/{partnership_id}/access"),
        "coordinator",
        "partnership-access",
        (
            State("clean", visit("/coordinator/partnerships/{partnership}/access")),
            State(
                "errors",
                steps(
                    visit("/coordinator/partnerships/{partnership}/access"),
                    fill("#email", "not an address"),
                    click("Send invitation"),
                ),
                status=None,
                errors=True,
                covers=(("POST", "/coordinator/partnerships/{partnership_id}/access"),),
            ),
        ),
    ),
    Page(
        ("GET", "/account/tokens"),
        "coordinator",
        "api-tokens",
        (
            State("clean", visit("/account/tokens")),
            State(
                "errors",
                steps(visit("/account/tokens"), click("Make a token")),
                status=None,
                errors=True,
                covers=(("POST", "/account/tokens"),),
            ),
        ),
    ),
]

OWN_ACCOUNT_PAGES = [
    Page(("GET", "/account"), "coordinator", "your-account", (State("clean", visit("/account")),)),
    Page(("GET", "/account"), "evaluator", "your-account", (State("clean", visit("/account")),)),
    Page(
        ("GET", "/account/password"),
        "coordinator",
        "change-password",
        (
            State("clean", visit("/account/password")),
            State(
                "errors",
                steps(
                    visit("/account/password"),
                    fill("#current_password", "not the password"),
                    fill("#new_password", "password1234"),
                    click("Change password"),
                ),
                status=422,
                errors=True,
                covers=(("POST", "/account/password"),),
            ),
        ),
    ),
    Page(
        ("GET", "/account/second-factor"),
        "evaluator",
        "second-factor-set-up",
        (
            State("clean", visit("/account/second-factor")),
            State(
                "errors",
                steps(visit("/account/second-factor"), click("Turn on the second factor")),
                status=422,
                errors=True,
                covers=(("POST", "/account/second-factor"),),
            ),
        ),
    ),
    Page(
        ("GET", "/admin/security"),
        "admin",
        "security",
        (
            State("clean", visit("/admin/security")),
            State(
                "errors",
                steps(visit("/admin/security"), check("#role-admin"), click("Save")),
                status=422,
                errors=True,
                covers=(("POST", "/admin/security"),),
            ),
        ),
    ),
]


def _password_step(email: str) -> Step:
    def go(page: Any, world: AuditWorld) -> None:
        page.goto(world.url("/sign-in"))
        page.fill("#email", email)
        page.fill("#password", PASSWORD)
        page.get_by_role("button", name="Sign in", exact=True).click()
        page.wait_for_load_state()

    return go


def _asked_for_a_code(page: Any, world: AuditWorld) -> None:
    """Signed in with the password of an account with a second factor (set up through its
    account page the first time, with a real code), at the page that asks for the code."""
    _password_step(TWO_FACTOR_EMAIL)(page, world)
    if page.url.endswith("/sign-in/code"):
        return
    import pyotp

    page.goto(world.url("/account/second-factor"))
    secret = "".join(page.locator("#secret").inner_text().split())
    page.fill("#code", pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on the second factor", exact=True).click()
    page.wait_for_load_state()
    assert "done=second-factor-on" in page.url, page.url
    page.get_by_role("button", name="Sign out", exact=True).first.click()
    page.wait_for_load_state()
    _password_step(TWO_FACTOR_EMAIL)(page, world)
    assert page.url.endswith("/sign-in/code"), page.url


def _required_set_up(*then: Step) -> Step:
    """Signed in with the password of an analyst without a second factor while analysts must
    have one: at the set-up page (then ``then``).  The requirement lasts only this step (it
    is written to the database and removed again, so no other audited account is blocked)."""

    def go(page: Any, world: AuditWorld) -> None:
        from app.models import RolePolicy

        with Session(world.engine) as session:
            session.merge(RolePolicy(role="analyst", totp_required=True))
            session.commit()
        try:
            _password_step(SET_UP_EMAIL)(page, world)
            assert page.url.endswith("/sign-in/second-factor"), page.url
            for part in then:
                part(page, world)
        finally:
            with Session(world.engine) as session:
                session.merge(RolePolicy(role="analyst", totp_required=False))
                session.commit()

    return go


SIGN_IN_FACTOR_PAGES = [
    Page(
        ("GET", "/sign-in/code"),
        "anonymous",
        "sign-in-code",
        (
            State("clean", _asked_for_a_code),
            State(
                "errors",
                steps(_asked_for_a_code, fill("#code", "12"), click("Continue")),
                status=422,
                errors=True,
                covers=(("POST", "/sign-in/code"),),
            ),
        ),
    ),
    Page(
        ("GET", "/sign-in/second-factor"),
        "anonymous",
        "sign-in-second-factor",
        (
            State("clean", _required_set_up()),
            State(
                "errors",
                _required_set_up(click("Turn on the second factor")),
                status=422,
                errors=True,
                covers=(("POST", "/sign-in/second-factor"),),
            ),
        ),
    ),
]


def forgot_until_refused(page: Any, world: AuditWorld) -> None:
    """Ask for a new password until this network's limit (20 an hour) answers 429."""
    for number in range(25):
        page.goto(world.url("/sign-in/forgot"))
        page.fill("#email", f"someone{number}@example.org")
        click("Send me a link")(page, world)
        if page.title().startswith("Too many attempts"):
            return
    raise AssertionError("the forgot-password limit never answered")


# Last: they use up limits that other states would meet (the forgot-password one is per
# client address, and every browser of the audit shares one).
LIMIT_PAGES = [
    Page(
        ("GET", "/sign-in/forgot"),
        "anonymous",
        "forgot-password",
        (State("too-many", forgot_until_refused, status=429, errors=None),),
    ),
]

PAGES: list[Page] = [
    *COORDINATOR_PAGES,
    *READER_PAGES,
    *ANALYST_PAGES,
    *RESPONDENT_PAGES,
    *ACCOUNT_PAGES,
    *OWN_ACCOUNT_PAGES,
    *SIGN_IN_FACTOR_PAGES,
    *MAIL_PAGES,
    *LIMIT_PAGES,
]

# The app's routes under no page entry, and why.
NOT_PAGES: dict[Route, str] = {
    ("GET", "/"): "sends the browser on to /coordinator",
    ("GET", "/assets/{path:path}"): "files of the NHS.UK frontend",
    ("GET", "/static/{path:path}"): "the app's own CSS and JS",
    ("GET", "/favicon.ico"): "an icon",
    ("GET", "/robots.txt"): "text for crawlers",
    ("GET", "/healthz"): "JSON for the load balancer",
    ("GET", "/openapi.json"): "the API's description",
    ("GET", "/api/docs"): "Swagger UI (a developer's tool, from swagger-ui-dist)",
    ("GET", "/api/docs/{versioned}/{name}"): "Swagger UI's files",
    ("GET", "/reports/rounds/{round_id}/{file_name}"): "downloads (PDF, HTML, Excel, CSV, .sav)",
    ("POST", "/coordinator/rounds/{round_id}/links"): "a CSV file of links",
    ("POST", "/coordinator/rounds/{round_id}/close"): "closes the round, back to its page",
    ("POST", "/coordinator/rounds/{round_id}/reopen"): "reopens the round, back to its page",
    ("POST", "/coordinator/partnerships/{partnership_id}/organisations/{organisation_id}/remove"): (
        "removes the organisation, back to the partnership"
    ),
    ("POST", "/sign-out"): "sends the browser to the sign-in page",
    ("GET", "/admin/audit.csv"): "a CSV file of the audit trail",
    ("POST", "/account/tokens/{token_id}/revoke"): "revokes the token, back to the list",
    ("POST", "/coordinator/rounds/{round_id}/invitations"): "queues the e-mails, back to the list",
    ("POST", "/coordinator/rounds/{round_id}/participants/remove"): "back to the list",
    ("POST", "/mail/opt-out/{token}"): "needs a real e-mail's token: NOT audited yet",
    ("GET", "/coordinator/login"): "a permanent redirect to /sign-in (earlier versions' page)",
    ("GET", "/reports/login"): "a permanent redirect to /sign-in (earlier versions' page)",
    ("POST", "/admin/accounts/{account_id}/grants"): "grants, back to the account's page",
    ("POST", "/admin/accounts/{account_id}/grants/remove"): "back to the account's page",
    ("POST", "/admin/accounts/{account_id}/disable"): "disables, back to the account's page",
    ("POST", "/admin/accounts/{account_id}/enable"): "enables, back to the account's page",
    ("POST", "/admin/accounts/{account_id}/reset-password"): "queues the e-mail, back",
    ("POST", "/coordinator/partnerships/{partnership_id}/access/{account_id}/remove"): (
        "removes the grant, back to the access page"
    ),
    ("POST", "/account/second-factor/off"): "needs a live code; back to the account page",
}
UNKNOWN_ADDRESS: Route = ("GET", "/{path}")


def covered_routes() -> set[Route]:
    """Every route some page entry or state draws."""
    covered = {page.route for page in PAGES}
    for page in PAGES:
        for state in page.states:
            covered.update(state.covers)
    return covered - {UNKNOWN_ADDRESS}
