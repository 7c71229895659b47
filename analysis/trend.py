"""A partnership's scores over all its rounds, each with its 95% interval.

Each round contributes the favourable-keyed score of every scale from its published set (its
latest release at or above the threshold), with the one-sample t interval of
:func:`analysis.estimates.mean_estimate`. Only scales present in every compared instrument,
with the same items, are followed, so a change of questionnaire never reads as a change of
trust. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from analysis.change import comparable_scales
from analysis.estimates import Estimate, mean_estimate
from analysis.instrument import Instrument


@dataclass(frozen=True)
class TrendRound:
    """One round's published scores (favourable-keyed), with how to name it."""

    key: str
    title: str
    when: str
    scores: pd.DataFrame
    instrument: Instrument


@dataclass(frozen=True)
class TrendPoint:
    scale_id: str
    round_key: str
    estimate: Estimate
    n: int


@dataclass(frozen=True)
class Trend:
    rounds: tuple[tuple[str, str, str], ...]  # (key, title, when), oldest first
    scale_ids: tuple[str, ...]
    points: tuple[TrendPoint, ...]

    def point(self, scale_id: str, round_key: str) -> TrendPoint | None:
        return next(
            (p for p in self.points if p.scale_id == scale_id and p.round_key == round_key), None
        )


def shared_scales(instruments: Sequence[Instrument]) -> list[str]:
    """Scale ids (in the first instrument's order) that every instrument makes up alike: same
    items, keying and answer range (:func:`analysis.change.comparable_scales`)."""
    if not instruments:
        return []
    first = instruments[0]
    shared = [s.id for s in first.scales]
    for other in instruments[1:]:
        alike = set(comparable_scales(other, first))
        shared = [s for s in shared if s in alike]
    return shared


def trend(rounds: Sequence[TrendRound]) -> Trend:
    """The trend over ``rounds`` (oldest first)."""
    scale_ids = shared_scales([r.instrument for r in rounds])
    points = [
        TrendPoint(
            scale_id,
            r.key,
            mean_estimate(r.scores[scale_id]),
            int(r.scores[scale_id].notna().sum()),
        )
        for r in rounds
        for scale_id in scale_ids
        if scale_id in r.scores.columns
    ]
    return Trend(
        rounds=tuple((r.key, r.title, r.when) for r in rounds),
        scale_ids=tuple(scale_ids),
        points=tuple(points),
    )
