"""The report as a Word document (``report.docx``, python-docx) for evaluators who edit reports.

The same tables as the page and the workbook (:attr:`RoundReport.tables`), with the figures as
the report shows them (rounded half away from zero, "-" where there is none, footnote marks
such as ``*`` and ``◆`` after their figures, each table's notes under it): a cover with
the partnership, the round, its dates and the day the file was made; the cautions; each table
under its heading (headings keep with their table, header rows repeat on every page); the
frequency table of every item; the notes. Text is Word's own (styles Title, Heading 1-2,
Table Grid), so an evaluator can restyle it. No row-level data.
"""

from __future__ import annotations

import io
import math
from datetime import UTC, date, datetime

import numpy as np
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.table import Table

from analysis.report_tables import ReportTable
from analysis.xlsx import Column, SheetTable, round_half_away
from app.services.reports import RoundReport


def cell_text(value: object, column: Column) -> str:
    """A cell as the report shows it."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-" if column.kind == "number" else ""
    if column.kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        rounded = float(round_half_away(np.array([float(value)]), column.decimals)[0])
        return f"{rounded:.{column.decimals}f}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _repeat_header(table: Table) -> None:
    properties = table.rows[0]._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    properties.append(header)


def _add_table(document: object, sheet: SheetTable, heading_level: int = 2) -> None:
    document.add_heading(sheet.title, level=heading_level)  # type: ignore[attr-defined]
    table = document.add_table(rows=1, cols=len(sheet.columns))  # type: ignore[attr-defined]
    table.style = "Table Grid"
    for cell, column in zip(table.rows[0].cells, sheet.columns, strict=True):
        cell.text = ""
        run = cell.paragraphs[0].add_run(column.label)
        run.bold = True
    _repeat_header(table)
    for record in sheet.rows[[c.key for c in sheet.columns]].itertuples(index=False):
        cells = table.add_row().cells
        for cell, value, column in zip(cells, record, sheet.columns, strict=True):
            cell.text = cell_text(None if _is_missing(value) else value, column)
    _small(table)


def _add_report_table(document: object, title: str, table: ReportTable) -> None:
    """A report table as the page shows it: its cells' text (footnote marks included, ``*``,
    ``◆``), with its notes (what the marks mean) right under it."""
    document.add_heading(title, level=2)  # type: ignore[attr-defined]
    grid = document.add_table(rows=1, cols=len(table.columns))  # type: ignore[attr-defined]
    grid.style = "Table Grid"
    for cell, column in zip(grid.rows[0].cells, table.columns, strict=True):
        cell.text = ""
        cell.paragraphs[0].add_run(column.header).bold = True
    _repeat_header(grid)
    for texts in table.text_rows():
        for cell, text in zip(grid.add_row().cells, texts, strict=True):
            cell.text = text
    _small(grid)
    for number, note in enumerate(table.notes):
        paragraph = document.add_paragraph()  # type: ignore[attr-defined]
        paragraph.paragraph_format.space_before = Pt(4 if number == 0 else 0)
        paragraph.paragraph_format.space_after = Pt(2)
        paragraph.add_run(note).font.size = Pt(8)


def _small(table: Table) -> None:
    for row in table.rows:
        for cell in row.cells:
            for paragraph in cell.paragraphs:
                for run in paragraph.runs:
                    run.font.size = Pt(8)


def _is_missing(value: object) -> bool:
    try:
        return bool(value is None or value != value)  # NaN is not equal to itself
    except (TypeError, ValueError):
        return False


def report_docx(
    report: RoundReport,
    tables: list[tuple[str, ReportTable]],
    frequencies: list[SheetTable],
    notes: list[str],
    generated_on: date | None = None,
) -> bytes:
    """The Word document of a round's published report (see the module's text)."""
    generated = generated_on or datetime.now(UTC).date()
    survey_round = report.survey_round
    document = Document()
    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Mm(297), Mm(210)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Mm(15))
    document.styles["Normal"].font.size = Pt(10)

    document.add_paragraph(report.partnership.name)
    document.add_heading(f"{survey_round.title}: report", level=0)
    for label, value in (
        ("Partnership", report.partnership.name),
        ("Round", survey_round.title),
        ("Open", f"{survey_round.opens_on:%-d %B %Y} to {survey_round.closes_on:%-d %B %Y}"),
        ("Responses", str(report.n_responses)),
        ("Published", report.publication.headline()),
        ("Generated", f"{generated:%-d %B %Y}"),
    ):
        paragraph = document.add_paragraph()
        paragraph.add_run(f"{label}: ").bold = True
        paragraph.add_run(value)
    document.add_page_break()  # type: ignore[no-untyped-call]

    if report.cautions:
        document.add_heading("Read these figures with care", level=1)
        for caution in report.cautions:
            document.add_paragraph(caution, style="List Bullet")
    document.add_heading("Tables", level=1)
    for title, table in tables:
        _add_report_table(document, title, table)
    if frequencies:
        document.add_heading("Answers to each item", level=1)
        for sheet in frequencies:
            _add_table(document, sheet, heading_level=2)
    document.add_heading("Notes", level=1)
    for note in notes:
        document.add_paragraph(note)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
