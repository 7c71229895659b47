"""Handlers of the analysts' sub-commands (see :mod:`app.cli.analysis_commands`).

Imported only when an analysis command runs (it pulls in pandas and scipy).  Handlers parse
options into one :class:`ItemPlan` (the same rules for every command), call
:mod:`analysis`, and render text, JSON or an xlsx workbook.  Text figures are rounded half
up (:func:`analysis.frequencies.spss_round`).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

import pandas as pd

from analysis.agreement import (
    GroupAgreement,
    IntraclassCorrelation,
    intraclass_correlations,
    rwg_j,
)
from analysis.demo import demo_csv_text
from analysis.exports import xlsx_bytes
from analysis.factor import FactorAnalysis, factor_analysis
from analysis.frequencies import FrequencyTable, frequency_table, item_frequency_tables, spss_round
from analysis.instrument import Instrument, load_instrument
from analysis.omega import OmegaResult, omega_total
from analysis.reliability import MissingPolicy, ReliabilityResult, cronbach_alpha, missing_policy
from analysis.report_files import (
    analysis_document,
    analysis_long_csv,
    analysis_sheets,
    analysis_text,
    frequency_sheet,
    table3_if_present,
)
from analysis.responses import AnswerRange, ItemFile, load_items_and_group, load_responses
from analysis.scoring import reverse_key, score_scale
from analysis.summary import printed_as, table4
from app.cli import CommandError

Result = TypeVar("Result")


# -- shared rules -------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemPlan:
    """How the chosen columns are read and keyed: the same rules for every command."""

    instrument: Instrument
    items: tuple[str, ...]
    ranges: dict[str, AnswerRange]
    reversed: tuple[str, ...]
    keying: str
    missing_values: tuple[float, ...]

    def in_instrument(self) -> list[str]:
        return [item for item in self.items if item in self.instrument.item_ids]

    def unchecked(self) -> list[str]:
        """Columns whose answers no range constrains."""
        return [
            item
            for item, answers in self.ranges.items()
            if answers.minimum is None and answers.maximum is None
        ]

    def bounds(self, item: str) -> tuple[float, float] | None:
        answers = self.ranges.get(item)
        if answers is None or answers.minimum is None or answers.maximum is None:
            return None
        return (answers.minimum, answers.maximum)

    def settings(
        self, missing: str | None, declared: Mapping[str, Sequence[str]]
    ) -> dict[str, object]:
        record: dict[str, object] = {
            "instrument": self.instrument.id,
            "instrument_items": self.in_instrument(),
            "unchecked_range": self.unchecked(),
            "keying": self.keying,
            "reverse_keyed": list(self.reversed),
            "missing_values": list(self.missing_values),
            "declared_missing_values": {k: list(v) for k, v in declared.items()},
        }
        if missing is not None:
            record["missing"] = missing
        return record

    def lines(self, missing: str | None, declared: Mapping[str, Sequence[str]]) -> list[str]:
        own = self.in_instrument()
        others = [item for item in self.items if item not in own]
        if own and not others:
            source = f"ranges, labels and keying of every item from {self.instrument.id}"
        elif own:
            source = (
                f"{', '.join(own)} from {self.instrument.id}; {', '.join(others)} not its items"
            )
        else:
            source = f"none of the columns is an item of {self.instrument.id}"
        lines = [f"Instrument:          {self.instrument.id} ({source})"]
        unchecked = self.unchecked()
        if unchecked:
            lines.append(
                f"Answer range:        {', '.join(unchecked)}: any number (give --scale-min and "
                "--scale-max to check it)"
            )
        elif others:
            shown = self.ranges[others[0]].describe()
            lines.append(f"Answer range:        {', '.join(others)}: {shown} (--scale-min/max)")
        if self.keying == "keyed":
            flipped = ", ".join(self.reversed) if self.reversed else "none"
            lines.append(
                f"Keying:              keyed (the default): reverse-keyed {flipped}; "
                "--keying raw for the answers as given"
            )
        else:
            flipped = f"; reverse-keyed {', '.join(self.reversed)}" if self.reversed else ""
            lines.append(f"Keying:              raw (answers as given{flipped})")
        if missing == "listwise":
            lines.append(
                "Missing answers:     listwise (the default): respondents who answered every item"
            )
        elif missing == "pairwise":
            lines.append(
                "Missing answers:     pairwise: each pair of items from the respondents who "
                "answered both"
            )
        codes = _codes_text(self.missing_values)
        if codes:
            lines.append(f"Missing-value codes: {codes}")
        for column, values in declared.items():
            lines.append(f"Declared missing:    {column}: {', '.join(values)} (.sav)")
        return lines


def _codes_text(codes: Sequence[float]) -> str:
    return ", ".join(str(int(c)) if float(c).is_integer() else f"{c:g}" for c in codes)


def _plan(args: argparse.Namespace, items: Sequence[str], *, keying: bool = True) -> ItemPlan:
    """The ranges and keying of ``items`` under the options (every command's rules)."""
    instrument = load_instrument(args.instrument)
    scale_min: float | None = getattr(args, "scale_min", None)
    scale_max: float | None = getattr(args, "scale_max", None)
    if scale_min is not None and scale_max is not None and scale_min >= scale_max:
        raise CommandError(f"--scale-min ({scale_min:g}) must be below --scale-max ({scale_max:g})")
    fallback = AnswerRange(scale_min, scale_max)
    ranges: dict[str, AnswerRange] = {}
    known = set(instrument.item_ids)
    for item in items:
        if item in known:
            scale = instrument.response_scale_of(item)
            ranges[item] = AnswerRange(float(scale.min), float(scale.max), whole=True)
        else:
            ranges[item] = fallback
    reverse: list[str] = list(getattr(args, "reverse", []) or [])
    mode: str = getattr(args, "keying", "raw") if keying else "raw"
    not_chosen = [item for item in reverse if item not in items]
    if not_chosen:
        raise CommandError(f"--reverse {', '.join(not_chosen)}: not among the chosen items")
    flipped: list[str] = []
    for item in items:
        by_instrument = mode == "keyed" and item in known and instrument.item(item).reverse_keyed
        if by_instrument and item in reverse:
            raise CommandError(
                f"--reverse {item}: instrument {instrument.id} already reverse-keys it "
                "(use --keying raw to key by hand)"
            )
        if by_instrument or item in reverse:
            if item not in known and (scale_min is None or scale_max is None):
                raise CommandError(
                    f"--reverse {item} needs --scale-min and --scale-max ({item} is not an "
                    f"item of instrument {instrument.id})"
                )
            flipped.append(item)
    return ItemPlan(
        instrument=instrument,
        items=tuple(items),
        ranges=ranges,
        reversed=tuple(flipped),
        keying=mode,
        missing_values=tuple(getattr(args, "missing_values", []) or []),
    )


def _load(args: argparse.Namespace, plan: ItemPlan, group: str | None = None) -> ItemFile:
    loaded = load_items_and_group(
        args.responses, list(plan.items), plan.ranges, plan.missing_values, group
    )
    for item in plan.reversed:
        bounds = plan.bounds(item)
        if bounds is None:  # _plan refuses this; kept as a guard
            raise CommandError(f"--reverse {item} needs --scale-min and --scale-max")
        loaded.answers[item] = reverse_key(loaded.answers[item], *bounds)
    return loaded


def _quietly(compute: Callable[[], Result]) -> Result:
    """Run a computation with numpy's warnings turned into errors (never on stderr)."""
    import numpy as np

    with warnings.catch_warnings(), np.errstate(divide="raise", invalid="raise", over="raise"):
        warnings.simplefilter("error", RuntimeWarning)
        try:
            return compute()
        except FloatingPointError as exc:
            raise CommandError(f"the figures cannot be computed ({exc})") from None


# -- output -------------------------------------------------------------------------------


def _emit_text(text: str, out: Path | None) -> None:
    """Write text to ``out`` (UTF-8) or standard output."""
    body = text if text.endswith("\n") else text + "\n"
    if out is None:
        sys.stdout.write(body)
        return
    try:
        out.write_text(body, encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"{out}: cannot write ({exc.strerror or exc})") from None


def _emit_workbook(sheets: Mapping[str, pd.DataFrame], out: Path | None) -> None:
    if out is None:
        raise CommandError("--format xlsx needs --out PATH (a workbook cannot go to a terminal)")
    try:
        out.write_bytes(xlsx_bytes(sheets))
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


def _figure(value: float | None, decimals: int = 3) -> str:
    """A figure rounded half up (0.8125 -> 0.813), ``-`` when undefined."""
    if value is None or not math.isfinite(value):
        return "-"
    return spss_round(float(value), decimals)


def _settings_frame(settings: Mapping[str, object]) -> pd.DataFrame:
    rows = []
    for key, value in settings.items():
        if isinstance(value, list | tuple):
            shown: object = ", ".join(str(v) for v in value)
        elif isinstance(value, dict):
            shown = "; ".join(f"{k}: {', '.join(str(x) for x in v)}" for k, v in value.items())
        else:
            shown = value
        rows.append({"Setting": key, "Value": shown})
    return pd.DataFrame(rows, columns=["Setting", "Value"])


def _warnings_frame(notes: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({"Warning": list(notes) or ["none"]})


def _warning_lines(notes: Sequence[str]) -> list[str]:
    return [f"Warning: {note}" for note in notes]


def _output(
    args: argparse.Namespace,
    text: Callable[[], str],
    document: Callable[[], object],
    sheets: Callable[[], dict[str, pd.DataFrame]],
) -> int:
    output_format: str = args.format
    if output_format == "xlsx":
        _emit_workbook(sheets(), args.out)
    elif output_format == "json":
        _emit_text(_to_json(document()), args.out)
    else:
        _emit_text(text(), args.out)
    return 0


# -- analyse ------------------------------------------------------------------------------


def _alpha_notes(responses: pd.DataFrame, instrument: Instrument, missing: str) -> list[str]:
    """Why a scale of Table 4 shows no alpha, and any warning on one it shows."""
    from analysis.scoring import keyed_items

    keyed = keyed_items(responses, instrument)
    notes: list[str] = []
    policy = missing_policy(missing)
    for scale in instrument.scales:
        if len(scale.items) < 2 or any(i not in keyed.columns for i in scale.items):
            continue
        try:
            result = cronbach_alpha(keyed[list(scale.items)], missing=policy)
        except ValueError as exc:
            notes.append(f"{scale.name}: no alpha: {exc}")
            continue
        notes += [f"{scale.name}: {note}" for note in result.warnings]
    return notes


def run_analyse(args: argparse.Namespace) -> int:
    """``trust-survey analyse``: Table 4 and every item's frequency table."""
    instrument = load_instrument(args.instrument)
    responses = load_responses(args.responses, instrument, tuple(args.missing_values))
    missing = missing_policy(args.missing)
    summary = _quietly(lambda: table4(responses, instrument, missing=missing))
    tables = item_frequency_tables(responses, instrument, include_empty=args.include_empty)
    notes = _alpha_notes(responses, instrument, missing)
    settings: dict[str, object] = {
        "instrument": instrument.id,
        "keying": "keyed: reverse-keyed items flipped; Table 4's figures favourable-keyed "
        "(higher is better), with the report's printed direction under as_printed",
        "missing": missing,
        "missing_values": list(args.missing_values),
    }
    setting_lines = [
        "Keying: keyed; Table 4's figures favourable-keyed (higher is better), with the mean "
        f"{printed_as(instrument)} beside; frequency tables show the answers as given. Missing "
        f"answers: {missing} for alpha"
        + (
            f"; missing-value codes {_codes_text(args.missing_values)}"
            if args.missing_values
            else ""
        ),
    ]
    table3 = table3_if_present(responses, instrument)
    output_format: str = args.format
    out: Path | None = args.out
    if output_format == "text":
        body = analysis_text(summary, tables, table3)
        parts = [*setting_lines, "", body]
        if notes:
            parts += ["", "Notes", *(f"- {note}" for note in notes)]
        _emit_text("\n".join(parts), out)
    elif output_format == "json":
        document = analysis_document(summary, tables)
        document["settings"] = settings
        document["notes"] = notes
        _emit_text(_to_json(document), out)
    elif output_format == "csv":
        long_csv = analysis_long_csv(summary, tables)
        extra = pd.DataFrame(
            [("notes", "", "", "", "", "note", note) for note in notes],
            columns=["table", "id", "name", "value", "value_label", "statistic", "result"],
        )
        _emit_text(long_csv + extra.to_csv(index=False, header=False), out)
    else:
        sheets = analysis_sheets(summary, tables, table3)
        sheets["Settings"] = _settings_frame(settings)
        sheets["Notes"] = _warnings_frame(notes)
        _emit_workbook(sheets, out)
    return 0


# -- reliability --------------------------------------------------------------------------


def run_reliability(args: argparse.Namespace) -> int:
    """``trust-survey reliability``: Cronbach's alpha of chosen columns."""
    plan = _plan(args, args.items)
    loaded = _load(args, plan)
    missing: MissingPolicy = args.missing
    result = _quietly(lambda: cronbach_alpha(loaded.answers, missing=missing))
    settings = plan.settings(missing, loaded.declared)
    return _output(
        args,
        lambda: "\n".join(
            [*plan.lines(missing, loaded.declared), "", reliability_text(result, plan.reversed)]
        ),
        lambda: reliability_document(result, settings),
        lambda: _reliability_sheets(result, settings),
    )


def reliability_document(
    result: ReliabilityResult, settings: Mapping[str, object] | None = None
) -> dict[str, object]:
    """The JSON of ``reliability``: ``alpha``, ``ci``, ``standardized_alpha``, ``n``, ``k``,
    ``items``, ``warnings`` and ``settings``.

    Parameters
    ----------
    result : ReliabilityResult
    settings : mapping, optional
        The keying and missing-answer rules used.

    Returns
    -------
    dict
    """
    full = result.to_dict()
    document = {
        key: full[key]
        for key in ("alpha", "ci", "standardized_alpha", "n", "k", "items", "warnings")
    }
    document["settings"] = dict(settings or {})
    return document


def _feldt_note(result: ReliabilityResult) -> str:
    if result.missing == "pairwise":
        return (
            f"The Feldt CI uses n = {result.n}, the respondents who answered at least one "
            "item (psych's alpha counts every row of its data)."
        )
    return f"The Feldt CI uses n = {result.n}, the respondents who answered every item."


def reliability_text(result: ReliabilityResult, reversed_items: Sequence[str] = ()) -> str:
    """A plain-text reliability report (figures rounded half up).

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
    lines += ["", _feldt_note(result)]
    if reversed_items:
        lines.append("(R) reverse-keyed before the analysis; means are of the keyed answers.")
    lines += _warning_lines(result.warnings)
    return "\n".join(lines)


def _reliability_sheets(
    result: ReliabilityResult, settings: Mapping[str, object]
) -> dict[str, pd.DataFrame]:
    summary = pd.DataFrame(
        [
            ("Cronbach's alpha", result.alpha),
            (f"{result.confidence:.0%} CI low (Feldt)", result.ci[0]),
            (f"{result.confidence:.0%} CI high (Feldt)", result.ci[1]),
            ("Standardized alpha", result.standardized_alpha),
            ("Respondents (n)", result.n),
            ("Items (k)", result.k),
            ("Feldt n", _feldt_note(result)),
        ],
        columns=["Statistic", "Value"],
    )
    items = pd.DataFrame(
        [
            {
                "Item": item.item,
                "n": item.n,
                "Mean": item.mean,
                "SD": item.sd,
                "Corrected item-total r": item.corrected_item_total_r,
                "Alpha if deleted": item.alpha_if_deleted,
            }
            for item in result.items
        ]
    )
    return {
        "Reliability": summary,
        "Items": items,
        "Settings": _settings_frame(settings),
        "Warnings": _warnings_frame(result.warnings),
    }


# -- frequencies --------------------------------------------------------------------------


def run_frequencies(args: argparse.Namespace) -> int:
    """``trust-survey frequencies``: SPSS-style frequency tables of chosen columns."""
    plan = _plan(args, args.items, keying=False)
    loaded = _load(args, plan)
    instrument = plan.instrument
    tables: list[FrequencyTable] = []
    for item in plan.items:
        labels: dict[int, str] = {}
        text: str | None = None
        if item in instrument.item_ids:
            labels = dict(instrument.response_scale_of(item).labels)
            text = instrument.item(item).text
        elif args.include_empty and (bounds := plan.bounds(item)) is not None:
            low, high = bounds
            if low.is_integer() and high.is_integer():
                labels = dict.fromkeys(range(int(low), int(high) + 1), "")
        tables.append(
            frequency_table(
                loaded.answers[item],
                labels=labels or None,
                include_empty=args.include_empty,
                item=item,
                label=text,
            )
        )
    settings = plan.settings(None, loaded.declared)
    heading = [
        *plan.lines(None, loaded.declared)[:1],
        "Answers as given (frequency tables are never reverse-keyed); percentages rounded half up.",
    ]
    codes = plan.lines(None, loaded.declared)[2:]

    def sheets() -> dict[str, pd.DataFrame]:
        result = {"Settings": _settings_frame(settings)}
        result.update({table.item: frequency_sheet(table) for table in tables})
        return result

    return _output(
        args,
        lambda: "\n".join([*heading, *codes, ""]) + "\n" + "\n\n".join(t.to_text() for t in tables),
        lambda: [table.to_dict() for table in tables],
        sheets,
    )


# -- omega --------------------------------------------------------------------------------


def run_omega(args: argparse.Namespace) -> int:
    """``trust-survey omega``: McDonald's omega total with a bootstrap CI."""
    plan = _plan(args, args.items)
    loaded = _load(args, plan)
    missing: MissingPolicy = args.missing
    result = _quietly(
        lambda: omega_total(
            loaded.answers, missing=missing, bootstrap=args.bootstrap, seed=args.seed
        )
    )
    settings = plan.settings(missing, loaded.declared)
    return _output(
        args,
        lambda: "\n".join([*plan.lines(missing, loaded.declared), "", omega_text(result)]),
        lambda: {**result.to_dict(), "settings": settings},
        lambda: _omega_sheets(result, settings),
    )


def omega_text(result: OmegaResult) -> str:
    """Plain-text omega report (figures rounded half up)."""
    if result.ci is not None:
        interval = (
            f"   {result.confidence:.0%} CI [{_figure(result.ci[0])}, {_figure(result.ci[1])}] "
            f"(percentile bootstrap, {result.bootstrap} resamples)"
        )
    else:
        interval = "   (no bootstrap interval)"
    lines = [
        f"McDonald's omega total  {_figure(result.omega_total)}{interval}",
        f"Respondents (n)         {result.n}   ({result.missing} handling of missing answers)",
        f"Items (k)               {result.k}",
        "",
        "One-factor model (minres, correlations):",
    ]
    width = max(len("Item"), *(len(item) for item in result.items))
    lines.append(f"{'Item':<{width}}  {'Loading':>7}  {'Communality':>11}")
    for item, loading in zip(result.items, result.loadings, strict=True):
        lines.append(f"{item:<{width}}  {_figure(loading):>7}  {_figure(loading**2):>11}")
    lines += _warning_lines(result.warnings)
    return "\n".join(lines)


def _omega_sheets(result: OmegaResult, settings: Mapping[str, object]) -> dict[str, pd.DataFrame]:
    summary = pd.DataFrame(
        [
            ("Omega total", result.omega_total),
            (f"{result.confidence:.0%} CI low (bootstrap)", result.ci[0] if result.ci else None),
            (f"{result.confidence:.0%} CI high (bootstrap)", result.ci[1] if result.ci else None),
            ("Bootstrap resamples", result.bootstrap),
            ("Respondents (n)", result.n),
            ("Items (k)", result.k),
        ],
        columns=["Statistic", "Value"],
    )
    loadings = pd.DataFrame(
        {
            "Item": list(result.items),
            "Loading": list(result.loadings),
            "Communality": [v**2 for v in result.loadings],
        }
    )
    return {
        "Omega": summary,
        "Loadings": loadings,
        "Settings": _settings_frame(settings),
        "Warnings": _warnings_frame(result.warnings),
    }


# -- factor -------------------------------------------------------------------------------


def run_factor(args: argparse.Namespace) -> int:
    """``trust-survey factor``: exploratory factor analysis."""
    plan = _plan(args, args.items)
    loaded = _load(args, plan)
    missing: MissingPolicy = args.missing
    result = _quietly(
        lambda: factor_analysis(
            loaded.answers,
            args.factors,
            method=args.method,
            rotation=args.rotation,
            missing=missing,
        )
    )
    settings = plan.settings(missing, loaded.declared)
    return _output(
        args,
        lambda: "\n".join([*plan.lines(missing, loaded.declared), "", factor_text(result)]),
        lambda: {**result.to_dict(), "settings": settings},
        lambda: _factor_sheets(result, settings),
    )


def _factor_names(result: FactorAnalysis) -> list[str]:
    prefix = "MR" if result.method == "minres" else "ML"
    return [f"{prefix}{i + 1}" for i in range(result.n_factors)]


def factor_text(result: FactorAnalysis) -> str:
    """Plain-text factor analysis (figures rounded half up)."""
    names = _factor_names(result)
    rotation = result.rotation if result.n_factors > 1 else "none (one factor)"
    lines = [
        f"Factor analysis: {result.n_factors} factor{'s' if result.n_factors > 1 else ''}, "
        f"{'minimum residual' if result.method == 'minres' else 'maximum likelihood'}, "
        f"rotation {rotation}",
        f"Respondents (n) {result.n}   ({result.missing} handling of missing answers)",
        "",
        "Loadings (pattern matrix)",
    ]
    width = max(len("Cumulative var"), *(len(item) for item in result.items))
    header = f"{'Item':<{width}}  " + "  ".join(f"{n:>6}" for n in names) + "      h2      u2"
    lines.append(header)
    for item, row, h2, u2 in zip(
        result.items, result.loadings, result.communalities, result.uniquenesses, strict=True
    ):
        cells = "  ".join(f"{_figure(v):>6}" for v in row)
        lines.append(f"{item:<{width}}  {cells}  {_figure(h2):>6}  {_figure(u2):>6}")
    lines += ["", f"{'':<{width + 2}}" + "  ".join(f"{n:>6}" for n in names)]
    for label, values in (
        ("SS loadings", result.ss_loadings),
        ("Proportion var", result.proportion),
        ("Cumulative var", result.cumulative),
    ):
        lines.append(f"{label:<{width + 2}}" + "  ".join(f"{_figure(v):>6}" for v in values))
    if result.n_factors > 1 and result.rotation == "oblimin":
        lines += ["", "Factor correlations"]
        for name, row in zip(names, result.phi, strict=True):
            lines.append(f"{name:<{width + 2}}" + "  ".join(f"{_figure(v):>6}" for v in row))
    lines += _warning_lines(result.warnings)
    return "\n".join(lines)


def _factor_sheets(
    result: FactorAnalysis, settings: Mapping[str, object]
) -> dict[str, pd.DataFrame]:
    names = _factor_names(result)
    loadings = pd.DataFrame(list(result.loadings), columns=names)
    loadings.insert(0, "Item", list(result.items))
    loadings["Communality"] = list(result.communalities)
    loadings["Uniqueness"] = list(result.uniquenesses)
    variance = pd.DataFrame(
        {
            "Factor": names,
            "SS loadings": list(result.ss_loadings),
            "Proportion var": list(result.proportion),
            "Cumulative var": list(result.cumulative),
        }
    )
    phi = pd.DataFrame(list(result.phi), columns=names)
    phi.insert(0, "Factor", names)
    return {
        "Loadings": loadings,
        "Variance": variance,
        "Factor correlations": phi,
        "Settings": _settings_frame(settings),
        "Warnings": _warnings_frame(result.warnings),
    }


# -- agreement ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ScaleAgreement:
    scale: str
    name: str
    items: tuple[str, ...]
    options: int
    groups: tuple[GroupAgreement, ...]
    icc: IntraclassCorrelation | None
    icc_error: str | None

    def to_dict(self) -> dict[str, object]:
        return {
            "scale": self.scale,
            "name": self.name,
            "items": list(self.items),
            "options": self.options,
            "rwg_j": [g.to_dict() for g in self.groups],
            "icc": self.icc.to_dict() if self.icc else None,
            "icc_error": self.icc_error,
        }


def _agreement_scales(
    args: argparse.Namespace, instrument: Instrument
) -> list[tuple[str, str, tuple[str, ...], int]]:
    """(scale id, name, items, required answers) of each scale to analyse."""
    if args.items and args.scales:
        raise CommandError("give --scales or --items, not both")
    if args.items:
        items = tuple(args.items)
        return [(args.name, args.name, items, math.ceil(len(items) / 2))]
    chosen = list(args.scales) if args.scales else [scale.id for scale in instrument.scales]
    known = {scale.id for scale in instrument.scales}
    unknown = [scale for scale in chosen if scale not in known]
    if unknown:
        raise CommandError(
            f"--scales {', '.join(unknown)}: not scales of instrument {instrument.id} "
            f"(its scales: {', '.join(scale.id for scale in instrument.scales)})"
        )
    return [
        (s.id, s.name, tuple(s.items), s.required_answers)
        for s in instrument.scales
        if s.id in chosen
    ]


def run_agreement(args: argparse.Namespace) -> int:
    """``trust-survey agreement``: rwg(j) per group and scale, ICC(1) and ICC(2)."""
    instrument = load_instrument(args.instrument)
    scales = _agreement_scales(args, instrument)
    every_item = list(dict.fromkeys(item for _, _, items, _ in scales for item in items))
    plan = _plan(args, every_item)
    loaded = _load(args, plan, group=args.group)
    groups = loaded.groups
    assert groups is not None
    results: list[ScaleAgreement] = []
    for scale_id, name, items, required in scales:
        options: set[int] = set()
        for item in items:
            bounds = plan.bounds(item)
            if bounds is None:
                raise CommandError(
                    f"rwg(j) needs the number of answer options of {item}: give --scale-min "
                    "and --scale-max"
                )
            options.add(round(bounds[1] - bounds[0]) + 1)
        if len(options) > 1:
            raise CommandError(f"scale {scale_id}: its items have different response scales")
        answers = loaded.answers[list(items)]
        agreement = _quietly(partial(rwg_j, answers, groups, options=min(options)))
        scores = score_scale(answers, required)
        icc: IntraclassCorrelation | None = None
        icc_error: str | None = None
        try:
            icc = _quietly(partial(intraclass_correlations, scores, groups))
        except ValueError as exc:
            icc_error = str(exc)
        results.append(
            ScaleAgreement(scale_id, name, items, min(options), tuple(agreement), icc, icc_error)
        )
    settings = plan.settings("listwise per scale for rwg(j)", loaded.declared)
    settings["group"] = args.group
    return _output(
        args,
        lambda: "\n".join([*plan.lines(None, loaded.declared), "", agreement_text(results)]),
        lambda: {
            "group": args.group,
            "scales": [r.to_dict() for r in results],
            "settings": settings,
        },
        lambda: _agreement_sheets(results, settings),
    )


def agreement_text(results: Sequence[ScaleAgreement]) -> str:
    """Plain-text agreement report (figures rounded half up)."""
    lines = [
        "rwg(j): uniform null (A^2 - 1)/12; respondents who left an item of the scale "
        "unanswered are left out of it (as multilevel::rwg.j).",
        "ICC(1), ICC(2): one-way ANOVA of scale scores by group; mean group size N/G.",
    ]
    for result in results:
        lines += ["", f"{result.name} ({', '.join(result.items)}; {result.options} options)"]
        width = max(len("Group"), *(len(g.group) for g in result.groups)) if result.groups else 5
        lines.append(f"  {'Group':<{width}}  {'n':>5}  {'rwg(j)':>7}")
        for group in result.groups:
            mark = "*" if group.truncated else ""
            note = f"  ({group.note})" if group.note and not group.truncated else ""
            lines.append(
                f"  {group.group:<{width}}  {group.n:>5}  {_figure(group.rwg_j) + mark:>7}{note}"
            )
        if any(group.truncated for group in result.groups):
            lines.append("  * mean item variance above the uniform null: truncated to 0")
        if result.icc is not None:
            icc = result.icc
            lines.append(
                f"  ICC(1) {_figure(icc.icc1)}   ICC(2) {_figure(icc.icc2)}   "
                f"F({icc.df_between}, {icc.df_within}) = {_figure(icc.f, 2)}, "
                f"p {_p_text(icc.p_value)}   ({icc.groups} groups, {icc.n} scores)"
            )
            lines += ["  " + w for w in _warning_lines(icc.warnings)]
        else:
            lines.append(f"  ICC: {result.icc_error}")
    return "\n".join(lines)


def _p_text(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"= {_figure(p)}"


def _agreement_sheets(
    results: Sequence[ScaleAgreement], settings: Mapping[str, object]
) -> dict[str, pd.DataFrame]:
    rwg = pd.DataFrame(
        [
            {
                "Scale": r.scale,
                "Group": g.group,
                "n": g.n,
                "Mean item variance": g.mean_variance,
                "rwg(j)": g.rwg_j,
                "Truncated": g.truncated,
                "Note": g.note or "",
            }
            for r in results
            for g in r.groups
        ],
        columns=["Scale", "Group", "n", "Mean item variance", "rwg(j)", "Truncated", "Note"],
    )
    icc = pd.DataFrame(
        [
            {
                "Scale": r.scale,
                "ICC(1)": r.icc.icc1 if r.icc else None,
                "ICC(2)": r.icc.icc2 if r.icc else None,
                "MS between": r.icc.ms_between if r.icc else None,
                "MS within": r.icc.ms_within if r.icc else None,
                "F": r.icc.f if r.icc else None,
                "p": r.icc.p_value if r.icc else None,
                "Groups": r.icc.groups if r.icc else None,
                "n": r.icc.n if r.icc else None,
                "Note": r.icc_error or "; ".join(r.icc.warnings if r.icc else ()),
            }
            for r in results
        ]
    )
    return {"rwg(j)": rwg, "ICC": icc, "Settings": _settings_frame(settings)}


# -- demo data ----------------------------------------------------------------------------


def run_demo_data(args: argparse.Namespace) -> int:
    """``trust-survey demo-data``: the demo responses (one per pilot respondent) as CSV."""
    text = demo_csv_text(args.seed)
    _emit_text(text, args.out)
    if args.out is not None:
        rows = text.count("\n") - 1  # the header is no response
        print(f"wrote {rows} demo responses to {args.out}", file=sys.stderr)
    return 0
