"""The public surface of cairn.artifacts is deliberate: changing it should fail a test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cairn.artifacts

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_exported_members() -> None:
    assert set(cairn.artifacts.__all__) == {
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
    }
    for name in cairn.artifacts.__all__:
        assert hasattr(cairn.artifacts, name), name


def test_importing_stays_light() -> None:
    code = (
        "import sys, cairn.artifacts; "
        "print(sorted(m for m in ('pandas', 'numpy', 'sqlalchemy', 'importlib.metadata') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
