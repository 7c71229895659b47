"""JSON API for reports: a round's report, its answers and scores, pooled figures, alpha.

Readers sign in with HTTP Basic (or a browser session). Everything is computed from the round's
published set (:mod:`app.services.releases`); before a release, or below the round's anonymity
threshold, only the count is given. Records (answers, scores) come only with a final release,
k-anonymous over the background questions unless an admin granted the reader raw access.
What a reader may not read is 404, as an unknown id is.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from app.database import SessionDep
from app.reports import documents
from app.reports.documents import JsonValue, json_safe
from app.services import analyst, releases, reports
from app.web.deps import ApiRoundId
from app.web.report_access import ApiAnalystDep, ApiViewerDep, report_round_id
from app.web.schemas import QueryRecordId

router = APIRouter(prefix="/api/v1", tags=["reports"])


def _report(session: SessionDep, viewer: ApiViewerDep, round_id: str) -> reports.RoundReport:
    survey_round = reports.readable_round(session, viewer, report_round_id(round_id))
    return reports.round_report(session, survey_round, viewer)


@router.get("/reports/rounds", response_model=None)
def list_rounds(session: SessionDep, viewer: ApiViewerDep) -> list[dict[str, JsonValue]]:
    """The rounds you may read, with their partnership."""
    return [
        {
            "round_id": r.id,
            "title": r.title,
            "partnership": p.name,
            "opens_on": r.opens_on.isoformat(),
            "closes_on": r.closes_on.isoformat(),
        }
        for p, listed in reports.readable_rounds(session, viewer)
        for r in listed
    ]


@router.get("/reports/rounds/{round_id}", response_model=None)
def round_report(round_id: str, session: SessionDep, viewer: ApiViewerDep) -> dict[str, JsonValue]:
    """Everything on the report page: Table 4 with the 2017 figures, trust profile, readings,
    cautions, frequencies, breakdowns and change (only the count below the threshold)."""
    return documents.report_json(_report(session, viewer, round_id))


@router.get("/reports/rounds/{round_id}/answers", response_model=None)
def round_answers(round_id: str, session: SessionDep, viewer: ApiViewerDep) -> dict[str, JsonValue]:
    """Item answers, one record per respondent (numbered 1..n, in no time order)."""
    report = _report(session, viewer, round_id)
    head = documents.count_only(report)
    if not report.rows_available:
        return {**head, "row_level_note": report.rows_note}
    records = json_safe(report.answers.to_dict("records"))
    return {**head, "withheld": report.withheld_note, "records": records}


@router.get("/reports/rounds/{round_id}/scores", response_model=None)
def round_scores(round_id: str, session: SessionDep, viewer: ApiViewerDep) -> dict[str, JsonValue]:
    """Scale scores, one record per respondent (numbered as in ``answers``)."""
    report = _report(session, viewer, round_id)
    head = documents.count_only(report)
    if not report.rows_available:
        return {**head, "row_level_note": report.rows_note}
    records = json_safe(report.scores.to_dict("records"))
    return {**head, "withheld": report.withheld_note, "records": records}


class ThresholdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    anonymity_threshold: int = Field(ge=1, le=1000)


@router.put("/rounds/{round_id}/anonymity-threshold", tags=["coordinating"])
def set_threshold(round_id: ApiRoundId, body: ThresholdIn, session: SessionDep) -> dict[str, int]:
    """Change a round's anonymity threshold (at least 3); refused once answers have arrived."""
    survey_round = reports.change_anonymity_threshold(session, round_id, body.anonymity_threshold)
    return {"round_id": round_id, "anonymity_threshold": survey_round.anonymity_threshold}


class ReleasePolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    release_policy: str = Field(
        pattern="^(at-close|interim)$",
        description="at-close: results when the round closes; interim: in steps of at least "
        "the threshold",
    )


class ReleasePolicyOut(BaseModel):
    round_id: int
    release_policy: str


@router.put("/rounds/{round_id}/release-policy", tags=["coordinating"])
def set_release_policy(
    round_id: ApiRoundId, body: ReleasePolicyIn, session: SessionDep
) -> ReleasePolicyOut:
    """Choose when a round's results are published; refused once its first results are out."""
    survey_round = releases.set_release_policy(session, round_id, body.release_policy)
    return ReleasePolicyOut(round_id=round_id, release_policy=survey_round.release_policy)


def _rounds_json(answers: analyst.PooledAnswers) -> list[JsonValue]:
    return [
        {
            "round_id": r.survey_round.id,
            "partnership": r.partnership.name,
            "responses": r.responses,
            "pooled": r.included,
            "left_out_because": r.reason,
        }
        for r in answers.rounds
    ]


@router.get("/analyst/pooled", response_model=None)
def pooled(session: SessionDep, viewer: ApiAnalystDep) -> dict[str, JsonValue]:
    """Table 3-style counts by care model and a pooled Table 4 (rounds at their threshold)."""
    view = analyst.pooled_view(session, viewer)
    return {
        "rounds": _rounds_json(view.answers),
        "care_models": json_safe(view.care_models.to_dict("records")),
        "table4": json_safe(view.table.to_dict()) if view.table else None,
    }


@router.get("/analyst/reliability", response_model=None)
def reliability(
    session: SessionDep,
    viewer: ApiAnalystDep,
    item: Annotated[list[str], Query(min_length=2, max_length=100)],
    round: Annotated[list[QueryRecordId], Query(max_length=1000)] = [],  # noqa: B006
    missing: Annotated[str, Query(pattern="^(pairwise|listwise)$")] = "pairwise",
) -> dict[str, JsonValue]:
    """Cronbach's alpha of any items pooled over chosen rounds (all readable when none)."""
    result, answers = analyst.reliability(session, viewer, item, round, missing)
    figures = json_safe(result.to_dict())
    assert isinstance(figures, dict)
    rounds: JsonValue = list(_rounds_json(answers))
    return {"rounds": rounds, **figures}
