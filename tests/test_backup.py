"""Backup and restore: round trips that compare every row of every table, on SQLite and
PostgreSQL; a snapshot taken while the app writes is consistent; refusals are clear."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app import migrating
from app.cli import main
from app.database import make_engine
from app.services import invitations, responses
from app.services.backup import BackupError, backup_database, restore_database
from app.services.demo import seed_demo
from app.services.partnerships import add_organisation, create_partnership

Rows = dict[str, list[tuple[object, ...]]]


def every_row(url: str) -> Rows:
    """Every row of every table (migrations table included), in primary-key order."""
    engine = make_engine(url)
    try:
        metadata = sa.MetaData()
        metadata.reflect(engine)
        with engine.connect() as connection:
            return {
                name: [
                    tuple(row)
                    for row in connection.execute(
                        sa.select(table).order_by(*(table.primary_key.columns or table.columns))
                    )
                ]
                for name, table in sorted(metadata.tables.items())
            }
    finally:
        engine.dispose()


def _fill(engine: Engine) -> None:
    """The demo (39 submitted responses, coordinators, links) plus two drafts."""
    with Session(engine, expire_on_commit=False) as session:
        seed = seed_demo(
            session,
            instrument_id="trustworthy-collaboration",
            anonymity_threshold=5,
        )
        invitation = invitations.invitation_for_token(session, seed.respondent_token)
        responses.save_draft(
            session, invitation, {"q10": 2, "q11": 5}, {"partnership_name": "Ünïcode <b>&"}
        )


def test_round_trip_restores_every_row(migrated_url: str, engine: Engine, tmp_path: Path) -> None:
    _fill(engine)
    before = every_row(migrated_url)
    assert len(before["response"]) == 40 and before["alembic_version"]
    archive = tmp_path / "survey.backup"
    summary = backup_database(migrated_url, archive)
    assert summary.tables["response"] == 40 and archive.stat().st_size > 0

    # Change the database after the backup: the restore must bring back the old state.
    with Session(engine) as session:
        session.execute(sa.text("DELETE FROM response WHERE status = 'draft'"))
        session.commit()
        create_partnership(session, "Made after the backup", "other")
    assert every_row(migrated_url) != before

    with pytest.raises(BackupError, match=r"not empty \(.*response \(39\).*--force"):
        restore_database(migrated_url, archive)
    assert every_row(migrated_url) != before  # refused: nothing changed

    restored = restore_database(migrated_url, archive, force=True)
    assert restored.tables == summary.tables
    assert every_row(migrated_url) == before


def test_sqlite_backup_restores_into_an_empty_database(engine: Engine, tmp_path: Path) -> None:
    url = str(engine.url)
    if engine.dialect.name != "sqlite":
        pytest.skip("a pg_dump archive names its schema; covered by the round trip")
    _fill(engine)
    archive = tmp_path / "copy.sqlite3"
    backup_database(url, archive)
    fresh = f"sqlite:///{tmp_path / 'fresh' / 'new.sqlite3'}"
    restore_database(fresh, archive)  # no rows there: no --force needed
    assert every_row(fresh) == every_row(url)
    migrated_fresh = f"sqlite:///{tmp_path / 'migrated-empty.sqlite3'}"
    migrating.upgrade(migrated_fresh)  # tables but no rows: still allowed
    restore_database(migrated_fresh, archive)
    assert every_row(migrated_fresh) == every_row(url)


def test_sqlite_snapshot_is_consistent_while_the_app_writes(engine: Engine, tmp_path: Path) -> None:
    """Each write adds a partnership and its organisation in one transaction: a consistent
    snapshot never holds a partnership without its organisation."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the online-backup API is SQLite's")
    url = str(engine.url)
    stop = threading.Event()
    # Rows the writer has COMMITTED (counted after the commit, so a snapshot taken once this
    # reaches n holds at least n partnerships).
    written = 0

    def write() -> None:
        nonlocal written
        with Session(engine) as session:
            while not stop.is_set():
                name = f"P{written + 1}"
                session.execute(
                    sa.text(
                        "INSERT INTO partnership (name, kind, created_at) "
                        "VALUES (:name, 'other', CURRENT_TIMESTAMP)"
                    ),
                    {"name": name},
                )
                session.execute(
                    sa.text(
                        "INSERT INTO organisation (partnership_id, name, kind) "
                        "SELECT id, 'O', 'other' FROM partnership WHERE name = :name"
                    ),
                    {"name": name},
                )
                session.commit()
                written += 1

    def wait_for_rows(number: int) -> None:
        while written < number and writer.is_alive():
            stop.wait(0.01)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        snapshots = []
        for number in range(5):
            wait_for_rows(50 * (number + 1))
            archive = tmp_path / f"snap{number}.sqlite3"
            backup_database(url, archive)
            snapshots.append(archive)
        # At least one more commit after the last snapshot ended: the last snapshot cannot
        # hold every row written.
        wait_for_rows(written + 1)
    finally:
        stop.set()
        writer.join()
    counts = []
    for archive in snapshots:
        rows = every_row(f"sqlite:///{archive}")
        assert len(rows["partnership"]) == len(rows["organisation"])
        counts.append(len(rows["partnership"]))
    assert counts == sorted(counts) and counts[0] >= 50
    assert counts[-1] < written  # the writer kept going during the backups


def test_restore_refuses_files_that_are_not_backups(migrated_url: str, tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"this is not a backup at all")
    with pytest.raises(BackupError, match="not a backup made by `trust-survey backup`"):
        restore_database(migrated_url, junk)
    with pytest.raises(BackupError, match="no backup file"):
        restore_database(migrated_url, tmp_path / "missing.backup")
    other_sqlite = tmp_path / "other.sqlite3"
    sa.create_engine(f"sqlite:///{other_sqlite}").connect().execute(
        sa.text("CREATE TABLE t (x)")
    ).close()
    expected = "not a Partnership Trust Survey" if "sqlite" in migrated_url else "sqlite backup"
    with pytest.raises(BackupError, match=expected):
        restore_database(migrated_url, other_sqlite)


def test_backup_does_not_overwrite_without_force(migrated_url: str, tmp_path: Path) -> None:
    archive = tmp_path / "b.backup"
    archive.write_text("keep me")
    with pytest.raises(BackupError, match="already exists"):
        backup_database(migrated_url, archive)
    assert archive.read_text() == "keep me"
    backup_database(migrated_url, archive, overwrite=True)
    assert archive.read_bytes()[:5] in {b"SQLit", b"PGDMP"}
    assert not list(tmp_path.glob(".*partial"))


def test_cli_backup_and_restore(
    migrated_url: str,
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with Session(engine) as session:
        partnership = create_partnership(session, "CLI partnership", "other")
        assert partnership.id is not None
        add_organisation(session, partnership.id, "CLI organisation", "other")
    before = every_row(migrated_url)
    monkeypatch.setenv("DATABASE_URL", migrated_url)
    archive = tmp_path / "cli.backup"
    assert main(["backup", str(archive)]) == 0
    assert "4 rows in" in capsys.readouterr().out  # and the two audit lines of adding them
    assert main(["restore", str(archive)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("trust-survey restore: error: the database is not empty")
    assert "--force" in error and "Traceback" not in error
    assert main(["restore", str(archive), "--force"]) == 0
    assert "restored (4 rows" in capsys.readouterr().out
    assert every_row(migrated_url) == before
    assert main(["backup", str(archive)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_pg_tools_must_match_the_server_major_version(monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.engine import make_url

    from app.services import backup

    assert backup._major_version("pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)") == 15
    monkeypatch.setattr(backup, "_server_major", lambda url: 16)
    with pytest.raises(BackupError, match="version 15 but the server is PostgreSQL 16"):
        backup._check_tool_version("/usr/bin/pg_dump", make_url("postgresql://x@h/db"))
    url = make_url("postgresql+psycopg://u:secret@h:5433/db?options=-csearch_path%3Dabc_1")
    assert backup.search_path_schema(url) == "abc_1"
    environment = backup._pg_environment(url)
    assert environment["PGPASSWORD"] == "secret" and environment["PGPORT"] == "5433"
