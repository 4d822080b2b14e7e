"""Min/max-bucket downsampling of metric histories."""

from __future__ import annotations

import math
import random
import time

import pytest

from cairn.ui.downsample import MAX_POINTS, downsample


def series(values: list[float]) -> list[tuple[int, int, float]]:
    return [(i, 1000 + i, v) for i, v in enumerate(values)]


def test_short_histories_are_returned_whole() -> None:
    points = series([1.0, 2.0, 3.0])
    assert downsample(points, 10) == points
    assert downsample([], 10) == []


def test_long_histories_are_capped_and_keep_order_ends_and_extremes() -> None:
    rng = random.Random(7)
    values = [rng.random() for _ in range(100_000)]
    values[12_345] = 50.0  # a spike
    values[77_777] = -50.0  # a dip
    points = series(values)
    out = downsample(points, 1000)
    assert len(out) <= 1000
    assert out[0] == points[0] and out[-1] == points[-1]
    steps = [p[0] for p in out]
    assert steps == sorted(set(steps))
    kept = {p[0] for p in out}
    assert 12_345 in kept and 77_777 in kept
    assert set(out) <= set(points)


def test_every_bucket_keeps_its_min_and_max() -> None:
    values = [float((i * 37) % 101) for i in range(10_000)]
    out = downsample(series(values), 102)  # 50 buckets of ~200 interior points
    assert max(p[2] for p in out) == max(values)
    assert min(p[2] for p in out) == min(values)
    assert len(out) == 102


def test_nan_values_are_ignored_unless_a_bucket_has_nothing_else() -> None:
    values = [math.nan] * 5000 + [1.0, 2.0] * 2500
    out = downsample(series(values), 20)
    assert len(out) <= 20
    nan_points = [p for p in out if math.isnan(p[2])]
    assert nan_points, "all-NaN buckets still show as gaps"
    finite = [p for p in out if not math.isnan(p[2])]
    assert {p[2] for p in finite} == {1.0, 2.0}


def test_infinities_are_extremes_like_any_value() -> None:
    values = [0.0] * 1000
    values[500] = math.inf
    out = downsample(series(values), 10)
    assert any(p[2] == math.inf for p in out)


def test_max_points_must_leave_room_for_a_bucket() -> None:
    with pytest.raises(ValueError):
        downsample(series([1.0] * 10), 3)


def test_a_million_points_take_well_under_the_chart_budget() -> None:
    points = series([float(i % 1000) for i in range(1_000_000)])
    started = time.perf_counter()
    out = downsample(points, MAX_POINTS)
    elapsed = time.perf_counter() - started
    assert len(out) <= MAX_POINTS
    assert elapsed < 1.0, f"{elapsed:.2f}s"  # ~0.1 s here; generous for a loaded CI machine
