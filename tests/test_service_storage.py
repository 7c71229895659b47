"""Storage built for analysis: a round loads as an items matrix in one query."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.models import Invitation
from app.security import hash_link_token
from app.services import invitations, responses, rounds
from tests.conftest import SurveySetUp, full_answers


def test_round_items_matrix_reads_answers_in_one_query(
    engine: Engine, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    setup = make_round()
    tokens = invitations.create_personal_links(
        session, setup.round_id, organisation_id=None, count=3, most=3
    )
    for value, token in zip([1, 3, 5], tokens, strict=True):
        invitation = invitations.invitation_for_token(session, token)
        answers: dict[str, object] = dict(full_answers(value))
        answers["q32"] = None
        responses.submit_response(session, invitation, answers, {"professional_role": "management"})
    draft = invitations.create_personal_links(
        session, setup.round_id, organisation_id=None, count=1, most=1
    )[0]
    responses.save_draft(session, invitations.invitation_for_token(session, draft), {"q10": 2}, {})

    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        matrix = rounds.round_items_matrix(session, setup.round_id)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    answer_queries = [s for s in statements if "FROM response" in s]
    assert len(answer_queries) == 1
    assert matrix.shape == (3, 22 + 4)  # drafts are left out
    assert list(matrix.columns[:2]) == ["q10", "q11"]
    assert matrix["q10"].tolist() == [1.0, 3.0, 5.0]
    assert matrix["q32"].isna().all() and matrix["q10"].dtype == np.float64
    assert matrix["professional_role"].tolist() == ["management"] * 3
    assert matrix["partnership_name"].tolist() == ["Test partnership 1"] * 3


def test_only_token_hashes_are_stored(
    session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    setup = make_round()
    [token] = invitations.create_personal_links(
        session, setup.round_id, organisation_id=None, count=1, most=1
    )
    stored = session.exec(select(Invitation)).one()
    assert stored.token_hash == hash_link_token(token) != token
    assert len(token) >= 22  # at least 128 bits, URL-safe base64


def test_empty_round_gives_an_empty_matrix_with_all_columns(
    session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    matrix = rounds.round_items_matrix(session, make_round().round_id)
    assert matrix.empty and "q52" in matrix.columns and "care_model" in matrix.columns


def test_driver_rows_binds_parameters_and_raises_sqlalchemy_errors(session: Session) -> None:
    statement = sa.select(sa.literal(7, sa.Integer), sa.literal("seven", sa.Text)).where(
        sa.literal(2, sa.Integer) > 1
    )
    assert rounds.driver_rows(session, statement) == [(7, "seven")]
    # The second row overflows: SQLite finds that while the rows are fetched (after the
    # statement has run), PostgreSQL while running it; either way a SQLAlchemy error.
    overflow_on_row_two = sa.text(
        "WITH t(n) AS (VALUES (1), (2)) "
        "SELECT CASE WHEN n = 2 THEN abs(n - 9223372036854775807 - 3) ELSE n END FROM t"
    )
    with pytest.raises(sa.exc.SQLAlchemyError, match=r"overflow|out of range"):
        rounds.driver_rows(session, overflow_on_row_two)
