"""No answer is shown for a group smaller than the anonymity threshold."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.anonymity import NOT_STATED, results_visible, suppress_groups, validate_threshold


def test_threshold_never_below_three() -> None:
    assert validate_threshold(3) == 3
    with pytest.raises(ValueError, match="at least 3, got 2"):
        validate_threshold(2)


def test_round_below_threshold_shows_nothing() -> None:
    assert not results_visible(4, 5)
    assert results_visible(5, 5)


def test_single_hidden_group_takes_the_next_smallest_with_it() -> None:
    decisions = suppress_groups({"acute": 12, "social-care": 2, "gp": 6, "community": 9}, 5)
    shown = {d.group: (d.shown, d.reason) for d in decisions}
    assert shown == {
        "acute": (True, None),
        "social-care": (False, "below-threshold"),
        "gp": (False, "complementary"),
        "community": (True, None),
    }


def test_two_hidden_groups_that_reach_the_threshold_together_need_no_complement() -> None:
    decisions = suppress_groups({"acute": 12, "social-care": 3, "gp": 2, NOT_STATED: 0}, 5)
    assert [d.shown for d in decisions] == [True, False, False, False]
    # Together below the threshold (2 + 1 people): the rest is hidden too (tests/test_disclosure).
    decisions = suppress_groups({"acute": 12, "social-care": 2, "gp": 1, NOT_STATED: 0}, 5)
    assert [d.shown for d in decisions] == [False, False, False, False]


def test_not_stated_counts_as_a_group() -> None:
    decisions = suppress_groups({"management": 20, "medical": 8, NOT_STATED: 2}, 5)
    assert [d.shown for d in decisions] == [True, False, False]


@given(
    st.dictionaries(st.sampled_from("abcdefg"), st.integers(0, 30), min_size=1),
    st.integers(3, 10),
)
def test_no_hidden_group_can_be_worked_out_by_subtraction(sizes: dict, threshold: int) -> None:  # type: ignore[type-arg]
    decisions = suppress_groups(sizes, threshold)
    hidden = [d for d in decisions if not d.shown and d.n > 0]
    # Every shown group is large enough, and hidden groups never stand alone.
    assert all(d.n >= threshold for d in decisions if d.shown)
    assert len(hidden) != 1 or not any(d.shown for d in decisions)
    # Suppression only hides: a group at or above the threshold is hidden only as a complement.
    for d in decisions:
        if not d.shown and d.n >= threshold:
            assert d.reason == "complementary"
