"""Permissions per experiment: (experiment, user) -> READ, EDIT, MANAGE or NO_PERMISSIONS.

See cairn/store/sql/schema.py for the design notes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
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
    op.create_table(
        "experiment_permissions",
        sa.Column(
            "experiment_id",
            sa.Integer,
            sa.ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("users.user_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("permission", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("experiment_id", "user_id"),
        **_table_options(),
    )
    op.create_index(
        "ix_experiment_permissions_user", "experiment_permissions", ["user_id", "experiment_id"]
    )


def downgrade() -> None:
    op.drop_table("experiment_permissions")
