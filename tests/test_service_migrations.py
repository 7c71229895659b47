"""Migrations: from empty to head, down to base and up again, no drift from the models."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlmodel import SQLModel

import app.models  # noqa: F401
from app import migrating
from app.cli import main
from app.database import make_engine
from app.main import create_app
from app.migrating import DatabaseNotMigratedError
from app.settings import Settings
from tests.conftest import TEST_SECRET

TABLES = {
    "coordinator",
    "instrument_document",
    "partnership",
    "organisation",
    "survey_round",
    "invitation",
    "response",
    "partnership_grant",
    "rate_limit_counter",
    "round_release",
    "account_session",
    "raw_access_grant",
    "outbox_message",
    "api_token",
    "participant",
    "round_mailing",
    "reminder_run",
}


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _drift(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, SQLModel.metadata))
    finally:
        engine.dispose()


def test_upgrade_from_empty_downgrade_to_base_and_upgrade_again(database_url: str) -> None:
    assert _tables(database_url) == set()
    migrating.upgrade(database_url)
    assert _tables(database_url) == TABLES
    migrating.downgrade(database_url, "base")
    assert _tables(database_url) == set()
    migrating.upgrade(database_url)
    assert _tables(database_url) == TABLES
    assert _drift(database_url) == []


def test_migrated_database_matches_the_models(migrated_url: str) -> None:
    assert _drift(migrated_url) == []


def test_constraints_follow_the_naming_convention(migrated_url: str) -> None:
    engine = make_engine(migrated_url)
    try:
        inspector = sa.inspect(engine)
        foreign_keys = {fk["name"] for fk in inspector.get_foreign_keys("response")}
        unique = {uq["name"] for uq in inspector.get_unique_constraints("invitation")}
    finally:
        engine.dispose()
    assert "fk_response_round_id_survey_round" in foreign_keys
    assert "uq_invitation_token_hash" in unique


def test_app_refuses_to_start_on_an_unmigrated_database(database_url: str) -> None:
    settings = Settings(environment="test", database_url=database_url, secret_key=TEST_SECRET)
    with (
        pytest.raises(DatabaseNotMigratedError, match="trust-survey db upgrade"),
        TestClient(create_app(settings)),
    ):
        pass


def test_db_commands(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["serve", "--port", "1"]) == 2
    assert "trust-survey db upgrade" in capsys.readouterr().err
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "current"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert main(["db", "downgrade", "--revision", "base"]) == 0
    assert _tables(database_url) == set()
