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
from dataclasses import dataclass, replace

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
    name = question.name
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


def _stated(groups: pd.Series) -> pd.Series:
    return groups.astype(object).where(groups.notna(), NOT_STATED).astype(str)


def _atoms_reach_threshold(
    views: Sequence[AsymmetryView],
    scores: pd.DataFrame,
    published: Mapping[str, pd.Series],
    instrument: Instrument,
    scale_id: str,
    threshold: int,
) -> bool:
    """Whether every set an insider can reach by adding and subtracting the scale's published
    means (the whole round, each shown group, each comparison group) holds 0 or at least
    ``threshold`` people.

    Any such combination is constant on the *atoms*: respondents who belong to exactly the same
    published sets. So it suffices that every atom among the scale's scored respondents has at
    least ``threshold`` people. Without missing answers this always holds (the groups are the
    k-anonymous files' classes, of at least ``threshold`` each); a respondent who left the scale
    blank can shrink an atom across two questions (everyone in acute trusts minus everyone
    medical, when all the medical respondents work in acute trusts).
    """
    scored = scores[scale_id].notna()
    membership: dict[str, pd.Series] = {}
    for view in views:
        stated = _stated(published[view.question_id])
        question = instrument.background_question(view.question_id)
        largest = question.options[-1].value if question.options else None
        for cell in view.cells:
            if cell.scale_id != scale_id or not cell.shown:
                continue
            membership[f"{view.question_id}={cell.group}"] = stated == cell.group
            if view.comparison == "largest" and largest is not None:
                membership[f"{view.question_id}={largest}"] = stated == largest
    if not membership:
        return True
    patterns = pd.DataFrame(membership)[scored]
    if patterns.empty:
        return True
    sizes = patterns.value_counts()
    return bool((sizes >= threshold).all())


def _hide_scale(view: AsymmetryView, scale_id: str) -> AsymmetryView:
    cells = tuple(
        GapCell(c.scale_id, c.group, False, c.n_group, c.n_other, reason="complementary")
        if c.scale_id == scale_id and c.shown
        else c
        for c in view.cells
    )
    return replace(view, cells=cells)


def asymmetry_views(
    scores: pd.DataFrame,
    published: Mapping[str, pd.Series],
    instrument: Instrument,
    threshold: int,
) -> list[AsymmetryView]:
    """The views of every marked question present in ``published`` (question -> answers).

    Across questions, a scale whose published sets would let an insider reach fewer than
    ``threshold`` people by adding and subtracting means (:func:`_atoms_reach_threshold`) has
    its gaps hidden in every view.
    """
    return published_views(scores, published, instrument, threshold)[0]


def published_views(
    scores: pd.DataFrame,
    published: Mapping[str, pd.Series],
    instrument: Instrument,
    threshold: int,
    breakdowns: Sequence[str] = (),
) -> tuple[list[AsymmetryView], dict[str, AsymmetryView]]:
    """The asymmetry views (:func:`asymmetry_views`) and, for each question in ``breakdowns``
    present in ``published``, its view against the rest, which decides scale by scale which of
    its groups a breakdown may show.

    A breakdown's group figures on a scale are over the group's members scored on that scale,
    which may be fewer than the threshold though the group is not; so a question the
    instrument does not mark for the asymmetry view is viewed too (its gaps are not shown),
    and the check across questions (:func:`_atoms_reach_threshold`) covers every set either
    publishes.
    """
    views = _views(scores, published, instrument, threshold)
    marked = {v.question_id for v in views}
    views += [
        asymmetry_view(
            scores, published[q], instrument.background_question(q), instrument, threshold
        )
        for q in breakdowns
        if q in published and q not in marked
    ]
    views = _hidden_across_questions(views, scores, published, instrument, threshold)
    shown = [v for v in views if v.question_id in marked]
    rest = {v.question_id: v for v in views if v.comparison == "rest"}
    return shown, {q: rest[q] for q in breakdowns if q in rest}


def _hidden_across_questions(
    views: list[AsymmetryView],
    scores: pd.DataFrame,
    published: Mapping[str, pd.Series],
    instrument: Instrument,
    threshold: int,
) -> list[AsymmetryView]:
    for scale in instrument.scales:
        if scale.id not in scores.columns:
            continue
        if not _atoms_reach_threshold(views, scores, published, instrument, scale.id, threshold):
            views = [_hide_scale(view, scale.id) for view in views]
    return views


def _views(
    scores: pd.DataFrame,
    published: Mapping[str, pd.Series],
    instrument: Instrument,
    threshold: int,
) -> list[AsymmetryView]:
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
