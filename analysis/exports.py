"""Files for analysts: CSV, XLSX (one sheet per table) and SPSS ``.sav`` with labels.

Every text cell written to CSV or XLSX is neutralised against spreadsheet
formula injection (OWASP's "CSV injection"): a value that begins with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return is prefixed with a single
quote, so a spreadsheet shows it as text instead of running it. Numbers are
left as numbers.
"""

from __future__ import annotations

import io
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from analysis.instrument import Instrument
from analysis.scoring import item_columns

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]\*\?/\\:]")


def neutralise_cell(value: object) -> object:
    """Prefix a text value that a spreadsheet would read as a formula with ``'``."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell and column name neutralised."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(neutralise_cell).astype(object)
    safe.columns = pd.Index([neutralise_cell(str(c)) for c in safe.columns])
    return safe


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV (with a byte-order mark, so Excel reads the accents), neutralised."""
    return neutralise_frame(frame).to_csv(index=False).encode("utf-8-sig")


def sheet_name(title: str, taken: set[str]) -> str:
    """An Excel-safe, unique sheet name of at most 31 characters."""
    base = _SHEET_NAME_FORBIDDEN.sub("-", title).strip("'") or "Sheet"
    name = base[:31]
    counter = 2
    while name.lower() in taken:
        suffix = f" ({counter})"
        name = base[: 31 - len(suffix)] + suffix
        counter += 1
    taken.add(name.lower())
    return name


def xlsx_bytes(sheets: Mapping[str, pd.DataFrame]) -> bytes:
    """An XLSX workbook with one sheet per table, every text cell neutralised."""
    if not sheets:
        raise ValueError("a workbook needs at least one table")
    buffer = io.BytesIO()
    taken: set[str] = set()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for title, frame in sheets.items():
            neutralise_frame(frame).to_excel(
                writer, sheet_name=sheet_name(title, taken), index=False
            )
    return buffer.getvalue()


def spss_variable_name(name: str) -> str:
    """A valid SPSS variable name: letters, digits and ``_``, starting with a letter."""
    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not cleaned or not cleaned[0].isalpha():
        cleaned = "v_" + cleaned
    return cleaned[:64]


def sav_bytes(
    responses: pd.DataFrame,
    instrument: Instrument,
    scores: pd.DataFrame | None = None,
) -> bytes:
    """An SPSS ``.sav`` file of item answers (and scale scores), fully labelled.

    Item variables carry the item wording as their variable label and the
    response scale's labels as value labels. Background choice questions are
    coded 1..k in option order with the option labels as value labels. Scale
    scores, when given, are labelled with the scale names.

    Parameters
    ----------
    responses : pandas.DataFrame
        Item ids and background ids as columns.
    instrument : Instrument
        Wording and labels.
    scores : pandas.DataFrame, optional
        Composite scores indexed like ``responses``.
    """
    import pyreadstat

    columns: dict[str, pd.Series] = {}
    variable_labels: dict[str, str | None] = {}
    value_labels: dict[str, dict[float | int, str]] = {}
    for question in instrument.background:
        if question.id not in responses.columns:
            continue
        name = spss_variable_name(question.id)
        variable_labels[name] = question.text
        if question.kind == "choice":
            codes = {option.value: i for i, option in enumerate(question.options, start=1)}
            coded = responses[question.id].map(codes)
            unknown = responses[question.id].notna() & coded.isna()
            if unknown.any():
                bad = responses.loc[unknown, question.id].iloc[0]
                raise ValueError(f"{question.id}: {bad!r} is not one of its options")
            columns[name] = coded.astype(float)
            value_labels[name] = {
                float(i): option.label for i, option in enumerate(question.options, start=1)
            }
        else:
            columns[name] = (
                responses[question.id].astype(object).where(responses[question.id].notna(), "")
            )
    for item_id in item_columns(responses, instrument):
        name = spss_variable_name(item_id)
        item = instrument.item(item_id)
        variable_labels[name] = item.text[:256]
        columns[name] = responses[item_id].astype(float)
        value_labels[name] = {
            float(v): label for v, label in instrument.response_scale_of(item.id).labels.items()
        }
    if scores is not None:
        for scale in instrument.scales:
            if scale.id in scores.columns:
                name = spss_variable_name(f"score_{scale.id}")
                variable_labels[name] = f"{scale.name} (scale score)"
                columns[name] = scores[scale.id].astype(float)
    frame = pd.DataFrame(columns)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "responses.sav"
        pyreadstat.write_sav(
            frame,
            str(path),
            column_labels=variable_labels,
            variable_value_labels=value_labels,
        )
        return path.read_bytes()
