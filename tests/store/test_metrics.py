"""Metric history and latest values in the SQL store."""

from __future__ import annotations

import math

import pytest

from cairn.entities import Metric, MetricColumns
from cairn.entities.metric import metric_fields
from cairn.exceptions import InvalidParameterValue, ResourceDoesNotExist


@pytest.fixture
def run_id(store):
    return store.create_run("0").info.run_id


def test_history_is_ordered_by_step_then_timestamp(store, run_id):
    points = [Metric("loss", 1.0 / (i + 1), 1000 + i, i) for i in reversed(range(10))]
    store.log_batch(run_id, metrics=points)
    history = store.get_metric_history(run_id, "loss")
    assert [m.step for m in history] == list(range(10))
    assert history[0] == Metric("loss", 1.0, 1000, 0)


def test_latest_value_is_greatest_step_then_timestamp(store, run_id):
    store.log_metric(run_id, Metric("m", 5.0, 3000, 1))
    store.log_metric(run_id, Metric("m", 7.0, 1000, 2))  # later step wins over later time
    store.log_metric(run_id, Metric("m", 6.0, 2000, 0))
    assert store.get_run(run_id).data.metrics == {"m": 7.0}
    store.log_metric(run_id, Metric("m", 1.0, 1001, 2))  # same step, later timestamp
    assert store.get_run(run_id).data.metrics == {"m": 1.0}


def test_nan_and_infinity_round_trip(store, run_id):
    store.log_batch(
        run_id,
        metrics=[
            Metric("nan", float("nan"), 1, 0),
            Metric("pinf", float("inf"), 1, 0),
            Metric("ninf", float("-inf"), 1, 0),
        ],
    )
    latest = store.get_run(run_id).data.metrics
    assert math.isnan(latest["nan"])
    assert latest["pinf"] == math.inf and latest["ninf"] == -math.inf
    (point,) = store.get_metric_history(run_id, "nan")
    assert math.isnan(point.value)
    assert store.get_metric_history(run_id, "pinf")[0].value == math.inf


def test_exact_duplicate_points_are_stored_once(store, run_id):
    point = Metric("m", 0.5, 10, 1)
    store.log_batch(run_id, metrics=[point, point])
    store.log_metric(run_id, point)
    assert list(store.get_metric_history(run_id, "m")) == [point]


@pytest.mark.parametrize("as_columns", [False, True], ids=["metrics", "columns"])
def test_a_large_batch_keeps_every_point_and_drops_its_duplicates(store, run_id, as_columns):
    # 250 points: whole multi-row statements and a remainder, with repeats across both,
    # several keys interleaved, NaN and infinity among them; as Metric objects, or as the
    # columns the server passes on.
    points = [
        Metric(("a", "b", "c")[i % 3], float(i) if i % 50 else math.nan, 1000 + i, i)
        for i in range(240)
    ]
    points[7] = Metric("b", math.inf, 1007, 7)
    batch = points + points[:5] + points[230:]
    if as_columns:
        batch = MetricColumns(*map(list, zip(*(metric_fields(p) for p in batch), strict=True)))
    store.log_batch(run_id, metrics=batch)
    store.log_batch(run_id, metrics=points[100:140])  # all already stored
    for key in ("a", "b", "c"):
        want = [p for p in points if p.key == key]
        assert list(store.get_metric_history(run_id, key)) == want
    assert store.get_run(run_id).data.metrics["a"] == 237.0


def test_unknown_metric_has_empty_history(store, run_id):
    assert list(store.get_metric_history(run_id, "never-logged")) == []


def test_history_pages(store, run_id):
    store.log_batch(run_id, metrics=[Metric("m", float(i), i, i) for i in range(25)])
    page = store.get_metric_history(run_id, "m", max_results=10)
    steps = [m.step for m in page]
    while page.token:
        page = store.get_metric_history(run_id, "m", max_results=10, page_token=page.token)
        steps += [m.step for m in page]
    assert steps == list(range(25))


def test_history_points_are_the_history_as_tuples_with_the_same_pages(store, run_id):
    values = [float(i) for i in range(22)] + [float("nan"), float("inf"), float("-inf")]
    store.log_batch(run_id, metrics=[Metric("m", v, 100 + i, i) for i, v in enumerate(values)])
    as_metrics = [(m.step, m.timestamp, m.value) for m in store.get_metric_history(run_id, "m")]
    page = store.get_metric_history_points(run_id, "m", max_results=10)
    points = list(page)
    while page.token:
        page = store.get_metric_history_points(run_id, "m", max_results=10, page_token=page.token)
        points += page
    assert len(points) == len(as_metrics) == 25
    assert points[:22] == as_metrics[:22]
    assert math.isnan(points[22][2])
    assert points[23:] == [(23, 123, math.inf), (24, 124, -math.inf)]
    assert list(store.get_metric_history_points(run_id, "never-logged")) == []


def test_history_dicts_are_the_history_in_rest_shape_with_the_same_pages(store, run_id):
    values = [float(i) for i in range(22)] + [float("nan"), float("inf"), float("-inf")]
    store.log_batch(run_id, metrics=[Metric("m", v, 100 + i, i) for i, v in enumerate(values)])

    def spelled(value: float) -> str:
        return repr(value)

    page = store.get_metric_history_dicts(run_id, "m", max_results=10, non_finite=spelled)
    dicts = list(page)
    while page.token:
        page = store.get_metric_history_dicts(
            run_id, "m", max_results=10, page_token=page.token, non_finite=spelled
        )
        dicts += page
    assert dicts[:22] == [
        {"key": "m", "value": float(i), "timestamp": 100 + i, "step": i} for i in range(22)
    ]
    assert [d["value"] for d in dicts[22:]] == ["nan", "inf", "-inf"]
    finite_only = store.get_metric_history_dicts(run_id, "m", max_results=3)
    assert [d["value"] for d in finite_only] == [0.0, 1.0, 2.0]
    (nan_point,) = store.get_metric_history_dicts(
        run_id, "m", max_results=1, page_token=page_token_at(store, run_id, 22)
    )
    assert math.isnan(nan_point["value"])  # by default non-finite values stay floats
    assert list(store.get_metric_history_dicts(run_id, "never-logged")) == []


def page_token_at(store, run_id, offset):
    """The page token of a one-point history page starting at `offset`."""
    page = store.get_metric_history_dicts(run_id, "m", max_results=offset)
    return page.token


def test_iter_history_streams_everything(store, run_id):
    for start in range(0, 3000, 1000):
        store.log_batch(
            run_id, metrics=[Metric("m", float(i), i, i) for i in range(start, start + 1000)]
        )
    assert [m.step for m in store.iter_metric_history(run_id, "m")] == list(range(3000))


@pytest.mark.parametrize(
    "metric",
    [
        Metric("m", "1.0", 1, 0),  # type: ignore[arg-type]
        Metric("m", True, 1, 0),  # type: ignore[arg-type]
        Metric("m", 1.0, "now", 0),  # type: ignore[arg-type]
        Metric("m", 1.0, 1, 0.5),  # type: ignore[arg-type]
        Metric("bad key!", 1.0, 1, 0),
        Metric("m", 1.0, 2**63, 0),  # beyond a 64-bit integer
        Metric("m", 1.0, 1, -(2**63) - 1),
    ],
)
def test_bad_metrics_are_rejected(store, run_id, metric):
    with pytest.raises(InvalidParameterValue):
        store.log_metric(run_id, metric)


def test_integer_and_numpy_values_are_accepted(store, run_id):
    np = pytest.importorskip("numpy")
    store.log_batch(
        run_id,
        metrics=[Metric("int", 3, 1, 0), Metric("np", np.float32(0.5), np.int64(2), np.int32(1))],
    )
    assert store.get_run(run_id).data.metrics == {"int": 3.0, "np": 0.5}


def test_negative_steps_and_large_timestamps(store, run_id):
    store.log_metric(run_id, Metric("m", 1.0, 2**62, -5))
    (point,) = store.get_metric_history(run_id, "m")
    assert point.step == -5 and point.timestamp == 2**62


def test_columns_of_plain_points_are_stored_as_given(store, run_id):
    steps = list(range(300))
    store.log_batch(
        run_id,
        metrics=MetricColumns(
            ["m"] * 300, [s / 2 for s in steps], [5000 + s for s in steps], steps
        ),
    )
    history = store.get_metric_history(run_id, "m")
    assert [(m.step, m.timestamp, m.value) for m in history] == [
        (s, 5000 + s, s / 2) for s in steps
    ]
    assert store.get_run(run_id).data.metrics == {"m": 149.5}


def test_history_dicts_within_steps_are_that_part_of_the_history_with_its_own_pages(store, run_id):
    points = [Metric("m", float(i), 1000 - i, step) for i, step in enumerate([5, 1, 3, 3, 8, 9])]
    store.log_batch(run_id, metrics=points)
    whole = list(store.get_metric_history_dicts(run_id, "m"))
    assert [d["step"] for d in whole] == [1, 3, 3, 5, 8, 9]

    def steps_of(steps, max_results=None):
        page = store.get_metric_history_dicts(run_id, "m", max_results, steps=steps)
        read = list(page)
        while page.token:
            page = store.get_metric_history_dicts(run_id, "m", max_results, page.token, steps=steps)
            read += page
        return read

    assert steps_of((None, 5)) == whole[:3]
    assert steps_of((5, None)) == whole[3:]
    assert steps_of((3, 9), max_results=2) == whole[1:5]
    assert steps_of((10, None)) == []
    # A page token continues the steps it was given for, and no others.
    first = store.get_metric_history_dicts(run_id, "m", 1, steps=(5, None))
    with pytest.raises(InvalidParameterValue):
        store.get_metric_history_dicts(run_id, "m", 1, first.token)


def test_the_middle_step_parts_a_big_enough_history_in_two(store, run_id):
    store.log_batch(run_id, metrics=[Metric("m", 0.5, 7, step) for step in range(-3, 7)])
    store.log_batch(run_id, metrics=[Metric("flat", 0.5, t, 4) for t in range(10)])
    assert store.history_middle_step(run_id, "m", at_least=10) == 2  # steps -3..6
    assert store.history_middle_step(run_id, "m", at_least=11) is None  # smaller
    assert store.history_middle_step(run_id, "flat", at_least=2) is None  # one step only
    assert store.history_middle_step(run_id, "never-logged", at_least=1) is None
    with pytest.raises(ResourceDoesNotExist):
        store.history_middle_step("f" * 32, "m", at_least=1)
