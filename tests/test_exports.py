"""Exports open with their labels intact and neutralise formula injection."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyreadstat
import pytest

from analysis.exports import csv_bytes, neutralise_cell, sav_bytes, sheet_name, xlsx_bytes
from analysis.instrument import load_instrument
from analysis.scoring import scale_scores

INSTRUMENT = load_instrument("trustworthy-collaboration")


@pytest.fixture
def responses() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    frame = pd.DataFrame(
        rng.integers(1, 6, size=(8, 22)).astype(float), columns=INSTRUMENT.item_ids
    )
    frame.loc[2, "q31"] = np.nan
    frame["partnership_name"] = [
        "=cmd|' /C calc'!A0",
        "North",
        "+1",
        "-2",
        "@SUM(A1)",
        "a",
        "b",
        "c",
    ]
    frame["care_model"] = ["other", "acute-care-collaborations"] * 4
    frame["professional_role"] = [None, "medical"] * 4
    return frame


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@A1", "\tx", "\rx"])
def test_formula_starts_are_neutralised(value: str) -> None:
    assert neutralise_cell(value) == "'" + value
    assert neutralise_cell("plain") == "plain"
    assert neutralise_cell(-1.5) == -1.5


def test_csv_is_neutralised_and_keeps_numbers(responses: pd.DataFrame) -> None:
    text = csv_bytes(responses[["partnership_name", "q10"]]).decode("utf-8-sig")
    back = pd.read_csv(io.StringIO(text))
    assert back["partnership_name"].tolist()[:5] == [
        "'=cmd|' /C calc'!A0",
        "North",
        "'+1",
        "'-2",
        "'@SUM(A1)",
    ]
    assert back["q10"].dtype.kind == "f"


def test_xlsx_has_one_sheet_per_table_and_no_formulas(responses: pd.DataFrame) -> None:
    workbook = openpyxl.load_workbook(
        io.BytesIO(
            xlsx_bytes({"Answers": responses, "Table 4: scales/summary": responses[["q10"]]})
        )
    )
    assert workbook.sheetnames == ["Answers", "Table 4- scales-summary"]
    sheet = workbook["Answers"]
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f"
    with pytest.raises(ValueError, match="at least one table"):
        xlsx_bytes({})


def test_sheet_names_are_unique_and_short() -> None:
    taken: set[str] = set()
    first = sheet_name("A very long sheet title that goes past the limit", taken)
    second = sheet_name("A very long sheet title that goes past the limit", taken)
    assert len(first) <= 31 and len(second) <= 31 and first != second


def test_sav_reads_back_with_variable_and_value_labels(
    responses: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "answers.sav"
    path.write_bytes(sav_bytes(responses, INSTRUMENT, scale_scores(responses, INSTRUMENT)))
    frame, meta = pyreadstat.read_sav(str(path))
    labels = meta.column_names_to_labels
    assert labels["q31"] == INSTRUMENT.item("q31").text
    assert meta.variable_value_labels["q31"][2.0] == "Disagree"
    assert meta.variable_value_labels["care_model"][1.0] == "Acute care collaborations"
    assert labels["score_inter_organisational_trust"] == (
        "Inter-Org Trust (scale score, higher is better)"
    )
    assert labels["score_inter_organisational_trust_as_printed"] == (
        "Inter-Org Trust (as the 2017 report printed it), lower is better"
    )
    assert frame["q10"].tolist() == responses["q10"].tolist()
    assert np.isnan(frame.loc[2, "q31"])
    assert frame["care_model"].tolist()[:2] == [6.0, 1.0]
    assert np.isnan(frame.loc[0, "professional_role"])


def test_sav_rejects_unknown_option(responses: pd.DataFrame) -> None:
    responses.loc[0, "care_model"] = "space-medicine"
    with pytest.raises(ValueError, match="'space-medicine' is not one of its options"):
        sav_bytes(responses, INSTRUMENT)
