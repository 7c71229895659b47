"""Engines and sessions: SQLite (WAL, foreign keys on) or PostgreSQL through psycopg 3.

Most of the app uses the sync engine and ORM sessions.  The respondents' hot path (the JSON
API's questionnaire, draft saves and submissions, and the link limits) uses
:class:`AsyncDatabase`: an async engine on the same database (aiosqlite, psycopg 3 async)
with Core statements only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Request
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import Session

from app.security import create_private_file, make_private_folder

# aiosqlite logs every statement with its parameters (answers, link hashes) at DEBUG; that
# logger never goes below INFO, whatever level a deployment sets for the root logger.
logging.getLogger("aiosqlite").setLevel(logging.INFO)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(busy_timeout_ms: int) -> Callable[[Any, object], None]:
    def set_pragmas(dbapi_connection: Any, _record: object) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Deleted rows (a purge, a deleted partnership) are overwritten with zeros, not left
        # in free pages of the file where a copy of it would still hold them.
        cursor.execute("PRAGMA secure_delete=ON")
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


class AsyncDatabase:
    """The async engine of one app, made on first use in the running event loop.

    An async engine's connections belong to the loop that made them (uvicorn has one for the
    process; each test client its own), so a new loop gets a new engine.  SQLite takes one
    writer at a time: :meth:`writing` queues a process's writers on an asyncio lock instead of
    in SQLite's busy handler, which sleeps and polls (other processes still wait there).
    """

    def __init__(self, url: str, pool_size: int = 20, sqlite_busy_timeout: float = 30.0) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self._pool_size = pool_size
        self._busy_timeout_ms = round(sqlite_busy_timeout * 1000)
        # One engine and one write lock per event loop (uvicorn: one; tests: one per client).
        self._engines: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[AsyncEngine, asyncio.Lock]
        ] = weakref.WeakKeyDictionary()
        self._serving: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()

    def serve(self) -> None:
        """Mark the running loop as the app's own (its lifespan runs in it): it gets a pool.
        A loop that is not (a test client used without its lifespan runs each request in a
        loop of its own) gets no pool: its connections close when the request is done, as
        nothing would close them once the loop is gone."""
        self._serving.add(asyncio.get_running_loop())

    def _pool(self, loop: asyncio.AbstractEventLoop) -> dict[str, Any]:
        if loop not in self._serving:
            return {"poolclass": sa.pool.NullPool}
        return {"pool_size": self._pool_size, "max_overflow": 0, "pool_timeout": 30}

    def _make(self, loop: asyncio.AbstractEventLoop) -> AsyncEngine:
        if self.is_sqlite:
            engine = create_async_engine(
                self.url.set(drivername="sqlite+aiosqlite"),
                hide_parameters=True,
                **self._pool(loop),
            )
            sa.event.listen(engine.sync_engine, "connect", _sqlite_pragmas(self._busy_timeout_ms))
            return engine
        engine = create_async_engine(
            self.url.set(drivername="postgresql+psycopg"),
            hide_parameters=True,
            pool_pre_ping=True,
            **self._pool(loop),
        )
        sa.event.listen(engine.sync_engine, "handle_error", _without_row_values)
        return engine

    def _current(self) -> tuple[AsyncEngine, asyncio.Lock]:
        loop = asyncio.get_running_loop()
        found = self._engines.get(loop)
        if found is None:
            found = self._engines[loop] = (self._make(loop), asyncio.Lock())
        return found

    @property
    def engine(self) -> AsyncEngine:
        return self._current()[0]

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        """Hold while a write transaction runs, up to its commit or rollback."""
        if not self.is_sqlite:
            yield
            return
        async with self._current()[1]:
            yield

    async def dispose(self) -> None:
        """Close this loop's connections (at the app's shutdown)."""
        found = self._engines.pop(asyncio.get_running_loop(), None)
        if found is not None:
            await found[0].dispose()
