"""Internal-consistency reliability: Cronbach's alpha with item statistics.

The point estimate comes from :func:`pingouin.cronbach_alpha`; the item
statistics follow R psych's ``alpha()`` so that the two agree to rounding
error (the test suite runs R psych live to check it).

With :math:`k` items, covariance matrix :math:`C` (pairwise or listwise
complete observations, denominator :math:`n - 1`) and correlation matrix
:math:`R`:

.. math::

    \\alpha = \\frac{k}{k - 1}\\left(1 - \\frac{\\operatorname{tr} C}{\\sum_{ij} C_{ij}}\\right)
    \\qquad
    \\alpha_{\\text{std}} = \\frac{k}{k - 1}\\left(1 - \\frac{k}{\\sum_{ij} R_{ij}}\\right)

The corrected item-total correlation of item :math:`i` (psych's ``r.drop``)
correlates the item with the sum of the other items, from :math:`C` alone:

.. math::

    r_{i,\\text{drop}} = \\frac{\\sum_{j \\ne i} C_{ij}}
                              {\\sqrt{C_{ii} \\sum_{j, l \\ne i} C_{jl}}}

and "alpha if item deleted" is :math:`\\alpha` of :math:`C` without row and
column :math:`i`. The confidence interval is Feldt's (Feldt, Woodruff and
Salih 1987), as in pingouin:

.. math::

    \\alpha_L = 1 - (1 - \\alpha) F_{1 - \\gamma/2}(n - 1, (n - 1)(k - 1)),\\quad
    \\alpha_U = 1 - (1 - \\alpha) F_{\\gamma/2}(n - 1, (n - 1)(k - 1))

References
----------
Cronbach, L. J. (1951). Coefficient alpha and the internal structure of tests.
*Psychometrika*, 16(3), 297-334.

Feldt, L. S., Woodruff, D. J. and Salih, F. A. (1987). Statistical inference
for coefficient alpha. *Applied Psychological Measurement*, 11(1), 93-103.

Revelle, W. psych: Procedures for Psychological, Psychometric, and Personality
Research, function ``alpha``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy.stats import f as f_distribution

MissingPolicy = Literal["pairwise", "listwise"]


@dataclass(frozen=True)
class ItemStatistics:
    """One item's line in a reliability analysis.

    ``alpha_if_deleted`` is ``None`` for a two-item scale (one item left has no
    alpha); ``corrected_item_total_r`` is ``None`` when it cannot be computed
    (an item or the rest with no variance).
    """

    item: str
    n: int
    mean: float
    sd: float
    corrected_item_total_r: float | None
    alpha_if_deleted: float | None


@dataclass(frozen=True)
class ReliabilityResult:
    """Cronbach's alpha of a set of items, with its CI and per-item statistics."""

    alpha: float
    ci: tuple[float, float]
    confidence: float
    standardized_alpha: float
    n: int
    k: int
    missing: MissingPolicy
    items: tuple[ItemStatistics, ...]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready mapping with the documented keys."""
        return {
            "alpha": self.alpha,
            "ci": [self.ci[0], self.ci[1]],
            "confidence": self.confidence,
            "standardized_alpha": self.standardized_alpha,
            "n": self.n,
            "k": self.k,
            "missing": self.missing,
            "items": [asdict(item) for item in self.items],
        }


def _alpha_from_covariance(covariance: np.ndarray) -> float:
    k = covariance.shape[0]
    total = covariance.sum()
    if total <= 0:
        return math.nan
    return float((k / (k - 1)) * (1 - np.trace(covariance) / total))


def _finite_or_none(value: float) -> float | None:
    return None if not math.isfinite(value) else float(value)


def feldt_interval(alpha: float, n: int, k: int, confidence: float = 0.95) -> tuple[float, float]:
    """Feldt's confidence interval for Cronbach's alpha.

    Parameters
    ----------
    alpha : float
        The point estimate.
    n : int
        Respondents used.
    k : int
        Items.
    confidence : float
        Coverage, 0.95 by default.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    if n < 2 or k < 2:
        raise ValueError("the interval needs at least 2 respondents and 2 items")
    tail = (1 - confidence) / 2
    df1 = n - 1
    df2 = df1 * (k - 1)
    lower = 1 - (1 - alpha) * float(f_distribution.isf(tail, df1, df2))
    upper = 1 - (1 - alpha) * float(f_distribution.isf(1 - tail, df1, df2))
    return (lower, upper)


def _validated(items: pd.DataFrame, missing: str) -> tuple[np.ndarray, list[str]]:
    """The answers as a float array without unanswered rows (and incomplete ones, listwise)."""
    if missing not in ("pairwise", "listwise"):
        raise ValueError(f"missing must be 'pairwise' or 'listwise', got {missing!r}")
    if items.shape[1] < 2:
        raise ValueError(f"alpha needs at least 2 items, got {items.shape[1]}")
    non_numeric = [str(c) for c in items.columns if items[c].dtype.kind not in "biuf"]
    if non_numeric:
        raise ValueError(f"items must be numeric; not numeric: {', '.join(non_numeric)}")
    values = items.to_numpy(dtype=float)
    given = ~np.isnan(values)
    keep = given.all(axis=1) if missing == "listwise" else given.any(axis=1)
    answered = values[keep]
    if answered.shape[0] < 2:
        raise ValueError(
            f"alpha needs at least 2 respondents with answers ({missing}), got {answered.shape[0]}"
        )
    return answered, [str(c) for c in items.columns]


def _covariance(answered: np.ndarray, columns: list[str]) -> np.ndarray:
    """Covariance matrix (n - 1), pairwise-complete where answers are missing."""
    if not np.isnan(answered).any():
        return np.atleast_2d(np.cov(answered, rowvar=False))
    return pd.DataFrame(answered, columns=columns).cov().to_numpy()


def cronbach_alpha(
    items: pd.DataFrame,
    *,
    missing: MissingPolicy = "pairwise",
    confidence: float = 0.95,
) -> ReliabilityResult:
    """Cronbach's alpha with Feldt's CI, standardized alpha and item statistics.

    Parameters
    ----------
    items : pandas.DataFrame
        One column per item, already reverse-keyed; one row per respondent.
        Missing answers are NaN. Rows with no answer at all are ignored.
    missing : {"pairwise", "listwise"}
        ``pairwise`` (R psych's default) computes each covariance from the
        respondents who answered both items; ``listwise`` keeps only the
        respondents who answered every item (SPSS's default).
    confidence : float
        Coverage of the interval.

    Returns
    -------
    ReliabilityResult
        ``n`` is the number of respondents used (with at least one answer for
        pairwise, all answers for listwise) and ``k`` the number of items.

    Raises
    ------
    ValueError
        Fewer than two items or respondents, non-numeric columns, or items
        whose answers do not vary.

    Examples
    --------
    >>> import pingouin as pg
    >>> result = cronbach_alpha(pg.read_dataset("cronbach_wide_missing"))
    >>> round(result.alpha, 6), [round(x, 3) for x in result.ci]
    (0.732661, [0.435, 0.909])
    """
    answered, columns = _validated(items, missing)
    n, k = answered.shape
    covariance = _covariance(answered, columns)
    if np.isnan(covariance).any():
        raise ValueError("some pairs of items were never answered together")
    variances = np.diag(covariance)
    flat = [columns[i] for i in range(k) if not variances[i] > 0]
    if flat:
        raise ValueError(f"items whose answers do not vary: {', '.join(flat)}")

    import pingouin  # imported here: it takes a second to import, and most commands never need it

    alpha_value, _ = pingouin.cronbach_alpha(
        data=pd.DataFrame(answered, columns=columns), nan_policy=missing
    )
    alpha = float(alpha_value)

    scale = np.sqrt(variances)
    correlation = covariance / np.outer(scale, scale)
    standardized = float((k / (k - 1)) * (1 - k / correlation.sum()))

    statistics: list[ItemStatistics] = []
    for i, item in enumerate(columns):
        keep = [j for j in range(k) if j != i]
        rest = covariance[np.ix_(keep, keep)]
        rest_variance = rest.sum()
        with_rest = covariance[i, keep].sum()
        denominator = math.sqrt(covariance[i, i] * rest_variance) if rest_variance > 0 else 0.0
        r_drop = with_rest / denominator if denominator > 0 else math.nan
        alpha_drop = _alpha_from_covariance(rest) if k > 2 else math.nan
        values = answered[:, i][~np.isnan(answered[:, i])]
        statistics.append(
            ItemStatistics(
                item=item,
                n=int(values.size),
                mean=float(values.mean()),
                sd=float(values.std(ddof=1)) if values.size > 1 else math.nan,
                corrected_item_total_r=_finite_or_none(r_drop),
                alpha_if_deleted=_finite_or_none(alpha_drop),
            )
        )

    return ReliabilityResult(
        alpha=alpha,
        ci=feldt_interval(alpha, n, k, confidence),
        confidence=confidence,
        standardized_alpha=standardized,
        n=int(n),
        k=int(k),
        missing=missing,
        items=tuple(statistics),
    )
