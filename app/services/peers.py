"""The peer benchmark's inputs: other partnerships' closed rounds, by the publication rules.

A peer is another partnership of the deployment with a round of the same instrument that is
closed, whose final release (:mod:`app.services.releases`) holds at least that round's own
anonymity threshold: exactly the rounds the analysts' pooled figures use. Each peer counts once,
with its latest such round. Open rounds and interim releases never count, so the benchmark
cannot move by fewer than a threshold of people while a round is taking answers; the
partnership itself is never its own peer. :func:`analysis.peers.peer_positions` turns the peers'
favourable-keyed scores into medians and quartiles, only with at least
:data:`analysis.peers.MINIMUM_PEERS` peers.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from analysis.disclosure import results_visible
from analysis.instrument import Instrument
from analysis.peers import MINIMUM_PEERS, PeerPosition, peer_positions
from analysis.summary import Table4
from analysis.trend import shared_scales
from app.models import SurveyRound
from app.services import releases, rounds
from app.services.instruments import round_instrument


@dataclass(frozen=True)
class PeerBenchmark:
    positions: dict[str, PeerPosition]
    peers: int
    sources: tuple[tuple[int, int], ...]  # (round id, final release) of each peer


def peer_benchmark(
    session: Session, survey_round: SurveyRound, instrument: Instrument, table: Table4
) -> PeerBenchmark:
    """Where the round's favourable-keyed scores stand among its peers' (see the module)."""
    statement = (
        select(SurveyRound)
        .where(
            col(SurveyRound.instrument_id) == survey_round.instrument_id,
            col(SurveyRound.partnership_id) != survey_round.partnership_id,
        )
        .order_by(col(SurveyRound.opens_on).desc(), col(SurveyRound.id).desc())
    )
    chosen: dict[int, dict[str, float]] = {}
    sources: list[tuple[int, int]] = []
    for other in session.exec(statement):
        assert other.id is not None
        if other.partnership_id in chosen or not releases.round_closed(other):
            continue
        other_instrument = round_instrument(session, other)
        published = releases.publish(session, other)
        if not published.final:
            continue
        matrix = rounds.round_items_matrix(session, other.id, release=published.number)
        if not results_visible(len(matrix), other.anonymity_threshold):
            continue
        shared = set(shared_scales([instrument, other_instrument]))
        scores = releases.published_favourable_scores(
            session, other, other_instrument, published.number, matrix
        )
        chosen[other.partnership_id] = {
            str(c): float(scores[c].mean()) for c in scores.columns if c in shared
        }
        sources.append((other.id, published.number))
    own = {s.scale_id: s.score for s in table.scales}
    if len(chosen) < MINIMUM_PEERS:
        return PeerBenchmark({}, len(chosen), tuple(sources))
    return PeerBenchmark(peer_positions(own, list(chosen.values())), len(chosen), tuple(sources))
