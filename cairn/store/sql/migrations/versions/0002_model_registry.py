"""The model registry: registered models, versions, their tags, and aliases.

See cairn/store/sql/schema.py for the design notes (integer model keys, the folded unique
name, the per-model version counter).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0002"
down_revision = "0001"
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
    op.create_table(
        "registered_models",
        sa.Column("model_pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(256), nullable=False, unique=True),
        sa.Column("name_key", sa.String(512), nullable=False, unique=True),
        sa.Column("creation_timestamp", sa.BigInteger, nullable=False),
        sa.Column("last_updated_timestamp", sa.BigInteger, nullable=False),
        sa.Column("description", medium, nullable=False),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("next_version", sa.Integer, nullable=False),
        **opts,
    )
    op.create_table(
        "registered_model_tags",
        sa.Column(
            "model_pk",
            sa.Integer,
            sa.ForeignKey("registered_models.model_pk", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", medium, nullable=False),
        sa.PrimaryKeyConstraint("model_pk", "key"),
        **opts,
    )
    op.create_table(
        "model_versions",
        sa.Column(
            "model_pk",
            sa.Integer,
            sa.ForeignKey("registered_models.model_pk", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("creation_timestamp", sa.BigInteger, nullable=False),
        sa.Column("last_updated_timestamp", sa.BigInteger, nullable=False),
        sa.Column("current_stage", sa.String(20), nullable=False),
        sa.Column("description", medium, nullable=False),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("run_link", sa.Text, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_message", sa.Text, nullable=False),
        sa.Column("storage_location", sa.String(2000), nullable=False),
        sa.PrimaryKeyConstraint("model_pk", "version"),
        **opts,
    )
    op.create_index("ix_model_versions_run_id", "model_versions", ["run_id"])
    op.create_table(
        "model_version_tags",
        sa.Column("model_pk", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", medium, nullable=False),
        sa.PrimaryKeyConstraint("model_pk", "version", "key"),
        sa.ForeignKeyConstraint(
            ["model_pk", "version"],
            ["model_versions.model_pk", "model_versions.version"],
            ondelete="CASCADE",
        ),
        **opts,
    )
    op.create_table(
        "registered_model_aliases",
        sa.Column("model_pk", sa.Integer, nullable=False),
        sa.Column("alias", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("model_pk", "alias"),
        sa.ForeignKeyConstraint(
            ["model_pk", "version"],
            ["model_versions.model_pk", "model_versions.version"],
            ondelete="CASCADE",
        ),
        **opts,
    )


def downgrade() -> None:
    for table in (
        "registered_model_aliases",
        "model_version_tags",
        "model_versions",
        "registered_model_tags",
        "registered_models",
    ):
        op.drop_table(table)
