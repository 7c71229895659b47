"""McDonald's omega total from a one-factor model, with a bootstrap confidence interval.

Omega is computed as R psych's ``omega(x, nfactors = 1)`` computes it (the test suite runs
psych live on its ``bfi`` data and agrees to 1e-4):

1. :math:`R`, the Pearson correlations of the items (pairwise complete by default, as
   ``omega`` uses; or listwise);
2. a one-factor minres fit (:func:`analysis.factor.extract_factors`) gives loadings
   :math:`\\lambda_i`, communalities :math:`h^2_i = \\lambda_i^2` and uniquenesses
   :math:`u^2_i = 1 - \\lambda_i^2`;
3. items loading negatively are reversed (psych's ``flip = TRUE``: :math:`R` becomes
   :math:`D R D` with :math:`D = \\mathrm{diag}(\\mathrm{sign}\\,\\lambda)`), and said so in
   the warnings, since a negative loading usually means an item that should have been
   reverse-keyed;
4. with :math:`V_t = \\sum_{ij} R_{ij}` the variance of the total of the standardised items,

.. math::

    \\omega_t = \\frac{V_t - \\sum_i u^2_i}{V_t}.

With one factor psych's :math:`\\omega_h` equals :math:`(\\sum_i \\lambda_i)^2 / V_t`; it is
reported too (it is not a hierarchical omega with one factor).

The confidence interval is the percentile bootstrap: the respondents are resampled with
replacement ``bootstrap`` times (a seeded generator, so the same call gives the same
interval) and :math:`\\omega_t` recomputed each time (each fit starting from the full
sample's uniquenesses); resamples in which it cannot be
computed (an item without variance) are dropped and counted.

References
----------
McDonald, R. P. (1999). *Test theory: A unified treatment*. Mahwah, NJ: Erlbaum.

Revelle, W. and Zinbarg, R. E. (2009). Coefficients alpha, beta, omega, and the glb:
comments on Sijtsma. *Psychometrika*, 74, 145-154.

Kelley, K. and Pornprasertmanit, S. (2016). Confidence intervals for population
reliability coefficients: Evaluation of methods, recommendations, and software for
composite measures. *Psychological Methods*, 21, 69-92.

Efron, B. and Tibshirani, R. J. (1993). *An introduction to the bootstrap*. Chapman & Hall.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.factor import MissingPolicy, extract_factors, item_correlations


@dataclass(frozen=True)
class OmegaResult:
    """Omega total of a set of items with its one-factor loadings and bootstrap CI."""

    items: tuple[str, ...]
    omega_total: float
    omega_h: float
    ci: tuple[float, float] | None
    confidence: float
    bootstrap: int
    bootstrap_failed: int
    n: int
    k: int
    missing: MissingPolicy
    loadings: tuple[float, ...]
    flipped: tuple[str, ...]
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """JSON-ready mapping."""
        return {
            "omega_total": self.omega_total,
            "omega_h": self.omega_h,
            "ci": list(self.ci) if self.ci else None,
            "confidence": self.confidence,
            "bootstrap": self.bootstrap,
            "bootstrap_failed": self.bootstrap_failed,
            "n": self.n,
            "k": self.k,
            "missing": self.missing,
            "items": [
                {"item": item, "loading": loading, "communality": loading**2}
                for item, loading in zip(self.items, self.loadings, strict=True)
            ],
            "flipped": list(self.flipped),
            "warnings": list(self.warnings),
        }


def _omega_of(
    correlation: np.ndarray, start: np.ndarray | None = None
) -> tuple[float, float, np.ndarray]:
    """(omega total, omega_h, signed loadings) of a correlation matrix."""
    loadings = extract_factors(correlation, 1, "minres", start).loadings[:, 0]
    key = np.where(loadings < 0, -1.0, 1.0)
    keyed = correlation * np.outer(key, key)
    total = float(keyed.sum())
    uniqueness = float(np.sum(1 - loadings**2))
    general = float(np.sum(loadings * key)) ** 2
    return (total - uniqueness) / total, general / total, loadings


def omega_total(
    items: pd.DataFrame,
    *,
    missing: MissingPolicy = "pairwise",
    bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 2017,
) -> OmegaResult:
    """McDonald's omega total (one-factor minres model) with a percentile bootstrap CI.

    Parameters
    ----------
    items : pandas.DataFrame
        One numeric column per item, already reverse-keyed; NaN for missing answers.
    missing : {"pairwise", "listwise"}
        How the correlations treat missing answers (psych's ``omega`` is pairwise).
    bootstrap : int
        Resamples for the interval; 0 for no interval.
    confidence : float
        Coverage of the interval.
    seed : int
        Seed of the resampling.

    Returns
    -------
    OmegaResult

    Raises
    ------
    ValueError
        Fewer than three items (a one-factor model of two items is not identified), and
        see :func:`analysis.factor.item_correlations`.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    if bootstrap < 0:
        raise ValueError(f"bootstrap must be 0 or more, got {bootstrap}")
    if items.shape[1] < 3:
        raise ValueError(
            f"omega needs at least 3 items (a one-factor model of {items.shape[1]} is not "
            "identified)"
        )
    data = item_correlations(items, missing, least=3)
    omega, omega_h, loadings = _omega_of(data.correlation)
    flipped = tuple(item for item, value in zip(data.items, loadings, strict=True) if value < 0)
    notes: list[str] = []
    if flipped:
        notes.append(
            f"{', '.join(flipped)} load{'s' if len(flipped) == 1 else ''} negatively on the "
            "factor and were reversed for omega, as psych's omega does (reverse-keyed?)"
        )
    heywood = [i for i, v in zip(data.items, loadings, strict=True) if v**2 > 1 + 1e-9]
    if heywood:
        notes.append(f"Heywood case: {', '.join(heywood)} has a communality above 1")

    ci: tuple[float, float] | None = None
    failed = 0
    if bootstrap:
        values = items.to_numpy(dtype=float)
        given = ~np.isnan(values)
        keep = given.all(axis=1) if missing == "listwise" else given.any(axis=1)
        values = values[keep]
        generator = np.random.default_rng(seed)
        estimates: list[float] = []
        columns = list(data.items)
        for _ in range(bootstrap):
            sample = values[generator.integers(0, len(values), len(values))]
            try:
                again = item_correlations(pd.DataFrame(sample, columns=columns), missing)
                estimate = _omega_of(again.correlation, 1 - loadings**2)[0]
            except (ValueError, np.linalg.LinAlgError):
                failed += 1
                continue
            if math.isfinite(estimate):
                estimates.append(estimate)
            else:
                failed += 1
        if len(estimates) >= 2:
            tail = (1 - confidence) / 2
            low, high = np.quantile(estimates, [tail, 1 - tail])
            ci = (float(low), float(high))
        if failed:
            notes.append(
                f"omega could not be computed in {failed} of {bootstrap} bootstrap resamples "
                "(an item without variance); the interval uses the others"
            )
    return OmegaResult(
        items=data.items,
        omega_total=omega,
        omega_h=omega_h,
        ci=ci,
        confidence=confidence,
        bootstrap=bootstrap,
        bootstrap_failed=failed,
        n=data.n,
        k=len(data.items),
        missing=missing,
        loadings=tuple(float(v) for v in loadings),
        flipped=flipped,
        warnings=tuple(notes),
    )
