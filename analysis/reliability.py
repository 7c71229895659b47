"""Internal-consistency reliability: Cronbach's alpha with item statistics.

The point estimate is computed from the covariance matrix as
:func:`pingouin.cronbach_alpha` and R psych's ``alpha()`` compute it; the item
statistics follow psych so that the two agree to rounding error (the test
suite runs R psych live to check it).

No figure is silently wrong. Answers that cannot give an alpha raise
``ValueError`` with a one-line message naming the item: an item with no
answers, two items answered together by fewer than two respondents, an item
whose answers do not vary, a pairwise covariance matrix that is not positive
semi-definite so far that alpha exceeds 1 (impossible for real covariances;
listwise deletion always gives a valid matrix) and covariances that sum to
zero or less. A negative alpha,
or a pairwise matrix that is not positive semi-definite but gives an alpha in
range, is a figure returned with an explicit warning in
``ReliabilityResult.warnings`` naming the item.

With pairwise deletion the Feldt interval's :math:`n` is the number of
respondents who answered at least one item (psych's ``alpha`` uses every row
of the data it is given, answered or not).

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

from analysis.frequencies import spss_round

MissingPolicy = Literal["pairwise", "listwise"]


def missing_policy(text: str) -> MissingPolicy:
    """The missing-answer policy a request names: ``"pairwise"``, else listwise (the default
    of every entry point)."""
    return "pairwise" if text == "pairwise" else "listwise"


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
    warnings: tuple[str, ...] = ()

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
            "warnings": list(self.warnings),
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
    """The answers as a float array without unanswered rows (and incomplete ones, listwise).

    Raises ``ValueError`` naming an item with no answers before any row is dropped.
    """
    if missing not in ("pairwise", "listwise"):
        raise ValueError(f"missing must be 'pairwise' or 'listwise', got {missing!r}")
    if items.shape[1] < 2:
        raise ValueError(f"alpha needs at least 2 items, got {items.shape[1]}")
    non_numeric = [str(c) for c in items.columns if items[c].dtype.kind not in "biuf"]
    if non_numeric:
        raise ValueError(f"items must be numeric; not numeric: {', '.join(non_numeric)}")
    values = items.to_numpy(dtype=float)
    columns = [str(c) for c in items.columns]
    given = ~np.isnan(values)
    unanswered = [columns[i] for i in range(len(columns)) if not given[:, i].any()]
    if unanswered:
        raise ValueError(f"{_listed(unanswered)} {_has(unanswered)} no answers")
    keep = given.all(axis=1) if missing == "listwise" else given.any(axis=1)
    answered = values[keep]
    if answered.shape[0] < 2:
        raise ValueError(
            f"alpha needs at least 2 respondents with answers ({missing}), got {answered.shape[0]}"
        )
    return answered, columns


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _has(names: list[str]) -> str:
    return "has" if len(names) == 1 else "have"


def _check_overlap(answered: np.ndarray, columns: list[str]) -> None:
    """Every pair of items answered together by at least two respondents."""
    given = (~np.isnan(answered)).astype(np.int64)
    together = given.T @ given
    k = len(columns)
    for i in range(k):
        for j in range(i + 1, k):
            if together[i, j] < 2:
                count = "no respondent" if together[i, j] == 0 else "only 1 respondent"
                raise ValueError(
                    f"{columns[i]} and {columns[j]} were answered together by {count} "
                    "(a covariance needs at least 2)"
                )


def _covariance(answered: np.ndarray, columns: list[str]) -> np.ndarray:
    """Covariance matrix (n - 1), pairwise-complete where answers are missing."""
    if not np.isnan(answered).any():
        return np.atleast_2d(np.cov(answered, rowvar=False))
    return pd.DataFrame(answered, columns=columns).cov().to_numpy()


def _not_psd_culprit(covariance: np.ndarray, columns: list[str]) -> str:
    """The item whose removal leaves the most nearly positive semi-definite matrix."""
    k = len(columns)
    best, best_value = columns[0], -math.inf
    for i in range(k):
        keep = [j for j in range(k) if j != i]
        smallest = float(np.linalg.eigvalsh(covariance[np.ix_(keep, keep)])[0])
        if smallest > best_value:
            best, best_value = columns[i], smallest
    return best


def _positive_semidefinite_note(
    covariance: np.ndarray, columns: list[str], missing: str
) -> str | None:
    """``None`` for a positive semi-definite matrix; else a warning, or ``ValueError`` when
    the matrix makes alpha exceed 1 (impossible for real covariances)."""
    eigenvalues = np.linalg.eigvalsh(covariance)
    if eigenvalues[0] >= -1e-10 * max(1.0, float(np.abs(eigenvalues).max())):
        return None
    culprit = _not_psd_culprit(covariance, columns)
    alpha = _alpha_from_covariance(covariance)
    problem = (
        f"the {missing} covariance matrix is not positive semi-definite (smallest eigenvalue "
        f"{eigenvalues[0]:.3g}; {culprit} contributes most, answered together with the other "
        "items by different respondents)"
    )
    if math.isfinite(alpha) and alpha > 1:
        raise ValueError(
            f"{problem}, so alpha would be {spss_round(alpha, 3)}, outside [-inf, 1]; "
            f"use listwise deletion or leave {culprit} out"
        )
    return f"{problem}: alpha is an approximation; listwise deletion gives a proper matrix"


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
        Fewer than two items or respondents, non-numeric columns, an item with
        no answers, two items answered together by fewer than two respondents,
        items whose answers do not vary, a covariance matrix that is not
        positive semi-definite enough to push alpha above 1, or covariances
        summing to zero or less (each message names the item).

    Examples
    --------
    >>> import pingouin as pg
    >>> result = cronbach_alpha(pg.read_dataset("cronbach_wide_missing"))
    >>> round(result.alpha, 6), [round(x, 3) for x in result.ci]
    (0.732661, [0.435, 0.909])
    """
    answered, columns = _validated(items, missing)
    n, k = answered.shape
    _check_overlap(answered, columns)
    covariance = _covariance(answered, columns)
    variances = np.diag(covariance)
    flat = [columns[i] for i in range(k) if not variances[i] > 0]
    if flat:
        raise ValueError(f"items whose answers do not vary: {', '.join(flat)}")
    notes: list[str] = []
    psd_note = _positive_semidefinite_note(covariance, columns, missing)
    total = float(covariance.sum())
    if total <= 0:
        raise ValueError(
            "the items' covariances sum to zero or less, so alpha is undefined: "
            f"{_listed(_negative_items(covariance, columns))} correlate negatively with the "
            "rest (reverse-keyed?)"
        )
    alpha = _alpha_from_covariance(covariance)

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

    if psd_note:
        notes.append(psd_note)
    if alpha < 0:
        negative = [s.item for s in statistics if (s.corrected_item_total_r or 0) < 0]
        culprits = negative or _negative_items(covariance, columns)
        notes.append(
            f"alpha is negative ({spss_round(alpha, 3)}): the items covary negatively on average; "
            f"{_listed(culprits)} correlate{'s' if len(culprits) == 1 else ''} negatively "
            "with the rest (reverse-keyed?)"
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
        warnings=tuple(notes),
    )


def _negative_items(covariance: np.ndarray, columns: list[str]) -> list[str]:
    """Items whose covariances with the other items sum below zero."""
    sums = covariance.sum(axis=1) - np.diag(covariance)
    named = [columns[i] for i in range(len(columns)) if sums[i] < 0]
    return named or [columns[int(np.argmin(sums))]]
