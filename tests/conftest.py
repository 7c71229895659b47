"""Shared fixtures.

Database fixtures are parametrised over backends: a real SQLite file under ``tmp_path`` and,
when ``TEST_POSTGRES_URL`` is set, a real PostgreSQL database, each test in a schema of its
own (dropped afterwards).  With ``TEST_POSTGRES_URL`` unset the PostgreSQL cases are skipped;
set but unreachable, they fail.
"""

from __future__ import annotations

import itertools
import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

pytest_plugins = ["tests.browser_support"]

RUN_ID = uuid.uuid4().hex[:8]
_schema_numbers = itertools.count()
TEST_SECRET = "test-secret-key-that-is-long-enough-for-production-0123456789"
COORDINATOR_EMAIL = "coordinator@example.org"
COORDINATOR_PASSWORD = "correct horse battery staple"


def _postgres_url_for_schema(base_url: str) -> Iterator[str]:
    schema = f"trust_test_{RUN_ID}_{os.getpid()}_{next(_schema_numbers)}"
    admin = sa.create_engine(base_url, connect_args={"connect_timeout": 5})
    try:
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        try:
            with admin.begin() as connection:
                connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        finally:
            admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'survey.sqlite3'}"
        return
    base_url = os.environ.get("TEST_POSTGRES_URL")
    if not base_url:
        pytest.skip("TEST_POSTGRES_URL is not set")
    yield from _postgres_url_for_schema(base_url)


@pytest.fixture
def migrated_url(database_url: str) -> str:
    from app import migrating

    migrating.upgrade(database_url)
    return database_url


@pytest.fixture
def engine(migrated_url: str) -> Iterator[Engine]:
    from app.database import make_engine

    engine = make_engine(migrated_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def settings(migrated_url: str) -> object:
    from app.settings import Settings

    return Settings(environment="test", database_url=migrated_url, secret_key=TEST_SECRET)


@pytest.fixture
def client(settings: object) -> Iterator[TestClient]:
    from app.main import create_app
    from app.settings import Settings

    assert isinstance(settings, Settings)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@dataclass
class SurveySetUp:
    partnership_id: int
    organisation_ids: list[int]
    round_id: int


@pytest.fixture
def make_round(session: Session) -> Callable[..., SurveySetUp]:
    """Make a partnership with two organisations and a round (open today by default)."""
    from app.services import partnerships, rounds

    names = itertools.count(1)

    def make(opens_in_days: int = -1, closes_in_days: int = 30) -> SurveySetUp:
        number = next(names)
        partnership = partnerships.create_partnership(
            session, f"Test partnership {number}", "urgent-and-emergency-care"
        )
        assert partnership.id is not None
        organisation_ids = []
        for name, kind in [
            ("Riverside Hospital", "acute-trust"),
            ("Hillshire Council", "local-authority"),
        ]:
            organisation = partnerships.add_organisation(session, partnership.id, name, kind)
            assert organisation.id is not None
            organisation_ids.append(organisation.id)
        survey_round = rounds.open_round(
            session,
            partnership.id,
            title="Spring round",
            opens_on=date.today() + timedelta(days=opens_in_days),
            closes_on=date.today() + timedelta(days=closes_in_days),
            anonymity_threshold=5,
            instrument_id="trustworthy-collaboration",
        )
        assert survey_round.id is not None
        return SurveySetUp(partnership.id, organisation_ids, survey_round.id)

    return make


@pytest.fixture
def coordinator(session: Session) -> str:
    from app.services.coordinators import add_coordinator

    add_coordinator(session, COORDINATOR_EMAIL, COORDINATOR_PASSWORD)
    return COORDINATOR_EMAIL


def csrf_from(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def token_of(link: str) -> str:
    return link.rsplit("/s/", 1)[1]


def full_answers(value: int = 4) -> dict[str, int]:
    from app.instruments import instrument_named

    return {item_id: value for item_id in instrument_named("trustworthy-collaboration").item_ids}
