"""Survey rounds: opening and closing them, progress counts, and the items matrix."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlmodel import Session, col, select

from analysis.anonymity import suppress_groups
from app.models import (
    Invitation,
    InvitationKind,
    InvitationStatus,
    ReleasePolicy,
    Response,
    ResponseStatus,
    RoundStatus,
    SurveyRound,
)
from app.services import audit, clock
from app.services.answers import control_character_problem
from app.services.audit import COMMAND_LINE_ACTOR, WORKER_ACTOR, Actor, AuditAction
from app.services.errors import (
    FieldValidationError,
    InvalidRequestError,
    RecordNotFoundError,
    RoundNotOpenError,
)
from app.services.instruments import ensure_stored, newest_version, round_instrument
from app.services.partnerships import get_partnership, list_organisations, typed_name_matches
from app.settings import MINIMUM_ANONYMITY_THRESHOLD


class RoundState(StrEnum):
    OPEN = "open"
    NOT_YET_OPEN = "not-yet-open"
    CLOSED = "closed"


def today() -> date:
    """Today in the service's time zone (TIME_ZONE)."""
    return clock.local_day()


class RoundDates(Protocol):
    """What a round's state is worked out from (a round, or a link's round on the async path)."""

    @property
    def status(self) -> str: ...
    @property
    def opens_on(self) -> date: ...
    @property
    def closes_on(self) -> date: ...
    @property
    def closed_on(self) -> date | None: ...


def round_state(survey_round: RoundDates, on: date | None = None) -> RoundState:
    """Whether a round takes answers on a day: its status and its dates both count."""
    day = on or today()
    if survey_round.status == RoundStatus.CLOSED or day > survey_round.closes_on:
        return RoundState.CLOSED
    if day < survey_round.opens_on:
        return RoundState.NOT_YET_OPEN
    return RoundState.OPEN


def closed_on(survey_round: RoundDates, on: date | None = None) -> date | None:
    """The day a round closed: recorded when closed (early, or by the schedule), else its
    closing date once that has passed; ``None`` while it has not closed.  Never a day after
    ``on`` (today)."""
    day = on or today()
    if survey_round.status == RoundStatus.CLOSED:
        return survey_round.closed_on or min(survey_round.closes_on, day)
    if day > survey_round.closes_on:
        return survey_round.closes_on
    return None


def require_open(survey_round: RoundDates) -> None:
    state = round_state(survey_round)
    if state != RoundState.OPEN:
        raise RoundNotOpenError(
            state, survey_round.opens_on, survey_round.closes_on, closed_on(survey_round)
        )


def title_problem(title: str) -> str | None:
    if not title.strip():
        return "Enter a title for the round"
    if (problem := control_character_problem(title)) is not None:
        return problem
    return None


def open_round(
    session: Session,
    partnership_id: int,
    *,
    title: str,
    opens_on: date,
    closes_on: date,
    anonymity_threshold: int,
    instrument_id: str,
    instrument_version: str | None = None,
    release_policy: str = ReleasePolicy.AT_CLOSE,
    actor: Actor = COMMAND_LINE_ACTOR,
    historical: bool = False,
) -> SurveyRound:
    """A new round of a partnership on an instrument version (default: its newest).

    It is a draft until its opening day (in TIME_ZONE), and open from then; the instrument
    version's document is stored with it, so its reports keep their questionnaire.  Its
    closing date may not be past unless ``historical`` (a round of an earlier year recorded
    after the event, such as the demo's): pages and the API never pass it.
    """
    get_partnership(session, partnership_id)
    problems: dict[str, str] = {}
    if release_policy not in set(ReleasePolicy):
        problems["release_policy"] = "Choose when results are published"
    if (problem := title_problem(title)) is not None:
        problems["title"] = problem
    if not historical and (problem := closing_date_problem(closes_on)) is not None:
        problems["closes_on"] = problem
    elif closes_on < opens_on:
        problems["closes_on"] = "The closing date must be the same as or after the opening date"
    if anonymity_threshold < MINIMUM_ANONYMITY_THRESHOLD:
        problems["anonymity_threshold"] = (
            f"The smallest group shown must be {MINIMUM_ANONYMITY_THRESHOLD} or more"
        )
    version = instrument_version
    try:
        version = version or newest_version(session, instrument_id)
    except RecordNotFoundError:
        problems["instrument"] = "Choose one of the listed questionnaires"
    if problems:
        raise FieldValidationError(problems)
    assert version is not None
    try:
        instrument = ensure_stored(session, instrument_id, version)
    except RecordNotFoundError:
        raise FieldValidationError(
            {"instrument": "Choose one of the listed questionnaires"}
        ) from None
    survey_round = SurveyRound(
        partnership_id=partnership_id,
        title=title.strip(),
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        opens_on=opens_on,
        closes_on=closes_on,
        status=RoundStatus.DRAFT if opens_on > today() else RoundStatus.OPEN,
        anonymity_threshold=anonymity_threshold,
        release_policy=ReleasePolicy(release_policy),
    )
    session.add(survey_round)
    session.flush()
    audit.record(
        session,
        actor,
        AuditAction.ROUND_ADDED,
        f"round {survey_round.id}",
        partnership_id=partnership_id,
        detail=f"{instrument.id} {instrument.version}, threshold {anonymity_threshold}, "
        f"{ReleasePolicy(release_policy).value}",
        commit=False,
    )
    if survey_round.status == RoundStatus.OPEN:
        audit.record(
            session,
            actor,
            AuditAction.ROUND_OPENED,
            f"round {survey_round.id}",
            partnership_id=partnership_id,
            commit=False,
        )
    session.commit()
    session.refresh(survey_round)
    return survey_round


def _publish_final(
    session: Session, survey_round: SurveyRound, actor: Actor = WORKER_ACTOR
) -> None:
    from app.services import releases  # releases uses this module

    releases.publish(
        session, survey_round, actor=actor
    )  # the final release, if the rules allow one


def _record(
    session: Session, actor: Actor, action: AuditAction, survey_round: SurveyRound, detail: str = ""
) -> None:
    audit.record(
        session,
        actor,
        action,
        f"round {survey_round.id}",
        partnership_id=survey_round.partnership_id,
        detail=detail,
        commit=False,
    )


def close_round(
    session: Session, round_id: int, *, actor: Actor = COMMAND_LINE_ACTOR
) -> SurveyRound:
    """Close a round now (a coordinator's choice): it takes no more answers, the day is
    recorded, and its final release is made if the rules allow.  Closing a closed round
    changes nothing; a round that has not opened yet cannot be closed (delete it instead)."""
    survey_round = get_round(session, round_id)
    state = round_state(survey_round)
    if state == RoundState.NOT_YET_OPEN:
        raise InvalidRequestError(
            "this round has not opened yet, so it cannot be closed; change its dates or delete it"
        )
    if survey_round.status != RoundStatus.CLOSED:
        survey_round.status = RoundStatus.CLOSED
        survey_round.closed_on = closed_on(survey_round) or today()
        session.add(survey_round)
        _record(session, actor, AuditAction.ROUND_CLOSED, survey_round)
        session.commit()
    _publish_final(session, survey_round, actor)
    return survey_round


def open_now(session: Session, round_id: int, *, actor: Actor = COMMAND_LINE_ACTOR) -> SurveyRound:
    """Open a draft round today (its opening date becomes today)."""
    survey_round = get_round(session, round_id)
    if round_state(survey_round) != RoundState.NOT_YET_OPEN:
        raise InvalidRequestError("this round is already open or has closed")
    survey_round.opens_on = today()
    survey_round.status = RoundStatus.OPEN
    session.add(survey_round)
    _record(session, actor, AuditAction.ROUND_OPENED, survey_round)
    session.commit()
    return survey_round


def change_closing_date(
    session: Session, round_id: int, closes_on: date, *, actor: Actor = COMMAND_LINE_ACTOR
) -> SurveyRound:
    """Move an open (or not yet open) round's closing date, to today or later."""
    survey_round = get_round(session, round_id)
    if round_state(survey_round) == RoundState.CLOSED:
        raise InvalidRequestError("this round has closed: reopen it to give it a new closing date")
    _check_new_closing_date(survey_round, closes_on)
    before = survey_round.closes_on
    survey_round.closes_on = closes_on
    session.add(survey_round)
    _record(
        session, actor, AuditAction.ROUND_EXTENDED, survey_round, f"closes {before} -> {closes_on}"
    )
    session.commit()
    return survey_round


PAST_CLOSING_DATE = "The closing date must be today or in the future"


def closing_date_problem(closes_on: date) -> str | None:
    """Why a new round (or a new closing date) cannot close on ``closes_on``, if it cannot: a
    day already past in TIME_ZONE.  (Rounds of earlier years, such as the demo's, are made
    with :func:`open_round`'s ``historical``.)"""
    return PAST_CLOSING_DATE if closes_on < today() else None


def _check_new_closing_date(survey_round: SurveyRound, closes_on: date) -> None:
    if (problem := closing_date_problem(closes_on)) is not None:
        raise FieldValidationError({"closes_on": problem})
    if closes_on < survey_round.opens_on:
        raise FieldValidationError(
            {"closes_on": "The closing date must be the same as or after the opening date"}
        )


def reopen_round(
    session: Session, round_id: int, closes_on: date, *, actor: Actor = COMMAND_LINE_ACTOR
) -> SurveyRound:
    """Reopen a closed round until a new closing date.

    What was published stays published. A new release is made only once at least the
    round's threshold of responses have arrived since the last release (see
    :func:`analysis.disclosure.plan_release`): so the results before and after reopening
    never differ by fewer than the threshold, and no one's answers can be had by
    subtraction. Breakdowns and row-level files stay those of the first final release.
    """
    survey_round = get_round(session, round_id)
    if round_state(survey_round) != RoundState.CLOSED:
        raise InvalidRequestError("this round is not closed")
    if survey_round.answers_deleted_on is not None:
        raise InvalidRequestError(
            "this round's answers were deleted at the end of their retention period, so it "
            "cannot be reopened: start a new round instead"
        )
    _check_new_closing_date(survey_round, closes_on)
    _publish_final(session, survey_round, actor)  # what it published when it closed, fixed
    survey_round.status = RoundStatus.OPEN
    survey_round.closed_on = None
    survey_round.closes_on = closes_on
    survey_round.reopened += 1
    session.add(survey_round)
    _record(session, actor, AuditAction.ROUND_REOPENED, survey_round, f"closes {closes_on}")
    session.commit()
    return survey_round


def rename_round(
    session: Session, round_id: int, title: str, *, actor: Actor = COMMAND_LINE_ACTOR
) -> SurveyRound:
    survey_round = get_round(session, round_id)
    if (problem := title_problem(title)) is not None:
        raise FieldValidationError({"title": problem})
    before = survey_round.title
    survey_round.title = title.strip()
    session.add(survey_round)
    _record(
        session, actor, AuditAction.ROUND_RENAMED, survey_round, f"{before} -> {survey_round.title}"
    )
    session.commit()
    return survey_round


def delete_round(
    session: Session, round_id: int, typed_title: str, *, actor: Actor = COMMAND_LINE_ACTOR
) -> int:
    """Delete a round with all its links, responses and releases, if ``typed_title`` is its
    title; returns its partnership's id."""
    survey_round = get_round(session, round_id)
    if not typed_name_matches(typed_title, survey_round.title):
        raise FieldValidationError(
            {"confirm_name": "Type the round's name exactly as shown to delete it"}
        )
    partnership_id = survey_round.partnership_id
    target = audit.named("round", round_id, survey_round.title)
    session.execute(sa.delete(SurveyRound).where(col(SurveyRound.id) == round_id))
    audit.record(
        session,
        actor,
        AuditAction.ROUND_DELETED,
        target,
        partnership_id=partnership_id,
        commit=False,
    )
    session.commit()
    session.expunge_all()
    return partnership_id


@dataclass(frozen=True)
class ScheduleResult:
    """What :func:`apply_round_schedule` did: the rounds it opened and closed."""

    opened: tuple[int, ...]
    closed: tuple[int, ...]


def apply_round_schedule(session: Session, now: datetime) -> ScheduleResult:
    """Open the drafts whose opening day has come and close the rounds whose closing day
    has passed, in the service's time zone at ``now``; closing makes the final release.

    Pure of clocks (``now`` is given), idempotent, and safe to run from several workers at
    once: each change is a conditional UPDATE, so a round is opened or closed once.
    """
    day = clock.local_day(now)
    opened = session.execute(
        sa.update(SurveyRound)
        .where(
            col(SurveyRound.status) == RoundStatus.DRAFT,
            col(SurveyRound.opens_on) <= day,
            col(SurveyRound.closes_on) >= day,
        )
        .values(status=RoundStatus.OPEN)
        .returning(col(SurveyRound.id))
    )
    opened_ids = tuple(sorted(int(row[0]) for row in opened))
    due = session.execute(
        sa.update(SurveyRound)
        .where(
            col(SurveyRound.status).in_([RoundStatus.DRAFT, RoundStatus.OPEN]),
            col(SurveyRound.closes_on) < day,
        )
        .values(status=RoundStatus.CLOSED, closed_on=SurveyRound.closes_on)
        .returning(col(SurveyRound.id))
    )
    closed_ids = tuple(sorted(int(row[0]) for row in due))
    for action, changed in (
        (AuditAction.ROUND_OPENED, opened_ids),
        (AuditAction.ROUND_CLOSED, closed_ids),
    ):
        for round_id in changed:
            partnership_id = session.execute(
                sa.select(col(SurveyRound.partnership_id)).where(col(SurveyRound.id) == round_id)
            ).scalar_one()
            audit.record(
                session,
                WORKER_ACTOR,
                action,
                f"round {round_id}",
                partnership_id=partnership_id,
                detail="on schedule",
                commit=False,
            )
    session.commit()
    for round_id in closed_ids:
        _publish_final(session, get_round(session, round_id))
    return ScheduleResult(opened_ids, closed_ids)


def get_round(session: Session, round_id: int) -> SurveyRound:
    survey_round = session.get(SurveyRound, round_id)
    if survey_round is None:
        raise RecordNotFoundError("round", round_id)
    return survey_round


def list_rounds(session: Session, partnership_id: int) -> list[SurveyRound]:
    statement = (
        select(SurveyRound)
        .where(SurveyRound.partnership_id == partnership_id)
        .order_by(col(SurveyRound.opens_on).desc(), col(SurveyRound.id).desc())
    )
    return list(session.exec(statement))


@dataclass(frozen=True)
class ProgressCount:
    """One count of a round's progress table, or why it is hidden.

    ``value`` is ``None`` when hidden: ``below-threshold`` for a count under the round's
    threshold (shown as "fewer than k"), ``complementary`` for one hidden as well so that those
    cannot be worked out from the totals.
    """

    value: int | None
    hidden: str | None
    threshold: int

    @property
    def text(self) -> str:
        if self.value is not None:
            return str(self.value)
        if self.hidden == "complementary":
            return "hidden"
        return f"fewer than {self.threshold}"


@dataclass(frozen=True)
class OrganisationProgress:
    """Counts for one organisation in a round (or the open link's arrivals): never answers.

    ``invited`` is the number of personal links issued (``None`` for the open link's row).
    """

    organisation_id: int | None
    organisation_name: str
    through_open_link: bool
    invited: int | None
    started: ProgressCount
    submitted: ProgressCount

    @property
    def completion_rate(self) -> float | None:
        if not self.invited or self.submitted.value is None:
            return None
        return self.submitted.value / self.invited


NO_ORGANISATION = "No organisation given"
THROUGH_OPEN_LINK = "Through the open link"


@dataclass(frozen=True)
class _RawProgress:
    key: str
    organisation_id: int | None
    name: str
    through_open_link: bool
    invited: int | None
    started: int
    submitted: int


def _counts(
    survey_round: SurveyRound, raw: list[_RawProgress], column: str
) -> dict[str, ProgressCount]:
    """One column's counts, suppressed as a breakdown of the round: a count below the
    threshold is hidden, and more are hidden until no hidden count follows from the totals."""
    threshold = survey_round.anonymity_threshold
    sizes = {row.key: int(getattr(row, column)) for row in raw}
    decided: dict[str, ProgressCount] = {}
    for visibility, row in zip(suppress_groups(sizes, threshold), raw, strict=True):
        if visibility.shown:
            decided[row.key] = ProgressCount(visibility.n, None, threshold)
        elif row.invited == 0:  # no links issued: certainly none started or submitted
            decided[row.key] = ProgressCount(0, None, threshold)
        else:
            reason = visibility.reason or "below-threshold"  # empty groups are "fewer than k"
            decided[row.key] = ProgressCount(None, reason, threshold)
    return decided


ALL_ORGANISATIONS = "All organisations"


def round_progress(session: Session, round_id: int) -> list[OrganisationProgress]:
    """Personal links issued, started and submitted per organisation, and the open link's
    arrivals in a row of their own; started and submitted counts below the round's threshold
    are hidden, and so is any count that would give them away by difference."""
    return round_progress_with_total(session, round_id)[0]


def _total(survey_round: SurveyRound, raw: list[_RawProgress]) -> OrganisationProgress:
    """The round's totals: links issued (personal links sent, not the open link's arrivals),
    in progress and submitted, each hidden below the threshold like any other count.  The
    rows' suppression already takes the totals as known, so showing them gives nothing away."""
    threshold = survey_round.anonymity_threshold
    invited = sum(row.invited or 0 for row in raw)

    def total(column: str) -> ProgressCount:
        value = sum(int(getattr(row, column)) for row in raw)
        if value >= threshold or all(row.invited == 0 for row in raw):  # no links: certainly 0
            return ProgressCount(value, None, threshold)
        return ProgressCount(None, "below-threshold", threshold)

    return OrganisationProgress(
        None, ALL_ORGANISATIONS, False, invited, total("started"), total("submitted")
    )


def round_progress_with_total(
    session: Session, round_id: int
) -> tuple[list[OrganisationProgress], OrganisationProgress]:
    """:func:`round_progress` and the total row under it."""
    survey_round = get_round(session, round_id)
    counts: dict[tuple[int | None, str], int] = {}
    statement = (
        sa.select(col(Invitation.organisation_id), col(Invitation.status), sa.func.count())
        .where(
            col(Invitation.round_id) == round_id,
            col(Invitation.kind) == InvitationKind.PERSONAL,
            sa.not_(col(Invitation.from_open_link)),
        )
        .group_by(col(Invitation.organisation_id), col(Invitation.status))
    )
    for organisation_id, status, number in session.execute(statement):
        counts[(organisation_id, status)] = int(number)

    def personal(key: str, organisation_id: int | None, name: str) -> _RawProgress:
        def count(status: InvitationStatus) -> int:
            return counts.get((organisation_id, status), 0)

        started = count(InvitationStatus.STARTED)
        submitted = count(InvitationStatus.SUBMITTED)
        invited = count(InvitationStatus.UNUSED) + started + submitted
        return _RawProgress(key, organisation_id, name, False, invited, started, submitted)

    raw: list[_RawProgress] = []
    for organisation in list_organisations(session, survey_round.partnership_id):
        assert organisation.id is not None
        raw.append(personal(f"organisation-{organisation.id}", organisation.id, organisation.name))
    unassigned = personal("no-organisation", None, NO_ORGANISATION)
    if unassigned.invited:
        raw.append(unassigned)
    submitted_total = session.execute(
        sa.select(sa.func.count())
        .select_from(Response)
        .where(
            col(Response.round_id) == round_id,
            col(Response.status) == ResponseStatus.SUBMITTED,
        )
    ).scalar_one()
    open_started, open_links = session.execute(
        sa.select(
            sa.func.count().filter(
                col(Invitation.from_open_link), col(Invitation.status) == InvitationStatus.STARTED
            ),
            sa.func.count().filter(col(Invitation.kind) == InvitationKind.OPEN),
        ).where(col(Invitation.round_id) == round_id)
    ).one()
    # Every submitted response not counted on a personal link came through the open link
    # (straight, or through a personal link it gave).
    open_submitted = int(submitted_total) - sum(row.submitted for row in raw)
    if open_links or open_started or open_submitted:
        raw.append(
            _RawProgress(
                "open-link", None, THROUGH_OPEN_LINK, True, None, int(open_started), open_submitted
            )
        )
    started = _counts(survey_round, raw, "started")
    submitted = _counts(survey_round, raw, "submitted")
    rows = [
        OrganisationProgress(
            organisation_id=row.organisation_id,
            organisation_name=row.name,
            through_open_link=row.through_open_link,
            invited=row.invited,
            started=started[row.key],
            submitted=submitted[row.key],
        )
        for row in raw
    ]
    return rows, _total(survey_round, raw)


def round_items_matrix(
    session: Session, round_id: int, *, release: int | None = None
) -> pd.DataFrame:
    """Every submitted response of a round as one row: item columns (float, NaN when
    unanswered) then background columns (str or None), indexed by response id.

    With ``release``, only the responses published by that release or an earlier one (the
    published set that reports use; see :mod:`app.services.releases`).

    The answers load in one query, one row per response, as JSON text that is parsed in one
    go (about twice as fast as letting the driver decode each row's JSON), fetched straight
    from the driver's cursor (:func:`driver_rows`).
    """
    survey_round = get_round(session, round_id)
    instrument = round_instrument(session, survey_round)
    statement = (
        sa.select(
            col(Response.id),
            sa.cast(col(Response.answers), sa.Text),
            sa.cast(col(Response.background), sa.Text),
        )
        .where(
            col(Response.round_id) == round_id,
            col(Response.status) == ResponseStatus.SUBMITTED,
        )
        .order_by(col(Response.id))
    )
    if release is not None:
        statement = statement.where(
            col(Response.release).is_not(None), col(Response.release) <= release
        )
    rows = driver_rows(session, statement)
    item_ids = instrument.item_ids
    background_ids = instrument.background_ids
    index = pd.Index([row[0] for row in rows], name="response_id", dtype="int64")
    answers: list[dict[str, int]] = json.loads("[" + ",".join(row[1] for row in rows) + "]")
    background: list[dict[str, str]] = json.loads("[" + ",".join(row[2] for row in rows) + "]")
    items = np.array(
        [[answer.get(item_id) for item_id in item_ids] for answer in answers], dtype=float
    ).reshape(len(rows), len(item_ids))
    matrix = pd.DataFrame(items, index=index, columns=item_ids)
    for question_id in background_ids:
        matrix[question_id] = pd.Series(
            [given.get(question_id) for given in background], index=index, dtype="object"
        )
    return matrix


def driver_rows(session: Session, statement: sa.Executable) -> list[tuple[Any, ...]]:
    """The rows of ``statement`` as the database driver returns them (tuples), in the
    session's transaction.

    For large reads of columns that need no conversion (integers and text): on 100k
    responses SQLAlchemy's result rows cost more than the query itself (SQLite: 0.39 s
    against 0.11 s from the cursor).  The statement still runs through SQLAlchemy, so its
    events, logging and error translation (an OperationalError is a 503) apply.
    """
    connection = session.connection()
    result = connection.execute(statement)
    try:
        return list(result.cursor.fetchall())
    except connection.dialect.loaded_dbapi.Error as error:
        raise sa.exc.DBAPIError.instance(
            str(statement), None, error, connection.dialect.loaded_dbapi.Error
        ) from error
    finally:
        result.close()


def round_progress_total(session: Session, round_id: int) -> int:
    """A round's submitted responses (a count, as the coordinator's pages show in total)."""
    return int(
        session.execute(
            sa.select(sa.func.count())
            .select_from(Response)
            .where(
                col(Response.round_id) == round_id,
                col(Response.status) == ResponseStatus.SUBMITTED,
            )
        ).scalar_one()
    )


def _day(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


def dates_text(survey_round: SurveyRound, on: date | None = None) -> str:
    """A round's dates in words; a closed round by the day it actually closed, never a
    planned closing day still to come."""
    state = round_state(survey_round, on)
    if state == RoundState.CLOSED:
        closed = closed_on(survey_round, on) or survey_round.closes_on
        return f"opened {_day(survey_round.opens_on)}, closed {_day(closed)}"
    if state == RoundState.NOT_YET_OPEN:
        return f"opens {_day(survey_round.opens_on)}, closes {_day(survey_round.closes_on)}"
    return f"{_day(survey_round.opens_on)} to {_day(survey_round.closes_on)}"
