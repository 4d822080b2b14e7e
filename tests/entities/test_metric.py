"""MetricColumns: points given as four columns read as a sequence of Metric."""

from __future__ import annotations

import pytest

from cairn.entities import Metric, MetricColumns


def columns() -> MetricColumns:
    return MetricColumns(["a", "b", "a"], [0.5, 1.0, 1.5], [10, 11, 12], [0, 0, 1])


def test_columns_read_as_metrics() -> None:
    points = columns()
    assert len(points) == 3
    assert list(points) == [
        Metric("a", 0.5, 10, 0),
        Metric("b", 1.0, 11, 0),
        Metric("a", 1.5, 12, 1),
    ]
    assert points[-1] == Metric("a", 1.5, 12, 1)
    assert list(points[1:]) == [Metric("b", 1.0, 11, 0), Metric("a", 1.5, 12, 1)]
    assert Metric("b", 1.0, 11, 0) in points


def test_columns_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="same length"):
        MetricColumns(["a"], [0.5, 1.0], [10], [0])
