"""Database errors never carry the values being written (answers) into messages or logs."""

from __future__ import annotations

import traceback

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

SECRET = "my candid answer about partner X"


def test_a_failing_row_is_not_quoted_in_the_error_or_its_traceback(engine: Engine) -> None:
    """PostgreSQL's DETAIL ("Failing row contains (...)") and the SQL parameters are dropped;
    the error keeps its type, so it is still mapped to the right answer."""
    with engine.connect() as connection, pytest.raises(sa.exc.IntegrityError) as raised:
        connection.execute(
            sa.text(
                "INSERT INTO partnership (name, kind, created_at) "
                "VALUES (:name, NULL, CURRENT_TIMESTAMP)"
            ),
            {"name": SECRET},
        )
    text = "".join(traceback.format_exception(raised.value))
    assert "partnership" in text  # still says what went wrong
    assert SECRET not in text
    assert "my candid" not in str(raised.value.orig)
