"""The tracking schema as SQLAlchemy Core tables (migrations in `migrations/` create it).

Design, chosen for search at millions of runs and for million-point metric histories:

* Runs have a compact integer key (`run_pk`); the 32-hex `run_id` is only looked up once per
  request. Every per-run table is keyed by `run_pk` first, so a run's data is contiguous.
* Metric names are interned in `metric_keys`; the history table `metrics` stores
  `(run_pk, key_id, step, timestamp, value, is_nan)` as its primary key, clustered (SQLite
  WITHOUT ROWID, InnoDB) so a history read is one sequential range scan and a duplicate point
  is ignored by the key itself. Nothing else is indexed on it, so bulk inserts stay cheap.
* `latest_metrics` holds the latest point per (run, key) — greatest (step, timestamp, value) —
  with `value` NULL for NaN, so filters and ORDER BY never touch the history table.
* ±infinity is stored as ±DBL_MAX (MySQL has no infinity) and read back as infinity.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects import mysql

metadata = MetaData()

# MySQL's TEXT stops at 64 KiB; dataset schemas and profiles are allowed more.
MediumText = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
LongText = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")

experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(500), nullable=False, unique=True),
    Column("artifact_location", String(2000), nullable=False),
    Column("lifecycle_stage", String(16), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
    # SHA-256 of the folded name (store.validation.experiment_name_key): look-alike names
    # (case, Unicode compatibility forms, Cyrillic/Greek homoglyphs) collide here. Revision
    # 0008; nullable only because SQLite cannot add a NOT NULL column without a default.
    Column("name_key", String(80), nullable=True),
    Index("ix_experiments_name_key", "name_key", unique=True),
)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("experiment_id", "key"),
)

runs = Table(
    "runs",
    metadata,
    Column("run_pk", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(32), nullable=False, unique=True),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("name", String(250), nullable=False),
    Column("user_id", String(256), nullable=False),
    Column("status", String(16), nullable=False),
    Column("start_time", BigInteger, nullable=True),
    Column("end_time", BigInteger, nullable=True),
    Column("lifecycle_stage", String(16), nullable=False),
    Column("artifact_uri", String(2000), nullable=False),
    Column("deleted_time", BigInteger, nullable=True),
    # The default search order (start_time DESC, run_id ASC) inside one experiment's live
    # runs, exactly: with the directions in the index, MySQL needs no sort either.
    Index(
        "ix_runs_experiment_stage_start",
        "experiment_id",
        "lifecycle_stage",
        text("start_time DESC"),
        "run_id",
    ),
)

metric_keys = Table(
    "metric_keys",
    metadata,
    Column("key_id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(250), nullable=False, unique=True),
)

metrics = Table(
    "metrics",
    metadata,
    Column("run_pk", Integer, nullable=False),
    Column("key_id", Integer, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("value", Double, nullable=False),
    Column("is_nan", Boolean, nullable=False),
    PrimaryKeyConstraint("run_pk", "key_id", "step", "timestamp", "value", "is_nan"),
    sqlite_with_rowid=False,
)

latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_pk", Integer, nullable=False),
    Column("key_id", Integer, nullable=False),
    Column("value", Double, nullable=True),  # NULL means NaN
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    PrimaryKeyConstraint("run_pk", "key_id"),
    # Filters and ORDER BY on one metric walk this index in value order.
    Index("ix_latest_metrics_key_value", "key_id", "value"),
    sqlite_with_rowid=False,
)


def _run_key_value_table(name: str) -> Table:
    """params and tags share a shape: a run's string values by key, clustered by run."""
    return Table(
        name,
        metadata,
        Column("run_pk", Integer, ForeignKey("runs.run_pk", ondelete="CASCADE"), nullable=False),
        Column("key", String(250), nullable=False),
        Column("value", Text, nullable=False),
        PrimaryKeyConstraint("run_pk", "key"),
        sqlite_with_rowid=False,
    )


params = _run_key_value_table("params")
tags = _run_key_value_table("tags")

datasets = Table(
    "datasets",
    metadata,
    Column("dataset_pk", Integer, primary_key=True, autoincrement=True),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("name", String(500), nullable=False),
    Column("digest", String(36), nullable=False),
    Column("source_type", String(36), nullable=False),
    Column("source", Text, nullable=False),
    Column("schema", MediumText, nullable=True),
    Column("profile", LongText, nullable=True),
    UniqueConstraint("experiment_id", "name", "digest", name="uq_datasets_experiment_name_digest"),
)

run_inputs = Table(
    "run_inputs",
    metadata,
    Column("run_pk", Integer, ForeignKey("runs.run_pk", ondelete="CASCADE"), nullable=False),
    Column(
        "dataset_pk", Integer, ForeignKey("datasets.dataset_pk", ondelete="CASCADE"), nullable=False
    ),
    PrimaryKeyConstraint("run_pk", "dataset_pk"),
    Index("ix_run_inputs_dataset", "dataset_pk"),
)

input_tags = Table(
    "input_tags",
    metadata,
    Column("run_pk", Integer, nullable=False),
    Column("dataset_pk", Integer, nullable=False),
    Column("key", String(255), nullable=False),
    Column("value", String(500), nullable=False),
    PrimaryKeyConstraint("run_pk", "dataset_pk", "key"),
)

# -- the model registry ---------------------------------------------------------------------
# Models have an integer key (`model_pk`) so a rename touches one row. `name_key` is the name
# folded (NFKC, casefold): unique, so no two models differ only by case or by Unicode
# look-alikes. `next_version` is the per-model version counter, advanced under the model's
# row lock in the transaction that creates a version: numbers are 1, 2, 3… with no gaps or
# duplicates, and never reused after a delete. A version's tags and aliases cascade with it.

registered_models = Table(
    "registered_models",
    metadata,
    Column("model_pk", Integer, primary_key=True, autoincrement=True),
    Column("name", String(256), nullable=False, unique=True),
    Column("name_key", String(512), nullable=False, unique=True),
    Column("creation_timestamp", BigInteger, nullable=False),
    Column("last_updated_timestamp", BigInteger, nullable=False),
    Column("description", MediumText, nullable=False),
    Column("user_id", String(256), nullable=False),
    Column("next_version", Integer, nullable=False),
)

registered_model_tags = Table(
    "registered_model_tags",
    metadata,
    Column(
        "model_pk",
        Integer,
        ForeignKey("registered_models.model_pk", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("key", String(250), nullable=False),
    Column("value", MediumText, nullable=False),
    PrimaryKeyConstraint("model_pk", "key"),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column(
        "model_pk",
        Integer,
        ForeignKey("registered_models.model_pk", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("version", Integer, nullable=False),
    Column("creation_timestamp", BigInteger, nullable=False),
    Column("last_updated_timestamp", BigInteger, nullable=False),
    Column("current_stage", String(20), nullable=False),
    Column("description", MediumText, nullable=False),
    Column("user_id", String(256), nullable=False),
    Column("source", Text, nullable=False),
    Column("run_id", String(32), nullable=True),
    Column("run_link", Text, nullable=False),
    Column("status", String(32), nullable=False),
    Column("status_message", Text, nullable=False),
    Column("storage_location", String(2000), nullable=False),
    PrimaryKeyConstraint("model_pk", "version"),
    Index("ix_model_versions_run_id", "run_id"),
)

model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column("model_pk", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", MediumText, nullable=False),
    PrimaryKeyConstraint("model_pk", "version", "key"),
    ForeignKeyConstraint(
        ["model_pk", "version"],
        ["model_versions.model_pk", "model_versions.version"],
        ondelete="CASCADE",
    ),
)

registered_model_aliases = Table(
    "registered_model_aliases",
    metadata,
    Column("model_pk", Integer, nullable=False),
    Column("alias", String(255), nullable=False),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("model_pk", "alias"),
    ForeignKeyConstraint(
        ["model_pk", "version"],
        ["model_versions.model_pk", "model_versions.version"],
        ondelete="CASCADE",
    ),
)

# Governance (revision 0003). The audit trail keeps the model's name as it was, not its key:
# entries outlive the model, and nothing ever updates or deletes them. Policies are keyed by
# model name ("*" is the server-wide policy). Transition requests cascade with their version.
# Webhook deliveries are the outbox: queued in the transaction of the change, sent later.

registry_audit = Table(
    "registry_audit",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("timestamp", BigInteger, nullable=False),
    Column("user_id", String(256), nullable=False),
    Column("action", String(40), nullable=False),
    Column("name", String(256), nullable=False),
    Column("version", String(20), nullable=False),
    Column("key", String(255), nullable=False),
    Column("from_value", MediumText, nullable=False),
    Column("to_value", MediumText, nullable=False),
    Column("comment", MediumText, nullable=False),
    Index("ix_registry_audit_name", "name", "id"),
)

registry_policies = Table(
    "registry_policies",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("document", MediumText, nullable=False),
    Column("last_updated_timestamp", BigInteger, nullable=False),
)

transition_requests = Table(
    "transition_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_pk", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("stage", String(20), nullable=False),
    Column("archive_existing_versions", Boolean, nullable=False),
    Column("status", String(20), nullable=False),
    Column("creation_timestamp", BigInteger, nullable=False),
    Column("user_id", String(256), nullable=False),
    Column("comment", MediumText, nullable=False),
    Column("resolved_timestamp", BigInteger, nullable=False),
    Column("resolved_by", String(256), nullable=False),
    Column("resolution_comment", MediumText, nullable=False),
    ForeignKeyConstraint(
        ["model_pk", "version"],
        ["model_versions.model_pk", "model_versions.version"],
        ondelete="CASCADE",
    ),
    Index("ix_transition_requests_version", "model_pk", "version"),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("url", Text, nullable=False),
    Column("events", Text, nullable=False),  # comma-separated event names
    Column("secret", String(256), nullable=False),
    Column("model", String(256), nullable=False),  # "" = every model
    Column("description", Text, nullable=False),
    Column("creation_timestamp", BigInteger, nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("webhook_id", Integer, ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("event_id", String(32), nullable=False),
    Column("event", String(40), nullable=False),
    Column("payload", MediumText, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("creation_timestamp", BigInteger, nullable=False),
    Column("next_attempt_timestamp", BigInteger, nullable=False),
    Column("last_attempt_timestamp", BigInteger, nullable=False),
    Column("last_status_code", Integer, nullable=False),
    Column("last_error", Text, nullable=False),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_timestamp"),
    Index("ix_webhook_deliveries_webhook", "webhook_id", "id"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column(
        "delivery_id",
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("timestamp", BigInteger, nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("error", Text, nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Index("ix_webhook_attempts_delivery", "delivery_id", "id"),
)

# -- logged models (revision 0004) ----------------------------------------------------------
# MLflow 3's logged models, keyed by their `m-<32 hex>` id (every API call names a model by
# it). A model's tags, params and metric points cascade with it; deletes are soft
# (`lifecycle_stage`), as in MLflow. `run_outputs` links a run to the models it produced, each
# once (at the step first recorded), as MLflow keeps one output per run and model.
# Metric values follow `latest_metrics`: NULL is NaN, ±infinity is stored as ±DBL_MAX.

logged_models = Table(
    "logged_models",
    metadata,
    Column("model_id", String(34), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("name", String(500), nullable=False),
    Column("artifact_location", String(2000), nullable=False),
    Column("creation_timestamp", BigInteger, nullable=False),
    Column("last_updated_timestamp", BigInteger, nullable=False),
    Column("status", String(20), nullable=False),
    Column("status_message", Text, nullable=False),
    Column("model_type", String(500), nullable=False),
    Column("source_run_id", String(32), nullable=True),
    Column("lifecycle_stage", String(16), nullable=False),
    # The default search order inside one experiment's live models.
    Index(
        "ix_logged_models_experiment_created",
        "experiment_id",
        "lifecycle_stage",
        "creation_timestamp",
    ),
    Index("ix_logged_models_source_run", "source_run_id"),
)


def _logged_model_key_value_table(name: str) -> Table:
    return Table(
        name,
        metadata,
        Column(
            "model_id",
            String(34),
            ForeignKey("logged_models.model_id", ondelete="CASCADE"),
            nullable=False,
        ),
        Column("key", String(250), nullable=False),
        Column("value", Text, nullable=False),
        PrimaryKeyConstraint("model_id", "key"),
    )


logged_model_tags = _logged_model_key_value_table("logged_model_tags")
logged_model_params = _logged_model_key_value_table("logged_model_params")

logged_model_metrics = Table(
    "logged_model_metrics",
    metadata,
    Column(
        "model_id",
        String(34),
        ForeignKey("logged_models.model_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("key", String(250), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("run_id", String(32), nullable=False),
    Column("value", Double, nullable=True),  # NULL means NaN
    Column("dataset_name", String(500), nullable=False),
    Column("dataset_digest", String(36), nullable=False),
    PrimaryKeyConstraint("model_id", "key", "timestamp", "step", "run_id"),
)

run_outputs = Table(
    "run_outputs",
    metadata,
    Column("run_pk", Integer, ForeignKey("runs.run_pk", ondelete="CASCADE"), nullable=False),
    Column(
        "model_id",
        String(34),
        ForeignKey("logged_models.model_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("step", BigInteger, nullable=False),
    PrimaryKeyConstraint("run_pk", "model_id"),
    Index("ix_run_outputs_model", "model_id"),
)

# -- security (revision 0005) ---------------------------------------------------------------
# Users and API tokens of `cairn server --auth` (see cairn/auth/). Passwords are scrypt
# hashes with their parameters; tokens are kept as the SHA-256 of the token, never the token.
# `audit_log` is the server-wide, hash-chained record of mutating and denied requests:
# append-only (no code path updates or deletes a row); `audit_head` is its one-row head (the
# last entry's id and hash), locked by every append so entries chain in a single line and a
# deleted last entry is still detected.

users = Table(
    "users",
    metadata,
    Column("user_id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(256), nullable=False, unique=True),
    Column("password_hash", String(256), nullable=False),
    Column("is_admin", Boolean, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("creation_time", BigInteger, nullable=False),
    Column("expiry_time", BigInteger, nullable=True),
    Column("revoked_time", BigInteger, nullable=True),
    Index("ix_api_tokens_user", "user_id"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    ),
    Column("timestamp", BigInteger, nullable=False),
    Column("username", String(256), nullable=False),
    Column("action", String(300), nullable=False),
    Column("resource", String(500), nullable=False),
    Column("status", Integer, nullable=False),
    Column("client", String(100), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_log_timestamp", "timestamp"),
    Index("ix_audit_log_username", "username", "id"),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # always 1
    Column("last_id", BigInteger, nullable=False),
    Column("last_hash", String(64), nullable=False),
)

# -- permissions (revision 0006) -----------------------------------------------------------------
# One row per (resource, user) whose level differs from the server-wide default
# (CAIRN_AUTH_DEFAULT_PERMISSION): READ, EDIT, MANAGE or NO_PERMISSIONS. Rows go with their
# experiment, model or user. Registered models (revision 0007) are keyed by `model_pk`, not
# by name: a rename carries the rows along, a delete cascades them away, and a new model that
# takes a deleted model's name starts with none of its rows.

experiment_permissions = Table(
    "experiment_permissions",
    metadata,
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("user_id", Integer, ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False),
    Column("permission", String(32), nullable=False),
    PrimaryKeyConstraint("experiment_id", "user_id"),
    Index("ix_experiment_permissions_user", "user_id", "experiment_id"),
)

registered_model_permissions = Table(
    "registered_model_permissions",
    metadata,
    Column(
        "model_pk",
        Integer,
        ForeignKey("registered_models.model_pk", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("user_id", Integer, ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False),
    Column("permission", String(32), nullable=False),
    PrimaryKeyConstraint("model_pk", "user_id"),
    Index("ix_registered_model_permissions_user", "user_id", "model_pk"),
)

ALL_TABLES = (
    experiments,
    experiment_tags,
    runs,
    metric_keys,
    metrics,
    latest_metrics,
    params,
    tags,
    datasets,
    run_inputs,
    input_tags,
    registered_models,
    registered_model_tags,
    model_versions,
    model_version_tags,
    registered_model_aliases,
    registry_audit,
    registry_policies,
    transition_requests,
    webhooks,
    webhook_deliveries,
    webhook_attempts,
    logged_models,
    logged_model_tags,
    logged_model_params,
    logged_model_metrics,
    run_outputs,
    users,
    api_tokens,
    audit_log,
    audit_head,
    experiment_permissions,
    registered_model_permissions,
)
