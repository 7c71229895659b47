"""Pooled answers for analysts: across rounds and partnerships, never below a threshold.

Only closed rounds are pooled, each with its final release (:mod:`app.services.releases`), and
only when that release holds at least the round's own anonymity threshold; open rounds and the
others are listed as left out, with no figures. So pooled figures never move while a round is
taking answers, and cannot be differenced against one new response.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal, TypeVar

import numpy as np
import pandas as pd
from sqlmodel import Session, col, select

from analysis.agreement import (
    GroupAgreement,
    IntraclassCorrelation,
    intraclass_correlations,
    rwg_j,
)
from analysis.disclosure import results_visible
from analysis.factor import FactorAnalysis, FactorMethod, Rotation, factor_analysis
from analysis.instrument import Instrument
from analysis.omega import OmegaResult, omega_total
from analysis.reliability import ReliabilityResult, cronbach_alpha, missing_policy
from analysis.scoring import reverse_key, score_scale
from analysis.summary import Table4, partnership_kind_counts, table4
from app.instruments import DEFAULT_INSTRUMENT, instrument_named
from app.models import Partnership, SurveyRound
from app.services import audit, releases, report_cache
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
    *,
    scales_at_threshold: bool = False,
) -> PooledAnswers:
    """Every chosen round's answers (all readable rounds when none are chosen), one frame,
    with ``partnership_name``, ``round_id`` and, when the instrument names a
    ``partnership_attribute``, a column of that question's id holding the partnership's
    kind (as its respondents' background answers would).

    With ``scales_at_threshold`` (the pooled Table 4), a round's answers to a scale fewer
    than its threshold were scored on are left out, as its own report shows no figure of it."""
    instrument = instrument_named(instrument_id)
    candidates = candidate_rounds(session, viewer, instrument_id)
    if round_ids:
        known = {r.id for r in candidates}
        unknown = [str(i) for i in round_ids if i not in known]
        if unknown:
            raise FieldValidationError(
                {"round": f"no round {', '.join(unknown)} that you can read with this instrument"},
                QUERY,
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
            # Once per release, however many analyses a page makes of it.
            matrix = report_cache.published_matrix(session, survey_round, publication.number)
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
            if scales_at_threshold:
                _, withheld = releases.published_scores(
                    session, survey_round, instrument, publication.number, matrix
                )
                matrix = _without_scales(matrix, instrument, withheld)
            matrix["partnership_name"] = partnership.name
            if instrument.partnership_attribute is not None:
                matrix[instrument.partnership_attribute] = partnership.kind
            matrix["round_id"] = survey_round.id
            frames.append(matrix)
    attribute = [instrument.partnership_attribute] if instrument.partnership_attribute else []
    columns = [*instrument.item_ids, "partnership_name", *attribute, "round_id"]
    matrix = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    return PooledAnswers(instrument, tuple(pooled), matrix)


def _without_scales(
    matrix: pd.DataFrame, instrument: Instrument, withheld: set[str]
) -> pd.DataFrame:
    """A round's answers with the items of the scales its report withholds left blank
    (:func:`releases.published_scores`): pooling them would let the pooled figures move by
    fewer than the threshold on such a scale."""
    items = [item for scale in instrument.scales if scale.id in withheld for item in scale.items]
    return matrix.assign(**dict.fromkeys(items, float("nan"))) if items else matrix


@dataclass(frozen=True)
class PooledView:
    answers: PooledAnswers
    partnership_kinds: pd.DataFrame | None  # Table 3's counts, when the instrument has kinds
    table: Table4 | None

    @property
    def kind_name(self) -> str:
        """What the instrument calls a partnership's kind ("care model" in 2017)."""
        attribute = self.answers.instrument.partnership_attribute
        if attribute is None:
            return "kind of partnership"
        return self.answers.instrument.background_question(attribute).name


def record_analysis(
    session: Session, viewer: Viewer, analysis: str, answers: PooledAnswers, chosen: str = ""
) -> None:
    """Record that ``viewer`` computed ``analysis`` from the published answers of the rounds
    it pooled (the audit trail's "report viewed" for figures across partnerships); ``chosen``
    names the items or scales, never an answer."""
    pooled = ", ".join(str(r.survey_round.id) for r in answers.included) or "none"
    audit.record(
        session,
        viewer.account,
        audit.AuditAction.ANALYSIS_RUN,
        f"{analysis} of rounds {pooled}",
        detail=chosen[:500],
    )


def pooled_view(session: Session, viewer: Viewer) -> PooledView:
    """Table 3-style counts by kind of partnership and a pooled Table 4."""
    answers = pooled_answers(session, viewer, scales_at_threshold=True)
    record_analysis(session, viewer, "pooled Table 4", answers)
    matrix = answers.matrix
    counts = (
        partnership_kind_counts(matrix, answers.instrument)
        if answers.instrument.partnership_attribute is not None
        else None
    )
    summary = table4(matrix, answers.instrument) if len(matrix) else None
    return PooledView(answers, counts, summary)


# -- psychometrics of chosen items: one set of rules (those of the command line) -----------

Keying = Literal["keyed", "raw"]
KEYINGS: tuple[str, ...] = ("keyed", "raw")
MISSINGS: tuple[str, ...] = ("listwise", "pairwise")
METHODS: tuple[str, ...] = ("minres", "ml")
ROTATIONS: tuple[str, ...] = ("oblimin", "none")
MOST_BOOTSTRAP = 2000
GROUP = "partnership_name"
QUERY = ("query",)  # where a request names its choices


@dataclass(frozen=True)
class AnalysisSettings:
    """The rules a figure was computed under, stated with it (as the command line does).

    ``keyed`` (the default) reverse-keys the items the instrument marks reverse-keyed on
    their own response scale; ``raw`` uses the answers as given.  ``listwise`` (the default)
    keeps the respondents who answered every chosen item; ``pairwise`` each pair of items
    from those who answered both.
    """

    instrument: str
    keying: Keying
    reverse_keyed: tuple[str, ...]
    missing: str

    def to_dict(self) -> dict[str, object]:
        return {
            "instrument": self.instrument,
            "keying": self.keying,
            "reverse_keyed": list(self.reverse_keyed),
            "missing": self.missing,
        }

    def lines(self) -> list[str]:
        """One sentence per rule, in the words of the command line's output."""
        if self.keying == "keyed":
            flipped = ", ".join(self.reverse_keyed) if self.reverse_keyed else "none"
            keying = f"Keying: keyed (the default): reverse-keyed {flipped}."
        else:
            keying = "Keying: raw (the answers as given)."
        if self.missing == "listwise":
            missing = (
                "Missing answers: listwise (the default): respondents who answered every item."
            )
        elif self.missing == "pairwise":
            missing = (
                "Missing answers: pairwise: each pair of items from the respondents who "
                "answered both."
            )
        else:
            missing = f"Missing answers: {self.missing}."
        return [f"Instrument: {self.instrument}.", keying, missing]


@dataclass(frozen=True)
class ChosenItems:
    answers: PooledAnswers
    frame: pd.DataFrame  # the chosen items, keyed as the settings say, as floats
    settings: AnalysisSettings


def _listed(values: Sequence[str]) -> str:
    return ", ".join(values)


def _check_choice(value: str, allowed: Sequence[str], field: str, problems: dict[str, str]) -> None:
    if value not in allowed:
        problems[field] = f"must be {' or '.join(allowed)}, not {value!r}"


def _keyed_frame(
    matrix: pd.DataFrame, instrument: Instrument, items: Sequence[str], keying: str
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    frame = matrix[list(items)].astype(float)
    flipped: list[str] = []
    if keying == "keyed":
        for item in items:
            if instrument.item(item).reverse_keyed:
                scale = instrument.response_scale_of(item)
                frame[item] = reverse_key(frame[item], scale.min, scale.max)
                flipped.append(item)
    return frame, tuple(flipped)


def _need_published(answers: PooledAnswers) -> None:
    if not answers.included:
        raise FieldValidationError(
            {
                "round": "no chosen round has closed with final results of at least its "
                "anonymity threshold yet"
            },
            QUERY,
        )


def _choose(
    session: Session,
    viewer: Viewer,
    items: Sequence[str],
    round_ids: Sequence[int],
    *,
    analysis: str,
    keying: str,
    missing: str,
    least: int = 2,
    problems: dict[str, str] | None = None,
) -> ChosenItems:
    """Check a request's items and rules, then key the pooled answers of those items (and
    record that ``analysis`` was run on them)."""
    answers = pooled_answers(session, viewer, round_ids)
    instrument = answers.instrument
    problems = dict(problems or {})
    chosen = list(dict.fromkeys(items))
    unknown = [i for i in chosen if i not in set(instrument.item_ids)]
    if unknown:
        problems["item"] = f"not items of instrument {instrument.id}: {_listed(unknown)}"
    elif len(chosen) < least:
        words = {2: "two", 3: "three"}
        problems["item"] = f"choose at least {words.get(least, str(least))} items" + (
            f" (only {chosen[0]} is chosen)" if len(chosen) == 1 else ""
        )
    _check_choice(keying, KEYINGS, "keying", problems)
    _check_choice(missing, MISSINGS, "missing", problems)
    if problems:
        raise FieldValidationError(problems, QUERY)
    _need_published(answers)
    record_analysis(session, viewer, analysis, answers, f"{missing}, {keying}: {' '.join(chosen)}")
    frame, flipped = _keyed_frame(answers.matrix, instrument, chosen, keying)
    settings = AnalysisSettings(
        instrument.id, "raw" if keying == "raw" else "keyed", flipped, missing
    )
    return ChosenItems(answers, frame, settings)


Result = TypeVar("Result")


def _computed(compute: Callable[[], Result], field: str = "item") -> Result:
    """Run a computation with numpy's warnings as errors; any failure is a field's problem."""
    with warnings.catch_warnings(), np.errstate(divide="raise", invalid="raise", over="raise"):
        warnings.simplefilter("error", RuntimeWarning)
        try:
            return compute()
        except FloatingPointError as error:
            raise FieldValidationError(
                {field: f"the figures cannot be computed ({error})"}, QUERY
            ) from None
        except (ValueError, np.linalg.LinAlgError, RuntimeWarning) as error:
            raise FieldValidationError({field: str(error)}, QUERY) from None


@dataclass(frozen=True)
class PooledReliability:
    result: ReliabilityResult
    answers: PooledAnswers
    settings: AnalysisSettings


def reliability(
    session: Session,
    viewer: Viewer,
    items: Sequence[str],
    round_ids: Sequence[int] = (),
    missing: str = "listwise",
    keying: str = "keyed",
) -> PooledReliability:
    """Cronbach's alpha of any items pooled over the chosen rounds (every published one
    when none), under the command line's defaults: keyed and listwise."""
    chosen = _choose(
        session, viewer, items, round_ids, analysis="reliability", keying=keying, missing=missing
    )
    policy = missing_policy(missing)
    result = _computed(lambda: cronbach_alpha(chosen.frame, missing=policy))
    return PooledReliability(result, chosen.answers, chosen.settings)


@dataclass(frozen=True)
class PooledOmega:
    result: OmegaResult
    answers: PooledAnswers
    settings: AnalysisSettings
    seed: int


def omega(
    session: Session,
    viewer: Viewer,
    items: Sequence[str],
    round_ids: Sequence[int] = (),
    missing: str = "listwise",
    keying: str = "keyed",
    bootstrap: int = 1000,
    seed: int = 2017,
) -> PooledOmega:
    """McDonald's omega total (one-factor model) of any items with a percentile bootstrap
    CI; seeded (2017 as the command line), so the same request gives the same figures."""
    problems: dict[str, str] = {}
    if not 0 <= bootstrap <= MOST_BOOTSTRAP:
        problems["bootstrap"] = f"must be between 0 and {MOST_BOOTSTRAP}"
    if not 0 <= seed < 2**32:
        problems["seed"] = "must be a whole number from 0 to 4294967295"
    chosen = _choose(
        session,
        viewer,
        items,
        round_ids,
        analysis="omega",
        keying=keying,
        missing=missing,
        least=3,
        problems=problems,
    )
    policy = missing_policy(missing)
    result = _computed(
        lambda: omega_total(chosen.frame, missing=policy, bootstrap=bootstrap, seed=seed)
    )
    return PooledOmega(result, chosen.answers, chosen.settings, seed)


@dataclass(frozen=True)
class PooledFactorAnalysis:
    result: FactorAnalysis
    answers: PooledAnswers
    settings: AnalysisSettings


def factor(
    session: Session,
    viewer: Viewer,
    items: Sequence[str],
    round_ids: Sequence[int] = (),
    factors: int = 1,
    method: str = "minres",
    rotation: str = "oblimin",
    missing: str = "listwise",
    keying: str = "keyed",
) -> PooledFactorAnalysis:
    """Exploratory factor analysis of chosen items (minres or ML; oblimin or no rotation)."""
    problems: dict[str, str] = {}
    _check_choice(method, METHODS, "method", problems)
    _check_choice(rotation, ROTATIONS, "rotation", problems)
    distinct = len(set(items))
    if factors < 1 or (distinct >= 2 and factors >= distinct):
        problems["factors"] = (
            f"choose between 1 and {max(distinct - 1, 1)} factors for {distinct} items"
        )
    chosen = _choose(
        session,
        viewer,
        items,
        round_ids,
        analysis=f"factor analysis ({factors} factors)",
        keying=keying,
        missing=missing,
        least=3 if factors > 1 else 2,
        problems=problems,
    )
    policy = missing_policy(missing)
    fitted: FactorMethod = "ml" if method == "ml" else "minres"
    turned: Rotation = "none" if rotation == "none" else "oblimin"
    result = _computed(
        lambda: factor_analysis(
            chosen.frame, factors, method=fitted, rotation=turned, missing=policy
        )
    )
    return PooledFactorAnalysis(result, chosen.answers, chosen.settings)


@dataclass(frozen=True)
class ScaleAgreement:
    """rwg(j) of each partnership on one scale, and ICC(1)/ICC(2) of its scores."""

    scale_id: str
    name: str
    items: tuple[str, ...]
    options: int
    partnerships: tuple[GroupAgreement, ...]
    icc: IntraclassCorrelation | None
    icc_error: str | None


@dataclass(frozen=True)
class PooledAgreement:
    scales: tuple[ScaleAgreement, ...]
    answers: PooledAnswers
    settings: AnalysisSettings
    thresholds: dict[str, int]  # each partnership's least number of respondents for rwg(j)


def partnership_thresholds(answers: PooledAnswers) -> dict[str, int]:
    """Each pooled partnership's threshold: the largest anonymity threshold of its rounds."""
    thresholds: dict[str, int] = {}
    for pooled in answers.included:
        name = pooled.partnership.name
        thresholds[name] = max(thresholds.get(name, 0), pooled.survey_round.anonymity_threshold)
    return thresholds


def _published_only(
    groups: Sequence[GroupAgreement], thresholds: dict[str, int]
) -> tuple[GroupAgreement, ...]:
    shown: list[GroupAgreement] = []
    for group in groups:
        least = thresholds.get(group.group, 0)
        if group.n < least:
            note = (
                f"fewer than {least} respondents (the anonymity threshold) answered every "
                "item of the scale: no figure"
            )
            shown.append(GroupAgreement(group.group, group.n, None, None, False, note))
        else:
            shown.append(group)
    return tuple(shown)


def agreement(
    session: Session,
    viewer: Viewer,
    scales: Sequence[str] = (),
    round_ids: Sequence[int] = (),
    keying: str = "keyed",
) -> PooledAgreement:
    """Within-partnership agreement on each chosen scale (every scale when none): rwg(j)
    with the uniform null per partnership, and ICC(1), ICC(2) of the scale scores across
    partnerships.

    rwg(j) is given only for a partnership with at least its anonymity threshold of
    respondents who answered every item of the scale (respondents with a missing item are
    left out of it, as R's ``multilevel::rwg.j``).  ICC uses every published scale score.
    """
    answers = pooled_answers(session, viewer, round_ids)
    instrument = answers.instrument
    known = {scale.id: scale for scale in instrument.scales}
    chosen = list(dict.fromkeys(scales)) or list(known)
    problems: dict[str, str] = {}
    unknown = [s for s in chosen if s not in known]
    if unknown:
        problems["scale"] = (
            f"not scales of instrument {instrument.id}: {_listed(unknown)} (its scales: "
            f"{_listed(list(known))})"
        )
    _check_choice(keying, KEYINGS, "keying", problems)
    if problems:
        raise FieldValidationError(problems, QUERY)
    _need_published(answers)
    record_analysis(session, viewer, "agreement", answers, f"{keying}: {' '.join(chosen)}")
    every_item = list(dict.fromkeys(i for s in chosen for i in known[s].items))
    frame, flipped = _keyed_frame(answers.matrix, instrument, every_item, keying)
    groups = answers.matrix[GROUP].reset_index(drop=True)
    frame = frame.reset_index(drop=True)
    thresholds = partnership_thresholds(answers)
    results: list[ScaleAgreement] = []
    for scale_id in chosen:
        scale = known[scale_id]
        options = {
            instrument.response_scale_of(i).max - instrument.response_scale_of(i).min + 1
            for i in scale.items
        }
        if len(options) > 1:
            raise FieldValidationError(
                {"scale": f"scale {scale_id}: its items have different response scales"}, QUERY
            )
        count = int(min(options))
        items = frame[list(scale.items)]
        per_group = _computed(partial(rwg_j, items, groups, options=count), "scale")
        scores = score_scale(items, scale.required_answers)
        icc: IntraclassCorrelation | None = None
        icc_error: str | None = None
        try:
            icc = _computed(partial(intraclass_correlations, scores, groups), "scale")
        except FieldValidationError as error:
            icc_error = error.problems["scale"]
        results.append(
            ScaleAgreement(
                scale_id,
                scale.name,
                tuple(scale.items),
                count,
                _published_only(per_group, thresholds),
                icc,
                icc_error,
            )
        )
    settings = AnalysisSettings(
        instrument.id,
        "raw" if keying == "raw" else "keyed",
        flipped,
        "listwise per scale for rwg(j); scale scores as Table 4 for ICC",
    )
    return PooledAgreement(tuple(results), answers, settings, thresholds)
