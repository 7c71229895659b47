"""Cronbach's alpha agrees with R psych's alpha() to 1e-6, run live through Rscript.

The data are psych's own ``bfi`` questionnaire (2800 respondents, 1-6 answers, with
missing answers), and pingouin's ``cronbach_wide_missing``; R writes both the data it
used and its results, so nothing is copied by hand. CI installs R and psych
(scripts/bootstrap); on a machine without them the test is skipped, except under CI,
where a missing R is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pingouin as pg
import pytest

from analysis.reliability import cronbach_alpha

SCRIPT = Path(__file__).parent / "reference" / "psych_alpha.R"
TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def psych_reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict], Path]:  # type: ignore[type-arg]
    if shutil.which("Rscript") is None:
        if os.environ.get("CI"):
            pytest.fail("Rscript is not installed; scripts/bootstrap installs r-cran-psych")
        pytest.skip("Rscript with psych is not installed (scripts/bootstrap installs it)")
    out = tmp_path_factory.mktemp("psych")
    missing_csv = out / "cronbach_wide_missing.csv"
    pg.read_dataset("cronbach_wide_missing").to_csv(missing_csv, index=False)
    subprocess.run(
        ["Rscript", str(SCRIPT), str(out), str(missing_csv)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return json.loads((out / "reference.json").read_text()), out


def _cases() -> list[str]:
    names = ["bfi_agreeableness", "bfi_conscientiousness", "bfi_neuroticism", "bfi_openness_two"]
    return [f"{n}:{use}" for n in names for use in ("pairwise", "complete.obs")] + [
        "pingouin_cronbach_wide_missing:pairwise"
    ]


@pytest.mark.rpsych
@pytest.mark.parametrize("case", _cases())
def test_alpha_matches_r_psych(psych_reference: tuple[list[dict], Path], case: str) -> None:  # type: ignore[type-arg]
    records, out = psych_reference
    name, use = case.split(":")
    reference = next(r for r in records if r["name"] == name and r["use"] == use)
    if name.startswith("bfi"):
        bfi = pd.read_csv(out / "bfi.csv")
        items = bfi[reference["items"]].astype(float)
        for column in reference["reverse"]:
            items[column] = 7 - items[column]
        assert items.isna().any().any(), "the reference data must have missing answers"
    else:
        items = pd.read_csv(out / "cronbach_wide_missing.csv").astype(float)
    result = cronbach_alpha(items, missing="pairwise" if use == "pairwise" else "listwise")

    assert result.alpha == pytest.approx(reference["raw_alpha"], abs=TOLERANCE)
    assert result.standardized_alpha == pytest.approx(reference["std_alpha"], abs=TOLERANCE)
    r_drop = [i.corrected_item_total_r for i in result.items]
    assert r_drop == pytest.approx(reference["r_drop"], abs=TOLERANCE)
    if reference["alpha_drop"] is not None:
        dropped = [i.alpha_if_deleted for i in result.items]
        assert dropped == pytest.approx(reference["alpha_drop"], abs=TOLERANCE)
    else:
        assert all(i.alpha_if_deleted is None for i in result.items)
    assert [i.n for i in result.items] == reference["item_n"]
    assert [i.mean for i in result.items] == pytest.approx(reference["item_mean"], abs=TOLERANCE)
    assert [i.sd for i in result.items] == pytest.approx(reference["item_sd"], abs=TOLERANCE)
