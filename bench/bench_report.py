"""Benchmark: a partnership's full report from the database, relative to the bare SELECT.

For each backend (SQLite, PostgreSQL) and size (1k, 10k, 100k submitted responses, bulk
inserted into one round), times in the same run, best of several repeats taking turns:

* ``select``: the bare SELECT of the same answers with the same query shape (id, answers and
  background as JSON text, one round's submitted responses in id order) on a raw DB-API
  cursor, parsed into a NumPy array of the item answers (no ORM, no pandas);
* ``report``: :func:`app.services.reports.round_report`, which builds everything the report
  shows from :func:`app.services.rounds.round_items_matrix`: Table 4 (every scale's alpha,
  mean, median, mode), every item's frequency table, the trust profile, readings, the
  breakdowns by organisation type and role, the change against the previous round (none
  here) and the anonymised answers and scores for download.

* ``core``: only what the issue names, on the same matrix: :func:`analysis.summary.table4`
  (which includes the reliability of every multi-item scale) and every item's frequency
  table, after :func:`app.services.rounds.round_items_matrix`.

Prints ``core / select`` and ``report / select`` (target: 1.5 or less).

Run: ``.venv/bin/python bench/bench_report.py [--sizes 1000,10000,100000] [--repeats 3]
[--backends sqlite,postgresql]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis.frequencies import item_frequency_tables
from analysis.instrument import Instrument
from analysis.summary import table4
from app.database import make_engine
from app.instruments import instrument_named
from app.models import Response
from app.services import reports, rounds
from bench.bench_analysis import best_times, generated_responses
from bench.live_service import INSTRUMENT, fresh_database, open_bench_round

SELECT = (
    "SELECT id, CAST(answers AS TEXT), CAST(background AS TEXT) FROM response "
    "WHERE round_id = {round_id} AND status = 'submitted' ORDER BY id"
)


def seed_round(engine: sa.Engine, instrument: Instrument, size: int) -> int:
    """A partnership with one open round holding ``size`` submitted responses (bulk insert)."""
    with Session(engine, expire_on_commit=False) as session:
        round_id = open_bench_round(session, f"Bench {size}", "Bench round")
    frame = generated_responses(instrument, size)
    items = frame[list(instrument.item_ids)].to_numpy()
    organisation_types = [
        o.value for q in instrument.background if q.id == "organisation_type" for o in q.options
    ]
    rng = np.random.default_rng(3)
    kinds = rng.choice(organisation_types, size=size)
    now = pd.Timestamp.now(tz="UTC").to_pydatetime()
    rows = []
    for index in range(size):
        answers = {
            item: int(value)
            for item, value in zip(instrument.item_ids, items[index], strict=True)
            if value == value
        }
        background = {
            "care_model": str(frame["care_model"].iat[index]),
            "professional_role": str(frame["professional_role"].iat[index]),
            "organisation_type": str(kinds[index]),
        }
        rows.append(
            {
                "round_id": round_id,
                "status": "submitted",
                "instrument_version": instrument.version,
                "answers": answers,
                "background": background,
                "next_section": None,
                "started_at": now,
                "updated_at": now,
                "submitted_at": now,
            }
        )
    table = Response.__table__  # type: ignore[attr-defined]
    known = {c.name for c in table.columns}
    with engine.begin() as connection:
        for start in range(0, size, 5000):
            batch = [
                {k: v for k, v in row.items() if k in known} for row in rows[start : start + 5000]
            ]
            connection.execute(sa.insert(table), batch)
    return round_id


def bare_select(engine: sa.Engine, round_id: int, item_ids: Sequence[str]) -> np.ndarray:
    """The same answers into a NumPy array: raw cursor, JSON parsed in one go, no ORM."""
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(SELECT.format(round_id=int(round_id)))
        rows = cursor.fetchall()
        cursor.close()
    finally:
        connection.close()
    answers = json.loads("[" + ",".join(row[1] for row in rows) + "]")
    json.loads("[" + ",".join(row[2] for row in rows) + "]")
    return np.array(
        [[answer.get(item) for item in item_ids] for answer in answers], dtype=float
    ).reshape(len(rows), len(item_ids))


def full_report(engine: sa.Engine, round_id: int) -> reports.RoundReport:
    with Session(engine, expire_on_commit=False) as session:
        report = reports.round_report(session, rounds.get_round(session, round_id))
    assert report.visible
    return report


def core_analysis(engine: sa.Engine, round_id: int, instrument: Instrument) -> int:
    """Only what the issue names: Table 4 (with every scale's alpha) and every item's
    frequency table, on the round's items matrix."""
    with Session(engine, expire_on_commit=False) as session:
        matrix = rounds.round_items_matrix(session, round_id)
    summary = table4(matrix, instrument)
    tables = item_frequency_tables(matrix, instrument, include_empty=True)
    return len(summary.scales) + len(tables)


def run(
    backend: str, sizes: Sequence[int], repeats: int
) -> list[tuple[str, int, float, float, float]]:
    instrument = instrument_named(INSTRUMENT)
    results = []
    with tempfile.TemporaryDirectory() as folder, fresh_database(backend, Path(folder)) as url:
        engine = make_engine(url)
        try:
            for size in sizes:
                started = time.perf_counter()
                round_id = seed_round(engine, instrument, size)
                seeded = time.perf_counter() - started
                array = bare_select(engine, round_id, instrument.item_ids)
                assert array.shape == (size, len(instrument.item_ids))
                report = full_report(engine, round_id)
                assert report.n_responses == size
                select_s, core_s, report_s = best_times(
                    [
                        lambda r=round_id: bare_select(engine, r, instrument.item_ids),
                        lambda r=round_id: core_analysis(engine, r, instrument),
                        lambda r=round_id: full_report(engine, r),
                    ],
                    repeats,
                )
                print(
                    f"{backend:>10} {size:>9} {select_s:>9.4f} {core_s:>9.4f} {report_s:>9.4f} "
                    f"{core_s / select_s:>10.2f} {report_s / select_s:>12.2f}"
                    f"   (seeded in {seeded:.1f} s)",
                    flush=True,
                )
                results.append((backend, size, select_s, core_s, report_s))
        finally:
            engine.dispose()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(
        f"python {platform.python_version()}, pandas {pd.__version__}, numpy {np.__version__}; "
        f"{platform.machine()}, best of {args.repeats}"
    )
    print(
        f"{'backend':>10} {'responses':>9} {'select s':>9} {'core s':>9} {'report s':>9} "
        f"{'core/select':>10} {'report/select':>12}"
    )
    for backend in args.backends.split(","):
        run(backend, sizes, args.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
