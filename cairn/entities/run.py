"""Run: one execution of training code, with its info, data and inputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cairn.entities.dataset import DatasetInput
from cairn.entities.lifecycle import LifecycleStage
from cairn.entities.metric import Metric


class RunStatus(StrEnum):
    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    def __str__(self) -> str:
        return self.value

    @property
    def is_terminated(self) -> bool:
        return self in (RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED)


@dataclass(frozen=True, slots=True)
class RunInfo:
    run_id: str
    experiment_id: str
    run_name: str
    user_id: str
    status: RunStatus
    start_time: int | None
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: LifecycleStage = LifecycleStage.ACTIVE

    @property
    def run_uuid(self) -> str:
        return self.run_id

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "run_id": self.run_id,
            "run_uuid": self.run_id,
            "run_name": self.run_name,
            "experiment_id": self.experiment_id,
            "user_id": self.user_id,
            "status": self.status._value_,  # _value_: a plain attribute, unlike .value
            "artifact_uri": self.artifact_uri,
            "lifecycle_stage": self.lifecycle_stage._value_,
        }
        if self.start_time is not None:
            d["start_time"] = self.start_time
        if self.end_time is not None:
            d["end_time"] = self.end_time
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunInfo:
        return cls(
            run_id=d.get("run_id") or d["run_uuid"],
            experiment_id=str(d["experiment_id"]),
            run_name=d.get("run_name", ""),
            user_id=d.get("user_id", ""),
            status=RunStatus(d.get("status", "RUNNING")),
            start_time=d.get("start_time"),
            end_time=d.get("end_time"),
            artifact_uri=d.get("artifact_uri", ""),
            lifecycle_stage=LifecycleStage(d.get("lifecycle_stage", "active")),
        )


@dataclass(frozen=True, slots=True)
class RunData:
    """A run's latest metric values (full history is fetched separately), params and tags."""

    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    latest_metrics: tuple[Metric, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "metrics": [m.to_dict() for m in self.latest_metrics],
            "params": [{"key": k, "value": v} for k, v in self.params.items()],
            "tags": [{"key": k, "value": v} for k, v in self.tags.items()],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunData:
        latest = tuple(Metric.from_dict(m) for m in d.get("metrics", []))
        return cls(
            metrics={m.key: m.value for m in latest},
            params={p["key"]: p.get("value", "") for p in d.get("params", [])},
            tags={t["key"]: t.get("value", "") for t in d.get("tags", [])},
            latest_metrics=latest,
        )

    @classmethod
    def from_latest(
        cls, latest: list[Metric], params: dict[str, str], tags: dict[str, str]
    ) -> RunData:
        return cls(
            metrics={m.key: m.value for m in latest},
            params=params,
            tags=tags,
            latest_metrics=tuple(latest),
        )


@dataclass(frozen=True, slots=True)
class RunInputs:
    dataset_inputs: tuple[DatasetInput, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"dataset_inputs": [d.to_dict() for d in self.dataset_inputs]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunInputs:
        return cls(tuple(DatasetInput.from_dict(x) for x in d.get("dataset_inputs", [])))


@dataclass(frozen=True, slots=True)
class Run:
    info: RunInfo
    data: RunData = field(default_factory=RunData)
    inputs: RunInputs = field(default_factory=RunInputs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "info": self.info.to_dict(),
            "data": self.data.to_dict(),
            "inputs": self.inputs.to_dict(),
        }

    def to_dictionary(self) -> dict[str, Any]:
        """MLflow's plain view of a run: info fields, and data as key -> value maps."""
        return {
            "info": self.info.to_dict(),
            "data": {
                "metrics": dict(self.data.metrics),
                "params": dict(self.data.params),
                "tags": dict(self.data.tags),
            },
            "inputs": self.inputs.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Run:
        return cls(
            info=RunInfo.from_dict(d["info"]),
            data=RunData.from_dict(d.get("data", {})),
            inputs=RunInputs.from_dict(d.get("inputs", {})),
        )
