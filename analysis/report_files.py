"""The whole analysis of a round as files: text, a JSON document, a long CSV, workbook sheets.

Used by ``trust-survey analyse`` and by the report downloads, so that every format carries the
same numbers, in the report's one direction rule: every scale's figures favourable-keyed (higher
is better), the report's printed direction of Table 4 beside them, named (``as_printed``).
Pure: pandas in, text, mappings and DataFrames out (the workbook bytes come from
:func:`analysis.exports.xlsx_bytes`, which neutralises formula injection).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence

import pandas as pd

from analysis.exports import xlsx_bytes
from analysis.frequencies import FrequencyTable
from analysis.instrument import Instrument
from analysis.report_tables import scored_table4_table
from analysis.summary import Table4, partnership_kind_counts


def table3_if_present(responses: pd.DataFrame, instrument: Instrument) -> pd.DataFrame | None:
    """Table 3 (responses by kind of partnership) as shown, when the file has kinds.

    The first column is headed with the name of the instrument's ``partnership_attribute``
    question ("Care model" in the 2017 survey), then "Responses" and "Partnerships".
    """
    attribute = instrument.partnership_attribute
    if attribute is None or attribute not in responses.columns:
        return None
    if responses[attribute].isna().all():
        return None
    name = instrument.background_question(attribute).name
    return (
        partnership_kind_counts(responses, instrument)
        .drop(columns=["kind"])
        .rename(
            columns={
                "label": name[:1].upper() + name[1:],
                "responses": "Responses",
                "partnerships": "Partnerships",
            }
        )
    )


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
        From :func:`table3_if_present`.

    Returns
    -------
    str
    """
    parts = [f"Instrument: {summary.instrument_id}  (n = {summary.n_responses})", ""]
    parts += ["Table 4: scales", summary.to_text(), ""]
    if table3 is not None:
        heading = f"Table 3: responses by {str(table3.columns[0]).lower()}"
        parts += [heading, table3.to_string(index=False), ""]
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
        favourable = scale.favourable_figures
        printed = scale.as_printed
        figures: dict[str, object] = {
            "items": " ".join(scale.items),
            "alpha": scale.alpha,
            "alpha_ci_low": scale.alpha_ci[0] if scale.alpha_ci else None,
            "alpha_ci_high": scale.alpha_ci[1] if scale.alpha_ci else None,
            "n": scale.n,
            "n_missing": scale.n_missing,
            "mean": favourable.mean if favourable else None,
            "mean_ci_low": scale.score_ci[0] if scale.score_ci else None,
            "mean_ci_high": scale.score_ci[1] if scale.score_ci else None,
            "median": favourable.median if favourable else None,
            "mode": favourable.mode if favourable else None,
            "multiple_modes": favourable.multiple_modes if favourable else None,
            "sd": favourable.sd if favourable else None,
            "band": scale.band,
            "benchmark_mean": scale.benchmark.score if scale.benchmark else None,
            "as_printed_lower_is_better": scale.lower_is_better_as_printed,
            "as_printed_mean": printed.mean if printed else None,
            "as_printed_median": printed.median if printed else None,
            "as_printed_mode": printed.mode if printed else None,
            "as_printed_benchmark_mean": printed.benchmark_mean if printed else None,
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


def frequency_sheet(table: FrequencyTable) -> pd.DataFrame:
    """A frequency table in SPSS's layout, with figures as numbers for a spreadsheet."""
    frame = table.to_frame()
    for column in ("Percent", "Valid percent", "Cumulative percent"):
        frame[column] = [_rounded(str(cell)) for cell in frame[column]]
    return frame


def analysis_sheets(
    summary: Table4, tables: Sequence[FrequencyTable], table3: pd.DataFrame | None
) -> dict[str, pd.DataFrame]:
    """The workbook's tables: "Table 4", "Table 3" (when given), then one per item."""
    model = scored_table4_table(summary)
    table4_frame = summary.to_frame()
    for column in model.columns:
        if column.kind == "number":
            table4_frame[column.header] = [
                _rounded(str(cell)) for cell in table4_frame[column.header]
            ]
    sheets: dict[str, pd.DataFrame] = {"Table 4": table4_frame}
    if table3 is not None:
        sheets["Table 3"] = table3
    for table in tables:
        sheets[table.item] = frequency_sheet(table)
    return sheets


def analysis_workbook(
    summary: Table4, tables: Sequence[FrequencyTable], table3: pd.DataFrame | None
) -> bytes:
    """The analysis as an XLSX workbook, one sheet per table (:func:`analysis_sheets`)."""
    return xlsx_bytes(analysis_sheets(summary, tables, table3))
