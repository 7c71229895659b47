"""Sub-commands for analysts: ``analyse``, ``reliability``, ``frequencies`` and ``demo-data``.

Their names, options and JSON keys are a contract that analysts' scripts call:

``trust-survey analyse RESPONSES.csv [--instrument NAME] [--format FORMAT] [--out PATH]``
    Table 4 (every scale's alpha, mean, median and mode) and every item's SPSS-style
    frequency table; FORMAT is text, json, csv or xlsx.  JSON:
    ``{"instrument", "n", "table4": [...], "frequencies": [...]}``; csv: one long (tidy)
    table; xlsx: a "Table 4" sheet, a "Table 3" sheet when the file has care models, and one
    sheet per item.
``trust-survey reliability RESPONSES.csv --items A,B,C [--reverse A] [--scale-min 1 --scale-max 5]``
    Cronbach's alpha of any columns.  JSON keys: ``alpha``, ``ci``, ``standardized_alpha``,
    ``n``, ``k``, ``items`` (each ``item``, ``n``, ``mean``, ``sd``,
    ``corrected_item_total_r``, ``alpha_if_deleted``).
``trust-survey frequencies RESPONSES.csv --items A[,B] [--instrument NAME]``
    Frequency tables; JSON per item: ``rows`` (``value``, ``label``, ``frequency``,
    ``percent``, ``valid_percent``, ``cumulative_percent``), ``missing`` and ``total``.
``trust-survey demo-data [--out PATH]``
    The 39 demo responses of :mod:`analysis.demo` as CSV.

Handlers only parse options, call :mod:`analysis` and render; statistics live there.  User
errors are raised as :class:`app.cli.CommandError` or :class:`ValueError` (one line, exit 2).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.demo import demo_csv_text
from analysis.frequencies import FrequencyTable, frequency_table, item_frequency_tables
from analysis.instrument import Instrument, load_instrument
from analysis.reliability import MissingPolicy, ReliabilityResult, cronbach_alpha
from analysis.responses import (
    AnswerRange,
    instrument_answer_ranges,
    load_item_columns,
    load_responses,
)
from analysis.scoring import reverse_key
from analysis.summary import Table4, care_model_counts, table4
from app.cli import CommandError

DEFAULT_INSTRUMENT = "trustworthy-collaboration"
_FORMATS_ANALYSE = ("text", "json", "csv", "xlsx")
_FORMATS_SIMPLE = ("text", "json")


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``analyse``, ``reliability``, ``frequencies`` and ``demo-data``.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The ``trust-survey`` parser's sub-command group.
    """
    analyse = subparsers.add_parser(
        "analyse",
        help="Table 4 and every item's frequency table for a responses CSV",
        description=(
            "Table 4 (alpha, mean, median and mode of every scale) and every item's "
            "SPSS-style frequency table for a responses CSV (one row per respondent, one "
            "column per item id)."
        ),
    )
    analyse.add_argument("responses", metavar="RESPONSES.csv", help="the responses CSV file")
    analyse.add_argument(
        "--instrument", default=DEFAULT_INSTRUMENT, help="bundled instrument name or YAML path"
    )
    analyse.add_argument("--format", choices=_FORMATS_ANALYSE, default="text")
    analyse.add_argument("--out", type=Path, help="write here instead of standard output")
    analyse.add_argument(
        "--include-empty", action="store_true", help="list answers nobody chose (frequency 0)"
    )
    analyse.set_defaults(handler=run_analyse)

    reliability = subparsers.add_parser(
        "reliability",
        help="Cronbach's alpha with item statistics for chosen columns",
        description="Cronbach's alpha (Feldt 95%% CI), standardized alpha and item statistics.",
    )
    reliability.add_argument("responses", metavar="RESPONSES.csv", help="a CSV file")
    reliability.add_argument(
        "--items", required=True, type=_column_list, help="comma-separated column names"
    )
    reliability.add_argument(
        "--reverse",
        type=_column_list,
        default=[],
        help="comma-separated columns to reverse-key (needs --scale-min and --scale-max)",
    )
    reliability.add_argument("--scale-min", type=float, help="lowest possible answer")
    reliability.add_argument("--scale-max", type=float, help="highest possible answer")
    reliability.add_argument("--missing", choices=("pairwise", "listwise"), default="pairwise")
    reliability.add_argument("--format", choices=_FORMATS_SIMPLE, default="text")
    reliability.set_defaults(handler=run_reliability)

    frequencies = subparsers.add_parser(
        "frequencies",
        help="SPSS-style frequency tables of chosen columns",
        description="Frequency, percent, valid percent and cumulative percent per answer.",
    )
    frequencies.add_argument("responses", metavar="RESPONSES.csv", help="a CSV file")
    frequencies.add_argument(
        "--items", required=True, type=_column_list, help="comma-separated column names"
    )
    frequencies.add_argument(
        "--instrument",
        help="label answers and check their range with this instrument's response scales",
    )
    frequencies.add_argument("--scale-min", type=float, help="lowest possible answer")
    frequencies.add_argument("--scale-max", type=float, help="highest possible answer")
    frequencies.add_argument("--format", choices=_FORMATS_SIMPLE, default="text")
    frequencies.add_argument(
        "--include-empty", action="store_true", help="list answers nobody chose (frequency 0)"
    )
    frequencies.set_defaults(handler=run_frequencies)

    demo = subparsers.add_parser(
        "demo-data",
        help="write the 39 demo responses (Tables 3, 5 and 6 of the 2017 report) as CSV",
    )
    demo.add_argument("--out", type=Path, help="write here instead of standard output")
    demo.add_argument("--seed", type=int, default=2017, help=argparse.SUPPRESS)
    demo.set_defaults(handler=run_demo_data)


def _column_list(text: str) -> list[str]:
    """Parse ``A,B,C`` (argparse type); empty names are a usage error."""
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of columns")
    return names


# -- output -------------------------------------------------------------------------------


def _emit_text(text: str, out: Path | None) -> None:
    """Write text to ``out`` (UTF-8) or standard output."""
    if out is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    try:
        out.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"{out}: cannot write ({exc.strerror or exc})") from None


def _json_ready(value: object) -> object:
    """Replace NaN and infinities by ``None`` (JSON has no NaN); tuples become lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    return value


def _to_json(document: object) -> str:
    return json.dumps(_json_ready(document), indent=2, ensure_ascii=False, allow_nan=False)


# -- analyse ------------------------------------------------------------------------------


def run_analyse(args: argparse.Namespace) -> int:
    """``trust-survey analyse``: Table 4 and every item's frequency table."""
    instrument = load_instrument(args.instrument)
    responses = load_responses(args.responses, instrument)
    summary = table4(responses, instrument)
    tables = item_frequency_tables(responses, instrument, include_empty=args.include_empty)
    output_format: str = args.format
    out: Path | None = args.out
    if output_format == "text":
        _emit_text(analysis_text(summary, tables, _table3_or_none(responses, instrument)), out)
    elif output_format == "json":
        _emit_text(_to_json(analysis_document(summary, tables)), out)
    elif output_format == "csv":
        _emit_text(analysis_long_csv(summary, tables), out)
    else:
        if out is None:
            raise CommandError(
                "--format xlsx needs --out PATH (a workbook cannot go to a terminal)"
            )
        write_analysis_workbook(
            out, summary, tables, _table3_or_none(responses, instrument), instrument
        )
    return 0


def _table3_or_none(responses: pd.DataFrame, instrument: Instrument) -> pd.DataFrame | None:
    """Table 3 (responses by care model) when the file has care models."""
    if "care_model" not in responses.columns or responses["care_model"].isna().all():
        return None
    if not any(question.id == "care_model" for question in instrument.background):
        return None
    return care_model_counts(responses, instrument)


def analysis_text(
    summary: Table4, tables: Sequence[FrequencyTable], table3: pd.DataFrame | None = None
) -> str:
    """The text report: Table 4, Table 3 if given, then every frequency table.

    Parameters
    ----------
    summary : Table4
        From :func:`analysis.summary.table4`.
    tables : sequence of FrequencyTable
        From :func:`analysis.frequencies.item_frequency_tables`.
    table3 : pandas.DataFrame, optional
        From :func:`analysis.summary.care_model_counts`.

    Returns
    -------
    str
    """
    parts = [f"Instrument: {summary.instrument_id}  (n = {summary.n_responses})", ""]
    parts += ["Table 4: scales", summary.to_text(), ""]
    if table3 is not None:
        shown = table3.drop(columns=["care_model"]).rename(
            columns={
                "label": "Care model",
                "responses": "Responses",
                "partnerships": "Partnerships",
            }
        )
        parts += ["Table 3: responses by care model", shown.to_string(index=False), ""]
    parts.append("Frequency tables")
    for table in tables:
        parts += ["", table.to_text()]
    return "\n".join(parts)


def analysis_document(summary: Table4, tables: Sequence[FrequencyTable]) -> dict[str, object]:
    """The JSON document of ``analyse``: ``instrument``, ``n``, ``table4``, ``frequencies``.

    Parameters
    ----------
    summary : Table4
    tables : sequence of FrequencyTable

    Returns
    -------
    dict
    """
    return {
        "instrument": summary.instrument_id,
        "n": summary.n_responses,
        "table4": [scale.to_dict() for scale in summary.scales],
        "frequencies": [table.to_dict() for table in tables],
    }


LONG_COLUMNS = ("table", "id", "name", "value", "value_label", "statistic", "result")
"""Columns of the long CSV written by ``analyse --format csv``."""


def _long_rows(summary: Table4, tables: Sequence[FrequencyTable]) -> Iterable[tuple[object, ...]]:
    for scale in summary.scales:
        figures: dict[str, object] = {
            "items": " ".join(scale.items),
            "alpha": scale.alpha,
            "alpha_ci_low": scale.alpha_ci[0] if scale.alpha_ci else None,
            "alpha_ci_high": scale.alpha_ci[1] if scale.alpha_ci else None,
            "n": scale.n,
            "n_missing": scale.n_missing,
            "mean": scale.mean,
            "median": scale.median,
            "mode": scale.mode,
            "multiple_modes": scale.multiple_modes,
            "sd": scale.sd,
            "band": scale.band,
            "benchmark_mean": scale.benchmark.mean if scale.benchmark else None,
        }
        for statistic, result in figures.items():
            yield ("table4", scale.scale_id, scale.name, "", "", statistic, result)
    for table in tables:
        for row in table.rows:
            value = int(row.value) if row.value.is_integer() else row.value
            for statistic in ("frequency", "percent", "valid_percent", "cumulative_percent"):
                result = getattr(row, statistic)
                yield ("frequencies", table.item, table.label, value, row.label, statistic, result)
        for statistic, count in (("valid", table.valid), ("missing", table.missing)):
            yield ("frequencies", table.item, table.label, "", "", statistic, count)
        yield ("frequencies", table.item, table.label, "", "", "total", table.total)


def analysis_long_csv(summary: Table4, tables: Sequence[FrequencyTable]) -> str:
    """Table 4 and the frequency tables as one long CSV (one statistic per line).

    Columns are :data:`LONG_COLUMNS`; ``result`` is unrounded (empty when undefined).

    Parameters
    ----------
    summary : Table4
    tables : sequence of FrequencyTable

    Returns
    -------
    str
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(LONG_COLUMNS)
    for row in _long_rows(summary, tables):
        writer.writerow(["" if _undefined(cell) else cell for cell in row])
    return buffer.getvalue()


def _undefined(cell: object) -> bool:
    return cell is None or (isinstance(cell, float) and not math.isfinite(cell))


def _rounded(text: str) -> int | float | str:
    """A figure rendered as text (``"43.6"``, ``"39"``) as a number for a spreadsheet."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def _frequency_sheet_rows(table: FrequencyTable) -> list[list[object]]:
    """A frequency table in SPSS's layout, with numbers as numbers."""
    rows: list[list[object]] = [
        [table.item + (f"  {table.label}" if table.label else "")],
        ["", "Value", "Frequency", "Percent", "Valid percent", "Cumulative percent"],
    ]
    for record in table.to_frame().to_dict("records"):
        rows.append(
            [
                record[""],
                record["Value"],
                record["Frequency"],
                _rounded(str(record["Percent"])),
                _rounded(str(record["Valid percent"])),
                _rounded(str(record["Cumulative percent"])),
            ]
        )
    return rows


def write_analysis_workbook(
    out: Path,
    summary: Table4,
    tables: Sequence[FrequencyTable],
    table3: pd.DataFrame | None,
    instrument: Instrument,
) -> None:
    """Write the analysis as an Excel workbook.

    Sheets: "Table 4" (as the report prints it, plus n and the 2017 mean), "Table 3" when
    ``table3`` is given, then one sheet per item named by its id, in SPSS's layout.

    Parameters
    ----------
    out : pathlib.Path
        The .xlsx file to write.
    summary : Table4
    tables : sequence of FrequencyTable
    table3 : pandas.DataFrame or None
    instrument : Instrument
        For the title row.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Table 4"
    sheet.append([f"{instrument.title} ({instrument.id}), n = {summary.n_responses}"])
    sheet["A1"].font = Font(bold=True)
    frame = summary.to_frame()
    sheet.append(list(frame.columns))
    for record in frame.itertuples(index=False):
        sheet.append([_rounded(str(cell)) if i >= 2 else cell for i, cell in enumerate(record)])
    if table3 is not None:
        counts = workbook.create_sheet("Table 3")
        shown = table3.drop(columns=["care_model"])
        counts.append(list(shown.columns))
        for record in shown.itertuples(index=False):
            counts.append(list(record))
    for table in tables:
        item_sheet = workbook.create_sheet(table.item[:31])
        for row in _frequency_sheet_rows(table):
            item_sheet.append(row)
        item_sheet["A1"].font = Font(bold=True)
    try:
        workbook.save(out)
    except OSError as exc:
        raise CommandError(f"{out}: cannot write ({exc.strerror or exc})") from None


# -- reliability --------------------------------------------------------------------------


def _answer_range(scale_min: float | None, scale_max: float | None) -> AnswerRange:
    if scale_min is not None and scale_max is not None and scale_min >= scale_max:
        raise CommandError(f"--scale-min ({scale_min:g}) must be below --scale-max ({scale_max:g})")
    return AnswerRange(scale_min, scale_max)


def run_reliability(args: argparse.Namespace) -> int:
    """``trust-survey reliability``: Cronbach's alpha of chosen columns."""
    items: list[str] = args.items
    reverse: list[str] = args.reverse
    not_chosen = [item for item in reverse if item not in items]
    if not_chosen:
        raise CommandError(f"--reverse {', '.join(not_chosen)}: not among --items")
    if reverse and (args.scale_min is None or args.scale_max is None):
        raise CommandError("--reverse needs --scale-min and --scale-max to reverse-key answers")
    answers = load_item_columns(
        args.responses, items, _answer_range(args.scale_min, args.scale_max)
    )
    for item in reverse:
        answers[item] = reverse_key(answers[item], args.scale_min, args.scale_max)
    missing: MissingPolicy = args.missing
    result = cronbach_alpha(answers, missing=missing)
    if args.format == "json":
        _emit_text(_to_json(reliability_document(result)), None)
    else:
        _emit_text(reliability_text(result, reverse), None)
    return 0


def reliability_document(result: ReliabilityResult) -> dict[str, object]:
    """The JSON of ``reliability``: exactly ``alpha``, ``ci``, ``standardized_alpha``, ``n``,
    ``k`` and ``items``.

    Parameters
    ----------
    result : ReliabilityResult

    Returns
    -------
    dict
    """
    full = result.to_dict()
    return {key: full[key] for key in ("alpha", "ci", "standardized_alpha", "n", "k", "items")}


def _figure(value: float | None, decimals: int = 3) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{decimals}f}"


def reliability_text(result: ReliabilityResult, reversed_items: Sequence[str] = ()) -> str:
    """A plain-text reliability report.

    Parameters
    ----------
    result : ReliabilityResult
    reversed_items : sequence of str
        Items that were reverse-keyed (marked with ``(R)``).

    Returns
    -------
    str
    """
    low, high = result.ci
    lines = [
        f"Cronbach's alpha     {_figure(result.alpha)}   "
        f"{result.confidence:.0%} CI [{_figure(low)}, {_figure(high)}] (Feldt)",
        f"Standardized alpha   {_figure(result.standardized_alpha)}",
        f"Respondents (n)      {result.n}   ({result.missing} handling of missing answers)",
        f"Items (k)            {result.k}",
        "",
    ]
    names = [item.item + (" (R)" if item.item in reversed_items else "") for item in result.items]
    width = max(len("Item"), *(len(name) for name in names))
    lines.append(
        f"{'Item':<{width}}  {'n':>5}  {'Mean':>6}  {'SD':>6}  "
        f"{'Corrected item-total r':>22}  {'Alpha if deleted':>16}"
    )
    for name, item in zip(names, result.items, strict=True):
        lines.append(
            f"{name:<{width}}  {item.n:>5}  {_figure(item.mean, 2):>6}  {_figure(item.sd, 2):>6}  "
            f"{_figure(item.corrected_item_total_r):>22}  {_figure(item.alpha_if_deleted):>16}"
        )
    if reversed_items:
        lines += ["", "(R) reverse-keyed before the analysis."]
    return "\n".join(lines)


# -- frequencies --------------------------------------------------------------------------


def run_frequencies(args: argparse.Namespace) -> int:
    """``trust-survey frequencies``: SPSS-style frequency tables of chosen columns."""
    items: list[str] = args.items
    instrument = load_instrument(args.instrument) if args.instrument else None
    fallback = _answer_range(args.scale_min, args.scale_max)
    ranges = {item: fallback for item in items}
    if instrument is not None:
        ranges.update(instrument_answer_ranges(instrument, items))
    answers = load_item_columns(args.responses, items, ranges)
    tables = [
        _frequency_table(answers[item], item, instrument, fallback, args.include_empty)
        for item in items
    ]
    if args.format == "json":
        _emit_text(_to_json([table.to_dict() for table in tables]), None)
    else:
        _emit_text("\n\n".join(table.to_text() for table in tables), None)
    return 0


def _frequency_table(
    values: pd.Series,
    item: str,
    instrument: Instrument | None,
    fallback: AnswerRange,
    include_empty: bool,
) -> FrequencyTable:
    """One column's table, labelled from the instrument when it has the item."""
    if instrument is not None and item in instrument.item_ids:
        labels: dict[int, str] = dict(instrument.response_scale_of(item).labels)
        text: str | None = instrument.item(item).text
    else:
        labels = {}
        text = None
        if include_empty and fallback.minimum is not None and fallback.maximum is not None:
            low, high = fallback.minimum, fallback.maximum
            if low.is_integer() and high.is_integer():
                labels = dict.fromkeys(range(int(low), int(high) + 1), "")
    return frequency_table(
        values, labels=labels or None, include_empty=include_empty, item=item, label=text
    )


# -- demo data ----------------------------------------------------------------------------


def run_demo_data(args: argparse.Namespace) -> int:
    """``trust-survey demo-data``: the 39 demo responses as CSV."""
    _emit_text(demo_csv_text(args.seed), args.out)
    if args.out is not None:
        print(f"wrote 39 demo responses to {args.out}", file=sys.stderr)
    return 0


__all__ = [
    "LONG_COLUMNS",
    "analysis_document",
    "analysis_long_csv",
    "analysis_text",
    "register",
    "reliability_document",
    "reliability_text",
    "write_analysis_workbook",
]
