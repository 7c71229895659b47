"""The optional second factor (TOTP): set up by the person, asked for after the password,
required per role by an admin.  Real codes, computed with pyotp from the key the page shows;
real SQLite and PostgreSQL.  Insider attacks first: what a stolen password, a stolen pending
session or an observed code could get."""

from __future__ import annotations

import base64
import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.cli import main
from app.models import Account, AccountSession, AuditEvent, RolePolicy
from app.services import accounts, partnerships, second_factor
from app.services.rate_limits import Limit, RateLimiter, RateLimitPolicy
from tests.account_support import (
    PASSWORD,
    code_next,
    code_now,
    password_step,
    post_form,
    sealed_on,
    secret_on,
    set_up_on_account_page,
    sign_in_fully,
    wrong_code,
)
from tests.conftest import TEST_SECRET, csrf_from

COORDINATOR = "co@example.org"
ADMIN = "boss@example.org"
EVALUATOR = "ev@example.org"


@pytest.fixture
def people(session: Session) -> dict[str, Account]:
    partnership = partnerships.create_partnership(
        session, "Riverside Partnership", "urgent-and-emergency-care"
    )
    assert partnership.id is not None
    made = {
        COORDINATOR: accounts.add_account(
            session, COORDINATOR, PASSWORD, "coordinator", [partnership.name]
        ),
        ADMIN: accounts.add_account(session, ADMIN, PASSWORD, "admin"),
        EVALUATOR: accounts.add_account(
            session, EVALUATOR, PASSWORD, "evaluator", [partnership.name]
        ),
    }
    return made


def _actions(session: Session, action: str) -> list[AuditEvent]:
    session.expire_all()
    statement = select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.id))
    return list(session.exec(statement))


def _with_second_factor(client: TestClient, email: str) -> str:
    sign_in_fully(client, email)
    secret = set_up_on_account_page(client)
    post_form(client, "/sign-out", {}, "/account")
    return secret


# -- Insider attacks -------------------------------------------------------------------------


def test_a_pending_session_reaches_no_page_and_no_api(
    client: TestClient, session: Session, people: dict[str, Account]
) -> None:
    _with_second_factor(client, ADMIN)
    answer = password_step(client, ADMIN)
    assert answer.headers["location"] == "/sign-in/code"
    for path in (
        "/coordinator",
        "/reports",
        "/analyst",
        "/account",
        "/account/tokens",
        "/account/password",
        "/account/second-factor",
        "/admin/security",
        "/admin/instruments",
    ):
        got = client.get(path, follow_redirects=False)
        assert got.status_code == 303 and got.headers["location"].startswith("/sign-in?"), path
    for path in ("/api/v1/partnerships", "/api/v1/reports/rounds", "/api/v1/analyst/pooled"):
        assert client.get(path).status_code == 401, path
    made = post_form(client, "/account/tokens", {"name": "sneaky"}, "/sign-in/code")
    assert made.status_code == 303 and made.headers["location"].startswith("/sign-in")
    refused = post_form(client, "/admin/security", {"role": "coordinator"}, "/sign-in/code")
    assert refused.status_code == 303 and refused.headers["location"].startswith("/sign-in")
    assert second_factor.required_roles(session) == frozenset()
    # Only the first sign-in (before the second factor was set up) counts as one.
    assert len(_actions(session, "sign-in")) == 1


def test_a_code_works_once_only(
    client: TestClient, session: Session, people: dict[str, Account]
) -> None:
    sign_in_fully(client, COORDINATOR)
    page = client.get("/account/second-factor").text
    secret = secret_on(page)
    used = code_now(secret)
    data = {"sealed": sealed_on(page), "code": used, "csrf_token": csrf_from(page)}
    assert client.post("/account/second-factor", data=data).status_code == 200
    post_form(client, "/sign-out", {}, "/account")
    # Someone who watched the code being typed at set-up tries it straight away.
    assert password_step(client, COORDINATOR).status_code == 303
    replayed = post_form(client, "/sign-in/code", {"code": used}, "/sign-in/code")
    assert replayed.status_code == 401
    assert "has been used already" in replayed.text
    assert client.get("/coordinator", follow_redirects=False).status_code == 303
    fresh = code_next(secret)
    assert post_form(client, "/sign-in/code", {"code": fresh}, "/sign-in/code").status_code == 303
    assert client.get("/coordinator").status_code == 200
    # ... and that code cannot sign in a second browser either.
    other = TestClient(client.app)
    assert password_step(other, COORDINATOR).status_code == 303
    again = post_form(other, "/sign-in/code", {"code": fresh}, "/sign-in/code")
    assert again.status_code == 401
    failed = _actions(session, "second factor failed")
    assert len(failed) == 2 and {event.actor for event in failed} == {COORDINATOR}
    assert all(used not in event.detail + event.target for event in failed)


def test_guessing_codes_ends_the_pending_session_and_is_limited_per_account(
    client: TestClient, session: Session, people: dict[str, Account]
) -> None:
    client.app.state.rate_limiter = RateLimiter(  # type: ignore[attr-defined]
        client.app.state.engine,  # type: ignore[attr-defined]
        TEST_SECRET,
        RateLimitPolicy(second_factor_per_account=Limit("second-factor-account", 7, 3600)),
    )
    secret = _with_second_factor(client, COORDINATOR)
    password_step(client, COORDINATOR)
    guess = wrong_code(secret)
    for attempt in range(1, 6):
        answer = post_form(client, "/sign-in/code", {"code": guess}, "/sign-in/code")
        if attempt < 5:
            assert answer.status_code == 401, attempt
            assert "There is a problem" in answer.text
    assert answer.status_code == 429
    assert "sign in again" in answer.text
    # The pending session has ended: even the right code is too late.
    late = client.get("/sign-in/code", follow_redirects=False)
    assert late.status_code == 303 and late.headers["location"] == "/sign-in"
    session.expire_all()
    assert session.exec(select(AccountSession)).all() == []
    # A new pending sign-in (the attacker knows the password): the account's limit holds.
    password_step(client, COORDINATOR)
    assert post_form(client, "/sign-in/code", {"code": guess}, "/sign-in/code").status_code == 401
    refused = post_form(client, "/sign-in/code", {"code": guess}, "/sign-in/code")
    assert refused.status_code == 429 and "too many wrong codes for this account" in refused.text
    password_step(client, COORDINATOR)
    right = post_form(client, "/sign-in/code", {"code": code_next(secret)}, "/sign-in/code")
    assert right.status_code == 429  # even the right code waits
    assert client.get("/coordinator", follow_redirects=False).status_code == 303


def test_a_role_that_requires_it_cannot_skip_set_up(
    client: TestClient, session: Session, people: dict[str, Account]
) -> None:
    already = TestClient(client.app)
    sign_in_fully(already, COORDINATOR)
    assert already.get("/coordinator").status_code == 200
    admin_secret = _with_second_factor(client, ADMIN)
    sign_in_fully(client, ADMIN, admin_secret)
    saved = post_form(client, "/admin/security", {"role": "coordinator"}, "/admin/security")
    assert saved.status_code == 303
    # The coordinator's session from before the requirement has ended.
    assert already.get("/coordinator", follow_redirects=False).status_code == 303
    person = TestClient(client.app)
    answer = password_step(person, COORDINATOR)
    assert answer.headers["location"] == "/sign-in/code"
    assert person.get("/sign-in/code", follow_redirects=False).headers["location"] == (
        "/sign-in/second-factor"
    )
    for path in ("/coordinator", "/account", "/account/second-factor", "/account/tokens"):
        got = person.get(path, follow_redirects=False)
        assert got.status_code == 303 and got.headers["location"].startswith("/sign-in?"), path
    assert person.get("/api/v1/partnerships").status_code == 401
    page = person.get("/sign-in/second-factor")
    assert page.status_code == 200 and "Your role requires a second factor" in page.text
    secret = secret_on(page.text)
    # A key the person chose themselves (not sealed by the server) is refused.
    forged = base64.urlsafe_b64encode(b"x" * 38).decode().rstrip("=")
    data = {"sealed": forged, "code": "123456", "csrf_token": csrf_from(page.text)}
    assert person.post("/sign-in/second-factor", data=data).status_code == 422
    data = {"sealed": sealed_on(page.text), "code": wrong_code(secret)}
    wrong = person.post("/sign-in/second-factor", data={**data, "csrf_token": csrf_from(page.text)})
    assert wrong.status_code == 422 and secret_on(wrong.text) == secret  # same key again
    data["code"] = code_now(secret)
    done = person.post(
        "/sign-in/second-factor",
        data={**data, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/coordinator"
    assert person.get("/coordinator").status_code == 200
    session.expire_all()
    stored = accounts.coordinator_by_email(session, COORDINATOR)
    assert stored is not None and stored.totp_secret
    assert secret not in stored.totp_secret and len(stored.totp_secret) <= 64
    set_up = _actions(session, "second factor set up")
    assert [event.actor for event in set_up] == [ADMIN, COORDINATOR]


def test_http_basic_is_refused_for_an_account_with_a_second_factor_and_tokens_still_work(
    client: TestClient, session: Session, people: dict[str, Account]
) -> None:
    plain = TestClient(client.app)
    auth = (COORDINATOR, PASSWORD)
    assert plain.get("/api/v1/partnerships", auth=auth).status_code == 200
    sign_in_fully(client, COORDINATOR)
    made = post_form(client, "/account/tokens", {"name": "export"}, "/account/tokens")
    token = made.text.split('<code class="app-token">')[1].split("</code>")[0]
    set_up_on_account_page(client)
    refused = plain.get("/api/v1/partnerships", auth=auth)
    assert refused.status_code == 401
    assert "personal API token" in refused.json()["detail"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert plain.get("/api/v1/partnerships", headers=bearer).status_code == 200
    # The reports API as well, and for a role that requires it before it is set up.
    evaluator = (EVALUATOR, PASSWORD)
    assert plain.get("/api/v1/reports/rounds", auth=evaluator).status_code == 200
    session.add(RolePolicy(role="evaluator", totp_required=True))
    session.commit()
    refused = plain.get("/api/v1/reports/rounds", auth=evaluator)
    assert refused.status_code == 401 and "personal API token" in refused.json()["detail"]


# -- The person's own second factor ------------------------------------------------------------


def test_set_up_shows_the_key_and_address_and_needs_a_right_code(
    client: TestClient, session: Session, people: dict[str, Account]
) -> None:
    sign_in_fully(client, EVALUATOR)
    page = client.get("/account/second-factor")
    assert page.status_code == 200
    secret = secret_on(page.text)
    assert len(secret) == 32  # 160 bits
    assert "otpauth://totp/Partnership%20Trust%20Survey:ev%40example.org?secret=" in page.text
    assert "Back to your account" in page.text
    qr = re.search(r'<div class="app-qr-code" id="qr-code">(<svg.*?</svg>)</div>', page.text, re.S)
    assert qr is not None and "<title>QR code of the set-up key</title>" in qr.group(1)
    data = {"sealed": sealed_on(page.text), "csrf_token": csrf_from(page.text)}
    empty = client.post("/account/second-factor", data={**data, "code": ""})
    assert empty.status_code == 422 and "Enter the 6-digit code" in empty.text
    wrong = client.post("/account/second-factor", data={**data, "code": wrong_code(secret)})
    assert wrong.status_code == 422 and "The code is not right" in wrong.text
    assert qr.group(1) in wrong.text  # the same key, so the same code to scan
    session.expire_all()
    assert accounts.coordinator_by_email(session, EVALUATOR).totp_secret is None  # type: ignore[union-attr]
    done = client.post(
        "/account/second-factor",
        data={**data, "code": code_now(secret)},
        follow_redirects=False,
    )
    assert done.headers["location"] == "/account?done=second-factor-on"
    assert "Your second factor is set up" in client.get(done.headers["location"]).text
    summary = client.get("/account").text
    assert "On: signing in asks for a code" in summary
    # Signing in again takes the code.
    post_form(client, "/sign-out", {}, "/account")
    sign_in_fully(client, EVALUATOR, secret)
    assert client.get("/reports").status_code == 200


def test_turning_it_off_needs_the_password_and_a_code_and_not_a_required_role(
    client: TestClient, session: Session, people: dict[str, Account]
) -> None:
    sign_in_fully(client, COORDINATOR)
    secret = set_up_on_account_page(client)
    page = client.get("/account/second-factor")
    assert "Turn off the second factor" in page.text
    bad = post_form(
        client,
        "/account/second-factor/off",
        {"password": "not my password", "code": code_next(secret)},
        "/account/second-factor",
    )
    assert bad.status_code == 422 and "The password is not right" in bad.text
    assert "not my password" not in bad.text
    no_code = post_form(
        client, "/account/second-factor/off", {"password": PASSWORD}, "/account/second-factor"
    )
    assert no_code.status_code == 422 and "Enter the 6-digit code" in no_code.text
    session.add(RolePolicy(role="coordinator", totp_required=True))
    session.commit()
    required = client.get("/account/second-factor")
    assert "cannot be turned off" in required.text and "second-factor/off" not in required.text
    refused = post_form(
        client,
        "/account/second-factor/off",
        {"password": PASSWORD, "code": code_next(secret)},
        "/account/second-factor",
    )
    assert refused.status_code == 422 and "cannot be turned off" in refused.text
    session.exec(select(RolePolicy)).one().totp_required = False
    session.commit()
    off = post_form(
        client,
        "/account/second-factor/off",
        {"password": PASSWORD, "code": code_next(secret)},
        "/account/second-factor",
    )
    assert off.status_code == 303 and off.headers["location"] == "/account?done=second-factor-off"
    session.expire_all()
    assert accounts.coordinator_by_email(session, COORDINATOR).totp_secret is None  # type: ignore[union-attr]
    assert [e.actor for e in _actions(session, "second factor turned off")] == [COORDINATOR]
    post_form(client, "/sign-out", {}, "/account")
    sign_in_fully(client, COORDINATOR)  # the password alone again


# -- The admins' policy ------------------------------------------------------------------------


def test_the_policy_page_is_for_admins_and_keeps_them_from_locking_themselves_out(
    client: TestClient, session: Session, people: dict[str, Account]
) -> None:
    for email in (COORDINATOR, EVALUATOR):
        other = TestClient(client.app)
        sign_in_fully(other, email)
        assert other.get("/admin/security").status_code == 404
        tried = post_form(other, "/admin/security", {"role": "admin"}, "/account")
        assert tried.status_code == 404
    assert client.get("/admin/security", follow_redirects=False).headers["location"] == (
        "/sign-in?next=/admin/security"
    )
    sign_in_fully(client, ADMIN)
    page = client.get("/admin/security")
    assert page.status_code == 200 and "Require a second factor for" in page.text
    for label in ("Coordinators", "Evaluators", "Analysts", "Admins"):
        assert label in page.text
    token = csrf_from(page.text)
    refused = client.post(
        "/admin/security", data={"role": ["coordinator", "admin"], "csrf_token": token}
    )
    assert refused.status_code == 422
    assert "Set up a second factor for your own account before you require" in refused.text
    assert 'value="coordinator" checked' in refused.text  # what was chosen is kept
    assert second_factor.required_roles(session) == frozenset()
    saved = client.post(
        "/admin/security",
        data={"role": ["coordinator", "evaluator"], "csrf_token": token},
        follow_redirects=False,
    )
    assert saved.headers["location"] == "/admin/security?saved=1"
    assert second_factor.required_roles(session) == {"coordinator", "evaluator"}
    set_up_on_account_page(client)
    saved = client.post(
        "/admin/security", data={"role": ["admin"], "csrf_token": token}, follow_redirects=False
    )
    assert saved.status_code == 303
    # Still signed in: the admin has a second factor, so no session of theirs ended.
    assert client.get("/admin/security").status_code == 200
    assert second_factor.required_roles(session) == {"admin"}
    changes = _actions(session, "second factor policy changed")
    assert [event.detail for event in changes] == [
        "required for: coordinator, evaluator",
        "required for: admin",
    ]
    assert {event.actor for event in changes} == {ADMIN}


def test_an_admin_resets_a_lost_phone_from_the_command_line(
    client: TestClient,
    session: Session,
    people: dict[str, Account],
    migrated_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sign_in_fully(client, COORDINATOR)
    set_up_on_account_page(client)
    monkeypatch.setenv("DATABASE_URL", migrated_url)
    assert main(["user", "second-factor-off", COORDINATOR]) == 0
    assert "has no second factor now" in capsys.readouterr().out
    assert client.get("/coordinator", follow_redirects=False).status_code == 303  # signed out
    fresh = TestClient(client.app)
    sign_in_fully(fresh, COORDINATOR)  # the password alone
    events = _actions(session, "second factor turned off")
    assert [(e.actor, e.target) for e in events] == [("command line", f"account {COORDINATOR}")]
    assert main(["user", "second-factor-off", "nobody@example.org"]) == 2


# -- The stored secret -------------------------------------------------------------------------


def test_the_stored_secret_is_sealed_with_the_secret_key_for_its_account(
    session: Session, people: dict[str, Account]
) -> None:
    secret = second_factor.new_secret()
    sealed = second_factor.seal(TEST_SECRET, "account 1", secret)
    assert secret not in sealed
    assert second_factor.unseal(TEST_SECRET, "account 1", sealed) == secret
    assert second_factor.unseal(TEST_SECRET, "account 2", sealed) is None
    assert second_factor.unseal("another key entirely, long enough", "account 1", sealed) is None
    flipped = ("A" if sealed[5] != "A" else "B").join([sealed[:5], sealed[6:]])
    assert second_factor.unseal(TEST_SECRET, "account 1", flipped) is None
    assert second_factor.seal(TEST_SECRET, "account 1", secret) != sealed  # a new nonce
    account = people[COORDINATOR]
    page_secret = second_factor.new_secret()
    second_factor.set_up(
        session,
        TEST_SECRET,
        account,
        second_factor.seal(TEST_SECRET, second_factor.set_up_context(account), page_secret),
        code_now(page_secret),
    )
    stored = session.exec(
        select(Account.totp_secret).where(col(Account.email) == COORDINATOR)
    ).one()
    assert stored is not None and page_secret not in stored and len(stored) <= 64
