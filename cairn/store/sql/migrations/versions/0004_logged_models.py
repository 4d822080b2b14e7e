"""MLflow 3's logged models: the models, their tags, params and metric points, and the
models each run produced (`run_outputs`).

See cairn/store/sql/schema.py for the design notes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _table_options() -> dict[str, Any]:
    """utf8mb4 with a binary, no-pad collation on MySQL, as in revision 0001."""
    dialect = op.get_bind().dialect
    if dialect.name != "mysql":
        return {}
    collate = "utf8mb4_nopad_bin" if getattr(dialect, "is_mariadb", False) else "utf8mb4_0900_bin"
    return {"mysql_charset": "utf8mb4", "mysql_collate": collate, "mysql_engine": "InnoDB"}


def _model_ref() -> sa.Column[Any]:
    return sa.Column(
        "model_id",
        sa.String(34),
        sa.ForeignKey("logged_models.model_id", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    opts = _table_options()
    op.create_table(
        "logged_models",
        sa.Column("model_id", sa.String(34), primary_key=True),
        sa.Column(
            "experiment_id",
            sa.Integer,
            sa.ForeignKey("experiments.experiment_id"),
            nullable=False,
        ),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("artifact_location", sa.String(2000), nullable=False),
        sa.Column("creation_timestamp", sa.BigInteger, nullable=False),
        sa.Column("last_updated_timestamp", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_message", sa.Text, nullable=False),
        sa.Column("model_type", sa.String(500), nullable=False),
        sa.Column("source_run_id", sa.String(32), nullable=True),
        sa.Column("lifecycle_stage", sa.String(16), nullable=False),
        **opts,
    )
    op.create_index(
        "ix_logged_models_experiment_created",
        "logged_models",
        ["experiment_id", "lifecycle_stage", "creation_timestamp"],
    )
    op.create_index("ix_logged_models_source_run", "logged_models", ["source_run_id"])
    for name in ("logged_model_tags", "logged_model_params"):
        op.create_table(
            name,
            _model_ref(),
            sa.Column("key", sa.String(250), nullable=False),
            sa.Column("value", sa.Text, nullable=False),
            sa.PrimaryKeyConstraint("model_id", "key"),
            **opts,
        )
    op.create_table(
        "logged_model_metrics",
        _model_ref(),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("value", sa.Double, nullable=True),
        sa.Column("dataset_name", sa.String(500), nullable=False),
        sa.Column("dataset_digest", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("model_id", "key", "timestamp", "step", "run_id"),
        **opts,
    )
    op.create_table(
        "run_outputs",
        sa.Column(
            "run_pk",
            sa.Integer,
            sa.ForeignKey("runs.run_pk", ondelete="CASCADE"),
            nullable=False,
        ),
        _model_ref(),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("run_pk", "model_id"),
        **opts,
    )
    op.create_index("ix_run_outputs_model", "run_outputs", ["model_id"])


def downgrade() -> None:
    for table in (
        "run_outputs",
        "logged_model_metrics",
        "logged_model_params",
        "logged_model_tags",
        "logged_models",
    ):
        op.drop_table(table)
