"""The report's downloadable files, read back as their users' tools read them: the workbook
with openpyxl (formats, frozen panes, widths, labels, notes, no formulas), the CSV with the csv
module (whole-number codes), the .sav with pyreadstat (formats, measures, missing values), the
file names from Content-Disposition; and which files a round offers at all."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pyreadstat
import pytest
from docx.oxml.ns import qn
from fastapi.testclient import TestClient
from sqlmodel import Session

from analysis.exports import missing_code, sav_bytes
from analysis.instrument import load_instrument
from analysis.xlsx import (
    Column,
    SheetTable,
    frame_sheet,
    round_half_away,
    table_sheet,
    xlsx_workbook,
)
from app.models import Partnership, SurveyRound
from app.services.accounts import add_account
from app.services.demo import DEMO_PARTNERSHIP
from app.services.reports import RoundReport
from tests.conftest import SurveySetUp, full_answers
from tests.test_reports_support import PASSWORD, add_responses, seeded_demo_round, sign_in

INSTRUMENT = load_instrument("trustworthy-collaboration")
ROW_FILES = ("answers.csv", "scores.csv", "answers.sav")
REPORT_FILES = ("report.pdf", "report.html", "report.xlsx", "report.docx")


@pytest.fixture
def demo_round(client: TestClient, session: Session) -> int:
    round_id = seeded_demo_round(session)
    add_account(session, "an@example.org", PASSWORD, "analyst")
    sign_in(client, "an@example.org")
    return round_id


def _workbook(client: TestClient, round_id: int) -> openpyxl.Workbook:
    answer = client.get(f"/reports/rounds/{round_id}/report.xlsx")
    assert answer.status_code == 200
    return openpyxl.load_workbook(io.BytesIO(answer.content))


def _header(sheet: object) -> list[object]:
    return [cell.value for cell in next(sheet.iter_rows(max_row=1))]  # type: ignore[attr-defined]


def _column(sheet: object, title: str) -> list[object]:
    header = _header(sheet)
    index = header.index(title)
    return [row[index].value for row in sheet.iter_rows(min_row=2)]  # type: ignore[attr-defined]


def test_workbook_is_labelled_rounded_formatted_and_frozen(
    client: TestClient, demo_round: int
) -> None:
    book = _workbook(client, demo_round)
    assert book.sheetnames[:3] == ["Table 4", "Scores", "Trust profile"]
    assert {"Frequencies", "Item answers", "Scale scores", "Questions", "Notes"} <= set(
        book.sheetnames
    )
    assert "Gaps by organisation type" in book.sheetnames

    table4 = book["Table 4"]
    assert table4.freeze_panes == "B2"
    header = _header(table4)
    assert header[:4] == ["Scale", "Items", "Alpha", "Mean"]
    means = _column(table4, "Mean")
    assert len(means) == len(INSTRUMENT.scales)
    for mean in means:
        assert isinstance(mean, int | float) and mean == round(mean, 2)  # no 16-digit floats
    assert table4.cell(row=2, column=header.index("Mean") + 1).number_format == "0.00"
    assert table4.cell(row=2, column=header.index("Alpha") + 1).number_format == "0.000"
    assert table4.cell(row=2, column=header.index("n") + 1).number_format == "0"
    assert table4.column_dimensions["A"].width >= len("Financial and Quality Rating")
    assert table4.cell(row=1, column=1).font.b  # a bold header
    names = {scale.name for scale in INSTRUMENT.scales}
    assert set(_column(table4, "Scale")) == names
    scores = book["Scores"]
    low = _column(scores, "Score: 95% CI lower")
    assert all(v is None or v == round(v, 2) for v in low)

    frequencies = book["Frequencies"]
    assert frequencies.freeze_panes == "A2"
    percents = [p for p in _column(frequencies, "Percent of answers") if p is not None]
    assert percents and all(p == round(p, 1) for p in percents)
    assert (
        frequencies.cell(row=2, column=_header(frequencies).index("Percent") + 1).number_format
        == "0.0"
    )

    answers = book["Item answers"]
    assert answers.freeze_panes == "B2"
    assert _header(answers)[0] == "Respondent"
    assert _column(answers, "Respondent") == list(range(1, 40))
    codes = [c for c in _column(answers, "q10") if c is not None]
    assert codes and all(isinstance(c, int) and 1 <= c <= 5 for c in codes)
    assert answers.cell(row=2, column=_header(answers).index("q10") + 1).number_format == "0"
    organisation_type = next(q for q in INSTRUMENT.background if q.id == "organisation_type")
    shown = {v for v in _column(answers, "Organisation type") if v is not None}
    assert shown and shown <= {o.label for o in organisation_type.options}
    slugs = {o.value for q in INSTRUMENT.background for o in q.options if o.value != o.label}
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f"
                assert cell.value not in slugs, f"{sheet.title}!{cell.coordinate}: {cell.value}"

    respondents = book["Scale scores"]
    assert [h for h in _header(respondents)[1:] if "printed" not in str(h)] == [
        s.name for s in INSTRUMENT.scales
    ]
    assert respondents.cell(row=2, column=2).number_format == "0.00"
    questions = _column(book["Questions"], "Question")
    assert INSTRUMENT.item("q22").text in questions

    notes = [str(n) for n in _column(book["Notes"], "Note")]
    assert notes[0].startswith(DEMO_PARTNERSHIP)
    assert any("No figure is shown for fewer than 5 people." in n for n in notes)
    assert any("rounded as in the report" in n for n in notes)
    assert any(n.startswith("Table 4: reliability") for n in notes)  # its caption, named once


def test_workbook_text_is_neutralised_against_formulas(
    client: TestClient, session: Session, demo_round: int
) -> None:
    survey_round = session.get(SurveyRound, demo_round)
    assert survey_round is not None
    partnership = session.get(Partnership, survey_round.partnership_id)
    assert partnership is not None
    partnership.name = '=HYPERLINK("http://evil.example","x")'
    survey_round.title = "@SUM(A1)"
    session.add_all([partnership, survey_round])
    session.commit()
    book = _workbook(client, demo_round)
    first_note = str(book["Notes"].cell(row=2, column=1).value)
    assert first_note.startswith("'=HYPERLINK(")
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f"
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(("=", "+", "-", "@")), cell.value
    disposition = client.get(f"/reports/rounds/{demo_round}/report.xlsx").headers[
        "content-disposition"
    ]
    assert re.fullmatch(r'attachment; filename="[a-z0-9_.-]+"', disposition), disposition


def test_answers_csv_writes_codes_as_whole_numbers(client: TestClient, demo_round: int) -> None:
    text = client.get(f"/reports/rounds/{demo_round}/answers.csv").content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 39
    assert [row["respondent"] for row in rows] == [str(i) for i in range(1, 40)]
    seen_blank = False
    for row in rows:
        for item in INSTRUMENT.item_ids:
            assert row[item] == "" or re.fullmatch(r"[1-5]", row[item]), (item, row[item])
            seen_blank |= row[item] == ""
    assert seen_blank  # the demo has missing answers: blank, not "nan"
    assert ".0" not in text
    scores = pd.read_csv(
        io.StringIO(
            client.get(f"/reports/rounds/{demo_round}/scores.csv").content.decode("utf-8-sig")
        )
    )
    assert scores["respondent"].dtype.kind == "i"


def test_sav_has_integer_formats_ordinal_items_missing_values_and_respondents(
    client: TestClient, demo_round: int, tmp_path: Path
) -> None:
    path = tmp_path / "answers.sav"
    path.write_bytes(client.get(f"/reports/rounds/{demo_round}/answers.sav").content)
    frame, _ = pyreadstat.read_sav(str(path))  # as most readers do: user-missing is NaN
    raw, meta = pyreadstat.read_sav(str(path), user_missing=True)
    assert frame.columns[0] == "respondent"
    assert frame["respondent"].tolist() == list(range(1, 40))
    formats = meta.original_variable_types
    measures = meta.variable_measure
    assert formats["respondent"] == "F2.0"
    for item in INSTRUMENT.item_ids:
        assert formats[item] == "F1.0", (item, formats[item])
        assert measures[item] == "ordinal"
        assert meta.missing_ranges[item] == [{"lo": 9.0, "hi": 9.0}]
        assert meta.variable_value_labels[item][9.0] == "No answer"
    for question in INSTRUMENT.background:
        if question.kind != "choice":
            continue
        code = missing_code(len(question.options))  # 9, or 99 beside 9 or more options
        assert formats[question.id] == f"F{len(str(code))}.0", question.id
        assert measures[question.id] == "nominal"
        assert meta.missing_ranges[question.id] == [{"lo": code, "hi": code}]
        assert meta.variable_value_labels[question.id][code] == "Not stated or withheld"
    for scale in INSTRUMENT.scales:
        assert formats[f"score_{scale.id}"] == "F5.2"
        assert measures[f"score_{scale.id}"] == "scale"
    blank = frame[INSTRUMENT.item_ids].isna().to_numpy()
    assert blank.any()  # the demo has unanswered items: missing for SPSS, 9 in the file
    assert (raw[INSTRUMENT.item_ids].to_numpy()[blank] == 9).all()
    assert (raw[INSTRUMENT.item_ids].to_numpy()[~blank] <= 5).all()


def test_file_names_say_partnership_round_and_date(client: TestClient, demo_round: int) -> None:
    for name in (*REPORT_FILES, *ROW_FILES):
        answer = client.get(f"/reports/rounds/{demo_round}/{name}")
        assert answer.status_code == 200, name
        disposition = answer.headers["content-disposition"]
        match = re.fullmatch(r'attachment; filename="([^"]+)"', disposition)
        assert match, disposition
        file_name = match.group(1)
        assert file_name.startswith("northshire-health-and-care-partnership-demo_demo-round")
        assert re.search(r"_\d{4}-\d{2}-\d{2}_" + re.escape(name) + "$", file_name), file_name
        assert not file_name.startswith("round-")


def _not_offered(client: TestClient, round_id: int, name: str) -> bool:
    """A file the round does not offer sends the reader to the report's downloads."""
    answer = client.get(f"/reports/rounds/{round_id}/{name}", follow_redirects=False)
    return answer.status_code == 303 and answer.headers["location"] == (
        f"/reports/rounds/{round_id}#download"
    )


def test_below_the_threshold_no_file_is_offered(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    small = make_round()
    add_responses(session, small.round_id, [full_answers(2)] * 4, [{}] * 4)
    add_account(session, "an@example.org", PASSWORD, "analyst")
    sign_in(client, "an@example.org")
    page = client.get(f"/reports/rounds/{small.round_id}").text
    assert 'id="downloads"' not in page and 'id="no-downloads"' in page
    for name in (*REPORT_FILES, *ROW_FILES):
        assert f"/{name}" not in page
        assert _not_offered(client, small.round_id, name), name
    assert "No files to download yet." in page  # open: results come when it closes
    from app.services import rounds

    rounds.close_round(session, small.round_id)
    closed = client.get(f"/reports/rounds/{small.round_id}").text
    assert "Fewer than 5 responses: there are no files to download" in closed
    assert client.get(f"/reports/rounds/{small.round_id}/nothing.txt").status_code == 404
    for name in (*REPORT_FILES, *ROW_FILES):
        assert f"/{name}" not in closed
        assert _not_offered(client, small.round_id, name), name


def test_interim_results_offer_the_report_but_no_row_level_file(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    from app.services import releases

    interim = make_round()
    releases.set_release_policy(session, interim.round_id, "interim")
    add_responses(
        session, interim.round_id, [full_answers(v) for v in (1, 2, 3, 4, 5, 4)], [{}] * 6
    )
    add_account(session, "an@example.org", PASSWORD, "analyst")
    sign_in(client, "an@example.org")
    page = client.get(f"/reports/rounds/{interim.round_id}").text
    assert 'id="downloads"' in page
    for name in REPORT_FILES:
        assert f"/{name}" in page
        assert client.get(f"/reports/rounds/{interim.round_id}/{name}").status_code == 200, name
    for name in ROW_FILES:
        assert f"/{name}" not in page
        assert _not_offered(client, interim.round_id, name), name
    book = _workbook(client, interim.round_id)
    assert "Item answers" not in book.sheetnames and "Scale scores" not in book.sheetnames


def test_word_document_has_the_cover_the_tables_and_the_figures_as_shown(
    client: TestClient, demo_round: int
) -> None:
    import docx

    answer = client.get(f"/reports/rounds/{demo_round}/report.docx")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    document = docx.Document(io.BytesIO(answer.content))
    text = "\n".join(p.text for p in document.paragraphs)
    assert DEMO_PARTNERSHIP in text and "Generated: " in text
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert "Table 4" in headings and "Trust profile" in headings and "Notes" in headings
    assert "Scores" in headings
    assert any(h.startswith("q22: ") for h in headings)
    table4 = document.tables[0]
    header = [c.text for c in table4.rows[0].cells]
    assert header[:2] == ["Scale", "Items"]
    assert table4.rows[0]._tr.trPr.find(docx.oxml.ns.qn("w:tblHeader")) is not None
    api = client.get(f"/api/v1/reports/rounds/{demo_round}").json()
    model = next(t for t in api["tables"] if t["id"] == "table4")  # the page's own table
    expected = {row["text"]["scale"]: row["text"]["mean"] for row in model["rows"]}
    shown = {row.cells[0].text: row.cells[header.index("Mean")].text for row in table4.rows[1:]}
    assert shown == expected


def test_word_and_workbook_frequency_tables_say_the_pages_plain_words(
    client: TestClient, demo_round: int
) -> None:
    """The Word document's frequency tables, and the workbook's Frequencies sheet, are headed
    and worded as the page's (Answered / No answer / Left blank, Percent of answers), never
    SPSS's Valid / Missing System."""
    import docx

    from analysis.frequencies import PLAIN_HEADERS, PLAIN_SYSTEM_MISSING

    document = docx.Document(
        io.BytesIO(client.get(f"/reports/rounds/{demo_round}/report.docx").content)
    )
    headers = [PLAIN_HEADERS[k] for k in PLAIN_HEADERS]
    frequency_tables = [t for t in document.tables if [c.text for c in t.rows[0].cells] == headers]
    assert len(frequency_tables) == len(INSTRUMENT.items)
    cells = [c.text for t in frequency_tables for row in t.rows[1:] for c in row.cells]
    assert "Answered" in cells and "No answer" in cells  # q19 has a missing answer
    assert PLAIN_SYSTEM_MISSING in cells
    assert not {"Valid", "Missing", "System"} & set(cells)
    page = client.get(f"/reports/rounds/{demo_round}").text
    assert "Valid percent" not in page  # the page already says it plainly

    book = _workbook(client, demo_round)
    header = _header(book["Frequencies"])
    for key in ("frequency", "percent", "valid_percent", "cumulative_percent"):
        assert PLAIN_HEADERS[key] in header
    assert not [h for h in header if "Valid" in str(h)]


def test_files_work_for_a_round_on_another_instrument(
    client: TestClient, session: Session, tmp_path: Path
) -> None:
    """Another response scale (1-3), other items, scales and background questions."""
    from app.instruments import instrument_version
    from app.services import partnerships, rounds

    other = instrument_version("partnership-self-check", "2017.1")
    partnership = partnerships.create_partnership(session, "Self-check partnership", "other")
    assert partnership.id is not None
    survey_round = rounds.open_round(
        session,
        partnership.id,
        title="Autumn self-check",
        opens_on=date.today() - timedelta(days=1),
        closes_on=date.today() + timedelta(days=5),
        anonymity_threshold=5,
        instrument_id=other.id,
        instrument_version=other.version,
    )
    assert survey_round.id is not None
    rng = np.random.default_rng(5)
    answers = []
    for _ in range(8):
        given = {}
        for item in other.items:
            scale = other.response_scale_of(item.id)
            given[item.id] = int(rng.integers(scale.min, scale.max + 1))
        answers.append(given)
    choice = next(q for q in other.background if q.kind == "choice")
    background = [{choice.id: choice.options[0].value} for _ in answers]
    for response, about in zip(answers, background, strict=True):
        add_responses(session, survey_round.id, [response], [about])
    assert other.version == "2017.1"  # the version add_responses stores
    rounds.close_round(session, survey_round.id)
    add_account(session, "an@example.org", PASSWORD, "analyst")
    sign_in(client, "an@example.org")
    base = f"/reports/rounds/{survey_round.id}"
    for name in (*REPORT_FILES, *ROW_FILES):
        answer = client.get(f"{base}/{name}")
        assert answer.status_code == 200, (name, answer.text[:300])
        assert "autumn-self-check" in answer.headers["content-disposition"]
    book = _workbook(client, survey_round.id)
    assert _column(book["Item answers"], "Respondent") == list(range(1, 9))
    sav_file = tmp_path / "other.sav"
    sav_file.write_bytes(client.get(f"{base}/answers.sav").content)
    _, meta = pyreadstat.read_sav(str(sav_file), user_missing=True)
    for item in other.items:
        assert meta.original_variable_types[item.id] == "F1.0"
        assert meta.variable_measure[item.id] == "ordinal"
        labels = other.response_scale_of(item.id).labels
        assert {k: v for k, v in meta.variable_value_labels[item.id].items() if k != 9} == {
            float(k): v for k, v in labels.items()
        }
    text = client.get(f"{base}/answers.csv").content.decode("utf-8-sig")
    assert ".0" not in text
    page = client.get(base).text  # its Table 4 is not "as the 2017 report printed it"
    assert "Table 4: each scale's items" in page and "2017 report printed" not in page


# The writer itself ------------------------------------------------------------------------


def test_rounding_is_half_away_from_zero() -> None:
    values = np.array([2.675, 2.665, -2.675, 0.125, 1.0, np.nan, 3.335])
    assert round_half_away(values, 2)[:5].tolist() == [2.68, 2.67, -2.68, 0.13, 1.0]
    assert np.isnan(round_half_away(values, 2)[5])
    assert round_half_away(np.array([0.5, 1.5, 2.5, -0.5]), 0).tolist() == [1, 2, 3, -1]


def test_writer_keeps_text_safe_and_numbers_numbers(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "name": ["=1+1", "+SUM(A1)", " padded ", "bell\x07and\x00nul", None, "a & <b>"],
            "value": [1.23456, 2.0, np.nan, -0.005, 1e6, 3.0],
            "code": [1, 2, 3, 4, 5, 6],
        }
    )
    columns = (
        Column("name", "=Name"),
        Column("value", "Value", "number", 2),
        Column("code", "Code", "number", 0),
    )
    book = openpyxl.load_workbook(io.BytesIO(xlsx_workbook([SheetTable("A/B:C", columns, frame)])))
    sheet = book["A-B-C"]
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0] == ["'=Name", "Value", "Code"]
    assert [row[0] for row in values[1:]] == [
        "'=1+1",
        "'+SUM(A1)",
        " padded ",
        "bellandnul",
        None,
        "a & <b>",
    ]
    assert [row[1] for row in values[1:]] == [1.23, 2, None, -0.01, 1000000, 3]
    assert [row[2] for row in values[1:]] == [1, 2, 3, 4, 5, 6]
    assert sheet.freeze_panes == "A2"
    with pytest.raises(ValueError, match="at least one table"):
        xlsx_workbook([])
    with pytest.raises(ValueError, match="no column missing"):
        SheetTable("x", (Column("missing", "Missing"),), frame)


def test_frame_sheet_chooses_the_fewest_decimals() -> None:
    frame = pd.DataFrame(
        {"a": [1.0, 2.0], "b": [43.6, 12.5], "c": [0.123456, 1.0], "d": ["x", "y"]}
    )
    sheet = frame_sheet("t", frame)
    assert [(c.kind, c.decimals) for c in sheet.columns] == [
        ("number", 0),
        ("number", 1),
        ("number", 3),
        ("text", 0),
    ]


def test_sav_missing_codes_widen_with_the_scale() -> None:
    assert missing_code(5) == 9
    assert missing_code(9) == 99
    assert missing_code(10) == 99
    assert missing_code(99) == 999


def test_sav_of_a_frame_without_respondents(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        np.random.default_rng(3).integers(1, 6, size=(6, len(INSTRUMENT.item_ids))).astype(float),
        columns=INSTRUMENT.item_ids,
    )
    frame.loc[0, "q10"] = np.nan
    path = tmp_path / "x.sav"
    path.write_bytes(sav_bytes(frame, INSTRUMENT))
    back, meta = pyreadstat.read_sav(str(path))
    assert "respondent" not in back.columns
    assert np.isnan(back.loc[0, "q10"]) and meta.original_variable_types["q10"] == "F1.0"


class _ModelTable:
    """What a report table model gives a workbook (analysis.report_tables.ReportTable)."""

    title = "Scale scores with their 95% confidence intervals"

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"Scale": ["Competition", "Integrity"], "Score": [3.214285, 2.5], "n": [39, 38]}
        )

    def frame_number_formats(self) -> dict[str, str | None]:
        return {"Scale": None, "Score": "0.00", "n": "0"}


def test_a_report_table_becomes_a_sheet_rounded_to_its_formats() -> None:
    sheet = table_sheet(_ModelTable())
    assert [(c.label, c.kind, c.decimals) for c in sheet.columns] == [
        ("Scale", "text", 0),
        ("Score", "number", 2),
        ("n", "number", 0),
    ]
    book = openpyxl.load_workbook(io.BytesIO(xlsx_workbook([sheet])))
    written = book.worksheets[0]
    assert written.title == "Scale scores with their 95% con"  # Excel's 31 characters
    assert [c.value for c in written[2]] == ["Competition", 3.21, 39]
    assert written["B2"].number_format == "0.00" and written.freeze_panes == "B2"


def test_a_sheet_name_fits_excels_limit_and_says_when_it_was_cut() -> None:
    from app.reports.documents import _fit_sheet_name

    assert _fit_sheet_name("Gaps by organisation type") == "Gaps by organisation type"
    cut = _fit_sheet_name("Gaps by the kind of organisation you work for")
    assert len(cut) <= 31 and cut.endswith("\u2026") and cut.startswith("Gaps by the kind")


# One direction rule in the files ----------------------------------------------------------


def _page_table(client: TestClient, round_id: int, table_id: str) -> dict[str, object]:
    """A table as the report page shows it (the API gives the page's own table model)."""
    api = client.get(f"/api/v1/reports/rounds/{round_id}").json()
    table: dict[str, object] = next(t for t in api["tables"] if t["id"] == table_id)
    return table


def _reflected(scale_id: str) -> bool:
    """Whether Table 4 printed this scale's mean against the favourable direction (its items
    all reverse-keyed, or low favourable: not both)."""
    scale = INSTRUMENT.scale(scale_id)
    all_reversed = all(INSTRUMENT.item(i).reverse_keyed for i in scale.items)
    return all_reversed != (scale.favourable == "low")


def _check_scores(
    frame: pd.DataFrame,
    favourable_column: Callable[[str], str],
    printed_column: Callable[[str], str],
    table4: dict[str, object],
) -> None:
    """Each scale's favourable column averages to the page's score, and where Table 4 printed
    the other way its printed-direction column is the reflection, averaging to Table 4's mean."""
    from analysis.frequencies import spss_round

    rows = {row["key"]: row["text"] for row in table4["rows"]}  # type: ignore[attr-defined]
    flipped = [s.id for s in INSTRUMENT.scales if _reflected(s.id)]
    assert flipped  # the demo instrument has both kinds
    for scale in INSTRUMENT.scales:
        favourable = pd.to_numeric(frame[favourable_column(scale.id)])
        assert spss_round(float(favourable.mean()), 2) == rows[scale.id]["score"], scale.id
        if scale.id in flipped:
            printed = pd.to_numeric(frame[printed_column(scale.id)])
            assert spss_round(float(printed.mean()), 2) == rows[scale.id]["mean"], scale.id
            both = favourable.notna()
            assert np.allclose(printed[both], 6 - favourable[both])  # a 1-5 scale reflected
            assert printed.isna().equals(favourable.isna())
        else:
            assert printed_column(scale.id) not in frame.columns, scale.id
            assert rows[scale.id]["mean"] == rows[scale.id]["score"], scale.id


def test_row_level_scores_are_favourable_keyed_with_table4s_direction_beside(
    client: TestClient, demo_round: int, tmp_path: Path
) -> None:
    table4 = _page_table(client, demo_round, "table4")
    base = f"/reports/rounds/{demo_round}"
    assert "Table 4 as the 2017 report printed it:" in client.get(base).text
    names = {s.id: s.name for s in INSTRUMENT.scales}

    csv_frame = pd.read_csv(io.BytesIO(client.get(f"{base}/scores.csv").content))
    _check_scores(csv_frame, lambda s: s, lambda s: f"{s}_as_printed", table4)
    assert list(csv_frame.columns[:2]) == ["respondent", INSTRUMENT.scales[0].id]

    records = client.get(f"/api/v1/reports/rounds/{demo_round}/scores").json()["records"]
    _check_scores(
        pd.DataFrame.from_records(records), lambda s: s, lambda s: f"{s}_as_printed", table4
    )

    book = _workbook(client, demo_round)
    sheet = book["Scale scores"]
    rows = list(sheet.iter_rows(values_only=True))
    workbook_frame = pd.DataFrame(rows[1:], columns=rows[0])
    printed_label = "{} (as the 2017 report printed it)"  # the instrument's benchmark label
    _check_scores(
        workbook_frame, lambda s: names[s], lambda s: printed_label.format(names[s]), table4
    )
    header = list(rows[0])
    for scale in INSTRUMENT.scales:  # the printed direction right beside its score
        if _reflected(scale.id):
            position = header.index(scale.name)
            assert header[position + 1] == printed_label.format(scale.name)
    notes = [str(n) for n in _column(book["Notes"], "Note")]
    rule = next(n for n in notes if "Every score is favourable-keyed" in n)
    assert "higher is better on every scale" in rule
    assert "as the 2017 report printed it" in rule
    assert "own direction" not in " ".join(notes)

    path = tmp_path / "answers.sav"
    path.write_bytes(client.get(f"{base}/answers.sav").content)
    frame, meta = pyreadstat.read_sav(str(path))
    _check_scores(frame, lambda s: f"score_{s}", lambda s: f"score_{s}_as_printed", table4)
    labels = meta.column_names_to_labels
    for scale in INSTRUMENT.scales:
        assert labels[f"score_{scale.id}"] == f"{scale.name} (scale score, higher is better)"
        if _reflected(scale.id):
            printed = f"score_{scale.id}_as_printed"
            assert labels[printed] == printed_label.format(scale.name) + ", lower is better"
            assert meta.original_variable_types[printed] == "F5.2"
            assert meta.variable_measure[printed] == "scale"
    assert any(n.startswith("Every score is favourable-keyed") for n in meta.notes)


def test_footnote_marks_reach_the_workbook_and_the_word_document(
    client: TestClient, demo_round: int
) -> None:
    import docx

    page = _page_table(client, demo_round, "asymmetry-organisation_type")
    columns = {c["key"]: c["label"] for c in page["columns"]}  # type: ignore[attr-defined]
    marked = {
        (row["text"]["scale"], key)
        for row in page["rows"]  # type: ignore[attr-defined]
        for key, text in row["text"].items()
        if text.endswith("◆")
    }
    assert marked  # the demo has clear gaps, marked on the page

    sheet = _workbook(client, demo_round)["Gaps by organisation type"]
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    in_book = set()
    for row in rows[1:]:
        for key, label in columns.items():
            mark_column = f"{label.removesuffix(' (95% CI)')}: mark"
            if mark_column in header and row[header.index(mark_column)] == "◆":
                in_book.add((row[0], key))
    assert in_book == marked
    notes = [str(n) for n in _column(_workbook(client, demo_round)["Notes"], "Note")]
    assert any("◆: the interval excludes zero" in n for n in notes)

    document = docx.Document(
        io.BytesIO(client.get(f"/reports/rounds/{demo_round}/report.docx").content)
    )
    body = list(document.element.body.iterchildren())
    heading = next(
        i
        for i, element in enumerate(body)
        if element.tag == qn("w:p") and _text(element) == "Gaps by organisation type"
    )
    table_element = next(e for e in body[heading:] if e.tag == qn("w:tbl"))
    table = next(t for t in document.tables if t._tbl is table_element)
    labels = [c.text for c in table.rows[0].cells]
    in_word = {
        (row.cells[0].text, key)
        for row in table.rows[1:]
        for key, label in columns.items()
        if label in labels and row.cells[labels.index(label)].text.endswith("◆")
    }
    assert in_word == marked
    after = body.index(table_element) + 1
    under = _text(body[after])  # the table's notes come right under it
    assert "◆: the interval excludes zero" in under


def _text(element: object) -> str:
    from docx.text.paragraph import Paragraph

    return Paragraph(element, None).text  # type: ignore[arg-type]


def test_a_marked_cell_keeps_its_mark_in_a_sheet() -> None:
    from analysis.report_tables import Column as ReportColumn
    from analysis.report_tables import ReportTable, Row

    table = ReportTable(
        "t",
        "Modes",
        (ReportColumn("scale", "Scale"), ReportColumn("mode", "Mode", "number", 2)),
        (
            Row("a", {"scale": "A", "mode": 2.0}, {"mode": "*"}),
            Row("b", {"scale": "B", "mode": 3.0}),
        ),
        ("* Several modes: the smallest is shown.",),
    )
    book = openpyxl.load_workbook(io.BytesIO(xlsx_workbook([table_sheet(table)])))
    values = [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
    assert values == [["Scale", "Mode", "Mode: mark"], ["A", 2, "*"], ["B", 3, None]]


def test_a_long_heading_wraps_in_a_taller_header_row_not_over_the_figures() -> None:
    frame = pd.DataFrame({"scale": ["Competition"], "mark": ["◆"], "n": [39]})
    columns = (
        Column("scale", "Scale"),
        Column("mark", "Commissioner (CCG or integrated care board) (n = 6): mark"),
        Column("n", "n"),
    )
    book = openpyxl.load_workbook(io.BytesIO(xlsx_workbook([SheetTable("t", columns, frame)])))
    sheet = book.worksheets[0]
    width = sheet.column_dimensions["B"].width
    assert width <= 16  # the heading wraps: a one-character column is not 60 wide
    height = sheet.row_dimensions[1].height
    assert height is not None and height >= 15 * 4  # room for every line of the heading
    assert sheet.row_dimensions[2].height is None  # figures' rows keep the default
    one_line = openpyxl.load_workbook(
        io.BytesIO(xlsx_workbook([SheetTable("t", columns[:1], frame)]))
    ).worksheets[0]
    assert one_line.row_dimensions[1].height is None


def test_a_row_of_wrapped_text_is_tall_enough_for_its_lines() -> None:
    long_note = "A note that is long enough to wrap over several lines of a narrow column. " * 3
    frame = pd.DataFrame({"note": [long_note, "Short.", None]})
    columns = (Column("note", "Note", width=30, wrap=True),)
    sheet = openpyxl.load_workbook(
        io.BytesIO(xlsx_workbook([SheetTable("Notes", columns, frame)]))
    ).worksheets[0]
    assert sheet["A2"].alignment.wrap_text
    height = sheet.row_dimensions[2].height
    assert height is not None and height >= 15 * (len(long_note) // 28)  # every line shows
    assert sheet.row_dimensions[3].height is None and sheet.row_dimensions[4].height is None


def test_a_sheet_prints_one_page_wide_on_a4() -> None:
    frame = pd.DataFrame({"note": ["x" * 90], "n": [1]})
    wide = (Column("note", "Note", width=90, wrap=True), Column("n", "n", "number", 0))
    very_wide = tuple(Column("n", f"n{i}", "number", 0, width=30) for i in range(8))
    many = openpyxl.load_workbook(
        io.BytesIO(xlsx_workbook([SheetTable("many", very_wide, frame[["n"]])]))
    ).worksheets[0]
    assert many.page_setup.orientation == "landscape"
    assert not many.sheet_properties.pageSetUpPr.fitToPage  # across pages, not tiny
    book = openpyxl.load_workbook(
        io.BytesIO(
            xlsx_workbook(
                [SheetTable("Notes", wide, frame), SheetTable("n", wide[1:], frame[["n"]])]
            )
        )
    )
    for sheet, orientation in zip(book.worksheets, ("landscape", "portrait"), strict=True):
        assert sheet.sheet_properties.pageSetUpPr.fitToPage
        assert sheet.page_setup.fitToWidth == 1 and sheet.page_setup.fitToHeight == 0
        assert sheet.page_setup.paperSize == 9  # A4
        assert sheet.page_setup.orientation == orientation


def _word(report: RoundReport) -> Any:
    import docx

    from app.reports import documents

    return docx.Document(io.BytesIO(documents.docx(report)))


def test_word_table_rows_are_as_tall_with_empty_cells_as_without(demo_report: RoundReport) -> None:
    """An empty cell's paragraph is set in the table's small size too: otherwise its paragraph
    mark keeps the body size and its row stands taller than the rest (the frequency tables'
    Total rows, a gap hidden to protect respondents)."""
    document = _word(demo_report)
    sizes: dict[str, set[object]] = {"empty": set(), "filled": set()}
    for table in document.tables:
        for row in table.rows:
            for cell in row.cells:
                for paragraph in cell.paragraphs:
                    marks = paragraph._p.pPr
                    mark = marks.find(qn("w:rPr")) if marks is not None else None
                    size = mark.find(qn("w:sz")) if mark is not None else None
                    key = "filled" if paragraph.text else "empty"
                    sizes[key].add(None if size is None else size.get(qn("w:val")))
                    for run in paragraph.runs:
                        sizes[key].add(str(int(run.font.size.pt * 2)))
    assert sizes["empty"], "the demo has empty cells (frequency tables' Total rows)"
    assert sizes["empty"] == sizes["filled"] == {"16"}


def test_every_file_gives_the_pages_cautions(demo_report: RoundReport) -> None:
    """The page's "Read these figures with care" lists the round's cautions and each scale's
    (the demo's Ability behaviours alpha); the Word document and the workbook's Notes say the
    same, not only the round's."""
    from app.reports import documents

    report = demo_report
    page_cautions = report.all_cautions
    assert any(c.startswith("Ability behaviours: Cronbach's alpha is 0.667") for c in page_cautions)
    document = _word(report)
    paragraphs = [p.text for p in document.paragraphs]
    start = paragraphs.index("Read these figures with care")
    assert paragraphs[start + 1 : start + 1 + len(page_cautions)] == page_cautions
    book = openpyxl.load_workbook(io.BytesIO(documents.workbook(report)))
    notes = _column(book["Notes"], "Note")
    assert all(c in notes for c in page_cautions)


def test_sheets_and_headings_name_questions_as_the_page_does(demo_report: RoundReport) -> None:
    """A gaps table's sheet and Word heading name its question as the page does ("professional
    background"), never by its id ("professional_role" read as "professional role"); and a
    table's note in the Notes sheet does not repeat a name its caption already starts with."""
    from app.reports import documents

    report = demo_report
    book = openpyxl.load_workbook(io.BytesIO(documents.workbook(report)))
    assert "Gaps by professional background" in book.sheetnames
    assert not [s for s in book.sheetnames if "role" in s]
    answers_header = _header(book["Item answers"])
    assert "Professional background" in answers_header  # as the withheld-answers note says
    assert "Professional role" not in answers_header
    headings = [p.text for p in _word(report).paragraphs if p.style.name.startswith("Heading")]
    assert "Gaps by professional background" in headings
    notes = [str(n) for n in _column(book["Notes"], "Note")]
    assert not [n for n in notes if n.startswith("Table 4: Table 4")]
    assert any(n.startswith("Table 4: reliability, mean, median and mode") for n in notes)


def test_an_items_frequency_table_is_one_model_for_the_page_and_word(
    demo_report: RoundReport,
) -> None:
    """Every item's frequency table is one :class:`ReportTable` in the page's plain words
    (:func:`frequency_report_table`); the Word document's tables are its cells as shown."""
    from analysis.frequencies import PLAIN_HEADERS
    from analysis.report_tables import frequency_report_table

    report = demo_report
    document = _word(report)
    headers = list(PLAIN_HEADERS.values())
    in_word = [
        [[c.text for c in row.cells] for row in t.rows[1:]]
        for t in document.tables
        if [c.text for c in t.rows[0].cells] == headers
    ]
    models = [frequency_report_table(t) for t in report.frequencies]
    assert [[c.header for c in m.columns] for m in models] == [headers] * len(models)
    assert in_word == [m.text_rows() for m in models]
    q19 = next(m for m in models if m.id == "frequencies-q19")
    assert ["No answer", "Left blank", "1", "2.6", "", ""] in q19.text_rows()
