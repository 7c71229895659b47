"""Benchmark: submissions through the real API against an honest baseline, same client.

For each backend (SQLite WAL, PostgreSQL) the script makes a round with personal links and
serves, one after the other, on loopback under uvicorn (one worker, no access log):

* ``app``: the real service (``trust-survey serve``); each request POSTs a full answer set
  to ``/api/v1/survey/{token}/response`` of a fresh unused link (link lookup, rate limits,
  validation, the exactly-once claim, the response row);
* ``same-work``: :mod:`bench.baseline_app`, a minimal async FastAPI app on raw drivers
  (aiosqlite, psycopg 3 async) doing the same database work (claim the link with a
  conditional UPDATE, merge its draft or insert the response: one transaction) on the same
  database;
* ``bare``: the same baseline app's bare INSERT of the response row.

Each is loaded at every ``--concurrency`` (1, 16, 64, 200 by default) by the same lean
asyncio client (:mod:`bench.lean_client`: one keep-alive connection per client, reconnecting
when the server closes an idle one), ``--requests`` requests each.  Every answer must be
201, and afterwards the database must hold exactly one response per request.  Prints
throughput, p50/p95 latency, the server's CPU per request (from /proc) and ``app / same-work``
(target: 70% or more at every concurrency).

Run: ``.venv/bin/python bench/bench_submit.py [--requests 600] [--concurrency 1,16,64,200]
[--backends sqlite,postgresql]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.database import make_engine
from bench.lean_client import Connection
from bench.live_service import (
    Server,
    distinct_answers,
    fresh_database,
    prepare_round,
    start_server,
    stop_server,
)

BACKGROUND = {"organisation_type": "acute-trust"}
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Measured:
    rate: float
    p50: float
    p95: float
    cpu_ms: float


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def _send(base_url: str, paths: list[str], concurrency: int, offset: int) -> list[float]:
    """POST a full answer set to every path, ``concurrency`` clients at once; latencies."""
    queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
    for number, path in enumerate(paths):
        queue.put_nowait((offset + number, path))
    latencies: list[float] = []

    async def client_loop() -> None:
        connection = Connection(base_url)
        try:
            await connection.request("GET", "/healthz")
            while not queue.empty():
                number, path = queue.get_nowait()
                body = {"answers": distinct_answers(number), "background": BACKGROUND}
                started = time.perf_counter()
                answer = await connection.request("POST", path, body)
                latencies.append(time.perf_counter() - started)
                if answer.status != 201:
                    raise RuntimeError(f"{path}: {answer.status} {answer.text[:200]}")
        finally:
            await connection.close()

    await asyncio.gather(*(client_loop() for _ in range(concurrency)))
    return latencies


def _measure(server: Server, paths: list[str], concurrency: int, offset: int) -> Measured:
    cpu = _cpu_seconds(server.process.pid)
    started = time.perf_counter()
    latencies = asyncio.run(_send(server.base_url, paths, concurrency, offset))
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds(server.process.pid) - cpu
    latencies.sort()
    assert len(latencies) == len(paths)
    return Measured(
        rate=len(paths) / seconds,
        p50=latencies[len(latencies) // 2],
        p95=latencies[int(len(latencies) * 0.95)],
        cpu_ms=cpu / len(paths) * 1000,
    )


def run(backend: str, requests: int, concurrencies: list[int]) -> None:
    with tempfile.TemporaryDirectory() as folder, fresh_database(backend, Path(folder)) as url:
        links = prepare_round(url, 2 * requests * len(concurrencies))
        log = Path(folder) / "server.log"
        results: dict[tuple[str, int], Measured] = {}
        tokens = iter(links.tokens)
        offset = 0
        for kind, factory in (("app", None), ("baseline", "bench.baseline_app:create_app")):
            server = start_server(url, log, factory=factory)
            try:
                for concurrency in concurrencies:
                    batch = [next(tokens) for _ in range(requests)]
                    prefix = "/api/v1/survey" if kind == "app" else "/baseline"
                    paths = [f"{prefix}/{token}/response" for token in batch]
                    name = "app" if kind == "app" else "same-work"
                    results[name, concurrency] = _measure(server, paths, concurrency, offset)
                    offset += requests
                    if kind == "baseline":
                        bare = [f"/bare/{links.round_id}"] * requests
                        results["bare", concurrency] = _measure(server, bare, concurrency, offset)
                        offset += requests
            finally:
                stop_server(server)
        engine = make_engine(url)
        with engine.connect() as connection:
            stored = connection.execute(
                sa.text("SELECT count(*) FROM response WHERE status = 'submitted'")
            ).scalar_one()
            drafts = connection.execute(
                sa.text("SELECT count(*) FROM response WHERE status = 'draft'")
            ).scalar_one()
        engine.dispose()
        assert stored == offset and drafts == 0, (stored, offset, drafts)
        for concurrency in concurrencies:
            app, same, bare = (results[k, concurrency] for k in ("app", "same-work", "bare"))
            print(
                f"{backend:>10} {concurrency:>5} "
                + " ".join(
                    f"{m.rate:>7.0f} {m.p50 * 1000:>6.1f} {m.p95 * 1000:>6.1f} {m.cpu_ms:>5.2f}"
                    for m in (app, same, bare)
                )
                + f" {app.rate / same.rate:>8.0%} {app.rate / bare.rate:>8.0%}",
                flush=True,
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--concurrency", default="1,16,64,200")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    print(
        f"python {platform.python_version()}; {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}; {args.requests} requests per cell"
    )
    kinds = " ".join(
        f"{k + ' /s':>7} {'p50':>6} {'p95':>6} {'cpu':>5}" for k in ("app", "same", "bare")
    )
    print(f"{'backend':>10} {'conc':>5} {kinds} {'app/same':>8} {'app/bare':>8}")
    print(f"{'':>17}(latencies in ms, cpu = server CPU ms per request)")
    for backend in args.backends.split(","):
        run(backend, args.requests, concurrencies)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
