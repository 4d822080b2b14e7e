"""Key/value pairs: run params, run tags, experiment tags."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self


@dataclass(frozen=True, slots=True)
class _KeyValue:
    """The shared shape; the subclasses differ in meaning (and compare unequal to each other)."""

    key: str
    value: str

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Self:
        return cls(d["key"], "" if d.get("value") is None else str(d["value"]))


@dataclass(frozen=True, slots=True)
class Param(_KeyValue):
    """A run's hyper-parameter: written once, never changed."""


@dataclass(frozen=True, slots=True)
class RunTag(_KeyValue):
    """A run's tag: set, overwritten and deleted freely."""


@dataclass(frozen=True, slots=True)
class ExperimentTag(_KeyValue):
    """An experiment's tag."""
