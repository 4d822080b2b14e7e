"""MLflow 3's logged model: a model as an entity of its own, with its own artifact location.

`mlflow.<flavor>.log_model` creates one (status PENDING), uploads the files to its
`artifact_location`, then finalizes it (READY or UPLOAD_FAILED) and links it to the run as an
output. `models:/<model_id>` names it. `to_dict` gives MLflow's REST shape
(`{info: {...}, data: {params, metrics}}`, empty collections omitted); `from_dict` reads it
back, tolerating every omission.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

MODEL_ID_PATTERN = re.compile(r"m-[0-9a-f]{32}")
WIRE_PREFIX = "LOGGED_MODEL_"


def is_logged_model_id(text: str) -> bool:
    """Whether `text` is a logged model's id (`m-` followed by 32 lowercase hex digits)."""
    return MODEL_ID_PATTERN.fullmatch(text) is not None


class LoggedModelStatus(StrEnum):
    """Where a logged model's upload stands. The wire names carry a `LOGGED_MODEL_` prefix."""

    PENDING = "PENDING"
    READY = "READY"
    UPLOAD_FAILED = "UPLOAD_FAILED"

    def __str__(self) -> str:
        return self.value

    @property
    def wire(self) -> str:
        """MLflow's protobuf enum name, e.g. `LOGGED_MODEL_READY`."""
        return WIRE_PREFIX + self.value

    @classmethod
    def parse(cls, value: LoggedModelStatus | str) -> LoggedModelStatus:
        """A status from its name, its wire name, or MLflow's Python name (`FAILED`);
        ValueError for anything else."""
        if isinstance(value, LoggedModelStatus):
            return value
        text = str(value).strip().upper()
        text = text.removeprefix(WIRE_PREFIX)
        if text == "FAILED":  # mlflow.entities.LoggedModelStatus.FAILED
            return cls.UPLOAD_FAILED
        return cls(text)


@dataclass(frozen=True, slots=True)
class LoggedModelMetric:
    """One metric point recorded for a logged model (a run's metric carrying `model_id`)."""

    key: str
    value: float
    timestamp: int
    step: int = 0
    model_id: str = ""
    run_id: str = ""
    dataset_name: str = ""
    dataset_digest: str = ""

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "key": self.key,
            "value": self.value,
            "timestamp": self.timestamp,
            "step": self.step,
        }
        for name in ("model_id", "run_id", "dataset_name", "dataset_digest"):
            if getattr(self, name):
                d[name] = getattr(self, name)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LoggedModelMetric:
        return cls(
            key=d["key"],
            value=_number(d.get("value")),
            timestamp=int(d.get("timestamp") or 0),
            step=int(d.get("step") or 0),
            model_id=d.get("model_id") or "",
            run_id=d.get("run_id") or "",
            dataset_name=d.get("dataset_name") or "",
            dataset_digest=d.get("dataset_digest") or "",
        )


@dataclass(frozen=True, slots=True)
class LoggedModelOutput:
    """A run's output: the logged model it produced, at which step."""

    model_id: str
    step: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "step": self.step}


@dataclass(frozen=True, slots=True)
class LoggedModel:
    """A logged model. `artifact_location` is `<experiment location>/models/<id>/artifacts`."""

    model_id: str
    experiment_id: str
    name: str
    artifact_location: str
    creation_timestamp: int
    last_updated_timestamp: int
    status: LoggedModelStatus = LoggedModelStatus.PENDING
    status_message: str = ""
    model_type: str = ""
    source_run_id: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: tuple[LoggedModelMetric, ...] = ()

    @property
    def model_uri(self) -> str:
        return f"models:/{self.model_id}"

    def to_dict(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "model_id": self.model_id,
            "experiment_id": self.experiment_id,
            "name": self.name,
            "creation_timestamp_ms": self.creation_timestamp,
            "last_updated_timestamp_ms": self.last_updated_timestamp,
            "artifact_uri": self.artifact_location,
            "status": self.status.wire,
        }
        for key in ("model_type", "source_run_id", "status_message"):
            if getattr(self, key):
                info[key] = getattr(self, key)
        if self.tags:
            info["tags"] = [{"key": k, "value": v} for k, v in self.tags.items()]
        data: dict[str, Any] = {}
        if self.params:
            data["params"] = [{"key": k, "value": v} for k, v in self.params.items()]
        if self.metrics:
            data["metrics"] = [m.to_dict() for m in self.metrics]
        return {"info": info, "data": data}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LoggedModel:
        info, data = d.get("info") or {}, d.get("data") or {}
        return cls(
            model_id=info.get("model_id", ""),
            experiment_id=str(info.get("experiment_id", "")),
            name=info.get("name", ""),
            artifact_location=info.get("artifact_uri", ""),
            creation_timestamp=int(info.get("creation_timestamp_ms") or 0),
            last_updated_timestamp=int(info.get("last_updated_timestamp_ms") or 0),
            status=LoggedModelStatus.parse(info.get("status") or "PENDING"),
            status_message=info.get("status_message") or "",
            model_type=info.get("model_type") or "",
            source_run_id=info.get("source_run_id") or "",
            tags={t["key"]: t.get("value") or "" for t in info.get("tags", [])},
            params={p["key"]: p.get("value") or "" for p in data.get("params", [])},
            metrics=tuple(LoggedModelMetric.from_dict(m) for m in data.get("metrics", [])),
        )


def _number(value: Any) -> float:
    """A metric value from JSON, where MLflow spells the non-finite ones as strings."""
    if isinstance(value, str):
        return {"nan": math.nan, "infinity": math.inf, "-infinity": -math.inf}.get(
            value.lower(), math.nan
        )
    return float(value if value is not None else math.nan)
