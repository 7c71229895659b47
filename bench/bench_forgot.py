"""The "forgot your password" page answers as fast for an address with an account as without.

Posts ``/sign-in/forgot`` for addresses with an account and for unknown addresses, taking
turns, on a fresh SQLite database (rate limits lifted, so every known address queues a
link), once with the answer floor (``FORGOT_ANSWER_SECONDS``) and once without it, in the
same run.  Prints the median time of each and the ratio known / unknown: without the floor
the known address is measurably slower (a link and an e-mail are queued); with it the ratio
should be 1.00 within noise, so timing tells nobody who has an account.

    .venv/bin/python bench/bench_forgot.py --requests 200
"""

from __future__ import annotations

import argparse
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.database import make_engine
from app.main import create_app
from app.services.accounts import add_account
from app.services.rate_limits import Limit, RateLimiter, RateLimitPolicy
from app.settings import Settings
from app.web import account_link_pages
from bench.live_service import SECRET_KEY, fresh_database

UNLIMITED = RateLimitPolicy(
    reset_per_email=Limit("reset-email", 10**6, 60),
    reset_per_address=Limit("reset-address", 10**6, 60),
)


def _timings(client: TestClient, emails: list[str], csrf: str) -> list[float]:
    seconds = []
    for email in emails:
        started = time.perf_counter()
        answer = client.post(
            "/sign-in/forgot",
            data={"email": email, "csrf_token": csrf},
            follow_redirects=False,
        )
        seconds.append(time.perf_counter() - started)
        if answer.status_code != 303:
            raise SystemExit(f"{email}: {answer.status_code} {answer.text[:200]}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="of each kind, each way")
    args = parser.parse_args()
    floor = account_link_pages.FORGOT_ANSWER_SECONDS
    known = [f"person{n}@example.org" for n in range(args.requests)]
    unknown = [f"nobody{n}@example.org" for n in range(args.requests)]
    with tempfile.TemporaryDirectory() as folder, fresh_database("sqlite", Path(folder)) as url:
        engine = make_engine(url)
        with Session(engine) as session:
            for email in known:
                add_account(session, email, None, "analyst")
        settings = Settings(environment="test", database_url=url, secret_key=SECRET_KEY)
        app = create_app(settings)
        with TestClient(app) as client:
            app.state.rate_limiter = RateLimiter(app.state.engine, SECRET_KEY, UNLIMITED)
            page = client.get("/sign-in/forgot").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page)
            assert token
            results: dict[str, dict[str, list[float]]] = {}
            for label, seconds in (("without the floor", 0.0), ("with the floor", floor)):
                account_link_pages.FORGOT_ANSWER_SECONDS = seconds
                times: dict[str, list[float]] = {"known": [], "unknown": []}
                for start in range(0, args.requests, 10):  # taking turns, 10 at a time
                    times["known"] += _timings(client, known[start : start + 10], token.group(1))
                    times["unknown"] += _timings(
                        client, unknown[start : start + 10], token.group(1)
                    )
                results[label] = times
            account_link_pages.FORGOT_ANSWER_SECONDS = floor
    print(f"python {platform.python_version()}; {args.requests} requests of each kind, SQLite")
    print(f"{'':<20} {'known ms':>10} {'unknown ms':>11} {'known/unknown':>14}")
    for label, times in results.items():
        known_ms = statistics.median(times["known"]) * 1000
        unknown_ms = statistics.median(times["unknown"]) * 1000
        print(f"{label:<20} {known_ms:10.1f} {unknown_ms:11.1f} {known_ms / unknown_ms:14.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
