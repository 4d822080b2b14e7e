"""Metric: one point of a metric's history."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from operator import attrgetter
from typing import Any, overload


class Metric:
    """One (key, value, timestamp, step) point.

    A hand-written slotted class rather than a frozen dataclass: metric histories run to
    millions of points and a frozen dataclass costs twice as much to construct. Fields are
    read-only properties.
    """

    __slots__ = ("_key", "_step", "_timestamp", "_value")

    def __init__(self, key: str, value: float, timestamp: int, step: int = 0) -> None:
        self._key = key
        self._value = value
        self._timestamp = timestamp
        self._step = step

    @property
    def key(self) -> str:
        return self._key

    @property
    def value(self) -> float:
        return self._value

    @property
    def timestamp(self) -> int:
        return self._timestamp

    @property
    def step(self) -> int:
        return self._step

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Metric):
            return NotImplemented
        return (
            self._key == other._key
            and self._timestamp == other._timestamp
            and self._step == other._step
            and (
                self._value == other._value
                or (math.isnan(self._value) and math.isnan(other._value))
            )
        )

    def __hash__(self) -> int:
        value = "nan" if math.isnan(self._value) else self._value
        return hash((self._key, value, self._timestamp, self._step))

    def __repr__(self) -> str:
        return (
            f"Metric(key={self._key!r}, value={self._value!r}, "
            f"timestamp={self._timestamp!r}, step={self._step!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self._key,
            "value": self._value,
            "timestamp": self._timestamp,
            "step": self._step,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Metric:
        return cls(d["key"], float(d["value"]), int(d["timestamp"]), int(d.get("step") or 0))


# (key, value, timestamp, step) of a Metric in one C-level call: the write path unpacks
# millions of points and property calls would dominate it.
metric_fields = attrgetter("_key", "_value", "_timestamp", "_step")


class MetricColumns(Sequence[Metric]):
    """Many points given as four columns of equal length, as the server parses a log-batch.

    To every reader it is a sequence of `Metric`, made one at a time as they are read; the
    SQL store takes the columns as they are instead (`run_data`), which spares a 1,000-point
    batch ~0.4 ms of making Metric objects only to take them apart again.
    """

    __slots__ = ("keys", "steps", "timestamps", "values")

    def __init__(
        self,
        keys: list[str],
        values: list[float],
        timestamps: list[int],
        steps: list[int],
    ) -> None:
        if not len(keys) == len(values) == len(timestamps) == len(steps):
            raise ValueError("metric columns must have the same length")
        self.keys = keys
        self.values = values
        self.timestamps = timestamps
        self.steps = steps

    def __len__(self) -> int:
        return len(self.keys)

    @overload
    def __getitem__(self, index: int) -> Metric: ...

    @overload
    def __getitem__(self, index: slice) -> MetricColumns: ...

    def __getitem__(self, index: int | slice) -> Metric | MetricColumns:
        if isinstance(index, slice):
            return MetricColumns(
                self.keys[index], self.values[index], self.timestamps[index], self.steps[index]
            )
        i = index
        return Metric(self.keys[i], self.values[i], self.timestamps[i], self.steps[i])

    def __iter__(self) -> Iterator[Metric]:
        return map(Metric, self.keys, self.values, self.timestamps, self.steps)

    def __repr__(self) -> str:
        return f"MetricColumns({len(self)} points)"
