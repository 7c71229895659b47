"""Benchmark: ``report.xlsx`` of a big round against the bare SELECT of its responses.

For each backend (SQLite, PostgreSQL) and size (default 20,000 and 100,000 submitted responses,
bulk inserted into one round and released), in the same run, taking turns within each repeat:

* ``select``: the bare SELECT of the round's answers on a raw DB-API cursor, parsed into a NumPy
  array (:func:`bench.bench_report.bare_select`, the yardstick of ``bench_report.py``);
* ``xlsx``: :func:`app.reports.documents.workbook` on the round's computed report, as a
  download gets it from the report cache (answers and scores for download already made):
  every sheet, the 20,000 or 100,000 rows of item answers and scale scores included;
* ``xlsx+rows``: the same workbook on a report whose anonymised answers and scores are made
  afresh (``RoundReport.answers`` and ``.scores`` are made when a download first asks);
* ``report``: :func:`app.services.reports.round_report` (what a download costs when the report
  is not cached), for reference.

Then, once, the peak of memory traced while the workbook is written (``tracemalloc``),
against the size of the answers it writes, and the size of the file.

Prints ``xlsx / select`` (target: 3 or less at 20,000) and the peak memory.

Run: ``.venv/bin/python bench/bench_xlsx.py [--sizes 20000,100000] [--repeats 3]
[--backends sqlite,postgresql]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.database import make_engine
from app.instruments import instrument_named
from app.reports.documents import workbook
from app.services import reports, rounds
from bench.bench_report import bare_select, seed_round
from bench.live_service import INSTRUMENT, fresh_database


def timings(actions: Sequence[Callable[[], object]], repeats: int) -> list[float]:
    """The median of ``repeats`` runs of each action; they take turns within each repeat."""
    times: list[list[float]] = [[] for _ in actions]
    for _ in range(repeats):
        for index, action in enumerate(actions):
            start = time.perf_counter()
            action()
            times[index].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def released_report(engine: object, round_id: int) -> reports.RoundReport:
    with Session(engine, expire_on_commit=False) as session:  # type: ignore[call-overload]
        survey_round = rounds.get_round(session, round_id)
        return reports.round_report(session, survey_round)


def fresh_rows(report: reports.RoundReport) -> reports.RoundReport:
    """The same report without its answers and scores made yet."""
    return dataclasses.replace(report)


def run(backend: str, sizes: Sequence[int], repeats: int) -> None:
    instrument = instrument_named(INSTRUMENT)
    with tempfile.TemporaryDirectory() as folder, fresh_database(backend, Path(folder)) as url:
        engine = make_engine(url)
        try:
            for size in sizes:
                round_id = seed_round(engine, instrument, size)
                with Session(engine) as session:
                    rounds.close_round(session, round_id)  # its final release: rows published
                report = released_report(engine, round_id)
                assert report.rows_available, "the round's rows must be published"
                content = workbook(report)  # makes the answers and scores once
                select_s, xlsx_s, rows_s, report_s = timings(
                    [
                        lambda r=round_id: bare_select(engine, r, instrument.item_ids),
                        lambda r=report: workbook(r),
                        lambda r=report: workbook(fresh_rows(r)),
                        lambda r=round_id: released_report(engine, r),
                    ],
                    repeats,
                )
                tracemalloc.start()
                workbook(report)
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                answers_mib = report.answers.memory_usage(deep=True).sum() / 2**20
                print(
                    f"{backend:>10} {size:>9} {select_s:>8.3f} {xlsx_s:>7.3f} {rows_s:>9.3f} "
                    f"{report_s:>8.3f} {xlsx_s / select_s:>11.2f} {rows_s / select_s:>15.2f} "
                    f"{peak / 2**20:>9.1f} {answers_mib:>11.1f} {len(content) / 2**20:>7.1f}",
                    flush=True,
                )
        finally:
            engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="20000,100000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(
        f"python {platform.python_version()}, pandas {pd.__version__}, numpy {np.__version__}; "
        f"{platform.machine()}; medians of {args.repeats} taking turns"
    )
    print(
        f"{'backend':>10} {'responses':>9} {'select s':>8} {'xlsx s':>7} {'xlsx+rows':>9} "
        f"{'report s':>8} {'xlsx/select':>11} {'xlsx+rows/sel.':>15} {'peak MiB':>9} "
        f"{'answers MiB':>11} {'file MiB':>7}"
    )
    for backend in args.backends.split(","):
        run(backend, sizes, args.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
