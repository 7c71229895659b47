"""Benchmark: peak memory of a pooled analysis of 1M responses (target: under 1 GiB).

Each measurement runs in a fresh Python process and reports its peak resident set size
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``):

* ``imports``: the same imports (pandas, NumPy, pingouin, ``analysis``) and nothing else;
* ``array``: the same plus the bare answers, a float64 NumPy array of N x 22 items;
* ``analysis``: the same imports, N generated responses to the Trustworthy Collaboration
  instrument (``bench.bench_analysis.generated_responses``: 22 items as float with about 2%
  missing, plus care model and role), then the pooled analysis: Table 4 of every scale
  (including every multi-item scale's alpha) and every item's frequency table.

Prints the peaks, the analysis peak against 1 GiB, and its ratio to the bare array's size.

Run: ``.venv/bin/python bench/bench_memory.py [--responses 1000000]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

GIB = 1024**3


def _peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def child(kind: str, responses: int) -> dict[str, float]:
    import numpy as np
    import pingouin  # noqa: F401 - imported by the analysis, counted in every kind

    from analysis.frequencies import item_frequency_tables
    from analysis.summary import table4
    from app.instruments import instrument_named
    from bench.bench_analysis import generated_responses

    instrument = instrument_named("trustworthy-collaboration")
    result: dict[str, float] = {}
    if kind == "array":
        array = np.random.default_rng(1).integers(1, 6, size=(responses, 22)).astype(float)
        result["array_bytes"] = array.nbytes
    elif kind == "analysis":
        frame = generated_responses(instrument, responses)
        summary = table4(frame, instrument)
        tables = item_frequency_tables(frame, instrument, include_empty=True)
        result["scales"] = len(summary.scales)
        result["tables"] = len(tables)
        result["n"] = summary.n_responses
    result["peak_bytes"] = _peak_bytes()
    return result


def measure(kind: str, responses: int) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--responses", str(responses)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    measured: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return measured


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--child", choices=["imports", "array", "analysis"])
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.responses)))
        return 0
    imports = measure("imports", args.responses)
    array = measure("array", args.responses)
    analysis = measure("analysis", args.responses)
    assert analysis["n"] == args.responses
    mib = 1024**2
    print(f"python {platform.python_version()}; {platform.machine()}; {args.responses} responses")
    print(f"imports only           peak {imports['peak_bytes'] / mib:8.0f} MiB")
    print(
        f"bare array             peak {array['peak_bytes'] / mib:8.0f} MiB "
        f"(the array itself {array['array_bytes'] / mib:.0f} MiB)"
    )
    print(
        f"pooled analysis        peak {analysis['peak_bytes'] / mib:8.0f} MiB "
        f"({analysis['scales']:.0f} scales, {analysis['tables']:.0f} frequency tables)"
    )
    print(f"analysis peak / 1 GiB          {analysis['peak_bytes'] / GIB:8.2f}")
    print(f"analysis peak / array size     {analysis['peak_bytes'] / array['array_bytes']:8.2f}")
    above = (analysis["peak_bytes"] - imports["peak_bytes"]) / array["array_bytes"]
    print(f"(analysis - imports) / array   {above:8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
