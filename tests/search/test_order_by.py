"""order_by clauses: `<identifier> [ASC|DESC]`, the same names as filters, each key once."""

from __future__ import annotations

import pytest

from cairn.exceptions import InvalidFilter
from cairn.search import (
    EXPERIMENTS,
    MODEL_VERSIONS,
    REGISTERED_MODELS,
    RUNS,
    Entity,
    OrderKey,
    parse_order_by,
)

M, P, T, A = Entity.METRIC, Entity.PARAM, Entity.TAG, Entity.ATTRIBUTE


@pytest.mark.parametrize("clauses", [None, []])
def test_no_order_by(clauses):
    assert parse_order_by(clauses, RUNS) == ()


@pytest.mark.parametrize(
    ("clause", "key"),
    [
        ("metrics.acc DESC", OrderKey(M, "acc", False)),
        ("metric.acc desc", OrderKey(M, "acc", False)),
        ("metrics.acc", OrderKey(M, "acc", True)),
        ("metrics.acc ASC", OrderKey(M, "acc", True)),
        ("metrics.`f1 score` DESC", OrderKey(M, "f1 score", False)),
        ("params.`lr`", OrderKey(P, "lr", True)),
        ("parameters.lr Asc", OrderKey(P, "lr", True)),
        ("tags.`mlflow.runName`", OrderKey(T, "mlflow.runName", True)),
        ("start_time", OrderKey(A, "start_time", True)),
        ("created DESC", OrderKey(A, "start_time", False)),
        ("attributes.run_name ASC", OrderKey(A, "run_name", True)),
        ("`Run name`", OrderKey(A, "run_name", True)),
        ("attr.end_time", OrderKey(A, "end_time", True)),
        ("run_id", OrderKey(A, "run_id", True)),
        ("status", OrderKey(A, "status", True)),
        ("user_id", OrderKey(A, "user_id", True)),
        ("artifact_uri", OrderKey(A, "artifact_uri", True)),
        ("  metrics.acc   DESC  ", OrderKey(M, "acc", False)),
    ],
)
def test_run_order_keys(clause, key):
    assert parse_order_by([clause], RUNS) == (key,)


def test_clauses_apply_in_sequence():
    keys = parse_order_by(["metrics.acc DESC", "params.lr", "start_time DESC"], RUNS)
    assert [(k.entity, k.key, k.ascending) for k in keys] == [
        (M, "acc", False),
        (P, "lr", True),
        (A, "start_time", False),
    ]


@pytest.mark.parametrize(
    "clauses",
    [
        ["metrics.acc", "metrics.acc DESC"],
        ["metrics.acc", "metric.`acc`"],
        ["start_time", "created DESC"],
        ["run_name", "`Run name`"],
    ],
)
def test_the_same_key_twice_is_refused(clauses):
    with pytest.raises(InvalidFilter, match="the same key twice"):
        parse_order_by(clauses, RUNS)


def test_different_entities_with_one_key_name_are_different_keys():
    assert len(parse_order_by(["metrics.x", "params.x", "tags.x"], RUNS)) == 3


@pytest.mark.parametrize(
    ("clause", "message", "position"),
    [
        (
            "metrics.acc sideways",
            "expected ASC, DESC or the end of the order_by clause, found 'sideways'",
            12,
        ),
        ("metrics.acc DESC ASC", "expected ASC, DESC or the end", 17),
        ("DESC", "expected a key to sort by, such as metrics.acc DESC, found 'DESC'", 0),
        ("colour", "unknown attribute 'colour'", 0),
        ("datasets.name", "cannot order runs by datasets.name", 0),
        ("metrics.", "expected a key after 'metrics.'", 8),
    ],
)
def test_run_order_errors(clause, message, position):
    with pytest.raises(InvalidFilter) as info:
        parse_order_by([clause], RUNS)
    assert message in info.value.message
    assert info.value.position == position


@pytest.mark.parametrize("clause", ["", "   "])
def test_empty_clauses_are_refused(clause):
    with pytest.raises(InvalidFilter, match="empty order_by clause"):
        parse_order_by([clause], RUNS)


def test_experiment_order_keys():
    keys = parse_order_by(
        ["name", "experiment_id DESC", "creation_time", "last_update_time"], EXPERIMENTS
    )
    assert [k.key for k in keys] == ["name", "experiment_id", "creation_time", "last_update_time"]
    with pytest.raises(InvalidFilter, match=r"cannot order experiments by tags\.team"):
        parse_order_by(["tags.team"], EXPERIMENTS)


def test_registry_order_only_keys():
    assert parse_order_by(["timestamp DESC"], REGISTERED_MODELS)[0].key == "timestamp"
    assert parse_order_by(["version_number"], MODEL_VERSIONS)[0].key == "version_number"
    with pytest.raises(
        InvalidFilter, match="cannot order model versions by attribute 'source_path'"
    ):
        parse_order_by(["source_path"], MODEL_VERSIONS)
