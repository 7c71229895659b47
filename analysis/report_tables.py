"""Every table of a report, built once as data and rendered many ways.

A :class:`ReportTable` is a caption, typed :class:`Column` s, :class:`Row` s of cells and notes.
The page, the standalone HTML and PDF, the workbook, CSV files, the text of the command line and
the JSON API all render the same object, so a figure cannot read one way in the page and
another in a file:

* :meth:`ReportTable.formatted` gives a cell as people read it (rounded half away from zero,
  as SPSS and the 2017 report; ``-`` where there is no figure; intervals as ``a to b``);
* :meth:`ReportTable.to_frame` gives unrounded numbers for spreadsheets (an estimate's interval
  as two more columns), with :attr:`Column.number_format` for the cell format;
* :meth:`ReportTable.to_json` gives the JSON shape of :class:`ReportTableJson`;
* :meth:`ReportTable.to_text` a fixed-width text table.

Scores here follow one direction rule. Every score a reader compares is *favourable-keyed*:
high is good news for the partnership (a barrier such as Competition is restated as
``min + max - mean``). Only Table 4 keeps the direction the report printed (the items' raw
agreement), because it reproduces the report's table; its last column gives the same mean
favourable-keyed, and every other table, sentence and chart uses that figure.

Pure: no web, no database.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypedDict

import pandas as pd

from analysis.asymmetry import AsymmetryView
from analysis.change import ScaleChange
from analysis.estimates import Estimate, Verdict, verdict
from analysis.frequencies import PLAIN_HEADERS, FrequencyTable, spss_round
from analysis.instrument import Instrument
from analysis.peers import PeerPosition
from analysis.summary import ProfileBar, ScaleSummary, Table4
from analysis.trend import Trend

ColumnKind = Literal["text", "integer", "number", "estimate", "interval"]
SHORT_TABLE_ROWS = 15
"""A table of at most this many rows is short: printed whole on one page, never split."""
Cell = str | int | float | Estimate | tuple[float, float] | None


@dataclass(frozen=True)
class Column:
    """One column: ``key`` (stable, for JSON and files), ``label`` (as people read it).

    ``kind`` says how its cells are written: ``text``; ``integer``; ``number`` (``decimals``);
    ``estimate`` (an :class:`Estimate`: a number with its 95% interval, ``3.50 (3.21 to 3.79)``);
    ``interval`` (a pair, ``3.21 to 3.79``). ``description`` says what the figure is, for notes
    and spreadsheet headers' comments.
    """

    key: str
    label: str
    kind: ColumnKind = "text"
    decimals: int = 2
    description: str | None = None
    signed: bool = False  # a gap or change: "+0.35"

    @property
    def number_format(self) -> str | None:
        """The spreadsheet number format of the column's numbers (``None`` for text)."""
        if self.kind == "text":
            return None
        if self.kind == "integer":
            return "0"
        return "0." + "0" * self.decimals if self.decimals > 0 else "0"

    @property
    def numeric(self) -> bool:
        return self.kind != "text"

    @property
    def header(self) -> str:
        """The heading as shown: an estimate's says its interval is a 95% CI."""
        return f"{self.label} (95% CI)" if self.kind == "estimate" else self.label


@dataclass(frozen=True)
class Row:
    """One row: ``key`` names it for machines (a scale id; never shown), ``cells`` by column
    key. The first column is the row's header."""

    key: str
    cells: Mapping[str, Cell]
    marks: Mapping[str, str] = field(default_factory=dict)  # footnote marks after a cell, "*"


class ColumnJson(TypedDict):
    key: str
    label: str
    kind: str
    decimals: int
    description: str | None


class RowJson(TypedDict):
    key: str
    cells: dict[str, object]
    text: dict[str, str]


class ReportTableJson(TypedDict):
    id: str
    title: str
    columns: list[ColumnJson]
    rows: list[RowJson]
    notes: list[str]


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def format_number(value: object, decimals: int = 2) -> str:
    """A figure rounded half away from zero; ``-`` when there is none."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "-"
    if not math.isfinite(value):
        return "-"
    text = spss_round(float(value), decimals)
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text  # no "-0.00"


@dataclass(frozen=True)
class ReportTable:
    """A report table: caption, columns, rows, notes (see the module's description)."""

    id: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = ()
    extra: Mapping[str, object] = field(default_factory=dict, compare=False)
    short_title: str | None = None  # a name for a sheet or a heading, in the page's words

    @property
    def short(self) -> bool:
        """Whether the table is short enough to print whole on one page (see
        :data:`SHORT_TABLE_ROWS`); a longer one breaks between rows, its header repeated."""
        return len(self.rows) <= SHORT_TABLE_ROWS

    def column(self, key: str) -> Column:
        for column in self.columns:
            if column.key == key:
                return column
        raise KeyError(f"table {self.id} has no column {key!r}")

    def row(self, key: str) -> Row:
        for row in self.rows:
            if row.key == key:
                return row
        raise KeyError(f"table {self.id} has no row {key!r}")

    def formatted(self, row: Row | str, column: Column | str) -> str:
        """The cell as people read it."""
        row = self.row(row) if isinstance(row, str) else row
        column = self.column(column) if isinstance(column, str) else column
        return format_cell(row.cells.get(column.key), column) + row.marks.get(column.key, "")

    def text_rows(self) -> list[list[str]]:
        """Every row's cells as shown, in column order."""
        return [[self.formatted(row, column) for column in self.columns] for row in self.rows]

    def to_frame(self) -> pd.DataFrame:
        """Unrounded figures for spreadsheets and CSV, headed by the columns' labels.

        An ``estimate`` column becomes three (``label``, ``label: 95% CI lower``, ``upper``),
        an ``interval`` column two; missing figures are empty (``None``). A column with a
        footnote mark in any row (``*``, ``◆``) is followed by ``label: mark``, holding each
        row's mark, so the figures stay numbers and the marks are not lost.
        """
        marked = self._marked_columns()
        records = []
        for row in self.rows:
            record: dict[str, object] = {}
            for column in self.columns:
                if column.key in marked:
                    mark = row.marks.get(column.key, "").strip()
                    record[f"{column.label}: mark"] = mark or None
                value = row.cells.get(column.key)
                if column.kind == "estimate":
                    estimate = value if isinstance(value, Estimate) else None
                    record[column.label] = _finite(estimate.value) if estimate else None
                    record[f"{column.label}: 95% CI lower"] = estimate.low if estimate else None
                    record[f"{column.label}: 95% CI upper"] = estimate.high if estimate else None
                elif column.kind == "interval":
                    pair = value if isinstance(value, tuple) else None
                    record[f"{column.label}: lower"] = pair[0] if pair else None
                    record[f"{column.label}: upper"] = pair[1] if pair else None
                elif isinstance(value, float):
                    record[column.label] = _finite(value)
                else:
                    record[column.label] = value
            records.append(record)
        return pd.DataFrame.from_records(records, columns=self.frame_columns())

    def _marked_columns(self) -> set[str]:
        return {key for row in self.rows for key, mark in row.marks.items() if mark.strip()}

    def frame_columns(self) -> list[str]:
        """The header of :meth:`to_frame`."""
        marked = self._marked_columns()
        names: list[str] = []
        for column in self.columns:
            if column.kind == "estimate":
                names += [
                    column.label,
                    f"{column.label}: 95% CI lower",
                    f"{column.label}: 95% CI upper",
                ]
            elif column.kind == "interval":
                names += [f"{column.label}: lower", f"{column.label}: upper"]
            else:
                names.append(column.label)
            if column.key in marked:
                names.append(f"{column.label}: mark")
        return names

    def frame_number_formats(self) -> dict[str, str | None]:
        """The number format of each column of :meth:`to_frame`, by its header (``None`` for
        text and marks)."""
        marked = self._marked_columns()
        names = iter(self.frame_columns())
        formats: dict[str, str | None] = {}
        for column in self.columns:
            for _ in range({"estimate": 3, "interval": 2}.get(column.kind, 1)):
                formats[next(names)] = column.number_format
            if column.key in marked:
                formats[next(names)] = None
        return formats

    def to_json(self) -> ReportTableJson:
        """The table as JSON: figures unrounded (``null`` if none), and as shown (``text``)."""
        return {
            "id": self.id,
            "title": self.title,
            "columns": [
                {
                    "key": c.key,
                    "label": c.header,
                    "kind": c.kind,
                    "decimals": c.decimals,
                    "description": c.description,
                }
                for c in self.columns
            ],
            "rows": [
                {
                    "key": row.key,
                    "cells": {c.key: _json_cell(row.cells.get(c.key)) for c in self.columns},
                    "text": {c.key: self.formatted(row, c) for c in self.columns},
                }
                for row in self.rows
            ],
            "notes": list(self.notes),
        }

    def to_text(self) -> str:
        """A fixed-width text table with its caption and notes."""
        header = [c.header for c in self.columns]
        body = self.text_rows()
        widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
        lines = [self.title]
        lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
        for cells in body:
            lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
        lines += list(self.notes)
        return "\n".join(lines)


def format_cell(value: Cell, column: Column) -> str:
    """One cell as people read it (see :meth:`ReportTable.formatted`)."""
    if value is None:
        return "-"
    if column.kind == "estimate" and isinstance(value, Estimate):
        text = (signed if column.signed else format_number)(value.value, column.decimals)
        if value.interval is not None and text != "-":
            low, high = value.interval
            text += (
                f" ({format_number(low, column.decimals)} to "
                f"{format_number(high, column.decimals)})"
            )
        return text
    if column.kind == "interval" and isinstance(value, tuple):
        start, end = (format_number(bound, column.decimals) for bound in value)
        return f"{start} to {end}"
    if column.kind == "integer" and isinstance(value, int | float) and not isinstance(value, bool):
        return str(int(value)) if math.isfinite(value) else "-"
    if column.kind == "number" and column.signed and isinstance(value, float | int):
        return signed(float(value), column.decimals)
    if column.kind == "number":
        return format_number(value, column.decimals)
    return str(value)


def _json_cell(value: Cell) -> object:
    if isinstance(value, Estimate):
        return {"value": _finite(value.value), "low": value.low, "high": value.high}
    if isinstance(value, tuple):
        return [_finite(value[0]), _finite(value[1])]
    if isinstance(value, float):
        return _finite(value)
    return value


# --- item labels ---------------------------------------------------------------------------

_NUMBERED = re.compile(r"^[a-z]+(\d+)$")


def item_number(instrument: Instrument, item_id: str) -> str:
    """How a report names an item: its number (``q22`` is item 22, as the report numbers its
    items), else its position in the questionnaire."""
    match = _NUMBERED.match(item_id)
    if match:
        return match.group(1)
    return str(instrument.item_ids.index(item_id) + 1)


def agreeing_is_favourable(instrument: Instrument, scale_id: str, item_id: str) -> bool:
    """Whether agreeing with an item of a scale is the favourable answer: not when the item is
    reverse-keyed (a negatively worded statement), nor when the scale is one where low is
    favourable (a barrier), and yes when both hold."""
    scale = instrument.scale(scale_id)
    return (not instrument.item(item_id).reverse_keyed) == (scale.favourable == "high")


# --- the tables ----------------------------------------------------------------------------

SCORE_LABEL = "Score (higher is better)"


def direction_note(table: Table4, benchmark: str = "benchmark") -> str:
    """Which direction Table 4's figures run, and which scales read the other way."""
    lower = [s.name for s in table.scales if s.favourable == "low"]
    reversed_scales = [
        s.name
        for s in table.scales
        if s.as_printed is not None and s.as_printed.direction == "raw" and s.reverse_keyed
    ]
    parts = [
        f"Mean, median, mode and the {benchmark} figures run as the report printed Table 4: "
        "agreement "
        "with the statements as answered."
    ]
    unfavourable = sorted(
        set(lower) | set(reversed_scales), key=[s.name for s in table.scales].index
    )
    if unfavourable:
        parts.append(f"Agreeing is unfavourable for {_listed(unfavourable)}.")
    parts.append(
        f"{SCORE_LABEL} restates each mean so that higher is always favourable; the rest of "
        "this report uses only that score."
    )
    return " ".join(parts)


def _listed(names: Sequence[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def score_estimate(summary: ScaleSummary) -> Estimate:
    """A scale's favourable-keyed score with its interval: the one figure every part of the
    report shows for the scale."""
    interval = summary.score_ci
    return Estimate(summary.score, *(interval if interval else (None, None)))


def table4_table(table: Table4, instrument: Instrument) -> ReportTable:
    """Table 4 as the report printed it (raw direction), plus the favourable-keyed score."""
    columns = (
        Column("scale", "Scale"),
        Column("items", "Items"),
        Column("alpha", "Alpha", "number", 3, "Cronbach's alpha, listwise (as SPSS)"),
        Column("mean", "Mean", "number", 2, "as the report printed it: agreement"),
        Column("median", "Median", "number", 2),
        Column("mode", "Mode", "number", 2),
        Column("n", "n", "integer"),
        Column("benchmark_alpha", f"{instrument.benchmark_name} alpha", "number", 3),
        Column("benchmark_mean", f"{instrument.benchmark_name} mean", "number", 1),
        Column("score", SCORE_LABEL, "number", 2, "the mean restated so that high is favourable"),
    )
    rows = []
    for s in table.scales:
        printed = s.as_printed
        rows.append(
            Row(
                s.scale_id,
                {
                    "scale": s.name,
                    "items": ", ".join(item_number(instrument, i) for i in s.items),
                    "alpha": s.alpha,
                    "mean": printed.mean if printed else None,
                    "median": printed.median if printed else None,
                    "mode": printed.mode if printed else None,
                    "n": s.n,
                    "benchmark_alpha": printed.benchmark_alpha if printed else None,
                    "benchmark_mean": printed.benchmark_mean if printed else None,
                    "score": s.score,
                },
                {"mode": "*"} if printed and printed.multiple_modes else {},
            )
        )
    notes = [direction_note(table, instrument.benchmark_name)]
    if any(s.as_printed and s.as_printed.multiple_modes for s in table.scales):
        notes.append("* Several modes: the smallest is shown.")
    notes.append('"-": not computable (one item, or too few answers).')
    if instrument.benchmark_source:
        notes.append(f"{instrument.benchmark_name} figures: {instrument.benchmark_source}.")
    return ReportTable(
        "table4",
        f"Table 4: reliability, mean, median and mode of each scale ({table.n_responses} "
        "responses)",
        columns,
        tuple(rows),
        tuple(notes),
    )


def change_table(
    changes: Sequence[ScaleChange], instrument: Instrument, previous_title: str
) -> ReportTable:
    """Change of each favourable-keyed score since the previous round (Welch's interval)."""
    columns = (
        Column("scale", "Scale"),
        Column("before", f"{previous_title}: score", "number", 2),
        Column("before_n", "n before", "integer"),
        Column("now", "This round: score", "number", 2),
        Column("now_n", "n now", "integer"),
        Column("change", "Change", "estimate", 2, "Welch's interval", signed=True),
        Column("reading", "Reading"),
    )
    rows = []
    for c in changes:
        rows.append(
            Row(
                c.scale_id,
                {
                    "scale": instrument.scale(c.scale_id).name,
                    "before": c.previous_mean,
                    "before_n": c.previous_n,
                    "now": c.current_mean,
                    "now_n": c.current_n,
                    "change": Estimate(c.difference, *(c.ci if c.ci else (None, None))),
                    "reading": change_words(c),
                },
            )
        )
    return ReportTable(
        "change-table",
        "Change in each scale's score since the previous round (higher is better)",
        columns,
        tuple(rows),
        (
            "Responses are anonymous, so the rounds are compared as independent samples "
            "(Welch's 95% confidence interval). A change is called better or worse only when "
            "its interval does not include zero.",
        ),
    )


def change_words(change: ScaleChange) -> str:
    """A change in words, through its interval (scores favourable-keyed)."""
    if change.ci is None:
        return "no interval"
    if change.ci[0] > 0:
        return "better"
    if change.ci[1] < 0:
        return "worse"
    return "no clear change"


def profile_table_id(response_scale: str, several: bool) -> str:
    """The id of the trust profile's table for one answer scale (one table when there is one
    answer scale, one per answer scale otherwise: never averaged across them)."""
    return f"profile-table-{response_scale}" if several else "profile-table"


def profile_tables(bars: Sequence[ProfileBar], instrument: Instrument) -> list[ReportTable]:
    """The trust profile as tables, one per answer scale its bars are on."""
    order = [r for r in instrument.response_scales if any(b.response_scale == r for b in bars)]
    several = len(order) > 1
    tables = []
    for response_scale in order:
        own = [b for b in bars if b.response_scale == response_scale]
        answer_scale = instrument.response_scales[response_scale]
        table = profile_table(own, instrument)
        title = table.title + (
            f" (scales answered from {answer_scale.min} to {answer_scale.max})" if several else ""
        )
        tables.append(
            ReportTable(profile_table_id(response_scale, several), title, table.columns, table.rows)
        )
    return tables


def profile_table(bars: Sequence[ProfileBar], instrument: Instrument) -> ReportTable:
    columns = (
        Column("label", "Pillar or level of trust"),
        Column("score", SCORE_LABEL, "number", 2),
        Column("scales", "Scales"),
    )
    rows = tuple(
        Row(
            f"{bar.group}:{bar.label}",
            {
                "label": bar.label,
                "score": bar.mean,
                "scales": ", ".join(instrument.scale(s).name for s in bar.scales),
            },
        )
        for bar in bars
    )
    return ReportTable("profile-table", "Trust profile as a table", columns, rows)


def frequency_report_table(table: FrequencyTable) -> ReportTable:
    """An item's frequency table as the report shows it: SPSS's layout (the report's Tables 5
    and 6) in the page's plain words (:meth:`FrequencyTable.plain_records`, headed as
    :data:`~analysis.frequencies.PLAIN_HEADERS`: Answered, No answer, Left blank, Percent of
    answers), captioned with the item's statement. The page, the PDF and the Word document
    render this one table; figures are already rounded as SPSS prints them, and a cell SPSS
    leaves blank (a Total row's cumulative percent) stays blank."""
    columns = tuple(Column(key, label) for key, label in PLAIN_HEADERS.items())
    rows = tuple(
        Row(str(index), {key: _plain_cell(record[key]) for key in PLAIN_HEADERS})
        for index, record in enumerate(table.plain_records())
    )
    return ReportTable(f"frequencies-{table.item}", table.label or table.item, columns, rows)


def _plain_cell(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def comparison_verdict(summary: ScaleSummary) -> Verdict | None:
    """The score against the benchmark (the report's 2017 figure), through its interval."""
    benchmark = summary.benchmark
    if benchmark is None or benchmark.score is None or not math.isfinite(summary.score):
        return None
    return verdict(score_estimate(summary), benchmark.score)


VERDICT_CELLS = {
    Verdict.HIGHER: "better",
    Verdict.LOWER: "worse",
    Verdict.NO_CLEAR_DIFFERENCE: "no clear difference",
    Verdict.NO_INTERVAL: "no interval",
}


def scores_table(
    table: Table4,
    instrument: Instrument,
    peers: Mapping[str, PeerPosition] | None = None,
) -> ReportTable:
    """Each scale's favourable-keyed score with its 95% CI, against 2017 and peers.

    The figure in ``score`` is the one every sentence, chart and summary of the report uses.
    """
    columns: list[Column] = [
        Column("scale", "Scale"),
        Column("score", "Score", "estimate", 2, "favourable-keyed mean, one-sample t interval"),
        Column("n", "n", "integer"),
        Column("benchmark_score", f"{instrument.benchmark_name} score", "number", 1),
        Column("against_benchmark", f"Against {instrument.benchmark_name}"),
    ]
    if peers:
        columns += [
            Column("peer_median", "Peers: median", "number", 2),
            Column("peer_quartiles", "Peers: quartiles", "interval", 2),
            Column("peer_position", "Among peers"),
        ]
    rows = []
    for s in table.scales:
        cells: dict[str, Cell] = {
            "scale": s.name,
            "score": score_estimate(s),
            "n": s.n,
            "benchmark_score": s.benchmark.score if s.benchmark else None,
            "against_benchmark": VERDICT_CELLS[v] if (v := comparison_verdict(s)) else None,
        }
        if peers:
            position = peers.get(s.scale_id)
            cells |= {
                "peer_median": position.median if position else None,
                "peer_quartiles": (position.lower_quartile, position.upper_quartile)
                if position
                else None,
                "peer_position": position.position if position else None,
            }
        rows.append(Row(s.scale_id, cells))
    notes = [
        "Every score here is restated so that higher is favourable. The interval is the "
        "one-sample t 95% confidence interval of the mean.",
    ]
    if any(s.benchmark for s in table.scales):
        n = instrument.benchmark_n
        pilot = f"a {n}-person pilot" if n else "a pilot survey"
        name = instrument.benchmark_name
        notes.append(
            f"The {name} figures come from {pilot} ({instrument.benchmark_source or 'the report'})"
            f", rounded to one decimal. A score is called better or worse than {name} only when "
            f"its interval lies wholly above or below the {name} figure; otherwise there is no "
            "clear difference."
        )
    if peers:
        counts = sorted({p.peers for p in peers.values()})
        notes.append(
            f"Peers: {counts[-1]} other partnerships with a closed round published in full "
            "(each its latest, each with at least its anonymity threshold of responses); "
            "quartiles as R's default."
        )
    return ReportTable(
        "scores-table",
        "Scores and comparisons (higher is better)",
        tuple(columns),
        tuple(rows),
        tuple(notes),
    )


def signed(value: float | None, decimals: int = 2) -> str:
    """A gap or change with its sign: ``+0.35``, ``-0.20``, ``0.00``."""
    text = format_number(value, decimals)
    if text == "-" or text.startswith("-") or not text.strip("0."):
        return text
    return "+" + text


def asymmetry_table(view: AsymmetryView, instrument: Instrument) -> ReportTable:
    """The gaps of one asymmetry view: one row per scale, one column per group."""
    groups = view.shown_groups
    sizes = {
        g: max((c.n_group for c in view.cells if c.group == g and c.shown), default=0)
        for g, _ in groups
    }
    columns = [Column("scale", "Scale")]
    columns += [
        Column(f"gap:{value}", f"{label} (n = {sizes[value]})", "estimate", 2, signed=True)
        for value, label in groups
    ]
    rows = []
    for scale in instrument.scales:
        cells: dict[str, Cell] = {"scale": scale.name}
        marks: dict[str, str] = {}
        for value, _ in groups:
            cell = view.cell(scale.id, value)
            cells[f"gap:{value}"] = cell.gap if cell is not None and cell.shown else None
            if cell is not None and cell.shown and cell.clear:
                marks[f"gap:{value}"] = " ◆"
        if any(view.cell(scale.id, g) for g, _ in view.groups):
            rows.append(Row(scale.id, cells, marks))
    against = "the largest organisation" if view.comparison == "largest" else "everyone else"
    notes = [
        f"Each cell: the group's score minus {against}'s on the same scale (higher is better, "
        "so a positive gap means the group sees the partnership more favourably), with "
        "Welch's 95% confidence interval. ◆: the interval excludes zero, a clear gap.",
        f"Groups below {view.threshold} respondents scored on a scale are hidden, with the next "
        "smallest until the hidden groups hold at least that many together, so no group can be "
        "worked out by subtraction; everyone else includes those who did not answer the "
        "question.",
    ]
    hidden = view.hidden_groups
    if hidden:
        notes.append(
            "Hidden to protect respondents: " + "; ".join(label for _, label in hidden) + "."
        )
    if view.kinds:
        names = [instrument.asymmetry(k).name.lower() for k in view.kinds]
        notes.append(
            f"Gaps along {view.question_name} may reflect {_listed(names)} (Li et al. 2018)."
        )
    suffix = "-largest" if view.comparison == "largest" else ""
    title = (
        f"Gap between each {view.question_name} and {against}, by scale"
        if view.comparison == "rest"
        else f"Gap between each smaller organisation and the largest, by {view.question_name}"
    )
    short = (
        f"Vs largest, {view.question_name}"
        if view.comparison == "largest"
        else f"Gaps by {view.question_name}"
    )
    return ReportTable(
        f"asymmetry-{view.question_id}{suffix}",
        title,
        tuple(columns),
        tuple(rows),
        tuple(notes),
        short_title=short,
    )


def trend_table(series: Trend, instrument: Instrument) -> ReportTable:
    """Each scale's score in every round (favourable-keyed, 95% CI, n)."""
    columns = [Column("scale", "Scale")]
    for key, title, when in series.rounds:
        columns.append(Column(f"score:{key}", f"{title} ({when})", "estimate", 2))
        columns.append(Column(f"n:{key}", f"n ({title})", "integer"))
    rows = []
    for scale_id in series.scale_ids:
        cells: dict[str, Cell] = {"scale": instrument.scale(scale_id).name}
        for key, _, _ in series.rounds:
            point = series.point(scale_id, key)
            cells[f"score:{key}"] = point.estimate if point else None
            cells[f"n:{key}"] = point.n if point else None
        rows.append(Row(scale_id, cells))
    return ReportTable(
        "trend-table",
        "Score of each scale in every round (higher is better)",
        tuple(columns),
        tuple(rows),
        (
            "Each round as published (its latest release); rounds with fewer responses than "
            "their anonymity threshold are left out. Only scales asked in the same way in every "
            "round are followed. Intervals are one-sample t 95% confidence intervals; two "
            "rounds differ clearly only if the change table says so (Welch's interval).",
        ),
    )


def scored_table4_table(table: Table4, instrument: Instrument | None = None) -> ReportTable:
    """Table 4 for the analysts' command line (``trust-survey analyse``), in the report's one
    direction rule: mean, median, mode and the benchmark mean favourable-keyed (higher is
    better, as :meth:`analysis.summary.ScaleSummary.to_dict` gives them), then the mean in the
    direction the report printed Table 4, named as such; rounded as the report prints it."""
    printed = table.printed_as
    columns = (
        Column("scale", "Scale name"),
        Column("items", "Items"),
        Column("alpha", "Cronbach's alpha", "number", 3),
        Column("mean", "Mean (higher is better)", "number", 2),
        Column("median", "Median", "number", 2),
        Column("mode", "Mode", "number", 2),
        Column("n", "n", "integer"),
        Column("benchmark_mean", f"{table.benchmark_name} mean (higher is better)", "number", 1),
        Column("printed_mean", f"Mean {printed}", "number", 2),
        Column("printed_benchmark_mean", f"{table.benchmark_name} mean {printed}", "number", 1),
    )
    rows = []
    for s in table.scales:
        figures = s.favourable_figures
        shown = s.as_printed
        rows.append(
            Row(
                s.scale_id,
                {
                    "scale": s.name,
                    "items": ", ".join(
                        item_number(instrument, i) if instrument else i.removeprefix("q")
                        for i in s.items
                    ),
                    "alpha": s.alpha,
                    "mean": figures.mean if figures else None,
                    "median": figures.median if figures else None,
                    "mode": figures.mode if figures else None,
                    "n": s.n,
                    "benchmark_mean": s.benchmark.score if s.benchmark else None,
                    "printed_mean": shown.mean if shown else None,
                    "printed_benchmark_mean": shown.benchmark_mean if shown else None,
                },
                {"mode": "*"} if figures and figures.multiple_modes else {},
            )
        )
    notes = [
        f"Table 4 (n = {table.n_responses}). Mean, median, mode and the "
        f"{table.benchmark_name} mean are favourable-keyed: higher is better on every scale "
        "(reverse-keyed items flipped, a scale where agreeing is unfavourable restated as the "
        f"lowest plus the highest answer minus the score). The last two columns give the mean "
        f"{printed}."
    ]
    against = [s.name for s in table.scales if s.lower_is_better_as_printed]
    if against:
        notes.append(f"{printed[:1].upper()}{printed[1:]}, lower is better for {_listed(against)}.")
    if any(s.favourable_figures and s.favourable_figures.multiple_modes for s in table.scales):
        notes.append("* Multiple modes exist. The smallest value is shown.")
    return ReportTable("table4-scored", "Table 4", columns, tuple(rows), tuple(notes))
