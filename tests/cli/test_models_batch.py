"""`cairn models predict` and `cairn models generate-dockerfile`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import cairn.pyfunc
import cairn.sklearn
from cairn.models import infer_signature
from cairn.serving import container
from cairn.tracking.client import CairnClient
from cairn.version import __version__
from tests.cli.support import Cli


class Scaled(cairn.pyfunc.PythonModel):
    """x times the `scale` param."""

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        return (model_input["x"] * (params or {}).get("scale", 1.0)).tolist()


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    from sklearn.datasets import load_iris

    frame: pd.DataFrame = load_iris(as_frame=True).data
    return frame


@pytest.fixture(scope="module")
def iris_model(features: pd.DataFrame, tmp_path_factory: Any) -> Path:
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    target = load_iris(as_frame=True).target
    estimator = RandomForestClassifier(n_estimators=5, random_state=0).fit(features, target)
    path = tmp_path_factory.mktemp("models") / "iris"
    cairn.sklearn.save_model(estimator, path, input_example=features.head(3))
    return path


@pytest.fixture
def rows(features: pd.DataFrame, tmp_path: Path) -> Path:
    path = tmp_path / "rows.csv"
    features.assign(id=range(1000, 1150)).to_csv(path, index=False)
    return path


def register(client: CairnClient, model: Path) -> None:
    """`model` as version 1 of the registered model "iris"."""
    run_id = client.create_run("0").info.run_id
    client.log_artifacts(run_id, model, "model")
    client.create_registered_model("iris")
    client.create_model_version("iris", f"runs:/{run_id}/model", run_id=run_id)


def expected(iris_model: Path, features: pd.DataFrame) -> list[int]:
    predictions = cairn.pyfunc.load_model(iris_model).predict(features)
    return [int(p) for p in predictions]


def test_predict_streams_a_csv_into_parquet(
    cli: Cli, iris_model: Path, rows: Path, features: pd.DataFrame, tmp_path: Path
) -> None:
    out = tmp_path / "scores.parquet"
    args = ["-m", str(iris_model), "-i", str(rows), "-o", str(out)]
    result = cli("models", "predict", *args, "--chunk-size", "16", "--keep-columns", "id")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    assert "Scored 150 rows" in result.stderr
    written = pd.read_parquet(out)
    assert list(written.columns) == ["id", "prediction"]
    assert written["id"].tolist() == list(range(1000, 1150))
    assert written["prediction"].tolist() == expected(iris_model, features)


def test_predict_output_format_option(
    cli: Cli, iris_model: Path, rows: Path, features: pd.DataFrame, tmp_path: Path
) -> None:
    out = tmp_path / "scores.out"
    args = ["-m", str(iris_model), "-i", str(rows), "-o", str(out), "--output-format", "jsonl"]
    result = cli("models", "predict", *args)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["prediction"] for line in lines] == expected(iris_model, features)


def test_predict_from_a_registered_model(
    cli: Cli,
    client: CairnClient,
    tracking_uri: str,
    iris_model: Path,
    rows: Path,
    features: pd.DataFrame,
    tmp_path: Path,
) -> None:
    register(client, iris_model)
    out = tmp_path / "scores.json"
    args = ["-m", "models:/iris/1", "-i", str(rows), "-o", str(out), "--tracking-uri", tracking_uri]
    result = cli("models", "predict", *args)
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text())
    assert [r["prediction"] for r in written] == expected(iris_model, features)


def test_predict_with_params_and_trust(cli: Cli, tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    model = tmp_path / "scaled"
    cairn.pyfunc.save_model(model, Scaled(), signature=infer_signature(frame, None, {"scale": 1.0}))
    source = tmp_path / "in.jsonl"
    frame.to_json(source, orient="records", lines=True)
    out = tmp_path / "out.csv"
    args = ["-m", str(model), "-i", str(source), "-o", str(out), "--params", '{"scale": 2.5}']

    refused = cli("models", "predict", *args)
    assert refused.exit_code == 1 and "trust" in refused.stderr and not out.exists()

    result = cli("models", "predict", *args, "--trust")
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out)["prediction"].tolist() == [2.5, 5.0, 7.5]

    bad = cli("models", "predict", *args[:-1], "[1, 2]", "--trust")
    assert bad.exit_code == 2 and "must be a JSON object" in bad.output


def test_a_schema_error_names_row_and_column_and_writes_nothing(
    cli: Cli, iris_model: Path, features: pd.DataFrame, tmp_path: Path
) -> None:
    broken = features.astype({"sepal width (cm)": object})
    broken.loc[70, "sepal width (cm)"] = "n/a"
    source = tmp_path / "broken.jsonl"
    broken.to_json(source, orient="records", lines=True)
    out = tmp_path / "out.csv"
    args = ["-m", str(iris_model), "-i", str(source), "-o", str(out), "--chunk-size", "50"]
    result = cli("models", "predict", *args)
    assert result.exit_code == 1
    assert "rows 51-100 of broken.jsonl" in result.stderr
    assert "'sepal width (cm)'" in result.stderr
    assert "Traceback" not in result.output
    assert not [p for p in tmp_path.iterdir() if "out.csv" in p.name]  # nor a partial file


@pytest.mark.parametrize(
    ("input_name", "output_name", "error"),
    [
        ("missing.csv", "out.csv", "No input file"),
        ("rows.csv", "out.xlsx", "Cannot tell the format"),
        ("rows.txt", "out.csv", "Cannot tell the format"),
    ],
)
def test_bad_paths_are_clear_errors(
    cli: Cli,
    iris_model: Path,
    rows: Path,
    tmp_path: Path,
    input_name: str,
    output_name: str,
    error: str,
) -> None:
    (tmp_path / "rows.txt").write_text(rows.read_text())
    args = ["-i", str(tmp_path / input_name), "-o", str(tmp_path / output_name)]
    result = cli("models", "predict", "-m", str(iris_model), *args)
    assert result.exit_code == 1
    assert error in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / output_name).exists()


def test_generate_dockerfile(
    cli: Cli,
    client: CairnClient,
    tracking_uri: str,
    iris_model: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fake_wheel(source: Path, wheels_dir: Path) -> Path:  # built for real in tests/serving
        wheels_dir.mkdir()
        wheel = wheels_dir / f"cairn_ml-{__version__}-py3-none-any.whl"
        wheel.write_bytes(b"")
        return wheel

    monkeypatch.setattr(container, "build_wheel", fake_wheel)
    register(client, iris_model)
    target = tmp_path / "image"
    args = ["-m", "models:/iris/1", "-d", str(target), "--port", "9090", "--trust"]
    args += ["--tracking-uri", tracking_uri]
    result = cli("models", "generate-dockerfile", *args)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(target / "Dockerfile")
    assert "docker build" in result.stderr
    assert "EXPOSE 9090" in (target / "Dockerfile").read_text()
    assert "--trust" in (target / "serve.sh").read_text()
    assert (target / "requirements.txt").read_text().startswith(f"cairn-ml=={__version__}\n")
    assert (target / "model_dir" / "MLmodel").read_bytes() == (iris_model / "MLmodel").read_bytes()

    again = cli("models", "generate-dockerfile", *args)
    assert again.exit_code == 1 and "not an empty directory" in again.stderr
