"""Several workers against one database: sessions, drafts and rate limits hold across them.

Starts ``uvicorn --factory --workers N`` (the real app, with a header naming the worker that
answered) on a free port: 3 workers on PostgreSQL, 2 on a SQLite file in WAL mode.  Every
request goes on a new connection, so they spread over the workers.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from app import migrating
from app.database import make_engine
from app.instruments import instrument_named
from app.services import accounts, invitations, partnerships, rounds
from app.services.rate_limits import RateLimitPolicy
from tests.conftest import TEST_SECRET, _postgres_url_for_schema

PROJECT = Path(__file__).resolve().parents[1]
PASSWORD = "scale out coordinator password"
EMAIL = "scale@example.org"
POLICY = RateLimitPolicy()
ITEM = instrument_named("trustworthy-collaboration").item_ids[0]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _seed(url: str) -> tuple[int, list[str]]:
    """A coordinator granted one partnership with an open round; the round and 3 links."""
    from datetime import date, timedelta

    migrating.upgrade(url)
    engine = make_engine(url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            partnership = partnerships.create_partnership(
                session, "Scale Out Partnership", "urgent-and-emergency-care"
            )
            assert partnership.id is not None
            accounts.add_account(session, EMAIL, PASSWORD, "coordinator", [partnership.name])
            survey_round = rounds.open_round(
                session,
                partnership.id,
                title="Busy week",
                opens_on=date.today() - timedelta(days=1),
                closes_on=date.today() + timedelta(days=7),
                anonymity_threshold=5,
                instrument_id="trustworthy-collaboration",
                instrument_version="2017.1",
            )
            assert survey_round.id is not None
            tokens = invitations.create_personal_links(
                session, survey_round.id, organisation_id=None, count=3, most=3
            )
            return survey_round.id, tokens
    finally:
        engine.dispose()


def _serve(url: str, workers: int, tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": TEST_SECRET,
        "ENVIRONMENT": "test",
    }
    log = (tmp_path / "uvicorn.log").open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "tests.test_scale_out_app:create_app",
            "--factory",
            "--workers",
            str(workers),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=PROJECT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        pids: set[str] = set()
        for _ in range(600):  # up to about a minute for every worker to start
            if server.poll() is not None:
                break
            try:
                with httpx.Client(base_url=base, timeout=5) as probe:
                    answer = probe.get("/healthz", headers={"Connection": "close"})
                if answer.status_code == 200:
                    pids.add(answer.headers["x-served-by"])
                    if len(pids) >= min(workers, 2):
                        break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        assert server.poll() is None, (tmp_path / "uvicorn.log").read_text()
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _fresh(base: str, cookies: httpx.Cookies | None = None) -> httpx.Client:
    """A client that opens a new connection for every request."""
    return httpx.Client(
        base_url=base,
        timeout=30,
        cookies=cookies,
        limits=httpx.Limits(max_keepalive_connections=0),
        headers={"Connection": "close"},
        follow_redirects=False,
    )


def _many(
    base: str,
    cookies: httpx.Cookies | None,
    path: str,
    times: int,
    headers: dict[str, str] | None = None,
) -> list[httpx.Response]:
    def one(_: int) -> httpx.Response:
        with _fresh(base, cookies) as client:
            return client.get(path, headers=headers)

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, range(times)))


def _check_workers(base: str, round_id: int, tokens: list[str]) -> None:
    # Sessions: sign in (the CSRF token from one worker, the post maybe to another) ...
    with _fresh(base) as browser:
        page = browser.get("/sign-in")
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found
        signed_in = browser.post(
            "/sign-in",
            data={"email": EMAIL, "password": PASSWORD, "csrf_token": found.group(1)},
        )
        assert signed_in.status_code == 303, signed_in.text
        cookies = browser.cookies
    # ... and the cookie works on every worker.
    answers = _many(base, cookies, f"/coordinator/rounds/{round_id}", 60)
    assert [a.status_code for a in answers] == [200] * 60
    assert all("Busy week" in a.text for a in answers)
    assert len({a.headers["x-served-by"] for a in answers}) >= 2, "one worker answered all"

    # Drafts: saved on one request, resumed on others.
    token = tokens[0]
    with _fresh(base) as respondent:
        saved = respondent.put(f"/api/v1/survey/{token}/draft", json={"answers": {ITEM: 4}})
        assert saved.status_code == 200, saved.text
        code = {"X-Resume-Code": saved.json()["resume_code"]}
        form = respondent.post(
            f"/s/{tokens[1]}/sections/about-you", data={"action": "save-for-later"}
        )
        assert form.status_code == 303
        kept = respondent.cookies  # the resume cookie, signed by whichever worker answered
    resumed = _many(base, None, f"/api/v1/survey/{token}", 30, code)
    assert all(a.status_code == 200 and a.json()["saved"]["answers"] == {ITEM: 4} for a in resumed)
    assert len({a.headers["x-served-by"] for a in resumed}) >= 2
    resumed_page = _many(base, kept, f"/s/{tokens[1]}", 10)
    assert all("Continue where you left off" in a.text for a in resumed_page)
    assert len({a.headers["x-served-by"] for a in resumed_page}) >= 2

    # Rate limits: unknown links counted in total, whichever worker answers.
    most = POLICY.link_per_address.most
    # Windows are fixed and aligned to the clock: don't let the guesses straddle a new window.
    if POLICY.link_per_address.retry_after(time.time()) < 60:
        time.sleep(POLICY.link_per_address.retry_after(time.time()) + 1)
    statuses: list[int] = []
    served: set[str] = set()
    with _fresh(base) as guesser:
        for number in range(most + 5):
            answer = guesser.get(f"/s/no-such-link-{number}")
            statuses.append(answer.status_code)
            served.add(answer.headers["x-served-by"])
    assert statuses == [404] * most + [429] * 5
    assert len(served) >= 2
    with _fresh(base) as guesser:
        refused = guesser.get("/api/v1/survey/still-no-such-link")
        working = guesser.get(f"/api/v1/survey/{tokens[2]}")
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    # A link that works is never refused by the unknown-link limit, on any worker.
    assert working.status_code == 200


@pytest.mark.postgres
def test_three_workers_on_postgresql(tmp_path: Path) -> None:
    base_url = os.environ.get("TEST_POSTGRES_URL")
    if not base_url:
        pytest.skip("TEST_POSTGRES_URL is not set")
    for url in _postgres_url_for_schema(base_url):
        round_id, tokens = _seed(url)
        for base in _serve(url, 3, tmp_path):
            _check_workers(base, round_id, tokens)


def test_two_workers_on_sqlite_in_wal_mode(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'survey.sqlite3'}"
    round_id, tokens = _seed(url)
    for base in _serve(url, 2, tmp_path):
        _check_workers(base, round_id, tokens)
