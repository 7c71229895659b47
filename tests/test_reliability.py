"""Cronbach's alpha against pingouin's documented examples, and its properties."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from analysis.frequencies import spss_round
from analysis.reliability import cronbach_alpha, feldt_interval


def test_pingouin_documented_example_pairwise() -> None:
    # pingouin docs: pg.cronbach_alpha(data=data) -> (0.732660835214447, [0.435, 0.909])
    result = cronbach_alpha(pg.read_dataset("cronbach_wide_missing"))
    assert result.alpha == pytest.approx(0.732660835214447, abs=1e-12)
    assert [round(x, 3) for x in result.ci] == [0.435, 0.909]
    assert (result.n, result.k, result.missing) == (12, 11, "pairwise")


def test_pingouin_documented_example_listwise_uses_the_rows_kept() -> None:
    # pingouin docs: nan_policy="listwise" -> (0.8016949152542373, [0.581, 0.933]).
    # pingouin computes that interval with n = 12, the rows *before* listwise deletion;
    # Feldt's interval needs the respondents actually used (9), which is what we report.
    data = pg.read_dataset("cronbach_wide_missing")
    result = cronbach_alpha(data, missing="listwise")
    assert result.alpha == pytest.approx(0.8016949152542373, abs=1e-12)
    assert result.n == 9
    assert [round(x, 3) for x in feldt_interval(result.alpha, 12, 11)] == [0.581, 0.933]
    assert result.ci == pytest.approx(feldt_interval(result.alpha, 9, 11))
    assert result.ci[0] < 0.581  # fewer respondents, wider interval


def test_pingouin_documented_example_long_format_likert() -> None:
    # pingouin docs: (0.5917188485995826, array([0.195, 0.84]))
    long = pg.read_dataset("cronbach_alpha")
    wide = long.pivot(index="Subj", values="Scores", columns="Items")
    result = cronbach_alpha(wide)
    assert result.alpha == pytest.approx(0.5917188485995826, abs=1e-12)
    assert [round(x, 3) for x in result.ci] == [0.195, 0.84]


def test_alpha_if_deleted_and_corrected_item_total_by_hand() -> None:
    items = pd.DataFrame(
        {"a": [1, 2, 3, 4, 5, 3], "b": [2, 2, 3, 5, 4, 3], "c": [1, 3, 3, 4, 5, 2]},
        dtype=float,
    )
    result = cronbach_alpha(items)
    cov = items.cov().to_numpy()
    k = 3
    assert result.alpha == pytest.approx(k / (k - 1) * (1 - np.trace(cov) / cov.sum()))
    rest = items[["b", "c"]].sum(axis=1)
    assert result.items[0].corrected_item_total_r == pytest.approx(items["a"].corr(rest))
    bc = items[["b", "c"]].cov().to_numpy()
    assert result.items[0].alpha_if_deleted == pytest.approx(2 * (1 - np.trace(bc) / bc.sum()))
    corr = items.corr().to_numpy()
    assert result.standardized_alpha == pytest.approx(1.5 * (1 - 3 / corr.sum()))


def test_two_items_have_no_alpha_if_deleted() -> None:
    items = pd.DataFrame({"a": [1, 2, 3, 4], "b": [1, 3, 3, 5]}, dtype=float)
    result = cronbach_alpha(items)
    assert all(i.alpha_if_deleted is None for i in result.items)
    assert result.items[0].corrected_item_total_r == pytest.approx(items["a"].corr(items["b"]))


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (pd.DataFrame({"a": [1.0, 2.0]}), "at least 2 items"),
        (pd.DataFrame({"a": [1.0], "b": [2.0]}), "at least 2 respondents"),
        (pd.DataFrame({"a": ["x", "y"], "b": [1.0, 2.0]}), "not numeric: a"),
        (pd.DataFrame({"a": [3.0, 3.0, 3.0], "b": [1.0, 2.0, 3.0]}), "do not vary: a"),
    ],
)
def test_bad_input_raises_value_error(items: pd.DataFrame, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cronbach_alpha(items)


def test_unknown_missing_policy() -> None:
    items = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [1.0, 3.0, 2.0]})
    with pytest.raises(ValueError, match="pairwise' or 'listwise"):
        cronbach_alpha(items, missing="everything")  # type: ignore[arg-type]


def test_to_dict_has_the_cli_contract_keys() -> None:
    result = cronbach_alpha(pg.read_dataset("cronbach_wide_missing")).to_dict()
    assert {"alpha", "ci", "standardized_alpha", "n", "k", "items"} <= set(result)
    assert isinstance(result["ci"], list)
    assert isinstance(result["items"], list)
    assert set(result["items"][0]) == {
        "item",
        "n",
        "mean",
        "sd",
        "corrected_item_total_r",
        "alpha_if_deleted",
    }


likert = arrays(
    np.float64,
    st.tuples(st.integers(5, 30), st.integers(2, 6)),
    elements=st.sampled_from([1.0, 2.0, 3.0, 4.0, 5.0]),
)


def _varied(matrix: np.ndarray) -> bool:
    return bool((matrix.std(axis=0) > 0).all())


@settings(max_examples=60, deadline=None)
@given(likert, st.randoms(use_true_random=False))
def test_alpha_does_not_depend_on_item_order(matrix: np.ndarray, random: object) -> None:
    if not _varied(matrix) or pd.DataFrame(matrix).cov().to_numpy().sum() <= 0:
        return
    frame = pd.DataFrame(matrix, columns=[f"i{j}" for j in range(matrix.shape[1])])
    order = list(frame.columns)
    random.shuffle(order)  # type: ignore[attr-defined]
    a = cronbach_alpha(frame)
    b = cronbach_alpha(frame[order])
    assert math.isclose(a.alpha, b.alpha, rel_tol=1e-9, abs_tol=1e-12)
    assert math.isclose(a.standardized_alpha, b.standardized_alpha, rel_tol=1e-9, abs_tol=1e-12)
    by_item = {i.item: i for i in b.items}
    for item in a.items:
        other = by_item[item.item]
        if item.alpha_if_deleted is not None and other.alpha_if_deleted is not None:
            assert math.isclose(item.alpha_if_deleted, other.alpha_if_deleted, abs_tol=1e-9)


@settings(max_examples=60, deadline=None)
@given(likert)
def test_alpha_never_exceeds_one_and_interval_brackets_it(matrix: np.ndarray) -> None:
    if not _varied(matrix) or pd.DataFrame(matrix).cov().to_numpy().sum() <= 0:
        return
    result = cronbach_alpha(pd.DataFrame(matrix, columns=[f"i{j}" for j in range(matrix.shape[1])]))
    assert result.alpha <= 1 + 1e-12
    assert result.ci[0] <= result.alpha <= result.ci[1]


# -- no silently wrong number (issue 14) ------------------------------------------------------


def test_an_item_with_no_answers_is_named() -> None:
    items = pd.DataFrame({"A": [1.0, 2, 3], "B": [float("nan")] * 3, "C": [2.0, 2, 4]})
    with pytest.raises(ValueError, match=r"^B has no answers$"):
        cronbach_alpha(items, missing="pairwise")
    with pytest.raises(ValueError, match=r"^B has no answers$"):
        cronbach_alpha(items, missing="listwise")


def test_pairs_answered_together_by_fewer_than_two_are_named() -> None:
    nan = float("nan")
    items = pd.DataFrame({"A": [1.0, 2, nan, nan, nan], "B": [1.0, nan, 3, 4, 5]})
    with pytest.raises(ValueError, match=r"^A and B were answered together by only 1 respondent"):
        cronbach_alpha(items, missing="pairwise")


def test_a_slightly_non_psd_pairwise_matrix_gives_alpha_with_a_warning() -> None:
    result = cronbach_alpha(pg.read_dataset("cronbach_wide_missing"), missing="pairwise")
    assert round(result.alpha, 6) == 0.732661  # psych's figure, unchanged
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith("the pairwise covariance matrix is not positive")
    assert result.to_dict()["warnings"] == list(result.warnings)
    assert (
        cronbach_alpha(pg.read_dataset("cronbach_wide_missing"), missing="listwise").warnings == ()
    )


def test_negative_alpha_is_returned_with_a_warning_naming_the_item() -> None:
    items = pd.DataFrame(
        {"A": [1.0, 2, 3, 4, 5, 3], "B": [5.0, 4, 3, 2, 1, 3], "C": [2.0, 3, 3, 4, 3, 3]}
    )
    result = cronbach_alpha(items)
    assert result.alpha < 0
    (warning,) = result.warnings
    assert warning.startswith(f"alpha is negative ({spss_round(result.alpha, 3)})")
    assert "A and B correlate negatively with the rest" in warning


def test_covariances_summing_to_zero_or_less_are_refused() -> None:
    items = pd.DataFrame({"A": [1.0, 2, 3, 4, 5], "B": [5.0, 4, 3, 2, 1]})
    with pytest.raises(ValueError, match="sum to zero or less, so alpha is undefined"):
        cronbach_alpha(items)
