"""The initial tracking schema (see cairn/store/sql/schema.py for the design notes).

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _table_options() -> dict[str, Any]:
    """utf8mb4 with a binary, no-pad collation on MySQL: keys are case- and space-exact."""
    dialect = op.get_bind().dialect
    if dialect.name != "mysql":
        return {}
    collate = "utf8mb4_nopad_bin" if getattr(dialect, "is_mariadb", False) else "utf8mb4_0900_bin"
    return {"mysql_charset": "utf8mb4", "mysql_collate": collate, "mysql_engine": "InnoDB"}


def upgrade() -> None:
    opts = _table_options()
    medium = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql")
    long = sa.Text().with_variant(mysql.LONGTEXT(), "mysql")
    op.create_table(
        "experiments",
        sa.Column("experiment_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(500), nullable=False, unique=True),
        sa.Column("artifact_location", sa.String(2000), nullable=False),
        sa.Column("lifecycle_stage", sa.String(16), nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_update_time", sa.BigInteger, nullable=False),
        **opts,
    )
    op.create_table(
        "experiment_tags",
        sa.Column(
            "experiment_id",
            sa.Integer,
            sa.ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("experiment_id", "key"),
        **opts,
    )
    op.create_table(
        "runs",
        sa.Column("run_pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(32), nullable=False, unique=True),
        sa.Column(
            "experiment_id",
            sa.Integer,
            sa.ForeignKey("experiments.experiment_id"),
            nullable=False,
        ),
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("start_time", sa.BigInteger, nullable=True),
        sa.Column("end_time", sa.BigInteger, nullable=True),
        sa.Column("lifecycle_stage", sa.String(16), nullable=False),
        sa.Column("artifact_uri", sa.String(2000), nullable=False),
        sa.Column("deleted_time", sa.BigInteger, nullable=True),
        **opts,
    )
    op.create_index(
        "ix_runs_experiment_stage_start",
        "runs",
        ["experiment_id", "lifecycle_stage", sa.text("start_time DESC"), "run_id"],
    )
    op.create_table(
        "metric_keys",
        sa.Column("key_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(250), nullable=False, unique=True),
        **opts,
    )
    op.create_table(
        "metrics",
        sa.Column("run_pk", sa.Integer, nullable=False),
        sa.Column("key_id", sa.Integer, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Double, nullable=False),
        sa.Column("is_nan", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("run_pk", "key_id", "step", "timestamp", "value", "is_nan"),
        sqlite_with_rowid=False,
        **opts,
    )
    op.create_table(
        "latest_metrics",
        sa.Column("run_pk", sa.Integer, nullable=False),
        sa.Column("key_id", sa.Integer, nullable=False),
        sa.Column("value", sa.Double, nullable=True),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("run_pk", "key_id"),
        sqlite_with_rowid=False,
        **opts,
    )
    op.create_index("ix_latest_metrics_key_value", "latest_metrics", ["key_id", "value"])
    for name in ("params", "tags"):
        op.create_table(
            name,
            sa.Column(
                "run_pk",
                sa.Integer,
                sa.ForeignKey("runs.run_pk", ondelete="CASCADE"),
                nullable=False,
            ),
            sa.Column("key", sa.String(250), nullable=False),
            sa.Column("value", sa.Text, nullable=False),
            sa.PrimaryKeyConstraint("run_pk", "key"),
            sqlite_with_rowid=False,
            **opts,
        )
    op.create_table(
        "datasets",
        sa.Column("dataset_pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "experiment_id",
            sa.Integer,
            sa.ForeignKey("experiments.experiment_id"),
            nullable=False,
        ),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("digest", sa.String(36), nullable=False),
        sa.Column("source_type", sa.String(36), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("schema", medium, nullable=True),
        sa.Column("profile", long, nullable=True),
        sa.UniqueConstraint(
            "experiment_id", "name", "digest", name="uq_datasets_experiment_name_digest"
        ),
        **opts,
    )
    op.create_table(
        "run_inputs",
        sa.Column(
            "run_pk", sa.Integer, sa.ForeignKey("runs.run_pk", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "dataset_pk",
            sa.Integer,
            sa.ForeignKey("datasets.dataset_pk", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("run_pk", "dataset_pk"),
        **opts,
    )
    op.create_index("ix_run_inputs_dataset", "run_inputs", ["dataset_pk"])
    op.create_table(
        "input_tags",
        sa.Column("run_pk", sa.Integer, nullable=False),
        sa.Column("dataset_pk", sa.Integer, nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.String(500), nullable=False),
        sa.PrimaryKeyConstraint("run_pk", "dataset_pk", "key"),
        **opts,
    )


def downgrade() -> None:
    for name in (
        "input_tags",
        "run_inputs",
        "datasets",
        "tags",
        "params",
        "latest_metrics",
        "metrics",
        "metric_keys",
        "runs",
        "experiment_tags",
        "experiments",
    ):
        op.drop_table(name)
