"""Registry governance: the audit trail, promotion policies, transition requests, webhooks
and their delivery outbox.

See cairn/store/sql/schema.py for the design notes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _table_options() -> dict[str, Any]:
    """utf8mb4 with a binary, no-pad collation on MySQL, as in revision 0001."""
    dialect = op.get_bind().dialect
    if dialect.name != "mysql":
        return {}
    collate = "utf8mb4_nopad_bin" if getattr(dialect, "is_mariadb", False) else "utf8mb4_0900_bin"
    return {"mysql_charset": "utf8mb4", "mysql_collate": collate, "mysql_engine": "InnoDB"}


def upgrade() -> None:
    opts = _table_options()
    medium = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql")
    big_key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "registry_audit",
        sa.Column("id", big_key, primary_key=True, autoincrement=True),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("version", sa.String(20), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("from_value", medium, nullable=False),
        sa.Column("to_value", medium, nullable=False),
        sa.Column("comment", medium, nullable=False),
        **opts,
    )
    op.create_index("ix_registry_audit_name", "registry_audit", ["name", "id"])
    op.create_table(
        "registry_policies",
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("document", medium, nullable=False),
        sa.Column("last_updated_timestamp", sa.BigInteger, nullable=False),
        **opts,
    )
    op.create_table(
        "transition_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model_pk", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("archive_existing_versions", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("creation_timestamp", sa.BigInteger, nullable=False),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("comment", medium, nullable=False),
        sa.Column("resolved_timestamp", sa.BigInteger, nullable=False),
        sa.Column("resolved_by", sa.String(256), nullable=False),
        sa.Column("resolution_comment", medium, nullable=False),
        sa.ForeignKeyConstraint(
            ["model_pk", "version"],
            ["model_versions.model_pk", "model_versions.version"],
            ondelete="CASCADE",
        ),
        **opts,
    )
    op.create_index(
        "ix_transition_requests_version", "transition_requests", ["model_pk", "version"]
    )
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("events", sa.Text, nullable=False),
        sa.Column("secret", sa.String(256), nullable=False),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("creation_timestamp", sa.BigInteger, nullable=False),
        **opts,
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", big_key, primary_key=True, autoincrement=True),
        sa.Column(
            "webhook_id",
            sa.Integer,
            sa.ForeignKey("webhooks.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("event_id", sa.String(32), nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("payload", medium, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("creation_timestamp", sa.BigInteger, nullable=False),
        sa.Column("next_attempt_timestamp", sa.BigInteger, nullable=False),
        sa.Column("last_attempt_timestamp", sa.BigInteger, nullable=False),
        sa.Column("last_status_code", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=False),
        **opts,
    )
    op.create_index(
        "ix_webhook_deliveries_due", "webhook_deliveries", ["status", "next_attempt_timestamp"]
    )
    op.create_index("ix_webhook_deliveries_webhook", "webhook_deliveries", ["webhook_id", "id"])
    op.create_table(
        "webhook_attempts",
        sa.Column("id", big_key, primary_key=True, autoincrement=True),
        sa.Column(
            "delivery_id",
            big_key,
            sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        **opts,
    )
    op.create_index("ix_webhook_attempts_delivery", "webhook_attempts", ["delivery_id", "id"])


def downgrade() -> None:
    for table in (
        "webhook_attempts",
        "webhook_deliveries",
        "webhooks",
        "transition_requests",
        "registry_policies",
        "registry_audit",
    ):
        op.drop_table(table)
