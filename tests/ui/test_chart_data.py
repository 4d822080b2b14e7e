"""Chart data read from the store: bucketed in SQLite, or read whole and downsampled."""

from __future__ import annotations

import math
from typing import Any

import pytest

from cairn.entities import Metric
from cairn.exceptions import ResourceDoesNotExist
from cairn.ui import chart_data
from cairn.ui.chart_data import chart_points


@pytest.fixture(autouse=True)
def bucket_in_sql(monkeypatch: pytest.MonkeyPatch) -> None:
    """Histories here are short; bucket them in SQL anyway, as a long one would be."""
    monkeypatch.setattr(chart_data, "READ_WHOLE_UPTO", 0)


def logged(store: Any, values: list[float], steps: list[int] | None = None) -> str:
    experiment = store.create_experiment(f"chart-{len(values)}-{id(values)}")
    run_id: str = store.create_run(experiment).info.run_id
    steps = steps if steps is not None else list(range(len(values)))
    metrics = [
        Metric("m", v, 1000 + i, s) for i, (v, s) in enumerate(zip(values, steps, strict=True))
    ]
    for i in range(0, len(metrics), 1000):
        store.log_batch(run_id, metrics=metrics[i : i + 1000])
    return run_id


def test_long_histories_are_bucketed_keeping_ends_and_extremes(sqlite_store: Any) -> None:
    values = [math.sin(i / 300) for i in range(20_000)]
    values[4321] = 40.0
    values[15_000] = math.inf
    values[16_000] = -7.0
    run_id = logged(sqlite_store, values)
    total, points = chart_points(sqlite_store, run_id, "m", 200)
    assert total == 20_000 and len(points) <= 200
    assert points[0] == (0, 1000, 0.0) and points[-1][0] == 19_999
    assert [p[0] for p in points] == sorted(p[0] for p in points)
    kept = {p[0]: p[2] for p in points}
    assert kept[4321] == 40.0 and kept[15_000] == math.inf and kept[16_000] == -7.0


def test_nan_only_ranges_show_as_gaps(sqlite_store: Any) -> None:
    values = [1.0] * 5000 + [math.nan] * 5000
    total, points = chart_points(sqlite_store, logged(sqlite_store, values), "m", 100)
    assert total == 10_000
    assert any(math.isnan(p[2]) for p in points)
    assert {p[2] for p in points if not math.isnan(p[2])} == {1.0}


def test_steps_that_do_not_spread_fall_back_to_downsample(sqlite_store: Any) -> None:
    values = [float(i % 7) for i in range(3000)]
    run_id = logged(sqlite_store, values, steps=[0] * 3000)  # logged without steps
    total, points = chart_points(sqlite_store, run_id, "m", 100)
    assert total == 3000 and 0 < len(points) <= 100
    assert {p[2] for p in points} >= {0.0, 6.0}


def test_short_histories_unknown_keys_and_runs(sqlite_store: Any) -> None:
    run_id = logged(sqlite_store, [3.0, 1.0, 2.0])
    assert chart_points(sqlite_store, run_id, "m", 100) == (
        3, [(0, 1000, 3.0), (1, 1001, 1.0), (2, 1002, 2.0)],
    )  # fmt: skip
    assert chart_points(sqlite_store, run_id, "never-logged", 100) == (0, [])
    with pytest.raises(ResourceDoesNotExist):
        chart_points(sqlite_store, "0" * 32, "m", 100)


def test_nan_stored_as_zero_never_passes_for_an_extreme(sqlite_store: Any) -> None:
    # NaN is stored as 0.0: it would be the highest of negative values, the lowest of positive.
    values = [
        (-1.0 - i % 5 if i < 5000 else 1.0 + i % 5) if i % 3 else math.nan for i in range(10_000)
    ]
    total, points = chart_points(sqlite_store, logged(sqlite_store, values), "m", 100)
    assert total == 10_000
    finite = [p[2] for p in points if not math.isnan(p[2])]
    assert 0.0 not in finite
    assert min(finite) == -5.0 and max(finite) == 5.0


def test_both_scanners_and_the_python_path_agree(
    sqlite_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = [math.cos(i / 50) * (i % 17) for i in range(6000)]
    run_id = logged(sqlite_store, values)
    monkeypatch.setattr(chart_data, "SCANNERS", 1)
    one = chart_points(sqlite_store, run_id, "m", 300)
    monkeypatch.setattr(chart_data, "SCANNERS", 2)
    assert chart_points(sqlite_store, run_id, "m", 300) == one
    monkeypatch.setattr(chart_data, "READ_WHOLE_UPTO", 20_000)
    total, points = chart_points(sqlite_store, run_id, "m", 300)  # read whole, numpy buckets
    assert total == one[0] == 6000 and len(points) <= 300
    assert max(p[2] for p in points) == max(p[2] for p in one[1]) == max(values)
    assert min(p[2] for p in points) == min(p[2] for p in one[1]) == min(values)
