"""Operations sub-commands: ``backup PATH`` and ``restore PATH`` of the DATABASE_URL database,
and ``purge [--dry-run]`` (the retention periods)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.cli import CommandError


def _database_url() -> str:
    from app.settings import Settings

    try:
        return Settings().database_url
    except ValueError as error:  # pydantic's ValidationError is a ValueError
        raise CommandError(str(error).splitlines()[-1].strip() or str(error)) from None


def _backup(args: argparse.Namespace) -> int:
    from app.services.backup import BackupError, backup_database

    try:
        summary = backup_database(_database_url(), Path(args.path), overwrite=args.force)
    except BackupError as error:
        raise CommandError(str(error)) from None
    print(
        f"trust-survey backup: {summary.backend} database written to {summary.path} "
        f"({summary.rows} rows in {len(summary.tables)} tables)"
    )
    return 0


def _restore(args: argparse.Namespace) -> int:
    from app.services.backup import BackupError, restore_database

    try:
        summary = restore_database(_database_url(), Path(args.path), force=args.force)
    except BackupError as error:
        raise CommandError(str(error)) from None
    print(
        f"trust-survey restore: {summary.path} restored "
        f"({summary.rows} rows in {len(summary.tables)} tables)"
    )
    return 0


def _purge(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from sqlmodel import Session

    from app.database import make_engine
    from app.services import clock, retention
    from app.services.audit import COMMAND_LINE_ACTOR
    from app.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as error:
        raise CommandError(f"bad setting: {error}") from None
    clock.set_time_zone(settings.time_zone)
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        with Session(engine) as session:
            report = retention.purge(
                session, settings, datetime.now(UTC), COMMAND_LINE_ACTOR, dry_run=args.dry_run
            )
    finally:
        engine.dispose()
    verb = "would delete" if args.dry_run else "deleted"
    print(f"trust-survey purge: {verb} {report.as_text()}")
    return 0


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``backup``, ``restore`` and ``purge``."""
    backup = subparsers.add_parser(
        "backup",
        help="write a consistent backup of the database (SQLite snapshot or pg_dump archive)",
    )
    backup.add_argument("path", help="the backup file to write")
    backup.add_argument("--force", action="store_true", help="overwrite an existing file")
    backup.set_defaults(handler=_backup)

    restore = subparsers.add_parser(
        "restore", help="restore a backup made by `trust-survey backup` into the database"
    )
    restore.add_argument("path", help="the backup file to read")
    restore.add_argument(
        "--force",
        action="store_true",
        help="replace the contents of a database that is not empty",
    )
    restore.set_defaults(handler=_restore)

    purge = subparsers.add_parser(
        "purge",
        help="delete what is past its retention period (answers, drafts, addresses, audit lines)",
    )
    purge.add_argument(
        "--dry-run", action="store_true", help="say what would be deleted, delete nothing"
    )
    purge.set_defaults(handler=_purge)
