"""Where a model version's files come from, and the registry's own copy of them.

A version is created from a `source`: `runs:/<run_id>/<path>`, `models:/…`, or an artifact
URI. The registry copies the files into storage it owns (`<artifact root>/models/<id>/`, one
opaque id per version, so renaming a model moves nothing) and downloads read that copy, so
deleting the run later does not break the version.

Reading a source must never let a caller reach outside the artifact store (see the security
corpus): `check_source_text` refuses `..` segments in any percent-decoding, NUL bytes and
relative local paths, and every location is then opened through an `ArtifactAccess`, which
refuses what lies outside the stores it serves. The server's `ServerStorage` is one (its
proxy paths, its own roots, registered object stores; never other hosts); in-process stores
use `LocalArtifactAccess`, which allows local paths under the store's artifact root.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote

from cairn.artifacts import ArtifactRepository, LocalArtifactRepository, get_artifact_repository
from cairn.artifacts.local import local_root_from_uri
from cairn.artifacts.paths import is_inside
from cairn.artifacts.proxy_uri import is_proxy_uri
from cairn.artifacts.registry import LOCAL_SCHEME, uri_scheme
from cairn.exceptions import InvalidParameterValue
from cairn.store.registry_validation import MAX_SOURCE_LENGTH

if TYPE_CHECKING:
    from cairn.store.base import TrackingStore
    from cairn.store.registry_base import RegistryStore

MAX_DECODINGS = 4
REGISTRY_DIRECTORY = "models"


class ArtifactAccess(Protocol):
    """Opens artifact locations for the registry, refusing any it must not touch."""

    def repository(self, uri: str) -> ArtifactRepository: ...


class LocalArtifactAccess:
    """In-process access: local paths under `root`, and registered remote schemes."""

    def __init__(self, root: str) -> None:
        self.root = root

    def repository(self, uri: str) -> ArtifactRepository:
        scheme = uri_scheme(uri)
        if scheme == LOCAL_SCHEME:
            if uri_scheme(self.root) != LOCAL_SCHEME:
                raise _outside(uri)
            location = local_root_from_uri(uri)
            if not is_inside(local_root_from_uri(self.root), location):
                raise _outside(uri)
            return LocalArtifactRepository(str(location))
        if scheme in ("http", "https") or is_proxy_uri(uri):
            raise InvalidParameterValue(
                f"Model source {uri!r} is kept by a tracking server; register it through that "
                "server (set the tracking URI to it)."
            )
        return get_artifact_repository(uri)


def _outside(uri: str) -> InvalidParameterValue:
    return InvalidParameterValue(f"Model source {uri!r} is outside the artifact store")


def check_source_text(source: object) -> str:
    """Refuse sources that could name a place outside the store before resolving them."""
    if not isinstance(source, str) or not source:
        raise InvalidParameterValue("Missing value for required parameter 'source'.")
    if len(source) > MAX_SOURCE_LENGTH:
        raise InvalidParameterValue(
            f"source is {len(source)} characters long; the limit is {MAX_SOURCE_LENGTH}."
        )
    check_decodings(source, "model source")
    scheme = source.partition(":")[0].lower() if ":" in source else ""
    local = uri_scheme(source) == LOCAL_SCHEME and scheme != "file"
    if local and not PurePosixPath(source).is_absolute():
        raise InvalidParameterValue(
            f"Invalid model source {source!r}: give a URI (runs:/, models:/, an artifact "
            "URI) or an absolute path inside the artifact store"
        )
    return source


def check_decodings(text: str, what: str) -> None:
    """Refuse NUL bytes and `..` segments (`/` or `\\` separated) in `text` and in every
    string it percent-decodes to: whoever decodes it once more must not be led out either."""
    current = text
    for _ in range(MAX_DECODINGS + 1):
        if "\x00" in current:
            raise InvalidParameterValue(f"Invalid {what} {text!r}: NUL bytes")
        if ".." in current.replace("\\", "/").split("/"):
            raise InvalidParameterValue(f"Invalid {what} {text!r}: '..' segments are not allowed")
        decoded = unquote(current)
        if decoded == current:
            return
        current = decoded
    raise InvalidParameterValue(f"Invalid {what} {text!r}: too many encodings")


def copy_files(access: ArtifactAccess, source_uri: str, target_uri: str) -> None:
    """Copy the tree at `source_uri` to `target_uri`; both opened through `access`."""
    source = access.repository(source_uri)
    if not source.list_artifacts():
        raise InvalidParameterValue(
            f"Model source {source_uri!r} holds no files (a model is a directory of files)"
        )
    target = access.repository(target_uri)
    with tempfile.TemporaryDirectory(prefix="cairn-register-") as tmp:
        local = source.download_artifacts("", tmp)
        target.log_artifacts(local)


def delete_files(access: ArtifactAccess, uri: str) -> None:
    """Best-effort removal of a registry copy (the database no longer refers to it)."""
    # Deleted from its parent, so the copy's own directory goes too. A leftover copy is
    # harmless: the database change it followed has committed.
    parent, _, leaf = uri.rstrip("/").rpartition("/")
    with contextlib.suppress(Exception):
        access.repository(parent).delete_artifacts(leaf)


def resolve_source(
    source: str, run_id: str | None, tracking: TrackingStore, registry: RegistryStore
) -> tuple[str, str | None]:
    """(the artifact URI to copy from, the run id to record) for a version's `source`.

    `runs:/<run_id>/<path>` is read from the run's artifact root (a different `run_id` is an
    error); `models:/m-<id>` from the logged model's files; other `models:/…` from the copy
    of the version it names; anything else as given. A `run_id` must name a run of
    `tracking`. The result still goes through `ArtifactAccess`.
    """
    from cairn.artifacts.paths import validate_artifact_path
    from cairn.store.model_uri import is_model_uri, logged_model_id, resolve_model_version

    check_source_text(source)
    if source.lower().startswith("runs:"):
        rest = source.split(":", 1)[1].lstrip("/")
        source_run, _, path = rest.partition("/")
        if not source_run:
            raise InvalidParameterValue(f"Invalid source {source!r}: no run id")
        if run_id and run_id != source_run:
            raise InvalidParameterValue(
                f"The source {source!r} names run {source_run}, but run_id is {run_id}."
            )
        root = tracking.get_run(source_run).info.artifact_uri
        relative = validate_artifact_path(path)
        return (f"{root}/{relative}" if relative else root), source_run
    if run_id:
        tracking.get_run(run_id)  # a version may only name a run that exists
    model_id = logged_model_id(source)
    if model_id is not None:  # MLflow 3: models:/m-<id> is a logged model's files
        logged = tracking.get_logged_model(model_id)
        return logged.artifact_location, run_id or logged.source_run_id or None
    if is_model_uri(source):
        version = resolve_model_version(registry, source)
        return version.download_uri, run_id or version.run_id or None
    return source, run_id or None
