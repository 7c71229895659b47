"""Rate limits on signing in (per e-mail, per client address) and on unknown link tokens (per
client address), counted in the database, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.models import RateLimitCounter
from app.services import invitations
from app.services.accounts import add_account
from app.services.rate_limits import Limit, RateLimiter, RateLimitPolicy, prune_statement
from tests.conftest import (
    COORDINATOR_PASSWORD,
    TEST_SECRET,
    SurveySetUp,
    csrf_from,
)

SMALL = RateLimitPolicy(
    login_per_email=Limit("login-email", 3, 900),
    login_per_address=Limit("login-address", 5, 900),
    link_per_address=Limit("link-address", 4, 600),
)


def _use(client: TestClient, policy: RateLimitPolicy = SMALL) -> RateLimiter:
    app = client.app
    limiter = RateLimiter(app.state.engine, TEST_SECRET, policy)  # type: ignore[attr-defined]
    app.state.rate_limiter = limiter  # type: ignore[attr-defined]
    return limiter


def _login(client: TestClient, email: str, password: str, path: str = "/sign-in") -> int:
    token = csrf_from(client.get(path).text)
    answer = client.post(
        path,
        data={"email": email, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    return answer.status_code


def test_login_is_limited_per_email_with_a_clear_page(client: TestClient, coordinator: str) -> None:
    _use(client)
    assert [_login(client, coordinator, "wrong password!") for _ in range(3)] == [401] * 3
    refused = client.post(
        "/sign-in",
        data={"email": coordinator, "password": COORDINATOR_PASSWORD, "csrf_token": "x"},
    )
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("text/html")
    assert 0 < int(refused.headers["retry-after"]) <= 900
    assert "too many failed attempts to sign in" in refused.text
    assert "<html" in refused.text
    # The same e-mail in other spellings is the same account; the reports sign-in counts too.
    assert _login(client, " Coordinator@Example.ORG ", COORDINATOR_PASSWORD) == 429
    assert _login(client, coordinator, COORDINATOR_PASSWORD, "/sign-in") == 429
    # Another account from the same address is not locked out by this one's failures.
    assert _login(client, "someone.else@example.org", "whatever it is") == 401


def test_login_is_limited_per_client_address(client: TestClient, session: Session) -> None:
    _use(client)
    add_account(session, "admin@example.org", COORDINATOR_PASSWORD, role="admin")
    statuses = [_login(client, f"guess{n}@example.org", "not it at all") for n in range(5)]
    assert statuses == [401] * 5
    assert _login(client, "admin@example.org", COORDINATOR_PASSWORD) == 429
    # From another address the right password still works.
    other = TestClient(client.app, client=("203.0.113.9", 50000))
    assert _login(other, "admin@example.org", COORDINATOR_PASSWORD) == 303


def test_successful_sign_ins_are_not_counted(client: TestClient, coordinator: str) -> None:
    _use(client)
    for _ in range(8):
        assert _login(client, coordinator, COORDINATOR_PASSWORD) == 303


def test_http_basic_failures_are_limited_with_json(client: TestClient, coordinator: str) -> None:
    limiter = _use(client)
    for _ in range(3):
        assert client.get("/api/v1/partnerships", auth=(coordinator, "nope")).status_code == 401
    refused = client.get("/api/v1/partnerships", auth=(coordinator, COORDINATOR_PASSWORD))
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/json"
    assert "too many failed attempts" in refused.json()["detail"]
    assert int(refused.headers["retry-after"]) > 0
    assert limiter.hits(SMALL.login_per_email, coordinator) == 3


def test_unknown_links_are_limited_per_address_but_working_links_are_not(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    _use(client)
    setup = make_round()
    token = invitations.create_personal_links(
        session, setup.round_id, organisation_id=None, count=1, most=1
    )[0]
    # A respondent saving many pages is never limited.
    for _ in range(12):
        saved = client.post(
            f"/s/{token}/sections/about-you",
            data={"action": "save-for-later"},
            follow_redirects=False,
        )
        assert saved.status_code in (303, 400), saved.text
        assert client.get(f"/s/{token}").status_code == 200
        assert client.get(f"/api/v1/survey/{token}").status_code == 200
    guesses = [client.get(f"/s/unknown-token-{n}").status_code for n in range(4)]
    assert guesses == [404] * 4
    page = client.get("/s/unknown-token-5")
    assert page.status_code == 429
    assert page.headers["content-type"].startswith("text/html")
    assert "too many attempts to open survey links" in page.text
    assert 0 < int(page.headers["retry-after"]) <= 600
    api = client.get("/api/v1/survey/unknown-token-6")
    assert api.status_code == 429 and api.headers["content-type"] == "application/json"
    # The limit refuses only links that do not work: a respondent whose link works, behind
    # the same address as the guesser, still reads and saves.
    assert client.get(f"/s/{token}").status_code == 200
    assert client.get(f"/api/v1/survey/{token}").status_code == 200
    saved = client.post(
        f"/s/{token}/sections/about-you", data={"action": "save-for-later"}, follow_redirects=False
    )
    assert saved.status_code in (303, 400), saved.text
    assert client.get("/s/unknown-token-7").status_code == 429
    # Another address is not affected.
    other = TestClient(client.app, client=("198.51.100.7", 40000))
    assert other.get(f"/s/{token}").status_code == 200


def test_counters_store_no_address_or_email_and_old_windows_are_pruned(
    client: TestClient, engine: Engine, coordinator: str
) -> None:
    limiter = _use(client)
    assert _login(client, coordinator, "wrong password!") == 401
    client.get("/s/not-a-real-token")
    with engine.connect() as connection:
        rows = connection.execute(sa.select(RateLimitCounter.__table__)).all()  # type: ignore[attr-defined]
    stored = " ".join(str(value) for row in rows for value in row)
    assert rows and "testclient" not in stored and "example.org" not in stored
    assert "not-a-real-token" not in stored
    # A failure counted a day later prunes the windows that have ended.
    limiter._last_pruned = 0.0
    limiter.count_failure([(SMALL.link_per_address, "192.0.2.1")], now=10**10)
    with engine.connect() as connection:
        left = connection.execute(sa.select(RateLimitCounter.__table__)).all()  # type: ignore[attr-defined]
    assert len(left) == 1 and left[0].window_start == SMALL.link_per_address.window_start(10**10)


def test_counting_is_atomic_across_limiters(engine: Engine) -> None:
    """Two limiters on one database (two workers) add to one counter."""
    first = RateLimiter(engine, TEST_SECRET, SMALL)
    second = RateLimiter(engine, TEST_SECRET, SMALL)
    limit = SMALL.link_per_address
    for limiter in [first, second, first, second]:
        assert limiter.refusal([(limit, "192.0.2.44")], now=1_000_000) is None
        limiter.count_failure([(limit, "192.0.2.44")], now=1_000_000)
    refusal = second.refusal([(limit, "192.0.2.44")], now=1_000_001)
    assert refusal is not None and refusal.retry_after == limit.window_start(1_000_000) + 600 - (
        1_000_001
    )
    assert first.hits(limit, "192.0.2.44", now=1_000_000) == 4
    # Another window starts from nothing.
    assert first.refusal([(limit, "192.0.2.44")], now=1_000_000 + 600) is None


def test_the_default_limits_are_reasonable() -> None:
    policy = RateLimitPolicy()
    assert 5 <= policy.login_per_email.most <= 20
    assert policy.login_per_address.most >= policy.login_per_email.most
    assert policy.link_per_address.most >= 20
    # Signing in slows down progressively, up to a quarter of an hour at most.
    for limit in (policy.login_per_email, policy.login_per_email_address):
        assert limit.progressive and limit.longest_wait_seconds <= 15 * 60
    # One address trying one e-mail as fast as it may cannot reach the e-mail's own limit,
    # so one attacker does not slow the real person's sign-in from anywhere else.
    assert policy.login_per_email_address.most_in_window() < policy.login_per_email.most
    assert policy.login_per_email_address.window_seconds == policy.login_per_email.window_seconds
    # Open links: a few per browser, an office behind one address, more for the round.
    assert 1 <= policy.open_per_browser.most <= 5
    assert policy.open_per_address.most >= 100
    assert policy.open_per_round.most >= policy.open_per_address.most
    # Every limit of the policy is kept until its window has ended: none is pruned early.
    cut = prune_statement(policy, 10**9).compile(compile_kwargs={"literal_binds": True})
    longest = max(limit.window_seconds for limit in policy.limits())
    assert f"< {10**9 - longest}" in str(cut)
    assert policy.open_per_browser in policy.limits()
