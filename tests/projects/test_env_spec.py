"""python_env.yaml and conda.yaml: what an environment is made of, and its digest."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.exceptions import InvalidParameterValue
from cairn.projects.env_spec import (
    digest,
    load_conda_env,
    load_python_env,
    python_env_from_conda,
)
from tests.projects.support import SAMPLE


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_the_sample_python_env() -> None:
    spec = load_python_env(SAMPLE / "python_env.yaml")
    assert spec.python == "3.11"
    assert spec.build_dependencies == ()
    assert spec.dependencies == ("six==1.16.0",)


def test_the_digest_depends_on_the_spec_not_on_where_it_is(tmp_path: Path) -> None:
    text = 'python: "3.11"\ndependencies: [six==1.16.0]\n'
    a = load_python_env(_write(tmp_path / "a.yaml", text))
    b = load_python_env(_write(tmp_path / "b.yaml", text + "build_dependencies: []\n"))
    c = load_python_env(_write(tmp_path / "c.yaml", text.replace("1.16.0", "1.17.0")))
    assert digest(a.normalized("virtualenv")) == digest(b.normalized("virtualenv"))
    assert digest(a.normalized("virtualenv")) != digest(c.normalized("virtualenv"))
    assert digest(a.normalized("virtualenv")) != digest(a.normalized("uv"))
    assert len(digest(a.normalized("uv"))) == 64


def test_requirement_files_are_part_of_the_digest(tmp_path: Path) -> None:
    env_file = _write(tmp_path / "python_env.yaml", 'python: "3.11"\ndependencies: [-r req.txt]\n')
    _write(tmp_path / "req.txt", "six==1.16.0\n")
    before = digest(load_python_env(env_file).normalized("uv"))
    _write(tmp_path / "req.txt", "six==1.17.0\n")
    assert digest(load_python_env(env_file).normalized("uv")) != before


@pytest.mark.parametrize(
    "text, message",
    [
        ("dependencies: [six]\n", "must give the Python version"),
        ("python: three\n", "not X.Y or X.Y.Z"),
        ('python: "3.11"\ndependencies: six\n', "must be a list"),
        ('python: "3.11"\nchannels: [x]\n', "unknown key"),
        ('python: "3.11"\ndependencies: [-r missing.txt]\n', "'missing.txt' does not exist"),
    ],
)
def test_bad_python_env_files(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InvalidParameterValue, match=message):
        load_python_env(_write(tmp_path / "python_env.yaml", text))


def test_names_package_compares_normalised_names(tmp_path: Path) -> None:
    spec = load_python_env(
        _write(tmp_path / "p.yaml", 'python: "3.11"\ndependencies: ["Cairn_ML[all]>=0.1"]\n')
    )
    assert spec.names_package("cairn-ml")
    assert not spec.names_package("cairn")


def test_conda_yaml_as_a_python_env(tmp_path: Path) -> None:
    conda = load_conda_env(
        _write(
            tmp_path / "conda.yaml",
            "name: x\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n  - pip\n"
            "  - pip:\n    - six==1.16.0\n",
        )
    )
    spec = python_env_from_conda(conda)
    assert (spec.python, spec.dependencies) == ("3.11", ("six==1.16.0",))


def test_conda_only_packages_cannot_become_a_virtualenv(tmp_path: Path) -> None:
    conda = load_conda_env(
        _write(tmp_path / "conda.yaml", "dependencies: [python=3.11, cudatoolkit=11.8]\n")
    )
    with pytest.raises(InvalidParameterValue, match=r"cudatoolkit=11.8.*--env-manager conda"):
        python_env_from_conda(conda)
