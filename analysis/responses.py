"""Reading a responses CSV for analysis, with one-line errors an analyst can act on.

A responses file has one row per respondent and one column per item id (``q10``,
``q11``, ...), optionally a ``respondent`` column and the instrument's background columns
(``partnership_name``, ``care_model``, ...).  Empty cells (and ``NA``) are missing
answers.  Everything that can go wrong is raised as :class:`ResponsesFileError`, a
:class:`ValueError` whose message is one line naming the file and, for a bad answer, the
data row (1-based, the header not counted) and the column::

    responses.csv: row 7, column q30: "x" is not a number
    responses.csv: row 3, column q31: 9 is outside 1-5

:func:`load_responses` checks a file against an instrument (every item column present, no
unknown column, every answer a whole number on the item's response scale);
:func:`load_item_columns` reads chosen numeric columns of any CSV (for ``reliability`` and
``frequencies`` on data that is not an instrument's).

The functions are pure apart from reading the file: ``parse_*`` take the text and a name
for messages.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.instrument import Instrument

RESPONDENT_COLUMN = "respondent"
MISSING_MARKERS = frozenset({"", "na", "n/a", "nan"})
_OTHER_DELIMITERS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


class ResponsesFileError(ValueError):
    """A responses file that cannot be analysed; the message is one line."""


@dataclass(frozen=True)
class AnswerRange:
    """The answers a column may hold.

    Parameters
    ----------
    minimum, maximum : float or None
        Inclusive bounds; ``None`` leaves that side open.
    whole : bool
        Whether answers must be whole numbers (points on a response scale).
    """

    minimum: float | None = None
    maximum: float | None = None
    whole: bool = False

    def describe(self) -> str:
        """The range as it appears in messages, e.g. ``1-5``."""
        low = "" if self.minimum is None else _number_text(self.minimum)
        high = "" if self.maximum is None else _number_text(self.maximum)
        if self.minimum is not None and self.maximum is not None:
            return f"{low}-{high}"
        if self.minimum is not None:
            return f"{low} or more"
        return f"{high} or less"


def _columns_word(names: Sequence[str]) -> str:
    return "column" if len(names) == 1 else "columns"


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def read_responses_text(path: str | Path) -> str:
    """Read a CSV file as text, accepting UTF-8 with or without a byte-order mark.

    Parameters
    ----------
    path : str or pathlib.Path
        The file.

    Returns
    -------
    str
        The decoded text.

    Raises
    ------
    ResponsesFileError
        The file is missing, unreadable, empty, or not UTF-8 (the message names the first
        byte that is not, and suggests saving as "CSV UTF-8").
    """
    source = Path(path)
    try:
        raw = source.read_bytes()
    except FileNotFoundError:
        raise ResponsesFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ResponsesFileError(f"{path}: is a folder, not a CSV file") from None
    except OSError as exc:
        raise ResponsesFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not raw.strip():
        raise ResponsesFileError(f"{path}: the file is empty")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ResponsesFileError(
            f"{path}: the file is UTF-16 encoded; save it as UTF-8 (Excel: CSV UTF-8)"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        byte = raw[exc.start]
        raise ResponsesFileError(
            f"{path}: not UTF-8 text (byte 0x{byte:02x} on line {line}; the file looks like "
            "Latin-1 or Windows-1252); save it as UTF-8 (Excel: CSV UTF-8)"
        ) from None


def _header(text: str, source: str) -> list[str]:
    """The header row, checked for a wrong delimiter and duplicate names."""
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    try:
        header = next(csv.reader([first_line]))
    except csv.Error as exc:
        raise ResponsesFileError(f"{source}: the header row cannot be read ({exc})") from None
    for delimiter, name in _OTHER_DELIMITERS.items():
        if delimiter in first_line and (len(header) == 1 or any(delimiter in h for h in header)):
            raise ResponsesFileError(
                f"{source}: the columns are separated by {name}, not commas; "
                "save the file as comma-separated CSV"
            )
    names = [h.strip() for h in header]
    blank = [i + 1 for i, h in enumerate(names) if not h]
    if blank:
        raise ResponsesFileError(f"{source}: column {blank[0]} of the header has no name")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ResponsesFileError(f"{source}: column {name} appears more than once")
        seen.add(name)
    return names


_NA_TEXTS = ("", "NA", "N/A", "NaN", "na", "n/a", "nan", "Na", "N/a")


def _cells(text: str, source: str, names: list[str], numeric: set[str]) -> pd.DataFrame:
    """The table under the header ``names``: ``numeric`` columns parsed by pandas where it
    can (a column with anything else stays text, for :func:`_numeric_column` to report),
    other columns as text; empty cells and ``NA`` are NaN."""
    try:
        with warnings.catch_warnings():
            # index_col=False: a row longer than the header is an error, never an index.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                io.StringIO(text),
                index_col=False,
                header=0,
                names=names,
                dtype={name: str for name in names if name not in numeric},
                na_values=list(_NA_TEXTS),
                keep_default_na=False,
                skip_blank_lines=True,
                skipinitialspace=True,
                low_memory=False,
                engine="c",
            )
    except pd.errors.EmptyDataError:
        raise ResponsesFileError(f"{source}: the file is empty") from None
    except pd.errors.ParserWarning:
        raise ResponsesFileError(
            f"{source}: the rows have more fields than the header ({len(names)} columns)"
        ) from None
    except pd.errors.ParserError as exc:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if found:
            expected, line, saw = found.groups()
            raise ResponsesFileError(
                f"{source}: line {line} has {saw} fields but the header has {expected}"
            ) from None
        raise ResponsesFileError(f"{source}: not a readable CSV file ({exc})") from None
    if not isinstance(frame.index, pd.RangeIndex) or frame.shape[1] != len(names):
        raise ResponsesFileError(
            f"{source}: the rows have more fields than the header ({len(names)} columns)"
        )
    if frame.empty:
        raise ResponsesFileError(f"{source}: no responses, only a header row")
    return frame


def _numeric_column(
    cells: pd.Series, column: str, answers: AnswerRange
) -> tuple[pd.Series, tuple[int, str] | None]:
    """Check one column; return it as float and its first problem as (row index, message)."""
    problems: list[tuple[int, str]] = []
    if cells.dtype.kind in "biuf":
        numbers = cells.astype(float)
        shown = cells
    else:  # pandas found something that is not a number: find the first one
        shown = cells.astype(str).str.strip().where(cells.notna(), "")
        missing = shown.str.lower().isin(MISSING_MARKERS)
        numbers = pd.to_numeric(shown.where(~missing, None), errors="coerce").astype(float)
        not_numbers = ~missing & numbers.isna()
        if not_numbers.any():
            at = int(not_numbers.to_numpy().argmax())
            problems.append((at, f'"{shown.iloc[at]}" is not a number'))
    values = numbers.to_numpy()
    valid = ~np.isnan(values)
    if answers.whole:
        with np.errstate(invalid="ignore"):
            fractional = valid & np.isfinite(values) & (np.mod(values, 1) != 0)
        if fractional.any():
            at = int(fractional.argmax())
            problems.append(
                (
                    at,
                    f"{_cell_text(shown, at)} is not a whole number "
                    f"(answers are {answers.describe()})",
                )
            )
    outside = valid & ~np.isfinite(values)
    if answers.minimum is not None:
        outside |= valid & (values < answers.minimum)
    if answers.maximum is not None:
        outside |= valid & (values > answers.maximum)
    if outside.any():
        at = int(outside.argmax())
        problems.append((at, f"{_cell_text(shown, at)} is outside {answers.describe()}"))
    numbers.name = column
    return numbers, min(problems) if problems else None


def _cell_text(cells: pd.Series, at: int) -> str:
    """A cell as the file wrote it (numbers parsed by pandas without a trailing ``.0``)."""
    value = cells.iloc[at]
    if isinstance(value, float | int | np.floating | np.integer):
        return _number_text(float(value))
    return str(value)


def _numeric_columns(
    cells: pd.DataFrame, ranges: Mapping[str, AnswerRange], source: str
) -> pd.DataFrame:
    """Parse the named columns; raise for the earliest bad answer (row, then column order)."""
    parsed: dict[str, pd.Series] = {}
    first: tuple[int, int, str, str] | None = None
    for position, (column, answers) in enumerate(ranges.items()):
        numbers, problem = _numeric_column(cells[column], column, answers)
        parsed[column] = numbers
        if problem is not None and (first is None or (problem[0], position) < first[:2]):
            first = (problem[0], position, column, problem[1])
    if first is not None:
        row, _, column, message = first
        raise ResponsesFileError(f"{source}: row {row + 1}, column {column}: {message}")
    return pd.DataFrame(parsed, index=cells.index)


def _background_column(
    cells: pd.Series, column: str, options: Mapping[str, str], source: str
) -> pd.Series:
    """Background answers as strings (None when empty); option labels become values."""
    text = cells.astype(str).str.strip().where(cells.notna(), "")
    empty = text.str.lower().isin(MISSING_MARKERS)
    if options:
        chosen = text.str.lower().map(options)
        unknown = ~empty & chosen.isna()
        if unknown.any():
            at = int(unknown.to_numpy().argmax())
            known = ", ".join(dict.fromkeys(options.values()))
            raise ResponsesFileError(
                f'{source}: row {at + 1}, column {column}: "{text.iloc[at]}" is not one of the '
                f"options ({known})"
            )
        text = chosen
    return _strings_or_none(text, empty, column)


def _strings_or_none(text: pd.Series, empty: pd.Series, column: str) -> pd.Series:
    """An object column of strings with ``None`` where ``empty``."""
    values = text.astype(object).to_numpy(copy=True)
    values[empty.to_numpy(dtype=bool)] = None
    return pd.Series(values, index=text.index, name=column, dtype=object)


def _respondent_column(cells: pd.Series) -> pd.Series:
    """Respondent ids: whole numbers when every id is one, else strings (None when empty)."""
    if cells.dtype.kind in "iu":
        return cells.astype("int64")
    return _strings_or_none(cells.astype(str).str.strip(), cells.isna(), RESPONDENT_COLUMN)


def parse_responses(text: str, instrument: Instrument, source: str = "responses") -> pd.DataFrame:
    """Validate CSV text as responses to ``instrument``.

    Parameters
    ----------
    text : str
        The CSV, comma-separated, with a header row.
    instrument : Instrument
        Gives the item columns (required unless the item is ``required: false``, like q32),
        their response scales and the optional background columns.
    source : str
        The file's name in messages.

    Returns
    -------
    pandas.DataFrame
        ``respondent`` (if present), the background columns present (strings, ``None`` when
        empty; choice answers given as option labels are turned into option values), then
        every item column present in instrument order as float (NaN for a missing answer).

    Raises
    ------
    ResponsesFileError
        Wrong delimiter, duplicate, unknown or missing columns, rows longer than the header,
        answers that are not numbers, not whole numbers or outside the item's scale.
    """
    if not text.strip():
        raise ResponsesFileError(f"{source}: the file is empty")
    names = _header(text, source)
    lowered = [name.lower() for name in names]
    item_ids = instrument.item_ids
    background = {question.id: question for question in instrument.background}
    known = {RESPONDENT_COLUMN, *item_ids, *background}
    unknown = [name for name, low in zip(names, lowered, strict=True) if low not in known]
    absent = [item.id for item in instrument.items if item.required and item.id not in lowered]
    present_items = [item for item in item_ids if item in lowered]
    problems: list[str] = []
    if unknown:
        problems.append(
            f"unknown {_columns_word(unknown)} {', '.join(unknown)} (items are "
            f"{item_ids[0]}..{item_ids[-1]}; optional: {RESPONDENT_COLUMN}, "
            f"{', '.join(background)})"
        )
    if absent:
        problems.append(f"missing item {_columns_word(absent)} {', '.join(absent)}")
    if problems:
        raise ResponsesFileError(f"{source}: {'; '.join(problems)} for instrument {instrument.id}")
    if len(set(lowered)) != len(lowered):
        raise ResponsesFileError(f"{source}: a column appears more than once (names ignore case)")
    cells = _cells(text, source, lowered, {RESPONDENT_COLUMN, *present_items})

    ranges: dict[str, AnswerRange] = {}
    for item in present_items:
        scale = instrument.response_scale_of(item)
        ranges[item] = AnswerRange(float(scale.min), float(scale.max), whole=True)
    answers = _numeric_columns(cells, ranges, source)

    columns: dict[str, pd.Series] = {}
    if RESPONDENT_COLUMN in lowered:
        columns[RESPONDENT_COLUMN] = _respondent_column(cells[RESPONDENT_COLUMN])
    for question_id, question in background.items():
        if question_id in lowered:
            options: dict[str, str] = {}
            for option in question.options:
                options[option.value.lower()] = option.value
                options[option.label.lower()] = option.value
            columns[question_id] = _background_column(
                cells[question_id], question_id, options, source
            )
    for item in present_items:
        columns[item] = answers[item]
    return pd.DataFrame(columns, index=pd.RangeIndex(len(cells)))


def load_responses(path: str | Path, instrument: Instrument) -> pd.DataFrame:
    """Read and validate a responses CSV file for ``instrument``.

    Parameters
    ----------
    path : str or pathlib.Path
        A comma-separated UTF-8 file (a byte-order mark is fine).
    instrument : Instrument
        The questionnaire the responses answer.

    Returns
    -------
    pandas.DataFrame
        As :func:`parse_responses`.

    Raises
    ------
    ResponsesFileError
        See :func:`read_responses_text` and :func:`parse_responses`.
    """
    return parse_responses(read_responses_text(path), instrument, str(path))


def parse_item_columns(
    text: str,
    items: Sequence[str],
    answers: AnswerRange | Mapping[str, AnswerRange] | None = None,
    source: str = "responses",
) -> pd.DataFrame:
    """Read chosen numeric columns of any CSV text.

    Parameters
    ----------
    text : str
        Comma-separated text with a header row.
    items : sequence of str
        The columns to read (exact names; other columns are ignored).
    answers : AnswerRange or mapping of column to AnswerRange, optional
        Allowed answers, for every column or per column; by default any number.
    source : str
        The file's name in messages.

    Returns
    -------
    pandas.DataFrame
        The chosen columns, in the order given, as float (NaN for missing answers).

    Raises
    ------
    ResponsesFileError
        No columns chosen, a chosen column absent from the file, a column chosen twice, or a
        bad answer (not a number, outside the range).
    """
    chosen = [item.strip() for item in items]
    if not chosen or not all(chosen):
        raise ResponsesFileError(f"{source}: no columns chosen")
    repeated = sorted({item for item in chosen if chosen.count(item) > 1})
    if repeated:
        raise ResponsesFileError(f"{source}: columns chosen more than once: {', '.join(repeated)}")
    if not text.strip():
        raise ResponsesFileError(f"{source}: the file is empty")
    names = _header(text, source)
    absent = [item for item in chosen if item not in names]
    if absent:
        shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
        raise ResponsesFileError(
            f"{source}: no {_columns_word(absent)} {', '.join(absent)} in the file "
            f"(columns: {shown})"
        )
    cells = _cells(text, source, names, set(chosen))
    if isinstance(answers, AnswerRange) or answers is None:
        everywhere = answers or AnswerRange()
        ranges = dict.fromkeys(chosen, everywhere)
    else:
        ranges = {item: answers.get(item, AnswerRange()) for item in chosen}
    return _numeric_columns(cells, ranges, source)


def load_item_columns(
    path: str | Path,
    items: Sequence[str],
    answers: AnswerRange | Mapping[str, AnswerRange] | None = None,
) -> pd.DataFrame:
    """Read chosen numeric columns of any CSV file (see :func:`parse_item_columns`).

    Parameters
    ----------
    path : str or pathlib.Path
        A comma-separated UTF-8 file.
    items : sequence of str
        The columns to read.
    answers : AnswerRange or mapping of column to AnswerRange, optional
        Allowed answers.

    Returns
    -------
    pandas.DataFrame
        The chosen columns as float.
    """
    return parse_item_columns(read_responses_text(path), items, answers, str(path))


def instrument_answer_ranges(
    instrument: Instrument, items: Sequence[str]
) -> dict[str, AnswerRange]:
    """The response-scale range of each of ``items`` that belongs to ``instrument``.

    Parameters
    ----------
    instrument : Instrument
        The questionnaire.
    items : sequence of str
        Column names; those that are not the instrument's items get no range.

    Returns
    -------
    dict of str to AnswerRange
    """
    ranges: dict[str, AnswerRange] = {}
    known = set(instrument.item_ids)
    for item in items:
        if item in known:
            scale = instrument.response_scale_of(item)
            ranges[item] = AnswerRange(float(scale.min), float(scale.max), whole=True)
    return ranges
