"""The publication rules of ``analysis.disclosure``: unit tests and hypothesis properties.

The properties: no published set is smaller than the threshold, and no difference of two
published sets (overall minus the shown groups, a release minus an earlier one, a report
group minus the file's rows with its value) is smaller than the threshold, unless it is empty.
"""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.disclosure import (
    NOT_STATED,
    combination_counts,
    k_anonymise,
    open_link_share,
    plan_release,
    suppress_groups,
)

# --- attack 3: complementary suppression that stopped too early ------------------------------


def test_two_small_groups_are_not_published_as_overall_minus_shown() -> None:
    # The victim (council) and the attacker (ambulance) were hidden, the rest shown: the
    # attacker subtracted the shown groups and their own answers from the whole round.
    decisions = suppress_groups({"acute": 5, "gp": 5, "council": 1, "ambulance": 1}, 5)
    hidden = [d for d in decisions if not d.shown and d.n]
    assert sum(d.n for d in hidden) >= 5 and len(hidden) > 1
    assert {d.group: d.reason for d in hidden} == {
        "acute": "complementary",
        "council": "below-threshold",
        "ambulance": "below-threshold",
    }


def test_two_people_without_an_attacker_are_not_published_as_a_mean() -> None:
    decisions = suppress_groups({"acute": 12, "social-care": 2, "gp": 1, NOT_STATED: 0}, 5)
    hidden = sum(d.n for d in decisions if not d.shown)
    assert hidden >= 5 and [d.shown for d in decisions] == [False, False, False, False]


def test_three_small_groups_take_complements_until_the_threshold() -> None:
    decisions = suppress_groups({"a": 20, "b": 6, "c": 1, "d": 1, "e": 1, "f": 9}, 5)
    shown = {d.group for d in decisions if d.shown}
    assert shown == {"a", "f"}  # c+d+e = 3 < 5, so b (the smallest shown) goes too


def test_when_the_hidden_total_cannot_reach_the_threshold_every_group_is_hidden() -> None:
    decisions = suppress_groups({"a": 6, "b": 1}, 5)
    assert not any(d.shown for d in decisions)


def test_a_single_group_that_is_everybody_is_shown() -> None:
    assert [d.shown for d in suppress_groups({"a": 7, NOT_STATED: 0}, 5)] == [True, False]


def test_negative_sizes_and_low_thresholds_are_refused() -> None:
    with pytest.raises(ValueError, match="negative size"):
        suppress_groups({"a": -1}, 5)
    with pytest.raises(ValueError, match="at least 3"):
        suppress_groups({"a": 1}, 2)


group_sizes = st.dictionaries(
    st.sampled_from(["a", "b", "c", "d", "e", "f", NOT_STATED]), st.integers(0, 25), min_size=1
)


@given(group_sizes, st.integers(3, 10))
def test_no_published_group_and_no_difference_is_below_the_threshold(
    sizes: dict[str, int], threshold: int
) -> None:
    decisions = suppress_groups(sizes, threshold)
    total = sum(sizes.values())
    if total < threshold:
        return  # the round itself is not published
    shown = [d for d in decisions if d.shown]
    hidden = [d for d in decisions if not d.shown and d.n > 0]
    assert all(d.n >= threshold for d in shown)
    # Overall minus any choice of shown groups is the hidden ones plus the rest.
    hidden_total = sum(d.n for d in hidden)
    assert hidden_total == 0 or hidden_total >= threshold
    assert len(hidden) != 1
    for d in decisions:
        if not d.shown and d.n >= threshold:
            assert d.reason == "complementary"


# --- attack 4: rare combinations in row-level downloads --------------------------------------


def test_a_rare_combination_of_common_values_is_generalised() -> None:
    # Every single value has 5 or more rows, but (acute, medical) is one person.
    rows = pd.DataFrame(
        {
            "organisation_type": ["acute"] * 6 + ["gp"] * 6,
            "professional_role": ["management"] * 5 + ["medical"] + ["medical"] * 4 + ["x"] * 2,
        }
    )
    counts = combination_counts(rows, ["organisation_type", "professional_role"])
    assert counts[("acute", "medical")] == 1  # the attack's file
    anonymous = k_anonymise(rows, ["organisation_type", "professional_role"], 5)
    published = combination_counts(anonymous.frame, ["organisation_type", "professional_role"])
    assert min(published.values()) >= 5
    assert anonymous.withheld and "blank in the row-level files" in (anonymous.note() or "")
    # The report names each question as the instrument does, never by its id.
    named = anonymous.note({"organisation_type": "organisation type", "professional_role": "role"})
    assert named is not None and "organisation_type" not in named
    assert " on " in named and ("organisation type on" in named or "role on" in named)


def test_blank_answers_count_as_a_value_of_their_own() -> None:
    rows = pd.DataFrame({"type": ["a"] * 5 + [None], "role": ["m"] * 6})
    anonymous = k_anonymise(rows, ["type", "role"], 5)
    assert min(combination_counts(anonymous.frame, ["type", "role"]).values()) >= 5


def test_nothing_is_withheld_when_every_combination_is_common() -> None:
    rows = pd.DataFrame({"type": ["a"] * 5 + ["b"] * 5, "role": ["m"] * 10})
    anonymous = k_anonymise(rows, ["type", "role"], 5)
    assert anonymous.withheld == () and anonymous.note() is None
    assert anonymous.frame.to_dict("list") == rows.to_dict("list")


def test_the_questions_a_report_breaks_down_by_are_blanked_last() -> None:
    # Care model is rare on its own; with keep, it goes before the organisation type.
    rows = pd.DataFrame(
        {
            "model": ["m1"] * 3 + ["m2"] * 3 + ["m3"] * 4,
            "type": ["acute"] * 5 + ["gp"] * 5,
        }
    )
    kept = k_anonymise(rows, ["model", "type"], 5, keep=["type"])
    assert kept.frame["type"].tolist() == rows["type"].tolist()
    assert [w.question_id for w in kept.withheld] == ["model"]
    with pytest.raises(ValueError, match="not among the quasi-identifiers"):
        k_anonymise(rows, ["model"], 5, keep=["type"])


def test_an_answer_every_row_shares_is_never_blanked() -> None:
    # Within one round every respondent's partnership is of the same kind: that answer tells
    # no row from another, so blanking it (as the keep order did, before the questions a
    # report breaks down by) loses it from the file and hides no one.
    rows = pd.DataFrame(
        {
            "partnership": ["place"] * 10,
            "type": ["acute"] * 5 + ["gp"] * 5,
            "role": [f"r{i}" for i in range(10)],
        }
    )
    columns = ["partnership", "type", "role"]
    for keep in ([], ["type", "role"]):
        anonymous = k_anonymise(rows, columns, 5, keep=keep)
        assert anonymous.frame["partnership"].tolist() == ["place"] * 10, keep
        assert min(combination_counts(anonymous.frame, columns).values()) >= 5
        assert "partnership" not in [w.question_id for w in anonymous.withheld]
    # A shared answer with a blank beside it does tell rows apart, and is treated as before.
    gapped = rows.assign(partnership=["place"] * 9 + [None])
    assert min(combination_counts(k_anonymise(gapped, columns, 5).frame, columns).values()) >= 5


def test_an_unknown_column_is_named() -> None:
    with pytest.raises(ValueError, match="no column role"):
        k_anonymise(pd.DataFrame({"type": ["a"]}), ["type", "role"], 5)


background = st.lists(
    st.tuples(
        st.sampled_from(["acute", "gp", "council", "ambulance", None]),
        st.sampled_from(["management", "medical", "other", None]),
        st.sampled_from(["m1", "m2", None]),
    ),
    min_size=0,
    max_size=80,
)


@settings(max_examples=200, deadline=None)
@given(background, st.integers(3, 10))
def test_every_published_combination_holds_the_threshold(
    rows: list[tuple[str | None, str | None, str | None]], threshold: int
) -> None:
    frame = pd.DataFrame(rows, columns=["type", "role", "model"], dtype="object")
    columns = ["type", "role", "model"]
    anonymous = k_anonymise(frame, columns, threshold)
    if len(frame) >= threshold:
        assert min(combination_counts(anonymous.frame, columns).values(), default=threshold) >= (
            threshold
        )
    # Only blanks: a published answer is always the respondent's own.
    for column in columns:
        for before, after in zip(frame[column], anonymous.frame[column], strict=True):
            assert after is None or after == before
    # A breakdown over the published answers (as the reports make them) has every group, and
    # so every difference of groups, at least the threshold: each is a union of file classes.
    published = anonymous.frame["type"]
    sizes = {str(v): int((published == v).sum()) for v in published.dropna().unique()} | {
        NOT_STATED: int(published.isna().sum())
    }
    if len(frame) >= threshold:
        assert all(n == 0 or n >= threshold for n in sizes.values())
        assert all(d.shown for d in suppress_groups(sizes, threshold) if d.n)
    # Sparing the questions a report breaks down by still gives a k-anonymous table.
    kept = k_anonymise(frame, columns, threshold, keep=["type"])
    if len(frame) >= threshold:
        assert min(combination_counts(kept.frame, columns).values()) >= threshold


# --- attack 5: releases ----------------------------------------------------------------------


def test_at_close_publishes_nothing_while_open_then_everything() -> None:
    assert not plan_release([], 30, 5, closed=False, policy="at-close").make_release
    plan = plan_release([], 30, 5, closed=True, policy="at-close")
    assert (plan.make_release, plan.responses, plan.final, plan.not_included) == (
        True,
        30,
        True,
        0,
    )
    below = plan_release([], 4, 5, closed=True, policy="at-close")
    assert not below.make_release and below.number == 0 and "Fewer than 5" in str(below.reason)


def test_interim_releases_move_in_steps_of_the_threshold() -> None:
    assert not plan_release([], 4, 5, closed=False, policy="interim").make_release
    first = plan_release([], 5, 5, closed=False, policy="interim")
    assert first.make_release and first.responses == 5 and not first.final
    waiting = plan_release([5], 9, 5, closed=False, policy="interim")
    assert not waiting.make_release and waiting.responses == 5 and waiting.not_included == 4
    second = plan_release([5], 10, 5, closed=False, policy="interim")
    assert second.make_release and second.number == 2 and second.responses == 10


def test_at_close_a_small_remainder_is_left_out_and_said_so() -> None:
    plan = plan_release([5, 10], 13, 5, closed=True, policy="interim")
    assert plan.make_release and plan.final and plan.responses == 10 and plan.number == 3
    assert plan.not_included == 3 and "3 later responses are not included" in str(plan.reason)
    done = plan_release([5, 10, 10], 13, 5, closed=True, policy="interim", earlier_final=True)
    assert not done.make_release and done.number == 3


def test_bad_release_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown release policy"):
        plan_release([], 3, 5, closed=False, policy="live")
    with pytest.raises(ValueError, match="already released"):
        plan_release([10], 3, 5, closed=False, policy="interim")
    with pytest.raises(ValueError, match="at least the threshold"):
        plan_release([2], 3, 5, closed=False, policy="interim")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 12), min_size=1, max_size=12),
    st.integers(0, 12),
    st.integers(3, 10),
    st.sampled_from(["at-close", "interim"]),
)
def test_no_release_and_no_difference_of_releases_is_below_the_threshold(
    arrivals: list[int], close_after: int, threshold: int, policy: str
) -> None:
    """Responses arrive in batches; a report is asked for after each; the round closes."""
    releases: list[int] = []
    final = False
    submitted = 0
    for step, batch in enumerate(arrivals):
        closed = step >= close_after
        if not closed:
            submitted += batch
        plan = plan_release(
            releases, submitted, threshold, closed=closed, policy=policy, earlier_final=final
        )
        if plan.make_release:
            assert plan.number == len(releases) + 1
            releases.append(plan.responses)
            final = plan.final
        if policy == "at-close" and not closed:
            assert releases == []
    assert all(n >= threshold for n in releases)
    steps = [b - a for a, b in zip([0, *releases], releases, strict=False)]
    for number, step in enumerate(steps, start=1):
        if step == 0:  # only a final release may repeat the last interim one
            assert number == len(steps) and final
        else:
            assert step >= threshold


# --- the open link -----------------------------------------------------------------------------


def test_open_link_burst_is_flagged_and_spread_answers_are_not() -> None:
    burst = open_link_share([True] * 6 + [False] * 4, ["10:00"] * 5 + ["11:00"] + ["9:00"] * 4)
    assert burst.via_open_link == 6 and burst.largest_hour == 5 and burst.burst
    assert "6 of the 10 responses came through the open link" in str(burst.caution())
    spread = open_link_share([True] * 6 + [False] * 4, [f"{h}:00" for h in range(10)])
    assert not spread.burst and spread.caution() is None
    few = open_link_share([True] * 3 + [False] * 7, ["10:00"] * 10)
    assert not few.burst and few.via_open_link == 3
