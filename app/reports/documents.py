"""A round's report as files: JSON, CSV, XLSX, SPSS ``.sav``, standalone HTML and PDF.

Every format holds only the round's published set (its latest release). Before the first
release, or below the anonymity threshold, it holds only the count and when results appear.
Row-level files (item answers, scale scores, the workbook's rows, the ``.sav``) hold rows only
with a final release, k-anonymous over the background questions unless the reader has raw
access; interim releases give whole-round figures only. Files are built with
:mod:`analysis.exports` (formula injection neutralised, ``.sav`` labelled).

PDF: WeasyPrint renders the same HTML as the download (inline SVG charts included) on A4. It
needs only Pango (``libpango-1.0-0``, ``libpangoft2-1.0-0``) and a font, about 40 MB in a slim
image, where Chromium's print-to-PDF would need a 300 MB browser running inside the service.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import pandas as pd

from analysis.exports import csv_bytes, sav_bytes
from analysis.frequencies import PLAIN_HEADERS
from analysis.report_tables import ReportTable
from analysis.summary import respondent_direction_note, respondent_score_columns
from analysis.xlsx import Column, SheetTable, table_sheet, xlsx_workbook
from app.services.reports import RESPONDENT_COLUMN, RoundReport

if TYPE_CHECKING:
    from analysis.glance import GlanceScale
    from analysis.summary import Table4

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True)
class ReportFile:
    """A download of a round's report: its name in the URL, what it holds, its type."""

    name: str
    label: str
    media_type: str
    row_level: bool = False


REPORT_FILES = (
    ReportFile("report.pdf", "Report (PDF, A4)", "application/pdf"),
    ReportFile("report.html", "Report (HTML)", "text/html; charset=utf-8"),
    ReportFile("report.xlsx", "Tables (Excel workbook, with a sheet of notes)", XLSX_TYPE),
    ReportFile("report.docx", "Report tables (Word, to edit)", DOCX_TYPE),
    ReportFile("answers.csv", "Item answers (CSV)", "text/csv; charset=utf-8", row_level=True),
    ReportFile("scores.csv", "Scale scores (CSV)", "text/csv; charset=utf-8", row_level=True),
    ReportFile(
        "answers.sav",
        "Item answers and scale scores (SPSS .sav, labelled)",
        "application/x-spss-sav",
        row_level=True,
    ),
)


def offered_files(report: RoundReport) -> tuple[ReportFile, ...]:
    """The files a round's report offers: none before results are published (below the
    threshold or before the first release: a file would hold only the count), the report and
    its tables with any release, row-level files only with a final release."""
    if not report.visible:
        return ()
    return tuple(f for f in REPORT_FILES if report.rows_available or not f.row_level)


def slug(text: str, limit: int = 48) -> str:
    """``text`` as a lower-case ASCII file-name part: ``"Northshire (demo)"`` ->
    ``"northshire-demo"`` (``"report"`` when nothing is left)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return cleaned[:limit].rstrip("-") or "report"


def download_name(report: RoundReport, file_name: str, today: date | None = None) -> str:
    """A name people can keep: partnership, round, the date of the release it holds, the file:
    ``northshire-health-and-care-partnership_spring-2026_2026-05-31_report.pdf``."""
    when = report.publication.published_on or today or date.today()
    return (
        f"{slug(report.partnership.name)}_{slug(report.survey_round.title)}_"
        f"{when.isoformat()}_{file_name}"
    )


def json_safe(value: object) -> JsonValue:
    """``value`` with NaN and infinities as ``None`` and tuples as lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return str(value)


def count_only(report: RoundReport) -> dict[str, JsonValue]:
    """What every answer says: the count, which release is shown and what it leaves out."""
    publication = report.publication
    if report.visible:
        note = None
    elif publication.number:
        note = (
            f"Fewer than {report.threshold} responses: no results are shown, only the count, "
            "so that nobody's answers can be picked out."
        )
    else:
        note = publication.headline()
    return {
        "partnership": report.partnership.name,
        "round": report.survey_round.title,
        "round_id": report.survey_round.id,
        "responses": report.n_responses,
        "anonymity_threshold": report.threshold,
        "results_visible": report.visible,
        "note": note,
        "release_policy": report.survey_round.release_policy,
        "release": None
        if not publication.number
        else {
            "number": publication.number,
            "final": publication.final,
            "responses": publication.responses,
            "published_on": str(publication.published_on),
        },
        "publication": publication.headline(),
        "not_included": publication.not_included if publication.number else None,
        "not_included_because": publication.left_out() if publication.number else None,
    }


def _table4_json(table: Table4) -> JsonValue:
    return json_safe(table.to_dict())


def report_json(report: RoundReport) -> dict[str, JsonValue]:
    """Everything on the report page as JSON."""
    head = count_only(report)
    if report.table is None:
        return head
    change = report.change
    return {
        **head,
        "instrument": {
            "id": report.instrument.id,
            "version": report.instrument.version,
        },
        "table4": _table4_json(report.table),
        "summary": None if report.glance is None else _summary_json(report),
        "tables": [json_safe(dict(t.to_json())) for t in report.tables],
        "sources": [list(pair) for pair in report.sources],
        "trust_profile": [
            {
                "group": b.group,
                "label": b.label,
                "mean": b.mean,
                "scales": list(b.scales),
                "response_scale": b.response_scale,
            }
            for b in report.profile
        ],
        "readings": json_safe([r.to_dict() for r in report.readings]),
        "cautions": list(report.cautions),
        "open_link": None
        if report.open_link is None
        else {
            "responses": report.open_link.via_open_link,
            "of": report.open_link.responses,
            "largest_in_one_hour": report.open_link.largest_hour,
            "burst": report.open_link.burst,
        },
        "row_level": {
            "available": report.rows_available,
            "note": report.rows_note,
            "withheld": report.withheld_note,
        },
        "frequencies": json_safe([t.to_dict() for t in report.frequencies]),
        "breakdowns": [
            {
                "question": b.question_id,
                "groups": [
                    {
                        "value": g.value,
                        "label": g.label,
                        "shown": g.shown,
                        "hidden_because": g.reason,
                        "table4": _table4_json(g.table) if g.table else None,
                    }
                    for g in b.groups
                ],
            }
            for b in report.breakdowns
        ],
        "change": None
        if change is None
        else {
            "previous_round_id": change.previous.id if change.previous else None,
            "note": change.note,
            "scales": json_safe([c.to_dict() for c in change.changes]),
        },
    }


def _summary_json(report: RoundReport) -> JsonValue:
    glance = report.glance
    assert glance is not None

    def brief(scales: tuple[GlanceScale, ...]) -> JsonValue:
        return [
            {"scale_id": s.scale_id, "name": s.name, "score": s.score_text, "band": s.band_label}
            for s in scales
        ]

    return {
        "strongest": brief(glance.strongest),
        "weakest": brief(glance.weakest),
        "changed": list(glance.changed),
        "differences": list(glance.differences),
        "look_first": glance.look_first,
        "first_stage": glance.first_stage,
        "first_scales": [list(pair) for pair in glance.first_scales],
        "first_questions": list(glance.first_questions),
    }


def _count_frame(report: RoundReport) -> pd.DataFrame:
    head = count_only(report)
    row = {k: head[k] for k in ("responses", "anonymity_threshold", "note")}
    if report.visible:
        row["note"] = report.rows_note
    return pd.DataFrame([row])


def _whole_numbers(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``frame`` with ``columns`` as nullable integers, so a CSV says ``2``, never ``2.0``."""
    converted = frame.copy()
    for column in columns:
        if column in converted.columns:
            converted[column] = converted[column].astype("Int64")
    return converted


def answers_csv(report: RoundReport) -> bytes:
    """Item answers, one row per respondent: the respondent number and every answer code as a
    whole number, background answers as their option codes (only the count without rows)."""
    if not report.rows_available:
        return csv_bytes(_count_frame(report))
    columns = [RESPONDENT_COLUMN, *report.instrument.item_ids]
    return csv_bytes(_whole_numbers(report.answers, columns))


def scores_csv(report: RoundReport) -> bytes:
    """Scale scores (unrounded), numbered as in ``answers.csv``: favourable-keyed under each
    scale's id, with ``<id>_as_printed`` beside it where Table 4 prints the scale the other way
    (only the count without rows)."""
    if not report.rows_available:
        return csv_bytes(_count_frame(report))
    return csv_bytes(_whole_numbers(report.respondent_scores, [RESPONDENT_COLUMN]))


def _background_labels(report: RoundReport, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each choice background answer as its option's label, not its code."""
    labelled = frame.copy()
    for question in report.instrument.background:
        if question.id in labelled.columns and question.kind == "choice":
            labels = {o.value: o.label for o in question.options}
            labelled[question.id] = labelled[question.id].map(
                lambda v, labels=labels: labels.get(v, v) if isinstance(v, str) else None
            )
    return labelled


def _frequencies_sheet(report: RoundReport) -> SheetTable:
    records = [
        {
            "item": t.item,
            "question": t.label or "",
            "value": row.value,
            "answer": row.label,
            "frequency": row.frequency,
            "percent": row.percent,
            "valid_percent": row.valid_percent,
            "cumulative_percent": row.cumulative_percent,
        }
        for t in report.frequencies
        for row in t.rows
    ]
    columns = (
        Column("item", "Item"),
        Column("question", "Question", width=60, wrap=True),
        Column("value", "Answer code", "number", 0),
        Column("answer", "Answer"),
        *(
            Column(key, PLAIN_HEADERS[key], "number", 0 if key == "frequency" else 1)
            for key in ("frequency", "percent", "valid_percent", "cumulative_percent")
        ),
    )
    return SheetTable("Frequencies", columns, pd.DataFrame.from_records(records))


def _answers_sheet(report: RoundReport) -> SheetTable:
    answers = _background_labels(report, report.answers)
    columns = [Column(RESPONDENT_COLUMN, "Respondent", "number", 0)]
    for question in report.instrument.background:
        if question.id in answers.columns:
            # Headed by the question's name, as the report's notes name it, not by its id.
            columns.append(Column(question.id, question.name[:1].upper() + question.name[1:]))
    columns += [
        Column(item, item, "number", 0, width=6)
        for item in report.instrument.item_ids
        if item in answers.columns
    ]
    return SheetTable("Item answers", tuple(columns), answers, True)


def _scores_sheet(report: RoundReport) -> SheetTable:
    scores = report.respondent_scores
    columns = [Column(RESPONDENT_COLUMN, "Respondent", "number", 0)]
    columns += [
        Column(c.key, c.label, "number", 2, width=16 if c.as_printed else 14)
        for c in respondent_score_columns(report.instrument, list(scores.columns))
    ]
    return SheetTable("Scale scores", tuple(columns), scores, True)


def _questions_sheet(report: RoundReport) -> SheetTable:
    instrument = report.instrument
    scale_of = {item: scale.name for scale in instrument.scales for item in scale.items}
    records = []
    for question in instrument.background:
        options = "; ".join(o.label for o in question.options)
        records.append(
            {"column": question.id, "question": question.text, "scale": "", "answers": options}
        )
    for item in instrument.items:
        labels = instrument.response_scale_of(item.id).labels
        codes = "; ".join(f"{_code(v)} = {label}" for v, label in labels.items())
        records.append(
            {
                "column": item.id,
                "question": item.text,
                "scale": scale_of.get(item.id, ""),
                "answers": codes,
            }
        )
    columns = (
        Column("column", "Column"),
        Column("question", "Question", width=70, wrap=True),
        Column("scale", "Scale"),
        Column("answers", "Answers (code = label)", width=60, wrap=True),
    )
    return SheetTable("Questions", columns, pd.DataFrame.from_records(records), True)


def _code(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def report_notes(report: RoundReport, with_tables: bool = True) -> list[str]:
    """What the workbook's Notes sheet and the Word document's notes say (the Word document
    gives each table's notes under the table, so without ``with_tables``)."""
    publication = report.publication
    notes = [
        f"{report.partnership.name}: {report.survey_round.title} "
        f"({report.survey_round.opens_on:%-d %B %Y} to {report.survey_round.closes_on:%-d %B %Y}).",
        publication.headline(),
        publication.left_out(),
        f"No figure is shown for fewer than {report.threshold} people.",
        report.rows_note,
        report.withheld_note,
    ]
    if report.visible:
        notes += [
            "Figures are rounded as in the report (half away from zero, as SPSS): means and "
            "scores to 2 decimals, alpha to 3, percentages to 1; answers.csv, scores.csv and "
            "answers.sav hold the unrounded scores.",
            "Every score in the summary sheets is favourable-keyed (higher is better), "
            "except Table 4's mean, median and mode, which reproduce the report as it was "
            "printed; its last column gives the same mean favourable-keyed.",
            "Each respondent's scale score (the Scale scores sheet, scores.csv, answers.sav) "
            "is the mean of the scale's items. " + respondent_direction_note(report.instrument),
            "Item answers are numbered 1 to n in an order that says nothing about when anyone "
            "answered; background answers are shown by their labels.",
            *report.all_cautions,
            *(table_notes(report) if with_tables else []),
        ]
    return [n for n in notes if n]


def _notes_sheet(report: RoundReport) -> SheetTable:
    frame = pd.DataFrame({"note": report_notes(report)})
    return SheetTable("Notes", (Column("note", "Note", width=78, wrap=True),), frame)


SHEET_NAMES = {
    "table4": "Table 4",
    "scores-table": "Scores",
    "profile-table": "Trust profile",
    "change-table": "Change",
    "trend-table": "Trend",
    "peers": "Peers",
}


def sheet_title(table: ReportTable) -> str:
    """A short sheet name for a report table (Excel allows 31 characters); the full caption
    goes to the Notes sheet."""
    if table.id in SHEET_NAMES:
        return SHEET_NAMES[table.id]
    # A gaps table names its question as the page does ("professional background"), not by
    # its id ("professional_role").
    return _fit_sheet_name(table.short_title or table.title)


def _fit_sheet_name(name: str, most: int = 31) -> str:
    """``name`` cut at a word to fit Excel's limit, with an ellipsis when cut."""
    if len(name) <= most:
        return name
    cut = name[: most - 1].rsplit(" ", 1)[0].rstrip(" ,")
    return f"{cut}\u2026"


def summary_sheets(report: RoundReport) -> list[SheetTable]:
    """The report's tables, from the one table model (:attr:`RoundReport.tables`, the same
    tables as the page, the PDF and the JSON): rounded to their formats, labelled as shown."""
    if report.table is None:
        return []
    return [table_sheet(table, sheet_title(table)) for table in report.tables]


def table_notes(report: RoundReport) -> list[str]:
    """Each table's caption and notes, for the Notes sheet and the Word document."""
    return [
        _named_caption(sheet_title(table), table.title)
        + "".join(f" {note}" for note in table.notes)
        for table in report.tables
    ]


def _named_caption(name: str, caption: str) -> str:
    """A table's caption after its sheet's name, once: "Table 4: reliability, ...", not
    "Table 4: Table 4: reliability, ..."."""
    if caption.startswith(f"{name}:"):
        return f"{caption}."
    return f"{name}: {caption}."


def item_frequency_tables(report: RoundReport) -> list[tuple[str, ReportTable]]:
    """Every item's frequency table as the page shows it (one
    :func:`~analysis.report_tables.frequency_report_table` each, in the page's plain words),
    headed by the item's column name in the row-level files and its statement, for the Word
    document."""
    return [
        (f"{t.item}: {t.label}" if t.label else t.item, report.frequency_tables[t.item])
        for t in report.frequencies
    ]


def workbook(report: RoundReport) -> bytes:
    """XLSX: Table 4, trust profile, frequencies, breakdowns, change, item answers and scale
    scores (only with a final release), the questions and their codes, notes; one sheet
    each, labelled, rounded with number formats, header frozen (only the notes before
    results are published)."""
    if report.table is None:
        return xlsx_workbook([_notes_sheet(report)])
    summary = summary_sheets(report)
    sheets: list[SheetTable | None] = [*summary, _frequencies_sheet(report)]
    if report.rows_available:
        sheets += [_answers_sheet(report), _scores_sheet(report)]
    sheets += [_questions_sheet(report), _notes_sheet(report)]
    return xlsx_workbook([sheet for sheet in sheets if sheet is not None])


def docx(report: RoundReport) -> bytes:
    """Word: the cover, the cautions, the summary tables, every item's frequencies, notes."""
    from app.reports.word import report_docx

    titled = [(sheet_title(table), table) for table in report.tables] if report.table else []
    notes = report_notes(report, with_tables=False)
    return report_docx(report, titled, item_frequency_tables(report), notes)


def sav(report: RoundReport) -> bytes:
    """SPSS ``.sav``: item answers and scale scores with variable and value labels (only the
    count without a final release)."""
    if not report.rows_available:
        import tempfile
        from pathlib import Path

        import pyreadstat

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "count.sav"
            frame = _count_frame(report)[["responses", "anonymity_threshold"]].astype(float)
            pyreadstat.write_sav(
                frame,
                str(path),
                column_labels=["Submitted responses", "Anonymity threshold (no results below)"],
            )
            return path.read_bytes()
    scores = report.scores.drop(columns=[RESPONDENT_COLUMN])
    return sav_bytes(report.answers, report.instrument, scores)
