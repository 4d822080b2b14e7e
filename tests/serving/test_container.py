"""`cairn.serving.container.build_context`: the build context's files, and (Docker cannot run
here) the context installed into a fresh virtualenv and served by its own entry script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

import cairn
import cairn.pyfunc
import cairn.sklearn
from cairn.exceptions import CairnException, InvalidParameterValue
from cairn.models.integrity import verify_manifest
from cairn.serving import container
from cairn.serving.container import build_context, default_base_image, image_requirements
from cairn.version import __version__
from tests.server_process import free_port
from tests.serving.scoring_process import ScoringProcess


@pytest.fixture(scope="module")
def iris_model(tmp_path_factory: Any) -> Path:
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    features, target = load_iris(return_X_y=True, as_frame=True)
    estimator = RandomForestClassifier(n_estimators=5, random_state=0).fit(features, target)
    path = tmp_path_factory.mktemp("models") / "iris"
    cairn.sklearn.save_model(estimator, path, input_example=features.head(3))
    return path


@pytest.fixture(scope="module")
def context(iris_model: Path, tmp_path_factory: Any) -> container.ContainerContext:
    return build_context(str(iris_model), tmp_path_factory.mktemp("ctx") / "image", port=9000)


def test_the_context_holds_model_wheel_requirements_and_scripts(
    context: container.ContainerContext,
) -> None:
    root = context.directory
    assert sorted(p.name for p in root.iterdir()) == [
        ".dockerignore",
        "Dockerfile",
        "model_dir",
        "requirements.txt",
        "serve.sh",
        "wheels",
    ]
    assert context.wheel == root / "wheels" / f"cairn_ml-{__version__}-py3-none-any.whl"
    assert verify_manifest(root / "model_dir")  # copied whole: the checksums still hold
    assert all(p.stat().st_mode & 0o444 == 0o444 for p in (root / "model_dir").rglob("*"))
    requirements = (root / "requirements.txt").read_text().splitlines()
    assert requirements[0] == f"cairn-ml=={__version__}"
    assert any(r.startswith("scikit-learn==") for r in requirements)
    assert context.base_image == "python:3.11-slim" and context.notes == []
    assert os.access(root / "serve.sh", os.X_OK)
    assert "__pycache__" in (root / ".dockerignore").read_text()


def test_the_dockerfile_installs_into_a_venv_and_serves_through_the_script(
    context: container.ContainerContext,
) -> None:
    text = context.dockerfile.read_text()
    lines = [line.strip() for line in text.splitlines() if not line.startswith("#")]
    assert lines[0] == "FROM python:3.11-slim"
    assert "RUN python -m venv /opt/venv" in lines
    assert 'ENV PATH="/opt/venv/bin:$PATH"' in lines
    assert "COPY wheels/ /tmp/cairn-build/wheels/" in lines
    assert "RUN pip install --find-links /tmp/cairn-build/wheels \\" in lines
    assert f"/tmp/cairn-build/wheels/{context.wheel.name} \\" in lines
    assert "-r /tmp/cairn-build/requirements.txt \\" in lines
    assert "COPY model_dir/ /opt/model/" in lines
    assert "EXPOSE 9000" in lines and "ENV PORT=9000" in lines
    assert lines[-1] == 'ENTRYPOINT ["/usr/local/bin/serve.sh"]'
    script = (context.directory / "serve.sh").read_text()
    assert script.startswith("#!/bin/sh\n")
    assert 'exec "${CAIRN_VENV:-/opt/venv}/bin/cairn" models serve' in script
    assert '--model-uri "${CAIRN_MODEL_DIR:-/opt/model}"' in script
    assert '--host "${CAIRN_HOST:-0.0.0.0}"' in script and '--port "${PORT:-9000}"' in script
    assert "--trust" not in script


def test_trust_and_base_image_options(
    context: container.ContainerContext,
    iris_model: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def reuse(source: Path, wheels_dir: Path) -> Path:  # the wheel is tested above
        wheels_dir.mkdir()
        return Path(shutil.copy2(context.wheel, wheels_dir))

    monkeypatch.setattr(container, "build_wheel", reuse)
    made = build_context(
        str(iris_model), tmp_path / "ctx", base_image="registry.local/py:3.12", trust=True
    )
    assert made.dockerfile.read_text().count("FROM registry.local/py:3.12\n") == 1
    assert "    --trust \\\n" in (tmp_path / "ctx" / "serve.sh").read_text()


def test_an_existing_directory_must_be_empty(iris_model: Path, tmp_path: Path) -> None:
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "keep.txt").write_text("mine")
    with pytest.raises(InvalidParameterValue, match="not an empty directory"):
        build_context(str(iris_model), tmp_path / "ctx")
    assert [p.name for p in (tmp_path / "ctx").iterdir()] == ["keep.txt"]


def test_a_model_that_cannot_be_served_leaves_nothing(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text("flavors:\n  keras: {}\n")
    with pytest.raises(InvalidParameterValue, match="no python_function flavor"):
        build_context(str(model), tmp_path / "ctx")
    assert list((tmp_path / "ctx").iterdir()) == []


def test_an_installed_cairn_without_sources_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "site" / "cairn").mkdir(parents=True)
    monkeypatch.setattr(cairn, "__file__", str(tmp_path / "site" / "cairn" / "__init__.py"))
    with pytest.raises(InvalidParameterValue, match="Cannot build a wheel of Cairn"):
        container.cairn_source_root()


def test_requirements_get_the_wheels_cairn_and_lose_mlflow(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(
        "mlflow==2.17.0\ncairn-ml[sklearn]==0.0.9\nscikit-learn==1.5.2\nmlflowx==1\n"
    )
    notes: list[str] = []
    found = image_requirements(tmp_path, "1.2.3", notes)
    assert found == ["cairn-ml[sklearn]==1.2.3", "scikit-learn==1.5.2", "mlflowx==1"]
    assert len(notes) == 2 and "mlflow==2.17.0" in notes[0] and "0.0.9" in notes[1]
    (tmp_path / "requirements.txt").unlink()
    assert image_requirements(tmp_path, "1.2.3", notes) == ["cairn-ml==1.2.3"]


@pytest.mark.parametrize(
    ("python", "image", "noted"),
    [
        ("3.12.4", "python:3.12-slim", False),
        ("3.9.18", "python:3.11-slim", True),
        (None, f"python:{sys.version_info[0]}.{sys.version_info[1]}-slim", True),
    ],
)
def test_the_default_base_image_follows_the_models_python(
    tmp_path: Path, python: str | None, image: str, noted: bool
) -> None:
    if python is not None:
        (tmp_path / "python_env.yaml").write_text(f"python: {python}\n")
    notes: list[str] = []
    assert default_base_image(tmp_path, notes) == image
    assert bool(notes) == noted


@pytest.mark.slow
def test_the_context_serves_from_a_fresh_venv(
    context: container.ContainerContext, iris_model: Path, tmp_path: Path
) -> None:
    """What the image does, without Docker: a new venv gets requirements.txt with the wheel
    (uv when it is beside this Python, for speed, else pip: the same requirements and
    --find-links), then the context's serve.sh serves the context's model."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    wheels = context.directory / "wheels"
    requirements = str(context.directory / "requirements.txt")
    uv = Path(sys.executable).parent / "uv"
    if uv.exists():
        install = [str(uv), "pip", "install", "--python", str(python)]
    else:
        subprocess.run([str(python), "-m", "ensurepip", "--upgrade"], check=True)
        install = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    subprocess.run(
        [*install, "--quiet", "--find-links", str(wheels), str(context.wheel), "-r", requirements],
        check=True,
        env=env,
        timeout=600,
    )
    where = subprocess.run(
        [str(python), "-c", "import cairn; print(cairn.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=tmp_path,
    )
    assert where.stdout.strip().startswith(str(venv))  # the wheel's Cairn, not this checkout's

    port = free_port()
    env.update(
        PORT=str(port),
        CAIRN_HOST="127.0.0.1",
        CAIRN_VENV=str(venv),
        CAIRN_MODEL_DIR=str(context.directory / "model_dir"),
    )
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(context.directory / "serve.sh")], stdout=log, stderr=log, env=env, cwd=tmp_path
        )
    server = ScoringProcess(f"http://127.0.0.1:{port}", process, log_path)
    try:
        _wait_for_ping(server)
        body = (iris_model / "serving_input_example.json").read_bytes()
        answer = httpx.post(
            server.url + "/invocations",
            content=body,
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        example = json.loads(body)["dataframe_split"]
        frame = pd.DataFrame(example["data"], columns=example["columns"])
        expected = cairn.pyfunc.load_model(iris_model).predict(frame).tolist()
        assert answer.json() == {"predictions": expected}
    finally:
        server.stop()


def _wait_for_ping(server: ScoringProcess) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        try:
            if httpx.get(server.url + "/ping", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"serve.sh did not answer /ping; its log:\n{server.log()}")


def test_a_failed_wheel_build_leaves_nothing(
    iris_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(source: Path, wheels_dir: Path) -> Path:
        wheels_dir.mkdir()
        raise CairnException("Building the Cairn wheel failed: no setuptools")

    monkeypatch.setattr(container, "build_wheel", fail)
    with pytest.raises(CairnException, match="no setuptools"):
        build_context(str(iris_model), tmp_path / "ctx")
    assert list((tmp_path / "ctx").iterdir()) == []


def test_the_dockerfile_comment_hides_a_password_in_the_uri() -> None:
    text = container.dockerfile_text(
        "python:3.11-slim", 8080, "https://bob:s3cret@h/m", "a-1.0-x.whl"
    )
    assert "# Serves the model https://bob:***@h/m with Cairn 1.0." in text
    assert "s3cret" not in text
