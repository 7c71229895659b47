"""SPSS-style frequency tables, as in the report's Tables 5 and 6.

For each observed value (or each labelled value, with ``include_empty``):

.. math::

    \\text{Percent} = 100\\,\\frac{f}{N},\\quad
    \\text{Valid percent} = 100\\,\\frac{f}{N_{\\text{valid}}},\\quad
    \\text{Cumulative percent} = \\sum_{v' \\le v} \\text{Valid percent}_{v'}

where :math:`N` counts every case and :math:`N_{\\text{valid}}` the answered
ones. Missing answers form the "Missing System" row. An item nobody answered
is printed as SPSS prints it: only the "Missing System" row (no "Valid" rows,
no "Valid Total 0" and no grand total). Percentages are kept
unrounded; the text rendering rounds half away from zero to one decimal, as
SPSS displays them (cumulative percentages are summed before rounding).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from analysis.descriptives import numeric_array
from analysis.instrument import Instrument


def spss_round(value: float, decimals: int = 1) -> str:
    """Format ``value`` rounded half away from zero, as SPSS displays it."""
    quantum = Decimal(1).scaleb(-decimals)
    return str(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP))


def _value_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


PLAIN_GROUPS = {"Valid": "Answered", "Missing": "No answer", "Total": "Total"}
"""SPSS's row groups in the words the report uses."""
PLAIN_SYSTEM_MISSING = "Left blank"
"""SPSS's "System" (system-missing) answer, as the report says it."""
PLAIN_HEADERS = {
    "group": "Cases",
    "answer": "Answer",
    "frequency": "Number",
    "percent": "Percent",
    "valid_percent": "Percent of answers",
    "cumulative_percent": "Cumulative percent of answers",
}
"""The report's column headings for :meth:`FrequencyTable.plain_records` (SPSS's Frequency,
Percent, Valid percent and Cumulative percent)."""


@dataclass(frozen=True)
class FrequencyRow:
    """One value's line: its count and its three percentages (unrounded)."""

    value: float
    label: str
    frequency: int
    percent: float
    valid_percent: float
    cumulative_percent: float


@dataclass(frozen=True)
class FrequencyTable:
    """The frequency table of one item."""

    item: str
    label: str | None
    rows: tuple[FrequencyRow, ...]
    missing: int
    total: int

    @property
    def valid(self) -> int:
        return self.total - self.missing

    def to_dict(self) -> dict[str, object]:
        """JSON-ready mapping: ``item``, ``label``, ``rows``, ``missing``, ``total``."""
        return {
            "item": self.item,
            "label": self.label,
            "rows": [
                {**asdict(row), "value": int(row.value) if row.value.is_integer() else row.value}
                for row in self.rows
            ],
            "valid": self.valid,
            "missing": self.missing,
            "total": self.total,
        }

    def to_frame(self) -> pd.DataFrame:
        """The table in SPSS's layout, percentages rounded to one decimal."""
        records: list[dict[str, object]] = []
        if not self.valid:
            return pd.DataFrame.from_records(
                [
                    {
                        "": "Missing",
                        "Value": "System",
                        "Frequency": self.missing,
                        "Percent": "100.0",
                        "Valid percent": "",
                        "Cumulative percent": "",
                    }
                ]
            )
        for row in self.rows:
            records.append(
                {
                    "": "Valid",
                    "Value": f"{_value_text(row.value)} {row.label}".strip(),
                    "Frequency": row.frequency,
                    "Percent": spss_round(row.percent),
                    "Valid percent": spss_round(row.valid_percent),
                    "Cumulative percent": spss_round(row.cumulative_percent),
                }
            )
        records.append(
            {
                "": "Valid",
                "Value": "Total",
                "Frequency": self.valid,
                "Percent": spss_round(100 * self.valid / self.total),
                "Valid percent": "100.0",
                "Cumulative percent": "",
            }
        )
        if self.missing:
            records.append(
                {
                    "": "Missing",
                    "Value": "System",
                    "Frequency": self.missing,
                    "Percent": spss_round(100 * self.missing / self.total),
                    "Valid percent": "",
                    "Cumulative percent": "",
                }
            )
            records.append(
                {
                    "": "Total",
                    "Value": "",
                    "Frequency": self.total,
                    "Percent": "100.0",
                    "Valid percent": "",
                    "Cumulative percent": "",
                }
            )
        return pd.DataFrame.from_records(records)

    def plain_records(self) -> list[dict[str, object]]:
        """The rows of :meth:`to_frame` in plain words, for the report: "Answered" for SPSS's
        "Valid", "No answer" / "Left blank" for its "Missing System", the same rows, order
        and figures (keys: ``group``, ``answer``, ``frequency``, ``percent``,
        ``valid_percent``, ``cumulative_percent``; headed as :data:`PLAIN_HEADERS`)."""
        records = []
        for record in self.to_frame().to_dict("records"):
            answer = str(record["Value"])
            group = PLAIN_GROUPS.get(str(record[""]), str(record[""]))
            records.append(
                {
                    "group": group,
                    "answer": PLAIN_SYSTEM_MISSING if answer == "System" else answer,
                    "frequency": record["Frequency"],
                    "percent": record["Percent"],
                    "valid_percent": record["Valid percent"],
                    "cumulative_percent": record["Cumulative percent"],
                }
            )
        return records

    def to_text(self) -> str:
        """Plain-text rendering laid out like SPSS output and the report's tables."""
        frame = self.to_frame()
        heading = self.item + (f"  {self.label}" if self.label else "")
        columns = ["Frequency", "Percent", "Valid percent", "Cumulative percent"]
        value_width = max(len("Value"), *(len(str(v)) for v in frame["Value"]))
        lines = [heading, f"{'':<9}{'':<{value_width}}  " + "  ".join(columns)]
        previous_group = None
        for record in frame.to_dict("records"):
            group = str(record[""])
            shown_group = group if group != previous_group else ""
            previous_group = group
            cells = "  ".join(f"{record[c]!s:>{len(c)}}" for c in columns)
            lines.append(f"{shown_group:<9}{record['Value']!s:<{value_width}}  {cells}".rstrip())
        return "\n".join(lines)


def frequency_table(
    values: pd.Series,
    *,
    labels: Mapping[int, str] | None = None,
    include_empty: bool = False,
    item: str | None = None,
    label: str | None = None,
) -> FrequencyTable:
    """Frequency, percent, valid percent and cumulative percent of each value.

    Parameters
    ----------
    values : pandas.Series
        Numeric answers; NaN is a missing answer ("Missing System").
    labels : mapping of int to str, optional
        Value labels (1 "Strongly disagree", ...).
    include_empty : bool
        List labelled values nobody chose, with frequency 0.
    item, label : str, optional
        The item id and its text for the heading; ``item`` defaults to the
        series name.

    Raises
    ------
    ValueError
        Non-numeric values, or an empty series.
    """
    name = item if item is not None else str(values.name or "values")
    numbers = numeric_array(values, name)
    total = int(numbers.size)
    if total == 0:
        raise ValueError(f"{name}: no cases to tabulate")
    valid = numbers[~np.isnan(numbers)]
    distinct, counts = np.unique(valid, return_counts=True)
    observed: dict[float, int] = dict(zip(distinct.tolist(), counts.tolist(), strict=True))
    values_listed = set(observed)
    if include_empty and labels:
        values_listed |= {float(v) for v in labels}
    n_valid = int(valid.size)
    rows: list[FrequencyRow] = []
    cumulative = 0.0
    for value in sorted(values_listed):
        frequency = observed.get(value, 0)
        valid_percent = 100 * frequency / n_valid if n_valid else math.nan
        cumulative += 0.0 if math.isnan(valid_percent) else valid_percent
        value_label = ""
        if labels and value.is_integer():
            value_label = labels.get(int(value), "")
        rows.append(
            FrequencyRow(
                value=value,
                label=value_label,
                frequency=frequency,
                percent=100 * frequency / total,
                valid_percent=valid_percent,
                cumulative_percent=cumulative if n_valid else math.nan,
            )
        )
    return FrequencyTable(
        item=name,
        label=label,
        rows=tuple(rows),
        missing=total - n_valid,
        total=total,
    )


def item_frequency_tables(
    responses: pd.DataFrame, instrument: Instrument, *, include_empty: bool = False
) -> list[FrequencyTable]:
    """The frequency table of every instrument item present in ``responses``.

    Answers are tabulated as given (not reverse-keyed), as the report does.
    """
    tables: list[FrequencyTable] = []
    for item in instrument.items:
        if item.id not in responses.columns:
            continue
        response_scale = instrument.response_scale_of(item.id)
        tables.append(
            frequency_table(
                responses[item.id],
                labels=response_scale.labels,
                include_empty=include_empty,
                item=item.id,
                label=item.text,
            )
        )
    return tables
