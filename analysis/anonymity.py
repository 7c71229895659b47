"""Small-group suppression, so that no answer is shown for a group below the threshold.

Rules (the reports issue, and common practice in staff surveys):

* A round's results are shown only when at least ``threshold`` responses were
  received; otherwise only the count is shown.
* In a breakdown by a background question, a group with fewer than
  ``threshold`` responses is hidden (primary suppression).
* When exactly one group is hidden, it could be worked out by subtracting the
  shown groups from the whole, so the next smallest shown group is hidden too
  (complementary suppression). Respondents who did not answer the question
  form a group of their own for this purpose, because they are part of the
  whole as well.

The threshold is never below :data:`MINIMUM_THRESHOLD`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

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


@dataclass(frozen=True)
class GroupVisibility:
    """Whether one group of a breakdown may be shown, and why not."""

    group: str
    n: int
    shown: bool
    reason: str | None  # "below-threshold" or "complementary"


def results_visible(n_responses: int, threshold: int) -> bool:
    """Whether a whole round's results may be shown."""
    return n_responses >= validate_threshold(threshold)


def suppress_groups(sizes: Mapping[str, int], threshold: int) -> list[GroupVisibility]:
    """Decide which groups of a breakdown may be shown.

    Parameters
    ----------
    sizes : mapping of group to number of responses
        Every group that is part of the whole, including respondents who did
        not answer the question (use :data:`NOT_STATED`); empty groups may be
        included and are never shown (there is nothing to show).
    threshold : int
        The round's anonymity threshold.

    Returns
    -------
    list of GroupVisibility
        In the order of ``sizes``. When primary suppression hides exactly one
        non-empty group, the smallest group still shown is hidden too.

    Examples
    --------
    >>> [v.shown for v in suppress_groups({"acute": 12, "social-care": 2, "gp": 6}, 5)]
    [True, False, False]
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
    hidden = [d for d in decisions.values() if d.n > 0 and not d.shown]
    if len(hidden) == 1:
        shown = sorted((d for d in decisions.values() if d.shown), key=lambda d: (d.n, d.group))
        if shown:
            smallest = shown[0]
            decisions[smallest.group] = GroupVisibility(
                smallest.group, smallest.n, False, "complementary"
            )
    return [decisions[group] for group in sizes]
