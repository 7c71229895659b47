"""Engines and sessions: SQLite (WAL, foreign keys on) or PostgreSQL through psycopg 3."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Request
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from app.security import create_private_file, make_private_folder


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(busy_timeout_ms: int) -> Callable[[Any, object], None]:
    def set_pragmas(dbapi_connection: Any, _record: object) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # How long a writer waits for another writer before giving up (the request gets 503).
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    return set_pragmas


def _private_sqlite_files(database: Path) -> None:
    """The database's folder (0700 when made here) and the file itself 0600 before SQLite
    opens it; SQLite gives its ``-wal`` and ``-shm`` files the database file's mode, and
    any left from before are tightened too."""
    make_private_folder(database.parent)
    create_private_file(database)
    for suffix in ("-wal", "-shm", "-journal"):
        journal = database.with_name(database.name + suffix)
        if journal.exists():
            create_private_file(journal)


def _without_row_values(context: sa.engine.ExceptionContext) -> None:
    """Strip PostgreSQL's ``DETAIL`` (e.g. "Failing row contains (...)", "Key (...)=(...)")
    from an error and its wrapper: it quotes the values being written, which are answers,
    and a logged traceback would keep them.  ``hide_parameters`` covers only the SQL's
    parameters."""
    for error in (context.original_exception, context.sqlalchemy_exception):
        if error is None or not error.args or not isinstance(error.args[0], str):
            continue
        head, marker, _ = error.args[0].partition("\nDETAIL:")
        if marker:
            error.args = (head, *error.args[1:])


def make_engine(url: str, pool_size: int = 20, sqlite_busy_timeout: float = 30.0) -> Engine:
    """An engine for ``url``; a SQLite file's folder is created when missing.

    The pool holds at most ``pool_size`` connections (a request waits up to 30 s for one).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            _private_sqlite_files(Path(database))
        engine = sa.create_engine(
            parsed,
            hide_parameters=True,  # errors and logs never show the answers being written
            connect_args={"check_same_thread": False},
            pool_size=pool_size,
            max_overflow=0,
            pool_timeout=30,
        )
        sa.event.listen(engine, "connect", _sqlite_pragmas(round(sqlite_busy_timeout * 1000)))
        return engine
    engine = sa.create_engine(
        parsed,
        hide_parameters=True,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=30,
    )
    sa.event.listen(engine, "handle_error", _without_row_values)
    return engine


def database_is_up(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        return False
    return True


def get_session(request: Request) -> Iterator[Session]:
    """One session per request, on the app's engine."""
    engine: Engine = request.app.state.engine
    with Session(engine, expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
