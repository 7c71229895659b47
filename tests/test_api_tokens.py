"""Personal API tokens: made and listed by their holder (page and CLI), Bearer on the API in
place of a password hash per request, shown once, stored only as a keyed hash, never logged,
refused at once when revoked, and never another account's to see or revoke."""

from __future__ import annotations

import logging
import re

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.models import ApiToken
from app.services import api_tokens
from app.services.accounts import add_account, coordinator_by_email
from app.services.errors import FieldValidationError, RecordNotFoundError
from tests.conftest import COORDINATOR_PASSWORD, TEST_SECRET, csrf_from

TOKEN = re.compile(r"tsp_[A-Za-z0-9_-]{43}")


def _account(session: Session, email: str, role: str = "coordinator") -> None:
    add_account(session, email, COORDINATOR_PASSWORD, role)


def _made(session: Session, email: str, name: str = "script") -> str:
    account = coordinator_by_email(session, email)
    assert account is not None
    return api_tokens.create_token(session, account, name, TEST_SECRET).token


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_opens_the_api_of_its_account_and_no_more(
    client: TestClient, session: Session
) -> None:
    _account(session, "co@example.org")
    _account(session, "an@example.org", "analyst")
    coordinating = _made(session, "co@example.org")
    reading = _made(session, "an@example.org")
    assert client.get("/api/v1/partnerships", headers=_bearer(coordinating)).status_code == 200
    # An analyst's token does not open the coordinators' API (as their password would not).
    assert client.get("/api/v1/partnerships", headers=_bearer(reading)).status_code == 401
    # The reports API reads an analyst's token; a coordinator reads no reports there.
    assert client.get("/api/v1/reports/rounds", headers=_bearer(reading)).status_code == 200
    assert client.get("/api/v1/reports/rounds", headers=_bearer(coordinating)).status_code == 401


def test_unknown_malformed_and_revoked_tokens_answer_401(
    client: TestClient, session: Session
) -> None:
    _account(session, "co@example.org")
    token = _made(session, "co@example.org")
    for wrong in (token[:-1] + ("A" if token[-1] != "A" else "B"), "tsp_", "x" * 500, "\x00"):
        answer = client.get("/api/v1/partnerships", headers=_bearer(wrong))
        assert answer.status_code == 401, wrong
        assert "Bearer" in answer.headers["www-authenticate"]
    account = coordinator_by_email(session, "co@example.org")
    assert account is not None
    (record,) = api_tokens.list_tokens(session, account)
    assert client.get("/api/v1/partnerships", headers=_bearer(token)).status_code == 200
    assert record.id is not None
    api_tokens.revoke_token(session, account, record.id)
    assert client.get("/api/v1/partnerships", headers=_bearer(token)).status_code == 401


def test_only_a_keyed_hash_is_stored(session: Session, engine: Engine) -> None:
    _account(session, "co@example.org")
    token = _made(session, "co@example.org")
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT * FROM api_token")).all()
    stored = " ".join(str(value) for row in rows for value in row)
    assert token not in stored and token[SHOWN:] not in stored
    assert api_tokens.hash_api_token(TEST_SECRET, token) in stored
    # Keyed: the plain SHA-256 of the token (which a database copy could test) is not stored.
    import hashlib

    assert hashlib.sha256(token.encode()).hexdigest() not in stored
    assert api_tokens.hash_api_token("another key", token) not in stored


SHOWN = api_tokens.SHOWN_PREFIX


def test_a_token_is_never_another_accounts_to_revoke(session: Session) -> None:
    _account(session, "one@example.org")
    _account(session, "two@example.org")
    _made(session, "one@example.org")
    one = coordinator_by_email(session, "one@example.org")
    two = coordinator_by_email(session, "two@example.org")
    assert one is not None and two is not None
    (record,) = api_tokens.list_tokens(session, one)
    assert api_tokens.list_tokens(session, two) == []
    assert record.id is not None
    with pytest.raises(RecordNotFoundError):
        api_tokens.revoke_token(session, two, record.id)
    assert api_tokens.list_tokens(session, one)[0].revoked_at is None


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "line\nbreak", "nul\x00"])
def test_a_token_needs_a_plain_name(session: Session, name: str) -> None:
    _account(session, "co@example.org")
    account = coordinator_by_email(session, "co@example.org")
    assert account is not None
    with pytest.raises(FieldValidationError) as raised:
        api_tokens.create_token(session, account, name, TEST_SECRET)
    assert "name" in raised.value.problems


def _sign_in(client: TestClient, email: str) -> None:
    token = csrf_from(client.get("/sign-in").text)
    answer = client.post(
        "/sign-in",
        data={"email": email, "password": COORDINATOR_PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303


def test_the_page_shows_a_new_token_once_and_revokes_it(
    client: TestClient, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    _account(session, "co@example.org")
    with TestClient(client.app) as script:  # no cookies: what a script sends
        _page_token_journey(client, script, caplog)


def _page_token_journey(
    client: TestClient, script: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    assert client.get("/account/tokens", follow_redirects=False).status_code == 303
    _sign_in(client, "co@example.org")
    page = client.get("/account/tokens")
    assert page.status_code == 200 and "You have no API tokens" in page.text
    with caplog.at_level(logging.DEBUG):
        made = client.post(
            "/account/tokens", data={"name": "weekly export", "csrf_token": csrf_from(page.text)}
        )
        assert made.status_code == 200
        (token,) = set(TOKEN.findall(made.text))
        assert script.get("/api/v1/partnerships", headers=_bearer(token)).status_code == 200
    assert token not in caplog.text  # never logged, neither when made nor when used
    again = client.get("/account/tokens")
    assert "weekly export" in again.text and token[:SHOWN] in again.text
    assert token not in again.text and not TOKEN.search(again.text)  # never shown twice
    (record_id,) = re.findall(r'action="/account/tokens/(\d+)/revoke"', again.text)
    revoked = client.post(
        f"/account/tokens/{record_id}/revoke",
        data={"csrf_token": csrf_from(again.text)},
        follow_redirects=False,
    )
    assert revoked.status_code == 303
    assert script.get("/api/v1/partnerships", headers=_bearer(token)).status_code == 401
    assert "Revoked" in client.get("/account/tokens").text


def test_the_page_keeps_a_bad_name_and_says_what_is_wrong(
    client: TestClient, session: Session
) -> None:
    _account(session, "co@example.org")
    _sign_in(client, "co@example.org")
    page = client.get("/account/tokens")
    bad = client.post(
        "/account/tokens", data={"name": "x" * 150, "csrf_token": csrf_from(page.text)}
    )
    assert bad.status_code == 422
    assert "1 to 100 characters" in bad.text and 'value="' + "x" * 150 in bad.text
    assert not TOKEN.search(bad.text)


def test_another_accounts_token_cannot_be_revoked_on_the_page(
    client: TestClient, session: Session
) -> None:
    _account(session, "one@example.org")
    _account(session, "two@example.org")
    _made(session, "one@example.org")
    one = coordinator_by_email(session, "one@example.org")
    assert one is not None
    (record,) = api_tokens.list_tokens(session, one)
    _sign_in(client, "two@example.org")
    page = client.get("/account/tokens")
    answer = client.post(
        f"/account/tokens/{record.id}/revoke", data={"csrf_token": csrf_from(page.text)}
    )
    assert answer.status_code == 404
    session.expire_all()
    assert session.get(ApiToken, record.id).revoked_at is None  # type: ignore[union-attr]


def test_the_command_line_makes_lists_and_revokes_tokens(
    session: Session,
    migrated_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from app.cli import main

    _account(session, "co@example.org")
    monkeypatch.setenv("DATABASE_URL", migrated_url)
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("TRUST_SURVEY_PASSWORD", COORDINATOR_PASSWORD)
    env = ["--password-from-env"]
    assert main(["token", "create", "co@example.org", "--name", "nightly", *env]) == 0
    (token,) = TOKEN.findall(capsys.readouterr().out)
    account = coordinator_by_email(session, "co@example.org")
    assert account is not None
    assert api_tokens.account_for_token(session, TEST_SECRET, token, {"coordinator"}) is not None
    assert main(["token", "list", "co@example.org", *env]) == 0
    listed = capsys.readouterr().out
    assert "nightly" in listed and "live" in listed and token not in listed
    record_id = listed.split("\t", 1)[0]
    assert main(["token", "revoke", "co@example.org", record_id, *env]) == 0
    assert api_tokens.account_for_token(session, TEST_SECRET, token, {"coordinator"}) is None
    monkeypatch.setenv("TRUST_SURVEY_PASSWORD", "not the password")
    assert main(["token", "list", "co@example.org", *env]) == 2
    assert "not right" in capsys.readouterr().err
