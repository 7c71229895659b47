"""The report's summary: what a reader should see first.

The three strongest and the three weakest scales (favourable-keyed, so "strongest" always
means best for the partnership; scales on different answer ranges are ranked by their position
in their own range), what changed since the previous round (only changes whose interval
excludes zero), where groups differ clearly, and what to look at first: the instrument's own
guidance (``look_first``, from the report's chapter 6) applied to the earliest stage of trust
that holds one of the weakest scales. Every figure is the one the report's tables show.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from analysis.asymmetry import AsymmetryView, strongest_gaps
from analysis.change import ScaleChange
from analysis.instrument import Instrument
from analysis.reading import ScaleReading
from analysis.report_tables import change_words, format_number, signed


@dataclass(frozen=True)
class GlanceScale:
    scale_id: str
    name: str
    score_text: str
    band_label: str | None


@dataclass(frozen=True)
class Glance:
    strongest: tuple[GlanceScale, ...]
    weakest: tuple[GlanceScale, ...]
    changed: tuple[str, ...]
    differences: tuple[str, ...]
    look_first: str | None
    first_stage: str | None
    first_scales: tuple[tuple[str, str], ...] = field(default=())  # (name, guidance)
    first_questions: tuple[str, ...] = field(default=())


def _position(reading: ScaleReading, instrument: Instrument) -> float:
    scale = instrument.response_scale_of(instrument.scale(reading.scale_id).items[0])
    return (float(reading.score_text) - scale.min) / (scale.max - scale.min)


def glance(
    readings: Sequence[ScaleReading],
    instrument: Instrument,
    *,
    changes: Sequence[ScaleChange] = (),
    previous_title: str | None = None,
    asymmetries: Sequence[AsymmetryView] = (),
    count: int = 3,
) -> Glance:
    """The summary of a report (see the module's description)."""
    scored = [r for r in readings if r.favourable_mean is not None and r.score_text != "-"]
    order = {s.id: i for i, s in enumerate(instrument.scales)}
    ranked = sorted(scored, key=lambda r: (-_position(r, instrument), order[r.scale_id]))
    size = min(count, len(ranked) // 2)

    def brief(reading: ScaleReading) -> GlanceScale:
        return GlanceScale(reading.scale_id, reading.name, reading.score_text, reading.band_label)

    strongest = tuple(brief(r) for r in ranked[:size])
    weakest = tuple(brief(r) for r in reversed(ranked[len(ranked) - size :])) if size else ()
    changed: list[str] = []
    if previous_title is not None:
        clear = [c for c in changes if c.clear]
        for c in clear:
            low, high = c.ci or (math.nan, math.nan)
            changed.append(
                f"{instrument.scale(c.scale_id).name}: {change_words(c)} "
                f"({signed(c.difference)}, 95% CI {format_number(low, 2)} to "
                f"{format_number(high, 2)})"
            )
        if not clear:
            changed.append(
                f'No scale changed clearly since "{previous_title}": every change is within '
                "its 95% interval of zero."
            )
    differences: list[str] = []
    for cell in strongest_gaps(asymmetries):
        view = next(v for v in asymmetries if cell in v.cells)
        label = dict(view.groups).get(cell.group, cell.group)
        against = "the largest organisation" if view.comparison == "largest" else "the rest"
        assert cell.gap is not None
        differences.append(
            f"{label} on {instrument.scale(cell.scale_id).name}: {signed(cell.gap.value)} "
            f"against {against}"
        )
    first_stage = None
    first_scales: tuple[tuple[str, str], ...] = ()
    first_questions: tuple[str, ...] = ()
    weak_ids = {w.scale_id for w in weakest}
    for stage in instrument.stages:
        members = [s for s in instrument.scales if s.stage == stage.id and s.id in weak_ids]
        if members:
            first_stage = stage.name
            first_scales = tuple((s.name, s.guidance or s.measures) for s in members)
            first_questions = tuple(stage.recommendations)
            break
    return Glance(
        strongest=strongest,
        weakest=weakest,
        changed=tuple(changed),
        differences=tuple(differences),
        look_first=instrument.look_first,
        first_stage=first_stage,
        first_scales=first_scales,
        first_questions=first_questions,
    )
