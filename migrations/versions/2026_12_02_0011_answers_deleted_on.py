"""The day a round's answers were deleted at the end of their retention period.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 18:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("survey_round") as batch:
        batch.add_column(sa.Column("answers_deleted_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("survey_round") as batch:
        batch.drop_column("answers_deleted_on")
