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

from analysis.exports import csv_bytes, sav_bytes, xlsx_bytes
from analysis.frequencies import FrequencyTable
from app.services.reports import RESPONDENT_COLUMN, RoundReport

if TYPE_CHECKING:
    from analysis.glance import GlanceScale
    from analysis.summary import Table4

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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


def table4_frame(table: Table4) -> pd.DataFrame:
    """Table 4 with unrounded numbers, for spreadsheets."""
    records = []
    for s in table.scales:
        benchmark = s.benchmark
        records.append(
            {
                "scale_id": s.scale_id,
                "scale": s.name,
                "items": ", ".join(s.items),
                "reverse_keyed": ", ".join(s.reverse_keyed),
                "alpha": s.alpha,
                "alpha_ci_lower": s.alpha_ci[0] if s.alpha_ci else None,
                "alpha_ci_upper": s.alpha_ci[1] if s.alpha_ci else None,
                "mean": s.mean,
                "median": s.median,
                "mode": s.mode,
                "n": s.n,
                "favourable": s.favourable,
                "band": s.band,
                "national_2017_alpha": benchmark.alpha if benchmark else None,
                "national_2017_mean": benchmark.mean if benchmark else None,
                "national_2017_median": benchmark.median if benchmark else None,
                "national_2017_mode": benchmark.mode if benchmark else None,
            }
        )
    return pd.DataFrame.from_records(records)


def _frequencies_frame(tables: tuple[FrequencyTable, ...]) -> pd.DataFrame:
    records = [
        {
            "item": t.item,
            "value": row.value,
            "label": row.label,
            "frequency": row.frequency,
            "percent": row.percent,
            "valid_percent": row.valid_percent,
            "cumulative_percent": row.cumulative_percent,
        }
        for t in tables
        for row in t.rows
    ]
    return pd.DataFrame.from_records(records)


def answers_csv(report: RoundReport) -> bytes:
    return csv_bytes(report.answers if report.rows_available else _count_frame(report))


def scores_csv(report: RoundReport) -> bytes:
    return csv_bytes(report.scores if report.rows_available else _count_frame(report))


def _notes_frame(report: RoundReport) -> pd.DataFrame:
    publication = report.publication
    notes = [publication.headline(), publication.left_out(), report.rows_note]
    notes.append(report.withheld_note)
    return pd.DataFrame({"Note": [n for n in notes if n]})


def workbook(report: RoundReport) -> bytes:
    """XLSX: Table 4, item answers, scale scores, frequencies, change, notes; one sheet each
    (item answers and scale scores only with a final release)."""
    if report.table is None:
        return xlsx_bytes({"Responses": _count_frame(report)})
    sheets = {"Table 4": table4_frame(report.table)}
    if report.rows_available:
        sheets |= {"Item answers": report.answers, "Scale scores": report.scores}
    sheets["Frequencies"] = _frequencies_frame(report.frequencies)
    if report.change and report.change.changes:
        sheets["Change"] = pd.DataFrame([c.to_dict() for c in report.change.changes])
    sheets["Notes"] = _notes_frame(report)
    return xlsx_bytes(sheets)


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
