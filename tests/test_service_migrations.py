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
    "account",
    "account_link",
    "role_policy",
    "audit_event",
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


def test_accounts_of_the_old_coordinator_table_keep_everything(database_url: str) -> None:
    """Upgrading from 0009 (one ``role`` per row of ``coordinator``) keeps every account's id,
    address, password, role, grants, sessions and API tokens; new accounts get new ids."""
    from app.security import hash_password, verify_password

    migrating.upgrade(database_url, "0009")
    engine = make_engine(database_url)
    password_hash = hash_password("an old coordinator password")
    now = "2026-11-30 09:00:00+00:00"
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO coordinator (id, email, password_hash, role, created_at) "
                    "VALUES (7, 'eve@example.org', :hash, 'evaluator', :now), "
                    "(9, 'ann@example.org', :hash, 'admin', :now)"
                ),
                {"hash": password_hash, "now": now},
            )
            connection.execute(
                sa.text(
                    "INSERT INTO partnership (id, name, care_model, created_at) "
                    "VALUES (3, 'North Vale', 'mcp', :now)"
                ),
                {"now": now},
            )
            connection.execute(
                sa.text(
                    "INSERT INTO partnership_grant (account_id, partnership_id, created_at) "
                    "VALUES (7, 3, :now)"
                ),
                {"now": now},
            )
            connection.execute(
                sa.text(
                    "INSERT INTO api_token (account_id, name, prefix, token_hash, created_at) "
                    "VALUES (9, 'script', 'ts_abc', 'h1', :now)"
                ),
                {"now": now},
            )
        engine.dispose()
        migrating.upgrade(database_url)
        with engine.begin() as connection:
            rows = connection.execute(
                sa.text("SELECT id, email, password_hash, roles FROM account ORDER BY id")
            ).all()
            grants = connection.execute(
                sa.text("SELECT account_id, partnership_id FROM partnership_grant")
            ).all()
            tokens = connection.execute(sa.text("SELECT account_id FROM api_token")).all()
            # 0012 renamed the partnership's care_model to kind, keeping it and what is under it
            kinds = connection.execute(sa.text("SELECT id, kind FROM partnership")).all()
            connection.execute(
                sa.text(
                    "INSERT INTO account (email, password_hash, roles, created_at) "
                    "VALUES ('new@example.org', NULL, 'coordinator', :now)"
                ),
                {"now": now},
            )
            new_id = connection.execute(
                sa.text("SELECT id FROM account WHERE email = 'new@example.org'")
            ).scalar_one()
            # the grant still refers to the account: deleting it deletes the grant
            connection.execute(sa.text("DELETE FROM account WHERE id = 7"))
            grants_after = connection.execute(
                sa.text("SELECT count(*) FROM partnership_grant")
            ).scalar_one()
    finally:
        engine.dispose()
    assert [(r.id, r.email, r.roles) for r in rows] == [
        (7, "eve@example.org", "evaluator"),
        (9, "ann@example.org", "admin"),
    ]
    assert all(verify_password(r.password_hash, "an old coordinator password") for r in rows)
    assert [tuple(g) for g in grants] == [(7, 3)]
    assert [tuple(k) for k in kinds] == [(3, "mcp")]
    assert [tuple(t) for t in tokens] == [(9,)]
    assert new_id == 10
    assert grants_after == 0


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
