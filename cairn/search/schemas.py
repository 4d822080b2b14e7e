"""The schema of each search Cairn offers (MLflow REST spec section 9).

Extensions beyond MLflow are marked `# extension`; docs/search.md lists them too.
"""

from __future__ import annotations

from cairn.search.nodes import Entity
from cairn.search.schema import (
    KEYED_STRING_OPS,
    NUMERIC_OPS,
    STRING_LIST_OPS,
    STRING_OPS,
    Field,
    SearchSchema,
    ValueType,
    attributes,
    keyed,
)

_NUMBER = Field(NUMERIC_OPS, ValueType.NUMBER)
_TIME = Field(NUMERIC_OPS, ValueType.INTEGER)
_STRING = Field(STRING_OPS, ValueType.STRING)
_STRING_OR_LIST = Field(STRING_LIST_OPS, ValueType.STRING)
_KEYED_STRING = Field(KEYED_STRING_OPS, ValueType.STRING)
_ORDER_ONLY_TIME = Field(frozenset(), ValueType.INTEGER)

ATTRIBUTE_PREFIXES = ("attributes", "attribute", "attr", "run", "")

RUNS = SearchSchema(
    name="runs",
    entities=(
        keyed(Entity.METRIC, ("metrics", "metric"), "metrics", _NUMBER),
        keyed(
            Entity.PARAM, ("params", "param", "parameter", "parameters"), "params", _KEYED_STRING
        ),
        keyed(Entity.TAG, ("tags", "tag"), "tags", _KEYED_STRING),
        attributes(
            Entity.ATTRIBUTE,
            ATTRIBUTE_PREFIXES,
            "attributes",
            {
                "run_id": _STRING_OR_LIST,
                # MLflow allows IN / NOT IN on run_id only; the other strings are an extension.
                "run_name": _STRING_OR_LIST,
                "status": _STRING_OR_LIST,
                "user_id": _STRING_OR_LIST,
                "artifact_uri": _STRING_OR_LIST,
                "lifecycle_stage": _STRING_OR_LIST,  # extension
                "start_time": _TIME,
                "end_time": _TIME,
            },
            aliases={"run_name": ("Run name",), "start_time": ("created",)},
        ),
        attributes(
            Entity.DATASET,
            ("datasets", "dataset"),
            "datasets",
            {
                "name": Field(STRING_LIST_OPS, ValueType.STRING, orderable=False),
                "digest": Field(STRING_LIST_OPS, ValueType.STRING, orderable=False),
                "context": Field(STRING_LIST_OPS, ValueType.STRING, orderable=False),
            },
        ),
    ),
)

EXPERIMENTS = SearchSchema(
    name="experiments",
    entities=(
        attributes(
            Entity.ATTRIBUTE,
            ("attributes", "attribute", "attr", ""),
            "attributes",
            {
                "name": _STRING_OR_LIST,  # IN / NOT IN on name: extension
                "experiment_id": _STRING_OR_LIST,
                "creation_time": _TIME,
                "last_update_time": _TIME,
            },
        ),
        keyed(
            Entity.TAG,
            ("tags", "tag"),
            "tags",
            Field(KEYED_STRING_OPS, ValueType.STRING, orderable=False),
        ),
    ),
)

REGISTERED_MODELS = SearchSchema(
    name="registered models",
    entities=(
        attributes(
            Entity.ATTRIBUTE,
            ("attributes", "attribute", "attr", ""),
            "attributes",
            {
                "name": _STRING_OR_LIST,
                # Both sort by last-updated time in the reference implementation.
                "timestamp": _ORDER_ONLY_TIME,
                "last_updated_timestamp": _ORDER_ONLY_TIME,
            },
        ),
        keyed(Entity.TAG, ("tags", "tag"), "tags", Field(STRING_OPS, ValueType.STRING, False)),
    ),
)

MODEL_VERSIONS = SearchSchema(
    name="model versions",
    entities=(
        attributes(
            Entity.ATTRIBUTE,
            ("attributes", "attribute", "attr", ""),
            "attributes",
            {
                "name": _STRING_OR_LIST,
                "run_id": _STRING_OR_LIST,
                "source_path": Field(STRING_OPS, ValueType.STRING, orderable=False),
                "version_number": _TIME,
                "creation_timestamp": _ORDER_ONLY_TIME,
                "last_updated_timestamp": _ORDER_ONLY_TIME,
            },
        ),
        keyed(Entity.TAG, ("tags", "tag"), "tags", Field(STRING_OPS, ValueType.STRING, False)),
    ),
)

# MLflow 3's logged models. Attribute names follow MLflow's search (`creation_time` and
# `last_updated_time` are its aliases); order_by takes attributes and metrics only.
LOGGED_MODELS = SearchSchema(
    name="logged models",
    entities=(
        attributes(
            Entity.ATTRIBUTE,
            ("attributes", "attribute", "attr", ""),
            "attributes",
            {
                "name": _STRING_OR_LIST,
                "model_id": _STRING_OR_LIST,
                "model_type": _STRING_OR_LIST,
                "status": _STRING_OR_LIST,
                "source_run_id": _STRING_OR_LIST,
                "creation_timestamp": _TIME,
                "last_updated_timestamp": _TIME,
            },
            aliases={
                "creation_timestamp": ("creation_time",),
                "last_updated_timestamp": ("last_updated_time",),
            },
        ),
        keyed(Entity.METRIC, ("metrics", "metric"), "metrics", _NUMBER),
        keyed(
            Entity.PARAM,
            ("params", "param", "parameter", "parameters"),
            "params",
            Field(STRING_OPS, ValueType.STRING, orderable=False),
        ),
        keyed(Entity.TAG, ("tags", "tag"), "tags", Field(STRING_OPS, ValueType.STRING, False)),
    ),
)
