"""A round's report as files: JSON, CSV, XLSX, SPSS ``.sav``, standalone HTML and PDF.

Below the anonymity threshold every format holds only the count of responses. Files are built
with :mod:`analysis.exports` (formula injection neutralised, ``.sav`` labelled).

PDF: WeasyPrint renders the same HTML as the download (inline SVG charts included) on A4. It
needs only Pango (``libpango-1.0-0``, ``libpangoft2-1.0-0``) and a font, about 40 MB in a slim
image, where Chromium's print-to-PDF would need a 300 MB browser running inside the service.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

from analysis.exports import csv_bytes, sav_bytes, xlsx_bytes
from analysis.frequencies import FrequencyTable
from app.services.reports import RESPONDENT_COLUMN, RoundReport

if TYPE_CHECKING:
    from analysis.summary import Table4

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]


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
    return {
        "partnership": report.partnership.name,
        "round": report.survey_round.title,
        "round_id": report.survey_round.id,
        "responses": report.n_responses,
        "anonymity_threshold": report.threshold,
        "results_visible": report.visible,
        "note": None
        if report.visible
        else (
            f"Fewer than {report.threshold} responses: no results are shown, only the count, "
            "so that nobody's answers can be picked out."
        ),
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
        "trust_profile": [
            {"group": b.group, "label": b.label, "mean": b.mean, "scales": list(b.scales)}
            for b in report.profile
        ],
        "readings": json_safe([r.to_dict() for r in report.readings]),
        "cautions": list(report.cautions),
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


def _count_frame(report: RoundReport) -> pd.DataFrame:
    head = count_only(report)
    return pd.DataFrame([{k: head[k] for k in ("responses", "anonymity_threshold", "note")}])


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
    return csv_bytes(report.answers if report.visible else _count_frame(report))


def scores_csv(report: RoundReport) -> bytes:
    return csv_bytes(report.scores if report.visible else _count_frame(report))


def workbook(report: RoundReport) -> bytes:
    """XLSX: Table 4, item answers, scale scores, frequencies, change; one sheet each."""
    if report.table is None:
        return xlsx_bytes({"Responses": _count_frame(report)})
    sheets = {
        "Table 4": table4_frame(report.table),
        "Item answers": report.answers,
        "Scale scores": report.scores,
        "Frequencies": _frequencies_frame(report.frequencies),
    }
    if report.change and report.change.changes:
        sheets["Change"] = pd.DataFrame([c.to_dict() for c in report.change.changes])
    return xlsx_bytes(sheets)


def sav(report: RoundReport) -> bytes:
    """SPSS ``.sav``: item answers and scale scores with variable and value labels."""
    if not report.visible:
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
