"""Accounts: the ``coordinator`` table becomes ``account``, with roles, disabling and TOTP;
set-your-password links, per-role second-factor policy and the audit trail.

Every account keeps its id, e-mail address, password hash and grants; its one ``role``
becomes its ``roles``.  The tables that refer to accounts (grants, sessions, raw-access
grants, API tokens) are rebuilt to refer to ``account``.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 13:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, ondelete) of every foreign key to an account
_REFERENCES = (
    ("partnership_grant", "account_id", "CASCADE"),
    ("account_session", "account_id", "CASCADE"),
    ("raw_access_grant", "account_id", "CASCADE"),
    ("raw_access_grant", "granted_by_id", "SET NULL"),
    ("api_token", "account_id", "CASCADE"),
)


def _account_table(name: str, *, new: bool) -> None:
    columns = [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
    ]
    if new:
        columns += [
            sa.Column("password_hash", sa.String(length=255), nullable=True),
            sa.Column("roles", sa.String(length=100), nullable=False),
            sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("totp_secret", sa.String(length=64), nullable=True),
        ]
    else:
        columns += [
            sa.Column("password_hash", sa.String(length=255), nullable=False),
            sa.Column("role", sa.String(length=32), nullable=False),
        ]
    columns.append(sa.Column("created_at", sa.DateTime(timezone=True), nullable=False))
    op.create_table(
        name,
        *columns,
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint("email", name=op.f(f"uq_{name}_email")),
    )


def _point_references(old: str, new: str) -> None:
    for table, column, ondelete in _REFERENCES:
        with op.batch_alter_table(table, recreate="always") as batch:
            batch.drop_constraint(op.f(f"fk_{table}_{column}_{old}"), type_="foreignkey")
            batch.create_foreign_key(
                op.f(f"fk_{table}_{column}_{new}"), new, [column], ["id"], ondelete=ondelete
            )


def _restart_ids(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
            f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
        )


def upgrade() -> None:
    _account_table("account", new=True)
    op.execute(
        "INSERT INTO account (id, email, password_hash, roles, created_at) "
        "SELECT id, email, password_hash, role, created_at FROM coordinator"
    )
    _restart_ids("account")
    _point_references("coordinator", "account")
    op.drop_table("coordinator")
    with op.batch_alter_table("account_session") as batch:
        batch.add_column(
            sa.Column("pending_factor", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    op.create_table(
        "account_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_account_link_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_account_link_token_hash")),
    )
    op.create_index(op.f("ix_account_link_account_id"), "account_link", ["account_id"])
    op.create_table(
        "role_policy",
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("totp_required", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("role", name=op.f("pk_role_policy")),
    )
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=254), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("partnership_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    for column in ("occurred_at", "actor_id", "action", "partnership_id"):
        op.create_index(op.f(f"ix_audit_event_{column}"), "audit_event", [column])


def downgrade() -> None:
    for column in ("occurred_at", "actor_id", "action", "partnership_id"):
        op.drop_index(op.f(f"ix_audit_event_{column}"), table_name="audit_event")
    op.drop_table("audit_event")
    op.drop_table("role_policy")
    op.drop_index(op.f("ix_account_link_account_id"), table_name="account_link")
    op.drop_table("account_link")
    with op.batch_alter_table("account_session") as batch:
        batch.drop_column("pending_factor")
    _account_table("coordinator", new=False)
    # An account that never set a password keeps one that matches nothing; of several roles
    # the first (in the stored order, admin first) is kept.
    op.execute(
        "INSERT INTO coordinator (id, email, password_hash, role, created_at) "
        "SELECT id, email, coalesce(password_hash, '!'), "
        "CASE WHEN instr(roles, ' ') > 0 THEN substr(roles, 1, instr(roles, ' ') - 1) "
        "ELSE roles END, created_at FROM account"
        if op.get_bind().dialect.name == "sqlite"
        else "INSERT INTO coordinator (id, email, password_hash, role, created_at) "
        "SELECT id, email, coalesce(password_hash, '!'), split_part(roles, ' ', 1), "
        "created_at FROM account"
    )
    _restart_ids("coordinator")
    _point_references("account", "coordinator")
    op.drop_table("account")
