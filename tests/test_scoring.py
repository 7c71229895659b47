"""Reverse-keying, composite scores and the minimum-answered rule."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from analysis.instrument import load_instrument
from analysis.scoring import keyed_items, reverse_key, scale_scores, score_scale

INSTRUMENT = load_instrument("trustworthy-collaboration")


def test_reverse_keying_flips_only_negatively_worded_items() -> None:
    responses = pd.DataFrame({"q29": [1.0, 5.0], "q26": [1.0, 5.0], "care_model": ["a", "b"]})
    keyed = keyed_items(responses, INSTRUMENT)
    assert list(keyed.columns) == ["q26", "q29"]
    assert keyed["q29"].tolist() == [5.0, 1.0]
    assert keyed["q26"].tolist() == [1.0, 5.0]


def test_minimum_answered_default_is_half_rounded_up() -> None:
    assert INSTRUMENT.scale("inter_organisational_trust").required_answers == 2
    assert INSTRUMENT.scale("integrity_behaviours").required_answers == 2
    assert INSTRUMENT.scale("competition").required_answers == 1
    assert INSTRUMENT.scale("benevolence_behaviour").required_answers == 1


def test_scale_scores_mean_of_answered_items_or_missing() -> None:
    nan = math.nan
    responses = pd.DataFrame({item: [nan, nan, nan] for item in INSTRUMENT.item_ids})
    # Inter-Org Trust (4 reverse-keyed items, needs 2): answers 2 and 4 -> keyed 4 and 2.
    responses.loc[0, ["q29", "q30"]] = [2.0, 4.0]
    responses.loc[1, ["q29"]] = [1.0]  # only one of four answered: no score
    responses.loc[2, ["q29", "q30", "q31", "q33"]] = [1.0, 1.0, 2.0, 2.0]
    scores = scale_scores(responses, INSTRUMENT)
    assert list(scores.columns) == [s.id for s in INSTRUMENT.scales]
    trust = scores["inter_organisational_trust"]
    assert trust[0] == pytest.approx(3.0)
    assert math.isnan(trust[1])
    assert trust[2] == pytest.approx(4.5)


def test_score_scale_rejects_impossible_minimum() -> None:
    items = pd.DataFrame({"a": [1.0], "b": [2.0]})
    with pytest.raises(ValueError, match="at least 1"):
        score_scale(items, 0)
    with pytest.raises(ValueError, match="exceeds"):
        score_scale(items, 3)


def test_missing_scale_column_is_named() -> None:
    with pytest.raises(ValueError, match="scale financial_quality_rating needs the columns q22"):
        scale_scores(pd.DataFrame({"q23": [1.0]}), INSTRUMENT)


answers = arrays(
    np.float64,
    st.tuples(st.integers(1, 20), st.just(4)),
    elements=st.sampled_from([1.0, 2.0, 3.0, 4.0, 5.0, math.nan]),
)


@settings(max_examples=80, deadline=None)
@given(answers)
def test_reverse_keying_twice_is_the_identity(matrix: np.ndarray) -> None:
    frame = pd.DataFrame(matrix)
    twice = reverse_key(reverse_key(frame, 1, 5), 1, 5)
    pd.testing.assert_frame_equal(twice, frame)


@settings(max_examples=80, deadline=None)
@given(answers)
def test_scores_stay_within_the_scale_bounds(matrix: np.ndarray) -> None:
    responses = pd.DataFrame(matrix, columns=["q29", "q30", "q31", "q33"])
    scores = scale_scores(responses.reindex(columns=INSTRUMENT.item_ids), INSTRUMENT)
    scores = scores.stack().dropna()
    assert ((scores >= 1) & (scores <= 5)).all()
    answered = responses.notna().sum(axis=1)
    trust = scale_scores(responses.reindex(columns=INSTRUMENT.item_ids), INSTRUMENT)[
        "inter_organisational_trust"
    ]
    assert (trust.notna() == (answered >= 2)).all()
