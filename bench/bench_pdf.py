"""Benchmark: the report PDF against headless Chromium printing the same HTML, in one run.

For the demo round (39 responses) and, with ``--responses``, a generated round of that many
responses (SQLite), the report is computed once (the report cache serves it to every file);
then, taking turns within each repeat:

* ``pdf``: what ``GET .../report.pdf`` does with the default ``PDF_ENGINE=auto`` on a machine
  with Chromium: :func:`app.reports.rendering.report_pdf` (render the HTML, then
  ``chromium --headless --print-to-pdf`` in a fresh profile, with the timeout and turn-taking);
* ``chromium``: the baseline, headless Chromium alone printing the same HTML file with the same
  command line (:func:`app.reports.pdf.chromium_command`), started by ``subprocess.run``;
* ``weasyprint``: the fallback engine on the same report (HTML included);
* ``html``: rendering the HTML alone.

Prints the median of each, ``pdf / chromium`` of the medians and the median of the ratios of
the runs made back to back (target: 1.2 or less), and the demo's ``pdf`` in seconds (target:
2 s or less).

Run: ``.venv/bin/python bench/bench_pdf.py [--repeats 5] [--responses 20000]``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.database import make_engine
from app.instruments import instrument_named
from app.reports.pdf import PdfOptions, chromium_command, find_chromium
from app.reports.rendering import report_html, report_pdf
from app.services import reports, rounds
from app.services.demo import seed_demo
from bench.bench_report import seed_round
from bench.live_service import INSTRUMENT, fresh_database


def timings(actions: Sequence[Callable[[], object]], repeats: int) -> list[list[float]]:
    """Seconds of every run of each action; the actions take turns within each repeat, so a
    busy machine slows them alike."""
    times: list[list[float]] = [[] for _ in actions]
    for _ in range(repeats):
        for index, action in enumerate(actions):
            start = time.perf_counter()
            action()
            times[index].append(time.perf_counter() - start)
    return times


def bare_chromium(executable: Path, html: str) -> bytes:
    """Headless Chromium printing ``html`` from a file, nothing else."""
    with tempfile.TemporaryDirectory() as folder:
        page, pdf = Path(folder) / "report.html", Path(folder) / "report.pdf"
        page.write_text(html, encoding="utf-8")
        subprocess.run(
            chromium_command(executable, page, pdf, Path(folder) / "profile"),
            check=True,
            capture_output=True,
            timeout=60,
        )
        return pdf.read_bytes()


def measure(label: str, report: reports.RoundReport, executable: Path, repeats: int) -> None:
    html = report_html(report)
    chromium = PdfOptions(engine="chromium", chromium_path=executable)
    weasyprint = PdfOptions(engine="weasyprint")
    assert report_pdf(report, chromium).startswith(b"%PDF")  # warm the templates and the disk
    names = ("pdf", "chromium", "weasyprint", "html")
    times = timings(
        [
            lambda: report_pdf(report, chromium),
            lambda: bare_chromium(executable, html),
            lambda: report_pdf(report, weasyprint),
            lambda: report_html(report),
        ],
        repeats,
    )
    median = {name: statistics.median(t) for name, t in zip(names, times, strict=True)}
    # pdf and chromium run back to back in each repeat: the median of those pairs' ratios is
    # the figure least moved by a machine whose load changes during the run.
    paired = statistics.median(p / c for p, c in zip(times[0], times[1], strict=True))
    print(
        f"{label:>17} {median['pdf']:>7.3f} {median['chromium']:>10.3f} "
        f"{median['weasyprint']:>12.3f} {median['html']:>7.3f} "
        f"{median['pdf'] / median['chromium']:>13.2f} {paired:>14.2f} "
        f"{median['weasyprint'] / median['chromium']:>14.2f}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--responses", type=int, default=0, help="also a generated round")
    args = parser.parse_args()
    executable = find_chromium()
    if executable is None:
        print("Chromium is not installed: nothing to compare with", file=sys.stderr)
        return 1
    version = subprocess.run([str(executable), "--version"], capture_output=True, text=True)
    print(
        f"python {platform.python_version()}; {version.stdout.strip()}; {platform.machine()}; "
        f"{args.repeats} repeats taking turns; seconds are medians"
    )
    print(
        f"{'round':>17} {'pdf s':>7} {'chromium s':>10} {'weasyprint s':>12} {'html s':>7} "
        f"{'pdf/chromium':>13} {'paired ratio':>14} {'weasy/chromium':>14}"
    )
    with tempfile.TemporaryDirectory() as folder, fresh_database("sqlite", Path(folder)) as url:
        engine = make_engine(url)
        try:
            with Session(engine, expire_on_commit=False) as session:
                seed = seed_demo(session, instrument_id=INSTRUMENT, anonymity_threshold=5)
                demo = reports.round_report(session, rounds.get_round(session, seed.round_id))
            measure("demo (39)", demo, executable, args.repeats)
            if args.responses:
                round_id = seed_round(engine, instrument_named(INSTRUMENT), args.responses)
                with Session(engine, expire_on_commit=False) as session:
                    rounds.close_round(session, round_id)  # its final release
                with Session(engine, expire_on_commit=False) as session:
                    generated = reports.round_report(session, rounds.get_round(session, round_id))
                measure(f"generated ({args.responses})", generated, executable, args.repeats)
        finally:
            engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
