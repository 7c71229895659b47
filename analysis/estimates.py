"""Means with confidence intervals, and what a comparison may honestly say.

A scale's mean gets the one-sample Student *t* interval (as R's ``t.test(x)$conf.int``):

.. math::

    \\bar x \\pm t_{1 - \\gamma/2,\\, n - 1}\\, \\frac{s}{\\sqrt n}

It is undefined (``None``) for fewer than two scores or scores that do not vary (R's
``t.test`` refuses such data as "essentially constant"). A comparison with a fixed reference
figure (the 2017 national figure) is called a difference only when the reference lies outside
the interval; otherwise it is "no clear difference". The reference's own uncertainty is not
known (the report gives no standard deviations), so the verdict is, if anything, generous to a
difference; the report says the reference comes from a 39-person pilot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd
from scipy.stats import t as t_distribution

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    """A figure with its interval (``low``/``high`` ``None`` when undefined)."""

    value: float
    low: float | None = None
    high: float | None = None

    @property
    def interval(self) -> tuple[float, float] | None:
        if self.low is None or self.high is None:
            return None
        return (self.low, self.high)


def mean_interval(
    values: pd.Series | np.ndarray, confidence: float = CONFIDENCE
) -> tuple[float, float] | None:
    """The one-sample t interval of the mean of ``values`` (missing values dropped)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    array = np.asarray(pd.Series(values, dtype=float).dropna(), dtype=float)
    n = array.size
    if n < 2:
        return None
    sd = float(array.std(ddof=1))
    if not sd > 1e-12 * max(1.0, abs(float(array.mean()))):
        return None
    margin = float(t_distribution.ppf(1 - (1 - confidence) / 2, n - 1)) * sd / math.sqrt(n)
    mean = float(array.mean())
    return (mean - margin, mean + margin)


def mean_estimate(values: pd.Series | np.ndarray, confidence: float = CONFIDENCE) -> Estimate:
    """The mean of ``values`` with its t interval (``nan`` mean when there are none)."""
    array = pd.Series(values, dtype=float).dropna()
    mean = float(array.mean()) if array.size else math.nan
    interval = mean_interval(array, confidence)
    return Estimate(mean, *(interval if interval else (None, None)))


class Verdict(StrEnum):
    """What a comparison of a favourable-keyed score with a reference may say."""

    HIGHER = "higher"  # better: the whole interval is above the reference
    LOWER = "lower"  # worse: the whole interval is below it
    NO_CLEAR_DIFFERENCE = "no clear difference"
    NO_INTERVAL = "no interval"


def verdict(estimate: Estimate, reference: float) -> Verdict:
    """Compare a favourable-keyed estimate with a reference figure through its interval."""
    interval = estimate.interval
    if interval is None:
        return Verdict.NO_INTERVAL
    if interval[0] > reference:
        return Verdict.HIGHER
    if interval[1] < reference:
        return Verdict.LOWER
    return Verdict.NO_CLEAR_DIFFERENCE


VERDICT_WORDS = {
    Verdict.HIGHER: "better than",
    Verdict.LOWER: "worse than",
    Verdict.NO_CLEAR_DIFFERENCE: "no clear difference from",
    Verdict.NO_INTERVAL: "no interval to compare with",
}
