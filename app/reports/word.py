"""The report as a Word document (``report.docx``, python-docx) for evaluators who edit reports.

The same tables as the page and the workbook (:attr:`RoundReport.tables`), with the figures as
the report shows them (rounded half away from zero, "-" where there is none, footnote marks
such as ``*`` and ``◆`` after their figures, each table's notes under it): a cover with
the partnership, the round, its dates and the day the file was made; the cautions; each table
under its heading (headings keep with their table, header rows repeat on every page); the
frequency table of every item (:func:`~analysis.report_tables.frequency_report_table`, as the
page shows it); the notes. Text is Word's own (styles Title, Heading 1-2,
Table Grid), so an evaluator can restyle it. No row-level data.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.table import Table

from analysis.report_tables import ReportTable
from app.services.reports import RoundReport

SMALL = Pt(8)  # the tables' and their notes' size


def _repeat_header(table: Table) -> None:
    properties = table.rows[0]._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    properties.append(header)


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
        paragraph.add_run(note).font.size = SMALL


def _small(table: Table) -> None:
    """Every cell in 8 pt, its paragraph mark too: an empty cell's paragraph has no run, and
    a mark left at the body's 10 pt made its row taller than the others."""
    for row in table.rows:
        for cell in row.cells:
            for paragraph in cell.paragraphs:
                properties = paragraph._p.get_or_add_pPr()
                marks = properties.find(qn("w:rPr"))
                if marks is None:
                    marks = OxmlElement("w:rPr")
                    properties.append(marks)  # rPr is the last of a cell paragraph's properties
                size = OxmlElement("w:sz")
                size.set(qn("w:val"), str(SMALL.pt * 2).removesuffix(".0"))
                marks.append(size)
                for run in paragraph.runs:
                    run.font.size = SMALL


def report_docx(
    report: RoundReport,
    tables: list[tuple[str, ReportTable]],
    frequencies: list[tuple[str, ReportTable]],
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

    if report.all_cautions:
        document.add_heading("Read these figures with care", level=1)
        for caution in report.all_cautions:
            document.add_paragraph(caution, style="List Bullet")
    document.add_heading("Tables", level=1)
    for title, table in tables:
        _add_report_table(document, title, table)
    if frequencies:
        document.add_heading("Answers to each item", level=1)
        for title, frequency_table in frequencies:
            _add_report_table(document, title, frequency_table)
    document.add_heading("Notes", level=1)
    for note in notes:
        document.add_paragraph(note)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
