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
from app.reports.rendering import number
from app.services.coordinators import add_coordinator
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


def _page_figures(page: str) -> Figures:
    found: Figures = {}
    for scale_id, row in re.findall(r'<tr data-scale="([^"]+)">(.*?)</tr>', page, re.S):
        cells = dict(re.findall(r'<td data-stat="(\w+)">([^<]*)</td>', row))
        alpha = html.unescape(cells["alpha"]).split(" (")[0]
        found[scale_id] = (
            alpha,
            cells["mean"],
            cells["median"],
            cells["mode"].rstrip("*"),
            cells["n"],
        )
    return found


@pytest.fixture
def admin_client(client: TestClient, session: Session) -> tuple[TestClient, int]:
    round_id = seeded_demo_round(session)
    add_coordinator(session, "admin@example.org", PASSWORD, "admin")
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

    assert _page_figures(client.get(f"/reports/rounds/{round_id}").text) == expected
    assert _page_figures(client.get(f"/reports/rounds/{round_id}/report.html").text) == expected

    answers_csv = tmp_path / "answers.csv"
    answers_csv.write_bytes(client.get(f"/reports/rounds/{round_id}/answers.csv").content)
    capsys.readouterr()
    assert main(["analyse", str(answers_csv), "--format", "json"]) == 0
    assert _figures(json.loads(capsys.readouterr().out)["table4"]) == expected

    book = pd.read_excel(
        io.BytesIO(client.get(f"/reports/rounds/{round_id}/report.xlsx").content), sheet_name=None
    )
    assert {"Table 4", "Item answers", "Scale scores", "Frequencies"} <= set(book)
    from_xlsx = book["Table 4"].astype(object).where(book["Table 4"].notna(), None)
    assert _figures(from_xlsx.to_dict("records")) == expected
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
    for alpha, mean, median, mode, n in expected.values():
        assert re.search(rf"{re.escape(mean)} {re.escape(median)} {re.escape(mode)}\*? {n} ", text)
        if alpha != "-":
            assert alpha in text
