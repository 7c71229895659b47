"""Descriptive statistics of one variable, with SPSS's conventions.

SPSS ``FREQUENCIES /STATISTICS`` reports the mean, the median, the mode and the
standard deviation (denominator :math:`n - 1`) of the valid answers, with the
number of valid and missing cases. When several values share the highest
frequency SPSS shows the smallest and footnotes "Multiple modes exist. The
smallest value is shown"; :class:`Descriptives` carries that flag.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

# Composite scores such as 2.75 are means of a few integers; values closer than
# this are one value for the mode (guards against floating-point noise).
_MODE_DECIMALS = 9


@dataclass(frozen=True)
class Descriptives:
    """Summary of the valid (non-missing) values of one variable.

    Statistics are ``nan`` when there are no valid values (``sd`` also when
    there is only one).
    """

    mean: float
    median: float
    mode: float
    multiple_modes: bool
    sd: float
    n_valid: int
    n_missing: int

    def to_dict(self) -> dict[str, object]:
        return {
            key: (None if isinstance(value, float) and not math.isfinite(value) else value)
            for key, value in asdict(self).items()
        }


def numeric_array(values: pd.Series, name: str) -> np.ndarray:
    """The values as floats (NaN for missing), raising ``ValueError`` naming a non-number."""
    if values.dtype.kind == "f":
        return values.to_numpy(dtype=float)
    numeric = pd.to_numeric(values, errors="coerce").astype(float)
    non_numeric = values.notna() & numeric.isna()
    if non_numeric.any():
        raise ValueError(f"{name}: {values[non_numeric].iloc[0]!r} is not a number")
    return numeric.to_numpy(dtype=float)


def smallest_mode(values: pd.Series) -> tuple[float, bool]:
    """The smallest most frequent value and whether other values tie with it.

    Parameters
    ----------
    values : pandas.Series
        Numeric values; missing values are ignored.

    Returns
    -------
    (mode, multiple_modes)
        ``(nan, False)`` when there is no valid value.
    """
    numbers = pd.to_numeric(values, errors="raise").to_numpy(dtype=float)
    return _smallest_mode(np.sort(numbers[~np.isnan(numbers)]))


def _smallest_mode(ordered: np.ndarray) -> tuple[float, bool]:
    """Mode of already sorted, non-missing values (see :func:`smallest_mode`)."""
    if ordered.size == 0:
        return (math.nan, False)
    distinct, counts = np.unique(np.round(ordered, _MODE_DECIMALS), return_counts=True)
    top = counts.max()
    modes = distinct[counts == top]
    return (float(modes[0]), modes.size > 1)


def describe(values: pd.Series) -> Descriptives:
    """Mean, median, mode (smallest, flagged if several), SD, valid and missing n.

    Parameters
    ----------
    values : pandas.Series
        Answers or scores; NaN counts as missing.

    Examples
    --------
    >>> result = describe(pd.Series([1, 2, 2, 3, 3, None]))
    >>> result.mean, result.median, result.mode, result.multiple_modes
    (2.2, 2.0, 2.0, True)
    >>> result.n_valid, result.n_missing
    (5, 1)
    """
    numbers = numeric_array(values, str(values.name or "values"))
    ordered = np.sort(numbers[~np.isnan(numbers)])
    n_valid = int(ordered.size)
    mode, multiple = _smallest_mode(ordered)
    if n_valid:
        middle = n_valid // 2
        median = (
            float(ordered[middle])
            if n_valid % 2
            else float((ordered[middle - 1] + ordered[middle]) / 2)
        )
    return Descriptives(
        mean=float(ordered.mean()) if n_valid else math.nan,
        median=median if n_valid else math.nan,
        mode=mode,
        multiple_modes=multiple,
        sd=float(ordered.std(ddof=1)) if n_valid > 1 else math.nan,
        n_valid=n_valid,
        n_missing=int(numbers.size - n_valid),
    )
