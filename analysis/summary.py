"""The report's summary tables: Table 4 across all scales, Table 3 by kind of partnership.

Table 4 lists, for each scale, its items, Cronbach's alpha ("-" for a
one-item scale) and the mean, median and mode of the composite scores. The
fields of :class:`ScaleSummary` run in the scale's scored direction (reverse-keyed
items flipped), the benchmark printed by the report converted into the same
direction when the report gave it in the items' raw agreement direction. What
people read follows one rule: :meth:`ScaleSummary.to_dict` (the report's JSON, the
analysts' command line) and every table give the figures favourable-keyed
(:class:`FavourableFigures`, higher is better), with the report's printed
direction named as such beside them (:class:`AsPrinted`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import pandas as pd

from analysis.descriptives import describe
from analysis.estimates import mean_interval
from analysis.frequencies import spss_round
from analysis.instrument import Instrument, Scale
from analysis.reliability import MissingPolicy, ReliabilityResult, cronbach_alpha
from analysis.scoring import keyed_items, score_scale


@dataclass(frozen=True)
class BenchmarkComparison:
    """A published benchmark restated in the scale's scored direction."""

    source: str | None
    n: int | None
    alpha: float | None
    mean: float
    median: float
    mode: float
    published_direction: str
    note: str | None
    score: float | None = None  # the mean restated so that high is favourable
    score_median: float | None = None  # the median and mode restated likewise
    score_mode: float | None = None


@dataclass(frozen=True)
class AsPrinted:
    """A scale's mean, median and mode in the direction the report prints Table 4.

    ``direction`` is ``raw`` (agreement with the statements as answered) when the scale's items
    are keyed alike, as the report printed every row; ``scale`` (reverse-keyed items flipped)
    for a scale mixing keyed and unkeyed items, whose raw mean would mean nothing.
    """

    direction: str
    mean: float
    median: float
    mode: float
    multiple_modes: bool
    benchmark_alpha: float | None
    benchmark_mean: float | None
    benchmark_median: float | None
    benchmark_mode: float | None


@dataclass(frozen=True)
class FavourableFigures:
    """A scale's mean, median and mode restated so that high is favourable (a scale where
    agreeing is unfavourable as ``min + max - x``; the mode of the restated scores, so that
    the smallest of several is the smallest shown)."""

    mean: float
    median: float
    mode: float
    multiple_modes: bool
    sd: float


FAVOURABLE_HIGH = "favourable-high"
"""How the JSON names the direction of its main figures: higher is better on every scale."""


@dataclass(frozen=True)
class ScaleSummary:
    """One row of Table 4, with the extra figures a reader needs."""

    scale_id: str
    name: str
    items: tuple[str, ...]
    reverse_keyed: tuple[str, ...]
    alpha: float | None
    alpha_ci: tuple[float, float] | None
    n: int
    n_missing: int
    mean: float
    median: float
    mode: float
    multiple_modes: bool
    sd: float
    favourable: str
    band: str | None
    benchmark: BenchmarkComparison | None
    score: float = math.nan  # the mean restated so that high is favourable
    score_ci: tuple[float, float] | None = None  # its one-sample t 95% interval
    as_printed: AsPrinted | None = None
    lower_is_better_as_printed: bool = False  # Table 4 prints it against the favourable way
    favourable_figures: FavourableFigures | None = None

    def to_dict(self) -> dict[str, object]:
        """The scale as the JSON gives it, in one direction: ``mean`` (with ``mean_ci``),
        ``median``, ``mode`` and the benchmark's figures favourable-keyed (higher is better,
        the report's score); under ``as_printed`` the same in the direction the report
        printed Table 4, ``lower_is_better`` saying whether that runs the other way."""
        figures = self.favourable_figures
        benchmark = self.benchmark
        record: dict[str, object] = {
            "scale_id": self.scale_id,
            "name": self.name,
            "items": list(self.items),
            "reverse_keyed": list(self.reverse_keyed),
            "alpha": self.alpha,
            "alpha_ci": list(self.alpha_ci) if self.alpha_ci else None,
            "n": self.n,
            "n_missing": self.n_missing,
            "mean": figures.mean if figures else math.nan,
            "mean_ci": list(self.score_ci) if self.score_ci else None,
            "median": figures.median if figures else math.nan,
            "mode": figures.mode if figures else math.nan,
            "multiple_modes": figures.multiple_modes if figures else False,
            "sd": figures.sd if figures else math.nan,
            "band": self.band,
            "benchmark": None
            if benchmark is None
            else _finite(
                {
                    "source": benchmark.source,
                    "n": benchmark.n,
                    "alpha": benchmark.alpha,
                    "mean": benchmark.score,
                    "median": benchmark.score_median,
                    "mode": benchmark.score_mode,
                    "published_direction": benchmark.published_direction,
                    "note": benchmark.note,
                }
            ),
            "as_printed": None
            if self.as_printed is None
            else {
                **asdict(self.as_printed),
                "lower_is_better": self.lower_is_better_as_printed,
            },
        }
        return _finite(record)


def _finite(record: dict[str, object]) -> dict[str, object]:
    cleaned: dict[str, object] = {}
    for key, value in record.items():
        if isinstance(value, float) and not math.isfinite(value):
            cleaned[key] = None
        elif isinstance(value, dict):
            cleaned[key] = _finite(value)
        elif isinstance(value, list):
            cleaned[key] = [
                None if isinstance(v, float) and not math.isfinite(v) else v for v in value
            ]
        else:
            cleaned[key] = value
    return cleaned


@dataclass(frozen=True)
class Table4:
    """Table 4 of the report: one :class:`ScaleSummary` per scale."""

    instrument_id: str
    n_responses: int
    scales: tuple[ScaleSummary, ...]
    benchmark_name: str = "Benchmark"  # the instrument's benchmark_label ("2017"), if any

    printed_as: str = "as Table 4 prints it"  # how files name Table 4's printed direction

    def to_dict(self) -> dict[str, object]:
        """``instrument``, ``n``, ``direction`` (:data:`FAVOURABLE_HIGH`) and ``scales``
        (:meth:`ScaleSummary.to_dict`)."""
        return {
            "instrument": self.instrument_id,
            "n": self.n_responses,
            "direction": FAVOURABLE_HIGH,
            "scales": [scale.to_dict() for scale in self.scales],
        }

    def to_frame(self) -> pd.DataFrame:
        """The table as the report prints it, plus n and the benchmark (the figures as text,
        rendered from :func:`analysis.report_tables.scored_table4_table`)."""
        from analysis.report_tables import scored_table4_table  # it builds on this module

        model = scored_table4_table(self)
        return pd.DataFrame(model.text_rows(), columns=[c.header for c in model.columns])

    def to_text(self) -> str:
        from analysis.report_tables import scored_table4_table

        model = scored_table4_table(self)
        body = self.to_frame().to_string(index=False)
        return "\n".join([body, *model.notes])


def benchmark_in_scale_direction(
    scale: Scale, instrument: Instrument
) -> BenchmarkComparison | None:
    """The scale's published benchmark, restated in the direction of its scores.

    A benchmark published in the items' raw direction for a scale whose items
    are all reverse-keyed is flipped: :math:`\\min + \\max - x` (Table 4's
    Inter-Org Trust mean 2.7 becomes 3.3 on the 1-5 scale).
    """
    benchmark = scale.benchmark
    if benchmark is None:
        return None
    response_scale = instrument.response_scale_of(scale.items[0])
    flip = benchmark.direction == "raw" and printed_reflected(scale, instrument)

    def restate(value: float) -> float:
        return response_scale.min + response_scale.max - value if flip else value

    return BenchmarkComparison(
        source=instrument.benchmark_source,
        n=instrument.benchmark_n,
        alpha=benchmark.alpha,
        mean=restate(benchmark.mean),
        median=restate(benchmark.median),
        mode=restate(benchmark.mode),
        published_direction=benchmark.direction,
        note=benchmark.note,
        score=favourable_score(scale, instrument, restate(benchmark.mean)),
        score_median=favourable_score(scale, instrument, restate(benchmark.median)),
        score_mode=favourable_score(scale, instrument, restate(benchmark.mode)),
    )


def _as_printed(scale: Scale, instrument: Instrument, scores: pd.Series) -> AsPrinted:
    """The figures in Table 4's printed direction (see :class:`AsPrinted`)."""
    keyed = {instrument.item(i).reverse_keyed for i in scale.items}
    response_scale = instrument.response_scale_of(scale.items[0])
    flip = printed_reflected(scale, instrument)
    reflect = response_scale.min + response_scale.max
    printed = describe(reflect - scores) if flip else describe(scores)
    published = scale.benchmark

    def as_published(figure: str) -> float | None:
        if published is None:
            return None
        value: float = getattr(published, figure)
        return reflect - value if flip and published.direction == "scale" else value

    return AsPrinted(
        direction="raw" if len(keyed) == 1 else "scale",
        mean=printed.mean,
        median=printed.median,
        mode=printed.mode,
        multiple_modes=printed.multiple_modes,
        benchmark_alpha=published.alpha if published else None,
        benchmark_mean=as_published("mean"),
        benchmark_median=as_published("median"),
        benchmark_mode=as_published("mode"),
    )


def _favourable_figures(
    scale: Scale, instrument: Instrument, scores: pd.Series
) -> FavourableFigures:
    """The figures of :class:`FavourableFigures` from the scale's scores (scored direction)."""
    restated = describe(favourable_scores(scores.to_frame(scale.id), instrument)[scale.id])
    return FavourableFigures(
        mean=restated.mean,
        median=restated.median,
        mode=restated.mode,
        multiple_modes=restated.multiple_modes,
        sd=restated.sd,
    )


def printed_reflected(scale: Scale, instrument: Instrument) -> bool:
    """Whether Table 4 prints a scale's figures reflected from its scores (``min + max - x``):
    when every item is reverse-keyed the report printed the agreement with the statements as
    answered, not the scored direction."""
    return all(instrument.item(i).reverse_keyed for i in scale.items)


def printed_against_favourable(scale: Scale, instrument: Instrument) -> bool:
    """Whether Table 4's printed figures run against the favourable direction (so that the
    printed mean and the favourable-keyed score of the scale differ)."""
    return printed_reflected(scale, instrument) != (scale.favourable == "low")


def favourable_score(scale: Scale, instrument: Instrument, score: float) -> float:
    """Restate a score so that high is favourable (for interpretation bands)."""
    if scale.favourable == "high":
        return score
    response_scale = instrument.response_scale_of(scale.items[0])
    return response_scale.min + response_scale.max - score


def favourable_scores(scores: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Scale scores (one column per scale id) restated so that high is favourable."""
    restated = scores.copy()
    for scale in instrument.scales:
        if scale.id in restated.columns and scale.favourable == "low":
            response_scale = instrument.response_scale_of(scale.items[0])
            restated[scale.id] = response_scale.min + response_scale.max - restated[scale.id]
    return restated


PRINTED_SUFFIX = "_as_printed"
"""Ends the name of a respondent's score in Table 4's printed direction
(``competition_as_printed``)."""


@dataclass(frozen=True)
class RespondentScore:
    """One column of the row-level scores: a scale's favourable-keyed score (``key`` is the
    scale's id, ``label`` its name), or, beside it where Table 4 printed the scale the other
    way, the score in that direction (``key`` ends :data:`PRINTED_SUFFIX`)."""

    key: str
    scale_id: str
    label: str
    as_printed: bool = False


def printed_as(instrument: Instrument) -> str:
    """How files name Table 4's printed direction: ``as the 2017 report printed it`` (the
    instrument's benchmark label), ``as Table 4 prints it`` without one."""
    if instrument.benchmark_label:
        return f"as the {instrument.benchmark_label} report printed it"
    return "as Table 4 prints it"


def respondent_score_columns(
    instrument: Instrument, present: Sequence[str] | None = None
) -> list[RespondentScore]:
    """The row-level score columns in order: each scale's favourable-keyed score, followed by
    its score in Table 4's printed direction where that runs the other way; only the scales in
    ``present`` when given."""
    columns = []
    for scale in instrument.scales:
        if present is not None and scale.id not in present:
            continue
        columns.append(RespondentScore(scale.id, scale.id, scale.name))
        if printed_against_favourable(scale, instrument):
            columns.append(
                RespondentScore(
                    scale.id + PRINTED_SUFFIX,
                    scale.id,
                    f"{scale.name} ({printed_as(instrument)})",
                    as_printed=True,
                )
            )
    return columns


def respondent_scores(scores: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Each respondent's scores as the files give them (:func:`respondent_score_columns`).

    ``scores`` holds scores in each scale's scored direction (reverse-keyed items flipped, as
    :func:`analysis.scoring.scale_scores` gives them), a column per scale id; other columns (a
    respondent number) come first, unchanged.
    """
    favourable = favourable_scores(scores, instrument)
    columns = respondent_score_columns(instrument, list(scores.columns))
    scale_ids = {c.scale_id for c in columns}
    out = scores[[c for c in scores.columns if c not in scale_ids]].copy()
    for column in columns:
        values = favourable[column.scale_id]
        if column.as_printed:
            scale = instrument.scale(column.scale_id)
            response_scale = instrument.response_scale_of(scale.items[0])
            values = response_scale.min + response_scale.max - values
        out[column.key] = values
    return out


def respondent_direction_note(instrument: Instrument) -> str:
    """The direction rule of the row-level scores, in words, for notes and file labels."""
    low = [s.name for s in instrument.scales if s.favourable == "low"]
    printed = [c for c in respondent_score_columns(instrument) if c.as_printed]
    parts = [
        "Every score is favourable-keyed: higher is better on every scale (reverse-keyed "
        "items are flipped first"
        + (
            f", and a scale where agreeing is unfavourable, {_names(low)}, is restated as the "
            "lowest plus the highest answer minus the score)."
            if low
            else ")."
        )
    ]
    if printed:
        names = _names([instrument.scale(c.scale_id).name for c in printed])
        parts.append(
            f"Table 4 gives the mean {printed_as(instrument)}, which runs the other way for "
            f"{names}: beside each of these, a second score {printed_as(instrument)} "
            f"(its name ends {PRINTED_SUFFIX} in scores.csv and answers.sav) reproduces Table 4's "
            "mean; there lower is better."
        )
    return " ".join(parts)


def _names(names: Sequence[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def summarise_scale(
    keyed: pd.DataFrame,
    scale: Scale,
    instrument: Instrument,
    *,
    missing: MissingPolicy = "listwise",
) -> ScaleSummary:
    """One row of Table 4 from already keyed item answers."""
    columns = keyed[list(scale.items)]
    scores = score_scale(columns, scale.required_answers)
    stats = describe(scores)
    reliability: ReliabilityResult | None = None
    if len(scale.items) > 1:
        try:
            reliability = cronbach_alpha(columns, missing=missing)
        except ValueError:
            reliability = None  # too few respondents or no variance: shown as "-"
    band = None
    score = math.nan
    score_ci: tuple[float, float] | None = None
    if math.isfinite(stats.mean):
        score = favourable_score(scale, instrument, stats.mean)
        chosen = instrument.band_for(
            float(spss_round(score, 2)),  # as the score is shown
            instrument.response_scale_id_of_scale(scale.id),
        )
        band = chosen.id if chosen else None
        interval = mean_interval(scores)
        if interval is not None:
            ends = sorted(favourable_score(scale, instrument, end) for end in interval)
            score_ci = (ends[0], ends[1])
    benchmark = benchmark_in_scale_direction(scale, instrument)
    return ScaleSummary(
        scale_id=scale.id,
        name=scale.name,
        items=tuple(scale.items),
        reverse_keyed=tuple(i for i in scale.items if instrument.item(i).reverse_keyed),
        alpha=reliability.alpha if reliability else None,
        alpha_ci=reliability.ci if reliability else None,
        n=stats.n_valid,
        n_missing=stats.n_missing,
        mean=stats.mean,
        median=stats.median,
        mode=stats.mode,
        multiple_modes=stats.multiple_modes,
        sd=stats.sd,
        favourable=scale.favourable.value,
        band=band,
        benchmark=benchmark,
        score=score,
        score_ci=score_ci,
        as_printed=_as_printed(scale, instrument, scores),
        lower_is_better_as_printed=printed_against_favourable(scale, instrument),
        favourable_figures=_favourable_figures(scale, instrument, scores),
    )


def table4(
    responses: pd.DataFrame, instrument: Instrument, *, missing: MissingPolicy = "listwise"
) -> Table4:
    """Table 4: alpha, mean, median and mode of every scale's composite scores.

    Parameters
    ----------
    responses : pandas.DataFrame
        One row per respondent with the instrument's item ids as columns.
    instrument : Instrument
        Scales, reverse-keying and benchmarks.
    missing : {"listwise", "pairwise"}
        How alpha treats missing answers (SPSS, as used by the report, is
        listwise).
    """
    return _table4_of_keyed(_keyed_scale_items(responses, instrument), instrument, missing)


def _keyed_scale_items(responses: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    keyed = keyed_items(responses, instrument)
    absent = sorted({i for s in instrument.scales for i in s.items} - set(keyed.columns))
    if absent:
        raise ValueError(f"responses lack the item columns {', '.join(absent)}")
    return keyed


def _table4_of_keyed(keyed: pd.DataFrame, instrument: Instrument, missing: MissingPolicy) -> Table4:
    return Table4(
        instrument_id=instrument.id,
        n_responses=len(keyed),
        scales=tuple(
            summarise_scale(keyed, scale, instrument, missing=missing)
            for scale in instrument.scales
        ),
        benchmark_name=instrument.benchmark_name,
        printed_as=printed_as(instrument),
    )


def grouped_table4(
    responses: pd.DataFrame,
    instrument: Instrument,
    by: str,
    *,
    missing: MissingPolicy = "listwise",
) -> dict[str, Table4]:
    """Table 4 for each value of a background question (``by``), in option order.

    Respondents who did not answer ``by`` are left out. Suppressing small
    groups is the caller's job (the reports apply the anonymity threshold).
    """
    if by not in responses.columns:
        raise ValueError(f"responses have no column {by!r} to group by")
    order = _group_order(responses[by], instrument, by)
    keyed = _keyed_scale_items(responses, instrument)  # reverse-keyed once for every group
    groups = responses[by].to_numpy()
    return {group: _table4_of_keyed(keyed[groups == group], instrument, missing) for group in order}


def _group_order(column: pd.Series, instrument: Instrument, by: str) -> list[str]:
    present = [str(v) for v in column.dropna().unique()]
    options = instrument.background_question(by).options if instrument.has_background(by) else []
    ordered = [o.value for o in options if o.value in present]
    return ordered + sorted(v for v in present if v not in ordered)


def partnership_kind_counts(responses: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Table 3: valid responses by kind of partnership, and partnerships responding.

    The kind is the answer to the instrument's ``partnership_attribute`` question (the 2017
    report's care model); ``responses`` has a column of that question's id.

    Returns
    -------
    pandas.DataFrame
        Columns ``kind``, ``label``, ``responses``, ``partnerships`` (the number of distinct
        partnerships with at least one response, when a ``partnership_name`` column is
        present), ending with a Total row. Every kind the instrument lists appears, with 0
        where nobody answered.

    Raises
    ------
    ValueError
        When the instrument names no partnership attribute, ``responses`` has no column for
        it, or holds a value that is not one of its options.
    """
    attribute = instrument.partnership_attribute
    if attribute is None:
        raise ValueError(f"instrument {instrument.id} has no partnership_attribute question")
    if attribute not in responses.columns:
        raise ValueError(f"responses have no {attribute} column")
    question = instrument.background_question(attribute)
    kinds = responses[attribute]
    has_partnership = "partnership_name" in responses.columns
    records: list[dict[str, object]] = []
    for option in question.options:
        chosen = responses[kinds == option.value]
        record: dict[str, object] = {
            "kind": option.value,
            "label": option.label,
            "responses": len(chosen),
        }
        if has_partnership:
            record["partnerships"] = int(chosen["partnership_name"].dropna().nunique())
        records.append(record)
    known = {o.value for o in question.options}
    unlisted = kinds.dropna()
    unlisted = unlisted[~unlisted.isin(known)]
    if not unlisted.empty:
        raise ValueError(
            f"{attribute} values not in the instrument: {', '.join(sorted(set(unlisted)))}"
        )
    total: dict[str, object] = {
        "kind": "total",
        "label": "Total",
        "responses": int(kinds.notna().sum()),
    }
    if has_partnership:
        total["partnerships"] = int(
            responses.loc[kinds.notna(), "partnership_name"].dropna().nunique()
        )
    records.append(total)
    return pd.DataFrame.from_records(records)


@dataclass(frozen=True)
class ProfileBar:
    """One bar of the trust profile chart: a pillar or a level of trust.

    Bars are made per response scale (``response_scale``, its id): scales answered on a 1-3
    scale are never averaged with, or drawn on the axis of, scales answered on 1-5.
    """

    group: str  # "pillar" or "trust level"
    label: str
    mean: float  # favourable-keyed, so that higher is always better
    scales: tuple[str, ...]
    response_scale: str = ""


def trust_profile(table: Table4, instrument: Instrument) -> list[ProfileBar]:
    """The four pillars and the two levels of trust, each as a favourable-keyed mean.

    A pillar's bar is the mean of the (favourable-keyed) means of its scales;
    pillars or levels with no scored scale are left out.  With more than one response scale,
    each gets bars of its own (in the order the instrument defines them).
    """
    by_id = {s.scale_id: s for s in table.scales if math.isfinite(s.mean)}
    bars: list[ProfileBar] = []
    groups: list[tuple[str, str, list[str]]] = []
    for pillar in ("ability", "benevolence", "integrity", "predictability"):
        members = [s.id for s in instrument.scales if s.pillar and s.pillar.value == pillar]
        groups.append(("pillar", pillar.capitalize(), members))
    for level in ("inter-individual", "inter-organisational"):
        members = [
            s.id for s in instrument.scales if s.trust_level and s.trust_level.value == level
        ]
        groups.append(("trust level", f"{level.capitalize()} trust", members))
    for response_scale in instrument.response_scales:
        for group, label, members in groups:
            scored = [
                m
                for m in members
                if m in by_id and instrument.response_scale_id_of_scale(m) == response_scale
            ]
            if not scored:
                continue
            means = [
                favourable_score(instrument.scale(m), instrument, by_id[m].mean) for m in scored
            ]
            bars.append(
                ProfileBar(group, label, sum(means) / len(means), tuple(scored), response_scale)
            )
    return bars
