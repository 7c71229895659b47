"""JSON API for reports: a round's report, its answers and scores, pooled figures, alpha.

Readers sign in with HTTP Basic (or a browser session). Everything is computed from the round's
published set (:mod:`app.services.releases`); before a release, or below the round's anonymity
threshold, only the count is given. Records (answers, scores) come only with a final release,
k-anonymous over the background questions unless an admin granted the reader raw access.
What a reader may not read is 404, as an unknown id is.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from app.database import SessionDep
from app.reports import documents
from app.reports.documents import JsonValue, json_safe
from app.services import analyst, releases, report_cache, reports
from app.web.deps import ApiCoordinatorDep, ApiRoundId
from app.web.report_access import ApiAnalystDep, ApiViewerDep, report_round_id
from app.web.report_schemas import RecordsOut, RoundListedOut, RoundReportOut, Table4Out
from app.web.schemas import QueryRecordId

router = APIRouter(prefix="/api/v1", tags=["reports"])


def _report(session: SessionDep, viewer: ApiViewerDep, round_id: str) -> reports.RoundReport:
    survey_round = reports.readable_round(session, viewer, report_round_id(round_id))
    return report_cache.round_report(session, survey_round, viewer)  # once per release


@router.get("/reports/rounds")
def list_rounds(session: SessionDep, viewer: ApiViewerDep) -> list[RoundListedOut]:
    """The rounds you may read, with their partnership."""
    return [
        RoundListedOut.model_validate(
            {
                "round_id": r.id,
                "title": r.title,
                "partnership": p.name,
                "opens_on": r.opens_on.isoformat(),
                "closes_on": r.closes_on.isoformat(),
            }
        )
        for p, listed in reports.readable_rounds(session, viewer)
        for r in listed
    ]


@router.get("/reports/rounds/{round_id}", response_model_exclude_unset=True)
def round_report(round_id: str, session: SessionDep, viewer: ApiViewerDep) -> RoundReportOut:
    """Everything on the report page: the summary, every table (Table 4 as printed, scores with
    their intervals against 2017 and peers, asymmetries, trend, change), trust profile,
    readings, cautions, frequencies and breakdowns (only the count below the threshold)."""
    report = _report(session, viewer, round_id)
    reports.record_view(session, viewer, report.survey_round, "JSON")
    return RoundReportOut.model_validate(documents.report_json(report))


@router.get("/reports/rounds/{round_id}/answers", response_model_exclude_unset=True)
def round_answers(round_id: str, session: SessionDep, viewer: ApiViewerDep) -> RecordsOut:
    """Item answers, one record per respondent (numbered 1..n, in no time order)."""
    report = _report(session, viewer, round_id)
    head = documents.count_only(report)
    if not report.rows_available:
        return RecordsOut.model_validate({**head, "row_level_note": report.rows_note})
    records = json_safe(report.answers.to_dict("records"))
    reports.record_download(session, viewer, report.survey_round, "answers (JSON)", row_level=True)
    return RecordsOut.model_validate({**head, "withheld": report.withheld_note, "records": records})


@router.get("/reports/rounds/{round_id}/scores", response_model_exclude_unset=True)
def round_scores(round_id: str, session: SessionDep, viewer: ApiViewerDep) -> RecordsOut:
    """Scale scores, one record per respondent (numbered as in ``answers``): each scale's
    favourable-keyed score (higher is better) under its id, and under ``<id>_as_printed`` its
    score in Table 4's printed direction where that runs the other way."""
    report = _report(session, viewer, round_id)
    head = documents.count_only(report)
    if not report.rows_available:
        return RecordsOut.model_validate({**head, "row_level_note": report.rows_note})
    records = json_safe(report.respondent_scores.to_dict("records"))
    reports.record_download(session, viewer, report.survey_round, "scores (JSON)", row_level=True)
    return RecordsOut.model_validate({**head, "withheld": report.withheld_note, "records": records})


class ThresholdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    anonymity_threshold: int = Field(ge=1, le=1000)


@router.put("/rounds/{round_id}/anonymity-threshold", tags=["coordinating"])
def set_threshold(
    round_id: ApiRoundId, body: ThresholdIn, session: SessionDep, coordinator: ApiCoordinatorDep
) -> dict[str, int]:
    """Change a round's anonymity threshold (at least 3); refused once answers have arrived."""
    survey_round = reports.change_anonymity_threshold(
        session, round_id, body.anonymity_threshold, actor=coordinator
    )
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
    round_id: ApiRoundId, body: ReleasePolicyIn, session: SessionDep, coordinator: ApiCoordinatorDep
) -> ReleasePolicyOut:
    """Choose when a round's results are published; refused once its first results are out."""
    survey_round = releases.set_release_policy(
        session, round_id, body.release_policy, actor=coordinator
    )
    return ReleasePolicyOut(round_id=round_id, release_policy=survey_round.release_policy)


class PooledRoundOut(BaseModel):
    round_id: int
    partnership: str
    responses: int = Field(description="responses in the round's final release (0 while open)")
    pooled: bool
    left_out_because: str | None


class PartnershipKindOut(BaseModel):
    kind: str = Field(description="an option of the instrument's partnership_attribute question")
    label: str
    responses: int
    partnerships: int | None = None


class PooledOut(BaseModel):
    rounds: list[PooledRoundOut]
    partnership_kinds: list[PartnershipKindOut]
    table4: Table4Out | None


class SettingsOut(BaseModel):
    instrument: str
    keying: str = Field(description="keyed (the default): reverse-keyed items flipped; raw")
    reverse_keyed: list[str] = Field(description="the items flipped before the analysis")
    missing: str = Field(description="listwise (the default) or pairwise")


class ItemStatisticsOut(BaseModel):
    item: str
    n: int
    mean: float | None
    sd: float | None
    corrected_item_total_r: float | None
    alpha_if_deleted: float | None


class ReliabilityOut(BaseModel):
    rounds: list[PooledRoundOut]
    settings: SettingsOut
    alpha: float | None
    ci: list[float | None] = Field(description="Feldt's interval")
    confidence: float
    standardized_alpha: float | None
    n: int
    k: int
    missing: str
    items: list[ItemStatisticsOut]
    warnings: list[str]


class OmegaItemOut(BaseModel):
    item: str
    loading: float | None
    communality: float | None


class OmegaOut(BaseModel):
    rounds: list[PooledRoundOut]
    settings: SettingsOut
    omega_total: float | None
    omega_h: float | None
    ci: list[float | None] | None = Field(description="percentile bootstrap interval")
    confidence: float
    bootstrap: int
    bootstrap_failed: int
    seed: int
    n: int
    k: int
    missing: str
    items: list[OmegaItemOut]
    flipped: list[str]
    warnings: list[str]


class FactorOut(BaseModel):
    rounds: list[PooledRoundOut]
    settings: SettingsOut
    items: list[str]
    method: str
    rotation: str
    missing: str
    n: int
    n_factors: int
    loadings: dict[str, list[float | None]] = Field(description="pattern matrix, by item")
    communalities: dict[str, float | None]
    uniquenesses: dict[str, float | None]
    factor_correlations: list[list[float | None]]
    ss_loadings: list[float | None]
    proportion_var: list[float | None]
    cumulative_var: list[float | None]
    warnings: list[str]


class PartnershipAgreementOut(BaseModel):
    partnership: str
    n: int = Field(description="respondents who answered every item of the scale")
    mean_variance: float | None
    rwg_j: float | None
    truncated: bool
    note: str | None


class IccOut(BaseModel):
    icc1: float | None
    icc2: float | None
    ms_between: float | None
    ms_within: float | None
    df_between: int
    df_within: int
    f: float | None
    p_value: float | None
    groups: int
    n: int
    mean_group_size: float | None
    warnings: list[str]


class ScaleAgreementOut(BaseModel):
    scale: str
    name: str
    items: list[str]
    options: int
    rwg_j: list[PartnershipAgreementOut]
    icc: IccOut | None
    icc_error: str | None


class AgreementOut(BaseModel):
    rounds: list[PooledRoundOut]
    settings: SettingsOut
    thresholds: dict[str, int] = Field(
        description="each partnership's least respondents for an rwg(j) figure"
    )
    scales: list[ScaleAgreementOut]


def _rounds_out(answers: analyst.PooledAnswers) -> list[PooledRoundOut]:
    return [
        PooledRoundOut(
            round_id=r.survey_round.id or 0,
            partnership=r.partnership.name,
            responses=r.responses,
            pooled=r.included,
            left_out_because=r.reason,
        )
        for r in answers.rounds
    ]


def _safe(record: dict[str, object]) -> dict[str, JsonValue]:
    """NaN and infinities as ``null`` (JSON has none)."""
    cleaned = json_safe(record)
    assert isinstance(cleaned, dict)
    return cleaned


def _settings(settings: analyst.AnalysisSettings) -> SettingsOut:
    return SettingsOut.model_validate(settings.to_dict())


Items = Annotated[
    list[str], Query(max_length=100, description="item ids of the instrument (repeat: item=...)")
]
Rounds = Annotated[
    list[QueryRecordId],
    Query(max_length=1000, description="round ids to pool; none: every published one"),
]
KeyingQuery = Annotated[
    Literal["keyed", "raw"],
    Query(description="keyed (default): reverse-keyed items flipped; raw: answers as given"),
]
MissingQuery = Annotated[
    Literal["listwise", "pairwise"],
    Query(description="listwise (default): respondents who answered every item; pairwise"),
]


@router.get("/analyst/pooled")
def pooled(session: SessionDep, viewer: ApiAnalystDep) -> PooledOut:
    """Table 3-style counts by kind of partnership and a pooled Table 4 (rounds at their
    threshold)."""
    view = analyst.pooled_view(session, viewer)
    kinds = view.partnership_kinds
    counts = json_safe(kinds.to_dict("records")) if kinds is not None else []
    assert isinstance(counts, list)
    return PooledOut(
        rounds=_rounds_out(view.answers),
        partnership_kinds=[PartnershipKindOut.model_validate(row) for row in counts],
        table4=Table4Out.model_validate(_safe(view.table.to_dict())) if view.table else None,
    )


@router.get("/analyst/reliability")
def reliability(
    session: SessionDep,
    viewer: ApiAnalystDep,
    item: Items,
    round: Rounds = [],  # noqa: B006
    missing: MissingQuery = "listwise",
    keying: KeyingQuery = "keyed",
) -> ReliabilityOut:
    """Cronbach's alpha of any items pooled over chosen rounds (all published when none),
    keyed and listwise unless asked otherwise, as the command line."""
    pooled = analyst.reliability(session, viewer, item, round, missing, keying)
    return ReliabilityOut.model_validate(
        {
            **_safe(pooled.result.to_dict()),
            "rounds": _rounds_out(pooled.answers),
            "settings": _settings(pooled.settings),
        }
    )


@router.get("/analyst/omega")
def omega(
    session: SessionDep,
    viewer: ApiAnalystDep,
    item: Items,
    round: Rounds = [],  # noqa: B006
    missing: MissingQuery = "listwise",
    keying: KeyingQuery = "keyed",
    bootstrap: Annotated[
        int, Query(ge=0, le=analyst.MOST_BOOTSTRAP, description="resamples; 0: no interval")
    ] = 1000,
    seed: Annotated[int, Query(ge=0, lt=2**32, description="seed of the resampling")] = 2017,
) -> OmegaOut:
    """McDonald's omega total (one-factor minres model) with a seeded percentile bootstrap CI."""
    pooled = analyst.omega(session, viewer, item, round, missing, keying, bootstrap, seed)
    return OmegaOut.model_validate(
        {
            **_safe(pooled.result.to_dict()),
            "seed": pooled.seed,
            "rounds": _rounds_out(pooled.answers),
            "settings": _settings(pooled.settings),
        }
    )


@router.get("/analyst/factor")
def factor(
    session: SessionDep,
    viewer: ApiAnalystDep,
    item: Items,
    round: Rounds = [],  # noqa: B006
    factors: Annotated[int, Query(ge=1, le=99, description="factors to extract")] = 1,
    method: Annotated[Literal["minres", "ml"], Query()] = "minres",
    rotation: Annotated[Literal["oblimin", "none"], Query()] = "oblimin",
    missing: MissingQuery = "listwise",
    keying: KeyingQuery = "keyed",
) -> FactorOut:
    """Exploratory factor analysis of chosen items: pattern loadings, communalities, factor
    correlations and variance explained (as R psych's ``fa``)."""
    pooled = analyst.factor(
        session, viewer, item, round, factors, method, rotation, missing, keying
    )
    return FactorOut.model_validate(
        {
            **_safe(pooled.result.to_dict()),
            "rounds": _rounds_out(pooled.answers),
            "settings": _settings(pooled.settings),
        }
    )


@router.get("/analyst/agreement")
def agreement(
    session: SessionDep,
    viewer: ApiAnalystDep,
    scale: Annotated[
        list[str], Query(max_length=100, description="scale ids; none: every scale")
    ] = [],  # noqa: B006
    round: Rounds = [],  # noqa: B006
    keying: KeyingQuery = "keyed",
) -> AgreementOut:
    """rwg(j) per partnership and scale (uniform null; only partnerships with at least their
    anonymity threshold of complete respondents), ICC(1) and ICC(2) across partnerships."""
    pooled = analyst.agreement(session, viewer, scale, round, keying)
    scales = [
        {
            "scale": s.scale_id,
            "name": s.name,
            "items": list(s.items),
            "options": s.options,
            "rwg_j": [g.to_dict("partnership") for g in s.partnerships],
            "icc": s.icc.to_dict() if s.icc else None,
            "icc_error": s.icc_error,
        }
        for s in pooled.scales
    ]
    return AgreementOut.model_validate(
        {
            "rounds": _rounds_out(pooled.answers),
            "settings": _settings(pooled.settings),
            "thresholds": pooled.thresholds,
            "scales": json_safe(scales),
        }
    )
