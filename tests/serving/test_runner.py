"""The serving runner's pieces that need no server: options, registry versions, the import
guard used while a model loads."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from cairn.serving import runner
from cairn.serving.runner import CONFIG_ENV, ServeOptions, registered_version


def test_options_travel_through_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    options = ServeOptions(
        "models:/iris/2", workers=3, timeout=None, registered={"name": "iris", "version": "2"}
    )
    monkeypatch.setenv(CONFIG_ENV, options.to_env())
    assert ServeOptions.from_env() == options


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("models:/iris/3", {"name": "iris", "version": "3"}),
        ("models:/m-0123456789abcdef0123456789abcdef", None),
        ("runs:/abc/model", None),
        ("/tmp/model", None),
    ],
)
def test_registered_version_from_the_uri(uri: str, expected: dict[str, str] | None) -> None:
    assert registered_version(uri) == expected


def test_aliases_and_stages_are_looked_up(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import cairn.registry
    from cairn.exceptions import ResourceDoesNotExist

    monkeypatch.setenv("CAIRN_TRACKING_URI", f"sqlite:///{tmp_path / 'db.sqlite'}")
    asked: list[str] = []

    def resolve(store: object, ref: object) -> SimpleNamespace:
        asked.append(str(ref))
        if "missing" in str(ref):
            raise ResourceDoesNotExist("no such alias")
        return SimpleNamespace(name="iris", version=7)

    monkeypatch.setattr(cairn.registry, "resolve_model_version", resolve)
    assert registered_version("models:/iris@champion") == {"name": "iris", "version": "7"}
    assert registered_version("models:/iris/Production") == {"name": "iris", "version": "7"}
    assert registered_version("models:/iris@missing") is None
    assert asked == ["models:/iris@champion", "models:/iris/Production", "models:/iris@missing"]


def test_workers_load_the_parents_copy() -> None:
    model = SimpleNamespace(model_dir=Path("/tmp/copy"))
    local = runner._for_workers(ServeOptions("/data/model", trust=False), model)
    assert local.local_model_dir == "/tmp/copy" and not local.trust  # same path, same rules
    remote = runner._for_workers(ServeOptions("models:/iris@champion"), model)
    assert remote.local_model_dir == "/tmp/copy" and remote.trust  # trusted when it loaded
    bare = ServeOptions("models:/iris/1")
    assert runner._for_workers(bare, object()) == bare


def test_importing_the_server_loads_no_data_libraries() -> None:
    import subprocess

    code = (
        "import sys, cairn.serving.app, cairn.serving.runner, cairn.cli.models_serving; "
        "print(sorted(m for m in ('pandas', 'numpy', 'sklearn', 'pyarrow') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
