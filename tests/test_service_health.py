"""Health check, settings, the SQLite pragmas and the demo seed."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from app.database import AsyncDatabase, make_engine
from app.models import Response
from app.services import rounds
from app.services.demo import seed_demo
from app.settings import DEVELOPMENT_SECRET_KEY, Settings
from tests.conftest import TEST_SECRET


def test_healthz_is_200_when_the_database_is_up(client: TestClient) -> None:
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "database": "up"}


def test_healthz_is_503_when_the_database_is_down(client: TestClient) -> None:
    app = client.app
    working = app.state.engine  # type: ignore[attr-defined]
    working_async = app.state.async_database  # type: ignore[attr-defined]
    down = "postgresql+psycopg://nobody@127.0.0.1:9/none"
    app.state.engine = sa.create_engine(  # type: ignore[attr-defined]
        down, connect_args={"connect_timeout": 1}
    )
    # The respondents' API runs on the async engine: it is down too.
    app.state.async_database = AsyncDatabase(down)  # type: ignore[attr-defined]
    try:
        answer = client.get("/healthz")
        assert answer.status_code == 503
        assert answer.json()["database"] == "down"
        # A well-formed token, so that answering it needs the database.
        assert client.get(f"/api/v1/survey/{'a' * 43}").status_code == 503
    finally:
        app.state.engine = working  # type: ignore[attr-defined]
        app.state.async_database = working_async  # type: ignore[attr-defined]


def test_production_refuses_the_default_secret() -> None:
    with pytest.raises(ValueError, match="SECRET_KEY"):
        Settings(environment="production", secret_key=DEVELOPMENT_SECRET_KEY)
    with pytest.raises(ValueError, match="PUBLIC_BASE_URL must be set"):
        Settings(environment="production", secret_key=TEST_SECRET)
    public = "https://survey.example.org"
    assert Settings(
        environment="production", secret_key=TEST_SECRET, public_base_url=public
    ).is_production


def test_anonymity_threshold_is_never_below_three() -> None:
    with pytest.raises(ValueError, match="anonymity_threshold"):
        Settings(anonymity_threshold=2)


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/sub/dir/x.sqlite3")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_demo_is_seeded_once_with_39_responses(session: Session) -> None:
    first = seed_demo(
        session,
        instrument_id="trustworthy-collaboration",
        anonymity_threshold=5,
    )
    second = seed_demo(
        session,
        instrument_id="trustworthy-collaboration",
        anonymity_threshold=5,
    )
    assert first.created and not second.created
    assert first.responses == second.responses == 39
    # Random secrets, shown once: a second start prints none, and new ones only when asked.
    assert first.respondent_token and first.open_token and first.coordinator_password
    assert second.respondent_token is second.open_token is second.coordinator_password is None
    renewed = seed_demo(
        session,
        instrument_id="trustworthy-collaboration",
        anonymity_threshold=5,
        new_secrets=True,
    )
    assert not renewed.created and renewed.responses == 39
    assert renewed.respondent_token not in (None, first.respondent_token)
    assert renewed.open_token not in (None, first.open_token)
    assert renewed.coordinator_password not in (None, first.coordinator_password)
    assert session.exec(select(func.count()).select_from(Response)).one() == 39
    matrix = rounds.round_items_matrix(session, first.round_id)
    assert matrix.shape == (39, 22 + 4)
    assert matrix["q30"].notna().all()
