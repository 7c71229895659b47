"""The same Table 4 everywhere: the page, the JSON API, every download and `trust-survey
analyse` run on the downloaded answers."""

from __future__ import annotations

import html
import io
import json
import re
from pathlib import Path

import pandas as pd
import pypdfium2  # type: ignore[import-untyped]
import pyreadstat  # type: ignore[import-untyped]
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from analysis.summary import table4
from app.cli import main
from app.instruments import instrument_named
from app.services.accounts import add_account
from app.templating import number
from tests.test_reports_support import PASSWORD, seeded_demo_round, sign_in

Figures = dict[str, tuple[str, str, str, str, str]]  # scale -> alpha, mean, median, mode, n


def _figures(scales: list[dict[str, object]]) -> Figures:
    def text(value: object, decimals: int) -> str:
        return number(value, decimals)

    return {
        str(s["scale_id"]): (
            text(s["alpha"], 3),
            text(s["mean"], 2),
            text(s["median"], 2),
            text(s["mode"], 2),
            str(s["n"]),
        )
        for s in scales
    }


def _page_figures(page: str, table_id: str = "table4") -> dict[str, dict[str, str]]:
    """Every row of a report table on a page: row key -> column key -> the text shown."""
    table = re.search(rf'<table [^>]*id="{table_id}">(.*?)</table>', page, re.S)
    assert table is not None, table_id
    found: dict[str, dict[str, str]] = {}
    for key, row in re.findall(r'<tr [^>]*data-row="([^"]+)">(.*?)</tr>', table.group(1), re.S):
        cells = re.findall(r'data-column="(\w+)">.*?<span[^>]*>([^<]*)</span></t[dh]>', row)
        found[key] = {column: html.unescape(text) for column, text in cells}
    return found


def _model_figures(data: dict[str, object], table_id: str = "table4") -> dict[str, dict[str, str]]:
    tables = data["tables"]
    assert isinstance(tables, list)
    table = next(t for t in tables if t["id"] == table_id)
    return {row["key"]: row["text"] for row in table["rows"]}


@pytest.fixture
def admin_client(client: TestClient, session: Session) -> tuple[TestClient, int]:
    round_id = seeded_demo_round(session)
    add_account(session, "admin@example.org", PASSWORD, "admin")
    sign_in(client, "admin@example.org")
    return client, round_id


def test_table4_agrees_on_page_api_downloads_and_cli(
    admin_client: tuple[TestClient, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client, round_id = admin_client
    instrument = instrument_named("trustworthy-collaboration")
    api = client.get(f"/api/v1/reports/rounds/{round_id}").json()
    expected = _figures(api["table4"]["scales"])
    assert len(expected) == len(instrument.scales)
    assert expected["inter_individual_trust"][0] == "0.833"  # the report's own Table 4 alpha

    # The page and the standalone HTML render the one table model the JSON gives; Table 4 is
    # in the report's printed (raw) direction, which the JSON gives under as_printed, and its
    # score column is the JSON's favourable-keyed mean.
    model = _model_figures(api)
    for table_id in ("table4", "scores-table", "profile-table"):
        shown = _model_figures(api, table_id)
        assert _page_figures(client.get(f"/reports/rounds/{round_id}").text, table_id) == shown
        html_file = client.get(f"/reports/rounds/{round_id}/report.html").text
        assert _page_figures(html_file, table_id) == shown
    # Each scale's sentence on the page quotes the score its Table 4 row shows.
    page = client.get(f"/reports/rounds/{round_id}").text
    for scale in instrument.scales:
        sentence = re.search(rf'<p data-reading="{scale.id}">(.*?)</p>', page, re.S)
        assert sentence is not None, scale.id
        text = re.sub(r"<[^>]+>", "", sentence.group(1))
        assert f"Score {model[scale.id]['score']} (95% CI " in html.unescape(text), scale.id
    for scale in instrument.scales:
        alpha, mean, median, mode, n = expected[scale.id]
        row = model[scale.id]
        assert (row["alpha"], row["n"]) == (alpha, n)
        assert row["score"] == mean
        printed = next(s for s in api["table4"]["scales"] if s["scale_id"] == scale.id)
        printed = printed["as_printed"]
        assert (row["mean"], row["median"], row["mode"].rstrip("*")) == (
            number(printed["mean"], 2),
            number(printed["median"], 2),
            number(printed["mode"], 2),
        )

    answers_csv = tmp_path / "answers.csv"
    answers_csv.write_bytes(client.get(f"/reports/rounds/{round_id}/answers.csv").content)
    capsys.readouterr()
    assert main(["analyse", str(answers_csv), "--format", "json"]) == 0
    assert _figures(json.loads(capsys.readouterr().out)["table4"]) == expected

    book = pd.read_excel(
        io.BytesIO(client.get(f"/reports/rounds/{round_id}/report.xlsx").content), sheet_name=None
    )
    assert {"Table 4", "Item answers", "Scale scores", "Frequencies"} <= set(book)
    # The workbook renders the same table model as the page: the figures rounded as shown.
    from_xlsx = book["Table 4"].astype(object).where(book["Table 4"].notna(), None)
    by_name = {text["scale"]: text for text in model.values()}
    assert len(from_xlsx) == len(by_name)
    for row in from_xlsx.to_dict("records"):
        shown = by_name[row["Scale"]]
        assert number(row["Alpha"], 3) == shown["alpha"]
        assert number(row["Mean"], 2) == shown["mean"]
        assert number(row["Median"], 2) == shown["median"]
        assert number(row["Mode"], 2) == shown["mode"].rstrip("*")
        assert str(row["n"]) == shown["n"]
    assert _figures(table4(book["Item answers"], instrument).to_dict()["scales"]) == expected  # type: ignore[arg-type]

    scores = pd.read_csv(io.BytesIO(client.get(f"/reports/rounds/{round_id}/scores.csv").content))
    for scale_id, (_, mean, median, _, n) in expected.items():
        assert number(float(scores[scale_id].mean()), 2) == mean
        assert number(float(scores[scale_id].median()), 2) == median
        assert str(int(scores[scale_id].notna().sum())) == n

    sav_file = tmp_path / "answers.sav"
    sav_file.write_bytes(client.get(f"/reports/rounds/{round_id}/answers.sav").content)
    frame, meta = pyreadstat.read_sav(str(sav_file))
    assert meta.column_names_to_labels["q26"] == instrument.item("q26").text
    assert meta.variable_value_labels["q26"][1.0] == "Strongly disagree"
    assert _figures(table4(frame, instrument).to_dict()["scales"]) == expected  # type: ignore[arg-type]
    for scale_id, (_, mean, *_rest) in expected.items():
        assert number(float(frame[f"score_{scale_id}"].mean()), 2) == mean

    pdf = pypdfium2.PdfDocument(client.get(f"/reports/rounds/{round_id}/report.pdf").content)
    text = " ".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    text = re.sub(r"\s+", " ", text)
    for row in model.values():
        mean, median, mode, n = row["mean"], row["median"], row["mode"], row["n"]
        assert re.search(rf"{re.escape(mean)} {re.escape(median)} {re.escape(mode)} {n} ", text)
        if row["alpha"] != "-":
            assert row["alpha"] in text
