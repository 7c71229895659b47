"""A reproducible demo data set: fictional answers that reproduce a pilot's published figures.

:func:`demo_responses` builds one fictional response per respondent of a pilot survey, answers
to the pilot's instrument that reproduce what the pilot's report publishes about them.  The
figures are data: a pilot file beside the instrument (``instruments/pilots/<instrument>.yaml``,
validated by :mod:`analysis.pilot`) gives them by the instrument's own ids, and this module is
the algorithm that meets them.  The bundled pilot is the NHS Employers report *Trustworthy
Collaboration* (2017) and its 39 respondents, for the default instrument; its file comments
on every figure and prints the comparison :func:`table4_comparison` makes.

Given a pilot, the demo reproduces:

* **exactly** the respondents by kind of partnership and the number of partnerships of each
  kind (the report's Table 3), and the counts of other choice background answers;
* **exactly** every frequency table the pilot gives (the report's Tables 5 and 6, and the
  single-item rows of Table 4 as fixed multisets of answers that give its mean, median and
  mode to one decimal; a table with fewer answers than respondents leaves the rest missing);
* the multi-item scale targets (mean, median and mode of the composite score, in the items'
  raw agreement direction, and listwise Cronbach's alpha, Table 4's multi-item rows) as
  closely as a small seeded search gets them: starting from correlated latent traits, it
  changes single answers by one point (and, for items with a frequency table, only swaps
  answers between respondents, so that their frequencies stay exact) until every figure
  matches.  With the pilot's seed every figure prints as published.

Some figures can only be met with a missing answer (a median halfway between two answers
needs an even number of them; a median of a four-item composite that is not a quarter needs
a respondent with three answers): the pilot gives those as frequency tables short of the
respondents, or as ``missing`` answers within a scale target.  An item in no target (the
report's dropped item) is a ``weak_items`` entry: it follows a scale's composite only loosely,
so that alpha falls when it is added, as the report found.

The background columns are fictional: the pilot's partnerships (names and respondents per
kind), each respondent's organisation kind drawn from the kinds the pilot lists for the
group, and the other background counts shuffled over the respondents.

The module is pure (it reads the bundled YAML files; no database; numpy, pandas and
:mod:`analysis`) and deterministic: the same pilot and seed give the same data frame, in
well under a second.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.frequencies import spss_round
from analysis.instrument import Instrument
from analysis.pilot import SCORE_STEPS, Pilot, ScaleTarget, load_pilot, multiset
from analysis.summary import table4

_MEAN_MARGIN = 0.035  # the mean must round to the printed figure with room to spare
_ALPHA_MARGIN = 0.00049  # alpha must print as the report's three decimals
_MAX_STEPS = 60_000
_TEMPERATURE = 0.02


def _multiset(counts: dict[int, int], respondents: int) -> np.ndarray:
    """The answers behind a frequency table, as a float array (NaN for the rest)."""
    return np.array(multiset(counts, respondents), dtype=float)


def _composite(answers: np.ndarray) -> np.ndarray:
    """Mean of each respondent's answered items."""
    present = ~np.isnan(answers)
    totals: np.ndarray = np.where(present, answers, 0.0).sum(axis=1)
    scores: np.ndarray = totals / present.sum(axis=1)
    return scores


class _ScaleSearch:
    """Running sums of one scale's answers, so that a one-cell change is cheap to score.

    Holds, for every pair of items (including an item with itself), the count, sums and
    sum of products over the respondents who answered every item of the scale (listwise,
    as SPSS and :func:`analysis.summary.table4` compute alpha), and a histogram of the
    composite scores keyed by ``SCORE_STEPS * score`` (exact for means of up to four items).
    """

    def __init__(self, answers: np.ndarray, target: ScaleTarget) -> None:
        self.target = target
        self.k = answers.shape[1]
        self.cells: list[list[float | None]] = [
            [None if math.isnan(v) else float(v) for v in row] for row in answers.tolist()
        ]
        self.pairs = [(i, j) for i in range(self.k) for j in range(i, self.k)]
        self.sums: dict[tuple[int, int], list[float]] = {
            p: [0.0, 0.0, 0.0, 0.0] for p in self.pairs
        }
        self.histogram: dict[int, int] = {}
        self.key_total = 0
        for row in self.cells:
            self._add_row(row, 1.0)
        self.target_median = round(SCORE_STEPS * target.median)
        self.target_mode = round(SCORE_STEPS * target.mode)

    def _row_key(self, row: list[float | None]) -> int:
        present = [v for v in row if v is not None]
        return round(SCORE_STEPS * sum(present) / len(present))

    def _add_row(self, row: list[float | None], sign: float) -> None:
        complete = [v for v in row if v is not None]
        if len(complete) == self.k:  # listwise: only complete rows enter alpha
            for i, j in self.pairs:
                x, y = complete[i], complete[j]
                cell = self.sums[(i, j)]
                cell[0] += sign
                cell[1] += sign * x
                cell[2] += sign * y
                cell[3] += sign * x * y
        key = self._row_key(row)
        self.histogram[key] = self.histogram.get(key, 0) + int(sign)
        self.key_total += int(sign) * key

    def set_cell(self, row_index: int, column: int, value: float) -> None:
        row = self.cells[row_index]
        self._add_row(row, -1.0)
        row[column] = value
        self._add_row(row, 1.0)

    def alpha(self) -> float:
        trace = 0.0
        total = 0.0
        for (i, j), (n, sx, sy, sxy) in self.sums.items():
            cov = (sxy - sx * sy / n) / (n - 1)
            if i == j:
                trace += cov
                total += cov
            else:
                total += 2 * cov
        if total <= 0:
            return -math.inf
        return float(self.k / (self.k - 1) * (1 - trace / total))

    def mismatch(self) -> float:
        """0 when mean, median, mode and alpha all match; graded so that a search sees progress."""
        target = self.target
        n = len(self.cells)
        mean = self.key_total / SCORE_STEPS / n
        mean_gap = max(0.0, abs(mean - target.mean) - _MEAN_MARGIN)
        below = sum(c for key, c in self.histogram.items() if key < self.target_median)
        at_or_below = below + self.histogram.get(self.target_median, 0)
        middle = (n + 1) // 2
        median_gap = float(max(0, below - (middle - 1)) + max(0, middle - at_or_below))
        if median_gap:
            # Pull the nearest score towards the target too (a median such as 8/3 needs
            # the one respondent whose score can reach it).
            nearest = min(abs(key - self.target_median) for key, c in self.histogram.items() if c)
            median_gap += nearest / SCORE_STEPS
        at_mode = self.histogram.get(self.target_mode, 0)
        mode_gap = 0
        for key, count in self.histogram.items():
            if key != self.target_mode:
                mode_gap = max(mode_gap, count - at_mode + 1)  # a single mode, as printed
        alpha_gap = max(0.0, abs(self.alpha() - target.alpha) - _ALPHA_MARGIN)
        return 40 * mean_gap + median_gap + mode_gap + 20 * alpha_gap

    def answers(self) -> np.ndarray:
        return np.array(
            [[math.nan if v is None else v for v in row] for row in self.cells], dtype=float
        )


def _latent_answers(
    rng: np.random.Generator, trait: np.ndarray, mean: float, loading: float, low: int, high: int
) -> np.ndarray:
    """One item's answers: a correlated latent trait plus noise, cut to the answer scale."""
    raw = mean + loading * trait + rng.normal(0.0, 0.75, size=trait.shape)
    return np.clip(np.rint(raw), low, high)


def _fixed_by_trait(
    rng: np.random.Generator, trait: np.ndarray, counts: dict[int, int]
) -> np.ndarray:
    """A fixed multiset of answers, ordered to follow the trait loosely."""
    answers = np.sort(_multiset(counts, len(trait)))
    order = np.argsort(trait + rng.normal(0.0, 0.8, size=trait.shape))
    placed = np.empty_like(answers)
    placed[order] = answers
    return placed


def _fit_scale(rng: np.random.Generator, pilot: Pilot, target: ScaleTarget) -> np.ndarray:
    """Answers for one multi-item scale, searched until they match ``target``.

    Items with a frequency table in the pilot keep it (the search only swaps their answers
    between respondents); the pilot's ``missing`` answers of the scale's items are left blank
    at random before the search.
    """
    respondents = pilot.spec.respondents
    frequencies = pilot.spec.frequencies
    items = pilot.target_items(target)
    answer_scale = pilot.instrument.response_scale_of_scale(target.scale)
    low, high = float(answer_scale.min), float(answer_scale.max)
    trait = rng.normal(0.0, 1.0, size=respondents)
    columns = []
    for item in items:
        if item in frequencies:
            columns.append(_fixed_by_trait(rng, trait, frequencies[item]))
        else:
            columns.append(
                _latent_answers(rng, trait, target.mean, 0.9, answer_scale.min, answer_scale.max)
            )
    answers = np.column_stack(columns)
    for item, count in pilot.spec.missing.items():
        if item in items:
            rows = rng.choice(respondents, size=count, replace=False)
            answers[rows, items.index(item)] = math.nan
    fixed = [items.index(item) for item in items if item in frequencies]
    free_cells = np.argwhere(~np.isnan(answers))
    free_cells = free_cells[~np.isin(free_cells[:, 1], fixed)]

    search = _ScaleSearch(answers, target)
    cells = search.cells
    score = search.mismatch()
    best_score, best = score, search.answers()
    for step in range(_MAX_STEPS):
        if best_score == 0.0:
            break
        temperature = _TEMPERATURE * (1 - step / _MAX_STEPS)
        changes: list[tuple[int, int, float, float]] = []  # row, column, old, new
        if fixed and rng.random() < 0.3:
            column = fixed[int(rng.integers(len(fixed)))]
            first, second = (int(r) for r in rng.choice(respondents, size=2, replace=False))
            old_first, old_second = cells[first][column], cells[second][column]
            if old_first is None or old_second is None or old_first == old_second:
                continue
            changes = [
                (first, column, old_first, old_second),
                (second, column, old_second, old_first),
            ]
        else:
            row, column = (int(v) for v in free_cells[int(rng.integers(len(free_cells)))])
            old = cells[row][column]
            new = (old or 0.0) + (1.0 if rng.random() < 0.5 else -1.0)
            if old is None or not low <= new <= high:
                continue
            changes = [(row, column, old, new)]
        for row, column, _, new in changes:
            search.set_cell(row, column, new)
        candidate_score = search.mismatch()
        worse_by = candidate_score - score
        if worse_by <= 0 or rng.random() < math.exp(-worse_by / max(temperature, 1e-9)):
            score = candidate_score
            if score < best_score:
                best_score, best = score, search.answers()
        else:
            for row, column, old, _ in changes:
                search.set_cell(row, column, old)
    return best


def _weak_item(
    rng: np.random.Generator,
    anchor: np.ndarray,
    *,
    mean: float,
    loading: float,
    noise: float,
    missing: int,
    low: int,
    high: int,
) -> np.ndarray:
    """An item loosely related to a scale's composite ``anchor``, with a few blanks."""
    raw = mean + loading * (anchor - np.nanmean(anchor)) + rng.normal(0.0, noise, size=anchor.shape)
    answers: np.ndarray = np.clip(np.rint(raw), low, high)
    answers[rng.choice(len(answers), size=missing, replace=False)] = math.nan
    return answers


def _background(rng: np.random.Generator, pilot: Pilot) -> dict[str, list[str]]:
    """The background answers of every respondent, by background question id.

    Each respondent belongs to one of the pilot's partnerships (the instrument's partnership
    name question and partnership attribute), has an organisation kind drawn from the group's
    kinds (its organisation attribute), and gets the other counted answers in shuffled order.
    """
    instrument = pilot.instrument
    rows: list[tuple[str, str, str]] = []
    for group in pilot.spec.partnerships:
        kinds = group.organisation_kinds
        for name, size in group.names.items():
            for _ in range(size):
                rows.append((name, group.kind, kinds[int(rng.integers(len(kinds)))]))
    order = rng.permutation(len(rows))
    columns: dict[str, list[str]] = {}
    attributes = (
        instrument.partnership_name_question,
        instrument.partnership_attribute,
        instrument.organisation_attribute,
    )
    for position, question_id in enumerate(attributes):
        assert question_id is not None  # the pilot's validation checks the instrument names it
        columns[question_id] = [rows[i][position] for i in order]
    for question_id, counts in pilot.spec.background_counts.items():
        values = [value for value, count in counts.items() for _ in range(count)]
        value_order = rng.permutation(len(values))
        columns[question_id] = [values[i] for i in value_order]
    return columns


def demo_responses(seed: int | None = None, pilot: Pilot | None = None) -> pd.DataFrame:
    """Build the demo responses.

    Parameters
    ----------
    seed : int, optional
        Seed of the :class:`numpy.random.Generator`; the same seed gives the same frame.
        By default the pilot's own seed, with which every figure is met.
    pilot : Pilot, optional
        The published figures to reproduce; by default the pilot of the default instrument
        (:func:`analysis.pilot.load_pilot`).

    Returns
    -------
    pandas.DataFrame
        Columns ``respondent`` (1..n), the background questions the pilot fills (strings, in
        the instrument's order), then the instrument's item ids as floats with NaN for a
        missing answer.  The partnership counts, background counts and frequency tables are
        exact for every seed; the scale targets are met for the pilot's seed (see the module
        docstring).
    """
    pilot = pilot if pilot is not None else load_pilot()
    spec = pilot.spec
    instrument = pilot.instrument
    rng = np.random.default_rng(spec.seed if seed is None else seed)
    background = _background(rng, pilot)
    answers: dict[str, np.ndarray] = {}
    for target in spec.scale_targets:
        fitted = _fit_scale(rng, pilot, target)
        for index, item in enumerate(pilot.target_items(target)):
            answers[item] = fitted[:, index]
    for item, counts in spec.frequencies.items():
        if item not in answers:
            answers[item] = rng.permutation(_multiset(counts, spec.respondents))
    for weak in spec.weak_items:
        anchor = np.column_stack([answers[i] for i in instrument.scale(weak.anchor).items])
        answer_scale = instrument.response_scale_of(weak.item)
        answers[weak.item] = _weak_item(
            rng,
            _composite(anchor),
            mean=weak.mean,
            loading=weak.loading,
            noise=weak.noise,
            missing=weak.missing,
            low=answer_scale.min,
            high=answer_scale.max,
        )

    frame = pd.DataFrame({"respondent": np.arange(1, spec.respondents + 1)})
    for column in pilot.background_columns:
        frame[column] = background[column]
    for item in instrument.item_ids:
        frame[item] = answers[item].astype(float)
    return frame


def write_demo_csv(path: str | Path, seed: int | None = None, pilot: Pilot | None = None) -> Path:
    """Write :func:`demo_responses` as a UTF-8 CSV (empty cells for missing answers).

    Parameters
    ----------
    path : str or pathlib.Path
        Where to write; parent folders must exist.
    seed : int, optional
        Seed passed to :func:`demo_responses` (by default the pilot's).
    pilot : Pilot, optional
        Pilot passed to :func:`demo_responses` (by default the default instrument's).

    Returns
    -------
    pathlib.Path
        The path written.
    """
    target = Path(path)
    target.write_text(demo_csv_text(seed, pilot), encoding="utf-8")
    return target


def demo_csv_text(seed: int | None = None, pilot: Pilot | None = None) -> str:
    """The demo responses as CSV text, answers written as whole numbers.

    Parameters
    ----------
    seed : int, optional
        Seed passed to :func:`demo_responses` (by default the pilot's).
    pilot : Pilot, optional
        Pilot passed to :func:`demo_responses` (by default the default instrument's).

    Returns
    -------
    str
        Header plus one row per respondent, ``\\n`` line endings.
    """
    pilot = pilot if pilot is not None else load_pilot()
    frame = demo_responses(seed, pilot)
    for item in pilot.instrument.item_ids:
        frame[item] = frame[item].astype("Int64")
    return frame.to_csv(index=False, lineterminator="\n")


def raw_direction(instrument: Instrument) -> Instrument:
    """The instrument with no item reverse-keyed, for figures in the items' raw direction.

    Parameters
    ----------
    instrument : Instrument
        Any instrument.

    Returns
    -------
    Instrument
        A validated copy whose items all have ``reverse_keyed`` false.
    """
    document = instrument.model_dump(mode="json")
    for item in document["items"]:
        item["reverse_keyed"] = False
    return Instrument.model_validate(document)


def table4_comparison(responses: pd.DataFrame, pilot: Pilot | None = None) -> str:
    """The instrument's published benchmarks next to the same figures from ``responses``.

    The figures come from :func:`analysis.summary.table4` (listwise alpha, as SPSS) on the
    items' raw answers, the direction in which the report prints every row of its Table 4,
    rounded half away from zero as SPSS displays them.

    Parameters
    ----------
    responses : pandas.DataFrame
        Responses with the instrument's item columns.
    pilot : Pilot, optional
        Whose instrument's benchmarks to compare with; by default the default instrument's.

    Returns
    -------
    str
        A fixed-width text table, one line per benchmarked scale: the published figure
        first, the responses' figure in brackets; ``*`` marks a mode shared with other values.
    """
    instrument = (pilot if pilot is not None else load_pilot()).instrument
    computed = table4(responses, raw_direction(instrument))
    header = f"{'scale':<29} {'alpha':<15} {'mean':<11} {'median':<11} mode"
    lines = [header]
    for scale in computed.scales:
        published = instrument.scale(scale.scale_id).benchmark
        if published is None:
            raise ValueError(f"scale {scale.scale_id} has no benchmark")
        alpha = "-"
        if published.alpha is not None and scale.alpha is not None:
            alpha = f"{spss_round(published.alpha, 3)} ({spss_round(scale.alpha, 3)})"
        cells = [
            f"{spss_round(report, 1)} ({spss_round(demo, 1)})"
            for report, demo in (
                (published.mean, scale.mean),
                (published.median, scale.median),
                (published.mode, scale.mode),
            )
        ]
        if scale.multiple_modes:
            cells[2] += "*"
        lines.append(f"{scale.name:<29} {alpha:<15} {cells[0]:<11} {cells[1]:<11} {cells[2]}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(table4_comparison(demo_responses()) + "\n")
