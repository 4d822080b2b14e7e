"""The model registry's data types: registered models, their versions, stages and aliases.

`to_dict` gives the REST shape of MLflow's registry API (empty collections and unset optional
fields omitted); `from_dict` reads it back, tolerating every omission.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ModelVersionStage(StrEnum):
    """A version's deployment stage (MLflow's legacy stages; aliases are the newer way)."""

    NONE = "None"
    STAGING = "Staging"
    PRODUCTION = "Production"
    ARCHIVED = "Archived"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: ModelVersionStage | str) -> ModelVersionStage:
        """A stage from any capitalisation of its name; ValueError for anything else."""
        if isinstance(value, ModelVersionStage):
            return value
        for stage in cls:
            if stage.value.lower() == str(value).strip().lower():
                return stage
        raise ValueError(value)


class ModelVersionStatus(StrEnum):
    PENDING_REGISTRATION = "PENDING_REGISTRATION"
    FAILED_REGISTRATION = "FAILED_REGISTRATION"
    READY = "READY"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One version of a registered model.

    `source` is what the version was registered from, as the caller gave it;
    `storage_location` is the registry-owned copy of its files, which downloads use.
    """

    name: str
    version: str
    creation_timestamp: int
    last_updated_timestamp: int
    current_stage: ModelVersionStage = ModelVersionStage.NONE
    description: str = ""
    user_id: str = ""
    source: str = ""
    run_id: str = ""
    run_link: str = ""
    status: ModelVersionStatus = ModelVersionStatus.READY
    status_message: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    storage_location: str = ""

    @property
    def download_uri(self) -> str:
        """Where the version's files are read from: the registry's copy, else the source."""
        return self.storage_location or self.source

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "creation_timestamp": self.creation_timestamp,
            "last_updated_timestamp": self.last_updated_timestamp,
            "current_stage": self.current_stage.value,
            "source": self.source,
            "status": self.status.value,
        }
        for key in ("description", "user_id", "run_id", "run_link", "status_message"):
            value = getattr(self, key)
            if value:
                d[key] = value
        if self.tags:
            d["tags"] = [{"key": k, "value": v} for k, v in self.tags.items()]
        if self.aliases:
            d["aliases"] = list(self.aliases)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelVersion:
        return cls(
            name=d.get("name", ""),
            version=str(d.get("version", "")),
            creation_timestamp=int(d.get("creation_timestamp") or 0),
            last_updated_timestamp=int(d.get("last_updated_timestamp") or 0),
            current_stage=ModelVersionStage.parse(d.get("current_stage") or "None"),
            description=d.get("description") or "",
            user_id=d.get("user_id") or "",
            source=d.get("source") or "",
            run_id=d.get("run_id") or "",
            run_link=d.get("run_link") or "",
            status=ModelVersionStatus(d.get("status") or "READY"),
            status_message=d.get("status_message") or "",
            tags={t["key"]: t.get("value") or "" for t in d.get("tags", [])},
            aliases=tuple(d.get("aliases", ())),
        )


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    """A named model; `latest_versions` holds the newest version in each stage."""

    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str = ""
    user_id: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # alias -> version
    latest_versions: tuple[ModelVersion, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "creation_timestamp": self.creation_timestamp,
            "last_updated_timestamp": self.last_updated_timestamp,
        }
        if self.description:
            d["description"] = self.description
        if self.user_id:
            d["user_id"] = self.user_id
        if self.latest_versions:
            d["latest_versions"] = [v.to_dict() for v in self.latest_versions]
        if self.tags:
            d["tags"] = [{"key": k, "value": v} for k, v in self.tags.items()]
        if self.aliases:
            d["aliases"] = [{"alias": a, "version": v} for a, v in self.aliases.items()]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RegisteredModel:
        return cls(
            name=d.get("name", ""),
            creation_timestamp=int(d.get("creation_timestamp") or 0),
            last_updated_timestamp=int(d.get("last_updated_timestamp") or 0),
            description=d.get("description") or "",
            user_id=d.get("user_id") or "",
            tags={t["key"]: t.get("value") or "" for t in d.get("tags", [])},
            aliases={a["alias"]: str(a["version"]) for a in d.get("aliases", [])},
            latest_versions=tuple(ModelVersion.from_dict(v) for v in d.get("latest_versions", [])),
        )
