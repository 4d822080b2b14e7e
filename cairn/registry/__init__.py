"""The model registry's public entry points, in one place.

    import cairn

    cairn.register_model("runs:/<run_id>/model", "fraud")
    cairn.registry.resolve_model_version(client.registry_store, "models:/fraud@champion")

The registry itself is a store (`cairn.store.registry_base.RegistryStore`: SQL in-process,
REST against a server) reached through `CairnClient`'s MLflow-named methods; this package
gathers the `models:/` URI helpers and the fluent `register_model`. See docs/registry.md.
"""

from cairn.entities import ModelVersion, ModelVersionStage, ModelVersionStatus, RegisteredModel
from cairn.store.model_uri import (
    ModelUri,
    is_model_uri,
    parse_model_uri,
    resolve_download_uri,
    resolve_model_version,
)
from cairn.store.registry_base import RegistryChange, RegistryStore
from cairn.tracking.fluent_registry import register_model

__all__ = [
    "ModelUri",
    "ModelVersion",
    "ModelVersionStage",
    "ModelVersionStatus",
    "RegisteredModel",
    "RegistryChange",
    "RegistryStore",
    "is_model_uri",
    "parse_model_uri",
    "register_model",
    "resolve_download_uri",
    "resolve_model_version",
]
