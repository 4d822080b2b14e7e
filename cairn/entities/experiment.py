"""Experiment: a named group of runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cairn.entities.lifecycle import LifecycleStage


@dataclass(frozen=True, slots=True)
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: LifecycleStage = LifecycleStage.ACTIVE
    tags: dict[str, str] = field(default_factory=dict)
    creation_time: int | None = None
    last_update_time: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "experiment_id": self.experiment_id,
            "name": self.name,
            "artifact_location": self.artifact_location,
            "lifecycle_stage": self.lifecycle_stage._value_,
            "tags": [{"key": k, "value": v} for k, v in self.tags.items()],
        }
        if self.creation_time is not None:
            d["creation_time"] = self.creation_time
        if self.last_update_time is not None:
            d["last_update_time"] = self.last_update_time
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Experiment:
        return cls(
            experiment_id=str(d["experiment_id"]),
            name=d.get("name", ""),
            artifact_location=d.get("artifact_location", ""),
            lifecycle_stage=LifecycleStage(d.get("lifecycle_stage", "active")),
            tags={t["key"]: t.get("value", "") for t in d.get("tags", [])},
            creation_time=d.get("creation_time"),
            last_update_time=d.get("last_update_time"),
        )
