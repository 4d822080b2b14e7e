"""A model URI to a local directory: the one place that knows every kind of model URI.

    /path/to/model, file:///path/to/model      used where it is, never copied
    runs:/<run_id>/<path>                      the run's artifacts at <path>, or (MLflow 3) the
                                               logged model named <path> that the run produced
    models:/<name>/<version|stage|latest>      a registered version (`cairn.store.model_uri`)
    models:/<name>@<alias>
    models:/m-<32 hex>                         an MLflow 3 logged model
    s3://…, mlflow-artifacts:/…, http(s)://…   any artifact URI the artifact layer reads

Loading (`cairn.pyfunc.load_model`), serving and batch scoring all come through here.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from cairn.entities.logged_model import is_logged_model_id
from cairn.exceptions import InvalidParameterValue, ModelIntegrityError, ResourceDoesNotExist
from cairn.models.integrity import MANIFEST_FILE

# The logged-model tag holding the SHA-256 of the model's checksums manifest (set by log_model).
CHECKSUMS_TAG = "cairn.checksums_sha256"

if TYPE_CHECKING:
    from cairn.tracking.client import CairnClient


@dataclass(frozen=True, slots=True)
class DownloadedModel:
    """A model's local directory and the stores its URI was resolved against (for trust)."""

    path: Path
    store_uris: tuple[str, ...] = ()


def local_model_path(model_uri: str) -> Path | None:
    """The directory a local path or `file:` URI names, or None for any other URI."""
    parsed = urlparse(model_uri)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise InvalidParameterValue(f"Unsupported file URI {model_uri!r}: remote host")
        return Path(unquote(parsed.path))
    if parsed.scheme and len(parsed.scheme) > 1:  # "C:\\…" parses with a one-letter scheme
        return None
    return Path(model_uri)


def download_model(
    model_uri: str,
    dst_path: str | os.PathLike[str] | None = None,
    client: CairnClient | None = None,
) -> DownloadedModel:
    """The local directory of the model `model_uri` names: downloaded into `dst_path` (a new
    temporary directory when None) unless it is already local."""
    local = local_model_path(model_uri)
    if local is not None:
        if not local.is_dir():
            raise ResourceDoesNotExist(f"No model directory at {str(local)!r}")
        # The absolute path too, so a trusted directory prefix matches a relative path.
        return DownloadedModel(local, (str(local.resolve()),))
    if client is None:
        from cairn.tracking.fluent import client as fluent_client

        client = fluent_client()
    scheme = model_uri.partition(":")[0].lower()
    stores = (client.tracking_uri,)
    if scheme == "runs":
        from cairn.tracking.client_logged_models import resolve_runs_uri

        run_id, path = _split_runs_uri(model_uri)
        uri, logged_model = resolve_runs_uri(client, run_id, path)
        target = Path(client.download_artifact_uri(uri, dst_path))
        if logged_model:
            _check_logged_digest(client, target)
        return DownloadedModel(target, stores)
    if scheme == "models":
        reference = model_uri.split(":", 1)[1].strip("/")
        if is_logged_model_id(reference):
            return _download_logged_model(client, reference, dst_path)
        registered = client.download_model_artifacts(model_uri, dst_path)
        return DownloadedModel(Path(registered), (*stores, client.registry_uri))
    return DownloadedModel(Path(client.download_artifact_uri(model_uri, dst_path)))


def _download_logged_model(
    client: CairnClient, model_id: str, dst_path: str | os.PathLike[str] | None
) -> DownloadedModel:
    logged = client.get_logged_model(model_id)
    target = Path(client.download_artifact_uri(logged.artifact_location, dst_path))
    _check_logged_digest(client, target, logged.tags.get(CHECKSUMS_TAG), model_id)
    return DownloadedModel(target, (client.tracking_uri,))


def _check_logged_digest(
    client: CairnClient,
    target: Path,
    expected: str | None = None,
    model_id: str | None = None,
) -> None:
    """Check a downloaded logged model against the manifest digest Cairn recorded when it
    logged it: a copy whose files and manifest were both rewritten is refused. Models logged
    by MLflow carry no digest; their manifest (if any) is still verified on load."""
    if model_id is None:
        from cairn.models.mlmodel import Model

        model_id = Model.load(target).model_id
        if not model_id:
            return
        expected = client.get_logged_model(model_id).tags.get(CHECKSUMS_TAG)
    if expected is None:
        return
    manifest = target / MANIFEST_FILE
    actual = hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest.exists() else None
    if actual != expected:
        raise ModelIntegrityError(
            f"The files of logged model {model_id} do not match what was logged: its "
            f"checksums manifest {'is missing' if actual is None else 'was changed'}"
        )


def _split_runs_uri(uri: str) -> tuple[str, str]:
    rest = uri.split(":", 1)[1].lstrip("/")
    run_id, _, path = rest.partition("/")
    if not run_id:
        raise InvalidParameterValue(
            f"Invalid runs URI {uri!r}: expected runs:/<run_id>/<path within the run>"
        )
    return run_id, path.strip("/")
