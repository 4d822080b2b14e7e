"""`import cairn as mlflow` runs an ordinary MLflow training script unchanged.

Scripts run in a fresh interpreter, as users run them, so the at-exit handling and the
system tags (source file, git commit) are those of a real program.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cairn.entities import RunStatus
from cairn.tracking.client import CairnClient

REPO_ROOT = Path(__file__).resolve().parents[2]

TRAIN_SCRIPT = """
import json
import os
import tempfile

import cairn as mlflow
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

mlflow.set_experiment("iris")
X, y = load_iris(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
params = {"C": 1.0, "max_iter": 300}

with mlflow.start_run(run_name="logreg") as run:
    mlflow.log_params(params)
    mlflow.set_tag("model_family", "linear")
    model = LogisticRegression(**params).fit(X_train, y_train)
    for epoch in range(3):
        mlflow.log_metric("train_loss", 1.0 / (epoch + 1), step=epoch)
    preds = model.predict(X_test)
    mlflow.log_metric("accuracy", accuracy_score(y_test, preds))
    mlflow.log_metrics({"f1": f1_score(y_test, preds, average="macro")})
    train_df = X_train.assign(target=y_train)
    dataset = mlflow.data.from_pandas(train_df, targets="target", name="iris-train")
    mlflow.log_input(dataset, context="training")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "coefficients.json")
        with open(path, "w") as f:
            json.dump(model.coef_.tolist(), f)
        mlflow.log_artifact(path, artifact_path="model")
    mlflow.log_dict({"classes": model.classes_.tolist()}, "classes.json")

runs = mlflow.search_runs(filter_string="metrics.accuracy > 0.8")
assert len(runs) == 1, runs
assert runs.loc[0, "params.C"] == "1.0"
assert runs.loc[0, "tags.mlflow.runName"] == "logreg"
client = mlflow.MlflowClient()
assert [f.path for f in client.list_artifacts(run.info.run_id, "model")] == [
    "model/coefficients.json"
]
print(run.info.run_id)
"""


def _run_script(tmp_path: Path, tracking_uri: str, source: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(source))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAIRN_", "MLFLOW_"))}
    env.update(
        CAIRN_TRACKING_URI=tracking_uri,
        CAIRN_ARTIFACT_ROOT=str(tmp_path / "artifacts"),
        PYTHONPATH=os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")]),
    )
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_typical_mlflow_training_script(tmp_path: Path, tracking_uri: str) -> None:
    pytest.importorskip("sklearn")
    done = _run_script(tmp_path, tracking_uri, TRAIN_SCRIPT)
    assert done.returncode == 0, done.stderr

    run = CairnClient(tracking_uri).get_run(done.stdout.strip())
    assert run.info.status is RunStatus.FINISHED
    assert run.info.run_name == "logreg"
    assert run.data.params == {"C": "1.0", "max_iter": "300"}
    assert set(run.data.metrics) == {"train_loss", "accuracy", "f1"}
    assert run.data.tags["model_family"] == "linear"
    assert run.data.tags["mlflow.source.name"] == str(tmp_path / "train.py")
    assert run.data.tags["mlflow.source.type"] == "LOCAL"
    (dataset_input,) = run.inputs.dataset_inputs
    assert dataset_input.dataset.name == "iris-train"
    assert dataset_input.context == "training"
    assert len(dataset_input.dataset.digest) == 8


@pytest.mark.parametrize(
    ("tail", "status", "code"),
    [
        ("", RunStatus.FINISHED, 0),
        ("raise SystemExit(3)", RunStatus.FINISHED, 3),
        ("raise RuntimeError('crash')", RunStatus.FAILED, 1),
    ],
)
def test_a_run_left_open_is_ended_at_exit(
    tmp_path: Path, tracking_uri: str, tail: str, status: RunStatus, code: int
) -> None:
    source = f"""
    import cairn
    run = cairn.start_run()
    cairn.log_metric("m", 1.0)
    print(run.info.run_id, flush=True)
    {tail}
    """
    done = _run_script(tmp_path, tracking_uri, source)
    assert done.returncode == code, done.stderr
    run = CairnClient(tracking_uri).get_run(done.stdout.strip())
    assert run.info.status is status
    assert run.info.end_time is not None


def test_a_script_in_a_git_repository_records_its_commit(tmp_path: Path, tracking_uri: str) -> None:
    import shutil

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], cwd=tmp_path, check=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=tmp_path, check=True, capture_output=True, text=True
    ).stdout.strip()

    done = _run_script(
        tmp_path, tracking_uri, "import cairn\nprint(cairn.start_run().info.run_id)\n"
    )

    assert done.returncode == 0, done.stderr
    tags = CairnClient(tracking_uri).get_run(done.stdout.strip()).data.tags
    assert tags["mlflow.source.git.commit"] == head
