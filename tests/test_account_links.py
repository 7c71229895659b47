"""Set-your-password links: they work once, expire, end the account's sessions, and
"forgot password" never tells whether an address has an account (and is rate-limited).
The end-to-end journey sends the invitation through a real SMTP server on loopback."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.models import AccountLink, AccountSession, AuditEvent, OutboxMessage, utc_now
from app.services import account_links, accounts
from app.services.audit import AuditAction
from tests.conftest import csrf_from
from tests.mail_support import SmtpServer, smtp_server
from tests.test_account_management import PASSWORD, _account, _partnership, _post, _signed_in

__all__ = ["smtp_server"]  # fixture

NEW_PASSWORD = "lantern orchard pebble quietly"
LINK = re.compile(r"https?://\S+/account/set-password/([A-Za-z0-9_-]+)")


def _links(session: Session, email: str) -> list[str]:
    session.expire_all()
    rows = session.exec(
        select(OutboxMessage).where(OutboxMessage.recipient == email).order_by(OutboxMessage.id)
    )
    return [found.group(1) for m in rows if (found := LINK.search(m.body))]


def _set(client: TestClient, token: str, password: str) -> httpx.Response:
    browser = TestClient(client.app)
    page = browser.get(f"/account/set-password/{token}")
    data = {"password": password}
    if page.status_code == 200:
        data["csrf_token"] = csrf_from(page.text)
    else:
        data["csrf_token"] = csrf_from(browser.get("/sign-in").text)
    return browser.post(f"/account/set-password/{token}", data=data, follow_redirects=False)


def test_a_reset_link_works_once_and_ends_every_other_session(
    client: TestClient, session: Session
) -> None:
    _account(session, "ann@example.org", "coordinator")
    signed_in = _signed_in(client, "ann@example.org")
    forgot = TestClient(client.app)
    token = csrf_from(forgot.get("/sign-in/forgot").text)
    answer = forgot.post(
        "/sign-in/forgot",
        data={"email": " Ann@Example.org ", "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/sign-in/forgot?sent=1"
    (secret,) = _links(session, "ann@example.org")
    stored = session.exec(select(AccountLink)).one()
    assert stored.token_hash != secret and secret not in stored.token_hash
    page = forgot.get(f"/account/set-password/{secret}")
    assert page.status_code == 200 and "ann@example.org" in page.text
    assert page.headers["cache-control"] == "no-store"
    weak = _set(client, secret, "password123")
    assert weak.status_code == 422
    assert "There is a problem" in weak.text and "password123" not in weak.text
    done = _set(client, secret, NEW_PASSWORD)
    assert done.status_code == 303 and done.headers["location"] == "/sign-in?done=password-set"
    assert "Your password has been set" in forgot.get(done.headers["location"]).text
    # the browser signed in before is signed out; the old password is refused, the new works
    assert signed_in.get("/coordinator", follow_redirects=False).status_code == 303
    assert accounts.authenticate(session, "ann@example.org", PASSWORD) is None
    assert accounts.authenticate(session, "ann@example.org", NEW_PASSWORD) is not None
    # once only
    again = forgot.get(f"/account/set-password/{secret}")
    assert again.status_code == 404 and "This link no longer works" in again.text
    assert _set(client, secret, "another long passphrase here").status_code == 404
    assert accounts.authenticate(session, "ann@example.org", NEW_PASSWORD) is not None
    lines = list(session.exec(select(AuditEvent)))
    assert [e.action for e in lines if e.action.startswith("password")] == [
        AuditAction.PASSWORD_RESET_REQUESTED,
        AuditAction.PASSWORD_CHANGED,
    ]
    assert all(secret not in e.target + e.detail + e.actor for e in lines)


def test_a_link_expires_and_a_newer_one_replaces_it(client: TestClient, session: Session) -> None:
    account = _account(session, "bea@example.org", "coordinator")
    account_links.send_reset_link(session, "command line", account, "http://testserver")
    (first,) = _links(session, "bea@example.org")
    account_links.send_reset_link(session, "command line", account, "http://testserver")
    second = _links(session, "bea@example.org")[1]
    assert TestClient(client.app).get(f"/account/set-password/{first}").status_code == 404
    assert TestClient(client.app).get(f"/account/set-password/{second}").status_code == 200
    row = session.exec(select(AccountLink)).one()
    row.expires_at = utc_now() - timedelta(seconds=1)  # the clock passes the expiry
    session.add(row)
    session.commit()
    expired = TestClient(client.app).get(f"/account/set-password/{second}")
    assert expired.status_code == 404 and "/sign-in/forgot" in expired.text
    assert _set(client, second, NEW_PASSWORD).status_code == 404
    assert accounts.authenticate(session, "bea@example.org", NEW_PASSWORD) is None
    # the expiry is ACCOUNT_LINK_HOURS from when it was made
    secret = account_links.new_link(
        session, account, account_links.AccountLinkPurpose.INVITATION, 5
    )
    session.commit()
    made = session.exec(
        select(AccountLink).where(AccountLink.used_at.is_(None))  # type: ignore[union-attr]
    ).one()
    assert abs((made.expires_at - made.created_at) - timedelta(hours=5)) < timedelta(seconds=1)
    later = utc_now() + timedelta(hours=5, seconds=1)
    with pytest.raises(account_links.AccountLinkUnusableError):
        account_links.account_for_link(session, secret, now=later)


def test_insider_forgot_password_does_not_tell_who_has_an_account(
    client: TestClient, session: Session
) -> None:
    _partnership(session, "Alder Vale")
    _account(session, "cat@example.org", "evaluator", ("Alder Vale",))
    disabled = _account(session, "dan@example.org", "coordinator")
    from app.services import account_management

    assert disabled.id is not None
    account_management.disable(session, "command line", disabled.id)
    browser = TestClient(client.app)
    answers = []
    for email in ("cat@example.org", "nobody@example.org", "dan@example.org", "cat@example.org"):
        token = csrf_from(browser.get("/sign-in/forgot").text)
        answer = browser.post(
            "/sign-in/forgot", data={"email": email, "csrf_token": token}, follow_redirects=False
        )
        answers.append((answer.status_code, answer.headers.get("location"), answer.text))
        shown = browser.get("/sign-in/forgot?sent=1").text
        assert "If an account has this address" in shown and email not in shown
    assert len(set(answers)) == 1
    assert len(_links(session, "cat@example.org")) == 2
    assert _links(session, "nobody@example.org") == [] and _links(session, "dan@example.org") == []
    bad = browser.post(
        "/sign-in/forgot",
        data={"email": "not an address", "csrf_token": csrf_from(browser.get("/sign-in").text)},
    )
    assert bad.status_code == 422 and 'value="not an address"' in bad.text


def test_forgot_password_is_rate_limited_per_address_asked_and_per_client(
    client: TestClient, session: Session
) -> None:
    _account(session, "eve@example.org", "coordinator")
    browser = TestClient(client.app)
    token = csrf_from(browser.get("/sign-in/forgot").text)
    policy = client.app.state.rate_limiter.policy  # type: ignore[attr-defined]
    for _ in range(policy.reset_per_email.most + 2):
        answer = browser.post(
            "/sign-in/forgot",
            data={"email": "eve@example.org", "csrf_token": token},
            follow_redirects=False,
        )
        assert answer.status_code == 303  # the same answer, limited or not
    assert len(_links(session, "eve@example.org")) == policy.reset_per_email.most
    used = policy.reset_per_email.most + 2
    codes = []
    for number in range(policy.reset_per_address.most - used + 1):
        answer = browser.post(
            "/sign-in/forgot",
            data={"email": f"someone{number}@example.org", "csrf_token": token},
            follow_redirects=False,
        )
        codes.append(answer.status_code)
    assert codes[-1] == 429 and set(codes[:-1]) == {303}
    assert "Retry-After" in answer.headers and "Sorry, too many attempts" in answer.text


def test_invited_evaluator_end_to_end_through_smtp(
    client: TestClient, session: Session, engine: Engine, smtp_server: SmtpServer
) -> None:
    """An admin invites an evaluator; the worker delivers it over SMTP; the e-mail's link
    sets a password; the evaluator sees only their partnership's reports; disabled by the
    admin, their open session is out at once."""
    from tests.test_outbox import FakeClock, make_worker, smtp_backend

    a = _partnership(session, "Alder Vale")
    _partnership(session, "Birchmoor")
    _account(session, "admin@example.org", "admin")
    admin = _signed_in(client, "admin@example.org")
    invited = _post(
        admin,
        "/admin/accounts/invite",
        {"email": "fay@example.org", "roles": "evaluator", "partnership": str(a)},
    )
    assert invited.status_code == 303
    worker = make_worker(engine, smtp_backend(smtp_server), FakeClock())
    assert worker.send_due() == 1
    (received,) = smtp_server.handler.wait_for(1)
    assert received.recipient == "fay@example.org"
    found = LINK.search(received.body)
    assert found is not None and found.group(0).startswith(str(client.base_url))
    session.expire_all()
    sent = session.exec(select(OutboxMessage)).one()
    assert sent.body == "" and sent.recipient == ""  # erased once sent
    assert _set(client, found.group(1), NEW_PASSWORD).status_code == 303
    reader = TestClient(client.app)
    token = csrf_from(reader.get("/sign-in").text)
    signed = reader.post(
        "/sign-in",
        data={"email": "fay@example.org", "password": NEW_PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert signed.status_code == 303
    listing = reader.get("/reports")
    assert listing.status_code == 200
    assert "Alder Vale" in listing.text and "Birchmoor" not in listing.text
    fay = accounts.coordinator_by_email(session, "fay@example.org")
    assert fay is not None and fay.id is not None
    assert _post(admin, f"/admin/accounts/{fay.id}/disable").status_code == 303
    out = reader.get("/reports", follow_redirects=False)
    assert out.status_code in (302, 303) and out.headers["location"].startswith("/sign-in")
    session.expire_all()
    assert not list(session.exec(select(AccountSession).where(AccountSession.account_id == fay.id)))
