"""The client's artifact methods: files in and out of a run's artifact root.

A run's root is `RunInfo.artifact_uri`; the repository behind it (local disk, object store,
server proxy) comes from `cairn.artifacts`. In-memory objects are written to a temporary
file named like the artifact, then uploaded like any file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from cairn.entities import FileInfo, RunTag
from cairn.exceptions import InvalidParameterValue
from cairn.tracking import artifact_files

if TYPE_CHECKING:
    from pathlib import Path

    from cairn.artifacts.base import ArtifactRepository
    from cairn.store.base import TrackingStore

LOGGED_IMAGES_TAG = "mlflow.loggedImages"
_URI_CACHE_SIZE = 1024


def repository_for_uri(uri: str, tracking_uri: str) -> ArtifactRepository:
    """The repository behind an artifact location a tracking store gave out (a run's or a
    logged model's): a server's `mlflow-artifacts:` location is reached through the proxy of
    the tracking server at `tracking_uri`."""
    from cairn.artifacts import get_artifact_repository
    from cairn.artifacts.proxy_uri import is_proxy_uri, proxy_url

    if is_proxy_uri(uri):
        uri = proxy_url(uri, tracking_uri)
    return get_artifact_repository(uri)


class ArtifactMethods:
    """Mixed into `CairnClient`; needs only its store and tracking URI."""

    _store: TrackingStore
    _tracking_uri: str

    def __init__(self) -> None:
        # A run's artifact URI never changes: remember it rather than read the run per file.
        self._artifact_uris: dict[str, str] = {}

    def _artifact_repo(self, run_id: str) -> ArtifactRepository:
        uri = self._artifact_uris.get(run_id)
        if uri is None:
            uri = self._store.get_run(run_id).info.artifact_uri
            if len(self._artifact_uris) >= _URI_CACHE_SIZE:
                self._artifact_uris.clear()
            self._artifact_uris[run_id] = uri
        return repository_for_uri(uri, self._tracking_uri)

    def log_artifact(
        self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        """Upload one file as `<artifact_path>/<its name>` in the run's artifacts."""
        self._artifact_repo(run_id).log_artifact(local_path, artifact_path)

    def log_artifacts(
        self, run_id: str, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        """Upload the contents of a directory (not the directory itself) under `artifact_path`."""
        self._artifact_repo(run_id).log_artifacts(local_dir, artifact_path)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """Direct children of `path` in the run's artifacts, with run-relative paths."""
        return self._artifact_repo(run_id).list_artifacts(path)

    def download_artifacts(
        self, run_id: str, path: str = "", dst_path: str | os.PathLike[str] | None = None
    ) -> str:
        """Copy an artifact file or directory to `dst_path` (a new temp dir when None) and
        return the local path of the copy."""
        return self._artifact_repo(run_id).download_artifacts(path, dst_path)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        """Save `text` as the artifact file `artifact_file` (e.g. "notes/summary.txt")."""
        with self._staged_file(run_id, artifact_file) as path:
            artifact_files.write_text(path, text)

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> None:
        """Save a JSON-serialisable object: YAML for .yaml/.yml names, JSON otherwise."""
        with self._staged_file(run_id, artifact_file) as path:
            artifact_files.write_dict(path, dictionary)

    def log_figure(
        self,
        run_id: str,
        figure: Any,
        artifact_file: str,
        *,
        save_kwargs: dict[str, Any] | None = None,
    ) -> None:
        """Save a matplotlib or plotly figure; the extension picks the format (.png, .html…)."""
        with self._staged_file(run_id, artifact_file) as path:
            artifact_files.write_figure(path, figure, save_kwargs)

    def log_image(
        self,
        run_id: str,
        image: Any,
        artifact_file: str | None = None,
        key: str | None = None,
        step: int | None = None,
        timestamp: int | None = None,
        synchronous: bool | None = None,
    ) -> None:
        """Save a PIL image or an (H, W[, C]) array.

        Give `artifact_file` to save one image under that name, or `key` (with optional
        `step`) to add to a per-step image series, stored as MLflow 2.x does: a full PNG and
        a WebP thumbnail under `images/`, and the run tagged `mlflow.loggedImages`.
        """
        if (artifact_file is None) == (key is None):
            raise InvalidParameterValue("log_image needs exactly one of artifact_file or key.")
        if artifact_file is not None:
            with self._staged_file(run_id, artifact_file) as path:
                artifact_files.write_image(path, image)
            return
        import tempfile
        from pathlib import Path

        from cairn.tracking.client import now_ms

        name = artifact_files.step_image_name(
            str(key), 0 if step is None else int(step), now_ms() if timestamp is None else timestamp
        )
        with tempfile.TemporaryDirectory() as tmp:
            stem = name.rpartition("/")[2]
            artifact_files.write_image(Path(tmp, f"{stem}.png"), image)
            artifact_files.write_thumbnail(Path(tmp, f"{stem}%compressed.webp"), image)
            self.log_artifacts(run_id, tmp, "images")
        self._store.set_tag(run_id, RunTag(LOGGED_IMAGES_TAG, "True"))

    def load_text(self, run_id: str, artifact_file: str) -> str:
        """The text of an artifact file (for example one saved with `log_text`)."""
        with self._artifact_repo(run_id).open(artifact_file) as f:
            return f.read().decode("utf-8")

    def load_dict(self, run_id: str, artifact_file: str) -> Any:
        """The object in a JSON or YAML artifact (for example one saved with `log_dict`)."""
        text = self.load_text(run_id, artifact_file)
        if artifact_file.lower().endswith((".yaml", ".yml")):
            import yaml

            return yaml.safe_load(text)
        import json

        return json.loads(text)

    @contextmanager
    def _staged_file(self, run_id: str, artifact_file: str) -> Iterator[Path]:
        """A temp path named like `artifact_file`; uploaded to its place when the block ends."""
        import tempfile
        from pathlib import Path

        from cairn.artifacts.paths import validate_artifact_path

        normalized = validate_artifact_path(artifact_file)
        if not normalized:
            raise InvalidParameterValue(f"Invalid artifact file name {artifact_file!r}.")
        directory, _, name = normalized.rpartition("/")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp, name)
            yield path
            self.log_artifact(run_id, path, directory or None)
