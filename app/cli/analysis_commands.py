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
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.demo import demo_csv_text
from analysis.frequencies import FrequencyTable, frequency_table, item_frequency_tables
from analysis.instrument import Instrument, load_instrument
from analysis.reliability import MissingPolicy, ReliabilityResult, cronbach_alpha
from analysis.report_files import (
    analysis_document,
    analysis_long_csv,
    analysis_text,
    analysis_workbook,
    table3_if_present,
)
from analysis.responses import (
    AnswerRange,
    instrument_answer_ranges,
    load_item_columns,
    load_responses,
)
from analysis.scoring import reverse_key
from analysis.summary import table4
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
        _emit_text(analysis_text(summary, tables, table3_if_present(responses, instrument)), out)
    elif output_format == "json":
        _emit_text(_to_json(analysis_document(summary, tables)), out)
    elif output_format == "csv":
        _emit_text(analysis_long_csv(summary, tables), out)
    else:
        if out is None:
            raise CommandError(
                "--format xlsx needs --out PATH (a workbook cannot go to a terminal)"
            )
        workbook = analysis_workbook(summary, tables, table3_if_present(responses, instrument))
        try:
            out.write_bytes(workbook)
        except OSError as exc:
            raise CommandError(f"{out}: cannot write ({exc.strerror or exc})") from None
    return 0


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


__all__ = ["register", "reliability_document", "reliability_text"]
