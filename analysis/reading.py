"""A plain reading of Table 4: where each scale stands, what to do, and cautions.

Each scale's mean is restated so that high is favourable and placed in the
instrument's interpretation bands (by default the Wilder Collaboration Factors
Inventory's: 4.0-5.0 a strength, 3.0-3.9 borderline, below 3.0 a concern). The
reading adds the instrument's guidance for the scale, its stage of trust
(agreement-based, knowledge-based, collaboration-based) with the report's
recommendations for that stage, and the comparison with the 2017 benchmark.

Every figure a sentence quotes is the one the report's tables show: the
favourable-keyed score, formatted by :mod:`analysis.report_tables` (so a
sentence never says 3.50 where the table says 2.50). A comparison with 2017 is
a difference only when the score's 95% interval excludes the 2017 figure.

Cautions flag what limits a reading: few responses (the report itself warns
that its 39 responses make its scales possibly unreliable), an alpha below
0.70 as Table 4 shows it (compared on the rounded figure, so "0.700" is never
called below 0.70), a negative alpha explained, and a scale that many
respondents answered too sparsely to be scored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from analysis.estimates import Verdict
from analysis.instrument import Instrument
from analysis.peers import PeerPosition
from analysis.report_tables import (
    comparison_verdict,
    format_number,
    score_estimate,
    scores_table,
)
from analysis.summary import ScaleSummary, Table4

FEW_RESPONSES = 40  # the report's own survey had 39 and called itself a pilot
ALPHA_FLOOR = 0.7
ALPHA_DECIMALS = 3  # as Table 4 shows alpha
UNSCORED_SHARE = 0.1


@dataclass(frozen=True)
class ScaleReading:
    """The plain-language reading of one scale.

    ``score_text`` is the favourable-keyed score exactly as the report's tables show it (the
    ``score`` cell of the scores table and Table 4's last column); ``sentence`` is built from it.
    """

    scale_id: str
    name: str
    favourable_mean: float | None
    band_id: str | None
    band_label: str | None
    band_meaning: str | None
    benchmark_sentence: str | None
    guidance: str | None
    stage_name: str | None
    stage_recommendations: tuple[str, ...]
    cautions: tuple[str, ...]
    score_text: str = "-"
    interval_text: str | None = None
    sentence: str | None = None
    verdict: str | None = None
    peer_sentence: str | None = None

    @property
    def shown_sentence(self) -> str | None:
        """The reading as the report prints it after the band's tag: the score, then what the
        band means, without saying the band's name again ("Borderline Score 3.58 (...), where
        higher is better. Worth discussing together.", not "... better: Borderline.
        Borderline; worth discussing together.")."""
        if self.sentence is None:
            return None
        sentence = _score_sentence(self.score_text, self.interval_text)
        advice = band_advice(self.band_label, self.band_meaning)
        return f"{sentence} {advice}" if advice else sentence

    def to_dict(self) -> dict[str, object]:
        record = asdict(self)
        record["stage_recommendations"] = list(self.stage_recommendations)
        record["cautions"] = list(self.cautions)
        return record


def _score_sentence(score_text: str, interval_text: str | None) -> str:
    interval = f" (95% CI {interval_text})" if interval_text else ""
    return f"Score {score_text}{interval}, where higher is better."


def band_advice(label: str | None, meaning: str | None) -> str | None:
    """A band's meaning without a leading repeat of its label: "Borderline; worth discussing
    together." under the label "Borderline" is "Worth discussing together."."""
    if not meaning:
        return None
    text = meaning.strip()
    if label and text.casefold().startswith(label.casefold()):
        rest = text[len(label) :].lstrip()
        if rest[:1] in (";", ":", ",", ".", "-", "\u2013", "\u2014"):
            rest = rest[1:].strip()
            if rest and rest not in (".",):
                return rest[0].upper() + rest[1:]
            return None
    return text


def round_cautions(n_responses: int) -> list[str]:
    """Cautions that apply to the whole round."""
    if n_responses < FEW_RESPONSES:
        return [
            f"Only {n_responses} responses: treat these figures as descriptive. The 2017 report "
            "warned that its own 39 responses made its scales possibly unreliable."
        ]
    return []


def shown_alpha(alpha: float) -> str:
    """Alpha as Table 4 shows it."""
    return format_number(alpha, ALPHA_DECIMALS)


def scale_cautions(summary: ScaleSummary) -> list[str]:
    """Cautions for one scale's figures, each true of the figure as it is shown."""
    cautions: list[str] = []
    if summary.alpha is not None and math.isfinite(summary.alpha):
        shown = shown_alpha(summary.alpha)
        floor = format_number(ALPHA_FLOOR, 2)
        if float(shown) < 0:
            cautions.append(
                f"Cronbach's alpha is {shown}, below zero: the items disagree with each other "
                "more than they agree (people who agree with one tend to disagree with another), "
                "so they do not measure one thing here and the scale's score hides that. Read "
                "the items one by one."
            )
        elif float(shown) < ALPHA_FLOOR:
            cautions.append(
                f"Cronbach's alpha is {shown}, below {floor}: the items may not measure one "
                "thing, so read them one by one."
            )
    elif len(summary.items) > 1 and summary.n > 0:
        cautions.append("Cronbach's alpha could not be computed for these answers.")
    answered = summary.n + summary.n_missing
    if answered and summary.n_missing / answered >= UNSCORED_SHARE:
        cautions.append(
            f"{summary.n_missing} of {answered} respondents answered too few of its items to "
            "be scored."
        )
    return cautions


def _benchmark_sentence(summary: ScaleSummary, score_text: str, name: str) -> str | None:
    benchmark = summary.benchmark
    chosen = comparison_verdict(summary)
    if benchmark is None or benchmark.score is None or chosen is None:
        return None
    pilot = f"a {benchmark.n}-person pilot" if benchmark.n else "a pilot"
    reference = f"the {name} figure of {format_number(benchmark.score, 1)} ({pilot})"
    if chosen is Verdict.NO_INTERVAL:
        return f"Score {score_text} against {reference}: no interval, so no comparison."
    words = {
        Verdict.HIGHER: "better than",
        Verdict.LOWER: "worse than",
        Verdict.NO_CLEAR_DIFFERENCE: "no clear difference from",
    }[chosen]
    return f"Score {score_text} against {reference}: {words} {name}."


def _peer_sentence(position: PeerPosition | None, score_text: str) -> str | None:
    if position is None or position.score is None:
        return None
    median = format_number(position.median, 2)
    low = format_number(position.lower_quartile, 2)
    high = format_number(position.upper_quartile, 2)
    return (
        f"Among {position.peers} other partnerships: {position.position} (their median "
        f"{median}, quartiles {low} to {high}; this partnership {score_text})."
    )


def read_table4(
    table: Table4, instrument: Instrument, peers: Mapping[str, PeerPosition] | None = None
) -> list[ScaleReading]:
    """The plain reading of every scale of ``table``, from the scores table's own figures."""
    shown = scores_table(table, instrument, peers)
    readings: list[ScaleReading] = []
    for summary in table.scales:
        scale = instrument.scale(summary.scale_id)
        row = shown.row(summary.scale_id)
        estimate = score_estimate(summary)
        score_text = format_number(estimate.value, 2)
        interval = estimate.interval
        interval_text = (
            f"{format_number(interval[0], 2)} to {format_number(interval[1], 2)}"
            if interval
            else None
        )
        assert shown.formatted(row, "score").startswith(score_text)
        favourable = estimate.value if math.isfinite(estimate.value) else None
        band = (
            instrument.band_for(float(score_text), instrument.response_scale_id_of_scale(scale.id))
            if favourable is not None
            else None
        )
        stage = instrument.stage(scale.stage) if scale.stage else None
        chosen = comparison_verdict(summary)
        sentence = None
        if favourable is not None:
            sentence = _score_sentence(score_text, interval_text)
            sentence = sentence.removesuffix(".") + (f": {band.label}." if band else ".")
        readings.append(
            ScaleReading(
                scale_id=summary.scale_id,
                name=summary.name,
                favourable_mean=favourable,
                band_id=band.id if band else None,
                band_label=band.label if band else None,
                band_meaning=band.meaning if band else None,
                benchmark_sentence=_benchmark_sentence(
                    summary, score_text, instrument.benchmark_name
                ),
                guidance=scale.guidance,
                stage_name=stage.name if stage else None,
                stage_recommendations=tuple(stage.recommendations) if stage else (),
                cautions=tuple(scale_cautions(summary)),
                score_text=score_text,
                interval_text=interval_text,
                sentence=sentence,
                verdict=chosen.value if chosen else None,
                peer_sentence=_peer_sentence((peers or {}).get(summary.scale_id), score_text),
            )
        )
    return readings
