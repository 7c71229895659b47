"""A person's own account: ``/account`` (what the account is), changing its own password (every
other session ends; guesses at the current password are limited), on real SQLite and
PostgreSQL.  Insider attacks first: a session cookie that was copied, or a browser left
signed in."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.models import Account, AuditEvent
from app.services import accounts, partnerships
from app.services.rate_limits import Limit, RateLimiter, RateLimitPolicy
from tests.account_support import PASSWORD, copied, password_step, post_form, sign_in_fully
from tests.conftest import TEST_SECRET

EMAIL = "co@example.org"
NEW_PASSWORD = "marmalade lighthouse cobalt tortoise"


@pytest.fixture
def person(session: Session) -> Account:
    for name in ("Riverside Partnership", "Hillshire Alliance"):
        partnerships.create_partnership(session, name, "urgent-and-emergency-care")
    return accounts.add_account(
        session,
        EMAIL,
        PASSWORD,
        ["coordinator", "evaluator"],
        ["Riverside Partnership", "Hillshire Alliance"],
    )


def _change(client: TestClient, current: str, new: str, confirm: str | None = None) -> object:
    return post_form(
        client,
        "/account/password",
        {
            "current_password": current,
            "new_password": new,
            "confirm_password": new if confirm is None else confirm,
        },
        "/account/password",
    )


# -- Insider attacks -------------------------------------------------------------------------


def test_changing_the_password_ends_a_copied_session_cookie(
    client: TestClient, session: Session, person: Account
) -> None:
    sign_in_fully(client, EMAIL)
    thief = copied(client)
    assert thief.get("/account").status_code == 200  # the copy works, until ...
    elsewhere = TestClient(client.app)
    sign_in_fully(elsewhere, EMAIL)
    answer = _change(client, PASSWORD, NEW_PASSWORD)
    assert answer.status_code == 303  # type: ignore[attr-defined]
    assert answer.headers["location"] == "/account?done=password"  # type: ignore[attr-defined]
    for other in (thief, elsewhere):
        got = other.get("/account", follow_redirects=False)
        assert got.status_code == 303 and got.headers["location"] == "/sign-in?next=%2Faccount"
        assert other.get("/api/v1/partnerships").status_code == 401
    # This browser stays signed in, with a new session (the old cookie's secret is gone).
    done = client.get("/account?done=password")
    assert done.status_code == 200 and "Every other browser" in done.text
    assert copied(client).get("/account").status_code == 200
    assert password_step(TestClient(client.app), EMAIL).status_code == 401
    sign_in_fully(TestClient(client.app), EMAIL, password=NEW_PASSWORD)
    session.expire_all()
    changed = session.exec(
        select(AuditEvent).where(col(AuditEvent.action) == "password changed")
    ).all()
    assert [(event.actor, event.outcome) for event in changed] == [(EMAIL, "done")]
    for event in session.exec(select(AuditEvent)):
        text = f"{event.actor} {event.target} {event.detail}"
        assert PASSWORD not in text and NEW_PASSWORD not in text


def test_a_stolen_session_cannot_guess_the_current_password_without_limit(
    client: TestClient, person: Account
) -> None:
    client.app.state.rate_limiter = RateLimiter(  # type: ignore[attr-defined]
        client.app.state.engine,  # type: ignore[attr-defined]
        TEST_SECRET,
        RateLimitPolicy(login_per_email=Limit("login-email", 3, 3600)),
    )
    sign_in_fully(client, EMAIL)
    thief = copied(client)
    for guess in ("guess number one", "guess number two", "guess number three"):
        answer = _change(thief, guess, NEW_PASSWORD)
        assert answer.status_code == 422, guess  # type: ignore[attr-defined]
    refused = _change(thief, PASSWORD, NEW_PASSWORD)
    assert refused.status_code == 429  # type: ignore[attr-defined]
    assert "too many wrong passwords" in refused.text  # type: ignore[attr-defined]
    # The password has not changed; the same limit guards signing in with the password.
    assert password_step(TestClient(client.app), EMAIL).status_code == 429


def test_the_account_page_needs_a_sign_in(client: TestClient, person: Account) -> None:
    for path in ("/account", "/account/password", "/account/second-factor"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"] in (
            f"/sign-in?next={path}",
            f"/sign-in?next={path.replace('/', '%2F')}",
        ), path


# -- The pages -------------------------------------------------------------------------------


def test_the_account_page_summarises_the_account(
    client: TestClient, session: Session, person: Account
) -> None:
    sign_in_fully(client, EMAIL)
    page = client.get("/account")
    assert page.status_code == 200
    text = page.text
    assert '<h1 class="nhsuk-heading-l">Your account</h1>' in text
    assert EMAIL in text and "Coordinator and evaluator" in text
    assert text.index("Hillshire Alliance") < text.index("Riverside Partnership")
    assert "Off: signing in asks only for your password" in text
    for path in ("/account/tokens", "/account/password", "/account/second-factor"):
        assert f'href="{path}"' in text
    tokens = client.get("/account/tokens").text
    assert 'href="/account">Back to your account' in tokens


def test_password_problems_are_shown_on_the_same_page_without_the_passwords(
    client: TestClient, person: Account
) -> None:
    sign_in_fully(client, EMAIL)
    empty = _change(client, "", "")
    assert empty.status_code == 422  # type: ignore[attr-defined]
    assert "Enter your current password" in empty.text  # type: ignore[attr-defined]
    assert "Enter a new password" in empty.text  # type: ignore[attr-defined]
    weak = _change(client, "not my password at all", "password1234")
    body = weak.text  # type: ignore[attr-defined]
    assert weak.status_code == 422  # type: ignore[attr-defined]
    assert "There is a problem" in body and 'href="#current_password"' in body
    assert "Your current password is not right" in body
    assert "The new password is too easy to guess (this is" in body
    assert "try three or four unrelated words together" in body
    assert "password1234" not in body and "not my password at all" not in body
    assert 'id="new_password-error"' in body
    mismatch = _change(client, PASSWORD, NEW_PASSWORD, "something else entirely")
    assert mismatch.status_code == 422  # type: ignore[attr-defined]
    assert "The two new passwords are not the same" in mismatch.text  # type: ignore[attr-defined]
    same = _change(client, PASSWORD, PASSWORD)
    assert "must be different from your current one" in same.text  # type: ignore[attr-defined]
    short = _change(client, PASSWORD, "short")
    assert "must be at least 12 characters" in short.text  # type: ignore[attr-defined]
    assert client.get("/account").status_code == 200  # still signed in, nothing changed
    sign_in_fully(TestClient(client.app), EMAIL)
