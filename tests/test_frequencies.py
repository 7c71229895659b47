"""SPSS-style frequency tables reproduce the report's Tables 5 and 6 digit for digit."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis.frequencies import frequency_table, item_frequency_tables, spss_round
from analysis.instrument import load_instrument

LABELS = load_instrument("trustworthy-collaboration").response_scales["agreement5"].labels


def _from_counts(counts: dict[int, int], missing: int = 0) -> pd.Series:
    values = [float(v) for v, n in counts.items() for _ in range(n)] + [math.nan] * missing
    return pd.Series(values, dtype=float)


# Table 5 (q31, "change facts slightly") and Table 6 (q30, "promised without doing"),
# as printed: value, frequency, percent, valid percent, cumulative percent.
TABLE_5 = [
    (2, 17, "43.6", "43.6", "43.6"),
    (3, 7, "17.9", "17.9", "61.5"),
    (4, 14, "35.9", "35.9", "97.4"),
    (5, 1, "2.6", "2.6", "100.0"),
]
TABLE_6 = [
    (1, 2, "5.1", "5.1", "5.1"),
    (2, 12, "30.8", "30.8", "35.9"),
    (3, 11, "28.2", "28.2", "64.1"),
    (4, 12, "30.8", "30.8", "94.9"),
    (5, 2, "5.1", "5.1", "100.0"),
]


@pytest.mark.parametrize(("item", "published"), [("q31", TABLE_5), ("q30", TABLE_6)])
def test_report_tables_5_and_6_reproduced(item: str, published: list[tuple]) -> None:  # type: ignore[type-arg]
    counts = {value: frequency for value, frequency, *_ in published}
    table = frequency_table(_from_counts(counts), labels=LABELS, item=item)
    shown = [
        (
            int(row.value),
            row.frequency,
            spss_round(row.percent),
            spss_round(row.valid_percent),
            spss_round(row.cumulative_percent),
        )
        for row in table.rows
    ]
    assert shown == published
    assert (table.total, table.missing) == (39, 0)
    frame = table.to_frame()
    assert frame.iloc[-1].to_dict() == {
        "": "Valid",
        "Value": "Total",
        "Frequency": 39,
        "Percent": "100.0",
        "Valid percent": "100.0",
        "Cumulative percent": "",
    }


def test_text_layout_matches_the_report_line_for_line() -> None:
    table = frequency_table(_from_counts({2: 17, 3: 7, 4: 14, 5: 1}), labels=LABELS, item="q31")
    lines = [" ".join(line.split()) for line in table.to_text().splitlines()]
    assert lines[2:] == [
        "Valid 2 Disagree 17 43.6 43.6 43.6",
        "3 Not sure 7 17.9 17.9 61.5",
        "4 Agree 14 35.9 35.9 97.4",
        "5 Strongly agree 1 2.6 2.6 100.0",
        "Total 39 100.0 100.0",
    ]


def test_missing_system_row_and_totals() -> None:
    table = frequency_table(_from_counts({1: 1, 2: 2, 4: 1}, missing=1), labels=LABELS)
    assert (table.total, table.missing, table.valid) == (5, 1, 4)
    assert [r.percent for r in table.rows] == pytest.approx([20.0, 40.0, 20.0])
    assert [r.valid_percent for r in table.rows] == pytest.approx([25.0, 50.0, 25.0])
    assert table.rows[-1].cumulative_percent == pytest.approx(100.0)
    records = table.to_frame().to_dict("records")
    assert records[-2]["Value"] == "System"
    assert (records[-2]["Frequency"], records[-2]["Percent"]) == (1, "20.0")
    assert (records[-1][""], records[-1]["Frequency"], records[-1]["Percent"]) == (
        "Total",
        5,
        "100.0",
    )


def test_include_empty_lists_zero_count_categories() -> None:
    series = _from_counts({2: 3, 4: 1})
    assert [r.value for r in frequency_table(series, labels=LABELS).rows] == [2, 4]
    full = frequency_table(series, labels=LABELS, include_empty=True)
    assert [(r.value, r.frequency) for r in full.rows] == [(1, 0), (2, 3), (3, 0), (4, 1), (5, 0)]
    assert full.rows[0].label == "Strongly disagree"


def test_to_dict_keys() -> None:
    table = frequency_table(_from_counts({1: 1, 2: 1}, missing=1), labels=LABELS, item="q10")
    record = table.to_dict()
    assert record["missing"] == 1
    assert record["total"] == 3
    assert record["rows"][0] == {
        "value": 1,
        "label": "Strongly disagree",
        "frequency": 1,
        "percent": pytest.approx(100 / 3),
        "valid_percent": 50.0,
        "cumulative_percent": 50.0,
    }


def test_spss_rounds_half_away_from_zero() -> None:
    assert spss_round(6.25) == "6.3"  # Python's round() gives 6.2
    assert spss_round(0.05) == "0.1"
    assert spss_round(43.58974358974359) == "43.6"


def test_non_numeric_and_empty_input() -> None:
    with pytest.raises(ValueError, match="'x' is not a number"):
        frequency_table(pd.Series(["1", "x"], name="q10"))
    with pytest.raises(ValueError, match="no cases"):
        frequency_table(pd.Series([], dtype=float, name="q10"))


def test_item_frequency_tables_follow_the_instrument_and_keep_raw_answers() -> None:
    instrument = load_instrument("trustworthy-collaboration")
    responses = pd.DataFrame({"q30": [1.0, 5.0, 5.0], "q10": [2.0, 2.0, None]})
    tables = item_frequency_tables(responses, instrument)
    assert [t.item for t in tables] == ["q10", "q30"]
    assert [(r.value, r.frequency) for r in tables[1].rows] == [(1, 1), (5, 2)]
    assert tables[1].label == instrument.item("q30").text


def test_an_item_nobody_answered_is_printed_as_spss_prints_it() -> None:
    """SPSS lists only "Missing System" for an all-missing variable: no "Valid Total 0"."""
    table = frequency_table(
        pd.Series([np.nan] * 4, name="q19"), labels={1: "No", 2: "Yes"}, include_empty=True
    )
    frame = table.to_frame()
    assert frame.to_dict("records") == [
        {
            "": "Missing",
            "Value": "System",
            "Frequency": 4,
            "Percent": "100.0",
            "Valid percent": "",
            "Cumulative percent": "",
        }
    ]
    text = table.to_text()
    assert "Valid" not in text.splitlines()[2] and "Total" not in text


def test_plain_records_say_answered_and_no_answer_in_spss_layout() -> None:
    """The report's words for SPSS's "Valid" and "Missing System": same rows, same figures."""
    from analysis.frequencies import PLAIN_HEADERS

    table = frequency_table(_from_counts({1: 1, 2: 2, 4: 1}, missing=1), labels=LABELS)
    frame = table.to_frame().to_dict("records")
    plain = table.plain_records()
    assert len(plain) == len(frame)
    assert [r["group"] for r in plain] == ["Answered"] * 4 + ["No answer", "Total"]
    assert [r["answer"] for r in plain][-3:] == ["Total", "Left blank", ""]
    assert [r["frequency"] for r in plain] == [r["Frequency"] for r in frame]
    assert [r["valid_percent"] for r in plain] == [r["Valid percent"] for r in frame]
    assert "Valid" not in " ".join(PLAIN_HEADERS.values())
    nobody = frequency_table(_from_counts({}, missing=3), labels=LABELS).plain_records()
    assert [(r["group"], r["answer"], r["frequency"]) for r in nobody] == [
        ("No answer", "Left blank", 3)
    ]
