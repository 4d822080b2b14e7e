"""The environment files written beside a model: requirements.txt, python_env.yaml, conda.yaml."""

from __future__ import annotations

import importlib.metadata as metadata
import platform
from pathlib import Path

import pytest
import yaml

from cairn.exceptions import InvalidParameterValue, ResourceDoesNotExist
from cairn.models import infer_pip_requirements, read_requirements, write_environment_files
from cairn.version import __version__

CAIRN_PIN = f"cairn-ml=={__version__}"


def _pin(distribution: str, version: str | None = None) -> str:
    return f"{distribution}=={version or metadata.version(distribution)}"


def test_pins_the_installed_versions_of_the_distributions_providing_the_modules() -> None:
    reqs = infer_pip_requirements(["yaml", "numpy"])
    assert reqs == sorted([CAIRN_PIN, _pin("PyYAML"), _pin("numpy")], key=str.lower)


def test_cairn_is_included_by_default_and_can_be_left_out() -> None:
    assert infer_pip_requirements() == [CAIRN_PIN]
    assert infer_pip_requirements(["yaml"], include_cairn=False) == [_pin("PyYAML")]


def test_submodules_count_as_their_top_level_package_and_duplicates_collapse() -> None:
    reqs = infer_pip_requirements(["yaml", "yaml.constructor", "numpy.linalg", "numpy"])
    assert reqs.count(_pin("PyYAML")) == 1
    assert reqs.count(_pin("numpy")) == 1


def test_local_build_labels_are_dropped_from_pins(monkeypatch: pytest.MonkeyPatch) -> None:
    # torch's CPU wheels report "2.13.0+cpu", a version no package index serves.
    from cairn.models import environment

    monkeypatch.setattr(environment, "_installed_version", lambda d: "2.13.0+cpu")
    assert infer_pip_requirements(["yaml"], include_cairn=False) == ["PyYAML==2.13.0"]


def test_unknown_and_standard_library_modules_are_skipped() -> None:
    assert infer_pip_requirements(["no_such_module_xyz", "json", "os.path"]) == [CAIRN_PIN]


def test_cairn_itself_as_a_module_gives_one_pin() -> None:
    assert infer_pip_requirements(["cairn", "cairn.models"]) == [CAIRN_PIN]


def test_extra_requirements_follow_verbatim_and_in_order() -> None:
    reqs = infer_pip_requirements(["yaml"], extra=["zzz>=1", "aaa @ https://example.org/a.whl"])
    assert reqs == [CAIRN_PIN, _pin("PyYAML"), "zzz>=1", "aaa @ https://example.org/a.whl"]


def _build_dependencies() -> list[str]:
    deps = []
    for tool in ("pip", "setuptools", "wheel"):
        try:
            deps.append(_pin(tool))
        except metadata.PackageNotFoundError:
            deps.append(tool)
    return deps


def test_writes_the_three_files_with_their_exact_content(tmp_path: Path) -> None:
    reqs = [CAIRN_PIN, "numpy==1.26.4"]
    paths = write_environment_files(tmp_path, reqs, python_version="3.11.7")
    assert paths == [
        tmp_path / "requirements.txt",
        tmp_path / "python_env.yaml",
        tmp_path / "conda.yaml",
    ]

    assert paths[0].read_text() == f"{CAIRN_PIN}\nnumpy==1.26.4\n"
    build = "".join(f"- {d}\n" for d in _build_dependencies())
    assert paths[1].read_text() == (
        f"python: 3.11.7\nbuild_dependencies:\n{build}dependencies:\n- -r requirements.txt\n"
    )
    pip = f"pip<={metadata.version('pip')}"
    assert paths[2].read_text() == (
        "name: cairn-env\n"
        "channels:\n"
        "- conda-forge\n"
        "dependencies:\n"
        "- python=3.11.7\n"
        f"- {pip}\n"
        "- pip:\n"
        f"  - {CAIRN_PIN}\n"
        "  - numpy==1.26.4\n"
    )


def test_files_round_trip(tmp_path: Path) -> None:
    reqs = infer_pip_requirements(["yaml"], extra=["scikit-learn>=1.3,<2"])
    write_environment_files(tmp_path, reqs)
    assert read_requirements(tmp_path) == reqs
    conda = yaml.safe_load((tmp_path / "conda.yaml").read_text())
    assert conda["dependencies"][-1] == {"pip": reqs}
    python_env = yaml.safe_load((tmp_path / "python_env.yaml").read_text())
    assert python_env["dependencies"] == ["-r requirements.txt"]
    assert python_env["build_dependencies"] == _build_dependencies()


def test_python_version_defaults_to_the_running_interpreter(tmp_path: Path) -> None:
    write_environment_files(tmp_path, [CAIRN_PIN])
    running = platform.python_version()
    assert yaml.safe_load((tmp_path / "python_env.yaml").read_text())["python"] == running
    conda = yaml.safe_load((tmp_path / "conda.yaml").read_text())
    assert conda["dependencies"][0] == f"python={running}"


def test_creates_the_model_directory(tmp_path: Path) -> None:
    write_environment_files(tmp_path / "a" / "model", [])
    assert read_requirements(tmp_path / "a" / "model") == []


def test_reading_skips_blank_lines_and_comments(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("# pinned\n\nnumpy==1.26.4\n  pandas  \n")
    assert read_requirements(tmp_path) == ["numpy==1.26.4", "pandas"]


def test_reading_a_directory_without_requirements_fails(tmp_path: Path) -> None:
    with pytest.raises(ResourceDoesNotExist, match=r"requirements\.txt"):
        read_requirements(tmp_path)


@pytest.mark.parametrize("bad", ["", "  ", "numpy\n--index-url http://evil", 3])
def test_refuses_a_requirement_that_is_not_one_line_of_text(tmp_path: Path, bad: object) -> None:
    with pytest.raises(InvalidParameterValue):
        write_environment_files(tmp_path, [bad])  # type: ignore[list-item]
    assert not (tmp_path / "requirements.txt").exists()


def test_mlflow_reads_the_files(tmp_path: Path) -> None:
    # Private MLflow helpers, but the ones MLflow itself uses to restore a model's environment.
    from mlflow.utils.environment import _get_requirements_from_file, _PythonEnv
    from packaging.requirements import Requirement

    reqs = infer_pip_requirements(["yaml"], extra=["scikit-learn>=1.3,<2"])
    requirements, python_env, conda = write_environment_files(tmp_path, reqs, "3.11.7")
    env = _PythonEnv.from_yaml(str(python_env))
    assert (env.python, env.dependencies) == ("3.11.7", ["-r requirements.txt"])
    assert env.build_dependencies == _build_dependencies()
    for path in (requirements, conda):
        assert _get_requirements_from_file(path) == [Requirement(r) for r in reqs]
