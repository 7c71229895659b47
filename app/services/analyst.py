"""Pooled answers for analysts: across rounds and partnerships, never below a threshold.

Only closed rounds are pooled, each with its final release (:mod:`app.services.releases`), and
only when that release holds at least the round's own anonymity threshold; open rounds and the
others are listed as left out, with no figures. So pooled figures never move while a round is
taking answers, and cannot be differenced against one new response.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from sqlmodel import Session, col, select

from analysis.disclosure import results_visible
from analysis.instrument import Instrument
from analysis.reliability import MissingPolicy, ReliabilityResult, cronbach_alpha
from analysis.scoring import keyed_items
from analysis.summary import Table4, care_model_counts, table4
from app.instruments import DEFAULT_INSTRUMENT, instrument_named
from app.models import Partnership, SurveyRound
from app.services import releases, rounds
from app.services.errors import FieldValidationError
from app.services.reports import Viewer


@dataclass(frozen=True)
class PooledRound:
    survey_round: SurveyRound
    partnership: Partnership
    responses: int  # in the final release (0 while the round is open or unpublished)
    included: bool
    reason: str | None = None  # why it is left out


@dataclass(frozen=True)
class PooledAnswers:
    instrument: Instrument
    rounds: tuple[PooledRound, ...]
    matrix: pd.DataFrame

    @property
    def included(self) -> list[PooledRound]:
        return [r for r in self.rounds if r.included]

    @property
    def left_out(self) -> list[PooledRound]:
        return [r for r in self.rounds if not r.included]


def candidate_rounds(session: Session, viewer: Viewer, instrument_id: str) -> list[SurveyRound]:
    statement = (
        select(SurveyRound)
        .where(SurveyRound.instrument_id == instrument_id)
        .order_by(col(SurveyRound.partnership_id), col(SurveyRound.opens_on), col(SurveyRound.id))
    )
    return [r for r in session.exec(statement) if viewer.may_read(r.partnership_id)]


def pooled_answers(
    session: Session,
    viewer: Viewer,
    round_ids: Sequence[int] = (),
    instrument_id: str = DEFAULT_INSTRUMENT,
) -> PooledAnswers:
    """Every chosen round's answers (all readable rounds when none are chosen), one frame,
    with ``partnership_name``, ``care_model`` (the partnership's) and ``round_id`` columns."""
    instrument = instrument_named(instrument_id)
    candidates = candidate_rounds(session, viewer, instrument_id)
    if round_ids:
        known = {r.id for r in candidates}
        unknown = [str(i) for i in round_ids if i not in known]
        if unknown:
            raise FieldValidationError(
                {"round": f"no round {', '.join(unknown)} that you can read with this instrument"}
            )
        candidates = [r for r in candidates if r.id in set(round_ids)]
    pooled: list[PooledRound] = []
    frames: list[pd.DataFrame] = []
    for survey_round in candidates:
        assert survey_round.id is not None
        partnership = session.get(Partnership, survey_round.partnership_id)
        assert partnership is not None
        publication = releases.publish(session, survey_round)
        if publication.final:
            matrix = rounds.round_items_matrix(session, survey_round.id, release=publication.number)
        else:
            matrix = pd.DataFrame(columns=instrument.item_ids)
        included = publication.final and results_visible(
            len(matrix), survey_round.anonymity_threshold
        )
        reason = None
        if not publication.final:
            reason = "not closed yet (pooled once it closes)"
        elif not included:
            reason = f"fewer than {survey_round.anonymity_threshold} responses"
        pooled.append(PooledRound(survey_round, partnership, len(matrix), included, reason))
        if included and survey_round.instrument_version == instrument.version:
            matrix = matrix.reset_index(drop=True)
            matrix["partnership_name"] = partnership.name
            matrix["care_model"] = partnership.care_model
            matrix["round_id"] = survey_round.id
            frames.append(matrix)
    columns = [*instrument.item_ids, "partnership_name", "care_model", "round_id"]
    matrix = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    return PooledAnswers(instrument, tuple(pooled), matrix)


@dataclass(frozen=True)
class PooledView:
    answers: PooledAnswers
    care_models: pd.DataFrame
    table: Table4 | None


def pooled_view(session: Session, viewer: Viewer) -> PooledView:
    """Table 3-style counts by care model and a pooled Table 4."""
    answers = pooled_answers(session, viewer)
    matrix = answers.matrix
    counts = care_model_counts(matrix, answers.instrument)
    summary = table4(matrix, answers.instrument) if len(matrix) else None
    return PooledView(answers, counts, summary)


def reliability(
    session: Session,
    viewer: Viewer,
    items: Sequence[str],
    round_ids: Sequence[int] = (),
    missing: str = "pairwise",
) -> tuple[ReliabilityResult, PooledAnswers]:
    """Cronbach's alpha of any items (reverse-keyed as the instrument says), pooled over the
    chosen rounds."""
    answers = pooled_answers(session, viewer, round_ids)
    known = set(answers.instrument.item_ids)
    unknown = [i for i in items if i not in known]
    problems: dict[str, str] = {}
    if unknown:
        problems["items"] = f"not items of the instrument: {', '.join(unknown)}"
    elif len(set(items)) < 2:
        problems["items"] = "choose at least two items"
    if missing not in ("pairwise", "listwise"):
        problems["missing"] = "must be pairwise or listwise"
    if problems:
        raise FieldValidationError(problems)
    if not answers.included:
        raise FieldValidationError(
            {
                "round": "no chosen round has closed with final results of at least its "
                "anonymity threshold yet"
            }
        )
    policy: MissingPolicy = "listwise" if missing == "listwise" else "pairwise"
    keyed = keyed_items(answers.matrix[list(dict.fromkeys(items))], answers.instrument)
    try:
        result = cronbach_alpha(keyed, missing=policy)
    except ValueError as error:
        raise FieldValidationError({"items": str(error)}) from None
    return result, answers
