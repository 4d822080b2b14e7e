"""Artifact storage: the ArtifactRepository protocol, path rules, and the backends.

`get_artifact_repository(uri)` picks a backend by URI scheme. The built-in backends (local
files; a tracking server's artifact proxy over http/https) register themselves below through
`register_artifact_repository`, the same call a third-party backend uses (or declares through
the `cairn.artifact_repositories` entry-point group).
"""

from cairn.artifacts.base import ArtifactRepository, ProgressCallback
from cairn.artifacts.http import HttpArtifactRepository
from cairn.artifacts.local import LocalArtifactRepository
from cairn.artifacts.paths import join_artifact_path, resolve_under_root, validate_artifact_path
from cairn.artifacts.registry import (
    ENTRY_POINT_GROUP,
    ArtifactRepositoryFactory,
    get_artifact_repository,
    register_artifact_repository,
    supported_schemes,
)
from cairn.artifacts.tree import artifact_size, local_size, walk_artifacts

register_artifact_repository("file", LocalArtifactRepository)
register_artifact_repository("http", HttpArtifactRepository)
register_artifact_repository("https", HttpArtifactRepository)

__all__ = [
    "ENTRY_POINT_GROUP",
    "ArtifactRepository",
    "ArtifactRepositoryFactory",
    "LocalArtifactRepository",
    "ProgressCallback",
    "artifact_size",
    "get_artifact_repository",
    "join_artifact_path",
    "local_size",
    "register_artifact_repository",
    "resolve_under_root",
    "supported_schemes",
    "validate_artifact_path",
    "walk_artifacts",
]
