"""Alembic, configured in code so that the installed package migrates from any directory."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

import migrations


class DatabaseNotMigratedError(RuntimeError):
    """The database schema is missing or older than this version of the code."""


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def head_revisions(database_url: str) -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config(database_url)).get_heads())


def current_revisions(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def require_migrated(engine: Engine, database_url: str) -> None:
    """Raise :class:`DatabaseNotMigratedError` unless the database is at the newest revision.

    A database that cannot be reached passes: ``/healthz`` reports it instead.
    """
    try:
        current = current_revisions(engine)
    except sa.exc.OperationalError:
        return
    heads = head_revisions(database_url)
    if current != heads:
        state = ", ".join(sorted(current)) or "empty"
        raise DatabaseNotMigratedError(
            f"the database is not migrated (at revision {state}, code needs "
            f"{', '.join(sorted(heads))}): run `trust-survey db upgrade` first"
        )
