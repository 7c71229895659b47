"""A plain reading of Table 4: where each scale stands, what to do, and cautions.

Each scale's mean is restated so that high is favourable and placed in the
instrument's interpretation bands (by default the Wilder Collaboration Factors
Inventory's: 4.0-5.0 a strength, 3.0-3.9 borderline, below 3.0 a concern). The
reading adds the instrument's guidance for the scale, its stage of trust
(agreement-based, knowledge-based, collaboration-based) with the report's
recommendations for that stage, and the comparison with the 2017 benchmark.

Cautions flag what limits a reading: few responses (the report itself warns
that its 39 responses make its scales possibly unreliable), an alpha below
0.7, and a scale that many respondents answered too sparsely to be scored.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from analysis.instrument import Instrument
from analysis.summary import ScaleSummary, Table4, favourable_score

FEW_RESPONSES = 40  # the report's own survey had 39 and called itself a pilot
ALPHA_FLOOR = 0.7
UNSCORED_SHARE = 0.1


@dataclass(frozen=True)
class ScaleReading:
    """The plain-language reading of one scale."""

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

    def to_dict(self) -> dict[str, object]:
        record = asdict(self)
        record["stage_recommendations"] = list(self.stage_recommendations)
        record["cautions"] = list(self.cautions)
        return record


def round_cautions(n_responses: int) -> list[str]:
    """Cautions that apply to the whole round."""
    if n_responses < FEW_RESPONSES:
        return [
            f"Only {n_responses} responses: treat these figures as descriptive. The 2017 report "
            "warned that its own 39 responses made its scales possibly unreliable."
        ]
    return []


def scale_cautions(summary: ScaleSummary) -> list[str]:
    """Cautions for one scale's figures."""
    cautions: list[str] = []
    if summary.alpha is not None and summary.alpha < ALPHA_FLOOR:
        cautions.append(
            f"Cronbach's alpha is {summary.alpha:.2f}, below {ALPHA_FLOOR}: the items may not "
            "measure one thing, so read them one by one."
        )
    elif len(summary.items) > 1 and summary.alpha is None and summary.n > 0:
        cautions.append("Cronbach's alpha could not be computed for these answers.")
    answered = summary.n + summary.n_missing
    if answered and summary.n_missing / answered >= UNSCORED_SHARE:
        cautions.append(
            f"{summary.n_missing} of {answered} respondents answered too few of its items to "
            "be scored."
        )
    return cautions


def _benchmark_sentence(summary: ScaleSummary) -> str | None:
    benchmark = summary.benchmark
    if benchmark is None or not math.isfinite(summary.mean):
        return None
    difference = summary.mean - benchmark.mean
    if abs(difference) < 0.05:
        relation = "the same as"
    elif (difference > 0) == (summary.favourable == "high"):
        relation = "better than"
    else:
        relation = "worse than"
    higher = "higher" if summary.favourable == "high" else "lower"
    return (
        f"Mean {summary.mean:.1f} against {benchmark.mean:.1f} nationally in 2017 "
        f"(n = {benchmark.n}): {relation} the 2017 figure, where {higher} is better."
    )


def read_table4(table: Table4, instrument: Instrument) -> list[ScaleReading]:
    """The plain reading of every scale of ``table``."""
    readings: list[ScaleReading] = []
    for summary in table.scales:
        scale = instrument.scale(summary.scale_id)
        favourable = (
            favourable_score(scale, instrument, summary.mean)
            if math.isfinite(summary.mean)
            else None
        )
        band = (
            instrument.band_for(favourable, instrument.response_scale_id_of_scale(scale.id))
            if favourable is not None
            else None
        )
        stage = instrument.stage(scale.stage) if scale.stage else None
        readings.append(
            ScaleReading(
                scale_id=summary.scale_id,
                name=summary.name,
                favourable_mean=favourable,
                band_id=band.id if band else None,
                band_label=band.label if band else None,
                band_meaning=band.meaning if band else None,
                benchmark_sentence=_benchmark_sentence(summary),
                guidance=scale.guidance,
                stage_name=stage.name if stage else None,
                stage_recommendations=tuple(stage.recommendations) if stage else (),
                cautions=tuple(scale_cautions(summary)),
            )
        )
    return readings
