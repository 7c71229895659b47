"""Each scale mean's 95% CI agrees with R's one-sample ``t.test``, run live through Rscript.

The data are the demo round's composite scores (every scale of Table 4, favourable-keyed) and
a few fixed samples (two values, a skewed sample, decimals). Skipped without R, except under
CI, where a missing R is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from analysis.demo import demo_responses
from analysis.estimates import mean_estimate, mean_interval
from analysis.instrument import load_instrument
from analysis.scoring import scale_scores
from analysis.summary import favourable_scores, table4

SCRIPT = Path(__file__).parent / "reference" / "t_test.R"
INSTRUMENT = load_instrument("trustworthy-collaboration")
FIXED = {
    "two_values": [1.0, 5.0],
    "skewed": [1.0, 1.0, 1.0, 2.0, 5.0, 5.0, 1.5],
    "decimals": [2.25, 3.5, 3.75, 4.0, 2.6666666666666665, 3.3333333333333335],
}


def _samples() -> dict[str, list[float]]:
    scores = favourable_scores(scale_scores(demo_responses(), INSTRUMENT), INSTRUMENT)
    samples = {str(c): [float(v) for v in scores[c].dropna()] for c in scores.columns}
    return samples | FIXED


@pytest.fixture(scope="module")
def r_reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, float]]:
    if shutil.which("Rscript") is None:
        if os.environ.get("CI"):
            pytest.fail("Rscript is not installed; scripts/bootstrap installs R")
        pytest.skip("Rscript is not installed (scripts/bootstrap installs it)")
    out = tmp_path_factory.mktemp("t_test")
    rows = [(name, value) for name, values in _samples().items() for value in values]
    pd.DataFrame(rows, columns=["name", "value"]).to_csv(out / "in.csv", index=False)
    subprocess.run(
        ["Rscript", str(SCRIPT), str(out / "in.csv"), str(out / "out.json")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    reference: dict[str, dict[str, float]] = json.loads((out / "out.json").read_text())
    return reference


@pytest.mark.rpsych
@pytest.mark.parametrize("name", sorted(_samples()))
def test_mean_interval_matches_r_t_test(
    r_reference: dict[str, dict[str, float]], name: str
) -> None:
    values = pd.Series(_samples()[name])
    expected = r_reference[name]
    estimate = mean_estimate(values)
    assert estimate.value == pytest.approx(expected["mean"], abs=1e-12)
    assert estimate.interval == pytest.approx((expected["low"], expected["high"]), abs=1e-9)


@pytest.mark.rpsych
def test_table4_scores_carry_the_r_intervals(r_reference: dict[str, dict[str, float]]) -> None:
    summary = table4(demo_responses(), INSTRUMENT)
    for scale in summary.scales:
        expected = r_reference[scale.scale_id]
        assert scale.score == pytest.approx(expected["mean"], abs=1e-12)
        assert scale.score_ci == pytest.approx((expected["low"], expected["high"]), abs=1e-9)
        assert scale.n == expected["n"]


def test_no_interval_where_r_refuses() -> None:
    # R: t.test(c(3, 3, 3)) stops with "data are essentially constant"; one value: "not
    # enough 'x' observations".
    assert mean_interval(pd.Series([3.0, 3.0, 3.0])) is None
    assert mean_interval(pd.Series([4.0])) is None
    assert mean_interval(pd.Series([2.0, float("nan"), 4.0])) is not None
