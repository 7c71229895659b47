"""Benchmark: the full analysis of 1k, 10k and 100k responses, relative to reading the CSV.

For each size the script generates responses to the Trustworthy Collaboration instrument
(seeded; correlated answers per scale, about 2% missing), writes them as CSV, and times, in
the same run and as the best of several repeats (the three take turns within each repeat, so
that other work on the machine slows them alike):

* ``read``: ``pandas.read_csv`` of that file (the yardstick);
* ``analysis``: the full analysis of the data frame: :func:`analysis.summary.table4` (every
  scale's alpha, mean, median, mode) plus :func:`analysis.frequencies.item_frequency_tables`
  (every item's frequency table), which is what ``trust-survey analyse`` computes;
* ``load``: :func:`analysis.responses.load_responses`, the CLI's validating reader (shown for
  information; ``analyse`` runs load + analysis).

It prints ``analysis / read`` (target: 2 or less at 100k) and ``(load + analysis) / read``.

Run: ``.venv/bin/python bench/bench_analysis.py [--sizes 1000,10000,100000] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.frequencies import item_frequency_tables
from analysis.instrument import Instrument, load_instrument
from analysis.responses import load_responses
from analysis.summary import table4


def generated_responses(instrument: Instrument, size: int, seed: int = 1) -> pd.DataFrame:
    """``size`` synthetic respondents: one latent trait per scale, about 2% missing answers.

    Parameters
    ----------
    instrument : Instrument
        Gives the items, scales and background questions.
    size : int
        Number of respondents.
    seed : int
        Seed of the numpy Generator.

    Returns
    -------
    pandas.DataFrame
        ``respondent``, ``care_model``, ``professional_role`` and every item (float, NaN
        for missing).
    """
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"respondent": np.arange(1, size + 1)})
    options = {q.id: [o.value for o in q.options] for q in instrument.background if q.options}
    for question in ("care_model", "professional_role"):
        frame[question] = rng.choice(options[question], size=size)
    scale_of = {item: scale.id for scale in instrument.scales for item in scale.items}
    traits = {scale.id: rng.normal(0.0, 1.0, size=size) for scale in instrument.scales}
    for item in instrument.item_ids:
        trait = traits.get(scale_of.get(item, ""), rng.normal(0.0, 1.0, size=size))
        answers = np.clip(np.rint(3 + 0.9 * trait + rng.normal(0.0, 0.8, size=size)), 1, 5)
        answers[rng.random(size) < 0.02] = np.nan
        frame[item] = answers
    return frame


def best_times(actions: Sequence[Callable[[], object]], repeats: int) -> list[float]:
    """The fastest of ``repeats`` runs of each action, in seconds.

    The actions take turns within each repeat, so that a busy machine slows them alike.
    """
    best = [float("inf")] * len(actions)
    for _ in range(repeats):
        for index, action in enumerate(actions):
            start = time.perf_counter()
            action()
            best[index] = min(best[index], time.perf_counter() - start)
    return best


def full_analysis(responses: pd.DataFrame, instrument: Instrument) -> None:
    """Table 4 and every item's frequency table (the work of ``trust-survey analyse``)."""
    table4(responses, instrument)
    item_frequency_tables(responses, instrument)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    instrument = load_instrument("trustworthy-collaboration")
    print(
        f"python {platform.python_version()}, pandas {pd.__version__}, numpy {np.__version__}; "
        f"{platform.machine()}, best of {args.repeats}"
    )
    header = (
        f"{'responses':>10} {'read_csv s':>11} {'analysis s':>11} {'analysis/read':>14} "
        f"{'load s':>8} {'(load+analysis)/read':>21}"
    )
    print(header)
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            path = Path(folder) / f"responses_{size}.csv"
            generated = generated_responses(instrument, size)
            for item in instrument.item_ids:
                generated[item] = generated[item].astype("Int64")
            generated.to_csv(path, index=False)
            responses = pd.read_csv(path)
            read, analysis, load = best_times(
                [
                    partial(pd.read_csv, path),
                    partial(full_analysis, responses, instrument),
                    partial(load_responses, path, instrument),
                ],
                args.repeats,
            )
            print(
                f"{size:>10} {read:>11.4f} {analysis:>11.4f} {analysis / read:>14.2f} "
                f"{load:>8.4f} {(load + analysis) / read:>21.2f}"
            )


if __name__ == "__main__":
    main()
