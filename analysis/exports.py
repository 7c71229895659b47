"""Files for analysts: CSV, XLSX (one sheet per table) and SPSS ``.sav`` with labels.

Every text cell written to CSV or XLSX is neutralised against spreadsheet
formula injection (OWASP's "CSV injection"): a value that begins with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return is prefixed with a single
quote, so a spreadsheet shows it as text instead of running it. Numbers are
left as numbers.
"""

from __future__ import annotations

import re
import tempfile
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.instrument import Instrument
from analysis.scoring import item_columns
from analysis.summary import respondent_direction_note, respondent_score_columns, respondent_scores

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
    """An XLSX workbook with one sheet per table, every text cell neutralised, written by
    :mod:`analysis.xlsx` (numbers with the fewest decimals that show them, widths, a frozen
    header)."""
    from analysis.xlsx import frame_sheet, xlsx_workbook

    if not sheets:
        raise ValueError("a workbook needs at least one table")
    return xlsx_workbook([frame_sheet(title, frame) for title, frame in sheets.items()])


def spss_variable_name(name: str) -> str:
    """A valid SPSS variable name: letters, digits and ``_``, starting with a letter."""
    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not cleaned or not cleaned[0].isalpha():
        cleaned = "v_" + cleaned
    return cleaned[:64]


SAV_RESPONDENT = "respondent"
"""The respondent-number column of the row-level files (1..n, in no time order)."""


def missing_code(largest: int) -> int:
    """The code for "no answer" beside codes up to ``largest``: 9, 99, 999, ..."""
    code = 9
    while code <= largest:
        code = code * 10 + 9
    return code


@dataclass
class _SavVariables:
    columns: dict[str, pd.Series] = field(default_factory=dict)
    labels: dict[str, str | None] = field(default_factory=dict)
    value_labels: dict[str, dict[float | int, str]] = field(default_factory=dict)
    formats: dict[str, str] = field(default_factory=dict)
    measures: dict[str, str] = field(default_factory=dict)
    missing: dict[str, list[Any]] = field(default_factory=dict)  # pyreadstat's missing_ranges
    widths: dict[str, int] = field(default_factory=dict)

    def coded(
        self,
        name: str,
        label: str,
        values: pd.Series,
        value_labels: dict[int, str],
        measure: str,
        missing_label: str,
    ) -> None:
        """A variable of whole-number codes; a missing answer is the declared missing code."""
        code = missing_code(max([0, *value_labels]))
        self.columns[name] = values.astype(float).fillna(float(code))
        self.labels[name] = label
        self.value_labels[name] = {
            **{float(v): text for v, text in value_labels.items()},
            float(code): missing_label,
        }
        self.formats[name] = f"F{len(str(code))}.0"
        self.measures[name] = measure
        self.missing[name] = [float(code)]
        self.widths[name] = max(len(str(code)) + 2, 6)


def sav_bytes(
    responses: pd.DataFrame,
    instrument: Instrument,
    scores: pd.DataFrame | None = None,
) -> bytes:
    """An SPSS ``.sav`` file of item answers (and scale scores), fully labelled.

    * ``respondent`` (when ``responses`` has it): the respondent number, ``F{w}.0``, nominal;
    * background choice questions coded 1..k in option order, the option labels as value
      labels, ``F1.0`` (wider only for 9 or more options), nominal; free-text background as
      strings (nominal);
    * items: the answer codes with the response scale's labels, ``F1.0`` for a 1-5 scale,
      ordinal when the response scale is (a Likert scale), nominal otherwise;
    * a missing answer is written as the declared user-missing code 9 (99 beside codes of 9 or
      more) labelled "No answer" ("Not stated or withheld" for background questions), so SPSS
      leaves it out as it did a blank, and says so;
    * scale scores, when given: ``score_<scale>``, favourable-keyed (higher is better, as every
      score of the report), labelled with the scale's name, ``F5.2``, scale measure; where
      Table 4 prints a scale the other way, ``score_<scale>_as_printed`` beside it in that
      direction (:func:`analysis.summary.respondent_scores`); a score that could not be
      computed is system-missing; the file's note states the direction rule.

    Parameters
    ----------
    responses : pandas.DataFrame
        Item ids and background ids as columns (and ``respondent``).
    instrument : Instrument
        Wording and labels.
    scores : pandas.DataFrame, optional
        Composite scores indexed like ``responses``, in each scale's scored direction (as
        :func:`analysis.scoring.scale_scores` gives them); the file restates them.
    """
    import pyreadstat

    variables = _SavVariables()
    if SAV_RESPONDENT in responses.columns:
        numbers = responses[SAV_RESPONDENT].astype(float)
        digits = len(str(int(numbers.max()))) if len(numbers) else 1
        variables.columns[SAV_RESPONDENT] = numbers
        variables.labels[SAV_RESPONDENT] = "Respondent number (1 to n, in no time order)"
        variables.formats[SAV_RESPONDENT] = f"F{max(digits, 1)}.0"
        variables.measures[SAV_RESPONDENT] = "nominal"
    for question in instrument.background:
        if question.id not in responses.columns:
            continue
        name = spss_variable_name(question.id)
        if question.kind == "choice":
            codes = {option.value: i for i, option in enumerate(question.options, start=1)}
            coded = responses[question.id].map(codes)
            unknown = responses[question.id].notna() & coded.isna()
            if unknown.any():
                bad = responses.loc[unknown, question.id].iloc[0]
                raise ValueError(f"{question.id}: {bad!r} is not one of its options")
            variables.coded(
                name,
                question.text,
                coded,
                {i: option.label for i, option in enumerate(question.options, start=1)},
                "nominal",
                "Not stated or withheld",
            )
        else:
            variables.columns[name] = (
                responses[question.id].astype(object).where(responses[question.id].notna(), "")
            )
            variables.labels[name] = question.text
            variables.measures[name] = "nominal"
    for item_id in item_columns(responses, instrument):
        item = instrument.item(item_id)
        response_scale = instrument.response_scale_of(item.id)
        labels = {int(v): label for v, label in response_scale.labels.items()}
        variables.coded(
            spss_variable_name(item_id),
            item.text[:256],
            responses[item_id],
            labels,
            "ordinal" if _is_ordinal(labels) else "nominal",
            "No answer",
        )
    notes: list[str] = []
    if scores is not None:
        shown = respondent_scores(scores, instrument)
        for column in respondent_score_columns(instrument, list(scores.columns)):
            name = spss_variable_name(f"score_{column.key}")
            variables.columns[name] = shown[column.key].astype(float)
            variables.labels[name] = (
                f"{column.label}, lower is better"
                if column.as_printed
                else f"{column.label} (scale score, higher is better)"
            )
            variables.formats[name] = "F5.2"
            variables.measures[name] = "scale"
        notes += textwrap.wrap(respondent_direction_note(instrument), 80)  # SPSS's lines
    frame = pd.DataFrame(variables.columns)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "responses.sav"
        pyreadstat.write_sav(
            frame,
            str(path),
            column_labels=variables.labels,
            variable_value_labels=variables.value_labels,
            missing_ranges=variables.missing,
            variable_format=variables.formats,
            variable_measure=variables.measures,
            variable_display_width=variables.widths,
            note=notes or None,
        )
        return path.read_bytes()


def _is_ordinal(labels: Mapping[int, str]) -> bool:
    """A response scale of consecutive whole codes (1..5 from disagree to agree) is ordinal."""
    codes = sorted(labels)
    return len(codes) >= 3 and codes == list(range(codes[0], codes[0] + len(codes)))
