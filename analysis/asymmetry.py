"""The asymmetry view: how far each group's scores stand from the rest of its partnership.

For each background question the instrument marks (``asymmetry`` on the question), and each
scale, the gap is ``mean(group) - mean(rest)`` of favourable-keyed scores, where *the rest* is
every other respondent of the published set, those who did not state the question (or whose
answer the row-level files withhold) included, with Welch's 95% interval
(:func:`analysis.change.welch_interval`). A positive gap: the group sees the partnership more
favourably than everyone else does. Where the question marks organisation size (options from
the smallest organisation to the largest), each smaller group is also set against the largest.

What may be published (:mod:`analysis.disclosure`):

* groups are the k-anonymous ones of the row-level files (``groups`` is the published frame's
  column), so a group here never differs from the file's rows for it;
* per scale, the groups are suppressed with :func:`analysis.disclosure.suppress_groups` over the
  respondents *scored on that scale*, not over the question's whole groups: a group of five
  with one respondent who left the scale blank is a group of four on that scale, and its gap
  would give the four away by subtraction from the whole round's Table 4;
* the rest is the exact complement of the group among the scale's scored respondents, so
  ``whole - group - rest`` is always empty; "everyone else who stated an answer" would let
  anyone subtract the not-stated respondents (perhaps one person) from the whole round;
* a group's gap is shown only when the group and the rest both hold at least ``k`` scored
  respondents, and then both means are shown; a hidden cell shows neither.

Pure: pandas in, dataclasses out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from analysis.change import welch_interval
from analysis.disclosure import NOT_STATED, suppress_groups
from analysis.estimates import Estimate
from analysis.instrument import BackgroundQuestion, Instrument

NOT_STATED_LABEL = "Not stated or withheld"


@dataclass(frozen=True)
class GapCell:
    """One group's gap on one scale (``shown`` false: nothing of it may be published)."""

    scale_id: str
    group: str
    shown: bool
    n_group: int
    n_other: int
    group_score: float | None = None
    other_score: float | None = None
    gap: Estimate | None = None
    reason: str | None = None  # "below-threshold" or "complementary" when hidden

    @property
    def clear(self) -> bool:
        """The interval excludes zero: a gap beyond sampling noise."""
        if self.gap is None or self.gap.interval is None:
            return False
        low, high = self.gap.interval
        return low > 0 or high < 0


@dataclass(frozen=True)
class AsymmetryView:
    """Gaps along one background question, for every scale."""

    question_id: str
    question_name: str
    question_text: str
    kinds: tuple[str, ...]  # asymmetry ids (Li et al.) the instrument maps to the question
    comparison: str  # "rest" (each group against everyone else) or "largest"
    groups: tuple[tuple[str, str], ...]  # (value, label) of every non-empty group, in order
    cells: tuple[GapCell, ...]
    threshold: int

    def cell(self, scale_id: str, group: str) -> GapCell | None:
        return next((c for c in self.cells if c.scale_id == scale_id and c.group == group), None)

    @property
    def shown_groups(self) -> list[tuple[str, str]]:
        """Groups with at least one shown gap."""
        shown = {c.group for c in self.cells if c.shown}
        return [g for g in self.groups if g[0] in shown]

    @property
    def hidden_groups(self) -> list[tuple[str, str]]:
        shown = {c.group for c in self.cells if c.shown}
        return [g for g in self.groups if g[0] not in shown]


def _labels(question: BackgroundQuestion) -> dict[str, str]:
    return {o.value: o.label for o in question.options} | {NOT_STATED: NOT_STATED_LABEL}


def _gap(
    scale_id: str,
    group: str,
    inside: pd.Series,
    outside: pd.Series,
) -> GapCell:
    interval = welch_interval(outside, inside)
    difference = float(inside.mean() - outside.mean())
    return GapCell(
        scale_id,
        group,
        True,
        int(inside.size),
        int(outside.size),
        float(inside.mean()),
        float(outside.mean()),
        Estimate(difference, *(interval if interval else (None, None))),
    )


def asymmetry_view(
    scores: pd.DataFrame,
    groups: pd.Series,
    question: BackgroundQuestion,
    instrument: Instrument,
    threshold: int,
    *,
    against_largest: bool = False,
) -> AsymmetryView:
    """Each group's gap from the rest (or from the largest organisation) on every scale.

    Parameters
    ----------
    scores : pandas.DataFrame
        Favourable-keyed scale scores of the published set, one column per scale id.
    groups : pandas.Series
        Each respondent's answer to ``question`` as published in the row-level files (``None``
        where not stated or withheld), aligned with ``scores``.
    question : BackgroundQuestion
    instrument : Instrument
    threshold : int
        The round's anonymity threshold ``k``.
    against_largest : bool
        Compare each group with the question's last option (the largest organisation, for a
        question marked ``organisation_size``) instead of with the rest.
    """
    stated = groups.astype(object).where(groups.notna(), NOT_STATED).astype(str)
    labels = _labels(question)
    order = [o.value for o in question.options] + [NOT_STATED]
    present = [g for g in order if (stated == g).any()]
    largest = question.options[-1].value if question.options else None
    cells: list[GapCell] = []
    for scale in instrument.scales:
        if scale.id not in scores.columns:
            continue
        column = scores[scale.id]
        scored = column.notna()
        sizes = {g: int(((stated == g) & scored).sum()) for g in order}
        visibility = {v.group: v for v in suppress_groups(sizes, threshold)}
        for group in present:
            inside = column[(stated == group) & scored]
            if against_largest:
                if group in (largest, NOT_STATED):
                    continue
                outside = column[(stated == largest) & scored]
                other_shown = largest is not None and visibility[largest].shown
            else:
                outside = column[(stated != group) & scored]
                other_shown = outside.size >= threshold
            decision = visibility[group]
            if decision.shown and other_shown and inside.size >= threshold:
                cells.append(_gap(scale.id, group, inside, outside))
            else:
                reason = decision.reason or ("below-threshold" if not other_shown else None)
                cells.append(
                    GapCell(
                        scale.id,
                        group,
                        False,
                        int(inside.size),
                        int(outside.size),
                        None,
                        None,
                        None,
                        reason or "below-threshold",
                    )
                )
    marker = question.asymmetry
    name = question.short_name or question.id.replace("_", " ")
    return AsymmetryView(
        question_id=question.id,
        question_name=name,
        question_text=question.text,
        kinds=tuple(marker.kinds) if marker else (),
        comparison="largest" if against_largest else "rest",
        groups=tuple(
            (g, labels.get(g, g))
            for g in present
            if not (against_largest and g in (largest, NOT_STATED))
        ),
        cells=tuple(cells),
        threshold=threshold,
    )


def asymmetry_views(
    scores: pd.DataFrame,
    published: Mapping[str, pd.Series],
    instrument: Instrument,
    threshold: int,
) -> list[AsymmetryView]:
    """The views of every marked question present in ``published`` (question -> answers)."""
    views: list[AsymmetryView] = []
    for question in instrument.asymmetry_questions:
        if question.id not in published:
            continue
        answers = published[question.id]
        views.append(asymmetry_view(scores, answers, question, instrument, threshold))
        if question.asymmetry and question.asymmetry.organisation_size:
            views.append(
                asymmetry_view(
                    scores, answers, question, instrument, threshold, against_largest=True
                )
            )
    return views


def strongest_gaps(views: Sequence[AsymmetryView], limit: int = 3) -> list[GapCell]:
    """The largest clear gaps (interval excluding zero), largest first."""
    clear = [c for v in views for c in v.cells if c.shown and c.clear and c.gap is not None]
    return sorted(clear, key=lambda c: -abs(c.gap.value if c.gap else 0.0))[:limit]


def finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
