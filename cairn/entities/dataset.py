"""Datasets used by runs, and the tags that say how (e.g. `mlflow.data.context`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DATASET_CONTEXT_TAG = "mlflow.data.context"


@dataclass(frozen=True, slots=True)
class Dataset:
    """A dataset's identity and description. `digest` fingerprints its content."""

    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "digest": self.digest,
            "source_type": self.source_type,
            "source": self.source,
        }
        if self.schema is not None:
            d["schema"] = self.schema
        if self.profile is not None:
            d["profile"] = self.profile
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Dataset:
        return cls(
            name=d["name"],
            digest=d["digest"],
            source_type=d.get("source_type", ""),
            source=d.get("source", ""),
            schema=d.get("schema"),
            profile=d.get("profile"),
        )


@dataclass(frozen=True, slots=True)
class InputTag:
    key: str
    value: str

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value}


@dataclass(frozen=True, slots=True)
class DatasetInput:
    dataset: Dataset
    tags: tuple[InputTag, ...] = field(default_factory=tuple)

    @property
    def context(self) -> str | None:
        for tag in self.tags:
            if tag.key == DATASET_CONTEXT_TAG:
                return tag.value
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"tags": [t.to_dict() for t in self.tags], "dataset": self.dataset.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DatasetInput:
        tags = tuple(InputTag(t["key"], t.get("value", "")) for t in d.get("tags", []))
        return cls(dataset=Dataset.from_dict(d["dataset"]), tags=tags)
