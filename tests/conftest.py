"""Shared fixtures.

Database fixtures are parametrised over backends: a real SQLite file under ``tmp_path`` and,
when ``TEST_POSTGRES_URL`` is set, a real PostgreSQL database.  With ``TEST_POSTGRES_URL``
unset the PostgreSQL cases are skipped; set but unreachable, they fail.

Migrating is done once per test session (once per pytest-xdist worker), not once per test:

* ``database_url`` alone is an EMPTY database: a new SQLite file, or a new PostgreSQL schema
  (dropped afterwards), for the tests of migrations themselves.
* ``migrated_url`` (and everything built on it: ``engine``, ``session``, ``settings``,
  ``client``...) is a migrated database.  On SQLite it is a copy of a template file migrated
  once.  On PostgreSQL it is one migrated schema per worker, emptied after each test with
  ``TRUNCATE ... RESTART IDENTITY CASCADE`` of every table (``alembic_version`` kept); a test
  that changes the schema itself (a downgrade, a dropped or added table, column, index or
  constraint) is detected afterwards and the schema is migrated afresh for the next test.

Passwords are hashed with argon2 at a tiny cost in the test process (see ``_cheap_hasher``);
the servers the tests start as subprocesses keep the production cost.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

import app.security

if TYPE_CHECKING:
    from app.services.reports import RoundReport

pytest_plugins = ["tests.browser_support"]

RUN_ID = uuid.uuid4().hex[:8]
_schema_numbers = itertools.count()
TEST_SECRET = "test-secret-key-that-is-long-enough-for-production-0123456789"
COORDINATOR_EMAIL = "coordinator@example.org"
COORDINATOR_PASSWORD = "correct horse battery staple"

# argon2id at its smallest cost (8 KiB, one pass) for every hash made in the test process:
# about 0.1 ms instead of about 150 ms and 64 MiB.  Verifying reads the cost from the hash
# itself, so hashes made here verify cheaply in the live servers too, and production hashes
# still verify here.  Set before any test module imports app.services.accounts, whose
# module-level dummy hash is made on import.
app.security._password_hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def _postgres_url_for_schema(base_url: str) -> Iterator[str]:
    """A URL whose search_path is a new, empty schema, dropped afterwards."""
    schema = _new_schema_name()
    admin = sa.create_engine(base_url, connect_args={"connect_timeout": 5})
    try:
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        yield _url_with_schema(base_url, schema)
    finally:
        try:
            with admin.begin() as connection:
                connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        finally:
            admin.dispose()


def _new_schema_name() -> str:
    # RUN_ID differs per process (so per xdist worker) and per run; the counter within one.
    return f"trust_test_{RUN_ID}_{os.getpid()}_{next(_schema_numbers)}"


def _url_with_schema(base_url: str, schema: str) -> str:
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


class _MigratedSchema:
    """One migrated PostgreSQL schema for this worker, reset after each test that used it."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.admin = sa.create_engine(base_url, connect_args={"connect_timeout": 5})
        self.schema = ""
        self.url = ""
        self.fingerprint = ""
        self.tables: list[str] = []
        self._create()

    def _create(self) -> None:
        from app import migrating

        self.schema = _new_schema_name()
        with self.admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{self.schema}"'))
        self.url = _url_with_schema(self.base_url, self.schema)
        migrating.upgrade(self.url)
        self.fingerprint = self._fingerprint()
        with self.admin.connect() as connection:
            self.tables = list(
                connection.execute(
                    sa.text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = :schema "
                        "AND tablename <> 'alembic_version' ORDER BY tablename"
                    ),
                    {"schema": self.schema},
                ).scalars()
            )

    def _fingerprint(self) -> str:
        """What the schema is made of (relations, columns, constraints, triggers, functions)
        and its Alembic revision: any change means a test altered the schema."""
        queries = [
            "SELECT c.relname || ':' || c.relkind::text FROM pg_class c "
            "WHERE c.relnamespace = CAST(:schema AS regnamespace)",
            "SELECT table_name || '.' || column_name || ':' || data_type || ':' || is_nullable "
            "|| ':' || coalesce(column_default, '') FROM information_schema.columns "
            "WHERE table_schema = :schema",
            "SELECT conrelid::regclass::text || ':' || conname || ':' || "
            "pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE connamespace = CAST(:schema AS regnamespace)",
            "SELECT indexdef FROM pg_indexes WHERE schemaname = :schema",
            "SELECT tgrelid::regclass::text || ':' || tgname FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE c.relnamespace = CAST(:schema AS regnamespace)",
            "SELECT proname FROM pg_proc WHERE pronamespace = CAST(:schema AS regnamespace)",
            "SELECT typname FROM pg_type WHERE typnamespace = CAST(:schema AS regnamespace)",
        ]
        parts: list[str] = []
        with self.admin.connect() as connection:
            for query in queries:
                rows = connection.execute(sa.text(query), {"schema": self.schema}).scalars()
                parts.extend(sorted(str(row) for row in rows))
                parts.append("--")
            has_version = connection.execute(
                sa.text(
                    "SELECT count(*) FROM pg_tables "
                    "WHERE schemaname = :schema AND tablename = 'alembic_version'"
                ),
                {"schema": self.schema},
            ).scalar_one()
            if has_version:
                versions = connection.execute(
                    sa.text(f'SELECT version_num FROM "{self.schema}".alembic_version')
                ).scalars()
                parts.extend(sorted(versions))
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    def reset(self) -> None:
        """Empty every table; migrate a new schema if the test changed this one."""
        try:
            unchanged = self._fingerprint() == self.fingerprint
        except sa.exc.SQLAlchemyError:
            unchanged = False
        if unchanged and self.tables:
            tables = ", ".join(f'"{self.schema}"."{name}"' for name in self.tables)
            for _attempt in range(2):
                try:
                    with self.admin.begin() as connection:
                        connection.execute(sa.text("SET LOCAL lock_timeout = '5s'"))
                        connection.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
                    return
                except sa.exc.OperationalError:
                    # A connection the test left inside a transaction holds a lock on a table
                    # of this schema (which only this worker uses): end it, then try again.
                    self._end_lock_holders(self.schema)
        self._end_lock_holders(self.schema)
        with self.admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
        self._create()

    def _end_lock_holders(self, schema: str) -> None:
        with self.admin.connect() as connection:
            connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM (SELECT DISTINCT l.pid FROM pg_locks l "
                    "JOIN pg_class c ON c.oid = l.relation "
                    "WHERE c.relnamespace = CAST(:schema AS regnamespace) "
                    "AND l.database = (SELECT oid FROM pg_database "
                    "WHERE datname = current_database()) "
                    "AND l.pid <> pg_backend_pid()) AS holders"
                ),
                {"schema": schema},
            )

    def close(self) -> None:
        try:
            self._end_lock_holders(self.schema)
            with self.admin.begin() as connection:
                connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
        finally:
            self.admin.dispose()


@pytest.fixture(scope="session")
def _migrated_postgres_schema() -> Iterator[_MigratedSchema]:
    """This worker's migrated PostgreSQL schema (made on first use)."""
    base_url = os.environ.get("TEST_POSTGRES_URL")
    if not base_url:
        pytest.skip("TEST_POSTGRES_URL is not set")
    migrated = _MigratedSchema(base_url)
    try:
        yield migrated
    finally:
        migrated.close()


@pytest.fixture(scope="session")
def _migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once; each test that needs a migrated database gets a copy."""
    from app import migrating

    path = tmp_path_factory.mktemp("template") / "migrated.sqlite3"
    url = f"sqlite:///{path}"
    migrating.upgrade(url)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            # Everything into the main file, so that a copy of that file is the whole database.
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh PostgreSQL schema.

    When the test (or a fixture it uses) asks for ``migrated_url``, this is the same URL as
    ``migrated_url``: on PostgreSQL this worker's migrated schema, emptied afterwards.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'survey.sqlite3'}"
        return
    base_url = os.environ.get("TEST_POSTGRES_URL")
    if not base_url:
        pytest.skip("TEST_POSTGRES_URL is not set")
    if "migrated_url" in request.fixturenames:
        migrated: _MigratedSchema = request.getfixturevalue("_migrated_postgres_schema")
        try:
            yield migrated.url
        finally:
            migrated.reset()
        return
    yield from _postgres_url_for_schema(base_url)


@pytest.fixture
def migrated_url(request: pytest.FixtureRequest, database_url: str) -> str:
    """A database at the newest revision, with no rows."""
    from app import migrating

    if database_url.startswith("sqlite"):
        path = Path(make_url(database_url).database or "")
        if not path.exists():
            shutil.copyfile(request.getfixturevalue("_migrated_sqlite_template"), path)
            return database_url
    else:
        migrated = request.getfixturevalue("_migrated_postgres_schema")
        if database_url == migrated.url:
            return database_url
    # Reached only when migrated_url is asked for late (request.getfixturevalue) after an
    # empty database_url was made: migrate that one as before.
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
            instrument_version="2017.1",
            historical=closes_in_days < 0,
        )
        assert survey_round.id is not None
        return SurveySetUp(partnership.id, organisation_ids, survey_round.id)

    return make


@pytest.fixture
def coordinator(session: Session) -> str:
    from app.services.accounts import add_account

    add_account(session, COORDINATOR_EMAIL, COORDINATOR_PASSWORD)
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


# Tests that start servers, drive Chromium or put load on a server: marked ``slow`` so that a
# quick local run can leave them out (``pytest -m "not slow"``); scripts/test runs them all.
SLOW_MODULES = {"test_faults", "test_load", "test_scale_out"}
SLOW_FIXTURES = {"live_server", "chromium"}
SLOW_CALLS = {"start_live_server", "start_server", "run_load_test"}  # start a server themselves


def _calls_slow_helper(item: pytest.Item) -> bool:
    code = getattr(getattr(item, "function", None), "__code__", None)
    return code is not None and bool(SLOW_CALLS & set(code.co_names))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the slow tests; under pytest-xdist, send the modules holding slow tests out first,
    so that the two workers finish together (``--dist loadfile`` keeps each module on one
    worker, so a module-scoped live server or browser is set up once)."""
    slow_modules: set[str] = set()
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        if (
            item.get_closest_marker("browser")
            or SLOW_FIXTURES & set(getattr(item, "fixturenames", ()))
            or _calls_slow_helper(item)
            or Path(module).stem in SLOW_MODULES
        ):
            item.add_marker(pytest.mark.slow)
            slow_modules.add(module)
    if "PYTEST_XDIST_WORKER" in os.environ:  # the same order on every worker
        items.sort(key=lambda item: item.nodeid.split("::", 1)[0] not in slow_modules)


@pytest.fixture(scope="session")
def demo_report(
    _migrated_sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RoundReport]:
    """The demo partnership's closed round (its published report), on a copy of the migrated
    SQLite file, made once per worker for the tests that read the report as rendered (PDF,
    wording): rendering does not depend on the database, so one backend is enough there."""
    from app.database import make_engine
    from app.services import reports, rounds
    from app.services.demo import seed_demo

    path = tmp_path_factory.mktemp("demo-report") / "survey.sqlite3"
    shutil.copyfile(_migrated_sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    try:
        with Session(engine, expire_on_commit=False) as session:
            seed = seed_demo(
                session, instrument_id="trustworthy-collaboration", anonymity_threshold=5
            )
            report = reports.round_report(session, rounds.get_round(session, seed.round_id))
            yield report
    finally:
        engine.dispose()
