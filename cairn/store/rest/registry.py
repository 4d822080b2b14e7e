"""RestRegistryStore: the registry store protocol over a server's REST API (MLflow's 2.0
registry API), so it works against `cairn server` and `mlflow server` alike.

The server validates and copies version files; this class shapes requests and parses answers
with the entities' `from_dict` helpers. Reads, searches, tag and alias upserts and removals,
and stage transitions are safe to repeat (`idempotent=True`); creates, renames and deletes
are sent once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

from cairn.entities import ModelVersion, ModelVersionStage, PagedList, RegisteredModel
from cairn.store.registry_base import (
    SEARCH_MODEL_VERSIONS_DEFAULT,
    SEARCH_REGISTERED_MODELS_DEFAULT,
)
from cairn.store.rest.governance import RestGovernanceMethods
from cairn.transport import HttpTransport, shared_transport

API = "/api/2.0/mlflow"


class RestRegistryStore(RestGovernanceMethods):
    """A `RegistryStore` backed by the server at `tracking_uri`. Thread-safe."""

    _cache: dict[tuple[int, str], RestRegistryStore] = {}
    _cache_lock = threading.Lock()

    def __init__(self, tracking_uri: str, transport: HttpTransport | None = None) -> None:
        self.tracking_uri = tracking_uri.rstrip("/")
        self.transport = transport or shared_transport(self.tracking_uri)

    @classmethod
    def for_uri(cls, tracking_uri: str) -> RestRegistryStore:
        key = (os.getpid(), tracking_uri.rstrip("/"))
        with cls._cache_lock:
            store = cls._cache.get(key)
            if store is None:
                store = cls._cache[key] = cls(tracking_uri)
            return store

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.transport.base_url!r})"

    def _call(
        self, method: str, path: str, fields: dict[str, Any], *, idempotent: bool
    ) -> dict[str, Any]:
        body = {k: v for k, v in fields.items() if v is not None}
        return self.transport.call(method, API + path, body, idempotent=idempotent)

    def _get(self, path: str, **fields: Any) -> dict[str, Any]:
        return self._call("GET", path, fields, idempotent=True)

    # -- registered models -------------------------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        tags: dict[str, str] | None = None,
        description: str | None = None,
    ) -> RegisteredModel:
        body = {"name": name, "tags": _pairs(tags), "description": description}
        found = self._call("POST", "/registered-models/create", body, idempotent=False)
        return RegisteredModel.from_dict(found["registered_model"])

    def get_registered_model(self, name: str) -> RegisteredModel:
        found = self._get("/registered-models/get", name=name)
        return RegisteredModel.from_dict(found["registered_model"])

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        body = {"name": name, "new_name": new_name}
        found = self._call("POST", "/registered-models/rename", body, idempotent=False)
        if "registered_model" in found:
            return RegisteredModel.from_dict(found["registered_model"])
        return self.get_registered_model(new_name)

    def update_registered_model(self, name: str, description: str) -> RegisteredModel:
        body = {"name": name, "description": description}
        found = self._call("PATCH", "/registered-models/update", body, idempotent=True)
        if "registered_model" in found:
            return RegisteredModel.from_dict(found["registered_model"])
        return self.get_registered_model(name)

    def delete_registered_model(self, name: str) -> None:
        self._call("DELETE", "/registered-models/delete", {"name": name}, idempotent=False)

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_REGISTERED_MODELS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        found = self._get(
            "/registered-models/search",
            filter=filter_string or None,
            max_results=max_results,
            order_by=list(order_by) if order_by else None,
            page_token=page_token or None,
        )
        models = [RegisteredModel.from_dict(m) for m in found.get("registered_models", [])]
        return PagedList(models, found.get("next_page_token") or None)

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        body = {"name": name, "key": key, "value": value}
        self._call("POST", "/registered-models/set-tag", body, idempotent=True)

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        body = {"name": name, "key": key}
        self._call("DELETE", "/registered-models/delete-tag", body, idempotent=True)

    def get_latest_versions(
        self, name: str, stages: Sequence[str] | None = None
    ) -> list[ModelVersion]:
        body = {"name": name, "stages": list(stages) if stages else None}
        found = self._call("POST", "/registered-models/get-latest-versions", body, idempotent=True)
        return [ModelVersion.from_dict(v) for v in found.get("model_versions", [])]

    def set_registered_model_alias(
        self, name: str, alias: str, version: str, comment: str | None = None
    ) -> None:
        body = {"name": name, "alias": alias, "version": str(version), "comment": comment}
        self._call("POST", "/registered-models/alias", body, idempotent=True)

    def delete_registered_model_alias(
        self, name: str, alias: str, comment: str | None = None
    ) -> None:
        body = {"name": name, "alias": alias, "comment": comment}
        self._call("DELETE", "/registered-models/alias", body, idempotent=True)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        found = self._get("/registered-models/alias", name=name, alias=alias)
        return ModelVersion.from_dict(found["model_version"])

    # -- model versions ----------------------------------------------------------------------
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, str] | None = None,
        run_link: str | None = None,
        description: str | None = None,
    ) -> ModelVersion:
        body = {
            "name": name,
            "source": source,
            "run_id": run_id or None,
            "tags": _pairs(tags),
            "run_link": run_link or None,
            "description": description,
        }
        found = self._call("POST", "/model-versions/create", body, idempotent=False)
        return ModelVersion.from_dict(found["model_version"])

    def get_model_version(self, name: str, version: str) -> ModelVersion:
        found = self._get("/model-versions/get", name=name, version=str(version))
        return ModelVersion.from_dict(found["model_version"])

    def update_model_version(self, name: str, version: str, description: str) -> ModelVersion:
        body = {"name": name, "version": str(version), "description": description}
        found = self._call("PATCH", "/model-versions/update", body, idempotent=True)
        return ModelVersion.from_dict(found["model_version"])

    def transition_model_version_stage(
        self,
        name: str,
        version: str,
        stage: ModelVersionStage | str,
        archive_existing_versions: bool = False,
        comment: str | None = None,
    ) -> ModelVersion:
        body = {
            "name": name,
            "version": str(version),
            "stage": str(stage),
            "archive_existing_versions": bool(archive_existing_versions),
            "comment": comment,
        }
        found = self._call("POST", "/model-versions/transition-stage", body, idempotent=True)
        return ModelVersion.from_dict(found["model_version"])

    def delete_model_version(self, name: str, version: str) -> None:
        body = {"name": name, "version": str(version)}
        self._call("DELETE", "/model-versions/delete", body, idempotent=False)

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_MODEL_VERSIONS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        found = self._get(
            "/model-versions/search",
            filter=filter_string or None,
            max_results=max_results,
            order_by=list(order_by) if order_by else None,
            page_token=page_token or None,
        )
        versions = [ModelVersion.from_dict(v) for v in found.get("model_versions", [])]
        return PagedList(versions, found.get("next_page_token") or None)

    def get_model_version_download_uri(self, name: str, version: str) -> str:
        found = self._get("/model-versions/get-download-uri", name=name, version=str(version))
        return str(found["artifact_uri"])

    def set_model_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        body = {"name": name, "version": str(version), "key": key, "value": value}
        self._call("POST", "/model-versions/set-tag", body, idempotent=True)

    def delete_model_version_tag(self, name: str, version: str, key: str) -> None:
        body = {"name": name, "version": str(version), "key": key}
        self._call("DELETE", "/model-versions/delete-tag", body, idempotent=True)


def _pairs(mapping: dict[str, str] | None) -> list[dict[str, str]] | None:
    return [{"key": k, "value": v} for k, v in mapping.items()] if mapping else None
