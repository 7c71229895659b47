"""Reading responses CSVs: every kind of bad input gets a one-line error naming row and column."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.demo import demo_csv_text, demo_responses
from analysis.instrument import load_instrument
from analysis.responses import (
    AnswerRange,
    ResponsesFileError,
    instrument_answer_ranges,
    load_item_columns,
    load_responses,
    parse_item_columns,
    parse_responses,
    read_responses_text,
)

INSTRUMENT = load_instrument("trustworthy-collaboration")
DEMO = demo_csv_text()
LINES = DEMO.splitlines()
HEADER = LINES[0].split(",")


def with_cell(row: int, column: str, value: str) -> str:
    """The demo CSV with one cell replaced (row 0 is the header, row 1 the first response)."""
    rows = [line.split(",") for line in LINES]
    rows[row][HEADER.index(column)] = value
    return "\n".join(",".join(cells) for cells in rows) + "\n"


def error_of(text: str) -> str:
    with pytest.raises(ResponsesFileError) as caught:
        parse_responses(text, INSTRUMENT, "answers.csv")
    message = str(caught.value)
    assert "\n" not in message
    assert isinstance(caught.value, ValueError)
    return message


def test_demo_csv_loads_as_the_demo_frame() -> None:
    loaded = parse_responses(DEMO, INSTRUMENT)
    pd.testing.assert_frame_equal(loaded, demo_responses(), check_dtype=False)
    assert all(loaded[item].dtype == float for item in INSTRUMENT.item_ids)


@pytest.mark.parametrize(
    ("row", "column", "value", "expected"),
    [
        (7, "q30", "x", 'answers.csv: line 8, column q30: "x" is not a number'),
        (3, "q31", "9", "answers.csv: line 4, column q31: 9 is outside 1-5"),
        (3, "q31", " 9 ", "answers.csv: line 4, column q31: 9 is outside 1-5"),
        (5, "q10", "0", "answers.csv: line 6, column q10: 0 is outside 1-5"),
        (
            5,
            "q10",
            "-1",
            "answers.csv: line 6, column q10: -1 is outside 1-5 "
            "(if it is a missing-value code, declare it as missing)",
        ),
        (2, "q52", "inf", "answers.csv: line 3, column q52: inf is outside 1-5"),
        (
            3,
            "q31",
            "2.5",
            "answers.csv: line 4, column q31: 2.5 is not a whole number (answers are 1-5)",
        ),
        (39, "q16", "agree", 'answers.csv: line 40, column q16: "agree" is not a number'),
    ],
)
def test_bad_answers_name_row_and_column(row: int, column: str, value: str, expected: str) -> None:
    assert error_of(with_cell(row, column, value)) == expected


def test_the_earliest_bad_row_is_reported() -> None:
    text = with_cell(9, "q10", "x")
    rows = text.splitlines()
    cells = rows[4].split(",")
    cells[HEADER.index("q52")] = "7"
    rows[4] = ",".join(cells)
    assert error_of("\n".join(rows)) == "answers.csv: line 5, column q52: 7 is outside 1-5"


def test_missing_markers_and_labels() -> None:
    text = with_cell(3, "q31", " NA ")
    loaded = parse_responses(with_cell(3, "q29", ""), INSTRUMENT)
    assert pd.isna(loaded.loc[2, "q29"])
    assert pd.isna(parse_responses(text, INSTRUMENT).loc[2, "q31"])
    assert pd.isna(parse_responses(with_cell(5, "q10", "n/a"), INSTRUMENT).loc[4, "q10"])
    labelled = parse_responses(with_cell(4, "care_model", "Acute Care Collaborations"), INSTRUMENT)
    assert labelled.loc[3, "care_model"] == "acute-care-collaborations"
    blank = parse_responses(with_cell(4, "care_model", ""), INSTRUMENT)
    assert blank.loc[3, "care_model"] is None


def test_unknown_choice_is_an_error() -> None:
    message = error_of(with_cell(6, "professional_role", "nurse"))
    assert message.startswith('answers.csv: line 7, column professional_role: "nurse" is not one')


def test_background_columns_are_optional() -> None:
    frame = demo_responses()[INSTRUMENT.item_ids]
    loaded = parse_responses(frame.to_csv(index=False), INSTRUMENT)
    assert list(loaded.columns) == INSTRUMENT.item_ids


def test_text_respondent_ids_stay_text() -> None:
    loaded = parse_responses(with_cell(1, "respondent", "R-001"), INSTRUMENT)
    assert loaded.loc[0, "respondent"] == "R-001"
    assert loaded.loc[1, "respondent"] == "2"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (DEMO.replace("q33", "q34", 1), "unknown column q34"),
        (DEMO.replace("q33", "q34", 1), "missing item column q33"),
        (DEMO.replace("respondent", "submitted_at", 1), "unknown column submitted_at"),
        (LINES[0].replace(",q52", "") + "\n1\n", "missing item column q52"),
        (LINES[0] + ",q10\n", "column q10 appears more than once"),
        ("", "the file is empty"),
        ("\n \n", "the file is empty"),
        (LINES[0] + "\n", "no responses, only a header row"),
        ("\n".join([*LINES[:3], LINES[3] + ",7"]), "line 4 has 28 fields but the header has 27"),
        (
            "\n".join([LINES[0], *(line + ",7" for line in LINES[1:])]),
            "line 2 has 28 fields but the header has 27 (a row longer than the header)",
        ),
        (LINES[0].replace(",q10,", ",,", 1) + "\n", "column 6 of the header has no name"),
    ],
)
def test_file_level_problems(text: str, expected: str) -> None:
    message = error_of(text)
    assert message.startswith("answers.csv: ")
    assert expected in message


def test_a_truncated_row_is_an_error_naming_its_line() -> None:
    text = "\n".join([LINES[0], LINES[1], ",".join(LINES[2].split(",")[:10])]) + "\n"
    assert error_of(text) == (
        "answers.csv: line 3 has 10 fields but the header has 27 (a truncated row)"
    )
    # blank lines are skipped but still counted
    spaced = "\n".join([LINES[0], "", LINES[1], "", ",".join(LINES[2].split(",")[:10])])
    assert "line 5 has 10 fields" in error_of(spaced)
    # a quoted field spanning two lines: the row after it is named by its own first line
    quoted = LINES[1].replace(",", ',"a\nb",', 1)
    header = LINES[0].replace(",", ",note,", 1)
    text = "\n".join([header, quoted, ",".join(LINES[2].split(",")[:10])])
    with pytest.raises(ResponsesFileError, match="line 4 has 10 fields"):
        parse_item_columns(text, ["q10"], source="answers.csv")


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolon_and_tab_files_with_a_byte_order_mark_are_read(delimiter: str) -> None:
    text = "\ufeff" + DEMO.replace(",", delimiter).replace("\n", "\r\n")
    loaded = parse_responses(text, INSTRUMENT)
    pd.testing.assert_frame_equal(loaded, demo_responses(), check_dtype=False)


def test_declared_missing_value_codes() -> None:
    text = with_cell(3, "q31", "-99")
    assert "line 4, column q31: -99 is outside 1-5" in error_of(text)
    loaded = parse_responses(text, INSTRUMENT, missing_values=(-99, -9))
    assert pd.isna(loaded.loc[2, "q31"])
    assert loaded["q31"].notna().sum() == len(loaded) - 1


def test_header_names_ignore_case_and_spaces() -> None:
    text = DEMO.replace("q10,", " Q10 ,", 1)
    assert parse_responses(text, INSTRUMENT)["q10"].notna().all()


# -- files ------------------------------------------------------------------------------


def test_utf8_with_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + with_cell(1, "partnership_name", "Café Care").encode())
    loaded = load_responses(path, INSTRUMENT)
    assert loaded.loc[0, "partnership_name"] == "Café Care"
    assert loaded.columns[0] == "respondent"


def test_latin1_file_is_an_encoding_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(with_cell(2, "partnership_name", "Café Care").encode("latin-1"))
    with pytest.raises(ResponsesFileError) as caught:
        load_responses(path, INSTRUMENT)
    message = str(caught.value)
    assert message.startswith(f"{path}: not UTF-8 text (byte 0xe9 on line 3")
    assert "Latin-1" in message and "UTF-8" in message


def test_utf16_file_is_an_encoding_error(tmp_path: Path) -> None:
    path = tmp_path / "utf16.csv"
    path.write_bytes(DEMO.encode("utf-16"))
    with pytest.raises(ResponsesFileError, match="UTF-16"):
        read_responses_text(path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ResponsesFileError, match="no such file"):
        load_responses(tmp_path / "absent.csv", INSTRUMENT)
    with pytest.raises(ResponsesFileError, match="is a folder"):
        load_responses(tmp_path, INSTRUMENT)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(ResponsesFileError, match="the file is empty"):
        load_responses(path, INSTRUMENT)


# -- arbitrary columns ------------------------------------------------------------------

ANY_CSV = "id,A1,A2,A3,note\n1,1,2,6,ok\n2,3,,5,\n3,6,5,1,late\n"


def test_chosen_columns_in_order() -> None:
    frame = parse_item_columns(ANY_CSV, ["A3", "A1"], AnswerRange(1, 6))
    assert list(frame.columns) == ["A3", "A1"]
    assert frame["A3"].tolist() == [6.0, 5.0, 1.0]
    assert parse_item_columns(ANY_CSV, ["A2"])["A2"].isna().sum() == 1


def test_chosen_columns_errors() -> None:
    with pytest.raises(ResponsesFileError, match=r"line 2, column A3: 6 is outside 1-5"):
        parse_item_columns(ANY_CSV, ["A1", "A3"], AnswerRange(1, 5), "any.csv")
    with pytest.raises(ResponsesFileError, match=r"line 2, column note: \"ok\" is not a number"):
        parse_item_columns(ANY_CSV, ["A1", "note"], source="any.csv")
    with pytest.raises(ResponsesFileError, match=r"no column B7 in the file \(columns: id, A1"):
        parse_item_columns(ANY_CSV, ["A1", "B7"], source="any.csv")
    with pytest.raises(ResponsesFileError, match="chosen more than once: A1"):
        parse_item_columns(ANY_CSV, ["A1", "A1"])
    with pytest.raises(ResponsesFileError, match="no columns chosen"):
        parse_item_columns(ANY_CSV, [])
    with pytest.raises(ResponsesFileError, match="1 or more"):
        parse_item_columns("x\n0\n", ["x"], AnswerRange(minimum=1))


def test_fractional_answers_allowed_for_arbitrary_columns(tmp_path: Path) -> None:
    path = tmp_path / "scores.csv"
    path.write_text("s1,s2\n1.5,2.25\n3,4\n", encoding="utf-8")
    frame = load_item_columns(path, ["s1", "s2"], AnswerRange(1, 5))
    assert frame["s2"].tolist() == [2.25, 4.0]


def test_instrument_answer_ranges() -> None:
    ranges = instrument_answer_ranges(INSTRUMENT, ["q30", "A1"])
    assert ranges == {"q30": AnswerRange(1.0, 5.0, whole=True)}
    assert ranges["q30"].describe() == "1-5"
    assert AnswerRange(maximum=7).describe() == "7 or less"


def test_optional_item_columns_may_be_left_out_but_required_ones_may_not() -> None:
    frame = demo_responses()[INSTRUMENT.item_ids]
    without_q32 = parse_responses(frame.drop(columns=["q32"]).to_csv(index=False), INSTRUMENT)
    assert "q32" not in without_q32.columns
    assert len(without_q32.columns) == len(INSTRUMENT.item_ids) - 1
    message = error_of(frame.drop(columns=["q32", "q33"]).to_csv(index=False))
    assert message.endswith("missing item column q33 for instrument trustworthy-collaboration")
