"""Permissions per registered model: (model, user) -> READ, EDIT, MANAGE or NO_PERMISSIONS.

Keyed by the model's `model_pk`, so a rename keeps them and a delete cascades them away. See
cairn/store/sql/schema.py for the design notes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
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
        "registered_model_permissions",
        sa.Column(
            "model_pk",
            sa.Integer,
            sa.ForeignKey("registered_models.model_pk", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("users.user_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("permission", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("model_pk", "user_id"),
        **_table_options(),
    )
    op.create_index(
        "ix_registered_model_permissions_user",
        "registered_model_permissions",
        ["user_id", "model_pk"],
    )


def downgrade() -> None:
    op.drop_table("registered_model_permissions")
