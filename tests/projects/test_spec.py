"""The MLproject file: entry points, typed parameters, environments, and what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.exceptions import InvalidParameterValue
from cairn.projects.spec import DockerEnv, Parameter, load_project
from tests.projects.support import SAMPLE


def _project(tmp_path: Path, mlproject: str, **files: str) -> Path:
    (tmp_path / "MLproject").write_text(mlproject)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def test_the_sample_project() -> None:
    project = load_project(SAMPLE)
    assert project.name == "sample"
    assert project.has_mlproject
    assert project.env is not None and project.env.kind == "python_env"
    assert project.env.path == SAMPLE / "python_env.yaml"
    main = project.entry_point("main")
    assert main.parameters["alpha"] == Parameter("alpha", "float", "0.5")
    assert main.parameters["label"] == Parameter("label", "string", "plain run")
    with_data = project.entry_point("with_data")
    assert with_data.parameters["data"] == Parameter("data", "path", None)
    assert with_data.parameters["data"].required


def test_a_parameter_may_be_a_bare_type_or_a_mapping_without_type(tmp_path: Path) -> None:
    root = _project(
        tmp_path,
        "entry_points:\n  main:\n    parameters:\n      a: int\n      b: {default: 3}\n"
        "      c: {type: float, default: 1e-3}\n      d:\n"
        "    command: run {a} {b} {c} {d}\n",
    )
    params = load_project(root).entry_point("main").parameters
    assert params["a"] == Parameter("a", "int", None)
    assert params["b"] == Parameter("b", "string", "3")
    assert params["c"] == Parameter("c", "float", "1e-3")
    assert params["d"] == Parameter("d", "string", None)


def test_mlproject_file_name_is_case_insensitive(tmp_path: Path) -> None:
    (tmp_path / "mlproject").write_text("name: lower\n")
    assert load_project(tmp_path).name == "lower"


def test_a_directory_without_mlproject_runs_its_scripts(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("")
    (tmp_path / "prep.sh").write_text("")
    project = load_project(tmp_path)
    assert not project.has_mlproject and project.env is None
    assert project.entry_point("train.py").command == "python train.py"
    assert project.entry_point("prep.sh").command.endswith(" prep.sh")


def test_unknown_entry_point_names_the_declared_ones() -> None:
    with pytest.raises(InvalidParameterValue, match=r"Unknown entry point 'nope'.*main"):
        load_project(SAMPLE).entry_point("nope")


def test_a_missing_script_is_not_an_entry_point(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterValue, match="no such script"):
        load_project(tmp_path).entry_point("missing.py")
    (tmp_path.parent / "outside.py").write_text("")
    with pytest.raises(InvalidParameterValue, match="no such script"):
        load_project(tmp_path).entry_point("../outside.py")


def test_docker_env(tmp_path: Path) -> None:
    root = _project(
        tmp_path,
        "docker_env:\n  image: python:3.11\n  volumes: ['/data:/data']\n"
        "  environment: [HOME, [MODE, fast]]\n"
        "entry_points:\n  main:\n    command: python x.py\n",
    )
    env = load_project(root).env
    assert env is not None and env.kind == "docker_env"
    environment = (("HOME", None), ("MODE", "fast"))
    assert env.docker == DockerEnv("python:3.11", ("/data:/data",), environment)


@pytest.mark.parametrize(
    "mlproject, message",
    [
        ("- a list\n", "must be a YAML mapping"),
        ("name: x\nentrypoints: {}\n", "unknown key"),
        ("entry_points:\n  main: python x.py\n", "mapping with a `command`"),
        ("entry_points:\n  main:\n    command: run {alpha}\n", "declares no parameter 'alpha'"),
        ("entry_points:\n  main:\n    command: 'run {'\n", "not a valid template"),
        (
            "entry_points:\n  main:\n    parameters: {a: bool}\n    command: run {a}\n",
            "unknown type 'bool'",
        ),
        ("python_env: missing.yaml\n", "python_env file 'missing.yaml' does not exist"),
        ("python_env: p.yaml\nconda_env: p.yaml\n", "at most one environment"),
        ("docker_env: {volumes: []}\n", "with an `image`"),
        ("name: [unclosed\n", "not valid YAML"),
    ],
)
def test_invalid_mlproject_files_are_refused_when_loaded(
    tmp_path: Path, mlproject: str, message: str
) -> None:
    root = _project(tmp_path, mlproject, **{"p.yaml": "python: '3.11'\n"})
    with pytest.raises(InvalidParameterValue, match=message):
        load_project(root)
