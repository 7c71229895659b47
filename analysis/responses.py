"""Reading a responses file for analysis, with one-line errors an analyst can act on.

A responses file has one row per respondent and one column per item id (``q10``,
``q11``, ...), optionally a ``respondent`` column and the instrument's background columns
(``partnership_name`` and the other background question ids).  Three formats are read:

* CSV (``.csv``, ``.txt``, ``.tsv``): UTF-8 with or without a byte-order mark; the
  delimiter (comma, semicolon as Excel writes it in many locales, or tab) is detected from
  the header line.  Every row must have as many fields as the header: a truncated or
  ragged row is an error naming its line.
* Excel (``.xlsx``): the first sheet, header in its first row.
* SPSS (``.sav``): each variable's declared (user-defined) missing values are missing
  answers, as SPSS treats them.

Empty cells (and ``NA``) are missing answers, and so are the codes given as
``missing_values`` (``-99``, ``-9``, ...).  Any other answer outside an item's response
scale is an error: an undeclared ``-99`` is not silently averaged.

Positions in messages are counted one way in every format: where the file's own viewer
shows the cell, the header being position 1.  A CSV names its **line** (line 1 is the
header, so the first respondent is on line 2; a quoted field spanning lines counts from
the line where its row starts), a workbook its **row** (Excel's row number, row 1 the
header) and a ``.sav`` file its **case** (SPSS's case number, the first respondent 1, as
``.sav`` files have no header row)::

    responses.csv: line 8, column q30: "x" is not a number
    responses.csv: line 4, column q31: 9 is outside 1-5
    responses.csv: line 5 has 10 fields but the header has 27 (a truncated row)

Everything that can go wrong is raised as :class:`ResponsesFileError`, a
:class:`ValueError` whose message is one line naming the file.

:func:`load_responses` checks a file against an instrument (every item column present, no
unknown column, every answer a whole number on the item's response scale);
:func:`load_item_columns` reads chosen numeric columns of any file (for ``reliability``,
``frequencies`` and the other analyses of columns that may not be an instrument's).

The functions are pure apart from reading the file: ``parse_*`` take CSV text and a name
for messages.
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.instrument import Instrument

RESPONDENT_COLUMN = "respondent"
MISSING_MARKERS = frozenset({"", "na", "n/a", "nan"})
DELIMITERS = {",": "commas", ";": "semicolons", "\t": "tabs"}
EXCEL_SUFFIXES = frozenset({".xlsx", ".xlsm"})
SPSS_SUFFIXES = frozenset({".sav", ".zsav"})


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


@dataclass(frozen=True)
class _Grid:
    """A file's cells under its header, before any column is checked.

    ``cells`` holds every column (numbers where the format has them, else text, NaN or
    ``None`` when empty); ``positions[i]`` is where data row ``i`` is in the file, in
    ``unit`` ("line", "row" or "case"); ``declared`` the declared missing values of a
    ``.sav`` file's variables (already turned into NaN, listed for the output).
    """

    source: str
    names: list[str]
    cells: pd.DataFrame
    positions: np.ndarray
    unit: str
    declared: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def where(self, row: int) -> str:
        return f"{self.unit} {int(self.positions[row])}"


def _check_names(names: list[str], source: str) -> list[str]:
    names = [str(h).strip() for h in names]
    blank = [i + 1 for i, h in enumerate(names) if not h]
    if blank:
        raise ResponsesFileError(f"{source}: column {blank[0]} of the header has no name")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ResponsesFileError(f"{source}: column {name} appears more than once")
        seen.add(name)
    return names


def detect_delimiter(header_line: str) -> str:
    """The delimiter of a CSV header line: the one of comma, semicolon and tab that splits
    it into the most fields (comma when none splits it).

    Parameters
    ----------
    header_line : str
        The file's first non-blank line.

    Returns
    -------
    str
    """
    best, most = ",", 1
    for delimiter in DELIMITERS:
        try:
            fields = len(next(csv.reader([header_line], delimiter=delimiter)))
        except (csv.Error, StopIteration):
            continue
        if fields > most:
            best, most = delimiter, fields
    return best


def _records(text: str, delimiter: str, source: str) -> tuple[list[int], list[int], str]:
    """Start line and field count of every non-blank record, and the text for pandas."""
    lines = text.split("\n")
    if '"' not in text:
        starts: list[int] = []
        counts: list[int] = []
        kept: list[str] = []
        for number, line in enumerate(lines, start=1):
            if line.strip():
                starts.append(number)
                counts.append(line.count(delimiter) + 1)
                kept.append(line)
        return starts, counts, "\n".join(kept) + "\n"
    starts, counts = [], []
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)
    previous = 0
    try:
        for record in reader:
            if (record and any(cell.strip() for cell in record)) or len(record) > 1:
                starts.append(previous + 1)
                counts.append(len(record))
            previous = reader.line_num
    except csv.Error as exc:
        raise ResponsesFileError(
            f"{source}: not a readable CSV file (line {previous + 1}: {exc})"
        ) from None
    return starts, counts, text


_NA_TEXTS = ("", "NA", "N/A", "NaN", "na", "n/a", "nan", "Na", "N/a")


HeaderCheck = Callable[[list[str], str], None]


def _csv_grid(
    text: str, source: str, numeric: Iterable[str] = (), header_check: HeaderCheck | None = None
) -> _Grid:
    """Split CSV text into a grid, checking the header (with ``header_check`` too, before any
    row) and every row's field count."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise ResponsesFileError(f"{source}: the file is empty")
    first_line = next(line for line in text.split("\n") if line.strip())
    delimiter = detect_delimiter(first_line)
    try:
        header = next(csv.reader([first_line], delimiter=delimiter))
    except csv.Error as exc:
        raise ResponsesFileError(f"{source}: the header row cannot be read ({exc})") from None
    names = _check_names(header, source)
    if header_check is not None:
        header_check(names, source)
    starts, counts, body = _records(text, delimiter, source)
    for start, count in zip(starts[1:], counts[1:], strict=True):
        if count != len(names):
            kind = "a truncated row" if count < len(names) else "a row longer than the header"
            raise ResponsesFileError(
                f"{source}: line {start} has {count} fields but the header has {len(names)} "
                f"({kind})"
            )
    if len(starts) < 2:
        raise ResponsesFileError(f"{source}: no responses, only a header row")
    wanted = {name.lower() for name in numeric}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                io.StringIO(body),
                sep=delimiter,
                index_col=False,
                header=0,
                names=[f"c{i}" for i in range(len(names))],
                dtype={f"c{i}": str for i, name in enumerate(names) if name.lower() not in wanted},
                na_values=list(_NA_TEXTS),
                keep_default_na=False,
                skip_blank_lines=True,
                skipinitialspace=True,
                low_memory=False,
                engine="c",
            )
    except (pd.errors.ParserError, pd.errors.ParserWarning, pd.errors.EmptyDataError) as exc:
        raise ResponsesFileError(f"{source}: not a readable CSV file ({exc})") from None
    if len(frame) != len(starts) - 1:
        raise ResponsesFileError(
            f"{source}: not a readable CSV file ({len(starts) - 1} rows found, pandas read "
            f"{len(frame)})"
        )
    frame.columns = pd.Index(names)
    return _Grid(source, names, frame, np.asarray(starts[1:]), "line")


def _excel_grid(path: Path, source: str) -> _Grid:
    """The first sheet of a workbook: header in row 1; wholly empty rows are skipped."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ResponsesFileError(f"{source}: not a readable .xlsx workbook ({exc})") from None
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None or all(cell is None for cell in header):
            raise ResponsesFileError(f"{source}: the first sheet is empty")
        width = max(i + 1 for i, cell in enumerate(header) if cell is not None)
        names = _check_names(["" if c is None else str(c) for c in header[:width]], source)
        data: list[tuple[object, ...]] = []
        positions: list[int] = []
        for number, row in enumerate(rows, start=2):
            if all(cell is None or str(cell).strip() == "" for cell in row):
                continue
            extra = [c for c in row[width:] if c is not None and str(c).strip()]
            if extra:
                raise ResponsesFileError(
                    f"{source}: row {number} has cells beyond the header's {width} columns"
                )
            cells = tuple(row[:width]) + (None,) * (width - len(row))
            data.append(cells)
            positions.append(number)
    finally:
        workbook.close()
    if not data:
        raise ResponsesFileError(f"{source}: no responses, only a header row")
    frame = pd.DataFrame.from_records(data, columns=names)
    return _Grid(source, names, frame, np.asarray(positions), "row")


def _spss_grid(path: Path, source: str) -> _Grid:
    """A ``.sav`` file: declared missing values become NaN (pyreadstat applies them) and
    are listed, as SPSS would show them, for the output."""
    import pyreadstat

    try:
        frame, _ = pyreadstat.read_sav(str(path), user_missing=False)
        _, meta = pyreadstat.read_sav(str(path), metadataonly=True, user_missing=True)
    except Exception as exc:  # pyreadstat raises its own ReadstatError and OSErrors
        raise ResponsesFileError(f"{source}: not a readable .sav file ({exc})") from None
    names = _check_names(list(frame.columns), source)
    if frame.empty:
        raise ResponsesFileError(f"{source}: no cases")
    declared: dict[str, tuple[str, ...]] = {}
    for name, values in (getattr(meta, "missing_user_values", None) or {}).items():
        shown = tuple(_number_text(float(v)) for v in values if isinstance(v, int | float))
        if shown:
            declared[str(name)] = shown
    for name, ranges in (getattr(meta, "missing_ranges", None) or {}).items():
        for span in ranges:
            low, high = span.get("lo"), span.get("hi")
            if not isinstance(low, int | float) or not isinstance(high, int | float):
                continue
            text = (
                _number_text(float(low))
                if low == high
                else f"{_number_text(float(low))} to {_number_text(float(high))}"
            )
            if text not in declared.get(str(name), ()):
                declared[str(name)] = (*declared.get(str(name), ()), text)
    return _Grid(source, names, frame, np.arange(1, len(frame) + 1), "case", declared)


def read_grid(
    path: str | Path, numeric: Iterable[str] = (), header_check: HeaderCheck | None = None
) -> _Grid:
    """Read a responses file of any supported format (by its suffix)."""
    source = Path(path)
    suffix = source.suffix.lower()
    if suffix in EXCEL_SUFFIXES or suffix in SPSS_SUFFIXES:
        if not source.exists():
            raise ResponsesFileError(f"{path}: no such file")
        if source.is_dir():
            raise ResponsesFileError(f"{path}: is a folder, not a file")
        grid = (
            _excel_grid(source, str(path))
            if suffix in EXCEL_SUFFIXES
            else _spss_grid(source, str(path))
        )
        if header_check is not None:
            header_check(grid.names, grid.source)
        return grid
    if suffix == ".xls":
        raise ResponsesFileError(f"{path}: old .xls workbooks are not read; save it as .xlsx")
    return _csv_grid(read_responses_text(path), str(path), numeric, header_check)


def parse_missing_values(text: str) -> tuple[float, ...]:
    """Parse ``-99,-9`` (the ``--missing-values`` option) into numbers.

    Raises
    ------
    ValueError
        A code that is not a number.
    """
    codes: list[float] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            code = float(part)
        except ValueError:
            raise ValueError(f"--missing-values: {part!r} is not a number") from None
        if not math.isfinite(code):
            raise ValueError(f"--missing-values: {part!r} is not a finite number")
        codes.append(code)
    if not codes:
        raise ValueError("--missing-values: give at least one code, e.g. -99,-9")
    return tuple(codes)


def _numeric_column(
    cells: pd.Series, column: str, answers: AnswerRange, codes: Sequence[float] = ()
) -> tuple[pd.Series, tuple[int, str] | None]:
    """Check one column; return it as float and its first problem as (row index, message).

    Values equal to one of ``codes`` are missing answers (declared missing-value codes).
    """
    problems: list[tuple[int, str]] = []
    if cells.dtype.kind in "biuf":
        numbers = cells.astype(float)
        shown = cells
    else:  # text (or a mixture, from a workbook): find the first cell that is not a number
        shown = cells.astype(str).str.strip().where(cells.notna(), "")
        missing = shown.str.lower().isin(MISSING_MARKERS)
        numbers = pd.to_numeric(shown.where(~missing, None), errors="coerce").astype(float)
        not_numbers = ~missing & numbers.isna()
        if not_numbers.any():
            at = int(not_numbers.to_numpy().argmax())
            problems.append((at, f'"{shown.iloc[at]}" is not a number'))
    values = numbers.to_numpy(copy=True)
    if codes:
        values[np.isin(values, np.asarray(codes, dtype=float))] = np.nan
        numbers = pd.Series(values, index=cells.index)
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
        message = f"{_cell_text(shown, at)} is outside {answers.describe()}"
        if np.isfinite(values[at]) and values[at] < 0 and not codes:
            message += " (if it is a missing-value code, declare it as missing)"
        problems.append((at, message))
    numbers.name = column
    return numbers, min(problems) if problems else None


def _cell_text(cells: pd.Series, at: int) -> str:
    """A cell as the file wrote it (numbers parsed by pandas without a trailing ``.0``)."""
    value = cells.iloc[at]
    if isinstance(value, float | int | np.floating | np.integer):
        return _number_text(float(value))
    return str(value)


def _numeric_columns(
    grid: _Grid,
    ranges: Mapping[str, AnswerRange],
    columns: Mapping[str, str] | None = None,
    codes: Sequence[float] = (),
) -> pd.DataFrame:
    """Parse the named columns; raise for the earliest bad answer (row, then column order).

    ``columns`` maps each wanted name to the grid's column (default: the same name).
    """
    parsed: dict[str, pd.Series] = {}
    first: tuple[int, int, str, str] | None = None
    for position, (column, answers) in enumerate(ranges.items()):
        in_grid = (columns or {}).get(column, column)
        numbers, problem = _numeric_column(grid.cells[in_grid], column, answers, codes)
        parsed[column] = numbers
        if problem is not None and (first is None or (problem[0], position) < first[:2]):
            first = (problem[0], position, column, problem[1])
    if first is not None:
        row, _, column, message = first
        raise ResponsesFileError(f"{grid.source}: {grid.where(row)}, column {column}: {message}")
    return pd.DataFrame(parsed, index=pd.RangeIndex(len(grid.cells)))


def _background_column(
    cells: pd.Series, column: str, options: Mapping[str, str], grid: _Grid
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
                f'{grid.source}: {grid.where(at)}, column {column}: "{text.iloc[at]}" is not '
                f"one of the options ({known})"
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


def _instrument_columns_check(instrument: Instrument) -> HeaderCheck:
    """A header check: every required item present, no unknown or repeated column."""

    def check(names: list[str], source: str) -> None:
        lowered = [name.lower() for name in names]
        item_ids = instrument.item_ids
        background = [question.id for question in instrument.background]
        known = {RESPONDENT_COLUMN, *item_ids, *background}
        unknown = [name for name, low in zip(names, lowered, strict=True) if low not in known]
        absent = [i.id for i in instrument.items if i.required and i.id not in lowered]
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
            raise ResponsesFileError(
                f"{source}: {'; '.join(problems)} for instrument {instrument.id}"
            )
        if len(set(lowered)) != len(lowered):
            raise ResponsesFileError(
                f"{source}: a column appears more than once (names ignore case)"
            )

    return check


def _responses_from_grid(
    grid: _Grid, instrument: Instrument, missing_values: Sequence[float] = ()
) -> pd.DataFrame:
    _instrument_columns_check(instrument)(grid.names, grid.source)
    names = grid.names
    lowered = [name.lower() for name in names]
    background = {question.id: question for question in instrument.background}
    present_items = [item for item in instrument.item_ids if item in lowered]
    original = dict(zip(lowered, names, strict=True))

    ranges: dict[str, AnswerRange] = {}
    for item in present_items:
        scale = instrument.response_scale_of(item)
        ranges[item] = AnswerRange(float(scale.min), float(scale.max), whole=True)
    answers = _numeric_columns(grid, ranges, original, missing_values)

    cells = grid.cells
    columns: dict[str, pd.Series] = {}
    if RESPONDENT_COLUMN in lowered:
        columns[RESPONDENT_COLUMN] = _respondent_column(
            cells[original[RESPONDENT_COLUMN]].reset_index(drop=True)
        )
    for question_id, question in background.items():
        if question_id in lowered:
            options: dict[str, str] = {}
            for option in question.options:
                options[option.value.lower()] = option.value
                options[option.label.lower()] = option.value
            columns[question_id] = _background_column(
                cells[original[question_id]].reset_index(drop=True),
                question_id,
                options,
                grid,
            )
    for item in present_items:
        columns[item] = answers[item]
    return pd.DataFrame(columns, index=pd.RangeIndex(len(cells)))


def parse_responses(
    text: str,
    instrument: Instrument,
    source: str = "responses",
    missing_values: Sequence[float] = (),
) -> pd.DataFrame:
    """Validate CSV text as responses to ``instrument``.

    Parameters
    ----------
    text : str
        The CSV with a header row; comma, semicolon or tab delimited.
    instrument : Instrument
        Gives the item columns (required unless the item is ``required: false``, like q32),
        their response scales and the optional background columns.
    source : str
        The file's name in messages.
    missing_values : sequence of float
        Codes that mean a missing answer in every item column (``-99``, ``-9``).

    Returns
    -------
    pandas.DataFrame
        ``respondent`` (if present), the background columns present (strings, ``None`` when
        empty; choice answers given as option labels are turned into option values), then
        every item column present in instrument order as float (NaN for a missing answer).

    Raises
    ------
    ResponsesFileError
        Duplicate, unknown or missing columns, a row with more or fewer fields than the
        header, answers that are not numbers, not whole numbers or outside the item's scale.
    """
    wanted = {RESPONDENT_COLUMN, *instrument.item_ids}
    grid = _csv_grid(text, source, wanted, _instrument_columns_check(instrument))
    return _responses_from_grid(grid, instrument, missing_values)


def load_responses(
    path: str | Path, instrument: Instrument, missing_values: Sequence[float] = ()
) -> pd.DataFrame:
    """Read and validate a responses file (CSV, ``.xlsx`` or ``.sav``) for ``instrument``.

    Parameters
    ----------
    path : str or pathlib.Path
        The file; its suffix says the format (anything but ``.xlsx`` and ``.sav`` is CSV).
    instrument : Instrument
        The questionnaire the responses answer.
    missing_values : sequence of float
        Missing-value codes for every item (a ``.sav`` file's declared ones apply as well).

    Returns
    -------
    pandas.DataFrame
        As :func:`parse_responses`.

    Raises
    ------
    ResponsesFileError
        See :func:`read_responses_text` and :func:`parse_responses`.
    """
    grid = read_grid(
        path, {RESPONDENT_COLUMN, *instrument.item_ids}, _instrument_columns_check(instrument)
    )
    return _responses_from_grid(grid, instrument, missing_values)


def _item_columns_from_grid(
    grid: _Grid,
    items: Sequence[str],
    answers: AnswerRange | Mapping[str, AnswerRange] | None,
    missing_values: Sequence[float],
) -> pd.DataFrame:
    chosen = [item.strip() for item in items]
    _chosen_columns_check(chosen)(grid.names, grid.source)
    if isinstance(answers, AnswerRange) or answers is None:
        everywhere = answers or AnswerRange()
        ranges = dict.fromkeys(chosen, everywhere)
    else:
        ranges = {item: answers.get(item, AnswerRange()) for item in chosen}
    return _numeric_columns(grid, ranges, codes=missing_values)


def _chosen_columns_check(chosen: Sequence[str], *more: str | None) -> HeaderCheck:
    def check(names: list[str], source: str) -> None:
        absent = [item for item in (*chosen, *more) if item is not None and item not in names]
        if absent:
            shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
            raise ResponsesFileError(
                f"{source}: no {_columns_word(absent)} {', '.join(absent)} in the file "
                f"(columns: {shown})"
            )

    return check


def _check_chosen(items: Sequence[str], source: str) -> None:
    chosen = [item.strip() for item in items]
    if not chosen or not all(chosen):
        raise ResponsesFileError(f"{source}: no columns chosen")
    repeated = sorted({item for item in chosen if chosen.count(item) > 1})
    if repeated:
        raise ResponsesFileError(f"{source}: columns chosen more than once: {', '.join(repeated)}")


def parse_item_columns(
    text: str,
    items: Sequence[str],
    answers: AnswerRange | Mapping[str, AnswerRange] | None = None,
    source: str = "responses",
    missing_values: Sequence[float] = (),
) -> pd.DataFrame:
    """Read chosen numeric columns of any CSV text.

    Parameters
    ----------
    text : str
        Comma-, semicolon- or tab-separated text with a header row.
    items : sequence of str
        The columns to read (exact names; other columns are ignored).
    answers : AnswerRange or mapping of column to AnswerRange, optional
        Allowed answers, for every column or per column; by default any number.
    source : str
        The file's name in messages.
    missing_values : sequence of float
        Codes that mean a missing answer.

    Returns
    -------
    pandas.DataFrame
        The chosen columns, in the order given, as float (NaN for missing answers).

    Raises
    ------
    ResponsesFileError
        No columns chosen, a chosen column absent from the file, a column chosen twice, a
        ragged row, or a bad answer (not a number, outside the range).
    """
    _check_chosen(items, source)
    grid = _csv_grid(text, source, items, _chosen_columns_check(items))
    return _item_columns_from_grid(grid, items, answers, missing_values)


def load_item_columns(
    path: str | Path,
    items: Sequence[str],
    answers: AnswerRange | Mapping[str, AnswerRange] | None = None,
    missing_values: Sequence[float] = (),
) -> pd.DataFrame:
    """Read chosen numeric columns of any file (see :func:`parse_item_columns`).

    Parameters
    ----------
    path : str or pathlib.Path
        A CSV, ``.xlsx`` or ``.sav`` file.
    items : sequence of str
        The columns to read.
    answers : AnswerRange or mapping of column to AnswerRange, optional
        Allowed answers.
    missing_values : sequence of float
        Missing-value codes (a ``.sav`` file's declared ones apply as well).

    Returns
    -------
    pandas.DataFrame
        The chosen columns as float.
    """
    _check_chosen(items, str(path))
    grid = read_grid(path, items, _chosen_columns_check(items))
    return _item_columns_from_grid(grid, items, answers, missing_values)


@dataclass(frozen=True)
class ItemFile:
    """Chosen numeric columns and (optionally) one grouping column of a responses file."""

    answers: pd.DataFrame
    groups: pd.Series | None
    declared: dict[str, tuple[str, ...]]


def load_items_and_group(
    path: str | Path,
    items: Sequence[str],
    answers: AnswerRange | Mapping[str, AnswerRange] | None = None,
    missing_values: Sequence[float] = (),
    group: str | None = None,
) -> ItemFile:
    """Like :func:`load_item_columns`, with a grouping column read as text (``None`` when
    empty) and the ``.sav`` file's declared missing values.

    Parameters
    ----------
    path : str or pathlib.Path
    items : sequence of str
    answers : AnswerRange or mapping, optional
    missing_values : sequence of float
    group : str, optional
        A column naming each respondent's group (a partnership).

    Returns
    -------
    ItemFile
    """
    _check_chosen(items, str(path))
    grid = read_grid(path, items, _chosen_columns_check(items, group))
    frame = _item_columns_from_grid(grid, items, answers, missing_values)
    groups = None
    if group is not None:
        cells = grid.cells[group].reset_index(drop=True)
        text = cells.map(_group_text)
        groups = pd.Series(text.to_numpy(dtype=object), name=group, dtype=object)
    declared = {name: codes for name, codes in grid.declared.items() if name in items}
    return ItemFile(frame, groups, declared)


def _group_text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return None if text.lower() in MISSING_MARKERS else text


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
