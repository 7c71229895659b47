"""Benchmark: a round's report page (and its JSON) as a reader gets it, against the bare SELECT.

One closed round of ``--size`` submitted responses (bulk inserted; closing it makes its final
release), on SQLite and PostgreSQL.  Through the real app in-process (Starlette's test
client, an admin signed in once with a browser session), times in the same run, best of
``--repeats`` taking turns:

* ``select``: the bare SELECT of the answers (bench/bench_report.py's ``bare_select``);
* ``page cold``: the first ``GET /reports/rounds/{id}`` (the report computed and cached);
* ``page``: the page again (the report from the cache: the release checked, the template
  rendered);
* ``json``: ``GET /api/v1/reports/rounds/{id}`` (the same cached report).

Target: ``page / select`` of 1.5 or less at 20,000 responses.

Run: ``.venv/bin/python bench/bench_report_page.py [--size 20000] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.database import make_engine
from app.instruments import instrument_named
from app.main import create_app
from app.services import rounds
from app.services.accounts import add_account
from app.settings import Settings
from bench.bench_analysis import best_times
from bench.bench_report import bare_select, seed_round
from bench.live_service import INSTRUMENT, SECRET_KEY, fresh_database

PASSWORD = "bench admin password"


def _signed_in(client: TestClient) -> None:
    page = client.get("/sign-in").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    answer = client.post(
        "/sign-in",
        data={"email": "admin@example.org", "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def run(backend: str, size: int, repeats: int) -> None:
    instrument = instrument_named(INSTRUMENT)
    with tempfile.TemporaryDirectory() as folder, fresh_database(backend, Path(folder)) as url:
        engine = make_engine(url)
        round_id = seed_round(engine, instrument, size)
        with Session(engine) as session:
            rounds.close_round(session, round_id)
            add_account(session, "admin@example.org", PASSWORD, "admin")
        settings = Settings(environment="test", database_url=url, secret_key=SECRET_KEY)
        with TestClient(create_app(settings)) as client:
            _signed_in(client)
            path = f"/reports/rounds/{round_id}"
            started = time.perf_counter()
            cold = client.get(path)
            cold_s = time.perf_counter() - started
            assert cold.status_code == 200, cold.text[:300]

            def page() -> None:
                assert client.get(path).status_code == 200

            def report_json() -> None:
                assert client.get(f"/api/v1/reports/rounds/{round_id}").status_code == 200

            select_s, page_s, json_s = best_times(
                [lambda: bare_select(engine, round_id, instrument.item_ids), page, report_json],
                repeats,
            )
        engine.dispose()
        print(
            f"{backend:>10} {size:>9} {select_s:>9.4f} {cold_s:>9.3f} {page_s:>9.4f} "
            f"{json_s:>9.4f} {cold_s / select_s:>10.1f} {page_s / select_s:>10.2f} "
            f"{json_s / select_s:>10.2f}",
            flush=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    print(f"python {platform.python_version()}; {platform.machine()}, best of {args.repeats}")
    print(
        f"{'backend':>10} {'responses':>9} {'select s':>9} {'cold s':>9} {'page s':>9} "
        f"{'json s':>9} {'cold/sel':>10} {'page/sel':>10} {'json/sel':>10}"
    )
    for backend in args.backends.split(","):
        run(backend, args.size, args.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
