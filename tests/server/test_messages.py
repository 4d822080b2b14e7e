"""Unit tests of request parsing (`cairn.server.messages`): MLflow's JSON mapping, by field kind."""

from __future__ import annotations

import math
from typing import Any

import pytest

from cairn.exceptions import InvalidParameterValue
from cairn.server.messages import (
    INT64_MAX,
    INT64_MIN,
    Field,
    Kind,
    int64,
    parse_json,
    parse_query,
    string,
)

TAG = (string("key", True), string("value"))
MESSAGE = (
    string("run_id"),
    string("name", True),
    int64("start_time"),
    Field("max_results", Kind.INT32),
    Field("value", Kind.DOUBLE),
    Field("flag", Kind.BOOL),
    Field("view_type", Kind.ENUM, enum=("ACTIVE_ONLY", "ALL"), default="ACTIVE_ONLY"),
    Field("experiment_ids", repeated=True),
    Field("tags", Kind.MESSAGE, repeated=True, fields=TAG),
    Field("dataset", Kind.MESSAGE, fields=(string("name", True), string("source_type"))),
    int64("step", default=0),
)


def parse(body: dict[str, Any]) -> dict[str, Any]:
    return parse_json(MESSAGE, {"name": "n", **body})


def refused(body: Any, *mentions: str, message: Any = MESSAGE) -> str:
    with pytest.raises(InvalidParameterValue) as caught:
        parse_json(message, body)
    text = str(caught.value.message)
    for part in mentions:
        assert part in text, text
    return text


def refused_query(query: list[tuple[str, str]], *mentions: str) -> str:
    with pytest.raises(InvalidParameterValue) as caught:
        parse_query(MESSAGE, [("name", "n"), *query])
    text = str(caught.value.message)
    for part in mentions:
        assert part in text, text
    return text


def test_camel_case_names() -> None:
    assert Field("start_time").camel == "startTime"
    assert Field("run_uuid").camel == "runUuid"
    assert Field("dataset_digest").camel == "datasetDigest"
    assert Field("name").camel == "name"
    assert Field("max_results").camel == "maxResults"


def test_defaults_for_absent_fields() -> None:
    fields = parse({})
    assert fields == {
        "run_id": None,
        "name": "n",
        "start_time": None,
        "max_results": None,
        "value": None,
        "flag": None,
        "view_type": "ACTIVE_ONLY",
        "experiment_ids": [],
        "tags": [],
        "dataset": None,
        "step": 0,
    }


def test_null_is_the_same_as_absent() -> None:
    fields = parse({"start_time": None, "tags": None, "view_type": None, "step": None})
    assert (fields["start_time"], fields["tags"], fields["view_type"]) == (None, [], "ACTIVE_ONLY")
    assert fields["step"] == 0
    refused({"name": None}, "Missing value", "name")


def test_required_fields() -> None:
    refused({}, "Missing value", "'name'")
    refused({"name": ""}, "Missing value", "'name'")
    refused({"name": "n", "tags": [{"value": "v"}]}, "Missing value", "tags[0].key")
    refused({"name": "n", "dataset": {"source_type": "x"}}, "Missing value", "dataset.name")
    required_list = (Field("ids", required=True, repeated=True),)
    refused({"ids": []}, "Missing value", "ids", message=required_list)
    assert parse_json(required_list, {"ids": ["1"]}) == {"ids": ["1"]}


def test_snake_and_camel_spellings() -> None:
    assert parse({"startTime": 5})["start_time"] == 5
    assert parse({"runId": "r"})["run_id"] == "r"
    refused({"name": "n", "start_time": 1, "startTime": 1}, "start_time", "startTime")
    nested = {"name": "n", "dataset": {"name": "d", "source_type": "a", "sourceType": "b"}}
    refused(nested, "dataset.source_type")
    camel_nested = parse({"dataset": {"name": "d", "sourceType": "s"}})
    assert camel_nested["dataset"] == {"name": "d", "source_type": "s"}


def test_unknown_fields_are_ignored() -> None:
    fields = parse({"colour": "red", "tags": [{"key": "k", "extra": [1, {"x": None}]}]})
    assert fields["tags"] == [{"key": "k", "value": None}]
    assert "colour" not in fields


def test_body_must_be_an_object() -> None:
    for body in ([], [1], "x", 3, None, True):
        refused(body, "JSON object")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (5, 5),
        (-5, -5),
        ("42", 42),
        ("-42", -42),
        (7.0, 7),
        (INT64_MAX, INT64_MAX),
        (INT64_MIN, INT64_MIN),
        (str(INT64_MAX), INT64_MAX),
    ],
)
def test_int64_accepts_numbers_and_decimal_strings(raw: Any, expected: int) -> None:
    assert parse({"start_time": raw})["start_time"] == expected


@pytest.mark.parametrize(
    "raw",
    [True, False, 1.5, "1.5", "", "abc", "0x10", "1e3", "+-1", "NaN", "Infinity", [1], {"v": 1}],
)
def test_int64_refuses_everything_else(raw: Any) -> None:
    refused({"name": "n", "start_time": raw}, "start_time")


@pytest.mark.parametrize("raw", ["\u00b2", "\u2460", "1\u00b2"])
def test_int64_refuses_unicode_digits_int_cannot_read(raw: str) -> None:
    """`str.isdigit` is true for superscripts and circled digits, which `int()` rejects."""
    refused({"name": "n", "start_time": raw}, "start_time")


@pytest.mark.parametrize("raw", [INT64_MAX + 1, INT64_MIN - 1, 2.0**64, str(INT64_MAX + 1)])
def test_int64_range(raw: Any) -> None:
    refused({"name": "n", "start_time": raw}, "start_time", "out of range")


def test_int32_range() -> None:
    assert parse({"max_results": 2**31 - 1})["max_results"] == 2**31 - 1
    assert parse({"max_results": -(2**31)})["max_results"] == -(2**31)
    refused({"name": "n", "max_results": 2**31}, "max_results", "out of range")
    refused({"name": "n", "max_results": -(2**31) - 1}, "max_results", "out of range")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(1, 1.0), (-2.5, -2.5), ("3.25", 3.25), ("1e3", 1000.0), (0, 0.0), (5e-324, 5e-324)],
)
def test_double_values(raw: Any, expected: float) -> None:
    value = parse({"value": raw})["value"]
    assert value == expected and isinstance(value, float)


def test_double_non_finite_spellings() -> None:
    assert math.isnan(parse({"value": "NaN"})["value"])
    assert parse({"value": "Infinity"})["value"] == math.inf
    assert parse({"value": "-Infinity"})["value"] == -math.inf


@pytest.mark.parametrize(
    "raw", [True, False, "nan", "inf", "-inf", "infinity", "+Infinity", "", "x", "1e999", [1.0], {}]
)
def test_double_refuses_other_values(raw: Any) -> None:
    refused({"name": "n", "value": raw}, "'value'")


def test_bool_values() -> None:
    assert parse({"flag": True})["flag"] is True
    assert parse({"flag": False})["flag"] is False
    for raw in ("true", 1, 0, "yes", [True]):
        refused({"name": "n", "flag": raw}, "flag")


def test_enum_by_name_only() -> None:
    assert parse({"view_type": "ALL"})["view_type"] == "ALL"
    for raw in ("all", "NOPE", 1, True, ["ALL"]):
        refused({"name": "n", "view_type": raw}, "view_type")


def test_strings_are_strings() -> None:
    for raw in (1, 1.5, True, ["x"], {"x": 1}):
        refused({"name": raw}, "'name'")
    assert parse({"name": "\u00e9\U0001f600 \t"})["name"] == "\u00e9\U0001f600 \t"


def test_nul_characters_are_refused_in_every_string() -> None:
    """No name, key or value needs a NUL, and PostgreSQL cannot store one."""
    refused({"name": "a\x00b"}, "'name'", "NUL")
    refused({"name": "n", "tags": [{"key": "k", "value": "\x00"}]}, "tags[0].value", "NUL")
    refused({"name": "n", "experiment_ids": ["1", "\x00"]}, "experiment_ids[1]", "NUL")
    refused_query([("run_id", "r\x00")], "run_id", "NUL")


def test_repeated_fields() -> None:
    assert parse({"experiment_ids": ["1", "2"]})["experiment_ids"] == ["1", "2"]
    refused({"name": "n", "experiment_ids": "1"}, "experiment_ids", "a list")
    refused({"name": "n", "experiment_ids": {"0": "1"}}, "experiment_ids", "a list")
    refused({"name": "n", "experiment_ids": ["1", 2]}, "experiment_ids[1]")
    tags = parse({"tags": [{"key": "a", "value": "1"}, {"key": "b"}]})["tags"]
    assert tags == [{"key": "a", "value": "1"}, {"key": "b", "value": None}]
    refused({"name": "n", "tags": [{"key": "a"}, "b"]}, "tags[1]", "an object")
    refused({"name": "n", "tags": [{"key": "a", "value": 2}]}, "tags[0].value")


def test_nested_message_must_be_an_object() -> None:
    for raw in ("d", 1, ["d"], True):
        refused({"name": "n", "dataset": raw}, "dataset", "an object")


def test_error_messages_name_the_json_type() -> None:
    assert "got a boolean" in refused({"name": "n", "start_time": True})
    assert "got a list" in refused({"name": "n", "start_time": []})
    assert "got an object" in refused({"name": "n", "start_time": {}})
    assert "got a string" in refused({"name": "n", "start_time": "x"})
    assert "got a number" in refused({"name": 5})


# -- query strings ----------------------------------------------------------------------------


def test_query_values_are_parsed_by_kind() -> None:
    fields = parse_query(
        MESSAGE,
        [
            ("name", "n"),
            ("start_time", "123"),
            ("max_results", "10"),
            ("value", "NaN"),
            ("view_type", "ALL"),
        ],
    )
    assert (fields["start_time"], fields["max_results"], fields["view_type"]) == (123, 10, "ALL")
    assert math.isnan(fields["value"])


def test_query_repeated_keys_and_last_scalar_wins() -> None:
    fields = parse_query(
        MESSAGE,
        [("name", "a"), ("experiment_ids", "1"), ("experiment_ids", "2"), ("name", "b")],
    )
    assert fields["experiment_ids"] == ["1", "2"]
    assert fields["name"] == "b"
    assert parse_query(MESSAGE, [("name", "n"), ("experiment_ids", "7")])["experiment_ids"] == ["7"]


@pytest.mark.parametrize(("text", "expected"), [("true", True), ("TRUE", True), ("False", False)])
def test_query_booleans(text: str, expected: bool) -> None:
    assert parse_query(MESSAGE, [("name", "n"), ("flag", text)])["flag"] is expected


@pytest.mark.parametrize("text", ["1", "0", "yes", "", "t"])
def test_query_bad_booleans(text: str) -> None:
    refused_query([("flag", text)], "flag")


def test_query_camel_case_and_both_spellings() -> None:
    assert parse_query(MESSAGE, [("name", "n"), ("runId", "r")])["run_id"] == "r"
    refused_query([("run_id", "r"), ("runId", "r")], "run_id", "runId")


def test_query_errors() -> None:
    refused_query([("start_time", "soon")], "start_time")
    refused_query([("max_results", str(2**31))], "max_results", "out of range")
    refused_query([("view_type", "all")], "view_type")
    with pytest.raises(InvalidParameterValue, match="name"):
        parse_query(MESSAGE, [])
    assert parse_query(MESSAGE, [("name", "n"), ("unknown", "x")])["name"] == "n"


METRIC = (
    string("key", True),
    Field("value", Kind.DOUBLE, True),
    int64("timestamp", True),
    int64("step", default=0),
)
BATCH = (Field("metrics", Kind.MESSAGE, repeated=True, fields=METRIC),)


def test_a_long_list_with_one_unusual_item_is_parsed_item_by_item() -> None:
    plain = [{"key": "m", "value": i, "timestamp": 1, "step": i} for i in range(1000)]
    unusual = [*plain[:500], {"key": "m", "value": "NaN", "timestamp": "7"}, *plain[500:]]
    parsed = parse_json(BATCH, {"metrics": unusual})["metrics"]
    assert len(parsed) == 1001
    assert parsed[0] == {"key": "m", "value": 0.0, "timestamp": 1, "step": 0}
    assert math.isnan(parsed[500]["value"])
    assert (parsed[500]["timestamp"], parsed[500]["step"]) == (7, 0)
    assert parsed[1000]["step"] == 999


def test_an_error_deep_in_a_long_list_names_its_index() -> None:
    items = [{"key": "m", "value": 1.0, "timestamp": 1} for _ in range(1000)]
    items[737] = {"key": "m", "value": [], "timestamp": 1}
    refused({"metrics": items}, "metrics[737].value", "expected a number", message=BATCH)
    items[737] = {"key": "m", "timestamp": 1}
    refused({"metrics": items}, "metrics[737].value", message=BATCH)


PLAIN = (  # every field a plain scalar, as in log-metric: parse_json tries the fast path first
    string("run_id"),
    string("key", True),
    Field("value", Kind.DOUBLE, True),
    int64("timestamp", True),
    int64("step", default=0),
)


@pytest.mark.parametrize(
    "body",
    [
        {"run_id": "r", "key": "k", "value": 1.5, "timestamp": 2, "step": 3},
        {"key": "k", "value": 1, "timestamp": 2},  # int for a double, defaults filled in
        {"key": "k", "value": "NaN", "timestamp": "2"},  # spellings the general path reads
        {"key": "k", "value": 1.0, "timestamp": 2, "extra": [1]},  # unknown fields ignored
        {"key": "k", "value": 1.0, "timeStamp": 2},  # camelCase
        {"key": "k", "value": 1.0, "timestamp": 2, "step": None},
        {"key": "", "value": 1.0, "timestamp": 2},  # missing required value
        {"key": "k", "value": True, "timestamp": 2},
        {"key": "k", "value": 1.0, "timestamp": 2**63},
        {"key": "a\x00b", "value": 1.0, "timestamp": 2},
        {"value": 1.0, "timestamp": 2},
    ],
)
def test_plain_messages_parse_as_the_general_path_does(body: dict[str, Any]) -> None:
    from cairn.server.messages import _parse_object

    def outcome(parse: Any) -> Any:
        try:
            result = parse(dict(body))
        except InvalidParameterValue as exc:
            return ("error", exc.message)
        return {
            k: ("nan" if isinstance(v, float) and math.isnan(v) else v) for k, v in result.items()
        }

    expected = outcome(lambda b: _parse_object(PLAIN, b, ""))
    assert outcome(lambda b: parse_json(PLAIN, b)) == expected


PLAIN_BATCH = (Field("metrics", Kind.MESSAGE, repeated=True, fields=PLAIN),)
GOOD = {"key": "k", "value": 1.5, "timestamp": 2, "step": 3, "run_id": "r"}


@pytest.mark.parametrize(
    "change",
    [
        {},  # every item whole: checked column by column
        {"value": 2},  # an int for a double, converted
        {"value": "NaN"},
        {"value": True},
        {"step": 2**63},
        {"step": "7"},
        {"key": ""},
        {"key": "a\x00b"},
        {"run_id": None},
        {"note": "x"},  # an unknown field
    ],
)
def test_repeated_plain_items_parse_as_the_general_path_does(change: dict[str, Any]) -> None:
    from cairn.server.messages import _parse_object

    def items() -> list[dict[str, Any]]:
        rows = [dict(GOOD, step=i) for i in range(5)]
        rows[3] = {**rows[3], **change}
        if "note" in change:
            del rows[3]["run_id"]  # same width as the others, one name unknown
        return rows

    def outcome(parse: Any) -> Any:
        try:
            rows = parse(items())
        except InvalidParameterValue as exc:
            return ("error", exc.message)
        # Order-free, but type-exact (1.0 is not 1) and NaN-safe.
        return [sorted((k, type(v).__name__, repr(v)) for k, v in row.items()) for row in rows]

    general = outcome(
        lambda rows: [_parse_object(PLAIN, m, f"metrics[{i}].") for i, m in enumerate(rows)]
    )
    assert outcome(lambda rows: parse_json(PLAIN_BATCH, {"metrics": rows})["metrics"]) == general


def _without(row: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in names}


@pytest.mark.parametrize(
    "rows",
    [
        # every item gives the same subset of the fields (MLflow's client leaves out the
        # optional ones): checked column by column, defaults filled in
        [_without(dict(GOOD, step=i), "run_id") for i in range(5)],
        [_without(dict(GOOD, step=i), "run_id", "step") for i in range(5)],
        # equal width, different fields: item 3 gives run_id instead of step
        [_without(dict(GOOD, step=i), "run_id") for i in range(3)]
        + [_without(GOOD, "step")]
        + [_without(dict(GOOD, step=4), "run_id")],
        # a required field missing from every item
        [_without(dict(GOOD, step=i), "timestamp") for i in range(5)],
        # an unknown field in every item, or a camelCase one
        [dict(_without(GOOD, "run_id"), note=i) for i in range(5)],
        [dict(_without(GOOD, "timestamp"), timeStamp=i) for i in range(5)],
        # a wrong type in one item of a subset-shaped list
        [_without(dict(GOOD, step=i if i != 2 else "x"), "run_id") for i in range(5)],
    ],
    ids=[
        "no-run-id",
        "no-run-id-or-step",
        "mixed-fields",
        "no-timestamp",
        "unknown",
        "camel",
        "bad",
    ],
)
def test_items_giving_a_subset_of_the_fields_parse_as_the_general_path_does(
    rows: list[dict[str, Any]],
) -> None:
    from cairn.server.messages import _parse_object

    def outcome(parse: Any) -> Any:
        try:
            parsed = parse([dict(row) for row in rows])
        except InvalidParameterValue as exc:
            return ("error", exc.message)
        return [sorted((k, type(v).__name__, repr(v)) for k, v in row.items()) for row in parsed]

    general = outcome(
        lambda items: [_parse_object(PLAIN, m, f"metrics[{i}].") for i, m in enumerate(items)]
    )
    assert outcome(lambda items: parse_json(PLAIN_BATCH, {"metrics": items})["metrics"]) == general
