"""Deleting a partnership leaves no row of it in any table (every table of the models, every
foreign key followed), on SQLite and PostgreSQL; and a backup taken afterwards holds none of
the deleted answers, not even in the free pages of a SQLite file."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Callable
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from app.models import (
    Invitation,
    OutboxMessage,
    Participant,
    PartnershipGrant,
    ReminderRun,
    Response,
    ResponseStatus,
    RoundMailing,
)
from app.services import partnerships
from app.services.accounts import add_account
from app.services.backup import backup_database, search_path_schema
from tests.conftest import SurveySetUp

DELETED_VALUE = "Zanzibar-deleted-7f3a91"
KEPT_VALUE = "Kept-answer-9c1e22"

Rows = dict[str, set[tuple[object, ...]]]


def _key(table: sa.Table, row: sa.Row[tuple[object, ...]]) -> tuple[object, ...]:
    columns = list(table.primary_key.columns) or list(table.columns)
    return tuple(row._mapping[column.name] for column in columns)


def rows_of_partnership(engine: Engine, partnership_id: int) -> Rows:
    """Every row that belongs to the partnership: its own, and every row whose foreign key
    refers to such a row, followed until nothing more is found."""
    found: dict[str, dict[tuple[object, ...], dict[str, object]]] = {
        name: {} for name in SQLModel.metadata.tables
    }
    with engine.connect() as connection:
        partnership = SQLModel.metadata.tables["partnership"]
        for row in connection.execute(
            sa.select(partnership).where(partnership.c.id == partnership_id)
        ):
            found["partnership"][_key(partnership, row)] = dict(row._mapping)
        grew = True
        while grew:
            grew = False
            for table in SQLModel.metadata.sorted_tables:
                for foreign_key in table.foreign_key_constraints:
                    referred = found[foreign_key.referred_table.name]
                    if not referred:
                        continue
                    pairs = list(zip(foreign_key.columns, foreign_key.elements, strict=True))
                    wanted = {
                        tuple(values[element.column.name] for _, element in pairs)
                        for values in referred.values()
                    }
                    for row in connection.execute(sa.select(table)):
                        if tuple(row._mapping[column.name] for column, _ in pairs) in wanted:
                            key = _key(table, row)
                            if key not in found[table.name]:
                                found[table.name][key] = dict(row._mapping)
                                grew = True
    return {name: set(rows) for name, rows in found.items() if rows}


def every_key(engine: Engine) -> Rows:
    with engine.connect() as connection:
        return {
            table.name: {_key(table, row) for row in connection.execute(sa.select(table))}
            for table in SQLModel.metadata.sorted_tables
        }


def _fill(session: Session, make_round: Callable[..., SurveySetUp]) -> tuple[int, int]:
    """Two partnerships with a row in every table a partnership reaches; the first one's
    answers hold DELETED_VALUE, the second's KEPT_VALUE.  Their ids."""
    account = add_account(session, "evaluator@example.org", "correct horse battery staple")
    ids = []
    for value in (DELETED_VALUE, KEPT_VALUE):
        setup = make_round()
        invitation = Invitation(
            round_id=setup.round_id, kind="personal", token_hash=value.ljust(64, "0")
        )
        session.add(invitation)
        session.flush()
        for status in (ResponseStatus.SUBMITTED, ResponseStatus.DRAFT):
            session.add(
                Response(
                    round_id=setup.round_id,
                    invitation_id=invitation.id if status == ResponseStatus.DRAFT else None,
                    status=status,
                    instrument_version="2017.1",
                    answers={"q1": 4},
                    background={"role": f"{value}-{status}"},
                )
            )
        participant = Participant(
            round_id=setup.round_id,
            organisation_id=setup.organisation_ids[0],
            email=f"{value.lower()}@example.org",
            link_seed=f"seed-{value}",
            opt_out_hash=f"opt-{value}",
        )
        session.add(participant)
        session.flush()
        session.add(
            OutboxMessage(
                purpose="invitation",
                round_id=setup.round_id,
                participant_id=participant.id,
                recipient=participant.email,
                subject="Your survey",
                body=f"Dear {value}",
                message_id=f"<{value}@example.org>",
            )
        )
        session.add(
            RoundMailing(
                round_id=setup.round_id,
                invitation_subject="s",
                invitation_text=f"text {value}",
                reminder_subject="r",
                reminder_text="r",
            )
        )
        session.add(ReminderRun(round_id=setup.round_id, reminder_on=date(2026, 1, 1), queued=1))
        assert account.id is not None
        session.add(PartnershipGrant(account_id=account.id, partnership_id=setup.partnership_id))
        session.commit()
        ids.append(setup.partnership_id)
    return ids[0], ids[1]


def test_deleting_a_partnership_leaves_no_row_of_it(
    engine: Engine, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    deleted_id, kept_id = _fill(session, make_round)
    doomed = rows_of_partnership(engine, deleted_id)
    kept = rows_of_partnership(engine, kept_id)
    # The filling reaches every table that refers, step by step, to a partnership.
    assert {
        "partnership",
        "organisation",
        "survey_round",
        "invitation",
        "response",
        "participant",
        "outbox_message",
        "round_mailing",
        "reminder_run",
        "partnership_grant",
    } <= set(doomed)

    partnership = partnerships.get_partnership(session, deleted_id)
    partnerships.delete_partnership(session, deleted_id, partnership.name)

    left = every_key(engine)
    for name, keys in doomed.items():
        assert not keys & left[name], f"{name} keeps rows of the deleted partnership"
    for name, keys in kept.items():
        assert keys <= left[name], f"{name} lost rows of another partnership"


def _backup_text(url: str, path: Path) -> bytes:
    """The backup's bytes: the SQLite file as it is, or the pg_dump archive as SQL."""
    backup_database(url, path)
    if url.startswith("sqlite"):
        return path.read_bytes()
    assert search_path_schema(sa.engine.make_url(url)) is not None
    return subprocess.run(
        ["pg_restore", "--file=-", str(path)],
        capture_output=True,
        check=True,
    ).stdout


def test_a_backup_after_a_deletion_holds_none_of_the_deleted_answers(
    migrated_url: str,
    engine: Engine,
    session: Session,
    make_round: Callable[..., SurveySetUp],
    tmp_path: Path,
) -> None:
    deleted_id, _kept_id = _fill(session, make_round)
    before = _backup_text(migrated_url, tmp_path / "before.backup")
    assert DELETED_VALUE.encode() in before and KEPT_VALUE.encode() in before

    partnership = partnerships.get_partnership(session, deleted_id)
    partnerships.delete_partnership(session, deleted_id, partnership.name)
    session.close()

    after = _backup_text(migrated_url, tmp_path / "after.backup")
    assert KEPT_VALUE.encode() in after
    assert DELETED_VALUE.encode() not in after
    assert DELETED_VALUE.lower().encode() not in after  # the participant's address


def test_the_sqlite_file_itself_keeps_no_deleted_answer(
    migrated_url: str, engine: Engine, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    """secure_delete: the live file's free pages are zeroed as rows are deleted."""
    if not migrated_url.startswith("sqlite"):
        return
    deleted_id, _kept_id = _fill(session, make_round)
    partnership = partnerships.get_partnership(session, deleted_id)
    partnerships.delete_partnership(session, deleted_id, partnership.name)
    session.close()
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    database = sa.engine.make_url(migrated_url).database
    assert database is not None
    raw = Path(database).read_bytes()
    assert KEPT_VALUE.encode() in raw
    assert DELETED_VALUE.encode() not in raw


def test_a_sqlite_backup_drops_what_lingers_in_free_pages(
    migrated_url: str,
    engine: Engine,
    session: Session,
    make_round: Callable[..., SurveySetUp],
    tmp_path: Path,
) -> None:
    """Rows deleted by a connection without secure_delete (an older version, a tool) linger
    in the file's free pages; the backup is rebuilt from live rows and holds none of them."""
    if not migrated_url.startswith("sqlite"):
        return
    deleted_id, _kept_id = _fill(session, make_round)
    session.close()
    engine.dispose()
    database = sa.engine.make_url(migrated_url).database
    assert database is not None
    connection = sqlite3.connect(database)
    try:
        connection.execute("PRAGMA secure_delete=OFF")
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute("DELETE FROM partnership WHERE id = ?", (deleted_id,))
        connection.commit()
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    assert DELETED_VALUE.encode() in Path(database).read_bytes()  # lingering, as said

    after = _backup_text(migrated_url, tmp_path / "after.backup")
    assert KEPT_VALUE.encode() in after
    assert DELETED_VALUE.encode() not in after
