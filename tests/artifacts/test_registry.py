"""Choosing a backend by URI scheme, and extending the choice (calls and entry points)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from cairn import artifacts
from cairn.artifacts import (
    ENTRY_POINT_GROUP,
    LocalArtifactRepository,
    get_artifact_repository,
    register_artifact_repository,
    supported_schemes,
)
from cairn.artifacts import registry as registry_module
from cairn.artifacts.registry import ArtifactRepositoryRegistry, uri_scheme
from cairn.exceptions import CairnException, InvalidParameterValue


class MemoryRepository(LocalArtifactRepository):
    """Stands in for a third-party backend; only its type and URI matter here."""

    def __init__(self, artifact_uri: str) -> None:
        self.artifact_uri = artifact_uri
        self.root = Path("/nonexistent")


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> ArtifactRepositoryRegistry:
    """An empty default registry, so tests neither see nor leave registrations."""
    table = ArtifactRepositoryRegistry()
    monkeypatch.setattr(registry_module, "_default", table)
    return table


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed distribution declaring backends in the entry-point group."""
    site = tmp_path / "site"
    dist_info = site / "cairn_demo_plugin-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: cairn-demo-plugin\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\n"
        "demo = cairn_demo_plugin:DemoRepository\n"
        "broken = cairn_demo_plugin_missing:Nothing\n"
    )
    (site / "cairn_demo_plugin.py").write_text(
        textwrap.dedent(
            """
            class DemoRepository:
                def __init__(self, artifact_uri):
                    self.artifact_uri = artifact_uri
            """
        )
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "cairn_demo_plugin", raising=False)
    return site


class TestBuiltins:
    @pytest.mark.parametrize(
        "uri",
        ["file:///data/artifacts", "FILE:///data/a", "/data/artifacts", "runs/1/artifacts"],
    )
    def test_file_uris_and_plain_paths_are_local(self, uri: str) -> None:
        assert isinstance(get_artifact_repository(uri), LocalArtifactRepository)

    def test_the_repository_keeps_the_uri_it_was_given(self, tmp_path: Path) -> None:
        uri = tmp_path.as_uri()
        assert get_artifact_repository(uri).artifact_uri == uri

    def test_file_is_supported(self) -> None:
        assert "file" in supported_schemes()

    def test_an_unknown_scheme_names_the_supported_ones(self) -> None:
        with pytest.raises(InvalidParameterValue) as caught:
            get_artifact_repository("gopher://host/x")
        assert "'gopher'" in caught.value.message
        assert "supported schemes: " in caught.value.message
        assert "file" in caught.value.message.rsplit(":", 1)[1]

    @pytest.mark.parametrize("uri", ["", "http://[::1/x"])
    def test_unparseable_uris_are_rejected(self, uri: str) -> None:
        with pytest.raises(InvalidParameterValue):
            get_artifact_repository(uri)

    @pytest.mark.parametrize(
        ("uri", "scheme"),
        [
            ("S3://bucket/key", "s3"),
            ("mlflow-artifacts:/1/abc/artifacts", "mlflow-artifacts"),
            ("C:\\data\\artifacts", "file"),
            ("relative/dir", "file"),
        ],
    )
    def test_schemes_are_read_case_insensitively(self, uri: str, scheme: str) -> None:
        assert uri_scheme(uri) == scheme


class TestRegistering:
    def test_a_registered_scheme_is_served(self, fresh: ArtifactRepositoryRegistry) -> None:
        register_artifact_repository("Mem", MemoryRepository)
        repo = get_artifact_repository("mem://bucket/run")
        assert isinstance(repo, MemoryRepository)
        assert repo.artifact_uri == "mem://bucket/run"
        assert "mem" in supported_schemes()

    def test_built_ins_use_the_same_call_and_can_be_replaced(
        self, fresh: ArtifactRepositoryRegistry
    ) -> None:
        register_artifact_repository("file", MemoryRepository)
        assert isinstance(get_artifact_repository("/data"), MemoryRepository)

    def test_the_package_registers_the_local_backend_through_the_public_call(self) -> None:
        source = Path(artifacts.__file__).read_text()
        assert 'register_artifact_repository("file", LocalArtifactRepository)' in source

    @pytest.mark.parametrize("scheme", ["", "1abc", "has space", "a/b"])
    def test_invalid_scheme_names_are_rejected(
        self, fresh: ArtifactRepositoryRegistry, scheme: str
    ) -> None:
        with pytest.raises(InvalidParameterValue, match="Invalid URI scheme"):
            register_artifact_repository(scheme, MemoryRepository)

    def test_a_factory_must_be_callable(self, fresh: ArtifactRepositoryRegistry) -> None:
        with pytest.raises(TypeError):
            register_artifact_repository("mem", "not a factory")  # type: ignore[arg-type]


class TestEntryPoints:
    def test_declared_schemes_are_listed_without_importing_the_plugin(
        self, fresh: ArtifactRepositoryRegistry, plugin_dir: Path
    ) -> None:
        assert {"demo", "broken"} <= set(supported_schemes())
        assert "cairn_demo_plugin" not in sys.modules

    def test_a_declared_scheme_is_loaded_on_first_use(
        self, fresh: ArtifactRepositoryRegistry, plugin_dir: Path
    ) -> None:
        repo = get_artifact_repository("demo://somewhere/run")
        assert type(repo).__name__ == "DemoRepository"
        assert repo.artifact_uri == "demo://somewhere/run"
        assert "cairn_demo_plugin" in sys.modules

    def test_a_registered_scheme_wins_over_an_entry_point(
        self, fresh: ArtifactRepositoryRegistry, plugin_dir: Path
    ) -> None:
        register_artifact_repository("demo", MemoryRepository)
        assert isinstance(get_artifact_repository("demo://x"), MemoryRepository)
        assert "cairn_demo_plugin" not in sys.modules

    def test_a_plugin_that_fails_to_load_says_which(
        self, fresh: ArtifactRepositoryRegistry, plugin_dir: Path
    ) -> None:
        with pytest.raises(CairnException, match="plugin for scheme 'broken'"):
            get_artifact_repository("broken://x")

    def test_a_registry_without_a_group_ignores_entry_points(self, plugin_dir: Path) -> None:
        table = ArtifactRepositoryRegistry(entry_point_group=None)
        assert table.schemes() == []
        with pytest.raises(InvalidParameterValue):
            table.get("demo://x")
