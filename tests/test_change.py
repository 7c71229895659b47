"""Change between rounds: Welch's interval checked against scipy's own Welch test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.change import scale_changes, welch_interval


def test_welch_interval_matches_scipy() -> None:
    rng = np.random.default_rng(3)
    before = pd.Series(rng.normal(3.1, 0.6, 30))
    after = pd.Series(rng.normal(3.5, 0.9, 45))
    low, high = welch_interval(before, after)  # type: ignore[misc]
    result = stats.ttest_ind(after, before, equal_var=False)
    expected = result.confidence_interval(0.95)
    assert (low, high) == pytest.approx((expected.low, expected.high), abs=1e-12)


def test_scale_changes_and_clear_flag() -> None:
    previous = pd.DataFrame({"trust": [3.0, 3.2, 2.8, 3.1, 2.9], "only_before": [1.0] * 5})
    current = pd.DataFrame({"trust": [4.0, 4.2, 3.8, 4.1, 3.9, None]})
    (change,) = scale_changes(previous, current)
    assert change.difference == pytest.approx(1.0)
    assert (change.previous_n, change.current_n) == (5, 5)
    assert change.clear
    assert change.to_dict()["ci"] is not None


def test_too_few_answers_give_no_interval() -> None:
    assert welch_interval(pd.Series([3.0]), pd.Series([4.0, 5.0])) is None
    with pytest.raises(ValueError, match="confidence"):
        welch_interval(pd.Series([3.0, 4.0]), pd.Series([4.0, 5.0]), confidence=1.5)


def test_two_rounds_without_variance_give_no_interval_and_say_why() -> None:
    """R: t.test(c(1,1,1), c(1,1,1)) stops with "data are essentially constant"; a zero-width
    interval (1.00, 1.00) must not be called a clear change."""
    previous = pd.DataFrame({"trust": [3.0, 3.0, 3.0]})
    current = pd.DataFrame({"trust": [4.0, 4.0, 4.0, 4.0]})
    assert welch_interval(previous["trust"], current["trust"]) is None
    (change,) = scale_changes(previous, current)
    assert change.ci is None and not change.clear
    assert change.note is not None and "vary in neither round" in change.note
    assert change.to_dict()["note"] == change.note
    # one round without variance still has an interval (the other's variance)
    (some,) = scale_changes(previous, pd.DataFrame({"trust": [4.0, 5.0, 4.0]}))
    assert some.ci is not None and some.note is None
