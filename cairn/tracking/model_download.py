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

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from cairn.exceptions import InvalidParameterValue, ResourceDoesNotExist

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
        return DownloadedModel(local)
    if client is None:
        from cairn.tracking.fluent import client as fluent_client

        client = fluent_client()
    scheme = model_uri.partition(":")[0].lower()
    stores = (client.tracking_uri,)
    if scheme == "runs":
        run_id, path = _split_runs_uri(model_uri)
        target = client.download_artifacts(run_id, path, dst_path)
        return DownloadedModel(Path(target), stores)
    if scheme == "models":
        target = client.download_model_artifacts(model_uri, dst_path)
        return DownloadedModel(Path(target), (*stores, client.registry_uri))
    target = client.download_artifact_uri(model_uri, dst_path)
    return DownloadedModel(Path(target))


def _split_runs_uri(uri: str) -> tuple[str, str]:
    rest = uri.split(":", 1)[1].lstrip("/")
    run_id, _, path = rest.partition("/")
    if not run_id:
        raise InvalidParameterValue(
            f"Invalid runs URI {uri!r}: expected runs:/<run_id>/<path within the run>"
        )
    return run_id, path.strip("/")
