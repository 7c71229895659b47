"""A smaller run of bench/load_test.py in the test suite: 50 respondents at once through the
real server (``trust-survey serve``), on SQLite and PostgreSQL; every accepted submission is
stored exactly once.  No timing is asserted (the numbers are bench/load_test.py's)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.load_test import describe, run_load_test

RESPONDENTS = 50


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql" and not os.environ.get("TEST_POSTGRES_URL"):
        pytest.skip("TEST_POSTGRES_URL is not set")
    return str(request.param)


def test_every_accepted_submission_is_stored_exactly_once(backend: str, tmp_path: Path) -> None:
    outcome, check = run_load_test(backend, RESPONDENTS, RESPONDENTS, tmp_path)
    report = describe(outcome, check, RESPONDENTS)
    assert outcome.accepted | outcome.accepted_after_retry, report
    assert check.exactly_once, report
    assert check.drafts_left == len(outcome.failed), report


def test_no_respondent_fails_under_load(tmp_path: Path) -> None:
    outcome, check = run_load_test("sqlite", RESPONDENTS, RESPONDENTS, tmp_path)
    assert not outcome.failed, describe(outcome, check, RESPONDENTS)
