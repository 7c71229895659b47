"""Disclosure control: release policy and releases, open-link marks, resume codes, server-side
sign-in sessions, raw-access grants; stored times coarsened to the hour.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 12:00:00.000000
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _coarsen_times() -> None:
    """Existing response times to the hour (a report needs no finer)."""
    bind = op.get_bind()
    response = sa.table(
        "response",
        sa.column("id", sa.Integer),
        sa.column("started_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
        sa.column("submitted_at", sa.DateTime(timezone=True)),
    )
    rows = bind.execute(
        sa.select(
            response.c.id, response.c.started_at, response.c.updated_at, response.c.submitted_at
        )
    ).all()

    def hour(value: datetime | None) -> datetime | None:
        return None if value is None else value.replace(minute=0, second=0, microsecond=0)

    for row in rows:
        bind.execute(
            sa.update(response)
            .where(response.c.id == row.id)
            .values(
                started_at=hour(row.started_at),
                updated_at=hour(row.updated_at),
                submitted_at=hour(row.submitted_at),
            )
        )


def upgrade() -> None:
    with op.batch_alter_table("survey_round") as batch:
        batch.add_column(
            sa.Column(
                "release_policy", sa.String(length=16), nullable=False, server_default="at-close"
            )
        )
        batch.create_check_constraint(
            "release_policy_known", "release_policy IN ('at-close', 'interim')"
        )
    with op.batch_alter_table("invitation") as batch:
        batch.add_column(
            sa.Column("from_open_link", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("resume_code_hash", sa.String(length=64), nullable=True))
    with op.batch_alter_table("response") as batch:
        batch.add_column(
            sa.Column("from_open_link", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("release", sa.Integer(), nullable=True))
    op.create_table(
        "round_release",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("responses", sa.Integer(), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["survey_round.id"],
            name=op.f("fk_round_release_round_id_survey_round"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("round_id", "number", name=op.f("pk_round_release")),
    )
    op.create_table(
        "account_session",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["coordinator.id"],
            name=op.f("fk_account_session_account_id_coordinator"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_account_session")),
    )
    op.create_index(
        op.f("ix_account_session_account_id"), "account_session", ["account_id"], unique=False
    )
    op.create_table(
        "raw_access_grant",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("granted_by_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["coordinator.id"],
            name=op.f("fk_raw_access_grant_account_id_coordinator"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["granted_by_id"],
            ["coordinator.id"],
            name=op.f("fk_raw_access_grant_granted_by_id_coordinator"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_raw_access_grant")),
    )
    _coarsen_times()


def downgrade() -> None:
    op.drop_table("raw_access_grant")
    op.drop_index(op.f("ix_account_session_account_id"), table_name="account_session")
    op.drop_table("account_session")
    op.drop_table("round_release")
    with op.batch_alter_table("response") as batch:
        batch.drop_column("release")
        batch.drop_column("from_open_link")
    with op.batch_alter_table("invitation") as batch:
        batch.drop_column("resume_code_hash")
        batch.drop_column("from_open_link")
    with op.batch_alter_table("survey_round") as batch:
        batch.drop_constraint("release_policy_known", type_="check")
        batch.drop_column("release_policy")
