"""The one place that decides what of a round may be published.

Every figure a report, a download or the API shows is computed from a *set of responses*. The
rule this module enforces is that no such set smaller than the round's anonymity threshold
``k`` is ever published, neither directly nor as the difference of two published sets. Three
mechanisms do it, each a pure function here; ``app`` only applies their decisions.

Whole round
    A round's results appear only when its published set holds at least ``k`` responses
    (:func:`results_visible`); otherwise only the count is given.

Breakdowns by a background question (:func:`suppress_groups`)
    A group with fewer than ``k`` responses is hidden (primary suppression). Because the whole
    round is published, the hidden groups together can be worked out as "overall minus the
    shown groups"; so further groups are hidden, smallest first (complementary suppression),
    until the hidden groups together hold at least ``k`` responses *and* more than one group is
    hidden (or none is). If that cannot be met, every group is hidden. Respondents who did not
    answer the question form a group of their own (:data:`NOT_STATED`), because they are part
    of the whole too.

    Without the second condition two people in two hidden groups would be published as
    "overall minus shown", the mean of two people; and one insider in a hidden group could
    subtract their own answers and read the other person's.

Row-level downloads (:func:`k_anonymise`)
    Files with one row per respondent are k-anonymous over the background questions taken
    together: every combination of the choice-type background answers (the quasi-identifiers,
    read from the instrument) appears on at least ``k`` rows. A rarer combination is
    generalised by blanking its most identifying answer first (the one whose value is rarest
    in the round), then more; rows so blanked form classes of their own, which must reach
    ``k`` as well, so when they do not the next smallest classes are generalised with them
    (complementary suppression), and in the end everything may be blank. Free-text background
    answers are never written to a download. Breakdowns on the report group respondents by
    their answers *as published in the files*, so that every set the report shows is a union of
    the files' classes, and no difference of two of them is smaller than ``k`` (a group shown
    for all its members while the file blanked one of them would give that one person away as
    "group minus the file's rows"). A respondent whose answer is blank in the files counts as
    "not stated" there.

Releases (:func:`plan_release`)
    Results are published in numbered releases; each response is published by the first
    release made after it arrived, and a report shows only the responses of its latest
    release. The default policy, ``at-close``, publishes nothing until the round closes (its
    status is closed or its closing date has passed), then one final release. A coordinator
    may choose ``interim`` instead: a new release is made only once at least ``k`` unreleased
    responses have arrived, so no two releases differ by fewer than ``k`` people. At close the
    remaining responses are released only if there are at least ``k`` of them (or there was no
    earlier release); otherwise the final release holds the same responses as the last interim
    one and the report says how many later responses are not included, and why. Breakdowns and
    row-level downloads appear only in a final release (a group's figures in two releases would
    differ by as little as one person); interim releases show whole-round figures only.

The threshold is never below :data:`MINIMUM_THRESHOLD`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import permutations

import pandas as pd

MINIMUM_THRESHOLD = 3
DEFAULT_THRESHOLD = 5
NOT_STATED = "not-stated"


def validate_threshold(threshold: int) -> int:
    """Return ``threshold`` if allowed, else raise ``ValueError`` saying why."""
    if threshold < MINIMUM_THRESHOLD:
        raise ValueError(
            f"the anonymity threshold must be at least {MINIMUM_THRESHOLD}, got {threshold}"
        )
    return threshold


def results_visible(n_responses: int, threshold: int) -> bool:
    """Whether a set of ``n_responses`` responses may be published as a whole."""
    return n_responses >= validate_threshold(threshold)


def scales_shown(counts: Sequence[Mapping[str, int]], threshold: int) -> set[str]:
    """The scales the latest of a round's releases may show figures of.

    ``counts`` holds, per release (oldest first, each cumulative), how many respondents were
    scored on each scale. Releases differ by at least ``threshold`` responses, but the
    respondents scored on one scale may differ by fewer (the others left it blank), and the
    difference of two releases' means would be their score. So a release shows a scale only
    when at least ``threshold`` were scored on it and its count differs from that of every
    earlier release that showed the scale by none or by at least ``threshold``.

    >>> sorted(scales_shown([{"a": 5, "b": 5}, {"a": 10, "b": 6}], 5))
    ['a']
    >>> sorted(scales_shown([{"a": 4}, {"a": 6}], 5))
    ['a']
    """
    validate_threshold(threshold)
    shown_at: dict[str, list[int]] = {}
    latest: set[str] = set()
    for release in counts:
        latest = set()
        for scale, n in release.items():
            earlier = shown_at.setdefault(scale, [])
            if n >= threshold and all(n == m or abs(n - m) >= threshold for m in earlier):
                earlier.append(n)
                latest.add(scale)
    return latest


# --- breakdowns -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupVisibility:
    """Whether one group of a breakdown may be shown, and why not."""

    group: str
    n: int
    shown: bool
    reason: str | None  # "below-threshold" or "complementary"


def suppress_groups(sizes: Mapping[str, int], threshold: int) -> list[GroupVisibility]:
    """Decide which groups of a breakdown may be shown.

    Parameters
    ----------
    sizes : mapping of group to number of responses
        Every group that is part of the whole, including respondents who did not answer the
        question (use :data:`NOT_STATED`); empty groups may be included and are never shown
        (there is nothing to show).
    threshold : int
        The round's anonymity threshold ``k``.

    Returns
    -------
    list of GroupVisibility
        In the order of ``sizes``. The hidden non-empty groups together hold at least
        ``threshold`` responses and number more than one, or no group is hidden; when that
        cannot be met every group is hidden.

    Examples
    --------
    >>> [v.shown for v in suppress_groups({"acute": 12, "social-care": 2, "gp": 6}, 5)]
    [True, False, False]
    >>> [v.shown for v in suppress_groups({"acute": 5, "gp": 5, "council": 1, "ambulance": 1}, 5)]
    [False, True, False, False]
    """
    validate_threshold(threshold)
    decisions: dict[str, GroupVisibility] = {}
    for group, n in sizes.items():
        if n < 0:
            raise ValueError(f"group {group!r} has a negative size ({n})")
        if n == 0:
            decisions[group] = GroupVisibility(group, 0, False, None)
        elif n < threshold:
            decisions[group] = GroupVisibility(group, n, False, "below-threshold")
        else:
            decisions[group] = GroupVisibility(group, n, True, None)

    def hidden() -> list[GroupVisibility]:
        return [d for d in decisions.values() if d.n > 0 and not d.shown]

    while hidden() and (sum(d.n for d in hidden()) < threshold or len(hidden()) == 1):
        shown = sorted((d for d in decisions.values() if d.shown), key=lambda d: (d.n, d.group))
        if not shown:
            break  # every non-empty group is hidden already
        smallest = shown[0]
        decisions[smallest.group] = GroupVisibility(
            smallest.group, smallest.n, False, "complementary"
        )
    return [decisions[group] for group in sizes]


# --- row-level downloads ----------------------------------------------------------------------


@dataclass(frozen=True)
class Withheld:
    """How many rows had one background answer blanked in a row-level download."""

    question_id: str
    rows: int


@dataclass(frozen=True)
class KAnonymous:
    """A row-level table made k-anonymous over its quasi-identifiers.

    Attributes
    ----------
    frame : pandas.DataFrame
        The rows, in the input's order and index, with blanked answers as ``None``.
    quasi_identifiers : tuple of str
        The columns considered together.
    threshold : int
        ``k``: every combination of the quasi-identifiers' values (blank included) appears on
        at least this many rows, unless the table has fewer rows than that.
    withheld : tuple of Withheld
        Per quasi-identifier, the number of rows whose answer was blanked (only those with any).
    blanked : pandas.DataFrame
        Booleans shaped like ``frame[quasi_identifiers]``: ``True`` where an answer was blanked.
    original : pandas.DataFrame
        The quasi-identifiers' values before blanking.
    """

    frame: pd.DataFrame
    quasi_identifiers: tuple[str, ...]
    threshold: int
    withheld: tuple[Withheld, ...]
    blanked: pd.DataFrame
    original: pd.DataFrame

    def note(self, names: Mapping[str, str] | None = None) -> str | None:
        """A sentence saying what was withheld, for the file and the report (``None`` if
        nothing was); each question called by its name in ``names`` (the instrument's
        "organisation type"), else by its id."""
        if not self.withheld:
            return None
        parts = ", ".join(
            f"{(names or {}).get(w.question_id, w.question_id)} on {w.rows} rows"
            for w in self.withheld
        )
        return (
            f"To keep every combination of background answers on at least {self.threshold} "
            f"rows, these answers are blank in the row-level files: {parts}."
        )


def combination_counts(frame: pd.DataFrame, columns: Sequence[str]) -> Counter[tuple[object, ...]]:
    """How many rows carry each combination of ``columns``' values (blank as ``None``)."""
    return Counter(_combinations(frame, columns))


def _combinations(frame: pd.DataFrame, columns: Sequence[str]) -> list[tuple[object, ...]]:
    values = [[None if _blank(v) else v for v in frame[column].tolist()] for column in columns]
    return list(zip(*values, strict=True)) if values else [() for _ in range(len(frame))]


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)


_MOST_ORDERS_TRIED = 4
"""With up to this many quasi-identifiers every fixed order of blanking is tried as well."""


def _rarest(combination: tuple[object, ...], frequency: list[Counter[object]]) -> int:
    """The position of the answer whose value is rarest in the table (ties: the first)."""
    return min(
        (i for i, v in enumerate(combination) if v is not None),
        key=lambda i: (frequency[i][combination[i]], i),
    )


def _in_order(
    order: tuple[int, ...],
) -> Callable[[tuple[object, ...], list[Counter[object]]], int]:
    def first(combination: tuple[object, ...], _: list[Counter[object]]) -> int:
        return next(i for i in order if combination[i] is not None)

    return first


def _blanks(classes: dict[tuple[object, ...], list[int]]) -> int:
    return sum(len(members) * sum(v is None for v in c) for c, members in classes.items())


def _generalise(
    original: list[tuple[object, ...]],
    width: int,
    threshold: int,
    choose: Callable[[tuple[object, ...], list[Counter[object]]], int],
) -> dict[tuple[object, ...], list[int]]:
    """Rows (by position) in classes of at least ``threshold``, blanking as ``choose`` says."""
    classes: dict[tuple[object, ...], list[int]] = {}
    for row, combination in enumerate(original):
        classes.setdefault(combination, []).append(row)
    all_blank: tuple[object, ...] = tuple(None for _ in range(width))
    while width and len(original) >= threshold:
        rare = {c for c, members in classes.items() if len(members) < threshold}
        if not rare:
            break
        if rare == {all_blank}:
            others = sorted(
                (c for c in classes if c != all_blank),
                key=lambda c: (len(classes[c]), [str(v) for v in c]),
            )
            rare = {others[0]}  # complementary: generalise the smallest class with it
        frequency: list[Counter[object]] = [Counter() for _ in range(width)]
        for combination, members in classes.items():
            for i, value in enumerate(combination):
                if value is not None:
                    frequency[i][value] += len(members)
        for combination in sorted(rare - {all_blank}, key=lambda c: [str(v) for v in c]):
            position = choose(combination, frequency)
            general = tuple(None if i == position else v for i, v in enumerate(combination))
            classes.setdefault(general, []).extend(classes.pop(combination))
    return classes


def _keeping(
    rank: Mapping[int, int],
) -> Callable[[tuple[object, ...], list[Counter[object]]], int]:
    """Blank the rarest value among the positions not ranked; then the ranked ones, the least
    important (highest rank) first."""

    def choose(combination: tuple[object, ...], frequency: list[Counter[object]]) -> int:
        present = [i for i, v in enumerate(combination) if v is not None]
        free = [i for i in present if i not in rank]
        if free:
            return min(free, key=lambda i: (frequency[i][combination[i]], i))
        return max(present, key=lambda i: rank[i])

    return choose


def k_anonymise(
    frame: pd.DataFrame,
    quasi_identifiers: Sequence[str],
    threshold: int,
    *,
    keep: Sequence[str] = (),
) -> KAnonymous:
    """Blank background answers until every combination of them appears on ``threshold`` rows.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per respondent; the quasi-identifier columns hold text or ``None``.
    quasi_identifiers : sequence of str
        The choice-type background questions, taken together.
    threshold : int
        ``k``.
    keep : sequence of str, optional
        Quasi-identifiers whose answers matter most to the reader (the questions a report
        breaks down by), most important first: the others are blanked before them, and they
        only in reverse order of importance.

    Returns
    -------
    KAnonymous

    Notes
    -----
    Repeatedly, every combination seen on fewer than ``k`` rows has one answer blanked: the
    most identifying one, which is the answer whose value is rarest in the table (ties go to
    the question listed first). When the only rare combination left is the all-blank one, the
    smallest other combination is generalised too (complementary suppression), so that the
    blanked rows hide among at least ``k``. Each step blanks at least one answer, so the loop
    ends; at worst with every answer blank, which is one combination of all the rows. With up
    to four quasi-identifiers, blanking in each fixed order of the questions is tried as well,
    and whichever way blanks the fewest answers is kept (every way gives a k-anonymous table).
    With ``keep``, only the way that spares those questions longest is used.

    Examples
    --------
    >>> rows = pd.DataFrame({"type": ["a"] * 5 + ["b"] * 4, "role": ["x"] * 4 + ["y"] * 5})
    >>> k_anonymise(rows, ["type", "role"], 3).frame.fillna("-").value_counts().to_dict()
    {('-', '-'): 5, ('b', 'y'): 4}

    The one ``("a", "y")`` row could not hide among three on its own, so the four
    ``("a", "x")`` rows were blanked with it.
    """
    validate_threshold(threshold)
    columns = tuple(quasi_identifiers)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"the table has no column {', '.join(missing)} to make k-anonymous")
    unknown = [c for c in keep if c not in columns]
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: not among the quasi-identifiers to keep")
    shared = _shared_answers(frame, columns, threshold)
    if shared:
        return _with_shared_answers(frame, columns, threshold, keep, shared)
    original = _combinations(frame, columns)
    strategies: list[Callable[[tuple[object, ...], list[Counter[object]]], int]] = [_rarest]
    if keep:
        strategies = [_keeping({columns.index(c): rank for rank, c in enumerate(keep)})]
    elif len(columns) <= _MOST_ORDERS_TRIED:
        strategies += [_in_order(order) for order in permutations(range(len(columns)))]
    best: dict[tuple[object, ...], list[int]] | None = None
    for choose in strategies:
        classes = _generalise(original, len(columns), threshold, choose)
        if best is None or _blanks(classes) < _blanks(best):
            best = classes
    assert best is not None
    classes = best
    published: list[tuple[object, ...]] = list(original)
    for combination, members in classes.items():
        for row in members:
            published[row] = combination
    result = frame.copy()
    for i, column in enumerate(columns):
        result[column] = pd.Series([r[i] for r in published], index=frame.index, dtype="object")
    blanked = pd.DataFrame(
        [
            [now is None and before is not None for now, before in zip(p, o, strict=True)]
            for p, o in zip(published, original, strict=True)
        ],
        index=frame.index,
        columns=list(columns),
        dtype=bool,
    )
    originals = pd.DataFrame(
        [list(o) for o in original], index=frame.index, columns=list(columns), dtype="object"
    )
    withheld = tuple(
        Withheld(column, int(blanked[column].sum())) for column in columns if blanked[column].any()
    )
    return KAnonymous(result, columns, threshold, withheld, blanked, originals)


def _shared_answers(frame: pd.DataFrame, columns: tuple[str, ...], threshold: int) -> list[str]:
    """The quasi-identifiers every row answers alike (none blank): such an answer tells no
    row from another, so it never needs blanking, as long as the table has the ``threshold``
    rows to hide among at all (a smaller one is blanked whole, as before)."""
    if len(frame) < threshold:
        return []
    return [c for c in columns if frame[c].notna().all() and frame[c].nunique() == 1]


def _with_shared_answers(
    frame: pd.DataFrame,
    columns: tuple[str, ...],
    threshold: int,
    keep: Sequence[str],
    shared: Sequence[str],
) -> KAnonymous:
    """:func:`k_anonymise` over the columns that tell rows apart, with ``shared`` kept whole:
    a combination's count is the same with or without a column every row shares."""
    others = [c for c in columns if c not in shared]
    index, frames = frame.index, list(columns)
    if others:
        rest = k_anonymise(frame, others, threshold, keep=[c for c in keep if c in others])
        result, withheld = rest.frame, rest.withheld
        blanked = rest.blanked.reindex(columns=frames, fill_value=False)
    else:
        result, withheld = frame.copy(), ()
        blanked = pd.DataFrame(False, index=index, columns=frames, dtype=bool)
    originals = frame[frames].astype("object").where(frame[frames].notna(), None)
    return KAnonymous(result, columns, threshold, withheld, blanked.astype(bool), originals)


# --- releases ---------------------------------------------------------------------------------


class Policy(StrEnum):
    """When a round's results are published (mirrors ``app.models.ReleasePolicy``)."""

    AT_CLOSE = "at-close"
    INTERIM = "interim"


@dataclass(frozen=True)
class ReleasePlan:
    """What a round may publish now.

    Attributes
    ----------
    make_release : bool
        Whether a new release is to be made now.
    number : int
        The number of the release that a report shows after the plan is carried out (0: none).
    responses : int
        How many responses that release publishes (cumulative).
    final : bool
        Whether that release is the round's final one (breakdowns and row-level downloads).
    not_included : int
        Submitted responses that are not in it.
    reason : str or None
        Why responses are not included, in a sentence for the report.
    """

    make_release: bool
    number: int
    responses: int
    final: bool
    not_included: int
    reason: str | None


def plan_release(
    earlier: Sequence[int],
    submitted: int,
    threshold: int,
    *,
    closed: bool,
    policy: str,
    earlier_final: bool = False,
) -> ReleasePlan:
    """Whether to make a new release of a round, and what it holds.

    Parameters
    ----------
    earlier : sequence of int
        The cumulative number of responses each earlier release published, oldest first.
    submitted : int
        Submitted responses of the round now (published or not).
    threshold : int
        The round's anonymity threshold ``k``.
    closed : bool
        Whether the round has closed (status closed, or its closing date has passed).
    policy : {"at-close", "interim"}
        The round's release policy.
    earlier_final : bool
        Whether the last earlier release was final.  Nothing more is released unless the
        round was reopened and at least ``threshold`` new responses arrived since (never a
        release that differs from the last by fewer).

    Returns
    -------
    ReleasePlan
        A new release, when one is made, publishes every response submitted so far; so
        successive releases differ by at least ``threshold`` responses, except that a final
        release may repeat the last interim one (a difference of zero) when fewer than
        ``threshold`` responses came after it.

    Examples
    --------
    >>> plan_release([], 12, 5, closed=False, policy="at-close").make_release
    False
    >>> plan = plan_release([10], 13, 5, closed=True, policy="interim")
    >>> (plan.make_release, plan.responses, plan.final, plan.not_included)
    (True, 10, True, 3)
    """
    validate_threshold(threshold)
    if submitted < 0:
        raise ValueError(f"the number of submitted responses cannot be negative ({submitted})")
    if list(earlier) != sorted(earlier) or any(n < threshold for n in earlier):
        raise ValueError("earlier releases must grow and each hold at least the threshold")
    try:
        chosen = Policy(policy)
    except ValueError:
        raise ValueError(f"unknown release policy {policy!r}: at-close or interim") from None
    last = earlier[-1] if earlier else 0
    if submitted < last:
        raise ValueError(f"{submitted} submitted responses but {last} were already released")
    number = len(earlier)
    new = submitted - last
    if earlier_final:
        # Reopened after a final release: what was published stays; a new release only once
        # the threshold of new responses has arrived (final when the round has closed again),
        # so no two releases ever differ by fewer than the threshold.
        if new >= threshold and (closed or chosen == Policy.INTERIM):
            return _plan(True, number + 1, submitted, closed, submitted, threshold, closed=closed)
        return _plan(False, number, last, True, submitted, threshold, closed=True)
    if closed:
        if last == 0 and submitted < threshold:
            return _plan(False, 0, 0, False, submitted, threshold, closed=True)
        size = submitted if new >= threshold or last == 0 else last
        return _plan(True, number + 1, size, True, submitted, threshold, closed=True)
    if chosen == Policy.INTERIM and new >= threshold:
        return _plan(True, number + 1, submitted, False, submitted, threshold, closed=False)
    return _plan(False, number, last, False, submitted, threshold, closed=False)


def rows_and_breakdowns_allowed(finals_before: int, final: bool) -> bool:
    """Whether a release may carry breakdowns and row-level files: only the round's first
    final release.  A later final release (of a reopened round) gives whole-round figures
    only: a group's figures, or a file's rows, in two releases would differ by the few
    people of that group who answered after reopening.

    >>> rows_and_breakdowns_allowed(0, True), rows_and_breakdowns_allowed(1, True)
    (True, False)
    """
    return final and finals_before == 0


def _plan(
    make: bool,
    number: int,
    responses: int,
    final: bool,
    submitted: int,
    threshold: int,
    *,
    closed: bool,
) -> ReleasePlan:
    left = submitted - responses
    reason: str | None = None
    if left and closed and number:
        reason = (
            f"{left} later response{'s are' if left != 1 else ' is'} not included: fewer than "
            f"{threshold} arrived after the last release, and publishing them would let them "
            "be worked out by comparing the two releases."
        )
    elif left and closed:
        reason = f"Fewer than {threshold} responses: no results are published, only the count."
    elif left and number:
        reason = (
            f"{left} response{'s' if left != 1 else ''} received since this release will be "
            f"published when at least {threshold} have arrived, or when the round closes."
        )
    elif left:
        reason = "Results are published when the round closes."
    return ReleasePlan(make, number, responses, final, left, reason)


# --- open links -------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenLinkShare:
    """How many published responses came through a round's open link, and whether in a burst.

    Attributes
    ----------
    responses : int
        Published responses.
    via_open_link : int
        Of them, submitted through the open link.
    largest_hour : int
        The most open-link responses submitted within one hour (times are stored to the hour).
    burst : bool
        More than half the responses came through the open link, and most of those within one
        hour: a sign that one person may have filled in several.
    """

    responses: int
    via_open_link: int
    largest_hour: int
    burst: bool

    def caution(self) -> str | None:
        if not self.burst:
            return None
        return (
            f"{self.via_open_link} of the {self.responses} responses came through the open "
            f"link, {self.largest_hour} of them within one hour. Anyone holding the open link "
            "can answer more than once, so treat these results with care."
        )


def open_link_share(
    from_open_link: Sequence[bool], submitted_hours: Sequence[object]
) -> OpenLinkShare:
    """The open-link share of a published set of responses (one entry per response).

    Parameters
    ----------
    from_open_link : sequence of bool
        Whether each response came through the open link.
    submitted_hours : sequence
        Each response's submission time (any hashable value, compared as stored: to the hour).
    """
    if len(from_open_link) != len(submitted_hours):
        raise ValueError("one submission time is needed per response")
    hours = Counter(h for via, h in zip(from_open_link, submitted_hours, strict=True) if via)
    via = sum(1 for v in from_open_link if v)
    largest = max(hours.values(), default=0)
    burst = via * 2 > len(from_open_link) and largest * 2 > via
    return OpenLinkShare(len(from_open_link), via, largest, burst)
