"""Partnerships and organisations are described by a ``kind``, not by a column named after
one instrument's background question (``care_model``, ``organisation_type``): which
question a kind answers is the instrument's ``partnership_attribute`` or
``organisation_attribute``.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 22:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RENAMED = (("partnership", "care_model"), ("organisation", "organisation_type"))

# ALTER TABLE ... RENAME COLUMN on both databases (SQLite since 3.25), not a batch
# operation: on SQLite a batch rebuilds the table, and dropping the old partnership table
# with foreign keys on would cascade to every grant, round and response under it.


def upgrade() -> None:
    for table, column in _RENAMED:
        op.execute(f"ALTER TABLE {table} RENAME COLUMN {column} TO kind")


def downgrade() -> None:
    for table, column in _RENAMED:
        op.execute(f"ALTER TABLE {table} RENAME COLUMN kind TO {column}")
