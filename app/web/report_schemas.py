"""Response models of the report API: the shapes ``/openapi.json`` shows and the fuzz test
checks. They mirror :func:`app.reports.documents.report_json`; a report below its threshold,
or before its first release, holds only the count fields (the others are left out)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, JsonValue


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReleaseOut(_Out):
    number: int
    final: bool
    responses: int
    published_on: str


class InstrumentOut(_Out):
    id: str
    version: str


class ColumnOut(_Out):
    key: str
    label: str
    kind: str = Field(description="text, integer, number, estimate (value, low, high), interval")
    decimals: int
    description: str | None


class TableRowOut(_Out):
    key: str = Field(description="a machine id of the row (a scale id); never shown")
    cells: dict[str, JsonValue] = Field(description="unrounded figures by column key")
    text: dict[str, str] = Field(description="each cell as the page shows it")


class ReportTableOut(_Out):
    id: str
    title: str
    columns: list[ColumnOut]
    rows: list[TableRowOut]
    notes: list[str]


class ProfileBarOut(_Out):
    group: str
    label: str
    mean: float | None = Field(description="favourable-keyed: higher is better")
    scales: list[str]
    response_scale: str = Field(description="the answer scale its scales are answered on")


class ReadingOut(_Out):
    scale_id: str
    name: str
    favourable_mean: float | None
    band_id: str | None
    band_label: str | None
    band_meaning: str | None
    benchmark_sentence: str | None
    guidance: str | None
    stage_name: str | None
    stage_recommendations: list[str]
    cautions: list[str]
    score_text: str = Field(description="the score as the tables show it")
    interval_text: str | None
    sentence: str | None
    verdict: str | None = Field(description="against 2017: higher, lower, no clear difference")
    peer_sentence: str | None = None


class OpenLinkOut(_Out):
    responses: int
    of: int
    largest_in_one_hour: int
    burst: bool


class RowLevelOut(_Out):
    available: bool
    note: str | None
    withheld: str | None


class FrequencyRowOut(_Out):
    value: float
    label: str
    frequency: int
    percent: float | None
    valid_percent: float | None
    cumulative_percent: float | None


class FrequencyTableOut(_Out):
    item: str
    label: str | None
    rows: list[FrequencyRowOut]
    valid: int
    missing: int
    total: int


class BenchmarkOut(_Out):
    source: str | None
    n: int | None
    alpha: float | None
    mean: float | None = Field(description="the published mean, favourable-keyed")
    median: float | None = Field(description="favourable-keyed")
    mode: float | None = Field(description="favourable-keyed")
    published_direction: str = Field(
        description="how the report published it: raw (agreement) or scale (keyed)"
    )
    note: str | None


class AsPrintedOut(_Out):
    """A scale's figures in the direction the report printed Table 4 (the page's Table 4)."""

    direction: str = Field(
        description="raw: agreement with the statements as answered (items keyed alike); "
        "scale: reverse-keyed items flipped (a scale mixing both)"
    )
    lower_is_better: bool = Field(
        description="true where this runs against the favourable direction of the main figures"
    )
    mean: float | None
    median: float | None
    mode: float | None
    multiple_modes: bool
    benchmark_alpha: float | None
    benchmark_mean: float | None
    benchmark_median: float | None
    benchmark_mode: float | None


class ScaleSummaryOut(_Out):
    """One scale of Table 4: every figure favourable-keyed (higher is better, the report's
    score), the report's printed direction only under ``as_printed``."""

    scale_id: str
    name: str
    items: list[str]
    reverse_keyed: list[str]
    alpha: float | None
    alpha_ci: list[float | None] | None
    n: int
    n_missing: int
    mean: float | None = Field(description="favourable-keyed: higher is better (the score)")
    mean_ci: list[float | None] | None = Field(description="one-sample t 95% interval")
    median: float | None = Field(description="favourable-keyed")
    mode: float | None = Field(description="favourable-keyed; the smallest of several")
    multiple_modes: bool
    sd: float | None
    band: str | None
    benchmark: BenchmarkOut | None
    as_printed: AsPrintedOut | None = Field(
        description="the figures as the report printed Table 4 (absent where withheld)"
    )


class Table4Out(_Out):
    instrument: str
    n: int
    direction: str = Field(description="favourable-high: higher is better on every scale")
    scales: list[ScaleSummaryOut]


class BreakdownGroupOut(_Out):
    value: str
    label: str
    shown: bool
    hidden_because: str | None
    table4: Table4Out | None


class BreakdownOut(_Out):
    question: str
    groups: list[BreakdownGroupOut]


class ChangeScaleOut(_Out):
    scale_id: str
    previous_mean: float | None
    current_mean: float | None
    difference: float | None
    ci: list[float | None] | None
    previous_n: int
    current_n: int
    confidence: float
    clear: bool
    note: str | None


class ChangeOut(_Out):
    previous_round_id: int | None
    note: str | None
    scales: list[ChangeScaleOut]


class GlanceScaleOut(_Out):
    scale_id: str
    name: str
    score: str
    band: str | None


class SummaryOut(_Out):
    strongest: list[GlanceScaleOut]
    weakest: list[GlanceScaleOut]
    changed: list[str]
    differences: list[str]
    look_first: str | None
    first_stage: str | None
    first_scales: list[list[str]]
    first_questions: list[str]


class _PublishedRoundOut(_Out):
    """What every report answer starts with: the round, its count and what is published."""

    partnership: str
    round: str
    round_id: int | None
    responses: int
    anonymity_threshold: int
    results_visible: bool
    note: str | None
    release_policy: str
    release: ReleaseOut | None
    publication: str
    not_included: int | None
    not_included_because: str | None


class RoundReportOut(_PublishedRoundOut):
    """A round's report. Only the first group of fields when no results are published."""

    instrument: InstrumentOut | None = None
    summary: SummaryOut | None = None
    table4: Table4Out | None = Field(
        default=None,
        description="Table 4's scale summaries favourable-keyed (higher is better), each with "
        "the report's printed direction under as_printed",
    )
    tables: list[ReportTableOut] | None = Field(
        default=None,
        description="every table of the report, as the page shows it (analysis.report_tables)",
    )
    trust_profile: list[ProfileBarOut] | None = None
    readings: list[ReadingOut] | None = None
    cautions: list[str] | None = None
    open_link: OpenLinkOut | None = None
    row_level: RowLevelOut | None = None
    frequencies: list[FrequencyTableOut] | None = None
    breakdowns: list[BreakdownOut] | None = None
    change: ChangeOut | None = None
    sources: list[list[int]] | None = Field(
        default=None, description="(round id, release) of every published set the report read"
    )


class RoundListedOut(_Out):
    round_id: int | None
    title: str
    partnership: str
    opens_on: str
    closes_on: str


class RecordsOut(_PublishedRoundOut):
    """Row-level records (only with a final release), else the count fields and why not."""

    row_level_note: str | None = None
    withheld: str | None = None
    records: list[dict[str, JsonValue]] | None = None
