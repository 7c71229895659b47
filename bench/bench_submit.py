"""Benchmark: submission throughput through the real API, relative to a bare FastAPI insert.

For each backend (SQLite, PostgreSQL) the script makes a round with N personal links and
starts, one after the other, on loopback under uvicorn (one worker, no access log):

* ``app``: the real service (``trust-survey serve``); clients POST a full answer set to
  ``/api/v1/survey/{token}/response`` (link lookup, validation, the exactly-once submit);
* ``bare``: :func:`bare_app` below, a FastAPI app with one sync endpoint that inserts the same
  row (a submitted response of the same round, the same answers and background as JSON) into
  the same database, with the same engine (:func:`app.database.make_engine` with the app's
  ``DATABASE_POOL_SIZE``), and nothing else.

The same concurrent clients (httpx, ``--concurrency`` connections) send N requests to each;
every answer must be 201.  Prints both throughputs and ``app / bare`` (target: 60% or more).

Run: ``.venv/bin/python bench/bench_submit.py [--requests 2000] [--concurrency 50]
[--backends sqlite,postgresql]``.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

import httpx
import sqlalchemy as sa
from fastapi import Body, FastAPI

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.database import make_engine
from app.models import Response, utc_now
from app.settings import Settings
from bench.live_service import (
    distinct_answers,
    fresh_database,
    prepare_round,
    start_server,
    stop_server,
)

BACKGROUND = {"care_model": "other", "organisation_type": "acute-trust"}


def bare_app() -> FastAPI:
    """``uvicorn --factory bench.bench_submit:bare_app``: reads DATABASE_URL like the app."""
    settings = Settings()
    engine = make_engine(settings.database_url, settings.database_pool_size)
    table = Response.__table__  # type: ignore[attr-defined]
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/bare/{round_id}", status_code=201)
    def insert(
        round_id: int,
        answers: Annotated[dict[str, int], Body()],
        background: Annotated[dict[str, str], Body()],
    ) -> dict[str, str]:
        now = utc_now()
        with engine.begin() as connection:
            connection.execute(
                sa.insert(table).values(
                    round_id=round_id,
                    status="submitted",
                    instrument_version="2017.1",
                    answers=answers,
                    background=background,
                    started_at=now,
                    updated_at=now,
                    submitted_at=now,
                )
            )
        return {"status": "submitted"}

    return app


async def _send(base_url: str, paths: list[str], concurrency: int) -> tuple[float, int]:
    """POST a full answer set to every path; (seconds, number answered 201)."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
    for number, path in enumerate(paths):
        queue.put_nowait((number, path))
    created = 0

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal created
        while not queue.empty():
            number, path = queue.get_nowait()
            body = {"answers": distinct_answers(number), "background": BACKGROUND}
            answer = await client.post(path, json=body)
            if answer.status_code != 201:
                raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:200]}")
            created += 1

    async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as client:
        await client.get("/healthz")
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(client) for _ in range(concurrency)))
        return time.perf_counter() - started, created


def run(backend: str, requests: int, concurrency: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as folder, fresh_database(backend, Path(folder)) as url:
        prepared = prepare_round(url, requests)
        log = Path(folder) / "server.log"
        rates = {}
        for kind in ("app", "bare"):
            if kind == "app":
                server = start_server(url, log)
                paths = [f"/api/v1/survey/{t}/response" for t in prepared.tokens]
            else:
                server = start_server(url, log, factory="bench.bench_submit:bare_app")
                paths = [f"/bare/{prepared.round_id}"] * requests
            try:
                seconds, created = asyncio.run(_send(server.base_url, paths, concurrency))
            finally:
                stop_server(server)
            assert created == requests
            rates[kind] = requests / seconds
        engine = make_engine(url)
        with engine.connect() as connection:
            stored = connection.execute(
                sa.text("SELECT count(*) FROM response WHERE status = 'submitted'")
            ).scalar_one()
        engine.dispose()
        assert stored == 2 * requests, stored
        print(
            f"{backend:>10} {requests:>8} {concurrency:>6} {rates['app']:>10.1f} "
            f"{rates['bare']:>10.1f} {rates['app'] / rates['bare']:>9.0%}",
            flush=True,
        )
        return rates["app"], rates["bare"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    print(f"python {platform.python_version()}; {platform.machine()}")
    print(
        f"{'backend':>10} {'requests':>8} {'conc':>6} {'app /s':>10} {'bare /s':>10} "
        f"{'app/bare':>9}"
    )
    for backend in args.backends.split(","):
        run(backend, args.requests, args.concurrency)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
