"""A peer benchmark: where a partnership's scores stand among other partnerships'.

As the NHS Staff Survey's benchmark groups do, a partnership's favourable-keyed score on each
scale is placed among the scores of *other* partnerships: their median and quartiles, and
whether this partnership is above the upper quartile, between the quartiles or below the lower
one. The benchmark exists only when at least :data:`MINIMUM_PEERS` other partnerships have a
closed round whose final release holds at least that round's anonymity threshold (the caller,
:mod:`app.services.peers`, chooses them by the publication rules); each peer counts once, with
its latest such round. Quartiles are R's default (type 7, linear interpolation).

Each peer figure is a mean of at least a threshold of respondents, published as a whole; the
peer group never includes the partnership itself, so nobody can subtract their own partnership
from it, and it never includes an open round or an interim release, so it cannot move by fewer
than a threshold of people while a round is taking answers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

MINIMUM_PEERS = 5


@dataclass(frozen=True)
class PeerPosition:
    """One scale's peer benchmark."""

    scale_id: str
    peers: int
    lower_quartile: float
    median: float
    upper_quartile: float
    score: float | None

    @property
    def position(self) -> str:
        if self.score is None or not math.isfinite(self.score):
            return "no score"
        if self.score > self.upper_quartile:
            return "above the upper quartile"
        if self.score < self.lower_quartile:
            return "below the lower quartile"
        return "between the quartiles"


def peer_positions(
    own: Mapping[str, float], peers: Sequence[Mapping[str, float]]
) -> dict[str, PeerPosition]:
    """Per scale, the peers' quartiles and this partnership's position among them.

    Parameters
    ----------
    own : mapping of scale id to favourable-keyed score
    peers : one mapping per other partnership (scale id to its favourable-keyed score)

    Returns
    -------
    dict
        Only scales scored by at least :data:`MINIMUM_PEERS` peers; empty when fewer peers.
    """
    positions: dict[str, PeerPosition] = {}
    for scale_id, score in own.items():
        values = np.array(
            [p[scale_id] for p in peers if scale_id in p and math.isfinite(p[scale_id])],
            dtype=float,
        )
        if values.size < MINIMUM_PEERS:
            continue
        q1, median, q3 = (float(v) for v in np.percentile(values, [25, 50, 75]))
        positions[scale_id] = PeerPosition(
            scale_id, int(values.size), q1, median, q3, score if math.isfinite(score) else None
        )
    return positions
