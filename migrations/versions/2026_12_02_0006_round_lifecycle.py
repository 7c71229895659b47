"""Round lifecycle and stored instruments: draft rounds, the day a round actually closed,
reopening, open links that can be shown again, and every instrument version a round uses kept
in the database.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 06:00:00.000000
"""

import hashlib
from collections.abc import Sequence
from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _bundled_documents() -> dict[tuple[str, str], tuple[str, str]]:
    """Every bundled instrument file: (id, version) -> (title, YAML text)."""
    from analysis.instrument import bundled_instruments, instruments_dir, load_instrument

    found: dict[tuple[str, str], tuple[str, str]] = {}
    for name in bundled_instruments():
        instrument = load_instrument(name)
        text = (instruments_dir() / f"{name}.yaml").read_text(encoding="utf-8")
        found[(instrument.id, instrument.version)] = (instrument.title, text)
    return found


def _store_documents_of_rounds() -> None:
    """The documents of the instrument versions existing rounds use, from the bundled files."""
    bind = op.get_bind()
    used = bind.execute(
        sa.text("SELECT DISTINCT instrument_id, instrument_version FROM survey_round")
    ).all()
    if not used:
        return
    bundled = _bundled_documents()
    table = sa.table(
        "instrument_document",
        sa.column("instrument_id", sa.String),
        sa.column("version", sa.String),
        sa.column("title", sa.String),
        sa.column("document", sa.Text),
        sa.column("sha256", sa.String),
        sa.column("source", sa.String),
        sa.column("added_at", sa.DateTime(timezone=True)),
    )
    for instrument_id, version in used:
        if (instrument_id, version) not in bundled:
            raise RuntimeError(
                f"rounds use instrument {instrument_id} version {version}, which no bundled "
                "file holds; restore its file in instruments/ and migrate again"
            )
        title, text = bundled[(instrument_id, version)]
        bind.execute(
            sa.insert(table).values(
                instrument_id=instrument_id,
                version=version,
                title=title,
                document=text,
                sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
                source="bundled",
                added_at=datetime.now(UTC),
            )
        )


def _record_closing_days() -> None:
    """Closed rounds get the day they closed: their final release's day, else their closing
    date, and never a day after today."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT r.id, r.closes_on, MIN(rr.created_at) FROM survey_round r "
            "LEFT JOIN round_release rr ON rr.round_id = r.id AND rr.final "
            "WHERE r.status = 'closed' GROUP BY r.id, r.closes_on"
        )
    ).all()
    today = datetime.now(UTC).date()
    for round_id, closes_on, released_at in rows:
        closes = closes_on if not isinstance(closes_on, str) else date.fromisoformat(closes_on)
        days = [closes, today]
        if released_at is not None:
            when = (
                released_at
                if not isinstance(released_at, str)
                else datetime.fromisoformat(released_at)
            )
            days.append(when.date())
        bind.execute(
            sa.text("UPDATE survey_round SET closed_on = :day WHERE id = :id"),
            {"day": min(days), "id": round_id},
        )


def upgrade() -> None:
    op.create_table(
        "instrument_document",
        sa.Column("instrument_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("instrument_id", "version", name=op.f("pk_instrument_document")),
    )
    _store_documents_of_rounds()
    with op.batch_alter_table("survey_round") as batch:
        batch.drop_constraint("status_known", type_="check")
        batch.create_check_constraint("status_known", "status IN ('draft', 'open', 'closed')")
        batch.add_column(sa.Column("closed_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("reopened", sa.Integer(), nullable=False, server_default="0"))
        batch.create_foreign_key(
            "fk_survey_round_instrument_document",
            "instrument_document",
            ["instrument_id", "instrument_version"],
            ["instrument_id", "version"],
        )
    with op.batch_alter_table("invitation") as batch:
        batch.add_column(sa.Column("link_seed", sa.String(length=64), nullable=True))
    _record_closing_days()


def downgrade() -> None:
    with op.batch_alter_table("invitation") as batch:
        batch.drop_column("link_seed")
    op.execute("UPDATE survey_round SET status = 'open' WHERE status = 'draft'")
    with op.batch_alter_table("survey_round") as batch:
        batch.drop_constraint("fk_survey_round_instrument_document", type_="foreignkey")
        batch.drop_column("reopened")
        batch.drop_column("closed_on")
        batch.drop_constraint("status_known", type_="check")
        batch.create_check_constraint("status_known", "status IN ('open', 'closed')")
    op.drop_table("instrument_document")
