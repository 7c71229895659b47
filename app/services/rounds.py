"""Survey rounds: opening and closing them, progress counts, and the items matrix."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.instruments import instrument_named, instrument_version
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
from app.services.answers import control_character_problem
from app.services.errors import FieldValidationError, RecordNotFoundError, RoundNotOpenError
from app.services.partnerships import get_partnership, list_organisations
from app.settings import MINIMUM_ANONYMITY_THRESHOLD


class RoundState(StrEnum):
    OPEN = "open"
    NOT_YET_OPEN = "not-yet-open"
    CLOSED = "closed"


def today() -> date:
    return datetime.now(UTC).date()


def round_state(survey_round: SurveyRound, on: date | None = None) -> RoundState:
    """Whether a round takes answers on a day: its status and its dates both count."""
    day = on or today()
    if survey_round.status == RoundStatus.CLOSED or day > survey_round.closes_on:
        return RoundState.CLOSED
    if day < survey_round.opens_on:
        return RoundState.NOT_YET_OPEN
    return RoundState.OPEN


def require_open(survey_round: SurveyRound) -> None:
    state = round_state(survey_round)
    if state != RoundState.OPEN:
        raise RoundNotOpenError(state, survey_round.opens_on, survey_round.closes_on)


def open_round(
    session: Session,
    partnership_id: int,
    *,
    title: str,
    opens_on: date,
    closes_on: date,
    anonymity_threshold: int,
    instrument_id: str,
    release_policy: str = ReleasePolicy.AT_CLOSE,
) -> SurveyRound:
    get_partnership(session, partnership_id)
    problems: dict[str, str] = {}
    if release_policy not in set(ReleasePolicy):
        problems["release_policy"] = "must be at-close or interim"
    if not title.strip():
        problems["title"] = "must not be blank"
    elif (problem := control_character_problem(title)) is not None:
        problems["title"] = problem
    if closes_on < opens_on:
        problems["closes_on"] = "must be on or after the opening date"
    if anonymity_threshold < MINIMUM_ANONYMITY_THRESHOLD:
        problems["anonymity_threshold"] = f"must be at least {MINIMUM_ANONYMITY_THRESHOLD}"
    if problems:
        raise FieldValidationError(problems)
    instrument = instrument_named(instrument_id)
    survey_round = SurveyRound(
        partnership_id=partnership_id,
        title=title.strip(),
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        opens_on=opens_on,
        closes_on=closes_on,
        anonymity_threshold=anonymity_threshold,
        release_policy=ReleasePolicy(release_policy),
    )
    session.add(survey_round)
    session.commit()
    session.refresh(survey_round)
    return survey_round


def close_round(session: Session, round_id: int) -> SurveyRound:
    survey_round = get_round(session, round_id)
    survey_round.status = RoundStatus.CLOSED
    session.add(survey_round)
    session.commit()
    from app.services import releases  # releases uses this module

    releases.publish(session, survey_round)  # the final release, if the threshold is met
    return survey_round


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
class OrganisationProgress:
    """Counts for one organisation in a round: never answers."""

    organisation_id: int | None
    organisation_name: str
    invited: int
    started: int
    submitted: int

    @property
    def completion_rate(self) -> float | None:
        return self.submitted / self.invited if self.invited else None


def round_progress(session: Session, round_id: int) -> list[OrganisationProgress]:
    """Links issued, started and submitted per organisation, plus a row for the open link."""
    survey_round = get_round(session, round_id)
    counts: dict[tuple[int | None, str], int] = {}
    statement = (
        sa.select(col(Invitation.organisation_id), col(Invitation.status), sa.func.count())
        .where(
            col(Invitation.round_id) == round_id,
            col(Invitation.kind) == InvitationKind.PERSONAL,
        )
        .group_by(col(Invitation.organisation_id), col(Invitation.status))
    )
    for organisation_id, status, number in session.execute(statement):
        counts[(organisation_id, status)] = int(number)
    rows: list[OrganisationProgress] = []

    def row(organisation_id: int | None, name: str) -> OrganisationProgress:
        def count(status: InvitationStatus) -> int:
            return counts.get((organisation_id, status), 0)

        started = count(InvitationStatus.STARTED)
        submitted = count(InvitationStatus.SUBMITTED)
        return OrganisationProgress(
            organisation_id=organisation_id,
            organisation_name=name,
            invited=count(InvitationStatus.UNUSED) + started + submitted,
            started=started,
            submitted=submitted,
        )

    for organisation in list_organisations(session, survey_round.partnership_id):
        assert organisation.id is not None
        rows.append(row(organisation.id, organisation.name))
    submitted_total = session.execute(
        sa.select(sa.func.count())
        .select_from(Response)
        .where(
            col(Response.round_id) == round_id,
            col(Response.status) == ResponseStatus.SUBMITTED,
        )
    ).scalar_one()
    unassigned = row(None, "No organisation given")
    via_open_link = int(submitted_total) - sum(r.submitted for r in rows) - unassigned.submitted
    if unassigned.invited or via_open_link:
        rows.append(
            OrganisationProgress(
                organisation_id=None,
                organisation_name="No organisation given",
                invited=unassigned.invited,
                started=unassigned.started,
                submitted=unassigned.submitted + via_open_link,
            )
        )
    return rows


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
    instrument = instrument_version(survey_round.instrument_id, survey_round.instrument_version)
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
    background_ids = [question.id for question in instrument.background]
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
