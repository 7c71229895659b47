"""Where the links in a round's e-mails start, kept with its texts for the worker's reminders.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 06:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("round_mailing") as batch:
        batch.add_column(sa.Column("link_base", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("round_mailing") as batch:
        batch.drop_column("link_base")
