"""Durable outbox for e-mail; participants of a round, its invitation and reminder texts and
dates, and the reminders already queued.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOCUMENT = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "participant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("link_seed", sa.String(length=64), nullable=False),
        sa.Column("opt_out_hash", sa.String(length=64), nullable=False),
        sa.Column("reminders_opted_out", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("undeliverable", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("invited", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_participant_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["survey_round.id"],
            name=op.f("fk_participant_round_id_survey_round"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participant")),
        sa.UniqueConstraint("link_seed", name=op.f("uq_participant_link_seed")),
        sa.UniqueConstraint("opt_out_hash", name=op.f("uq_participant_opt_out_hash")),
        sa.UniqueConstraint("round_id", "email", name=op.f("uq_participant_round_id_email")),
    )
    op.create_index(
        op.f("ix_participant_organisation_id"), "participant", ["organisation_id"], unique=False
    )
    op.create_index(op.f("ix_participant_round_id"), "participant", ["round_id"], unique=False)
    op.create_table(
        "outbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=True),
        sa.Column("participant_id", sa.Integer(), nullable=True),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("provider_reference", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'sent', 'failed', 'bounced')",
            name=op.f("ck_outbox_message_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_outbox_message_participant_id_participant"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["survey_round.id"],
            name=op.f("fk_outbox_message_round_id_survey_round"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_message")),
        sa.UniqueConstraint("message_id", name=op.f("uq_outbox_message_message_id")),
    )
    op.create_index(
        "ix_outbox_message_round_status", "outbox_message", ["round_id", "status"], unique=False
    )
    op.create_index(
        "ix_outbox_message_status_next_attempt_at",
        "outbox_message",
        ["status", "next_attempt_at"],
        unique=False,
    )
    op.create_table(
        "round_mailing",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("invitation_subject", sa.String(length=300), nullable=False),
        sa.Column("invitation_text", sa.Text(), nullable=False),
        sa.Column("reminder_subject", sa.String(length=300), nullable=False),
        sa.Column("reminder_text", sa.Text(), nullable=False),
        sa.Column("reminder_dates", JSON_DOCUMENT, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["survey_round.id"],
            name=op.f("fk_round_mailing_round_id_survey_round"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("round_id", name=op.f("pk_round_mailing")),
    )
    op.create_table(
        "reminder_run",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("reminder_on", sa.Date(), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["survey_round.id"],
            name=op.f("fk_reminder_run_round_id_survey_round"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("round_id", "reminder_on", name=op.f("pk_reminder_run")),
    )


def downgrade() -> None:
    op.drop_table("reminder_run")
    op.drop_table("round_mailing")
    op.drop_index("ix_outbox_message_status_next_attempt_at", table_name="outbox_message")
    op.drop_index("ix_outbox_message_round_status", table_name="outbox_message")
    op.drop_table("outbox_message")
    op.drop_index(op.f("ix_participant_round_id"), table_name="participant")
    op.drop_index(op.f("ix_participant_organisation_id"), table_name="participant")
    op.drop_table("participant")
