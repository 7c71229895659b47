"""An admin invites an evaluator in Chromium, end to end, with real e-mail.

The real ``trust-survey serve`` and a real ``trust-survey worker`` share a SQLite file; the
worker sends through a real SMTP server on loopback (aiosmtpd).  The evaluator opens the link
in the e-mail, sets a password (a guessable one first: the error, on the same page), signs
in, reads only their partnership's reports; the admin disables the account and the
evaluator's open session is out at once.  The pages are checked with axe-core and
photographed at 320 and 1280 px.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from app.database import make_engine
from app.services import accounts, partnerships, rounds
from app.services.audit import AuditAction
from app.services.demo import DEMO_PARTNERSHIP, DEMO_REPORT_ROUND
from app.web.audit_words import action_label
from tests.browser_support import (
    ROOT,
    TEST_SECRET,
    LiveServer,
    start_live_server,
    stop_live_server,
)
from tests.test_browser_invitations import Mail, _check_page, _mail_env, mail

pytestmark = pytest.mark.browser
__all__ = ["mail"]  # fixture
ADMIN = ("admin@example.org", "admin journey password 123")
LINK = re.compile(r"http://127\.0\.0\.1:\d+/account/set-password/[A-Za-z0-9_-]+")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, mail: Mail) -> Iterator[LiveServer]:
    running = start_live_server(tmp_path_factory.mktemp("accounts"), _mail_env(mail))
    try:
        yield running
    finally:
        stop_live_server(running)


@pytest.fixture(scope="module")
def worker(
    server: LiveServer, mail: Mail, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": server.database_url,
        "SECRET_KEY": TEST_SECRET,
        "PUBLIC_BASE_URL": server.base_url,
        **_mail_env(mail),
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=log.parent,
        )
    try:
        yield log
    finally:
        process.terminate()
        process.wait(timeout=30)


def _prepare(server: LiveServer) -> dict[str, int]:
    """An admin, and a second partnership whose round the evaluator must never reach."""
    engine = make_engine(server.database_url)
    try:
        with Session(engine) as session:
            accounts.add_account(session, ADMIN[0], ADMIN[1], "admin")
            other = partnerships.create_partnership(session, "Westbrook Alliance", "other")
            assert other.id is not None
            elsewhere = rounds.open_round(
                session,
                other.id,
                title="Westbrook round",
                opens_on=date.today() - timedelta(days=1),
                closes_on=date.today() + timedelta(days=10),
                anonymity_threshold=5,
                instrument_id="trustworthy-collaboration",
            )
            demo = partnerships.partnership_by_name(session, DEMO_PARTNERSHIP)
            assert demo is not None and demo.id is not None and elsewhere.id is not None
            report = next(
                r for r in rounds.list_rounds(session, demo.id) if r.title == DEMO_REPORT_ROUND
            )
            assert report.id is not None
            return {"demo": demo.id, "report": report.id, "elsewhere": elsewhere.id}
    finally:
        engine.dispose()


def _sign_in(page: Any, server: LiveServer, email: str, password: str) -> None:
    page.goto(server.base_url + "/sign-in")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_an_admin_invites_an_evaluator_who_sets_a_password_and_is_then_disabled(
    chromium: Any, server: LiveServer, mail: Mail, worker: Path
) -> None:
    ids = _prepare(server)
    admin = chromium.new_context(
        viewport={"width": 1280, "height": 900}, bypass_csp=True
    ).new_page()
    _sign_in(admin, server, *ADMIN)
    admin.goto(server.base_url + "/admin/accounts/invite")
    admin.fill("#email", "new.reader@example.nhs.uk")
    admin.get_by_label("Evaluator: reads the reports of their partnerships").check()
    admin.get_by_label(DEMO_PARTNERSHIP).check()
    admin.get_by_role("button", name="Send invitation").click()
    admin.wait_for_url("**/admin/accounts/*?done=invited")
    assert "Invited, not yet set a password" in admin.content()
    _check_page(admin, "admin-account-invited")

    (received,) = mail.handler.wait_for(1)
    assert received.recipient == "new.reader@example.nhs.uk"
    found = LINK.search(received.body)
    assert found is not None, received.body

    reader = chromium.new_context(
        viewport={"width": 1280, "height": 900}, bypass_csp=True
    ).new_page()
    reader.goto(found.group(0))
    assert "new.reader@example.nhs.uk" in reader.content()
    _check_page(reader, "set-password")
    reader.fill("#password", "password1234")
    reader.get_by_role("button", name="Set password").click()
    reader.wait_for_load_state()
    assert reader.locator(".nhsuk-error-summary").is_visible()
    _check_page(reader, "set-password-errors")
    reader.fill("#password", "lantern orchard pebble quietly")
    reader.get_by_role("button", name="Set password").click()
    reader.wait_for_url("**/sign-in?done=password-set")
    _sign_in(reader, server, "new.reader@example.nhs.uk", "lantern orchard pebble quietly")
    assert reader.url.endswith("/reports")
    assert DEMO_REPORT_ROUND in reader.content() and "Westbrook" not in reader.content()
    answer = reader.goto(f"{server.base_url}/reports/rounds/{ids['report']}")
    assert answer is not None and answer.status == 200
    answer = reader.goto(f"{server.base_url}/reports/rounds/{ids['elsewhere']}")
    assert answer is not None and answer.status == 404
    # the link worked once
    answer = reader.goto(found.group(0))
    assert answer is not None and answer.status == 404

    admin.get_by_role("button", name="Disable the account").click()
    admin.wait_for_url("**?done=disabled")
    reader.goto(server.base_url + "/reports")
    assert "/sign-in" in reader.url

    # The audit trail shows all of it, newest first, each line with its actor; the reader's
    # own lines name the reader, the admin's the admin.
    admin.goto(server.base_url + "/admin/audit")
    _check_page(admin, "admin-audit-after-the-journey")
    rows = admin.locator("tbody tr")
    lines = [
        tuple(cell.strip() for cell in rows.nth(i).locator("td").all_inner_texts())
        for i in range(rows.count())
    ]

    # The page says each action in words (app/web/audit_words.py), never the raw value.
    def seen(who: str, action: AuditAction) -> bool:
        return any(who in line[1] and line[2] == action_label(action) for line in lines)

    reader_address = "new.reader@example.nhs.uk"
    assert seen(ADMIN[0], AuditAction.SIGN_IN)
    assert seen(ADMIN[0], AuditAction.ACCOUNT_INVITED)
    assert seen(reader_address, AuditAction.PASSWORD_CHANGED)
    assert seen(reader_address, AuditAction.SIGN_IN)
    assert seen(reader_address, AuditAction.REPORT_VIEWED)
    assert seen(ADMIN[0], AuditAction.ACCOUNT_DISABLED)
    assert not any(line[2] == AuditAction.SIGN_IN.value for line in lines)
    order = [line[2] for line in lines if reader_address in line[1] + line[3]]
    disabled = order.index(action_label(AuditAction.ACCOUNT_DISABLED))
    invited = order.index(action_label(AuditAction.ACCOUNT_INVITED))
    assert disabled < invited  # newest first
    assert "lantern orchard" not in admin.content() and found.group(0) not in admin.content()
