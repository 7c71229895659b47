"""Start-up time of the command line: ``trust-survey --help`` and a usage error.

Each is timed as a whole process (best of ``--repeats``), next to a bare
``python -c pass`` measured in the same run, the three taking turns within each repeat so
that a busy moment hits all of them.  Target: under 0.5 s for ``--help`` and usage errors
(issue 14); the ratio to the bare interpreter shows what the command line adds.

    .venv/bin/python bench/bench_cli_startup.py --repeats 15
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 0.5


def _timed(command: list[str], expect: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, check=False, env=env, cwd=ROOT)
    elapsed = time.perf_counter() - started
    if result.returncode != expect:
        raise SystemExit(f"{' '.join(command)} exited {result.returncode}: {result.stderr[:300]!r}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    python = sys.executable
    cases = {
        "python -c pass": ([python, "-c", "pass"], 0),
        "trust-survey --help": ([python, "-m", "app.cli", "--help"], 0),
        "usage error (omega, no args)": ([python, "-m", "app.cli", "omega"], 2),
    }
    best = dict.fromkeys(cases, float("inf"))
    for _ in range(args.repeats):
        for name, (command, expect) in cases.items():
            best[name] = min(best[name], _timed(command, expect))
    bare = best["python -c pass"]
    print(
        f"python {platform.python_version()}; {platform.machine()}, {os.cpu_count()} CPUs, "
        f"best of {args.repeats}"
    )
    print(f"{'command':<30} {'best s':>8} {'x bare python':>14} {'target':>8}")
    verdicts = []
    for name, seconds in best.items():
        ratio = seconds / bare
        target = "" if name == "python -c pass" else f"< {TARGET_SECONDS}"
        print(f"{name:<30} {seconds:8.3f} {ratio:14.2f} {target:>8}")
        if target:
            verdicts.append(seconds < TARGET_SECONDS)
    print("target met" if all(verdicts) else "target MISSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
