"""`models:/` URIs: parsed once, resolved once, for every caller that accepts a model URI.

    models:/<name>/<version>    that version
    models:/<name>/<stage>      the highest version in the stage (any capitalisation)
    models:/<name>/latest       the highest version of the model
    models:/<name>@<alias>      the version the alias points at
    models:/m-<32 hex>          an MLflow 3 logged model (`logged_model_id` tells them apart;
                                its files are at the model's `artifact_location`)

`resolve_model_version` works with any `RegistryStore` (SQL in-process, or REST against a
server), so the client's downloads, the registry's own `models:/` sources and, later, model
loading and serving share one resolver.
"""

from __future__ import annotations

from dataclasses import dataclass

from cairn.entities import ModelVersion, ModelVersionStage
from cairn.entities.logged_model import is_logged_model_id
from cairn.exceptions import InvalidParameterValue, ResourceDoesNotExist
from cairn.store.registry_base import RegistryStore

SCHEME = "models"


@dataclass(frozen=True, slots=True)
class ModelUri:
    """What a `models:/` URI names; exactly one of version, stage, alias or latest is set."""

    name: str
    version: str | None = None
    stage: ModelVersionStage | None = None
    alias: str | None = None
    latest: bool = False

    def __str__(self) -> str:
        if self.alias is not None:
            return f"models:/{self.name}@{self.alias}"
        suffix = self.version or (self.stage.value if self.stage else "latest")
        return f"models:/{self.name}/{suffix}"


def is_model_uri(uri: str) -> bool:
    return uri.partition(":")[0].lower() == SCHEME and ":" in uri


def logged_model_id(uri: str) -> str | None:
    """The id in `models:/m-<32 hex>` (a logged model, not a registered name), else None."""
    if not is_model_uri(uri):
        return None
    path = uri.partition(":")[2].lstrip("/").rstrip("/")
    return path if is_logged_model_id(path) else None


def parse_model_uri(uri: str) -> ModelUri:
    """Parse a `models:/` URI; InvalidParameterValue says what a valid one looks like."""
    scheme, sep, rest = uri.partition(":")
    if not sep or scheme.lower() != SCHEME:
        raise InvalidParameterValue(f"Not a models:/ URI: {uri!r}")
    path = rest.lstrip("/")
    if "/" in path:
        name, _, suffix = path.partition("/")
        suffix = suffix.rstrip("/")
        if not name or not suffix or "/" in suffix:
            raise _bad(uri)
        if suffix.isascii() and suffix.isdigit():
            return ModelUri(name, version=str(int(suffix)))
        if suffix.lower() == "latest":
            return ModelUri(name, latest=True)
        try:
            return ModelUri(name, stage=ModelVersionStage.parse(suffix))
        except ValueError:
            raise _bad(uri) from None
    name, at, alias = path.rpartition("@")
    if at and name and alias:
        return ModelUri(name, alias=alias)
    raise _bad(uri)


def _bad(uri: str) -> InvalidParameterValue:
    return InvalidParameterValue(
        f"Invalid model URI {uri!r}: expected models:/<name>/<version>, models:/<name>/<stage>, "
        "models:/<name>/latest or models:/<name>@<alias>"
    )


def resolve_model_version(store: RegistryStore, uri: str | ModelUri) -> ModelVersion:
    """The model version a `models:/` URI names, read through `store`."""
    ref = uri if isinstance(uri, ModelUri) else parse_model_uri(uri)
    if ref.alias is not None:
        return store.get_model_version_by_alias(ref.name, ref.alias)
    if ref.version is not None:
        return store.get_model_version(ref.name, ref.version)
    stages = None if ref.latest else [ref.stage.value if ref.stage else ""]
    candidates = store.get_latest_versions(ref.name, stages)
    if not candidates:
        where = "any version" if ref.latest else f"a version in stage {ref.stage}"
        raise ResourceDoesNotExist(f"Registered model {ref.name!r} has no {where} ({ref})")
    return max(candidates, key=lambda v: int(v.version))


def resolve_download_uri(store: RegistryStore, uri: str | ModelUri) -> str:
    """Where the files of the version a `models:/` URI names can be downloaded from."""
    version = resolve_model_version(store, uri)
    return store.get_model_version_download_uri(version.name, version.version)
