"""Releases of a round's results: which responses a report may use, made when allowed.

A report never reads a round's live answers. It reads the *published set*: the responses whose
``release`` is at most the round's latest release (:class:`app.models.RoundRelease`). Releases
are made lazily, when a report is asked for and when a round is closed, following the pure
rules of :func:`analysis.disclosure.plan_release`:

* ``at-close`` (the default): nothing is published until the round closes (its status is closed
  or its closing date has passed); then one final release of every submitted response, if there
  are at least the round's threshold of them.
* ``interim`` (a coordinator's choice, until the first release): a new release each time at
  least the threshold of unreleased responses have arrived; at close, the rest only if they are
  at least the threshold too.

Breakdowns and row-level downloads use only a final release; interim releases give whole-round
figures. Pooled figures use only closed rounds' final releases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from analysis.disclosure import (
    OpenLinkShare,
    ReleasePlan,
    open_link_share,
    plan_release,
    rows_and_breakdowns_allowed,
    scales_shown,
)
from analysis.instrument import Instrument
from analysis.scoring import scale_scores
from analysis.summary import favourable_scores
from app.models import ReleasePolicy, Response, ResponseStatus, RoundRelease, SurveyRound
from app.services import audit, rounds
from app.services.errors import FieldValidationError, InvalidRequestError


@dataclass(frozen=True)
class Publication:
    """What of a round is published now: its latest release (number 0: none yet)."""

    survey_round: SurveyRound
    release: RoundRelease | None
    submitted: int
    plan: ReleasePlan
    closed: bool
    earlier_finals: int = 0  # final releases before this one (a reopened round's)

    @property
    def rows_allowed(self) -> bool:
        """Whether breakdowns and row-level files may use this release: only a round's first
        final release (:func:`analysis.disclosure.rows_and_breakdowns_allowed`)."""
        return rows_and_breakdowns_allowed(self.earlier_finals, self.final)

    @property
    def number(self) -> int:
        return self.release.number if self.release else 0

    @property
    def responses(self) -> int:
        """Responses in the published set."""
        return self.release.responses if self.release else 0

    @property
    def final(self) -> bool:
        return bool(self.release and self.release.final)

    @property
    def not_included(self) -> int:
        """Submitted responses that the published set leaves out."""
        return self.submitted - self.responses

    @property
    def published_on(self) -> date | None:
        return self.release.created_at.date() if self.release else None

    @property
    def closed_on(self) -> date | None:
        """When the round closed: the day of its final release, or its closing date when the
        release was made later (a round that closed by its date is published lazily)."""
        if not self.final or self.published_on is None:
            return None
        days = [self.published_on, self.survey_round.closes_on]
        if self.survey_round.closed_on is not None:
            days.append(self.survey_round.closed_on)
        return min(days)

    def headline(self) -> str:
        """Which release the report shows, in a sentence."""
        threshold = self.survey_round.anonymity_threshold
        if self.survey_round.answers_deleted_on is not None:
            return (
                "The answers of this round were deleted on "
                f"{self.survey_round.answers_deleted_on:%-d %B %Y}, at the end of the period "
                "this service keeps them, so no results are shown."
            )
        if self.release is None:
            if self.closed:
                return (
                    f"Fewer than {threshold} responses were submitted, so no results are "
                    "published, only the count."
                )
            if self.survey_round.release_policy == ReleasePolicy.INTERIM:
                return (
                    f"Interim results: the first release comes once {threshold} responses "
                    "have been submitted."
                )
            return (
                "Results are published when the round closes "
                f"(on {self.survey_round.closes_on:%-d %B %Y} at the latest)."
            )
        if self.final and not self.closed:
            return (
                f"This round was reopened: the results are those published when it closed on "
                f"{self.closed_on:%-d %B %Y} ({self.responses} responses). They change only "
                f"once at least {threshold} more responses have arrived and the round closes "
                "again."
            )
        if self.final and self.number == 1:
            return f"Results published when the round closed on {self.closed_on:%-d %B %Y}."
        if self.final:
            return (
                f"Final results, published when the round closed on {self.closed_on:%-d %B %Y}: "
                f"release {self.number}, {self.responses} responses."
            )
        return (
            f"Interim results: release {self.number}, {self.responses} responses; results move "
            f"in steps of at least {threshold}."
        )

    def left_out(self) -> str | None:
        """Why some submitted responses are not in the published set, if any are not."""
        if not self.not_included:
            return None
        return self.plan.reason


def round_closed(survey_round: SurveyRound) -> bool:
    """Closed by a coordinator, or past its closing date."""
    return rounds.round_state(survey_round) == rounds.RoundState.CLOSED


def releases_of(session: Session, round_id: int) -> list[RoundRelease]:
    statement = (
        select(RoundRelease)
        .where(RoundRelease.round_id == round_id)
        .order_by(col(RoundRelease.number))
    )
    return list(session.exec(statement))


def _submitted(session: Session, round_id: int) -> int:
    statement = (
        sa.select(sa.func.count())
        .select_from(Response)
        .where(
            col(Response.round_id) == round_id,
            col(Response.status) == ResponseStatus.SUBMITTED,
        )
    )
    return int(session.execute(statement).scalar_one())


def publish(
    session: Session, survey_round: SurveyRound, *, actor: audit.Actor = audit.WORKER_ACTOR
) -> Publication:
    """Make a new release of the round if the rules allow one now; the latest release.

    The new release publishes every submitted response not yet released (those that arrive
    while it is being made wait for the next). Two requests making the same release at once
    are settled by the release's primary key: the second finds the first one's release.
    ``actor`` is recorded as having released the results (whoever's action made the release:
    closing the round, or a reader's request once the rules allowed one).
    """
    assert survey_round.id is not None
    if survey_round.answers_deleted_on is not None:
        # Nothing is left to publish: only the headline saying so (no release, no figures).
        closed = round_closed(survey_round)
        plan = plan_release(
            [],
            0,
            survey_round.anonymity_threshold,
            closed=closed,
            policy=survey_round.release_policy,
            earlier_final=False,
        )
        return Publication(survey_round, None, 0, plan, closed)
    for _attempt in range(3):
        earlier = releases_of(session, survey_round.id)
        submitted = _submitted(session, survey_round.id)
        closed = round_closed(survey_round)
        plan = plan_release(
            [r.responses for r in earlier],
            submitted,
            survey_round.anonymity_threshold,
            closed=closed,
            policy=survey_round.release_policy,
            earlier_final=bool(earlier and earlier[-1].final),
        )
        latest = earlier[-1] if earlier else None
        if not plan.make_release:
            finals = sum(1 for r in earlier[:-1] if r.final)
            return Publication(survey_round, latest, submitted, plan, closed, finals)
        last = latest.responses if latest else 0
        try:
            release = RoundRelease(
                round_id=survey_round.id, number=plan.number, responses=last, final=plan.final
            )
            session.add(release)
            session.flush()
            if plan.responses > last:
                result = session.execute(
                    sa.update(Response)
                    .where(
                        col(Response.round_id) == survey_round.id,
                        col(Response.status) == ResponseStatus.SUBMITTED,
                        col(Response.release).is_(None),
                    )
                    .values(release=plan.number)
                )
                release.responses = last + int(getattr(result, "rowcount", 0) or 0)
                session.add(release)
            audit.record(
                session,
                actor,
                audit.AuditAction.RESULTS_RELEASED,
                f"round {survey_round.id}",
                partnership_id=survey_round.partnership_id,
                detail=f"release {plan.number}{' (final)' if plan.final else ''}, "
                f"{release.responses} responses",
                commit=False,
            )
            session.commit()
        except IntegrityError:
            session.rollback()  # another request made this release first: read it
            continue
        session.refresh(release)
        finals = sum(1 for r in earlier if r.final)
        return Publication(survey_round, release, submitted, plan, closed, finals)
    raise InvalidRequestError("the round's results are being published; try again")


def published_condition(round_id: int, number: int) -> sa.ColumnElement[bool]:
    """SQL for "a response of the round's published set" at release ``number``."""
    return sa.and_(
        col(Response.round_id) == round_id,
        col(Response.status) == ResponseStatus.SUBMITTED,
        col(Response.release).is_not(None),
        col(Response.release) <= number,
    )


def open_link_figures(session: Session, publication: Publication) -> OpenLinkShare:
    """How many published responses came through the open link, and whether in a burst."""
    assert publication.survey_round.id is not None
    statement = sa.select(col(Response.from_open_link), col(Response.submitted_at)).where(
        published_condition(publication.survey_round.id, publication.number)
    )
    rows = list(session.execute(statement))
    return open_link_share(
        [bool(via) for via, _ in rows],
        [at.replace(minute=0, second=0, microsecond=0) if at else None for _, at in rows],
    )


def set_release_policy(
    session: Session, round_id: int, policy: str, *, actor: audit.Actor = audit.COMMAND_LINE_ACTOR
) -> SurveyRound:
    """Choose when a round's results are published; refused once anything was released."""
    survey_round = rounds.get_round(session, round_id)
    try:
        chosen = ReleasePolicy(policy)
    except ValueError:
        raise FieldValidationError({"release_policy": "must be at-close or interim"}) from None
    if releases_of(session, round_id):
        raise InvalidRequestError(
            "the release policy is fixed once the round's first results were published"
        )
    before = survey_round.release_policy
    survey_round.release_policy = chosen
    session.add(survey_round)
    audit.record(
        session,
        actor,
        audit.AuditAction.RELEASE_POLICY_CHANGED,
        f"round {round_id}",
        partnership_id=survey_round.partnership_id,
        detail=f"{before} -> {chosen}",
        commit=False,
    )
    session.commit()
    return survey_round


def published_scores(
    session: Session,
    survey_round: SurveyRound,
    instrument: Instrument,
    number: int,
    matrix: pd.DataFrame,
) -> tuple[pd.DataFrame, set[str]]:
    """The scale scores of release ``number`` (its answers ``matrix``) as they may be
    published, and the scales withheld: a scale fewer than the threshold were scored on, or
    whose scored respondents differ from an earlier release's that showed it by fewer than the
    threshold (:func:`analysis.disclosure.scales_shown`), is left blank throughout."""
    assert survey_round.id is not None
    scores = scale_scores(matrix, instrument)
    counts = []
    for earlier in range(1, number):
        before = scale_scores(
            rounds.round_items_matrix(session, survey_round.id, release=earlier), instrument
        )
        counts.append({str(c): int(before[c].notna().sum()) for c in before.columns})
    counts.append({str(c): int(scores[c].notna().sum()) for c in scores.columns})
    shown = scales_shown(counts, survey_round.anonymity_threshold)
    withheld = {str(c) for c in scores.columns} - shown
    if withheld:
        scores = scores.assign(**dict.fromkeys(withheld, float("nan")))
    return scores, withheld


def published_favourable_scores(
    session: Session,
    survey_round: SurveyRound,
    instrument: Instrument,
    number: int,
    matrix: pd.DataFrame,
) -> pd.DataFrame:
    """:func:`published_scores` of another round's release, favourable-keyed (higher is
    better), as the trend, the change and the peer benchmark compare them."""
    scores, _ = published_scores(session, survey_round, instrument, number, matrix)
    return favourable_scores(scores, instrument)
