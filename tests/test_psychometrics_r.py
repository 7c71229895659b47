"""Omega, factor analysis and agreement indices agree with R, run live through Rscript.

R writes psych's ``bfi`` questionnaire data (2800 respondents, 1-6 answers, with missing
answers) and its own results, so nothing is copied by hand:

* omega total against ``psych::omega(x, nfactors = 1)`` to 1e-4 (neuroticism,
  conscientiousness and openness keyed; extraversion unkeyed, where omega flips E1 and E2);
* pattern loadings, communalities, factor correlations and SS loadings against
  ``psych::fa(x, nfactors, fm = "minres" | "ml", rotate = "oblimin")`` to 1e-3, up to the
  sign and order of the factors;
* rwg(j) by education against ``multilevel::rwg.j`` with the uniform null (and a hand
  computation), ICC(1)/ICC(2) against the mean squares of R's ``aov`` and
  ``multilevel::ICC1``/``ICC2``.

Needs R with psych, GPArotation and multilevel (scripts/bootstrap installs
r-cran-psych, r-cran-gparotation and r-cran-multilevel); skipped without them, except
under CI.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis.agreement import intraclass_correlations, rwg_j, uniform_null_variance
from analysis.factor import factor_analysis
from analysis.omega import omega_total

SCRIPT = Path(__file__).parent / "reference" / "psych_omega_fa.R"
pytestmark = pytest.mark.rpsych


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], Path]:
    if shutil.which("Rscript") is None:
        if os.environ.get("CI"):
            pytest.fail("Rscript is not installed; scripts/bootstrap installs it")
        pytest.skip("Rscript is not installed (scripts/bootstrap installs it)")
    probe = subprocess.run(
        ["Rscript", "-e", "library(psych); library(GPArotation); library(multilevel)"],
        capture_output=True,
        check=False,
        timeout=120,
    )
    if probe.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail("R lacks psych, GPArotation or multilevel (see scripts/bootstrap)")
        pytest.skip("R lacks psych, GPArotation or multilevel (see scripts/bootstrap)")
    out = tmp_path_factory.mktemp("psychometrics")
    subprocess.run(["Rscript", str(SCRIPT), str(out)], check=True, capture_output=True, timeout=600)
    return json.loads((out / "psychometrics.json").read_text()), out


def _records(reference: tuple[list[dict[str, Any]], Path], kind: str) -> list[dict[str, Any]]:
    return [r for r in reference[0] if r["kind"] == kind]


def _keyed(bfi: pd.DataFrame, items: list[str], reverse: list[str]) -> pd.DataFrame:
    answers = bfi[items].astype(float)
    for item in reverse:
        answers[item] = 7 - answers[item]
    return answers


@pytest.fixture(scope="module")
def bfi(reference: tuple[list[dict[str, Any]], Path]) -> pd.DataFrame:
    data = pd.read_csv(reference[1] / "bfi.csv")
    assert data.isna().any().any(), "the reference data must have missing answers"
    return data


def test_omega_total_matches_psych(
    reference: tuple[list[dict[str, Any]], Path], bfi: pd.DataFrame
) -> None:
    cases = _records(reference, "omega")
    assert len(cases) == 4
    for case in cases:
        answers = _keyed(bfi, case["items"], case["reverse"])
        result = omega_total(answers, bootstrap=0)
        assert result.omega_total == pytest.approx(case["omega_total"], abs=1e-4), case["name"]
        flipped = [item for item, key in zip(case["items"], case["key"], strict=True) if key < 0]
        assert list(result.flipped) == flipped, case["name"]
        assert result.n == int(answers.notna().any(axis=1).sum())


def test_omega_bootstrap_interval_brackets_the_estimate(bfi: pd.DataFrame) -> None:
    answers = _keyed(bfi, [f"C{i}" for i in range(1, 6)], ["C4", "C5"])
    result = omega_total(answers, bootstrap=60, seed=1)
    assert result.ci is not None
    assert result.ci[0] < result.omega_total < result.ci[1]
    assert result.ci[1] - result.ci[0] < 0.05  # 2800 respondents: a narrow interval
    assert omega_total(answers, bootstrap=60, seed=1).ci == result.ci  # seeded


def _match_columns(ours: np.ndarray, theirs: np.ndarray) -> tuple[tuple[int, ...], np.ndarray]:
    """The permutation and signs of our factors that best match R's."""
    best: tuple[float, tuple[int, ...], np.ndarray] | None = None
    for order in itertools.permutations(range(theirs.shape[1])):
        candidate = ours[:, order]
        signs = np.sign(np.sum(candidate * theirs, axis=0))
        signs[signs == 0] = 1
        error = float(np.max(np.abs(candidate * signs - theirs)))
        if best is None or error < best[0]:
            best = (error, order, signs)
    assert best is not None
    return best[1], best[2]


@pytest.mark.parametrize("method", ["minres", "ml"])
def test_factor_loadings_match_psych_fa(
    reference: tuple[list[dict[str, Any]], Path], bfi: pd.DataFrame, method: str
) -> None:
    cases = [c for c in _records(reference, "fa") if c["fm"] == method]
    assert len(cases) == 3
    for case in cases:
        result = factor_analysis(
            bfi[case["items"]].astype(float),
            case["nfactors"],
            method=method,  # type: ignore[arg-type]
        )
        ours = np.array(result.loadings)
        theirs = np.array(case["loadings"])
        order, signs = _match_columns(ours, theirs)
        np.testing.assert_allclose(ours[:, order] * signs, theirs, atol=1e-3, err_msg=case["name"])
        np.testing.assert_allclose(result.communalities, case["communality"], atol=1e-3)
        phi = np.array(result.phi)[np.ix_(order, order)] * np.outer(signs, signs)
        np.testing.assert_allclose(phi, np.array(case["phi"]), atol=1e-3, err_msg=case["name"])
        ss = np.array(result.ss_loadings)[list(order)]
        np.testing.assert_allclose(ss, case["ss_loadings"], atol=1e-3, err_msg=case["name"])
        assert result.cumulative[-1] == pytest.approx(
            sum(case["ss_loadings"]) / len(case["items"]), abs=1e-3
        )


def test_rwg_j_matches_multilevel_and_a_hand_computation(
    reference: tuple[list[dict[str, Any]], Path], bfi: pd.DataFrame
) -> None:
    cases = _records(reference, "agreement")
    assert len(cases) == 3
    null = uniform_null_variance(6)
    assert null == pytest.approx(35 / 12)
    for case in cases:
        answers = _keyed(bfi, case["items"], case["reverse"])
        groups = bfi["education"].map(lambda v: None if pd.isna(v) else str(int(v)))
        results = rwg_j(answers, groups, options=6)
        assert [r.group for r in results] == case["rwg_groups"]
        assert [r.rwg_j for r in results] == pytest.approx(case["rwg_j"], abs=1e-10)
        assert [r.n for r in results] == case["gsize"]
        # by hand, for the first group: mean of the item variances of complete respondents
        first = answers[(groups == results[0].group).to_numpy()].dropna()
        s2 = float(first.var(ddof=1).mean())
        j = len(case["items"])
        ratio = min(s2, null) / null
        assert results[0].rwg_j == pytest.approx(j * (1 - ratio) / (j * (1 - ratio) + ratio))


def test_icc_matches_aov_mean_squares(
    reference: tuple[list[dict[str, Any]], Path], bfi: pd.DataFrame
) -> None:
    for case in _records(reference, "agreement"):
        answers = _keyed(bfi, case["items"], case["reverse"])
        scores = answers.mean(axis=1, skipna=True)
        groups = bfi["education"].map(lambda v: None if pd.isna(v) else str(int(v)))
        result = intraclass_correlations(scores, groups)
        assert result.ms_between == pytest.approx(case["ms_between"], rel=1e-10)
        assert result.ms_within == pytest.approx(case["ms_within"], rel=1e-10)
        assert (result.df_between, result.df_within) == (case["df_between"], case["df_within"])
        assert result.icc1 == pytest.approx(case["icc1"], abs=1e-10)
        assert result.icc2 == pytest.approx(case["icc2"], abs=1e-10)


def test_the_command_line_gives_r_figures_on_the_bfi_file(
    reference: tuple[list[dict[str, Any]], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The same request through ``trust-survey``: bfi.csv as R wrote it (1-6 answers)."""
    from app.cli import main

    path = str(reference[1] / "bfi.csv")
    scale = ["--scale-min", "1", "--scale-max", "6", "--format", "json"]
    omega_case = next(c for c in _records(reference, "omega") if c["name"] == "conscientiousness")
    assert (
        main(
            [
                "omega",
                path,
                "--items",
                ",".join(omega_case["items"]),
                "--reverse",
                "C4,C5",
                "--missing",
                "pairwise",
                "--bootstrap",
                "0",
                *scale,
            ]
        )
        == 0
    )
    omega = json.loads(capsys.readouterr().out)
    assert omega["omega_total"] == pytest.approx(omega_case["omega_total"], abs=1e-4)
    assert omega["settings"]["reverse_keyed"] == ["C4", "C5"]

    fa_case = next(c for c in _records(reference, "fa") if c["name"] == "c_e_n" and c["fm"] == "ml")
    assert (
        main(
            [
                "factor",
                path,
                "--items",
                ",".join(fa_case["items"]),
                "--factors",
                "3",
                "--method",
                "ml",
                "--missing",
                "pairwise",
                *scale,
            ]
        )
        == 0
    )
    factor = json.loads(capsys.readouterr().out)
    ours = np.array([factor["loadings"][item] for item in fa_case["items"]])
    theirs = np.array(fa_case["loadings"])
    order, signs = _match_columns(ours, theirs)
    np.testing.assert_allclose(ours[:, order] * signs, theirs, atol=1e-3)

    agreement_case = next(c for c in _records(reference, "agreement") if c["name"] == "neuroticism")
    assert (
        main(
            [
                "agreement",
                path,
                "--group",
                "education",
                "--items",
                ",".join(agreement_case["items"]),
                *scale,
            ]
        )
        == 0
    )
    (scale_result,) = json.loads(capsys.readouterr().out)["scales"]
    assert [g["rwg_j"] for g in scale_result["rwg_j"]] == pytest.approx(
        agreement_case["rwg_j"], abs=1e-10
    )
