"""The filter grammar, as a specification: what parses to what, and what is refused and why."""

from __future__ import annotations

import pytest

from cairn.exceptions import InvalidFilter, InvalidParameterValue
from cairn.search import (
    EXPERIMENTS,
    MODEL_VERSIONS,
    REGISTERED_MODELS,
    RUNS,
    And,
    Comparison,
    Entity,
    Op,
    Or,
    parse_filter,
)

M, P, T, A, D = Entity.METRIC, Entity.PARAM, Entity.TAG, Entity.ATTRIBUTE, Entity.DATASET


def one(text: str, schema=RUNS) -> tuple[Entity, str, Op, object]:
    node = parse_filter(text, schema)
    assert isinstance(node, Comparison)
    return node.entity, node.key, node.op, node.value


def error(text: str, schema=RUNS) -> InvalidFilter:
    with pytest.raises(InvalidFilter) as info:
        parse_filter(text, schema)
    return info.value


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t"])
def test_an_empty_filter_matches_everything(text):
    assert parse_filter(text, RUNS) is None


# -- entities and their aliases --------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["metrics", "metric", "METRICS", "Metric"])
def test_metric_prefixes(prefix):
    assert one(f"{prefix}.acc > 0.5") == (M, "acc", Op.GT, 0.5)


@pytest.mark.parametrize("prefix", ["params", "param", "parameter", "parameters"])
def test_param_prefixes(prefix):
    assert one(f"{prefix}.lr = '0.1'") == (P, "lr", Op.EQ, "0.1")


@pytest.mark.parametrize("prefix", ["tags", "tag"])
def test_tag_prefixes(prefix):
    assert one(f"{prefix}.team = 'ml'") == (T, "team", Op.EQ, "ml")


@pytest.mark.parametrize("prefix", ["", "attributes.", "attribute.", "attr.", "run."])
def test_attribute_prefixes(prefix):
    assert one(f"{prefix}status = 'FINISHED'") == (A, "status", Op.EQ, "FINISHED")


@pytest.mark.parametrize("prefix", ["datasets", "dataset"])
@pytest.mark.parametrize("key", ["name", "digest", "context"])
def test_dataset_prefixes(prefix, key):
    assert one(f"{prefix}.{key} = 'x'") == (D, key, Op.EQ, "x")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("run_id = 'r'", "run_id"),
        ("run_name = 'r'", "run_name"),
        ("`Run name` = 'r'", "run_name"),
        ("`run name` = 'r'", "run_name"),
        ("attributes.`Run name` = 'r'", "run_name"),
        ("user_id = 'r'", "user_id"),
        ("artifact_uri = 'r'", "artifact_uri"),
        ("lifecycle_stage = 'r'", "lifecycle_stage"),
        ("RUN_NAME = 'r'", "run_name"),
    ],
)
def test_string_attributes_and_their_aliases(text, key):
    assert one(text)[:2] == (A, key)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("start_time > 5", "start_time"),
        ("created > 5", "start_time"),
        ("Created > 5", "start_time"),
        ("attributes.created > 5", "start_time"),
        ("end_time > 5", "end_time"),
    ],
)
def test_time_attributes_and_their_aliases(text, key):
    assert one(text) == (A, key, Op.GT, 5)


def test_keys_keep_their_case_and_everything_after_the_first_dot():
    assert one("metrics.Val.Loss < 1") == (M, "Val.Loss", Op.LT, 1.0)
    assert one("tags.`mlflow.runName` = 'x'") == (T, "mlflow.runName", Op.EQ, "x")
    assert one("params.`my param` = 'x'") == (P, "my param", Op.EQ, "x")


def test_the_comparison_remembers_its_position():
    node = parse_filter("metrics.a > 1 and params.b = 'x'", RUNS)
    assert isinstance(node, And)
    assert [c.position for c in node.children] == [0, 18]  # type: ignore[union-attr]


# -- operators and values ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        ("=", Op.EQ),
        ("!=", Op.NE),
        ("<>", Op.NE),
        ("<", Op.LT),
        ("<=", Op.LE),
        (">", Op.GT),
        (">=", Op.GE),
    ],
)
def test_metric_comparators(op, expected):
    assert one(f"metrics.acc {op} 1") == (M, "acc", expected, 1.0)


@pytest.mark.parametrize("literal", ["1", "1.0", "1e0", "+1", "10e-1"])
def test_metric_values_are_floats_however_written(literal):
    assert one(f"metrics.acc = {literal}")[3] == 1.0


@pytest.mark.parametrize("entity", ["params", "tags"])
@pytest.mark.parametrize(
    ("text", "op", "value"),
    [
        ("= 'v'", Op.EQ, "v"),
        ("!= 'v'", Op.NE, "v"),
        ("LIKE 'v%'", Op.LIKE, "v%"),
        ("like 'v%'", Op.LIKE, "v%"),
        ("ILIKE 'V%'", Op.ILIKE, "V%"),
        ("IS NULL", Op.IS_NULL, None),
        ("is null", Op.IS_NULL, None),
        ("IS NOT NULL", Op.IS_NOT_NULL, None),
        ("Is Not Null", Op.IS_NOT_NULL, None),
    ],
)
def test_param_and_tag_operators(entity, text, op, value):
    assert one(f"{entity}.k {text}")[2:] == (op, value)


@pytest.mark.parametrize(
    ("text", "op", "value"),
    [
        ("run_id IN ('a', 'b')", Op.IN, ("a", "b")),
        ("run_id in ('a')", Op.IN, ("a",)),
        ("run_id NOT IN ('a', \"b\",)", Op.NOT_IN, ("a", "b")),
        ("run_id not in ('a')", Op.NOT_IN, ("a",)),
        ("status IN ('FINISHED', 'FAILED')", Op.IN, ("FINISHED", "FAILED")),  # extension
        ("run_name LIKE 'a%'", Op.LIKE, "a%"),
        ("user_id ILIKE 'BOB'", Op.ILIKE, "BOB"),
        ("datasets.name IN ('a', 'b')", Op.IN, ("a", "b")),
        ("datasets.context NOT IN ('train')", Op.NOT_IN, ("train",)),
    ],
)
def test_attribute_and_dataset_operators(text, op, value):
    assert one(text)[2:] == (op, value)


def test_times_take_whole_numbers():
    assert one("start_time >= 1.7e12") == (A, "start_time", Op.GE, 1_700_000_000_000)
    assert isinstance(one("end_time < 2.0")[3], int)


def test_quotes_are_escaped_by_doubling():
    assert one("tags.note = 'it''s'")[3] == "it's"
    assert one('tags.note = "it\'s"')[3] == "it's"


# -- AND, OR and parentheses -------------------------------------------------------------------


def test_and_joins_comparisons_into_one_conjunction():
    node = parse_filter("metrics.a > 1 AND metrics.b > 2 and metrics.c > 3", RUNS)
    assert isinstance(node, And) and len(node.children) == 3


def test_and_binds_tighter_than_or():
    node = parse_filter("metrics.a > 1 OR metrics.b > 2 AND metrics.c > 3", RUNS)
    assert isinstance(node, Or)
    first, second = node.children
    assert isinstance(first, Comparison) and first.key == "a"
    assert isinstance(second, And) and [c.key for c in second.children] == ["b", "c"]  # type: ignore[union-attr]


def test_parentheses_override_precedence():
    node = parse_filter("(metrics.a > 1 OR metrics.b > 2) AND metrics.c > 3", RUNS)
    assert isinstance(node, And)
    assert isinstance(node.children[0], Or)


def test_nested_and_redundant_parentheses():
    node = parse_filter("((metrics.a > 1)) and ((metrics.b > 2 or (metrics.c > 3)))", RUNS)
    assert isinstance(node, And)
    assert isinstance(node.children[0], Comparison)
    assert isinstance(node.children[1], Or)


def test_parenthesised_conjunctions_are_flattened():
    node = parse_filter("(metrics.a > 1 AND metrics.b > 2) AND metrics.c > 3", RUNS)
    assert isinstance(node, And) and len(node.children) == 3


def test_a_search_may_turn_or_off():
    from dataclasses import replace

    mlflow_only = replace(RUNS, allow_or=False)
    assert "OR is not supported" in error("metrics.a > 1 OR metrics.b > 2", mlflow_only).message
    assert "parentheses are not supported" in error("(metrics.a > 1)", mlflow_only).message


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("metrics.acc foo", "expected a comparison operator after 'metrics.acc', found 'foo'", 12),
        ("metrics.acc", "expected a comparison operator after 'metrics.acc', found the end", 11),
        (
            "metrics.acc LIKE '%'",
            "'LIKE' cannot be used with metrics.acc; use one of = != < <= > >=",
            12,
        ),
        (
            "params.lr > '1'",
            "'>' cannot be used with params.lr; use one of = != LIKE ILIKE IS NULL",
            10,
        ),
        (
            "params.lr = 0.1",
            "expected a quoted string after 'params.lr =', found 0.1; write '0.1'",
            12,
        ),
        ("metrics.acc > 'high'", "expected a number after 'metrics.acc >', found 'high'", 14),
        ("start_time > 1.5", "attribute 'start_time' is compared with whole numbers, not 1.5", 13),
        ("colour = 'red'", "unknown attribute 'colour'; expected one of run_id, run_name", 0),
        ("colour = 'red'", "write e.g. metrics.colour", 0),
        (
            "mlflow.runName = 'x'",
            "unknown entity 'mlflow' in 'mlflow.runName'; expected one of metrics",
            0,
        ),
        (
            "datasets.size = 'x'",
            "unknown datasets field 'size'; expected one of name, digest, context",
            0,
        ),
        ("start_time LIKE '1%'", "'LIKE' cannot be used with attribute 'start_time'", 11),
        ("run_name IS NULL", "'IS NULL' cannot be used with attribute 'run_name'", 9),
        ("run_id IN 'a'", "expected a list such as ('a', 'b') after IN, found 'a'", 10),
        ("run_id IN ()", "expected a quoted string in the IN list, found ')'", 11),
        ("run_id IN (1, 2)", "expected a quoted string in the IN list, found 1", 11),
        ("run_id IN ('a' 'b')", "expected ',' or ')' in the IN list, found 'b'", 15),
        ("run_id IN ('a'", "expected ',' or ')' in the IN list, found the end of the input", 14),
        ("params.x NOT LIKE 'a'", "expected IN after NOT, found 'LIKE'", 13),
        ("params.x IS 'a'", "expected NULL after IS, found 'a'", 12),
        ("params.x IS NOT 'a'", "expected NULL after IS, found 'a'", 16),
        ("NOT params.x = 'a'", "NOT is only supported as part of 'NOT IN' and 'IS NOT NULL'", 0),
        (
            "metrics.a > 1 metrics.b < 2",
            "expected AND, OR or the end of the filter, found 'metrics.b'",
            14,
        ),
        ("metrics.a > 1 AND", "expected a comparison such as metrics.acc > 0.9, found the end", 17),
        ("AND metrics.a > 1", "expected a comparison such as metrics.acc > 0.9, found 'AND'", 0),
        ("metrics.a > 1 OR OR metrics.b > 1", "expected a comparison", 17),
        ("(metrics.a > 1", "missing ')' to close the '(' at position 0", 14),
        ("(metrics.a > 1 metrics.b", "expected ')' or a connective, found 'metrics.b'", 15),
        ("metrics.a > 1)", "unexpected ')' without a matching '('", 13),
        ("()", "expected a comparison such as metrics.acc > 0.9, found ')'", 1),
        ("params.p LIKE 'a\\'", "LIKE pattern ends with a lone backslash", 14),
    ],
)
def test_errors_say_where_and_why(text, message, position):
    exc = error(text)
    assert message in exc.message
    assert exc.position == position
    assert exc.text == text


def test_invalid_filter_is_an_invalid_parameter_value():
    exc = error("metrics.acc foo")
    assert isinstance(exc, InvalidParameterValue)
    assert exc.to_dict()["error_code"] == "INVALID_PARAMETER_VALUE"


# -- other searches share the grammar ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name = 'exp'", (A, "name", Op.EQ, "exp")),
        ("attribute.name ILIKE '%exp%'", (A, "name", Op.ILIKE, "%exp%")),
        ("experiment_id IN ('1', '2')", (A, "experiment_id", Op.IN, ("1", "2"))),
        ("experiment_id NOT IN ('1')", (A, "experiment_id", Op.NOT_IN, ("1",))),
        ("creation_time > 5", (A, "creation_time", Op.GT, 5)),
        ("last_update_time <= 5", (A, "last_update_time", Op.LE, 5)),
        ("tags.team = 'ml'", (T, "team", Op.EQ, "ml")),
        ("tag.team IS NULL", (T, "team", Op.IS_NULL, None)),
    ],
)
def test_experiment_filters(text, expected):
    assert one(text, EXPERIMENTS) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metrics.acc > 1", "unknown entity 'metrics'"),
        ("params.x = 'a'", "unknown entity 'params'"),
        ("status = 'a'", "unknown attribute 'status'; expected one of name, experiment_id"),
        ("creation_time LIKE 'a'", "'LIKE' cannot be used with attribute 'creation_time'"),
    ],
)
def test_experiment_filter_errors(text, message):
    assert message in error(text, EXPERIMENTS).message


def test_registered_model_and_model_version_schemas():
    assert one("name IN ('a', 'b')", REGISTERED_MODELS) == (A, "name", Op.IN, ("a", "b"))
    assert one("tags.`mlflow.prompt.is_prompt` != 'true'", REGISTERED_MODELS)[2] == Op.NE
    assert "can only be used in order_by" in error("timestamp > 1", REGISTERED_MODELS).message
    assert one("version_number >= 2", MODEL_VERSIONS) == (A, "version_number", Op.GE, 2)
    assert one("source_path LIKE 's3://%'", MODEL_VERSIONS)[2] == Op.LIKE
    assert "IS NULL" in error("tags.a IS NULL", MODEL_VERSIONS).message
