"""Helpers for the tests of a person's own account and the second factor (no tests here):
signing in through the pages, and setting up a second factor the way a person does, reading
the key from the page and computing real codes from it with pyotp."""

from __future__ import annotations

import html
import re
import time

import httpx
import pyotp
from fastapi.testclient import TestClient

from tests.conftest import csrf_from

PASSWORD = "a long enough password for every role"
SESSION_COOKIE = "trust_survey_session"


def post_form(
    client: TestClient, path: str, data: dict[str, str], page: str | None = None
) -> httpx.Response:
    """POST a form with the CSRF token of ``page`` (default: the sign-in page)."""
    token = csrf_from(client.get(page or "/sign-in").text)
    return client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)


def password_step(client: TestClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return post_form(client, "/sign-in", {"email": email, "password": password})


def secret_on(page: str) -> str:
    found = re.search(r'<code class="app-token" id="secret">([A-Z2-7 ]+)</code>', page)
    assert found, "no key on the set-up page"
    return found.group(1).replace(" ", "")


def sealed_on(page: str) -> str:
    found = re.search(r'name="sealed" value="([^"]+)"', page)
    assert found, "no sealed key in the set-up form"
    return html.unescape(found.group(1))


def code_now(secret: str) -> str:
    return pyotp.TOTP(secret).now()


def code_next(secret: str) -> str:
    """The code of the next time step (accepted: one step of drift either way)."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def wrong_code(secret: str) -> str:
    """A code that is none of the three the server accepts now (or in the next steps)."""
    totp = pyotp.TOTP(secret)
    taken = {totp.at(time.time() + offset) for offset in range(-60, 91, 30)}
    number = 0
    while f"{number:06d}" in taken:
        number += 1
    return f"{number:06d}"


def set_up_on_account_page(client: TestClient) -> str:
    """Set up a second factor on /account/second-factor (signed in); its secret."""
    page = client.get("/account/second-factor").text
    secret = secret_on(page)
    answer = client.post(
        "/account/second-factor",
        data={
            "sealed": sealed_on(page),
            "code": code_now(secret),
            "csrf_token": csrf_from(page),
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return secret


def sign_in_fully(
    client: TestClient, email: str, secret: str | None = None, password: str = PASSWORD
) -> None:
    """Sign in with the password and, given ``secret``, the code of the next time step."""
    answer = password_step(client, email, password)
    assert answer.status_code == 303, answer.text
    if secret is None:
        assert not answer.headers["location"].startswith("/sign-in"), answer.headers
        return
    assert answer.headers["location"].startswith("/sign-in/code")
    answer = post_form(client, "/sign-in/code", {"code": code_next(secret)}, "/sign-in/code")
    assert answer.status_code == 303, answer.text


def copied(client: TestClient) -> TestClient:
    """Another client holding a copy of ``client``'s session cookie."""
    thief = TestClient(client.app)
    thief.cookies.set(SESSION_COOKIE, client.cookies[SESSION_COOKIE])
    return thief
