"""Omega, factor analysis and agreement without R: formulas by hand and edge cases (the
comparisons with R are in tests/test_psychometrics_r.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.agreement import intraclass_correlations, rwg_j, uniform_null_variance
from analysis.factor import factor_analysis, oblimin
from analysis.omega import omega_total


def _congeneric(n: int = 400, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    factor = rng.normal(size=n)
    loadings = [0.8, 0.7, 0.6, 0.5]
    return pd.DataFrame(
        {
            f"i{k}": lam * factor + np.sqrt(1 - lam**2) * rng.normal(size=n)
            for k, lam in enumerate(loadings)
        }
    )


def test_omega_of_a_model_that_fits_exactly_is_its_formula() -> None:
    """With R = l l' + diag(1 - l^2) exactly, omega_t = (sum l)^2 / sum R."""
    lam = np.array([0.8, 0.7, 0.6, 0.5])
    r = np.outer(lam, lam)
    np.fill_diagonal(r, 1.0)
    # data with exactly this correlation matrix: whitened normals coloured by R
    rng = np.random.default_rng(0)
    z = rng.normal(size=(500, 4))
    z = (z - z.mean(axis=0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False)).T)
    data = pd.DataFrame(z @ np.linalg.cholesky(r).T, columns=list("abcd"))
    result = omega_total(data, bootstrap=0)
    assert result.omega_total == pytest.approx(lam.sum() ** 2 / r.sum(), abs=1e-6)
    assert np.abs(result.loadings) == pytest.approx(lam, abs=1e-4)


def test_omega_flips_a_negatively_loading_item_and_says_so() -> None:
    data = _congeneric()
    data["i3"] = -data["i3"]
    result = omega_total(data, bootstrap=0)
    assert result.flipped == ("i3",)
    assert "i3 loads negatively" in result.warnings[0]
    unflipped = _congeneric()
    assert result.omega_total == pytest.approx(omega_total(unflipped, bootstrap=0).omega_total)


def test_omega_refuses_two_items_and_no_variance() -> None:
    with pytest.raises(ValueError, match="at least 3 items"):
        omega_total(_congeneric()[["i0", "i1"]])
    flat = _congeneric()
    flat["i2"] = 1.0
    with pytest.raises(ValueError, match="items whose answers do not vary: i2"):
        omega_total(flat, bootstrap=0)


def test_factor_analysis_recovers_two_simple_factors() -> None:
    rng = np.random.default_rng(5)
    f1, f2 = rng.normal(size=(2, 2000))
    noise = rng.normal(size=(6, 2000)) * 0.6
    data = pd.DataFrame(
        {
            "a": f1 + noise[0],
            "b": f1 + noise[1],
            "c": f1 + noise[2],
            "d": f2 + noise[3],
            "e": f2 + noise[4],
            "f": f2 + noise[5],
        }
    )
    result = factor_analysis(data, 2)
    loadings = np.array(result.loadings)
    big = np.abs(loadings) > 0.5
    assert big.sum() == 6 and (big[:3, 0].all() or big[:3, 1].all())
    assert result.communalities == pytest.approx([1 - u for u in result.uniquenesses])
    assert result.cumulative[-1] == pytest.approx(sum(result.ss_loadings) / 6)


def test_oblimin_of_a_simple_structure_is_left_alone() -> None:
    pattern = np.array([[0.8, 0.0], [0.7, 0.0], [0.0, 0.6], [0.0, 0.9]])
    rotated = oblimin(pattern)
    assert rotated.converged
    np.testing.assert_allclose(rotated.pattern, pattern, atol=1e-6)
    np.testing.assert_allclose(rotated.phi, np.eye(2), atol=1e-6)


def test_rwg_j_by_hand_truncation_and_small_groups() -> None:
    assert uniform_null_variance(5) == 2.0
    items = pd.DataFrame({"x": [4, 4, 5, 1, 5, 3.0], "y": [4, 5, 5, 5, 1, 3.0]})
    groups = pd.Series(["p", "p", "p", "q", "q", "r"])
    p, q, r = rwg_j(items, groups, options=5)
    s2 = (np.var([4, 4, 5], ddof=1) + np.var([4, 5, 5], ddof=1)) / 2
    assert p.rwg_j == pytest.approx(2 * (1 - s2 / 2) / (2 * (1 - s2 / 2) + s2 / 2))
    assert q.truncated and q.rwg_j == 0.0 and q.note and "truncated to 0" in q.note
    assert r.rwg_j is None and r.n == 1


def test_icc_by_hand_and_edge_cases() -> None:
    scores = pd.Series([1.0, 2, 3, 4, 5, 6])
    groups = pd.Series(["a", "a", "a", "b", "b", "b"])
    result = intraclass_correlations(scores, groups)
    # MSB = 3 * ((2 - 3.5)^2 + (5 - 3.5)^2) / 1 = 13.5; MSW = (2 + 2) / 4 = 1
    assert (result.ms_between, result.ms_within) == pytest.approx((13.5, 1.0))
    assert result.icc1 == pytest.approx((13.5 - 1) / (13.5 + 2 * 1))
    assert result.icc2 == pytest.approx((13.5 - 1) / 13.5)
    with pytest.raises(ValueError, match="at least 2 groups"):
        intraclass_correlations(scores, pd.Series(["a"] * 6))
    with pytest.raises(ValueError, match="same mean score"):
        intraclass_correlations(pd.Series([1.0, 3, 1, 3]), pd.Series(["a", "a", "b", "b"]))
    negative = intraclass_correlations(pd.Series([1.0, 5, 2, 4.5]), pd.Series(["a", "a", "b", "b"]))
    assert negative.icc1 < 0 and "negative" in negative.warnings[0]
