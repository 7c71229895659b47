"""Exploratory factor analysis: minres or maximum likelihood, oblimin rotation.

The extraction and rotation follow R psych's ``fa()`` and GPArotation's ``oblimin`` step
for step, so that loadings agree with R to well within 1e-3 (the test suite runs both live
on psych's ``bfi`` data).

**Correlations.**  :math:`R` is the Pearson correlation matrix of the items, each
correlation from the respondents who answered both items (pairwise, as ``fa`` uses by
default) or from those who answered every item (listwise).

**Extraction.**  Both methods search the uniquenesses :math:`\\psi` (bounded to
:math:`[0.005, \\max(1, \\max_i \\mathrm{SMC}_i)]`, started at :math:`1 - \\mathrm{SMC}`, the
squared multiple correlations) with L-BFGS-B, as psych does.  With
:math:`R - \\Psi = V \\Lambda V^\\top` (eigenvalues in decreasing order), minres (unweighted
least squares; Harman 1960) takes :math:`L = V_{:m} \\Lambda_{:m}^{1/2}` and minimises the
squared off-diagonal residuals

.. math::

    F_{\\text{minres}}(\\psi) = \\sum_{i > j} \\left(R_{ij} - (L L^\\top)_{ij}\\right)^2

Maximum likelihood (Joreskog 1967) scales :math:`S^* = \\Psi^{-1/2} R \\Psi^{-1/2}` and
minimises, over the eigenvalues :math:`e_{m+1}, \\dots, e_p` of :math:`S^*` beyond the
:math:`m` factors,

.. math::

    F_{\\text{ML}}(\\psi) = -\\sum_{j > m} (\\log e_j - e_j) + m - p,
    \\qquad L = \\Psi^{1/2} V^*_{:m} (\\Lambda^*_{:m} - I)^{1/2}.

**Rotation.**  Oblimin with :math:`\\gamma = 0` (quartimin; Jennrich 2002's gradient
projection algorithm, GPArotation's ``GPFoblq``): the pattern :math:`P = L (T^\\top)^{-1}`
minimises :math:`Q(P) = \\tfrac14 \\sum_{i} \\sum_{k \\ne l} P_{ik}^2 P_{il}^2`, with factor
correlations :math:`\\Phi = T^\\top T`.  Factors are then signed so that each column of
:math:`P` sums to a positive number and ordered by the variance they explain,
:math:`\\mathrm{diag}(\\Phi P^\\top P)`, as ``fa`` prints them ("SS loadings").

**Communalities** are :math:`h^2_i = (L L^\\top)_{ii}` (unchanged by rotation) and
uniquenesses :math:`1 - h^2_i`.  A communality above 1 is a Heywood case, reported as a
warning.

References
----------
Harman, H. H. and Jones, W. H. (1966). Factor analysis by minimizing residuals (minres).
*Psychometrika*, 31, 351-368.

Joreskog, K. G. (1967). Some contributions to maximum likelihood factor analysis.
*Psychometrika*, 32, 443-482.

Jennrich, R. I. (2002). A simple general method for oblique rotation. *Psychometrika*, 67,
7-19.

Bernaards, C. A. and Jennrich, R. I. (2005). Gradient projection algorithms and software
for arbitrary rotation criteria in factor analysis. *Educational and Psychological
Measurement*, 65, 676-696.

Revelle, W. psych: Procedures for Psychological, Psychometric, and Personality Research,
function ``fa``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

FactorMethod = Literal["minres", "ml"]
Rotation = Literal["oblimin", "none"]
MissingPolicy = Literal["pairwise", "listwise"]

_EPS = float(np.finfo(float).eps)
_LOWER = 0.005


@dataclass(frozen=True)
class CorrelationInput:
    """The correlation matrix of the items and the counts behind it."""

    items: tuple[str, ...]
    correlation: np.ndarray
    n: int
    pairwise_n: np.ndarray


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def item_correlations(
    items: pd.DataFrame, missing: MissingPolicy = "pairwise", *, least: int = 2
) -> CorrelationInput:
    """Pearson correlations of the items, pairwise or listwise complete.

    Parameters
    ----------
    items : pandas.DataFrame
        One numeric column per item (NaN for a missing answer).
    missing : {"pairwise", "listwise"}
        Each correlation from the respondents who answered both items, or only the
        respondents who answered every item.
    least : int
        Fewest items.

    Returns
    -------
    CorrelationInput
        ``n`` counts the respondents used (with at least one answer, pairwise).

    Raises
    ------
    ValueError
        Too few items, non-numeric columns, an item with no answers, two items answered
        together by fewer than three respondents, an item whose answers do not vary, or a
        pair whose common answers do not vary (each message names the items).
    """
    if missing not in ("pairwise", "listwise"):
        raise ValueError(f"missing must be 'pairwise' or 'listwise', got {missing!r}")
    if items.shape[1] < least:
        raise ValueError(f"needs at least {least} items, got {items.shape[1]}")
    names = [str(c) for c in items.columns]
    non_numeric = [str(c) for c in items.columns if items[c].dtype.kind not in "biuf"]
    if non_numeric:
        raise ValueError(f"items must be numeric; not numeric: {', '.join(non_numeric)}")
    values = items.to_numpy(dtype=float)
    given = ~np.isnan(values)
    unanswered = [names[i] for i in range(len(names)) if not given[:, i].any()]
    if unanswered:
        raise ValueError(
            f"{_listed(unanswered)} {'has' if len(unanswered) == 1 else 'have'} no answers"
        )
    keep = given.all(axis=1) if missing == "listwise" else given.any(axis=1)
    values = values[keep]
    given = given[keep]
    if values.shape[0] < 3:
        raise ValueError(
            f"needs at least 3 respondents with answers ({missing}), got {values.shape[0]}"
        )
    counts = given.astype(np.int64).T @ given.astype(np.int64)
    k = len(names)
    for i in range(k):
        for j in range(i + 1, k):
            if counts[i, j] < 3:
                raise ValueError(
                    f"{names[i]} and {names[j]} were answered together by only "
                    f"{int(counts[i, j])} respondent{'s' if counts[i, j] != 1 else ''} "
                    "(a correlation needs at least 3)"
                )
    frame = pd.DataFrame(values, columns=names)
    variances = frame.var(ddof=1).to_numpy()
    flat = [names[i] for i in range(k) if not variances[i] > 0]
    if flat:
        raise ValueError(f"items whose answers do not vary: {', '.join(flat)}")
    with np.errstate(all="ignore"):
        correlation = frame.corr(min_periods=3).to_numpy(copy=True)
    bad = np.argwhere(np.isnan(correlation))
    if bad.size:
        i, j = (int(x) for x in bad[0])
        raise ValueError(
            f"the answers that {names[i]} and {names[j]} share do not vary, so they have no "
            "correlation"
        )
    np.fill_diagonal(correlation, 1.0)
    return CorrelationInput(tuple(names), correlation, int(values.shape[0]), counts)


def squared_multiple_correlations(correlation: np.ndarray) -> np.ndarray:
    """:math:`1 - 1 / (R^{-1})_{ii}`, clipped to [0, 1] (psych's ``smc``)."""
    try:
        inverse = np.linalg.inv(correlation)
    except np.linalg.LinAlgError:
        inverse = np.linalg.pinv(correlation)
    with np.errstate(divide="ignore", invalid="ignore"):
        smc = 1 - 1 / np.diag(inverse)
    smc = np.where(np.isfinite(smc), smc, 1.0)
    return np.clip(smc, 0.0, 1.0)


def _top(matrix: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    values, vectors = np.linalg.eigh(matrix)
    order = np.argsort(values)[::-1]
    return values[order][:m], vectors[:, order][:, :m]


def _minres_objective(psi: np.ndarray, r: np.ndarray, m: int) -> float:
    s = r.copy()
    np.fill_diagonal(s, 1 - psi)
    values, vectors = np.linalg.eigh(s)
    order = np.argsort(values)[::-1]
    values = values[order]
    values = np.where(values < _EPS, 100 * _EPS, values)
    loadings = vectors[:, order][:, :m] * np.sqrt(values[:m])
    residual = s - loadings @ loadings.T
    lower = residual[np.tril_indices_from(residual, -1)]
    return float(np.sum(lower**2))


def _minres_gradient(psi: np.ndarray, r: np.ndarray, m: int) -> np.ndarray:
    values, vectors = _top(r - np.diag(psi), m)
    loadings = vectors * np.sqrt(np.maximum(values, 0))
    g = loadings @ loadings.T + np.diag(psi) - r
    return np.asarray(np.diag(g), dtype=float)


def _ml_objective(psi: np.ndarray, r: np.ndarray, m: int) -> float:
    scale = 1 / np.sqrt(psi)
    values = np.sort(np.linalg.eigvalsh(r * np.outer(scale, scale)))[::-1][m:]
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(-(np.sum(np.log(values) - values) - m + r.shape[0]))


def _ml_loadings(psi: np.ndarray, r: np.ndarray, m: int) -> np.ndarray:
    scale = 1 / np.sqrt(psi)
    values, vectors = _top(r * np.outer(scale, scale), m)
    loadings: np.ndarray = np.sqrt(psi)[:, None] * (vectors * np.sqrt(np.maximum(values - 1, 0)))
    return loadings


def _ml_gradient(psi: np.ndarray, r: np.ndarray, m: int) -> np.ndarray:
    loadings = _ml_loadings(psi, r, m)
    g = loadings @ loadings.T + np.diag(psi) - r
    return np.asarray(np.diag(g) / psi**2, dtype=float)


@dataclass(frozen=True)
class Extraction:
    """Unrotated loadings and the uniquenesses they were fitted with."""

    loadings: np.ndarray
    uniquenesses: np.ndarray
    converged: bool


def extract_factors(
    correlation: np.ndarray,
    n_factors: int,
    method: FactorMethod,
    start: np.ndarray | None = None,
) -> Extraction:
    """Fit ``n_factors`` factors to a correlation matrix by minres or maximum likelihood.

    Parameters
    ----------
    correlation : numpy.ndarray
        A correlation matrix.
    n_factors : int
        Factors to extract (at least 1, fewer than the items).
    method : {"minres", "ml"}
    start : numpy.ndarray, optional
        Uniquenesses to start the search from (psych's start, ``1 - SMC``, by default; a
        bootstrap starts each resample from the full sample's solution).

    Returns
    -------
    Extraction
        Loadings signed as psych signs them before rotation (each column summing to a
        positive number).
    """
    from scipy.optimize import minimize

    p = correlation.shape[0]
    if not 1 <= n_factors < p:
        raise ValueError(f"choose between 1 and {p - 1} factors for {p} items, got {n_factors}")
    if method not in ("minres", "ml"):
        raise ValueError(f"method must be 'minres' or 'ml', got {method!r}")
    smc = squared_multiple_correlations(correlation)
    upper = max(float(smc.max()), 1.0)
    if start is None:
        start = np.diag(correlation) - smc
    start = np.clip(start, _LOWER, upper)
    parscale = 0.01  # as psych's call to optim: the search runs on psi / 0.01
    if method == "minres":
        objective, gradient = _minres_objective, _minres_gradient
    else:
        objective, gradient = _ml_objective, _ml_gradient

    def scaled_objective(x: np.ndarray) -> float:
        return objective(x * parscale, correlation, n_factors)

    def scaled_gradient(x: np.ndarray) -> np.ndarray:
        return gradient(x * parscale, correlation, n_factors) * parscale

    with np.errstate(all="ignore"):
        found = minimize(
            scaled_objective,
            start / parscale,
            jac=scaled_gradient,
            method="L-BFGS-B",
            bounds=[(_LOWER / parscale, upper / parscale)] * p,
            options={"maxiter": 100, "ftol": 1e7 * _EPS, "gtol": 0.0, "maxcor": 5},
        )
    psi = np.asarray(found.x, dtype=float) * parscale
    if method == "minres":
        values, vectors = _top(correlation - np.diag(psi), n_factors)
        loadings = vectors * np.sqrt(np.maximum(values, 0))
    else:
        loadings = _ml_loadings(psi, correlation, n_factors)
    if n_factors == 1:
        if loadings.sum() < 0:
            loadings = -loadings
    else:
        signs = np.sign(loadings.sum(axis=0))
        signs[signs == 0] = 1
        loadings = loadings * signs
    return Extraction(loadings, psi, bool(found.success))


@dataclass(frozen=True)
class Rotated:
    """A pattern matrix and its factor correlations."""

    pattern: np.ndarray
    phi: np.ndarray
    converged: bool


def _quartimin(pattern: np.ndarray) -> tuple[float, np.ndarray]:
    squared = pattern**2
    cross = squared @ (1 - np.eye(pattern.shape[1]))
    return float(np.sum(squared * cross) / 4), pattern * cross


def oblimin(loadings: np.ndarray, *, eps: float = 1e-5, max_iterations: int = 1000) -> Rotated:
    """Oblimin rotation with gamma 0 (quartimin), GPArotation's ``GPFoblq`` algorithm.

    Parameters
    ----------
    loadings : numpy.ndarray
        Unrotated loadings, items by factors (at least two factors).
    eps : float
        Convergence: the norm of the projected gradient.
    max_iterations : int

    Returns
    -------
    Rotated
    """
    if loadings.shape[1] < 2:
        raise ValueError("rotation needs at least two factors")
    a = loadings
    t = np.eye(a.shape[1])
    alpha = 1.0
    pattern = a @ np.linalg.inv(t).T
    f, gq = _quartimin(pattern)
    g = -(pattern.T @ gq @ np.linalg.inv(t)).T
    s = math.inf
    for _ in range(max_iterations + 1):
        gp = g - t @ np.diag(np.sum(t * g, axis=0))
        s = float(np.sqrt(np.sum(gp**2)))
        if s < eps:
            break
        alpha *= 2
        for _ in range(11):
            x = t - alpha * gp
            t_new = x / np.sqrt(np.sum(x**2, axis=0))
            pattern = a @ np.linalg.inv(t_new).T
            f_new, gq_new = _quartimin(pattern)
            if f - f_new > 0.5 * s**2 * alpha:
                break
            alpha /= 2
        t = t_new
        f, gq = f_new, gq_new
        g = -(pattern.T @ gq @ np.linalg.inv(t_new)).T
    return Rotated(pattern, t.T @ t, s < eps)


@dataclass(frozen=True)
class FactorAnalysis:
    """An exploratory factor analysis of chosen items.

    ``loadings`` is the pattern matrix (items by factors, in ``items`` order), ``phi`` the
    factor correlations (identity when unrotated), ``ss_loadings`` the variance each
    factor explains (psych's "SS loadings"), ``proportion`` that over the number of items,
    ``cumulative`` its running sum.
    """

    items: tuple[str, ...]
    method: FactorMethod
    rotation: Rotation
    missing: MissingPolicy
    n: int
    n_factors: int
    loadings: tuple[tuple[float, ...], ...]
    communalities: tuple[float, ...]
    uniquenesses: tuple[float, ...]
    phi: tuple[tuple[float, ...], ...]
    ss_loadings: tuple[float, ...]
    proportion: tuple[float, ...]
    cumulative: tuple[float, ...]
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """JSON-ready mapping."""
        return {
            "items": list(self.items),
            "method": self.method,
            "rotation": self.rotation,
            "missing": self.missing,
            "n": self.n,
            "n_factors": self.n_factors,
            "loadings": {
                item: list(row) for item, row in zip(self.items, self.loadings, strict=True)
            },
            "communalities": dict(zip(self.items, self.communalities, strict=True)),
            "uniquenesses": dict(zip(self.items, self.uniquenesses, strict=True)),
            "factor_correlations": [list(row) for row in self.phi],
            "ss_loadings": list(self.ss_loadings),
            "proportion_var": list(self.proportion),
            "cumulative_var": list(self.cumulative),
            "warnings": list(self.warnings),
        }


def factor_analysis(
    items: pd.DataFrame,
    n_factors: int = 1,
    *,
    method: FactorMethod = "minres",
    rotation: Rotation = "oblimin",
    missing: MissingPolicy = "pairwise",
) -> FactorAnalysis:
    """Exploratory factor analysis of the items (see the module's formulas).

    Parameters
    ----------
    items : pandas.DataFrame
        One numeric column per item, already reverse-keyed if wanted.
    n_factors : int
        Factors to extract.
    method : {"minres", "ml"}
        Minimum residual (psych's default) or maximum likelihood.
    rotation : {"oblimin", "none"}
        Oblimin (psych's default; ignored for one factor) or none.
    missing : {"pairwise", "listwise"}
        How correlations treat missing answers.

    Returns
    -------
    FactorAnalysis

    Raises
    ------
    ValueError
        See :func:`item_correlations`; too many factors for the items.
    """
    if rotation not in ("oblimin", "none"):
        raise ValueError(f"rotation must be 'oblimin' or 'none', got {rotation!r}")
    data = item_correlations(items, missing, least=3 if n_factors > 1 else 2)
    p = len(data.items)
    if not 1 <= n_factors < p:
        raise ValueError(f"choose between 1 and {p - 1} factors for {p} items, got {n_factors}")
    extraction = extract_factors(data.correlation, n_factors, method)
    unrotated = extraction.loadings
    communalities = np.sum(unrotated**2, axis=1)
    notes: list[str] = []
    if not extraction.converged:
        notes.append("the extraction did not converge: read the loadings with care")
    pattern, phi = unrotated, np.eye(n_factors)
    if n_factors > 1 and rotation == "oblimin":
        rotated = oblimin(unrotated)
        if not rotated.converged:
            notes.append("the oblimin rotation did not converge in 1000 iterations")
        pattern, phi = rotated.pattern, rotated.phi
    signs = np.sign(pattern.sum(axis=0))
    signs[signs == 0] = 1
    pattern = pattern * signs
    phi = phi * np.outer(signs, signs)
    explained = np.diag(phi @ pattern.T @ pattern)
    order = np.argsort(-explained, kind="stable")
    pattern, phi, explained = pattern[:, order], phi[np.ix_(order, order)], explained[order]
    heywood = [data.items[i] for i in range(p) if communalities[i] > 1 + 1e-9]
    if heywood:
        notes.append(
            f"Heywood case: the communality of {_listed(heywood)} exceeds 1 (a uniqueness "
            "below 0); the solution is improper"
        )
    proportion = explained / p
    return FactorAnalysis(
        items=data.items,
        method=method,
        rotation=rotation if n_factors > 1 else "none",
        missing=missing,
        n=data.n,
        n_factors=n_factors,
        loadings=tuple(tuple(float(v) for v in row) for row in pattern),
        communalities=tuple(float(v) for v in communalities),
        uniquenesses=tuple(float(1 - v) for v in communalities),
        phi=tuple(tuple(float(v) for v in row) for row in phi),
        ss_loadings=tuple(float(v) for v in explained),
        proportion=tuple(float(v) for v in proportion),
        cumulative=tuple(float(v) for v in np.cumsum(proportion)),
        warnings=tuple(notes),
    )
