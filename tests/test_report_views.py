"""The report's trend, peer benchmark and asymmetry view against the publication rules, on a
real database: only published releases, closed rounds' final releases for peers, final
releases for asymmetries, and the attacks an insider would try on them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlmodel import Session

from analysis.estimates import mean_estimate
from analysis.peers import MINIMUM_PEERS
from app.instruments import instrument_named
from app.models import SurveyRound
from app.services import reports, rounds
from tests.conftest import SurveySetUp
from tests.test_reports_support import add_responses

INSTRUMENT = instrument_named("trustworthy-collaboration")
TYPES = ["acute-trust", "local-authority", "primary-care", "commissioner"]


def _answers(n: int, seed: int, shift: int = 0) -> list[dict[str, int]]:
    rng = np.random.default_rng(seed)
    return [
        {i: int(min(5, max(1, rng.integers(1, 6) + shift))) for i in INSTRUMENT.item_ids}
        for _ in range(n)
    ]


def _background(n: int) -> list[dict[str, str]]:
    return [
        {"organisation_type": TYPES[i % len(TYPES)], "professional_role": "management"}
        for i in range(n)
    ]


def _round(
    session: Session, partnership_id: int, title: str, days_ago: int, **options: object
) -> SurveyRound:
    return rounds.open_round(
        session,
        partnership_id,
        title=title,
        opens_on=date.today() - timedelta(days=days_ago),
        closes_on=date.today() - timedelta(days=days_ago) + timedelta(days=20),
        anonymity_threshold=5,
        instrument_id="trustworthy-collaboration",
        historical=days_ago > 20,
        **options,  # type: ignore[arg-type]
    )


def _closed_with(
    session: Session, survey_round: SurveyRound, answers: list[dict[str, int]]
) -> None:
    assert survey_round.id is not None
    add_responses(session, survey_round.id, answers, _background(len(answers)))
    rounds.close_round(session, survey_round.id)


def _report(session: Session, round_id: int) -> reports.RoundReport:
    return reports.round_report(session, rounds.get_round(session, round_id))


def test_trend_follows_every_published_round_with_intervals(
    session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    first = make_round(opens_in_days=-200, closes_in_days=-180)
    partnership = first.partnership_id
    first_answers = _answers(8, 1)
    _closed_with(session, rounds.get_round(session, first.round_id), first_answers)
    small = _round(session, partnership, "Small round", 150)
    _closed_with(session, small, _answers(4, 2))  # below its threshold: never shown
    second = _round(session, partnership, "Autumn round", 100)
    second_answers = _answers(7, 3, shift=1)
    _closed_with(session, second, second_answers)
    latest = _round(session, partnership, "Winter round", 5)
    _closed_with(session, latest, _answers(9, 4))
    assert latest.id is not None and second.id is not None
    report = _report(session, latest.id)
    series = report.trend
    assert series is not None
    assert [title for _, title, _ in series.rounds] == [
        "Spring round",
        "Autumn round",
        "Winter round",
    ]
    # By hand: the favourable-keyed Competition score of the first round (items q10, q11,
    # a barrier: 6 - mean).
    frame = pd.DataFrame(first_answers, dtype=float)
    by_hand = mean_estimate(6 - frame[["q10", "q11"]].mean(axis=1))
    point = series.point("competition", str(first.round_id))
    assert point is not None and point.n == 8
    assert point.estimate.value == pytest.approx(by_hand.value)
    assert point.estimate.interval == pytest.approx(by_hand.interval)
    table = report.table_named("trend-table")
    assert table is not None and len(table.rows) == len(INSTRUMENT.scales)
    assert table.formatted("competition", f"score:{first.round_id}").startswith(
        table.formatted("competition", f"score:{first.round_id}").split(" (")[0]
    )
    # An older round's report never shows later rounds.
    older = _report(session, second.id)
    assert older.trend is not None and len(older.trend.rounds) == 2
    # The report says which published sets it read (a cache can key on them).
    assert {r for r, _ in report.sources} >= {first.round_id, second.id, latest.id}
    assert small.id not in {r for r, _ in report.sources}


def _peers(session: Session, make_round: Callable[..., SurveySetUp], count: int) -> list[int]:
    made = []
    for number in range(count):
        peer = make_round(opens_in_days=-40, closes_in_days=-20)
        _closed_with(session, rounds.get_round(session, peer.round_id), _answers(6, 10 + number))
        made.append(peer.partnership_id)
    return made


def test_a_peer_s_scale_scored_for_one_person_never_reaches_the_benchmark(
    session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    """Insider: five closed peers of 6 responses each, but in one of them five people left a
    scale blank. That peer's mean on the scale is one person's score; its own report shows no
    figure of it, so the benchmark (whose median of five peers would be one of their means)
    must not count it either: four peers remain, too few for a benchmark of that scale."""
    scale = next(s for s in INSTRUMENT.scales if s.id == "inter_individual_trust")
    own = make_round(opens_in_days=-40, closes_in_days=-20)
    _closed_with(session, rounds.get_round(session, own.round_id), _answers(6, 99))
    _peers(session, make_round, MINIMUM_PEERS - 1)
    small = make_round(opens_in_days=-40, closes_in_days=-20)
    answers = _answers(6, 77)
    for person in answers[1:]:
        for item in scale.items:
            del person[item]
    _closed_with(session, rounds.get_round(session, small.round_id), answers)
    report = _report(session, own.round_id)
    assert report.peers is not None and report.peers.peers == MINIMUM_PEERS
    assert scale.id not in report.peers.positions
    assert any(s in report.peers.positions for s in ("inter_organisational_trust", "competition"))


def test_peer_benchmark_needs_five_closed_published_peers(
    session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    own = make_round(opens_in_days=-40, closes_in_days=-20)
    _closed_with(session, rounds.get_round(session, own.round_id), _answers(6, 99))
    _peers(session, make_round, MINIMUM_PEERS - 1)
    # Not peers: a closed round below its threshold, and an open round with interim results.
    below = make_round(opens_in_days=-40, closes_in_days=-20)
    _closed_with(session, rounds.get_round(session, below.round_id), _answers(4, 50))
    interim = make_round(opens_in_days=-3, closes_in_days=20)
    from app.services import releases

    releases.set_release_policy(session, interim.round_id, "interim")
    add_responses(session, interim.round_id, _answers(6, 51), _background(6))
    assert releases.publish(session, rounds.get_round(session, interim.round_id)).number == 1
    report = _report(session, own.round_id)
    assert report.peers is not None and report.peers.peers == MINIMUM_PEERS - 1
    assert report.peers.positions == {}
    scores = report.table_named("scores-table")
    assert scores is not None and "peer_median" not in [c.key for c in scores.columns]
    # The fifth closed, published peer brings the benchmark.
    peer_ids = _peers(session, make_round, 1)
    report = _report(session, own.round_id)
    assert report.peers is not None and report.peers.peers == MINIMUM_PEERS
    position = report.peers.positions["inter_individual_trust"]
    peer_means = []
    for round_id, _release in report.peers.sources:
        peer_report = _report(session, round_id)
        assert peer_report.partnership.id != own.partnership_id  # never its own peer
        assert peer_report.publication.final and peer_report.table is not None
        summary = next(
            s for s in peer_report.table.scales if s.scale_id == "inter_individual_trust"
        )
        peer_means.append(summary.score)
    assert position.median == pytest.approx(float(np.median(peer_means)))
    assert (position.lower_quartile, position.upper_quartile) == pytest.approx(
        tuple(np.percentile(peer_means, [25, 75]))
    )
    assert peer_ids[0] in {
        rounds.get_round(session, r).partnership_id for r, _ in report.peers.sources
    }
    # The attack: the benchmark must not move while a peer's round takes answers. Another
    # interim release of the open round leaves every figure as it was.
    before = report.peers.positions
    add_responses(session, interim.round_id, _answers(6, 52), _background(6))
    assert releases.publish(session, rounds.get_round(session, interim.round_id)).number == 2
    assert _report(session, own.round_id).peers.positions == before  # type: ignore[union-attr]
    scores = _report(session, own.round_id).table_named("scores-table")
    assert scores is not None and {"peer_median", "peer_position"} <= {
        c.key for c in scores.columns
    }


def test_asymmetries_only_in_the_final_release(
    session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    from app.services import releases

    setup = make_round(opens_in_days=-3, closes_in_days=20)
    releases.set_release_policy(session, setup.round_id, "interim")
    add_responses(session, setup.round_id, _answers(12, 7), _background(12))
    interim = _report(session, setup.round_id)
    assert interim.visible and not interim.publication.final
    assert interim.asymmetries == ()
    assert not [t for t in interim.tables if t.id.startswith("asymmetry-")]
    rounds.close_round(session, setup.round_id)
    final = _report(session, setup.round_id)
    assert final.publication.final
    assert [v.question_id for v in final.asymmetries] == ["organisation_type", "professional_role"]
    assert final.table_named("asymmetry-organisation_type") is not None


def test_breakdown_leaves_out_a_scale_a_shown_group_answered_too_sparsely(
    session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    """The attack: a group of five shown in the breakdown, one of whom left q19 (Aligned
    interests, one item) blank. Its Aligned interests mean would be four people's; with the
    whole round's Table 4 and the other group's figure, whole - other gives them away."""
    setup = make_round(opens_in_days=-30, closes_in_days=-10)
    answers = _answers(11, 21)
    background = [{"organisation_type": "acute-trust"}] * 6 + [
        {"organisation_type": "local-authority"}
    ] * 5
    del answers[10]["q19"]  # a local-authority respondent
    add_responses(session, setup.round_id, answers, background)
    rounds.close_round(session, setup.round_id)
    report = _report(session, setup.round_id)
    by_type = next(b for b in report.breakdowns if b.question_id == "organisation_type")
    groups = {g.value: g for g in by_type.groups}
    assert groups["acute-trust"].shown and groups["local-authority"].shown
    council = groups["local-authority"].table
    acute = groups["acute-trust"].table
    assert council is not None and acute is not None
    aligned = {s.scale_id: s for s in council.scales}["aligned_interests"]
    assert aligned.n == 4 and aligned.mean != aligned.mean  # nan: left out
    # ... and so is the other group's figure on that scale (else whole - acute = the four).
    assert {s.scale_id: s for s in acute.scales}["aligned_interests"].mean != (
        {s.scale_id: s for s in acute.scales}["aligned_interests"].mean
    )
    competition = {s.scale_id: s for s in council.scales}["competition"]
    assert competition.n == 5 and competition.mean == competition.mean  # shown
