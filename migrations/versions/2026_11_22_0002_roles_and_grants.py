"""Roles and grants: evaluator and analyst accounts, and the partnerships granted to each.

The ``coordinator`` table already has a free ``role`` column; evaluator and analyst are new
values of it.  ``partnership_grant`` says which partnerships an account may read.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "partnership_grant",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("partnership_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["coordinator.id"],
            name=op.f("fk_partnership_grant_account_id_coordinator"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partnership_id"],
            ["partnership.id"],
            name=op.f("fk_partnership_grant_partnership_id_partnership"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "partnership_id", name=op.f("pk_partnership_grant")),
    )
    op.create_index(
        op.f("ix_partnership_grant_partnership_id"),
        "partnership_grant",
        ["partnership_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_partnership_grant_partnership_id"), table_name="partnership_grant")
    op.drop_table("partnership_grant")
