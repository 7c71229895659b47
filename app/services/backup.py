"""Backup and restore of the survey database.

* SQLite: a consistent snapshot through SQLite's online backup API (one read transaction, so
  the app can go on writing; with WAL, writers are not blocked), then VACUUMed, so that no
  deleted row lingers in its free pages.  Restore copies the snapshot
  back with the same API, in one step.
* PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore --clean --if-exists
  --single-transaction`` (all or nothing).  pg_dump's major version must match the server's.
  Connection details go to the tools in ``PG*`` environment variables, never on their command
  line (where ``ps`` would show a password).  A URL with ``options=-csearch_path=SCHEMA`` is
  backed up and restored as that one schema.

A restore refuses to overwrite a database that holds any rows unless ``force`` is given.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

from app.database import make_engine
from app.security import create_private_file, make_private_folder

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
MIGRATIONS_TABLE = "alembic_version"


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    backend: str
    tables: dict[str, int]

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def _sqlite_file(url: URL) -> Path:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError(f"cannot back up the SQLite database {database or ':memory:'!r}")
    return Path(database)


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows in each table of the database (or the URL's schema), migrations table excluded."""
    inspector = sa.inspect(engine)
    counts: dict[str, int] = {}
    with engine.connect() as connection:
        for name in sorted(inspector.get_table_names()):
            if name == MIGRATIONS_TABLE:
                continue
            table = sa.table(name)
            counts[name] = int(
                connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            )
    return counts


def _counts_of(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        return row_counts(engine)
    except sa.exc.OperationalError as error:
        raise BackupError(f"cannot reach the database: {error.orig}") from None
    finally:
        engine.dispose()


def _prepare_target(path: Path, overwrite: bool) -> Path:
    if path.exists() and not overwrite:
        raise BackupError(f"{path} already exists; choose another file or pass --force")
    if path.is_dir():
        raise BackupError(f"{path} is a folder; give a file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    create_private_file(partial)  # 0600 before a byte is written: a backup holds every answer
    return partial


def backup_database(database_url: str, path: Path, *, overwrite: bool = False) -> BackupSummary:
    """Write a consistent backup of ``database_url`` to ``path`` (atomically: all or nothing)."""
    url = make_url(database_url)
    partial = _prepare_target(path, overwrite)
    try:
        if url.get_backend_name() == "sqlite":
            _sqlite_backup(_sqlite_file(url), partial)
            backend = "sqlite"
        elif url.get_backend_name() == "postgresql":
            _pg_dump(url, partial)
            backend = "postgresql"
        else:
            raise BackupError(f"cannot back up a {url.get_backend_name()} database")
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    tables = _counts_of(f"sqlite:///{path}") if backend == "sqlite" else _counts_of(database_url)
    return BackupSummary(path=path, backend=backend, tables=tables)


def _sqlite_backup(source_file: Path, target: Path) -> None:
    if not source_file.exists():
        raise BackupError(f"there is no database at {source_file}")
    source = sqlite3.connect(source_file, timeout=30)
    destination = sqlite3.connect(target)
    try:
        source.backup(destination)  # one read transaction: a snapshot of one moment
        destination.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        # Rebuilt from its live rows only: free pages and the unused space of pages, where
        # deleted answers could linger in the copied file, are not carried into the backup.
        destination.execute("VACUUM")
    except sqlite3.Error as error:
        raise BackupError(f"SQLite backup failed: {error}") from None
    finally:
        destination.close()
        source.close()


def backup_kind(path: Path) -> str:
    """``sqlite`` or ``postgresql``, by the file's first bytes."""
    if not path.is_file():
        raise BackupError(f"there is no backup file at {path}")
    with path.open("rb") as handle:
        head = handle.read(len(SQLITE_MAGIC))
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_DUMP_MAGIC):
        return "postgresql"
    raise BackupError(
        f"{path} is not a backup made by `trust-survey backup` "
        "(neither a SQLite database nor a pg_dump custom-format archive)"
    )


def restore_database(database_url: str, path: Path, *, force: bool = False) -> BackupSummary:
    """Restore ``path`` into ``database_url``; refuses a database with rows unless ``force``."""
    url = make_url(database_url)
    kind = backup_kind(path)
    backend = url.get_backend_name()
    if kind != backend:
        raise BackupError(
            f"{path} is a {kind} backup but DATABASE_URL is a {backend} database; "
            f"restore it into a {kind} database"
        )
    if kind == "sqlite":
        _check_sqlite_backup(path)
    if not force:
        existing = {name: count for name, count in _counts_of(database_url).items() if count}
        if existing:
            listed = ", ".join(f"{name} ({count})" for name, count in existing.items())
            raise BackupError(
                f"the database is not empty ({listed}); restoring would overwrite it. "
                "Pass --force to replace everything in it with the backup"
            )
    if kind == "sqlite":
        _sqlite_restore(path, _sqlite_file(url))
    else:
        _pg_restore(url, path)
    return BackupSummary(path=path, backend=kind, tables=_counts_of(database_url))


def _check_sqlite_backup(path: Path) -> None:
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            (verdict,) = connection.execute("PRAGMA quick_check").fetchone()
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        finally:
            connection.close()
    except sqlite3.Error as error:
        raise BackupError(f"{path} is not a readable SQLite database: {error}") from None
    if verdict != "ok":
        raise BackupError(f"{path} is damaged: {verdict}")
    if MIGRATIONS_TABLE not in tables:
        raise BackupError(f"{path} is a SQLite database but not a Partnership Trust Survey one")


def _sqlite_restore(path: Path, target_file: Path) -> None:
    make_private_folder(target_file.parent)
    create_private_file(target_file)
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    destination = sqlite3.connect(target_file, timeout=30)
    try:
        source.backup(destination)  # replaces every page of the target in one transaction
    except sqlite3.Error as error:
        raise BackupError(f"SQLite restore failed: {error}") from None
    finally:
        destination.close()
        source.close()


# PostgreSQL -------------------------------------------------------------------------------


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return found


def _major_version(text: str) -> int:
    found = re.search(r"\(PostgreSQL\)\s+(\d+)", text)
    if found is None:
        raise BackupError(f"cannot read a version from {text!r}")
    return int(found.group(1))


def search_path_schema(url: URL) -> str | None:
    """The schema of ``options=-csearch_path=SCHEMA`` in a URL (used by the tests), if any."""
    options = url.query.get("options")
    text = options if isinstance(options, str) else " ".join(options or ())
    found = re.search(r"-c\s*search_path=([A-Za-z_][A-Za-z0-9_]*)", text)
    return found.group(1) if found else None


def _pg_environment(url: URL) -> dict[str, str]:
    environment = dict(os.environ)
    values = {
        "PGHOST": url.host,
        "PGPORT": str(url.port) if url.port else None,
        "PGUSER": url.username,
        "PGPASSWORD": url.password if isinstance(url.password, str) else None,
        "PGDATABASE": url.database,
    }
    environment.update({key: value for key, value in values.items() if value})
    return environment


def _server_major(url: URL) -> int:
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        with engine.connect() as connection:
            number = connection.execute(sa.text("SHOW server_version_num")).scalar_one()
    except sa.exc.OperationalError as error:
        raise BackupError(f"cannot reach the database: {error.orig}") from None
    finally:
        engine.dispose()
    return int(number) // 10000


def _check_tool_version(tool: str, url: URL) -> None:
    # Argument lists, no shell; the tools come from shutil.which.
    printed = subprocess.run(  # noqa: S603
        [tool, "--version"], capture_output=True, text=True, check=True
    ).stdout
    tool_major = _major_version(printed)
    server_major = _server_major(url)
    if tool_major != server_major:
        raise BackupError(
            f"{Path(tool).name} is version {tool_major} but the server is PostgreSQL "
            f"{server_major}; install postgresql-client-{server_major}"
        )


def _run_pg_tool(command: list[str], url: URL) -> None:
    finished = subprocess.run(  # noqa: S603
        command, env=_pg_environment(url), capture_output=True, text=True, check=False
    )
    if finished.returncode != 0:
        detail = finished.stderr.strip().splitlines()
        raise BackupError(
            f"{Path(command[0]).name} failed: {detail[-1] if detail else finished.returncode}"
        )


def _pg_dump(url: URL, target: Path) -> None:
    tool = _tool("pg_dump")
    _check_tool_version(tool, url)
    command = [tool, "--format=custom", "--no-owner", "--no-privileges", f"--file={target}"]
    schema = search_path_schema(url)
    if schema:
        command.append(f"--schema={schema}")
    _run_pg_tool(command, url)


def _pg_restore(url: URL, path: Path) -> None:
    tool = _tool("pg_restore")
    _check_tool_version(tool, url)
    listed = subprocess.run(  # noqa: S603
        [tool, "--list", str(path)], capture_output=True, check=False
    )
    if listed.returncode != 0:
        raise BackupError(f"{path} is not a readable pg_dump archive")
    _run_pg_tool(
        [
            tool,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={url.database}",
            str(path),
        ],
        url,
    )
