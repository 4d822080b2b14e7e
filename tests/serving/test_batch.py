"""`cairn.serving.batch.predict_file`: every input and output format, chunking, kept columns,
params, and failures that leave no output behind."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import cairn.pyfunc
import cairn.sklearn
from cairn.exceptions import (
    CairnException,
    InvalidParameterValue,
    ResourceDoesNotExist,
    SchemaEnforcementError,
)
from cairn.models import ModelSignature, infer_signature
from cairn.pyfunc.loading import PyFuncModel
from cairn.serving.batch import BatchProgress, FileFormat, file_format, predict_file
from tests.serving.conftest import FakeModel

FORMATS = ["csv", "json", "jsonl", "parquet"]


@pytest.fixture(scope="module")
def iris() -> pd.DataFrame:
    from sklearn.datasets import load_iris

    frame: pd.DataFrame = load_iris(as_frame=True).frame
    return frame


@pytest.fixture(scope="module")
def features(iris: pd.DataFrame) -> pd.DataFrame:
    return iris.drop(columns=["target"])


@pytest.fixture(scope="module")
def forest(iris: pd.DataFrame, features: pd.DataFrame, tmp_path_factory: Any) -> PyFuncModel:
    from sklearn.ensemble import RandomForestClassifier

    estimator = RandomForestClassifier(n_estimators=5, random_state=0).fit(features, iris.target)
    path = tmp_path_factory.mktemp("models") / "forest"
    cairn.sklearn.save_model(estimator, path, input_example=features.head(3))
    return cairn.pyfunc.load_model(path)


@pytest.fixture(scope="module")
def proba(iris: pd.DataFrame, features: pd.DataFrame, tmp_path_factory: Any) -> PyFuncModel:
    from sklearn.linear_model import LogisticRegression

    estimator = LogisticRegression(max_iter=500).fit(features, iris.target)
    path = tmp_path_factory.mktemp("models") / "proba"
    cairn.sklearn.save_model(
        estimator, path, input_example=features.head(3), pyfunc_predict_fn="predict_proba"
    )
    return cairn.pyfunc.load_model(path)


@pytest.fixture(scope="module")
def scored(features: pd.DataFrame) -> pd.DataFrame:
    """The iris features with an id column, as every input file holds them."""
    return features.assign(id=[f"flower-{i}" for i in range(len(features))])


def write_input(frame: pd.DataFrame, path: Path) -> Path:
    fmt = file_format(path)
    if fmt is FileFormat.CSV:
        frame.to_csv(path, index=False)
    elif fmt is FileFormat.PARQUET:
        frame.to_parquet(path, index=False)
    elif fmt is FileFormat.JSONL:
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_json(path, orient="records")
    return path


def read_output(path: Path) -> pd.DataFrame:
    fmt = file_format(path)
    if fmt is FileFormat.CSV:
        return pd.read_csv(path)
    if fmt is FileFormat.PARQUET:
        return pd.read_parquet(path)
    if fmt is FileFormat.JSONL:
        return pd.DataFrame([json.loads(line) for line in path.read_text().splitlines()])
    return pd.DataFrame(json.loads(path.read_text()))


@pytest.mark.parametrize("out_ext", FORMATS)
@pytest.mark.parametrize("in_ext", FORMATS)
def test_every_format_in_and_out_gives_the_models_predictions(
    forest: PyFuncModel, scored: pd.DataFrame, tmp_path: Path, in_ext: str, out_ext: str
) -> None:
    source = write_input(scored, tmp_path / f"in.{in_ext}")
    target = tmp_path / f"out.{out_ext}"
    rows = predict_file(forest, source, target, chunk_size=40, keep_columns=["id"])
    assert rows == len(scored)
    written = read_output(target)
    assert list(written.columns) == ["id", "prediction"]
    assert written["id"].tolist() == scored["id"].tolist()
    expected = forest.predict(scored.drop(columns=["id"]))
    assert written["prediction"].tolist() == expected.tolist()
    assert {p.name for p in tmp_path.iterdir()} == {source.name, target.name}


def test_chunks_give_the_same_predictions_as_one_call(
    proba: PyFuncModel, features: pd.DataFrame, tmp_path: Path
) -> None:
    source = write_input(features, tmp_path / "in.csv")
    progress: list[BatchProgress] = []
    rows = predict_file(
        proba, source, tmp_path / "out.parquet", chunk_size=7, progress=progress.append
    )
    assert rows == 150
    written = pd.read_parquet(tmp_path / "out.parquet")
    # A 2-D array of class probabilities: one column per class.
    assert list(written.columns) == ["prediction_0", "prediction_1", "prediction_2"]
    np.testing.assert_allclose(written.to_numpy(), proba.predict(features))
    # One report before the first chunk, then one per chunk (150 rows / 7 = 22 chunks).
    assert len(progress) == 23
    assert [p.rows for p in progress[:3]] == [0, 7, 14] and progress[-1].rows == 150
    assert progress[-1].bytes_read == progress[-1].total_bytes == source.stat().st_size


def test_parquet_progress_counts_rows_against_the_files_row_count(
    forest: PyFuncModel, features: pd.DataFrame, tmp_path: Path
) -> None:
    source = write_input(features, tmp_path / "in.parquet")
    progress: list[BatchProgress] = []
    predict_file(forest, source, tmp_path / "out.csv", chunk_size=100, progress=progress.append)
    assert [(p.rows, p.total_rows) for p in progress] == [(0, 150), (100, 150), (150, 150)]


def test_output_format_can_be_given_whatever_the_extension(
    forest: PyFuncModel, features: pd.DataFrame, tmp_path: Path
) -> None:
    source = write_input(features, tmp_path / "rows.csv")
    (tmp_path / "rows.txt").write_bytes(source.read_bytes())
    predict_file(
        forest,
        tmp_path / "rows.txt",
        tmp_path / "out.data",
        input_format="csv",
        output_format="jsonl",
    )
    lines = (tmp_path / "out.data").read_text().splitlines()
    assert len(lines) == 150 and json.loads(lines[0]) == {"prediction": 0}


@pytest.mark.parametrize(
    "body",
    [
        lambda f: {"dataframe_split": json.loads(f.to_json(orient="split", index=False))},
        lambda f: {"dataframe_records": json.loads(f.to_json(orient="records"))},
        lambda f: {"inputs": json.loads(f.to_json(orient="records"))},
        lambda f: {"instances": f.to_numpy().tolist()},
    ],
    ids=["dataframe_split", "dataframe_records", "inputs", "instances"],
)
def test_mlflow_scoring_bodies_are_read_as_json_input(
    forest: PyFuncModel, features: pd.DataFrame, tmp_path: Path, body: Any
) -> None:
    source = tmp_path / "body.json"
    source.write_text(json.dumps(body(features)))
    assert predict_file(forest, source, tmp_path / "out.csv", chunk_size=50) == 150
    expected = forest.predict(features)
    assert pd.read_csv(tmp_path / "out.csv")["prediction"].tolist() == expected.tolist()


def scaled(signature_params: dict[str, Any] | None = None) -> FakeModel:
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    signature = infer_signature(frame, frame["x"], params=signature_params)

    def fn(data: Any, params: dict[str, Any]) -> Any:
        return pd.DataFrame({"scaled": data["x"] * params["scale"], "one": 1})

    return FakeModel(fn, signature)


def test_params_reach_every_chunk_and_override_the_bodys(tmp_path: Path) -> None:
    model = scaled({"scale": 1.0})
    source = write_input(pd.DataFrame({"x": [1.0, 2.0, 3.0]}), tmp_path / "in.jsonl")
    predict_file(model, source, tmp_path / "out.csv", chunk_size=2, params={"scale": 10.0})
    written = pd.read_csv(tmp_path / "out.csv")
    # A DataFrame prediction keeps the model's own columns.
    assert written.to_dict(orient="list") == {"scaled": [10.0, 20.0, 30.0], "one": [1, 1, 1]}

    body = tmp_path / "body.json"
    body.write_text(json.dumps({"dataframe_records": [{"x": 2.0}], "params": {"scale": 3.0}}))
    predict_file(model, body, tmp_path / "body.csv")
    assert pd.read_csv(tmp_path / "body.csv")["scaled"].tolist() == [6.0]
    predict_file(model, body, tmp_path / "body.csv", params={"scale": 5.0})
    assert pd.read_csv(tmp_path / "body.csv")["scaled"].tolist() == [10.0]


def test_a_schema_error_names_the_chunks_first_row_and_the_column(
    forest: PyFuncModel, features: pd.DataFrame, tmp_path: Path
) -> None:
    broken = features.astype({"petal width (cm)": object})
    broken.loc[120, "petal width (cm)"] = "wide"
    source = write_input(broken, tmp_path / "in.csv")
    target = tmp_path / "out.csv"
    target.write_text("an older output\n")
    with pytest.raises(SchemaEnforcementError) as caught:
        predict_file(forest, source, target, chunk_size=50)
    message = caught.value.message
    assert "rows 101-150 of in.csv" in message and "'petal width (cm)'" in message
    # The earlier output is untouched and no partial file is left beside it.
    assert target.read_text() == "an older output\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]


def test_a_failing_model_leaves_no_output(features: pd.DataFrame, tmp_path: Path) -> None:
    calls = []

    def fn(data: Any, params: Any) -> Any:
        calls.append(len(data))
        if len(calls) == 2:
            raise RuntimeError("out of ink")
        return np.zeros(len(data))

    source = write_input(features, tmp_path / "in.parquet")
    with pytest.raises(CairnException, match=r"rows 11-20 of in.parquet: RuntimeError: out of ink"):
        predict_file(FakeModel(fn), source, tmp_path / "out.parquet", chunk_size=10)
    assert [p.name for p in tmp_path.iterdir()] == ["in.parquet"]


def test_predictions_must_match_the_rows(tmp_path: Path) -> None:
    model = FakeModel(lambda data, params: np.zeros(len(data) + 1))
    source = write_input(pd.DataFrame({"x": [1, 2, 3]}), tmp_path / "in.csv")
    with pytest.raises(CairnException, match=r"returned 4 predictions for rows 1-3 of in.csv"):
        predict_file(model, source, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def test_missing_input_unknown_extensions_and_bad_arguments(
    forest: PyFuncModel, features: pd.DataFrame, tmp_path: Path
) -> None:
    with pytest.raises(ResourceDoesNotExist, match="No input file"):
        predict_file(forest, tmp_path / "none.csv", tmp_path / "out.csv")
    source = write_input(features, tmp_path / "in.csv")
    with pytest.raises(InvalidParameterValue, match=r"extension '\.xlsx'"):
        predict_file(forest, source, tmp_path / "out.xlsx")
    with pytest.raises(InvalidParameterValue, match="no extension"):
        predict_file(forest, source, tmp_path / "out")
    with pytest.raises(InvalidParameterValue, match="Unknown format 'xml'"):
        predict_file(forest, source, tmp_path / "out.csv", output_format="xml")
    with pytest.raises(InvalidParameterValue, match="overwrite the input"):
        predict_file(forest, source, source)
    with pytest.raises(ResourceDoesNotExist, match="No directory"):
        predict_file(forest, source, tmp_path / "nowhere" / "out.csv")
    with pytest.raises(InvalidParameterValue, match="No input column 'nope'"):
        predict_file(forest, source, tmp_path / "out.csv", keep_columns=["nope"])
    with pytest.raises(InvalidParameterValue, match="at least 1"):
        predict_file(forest, source, tmp_path / "out.csv", chunk_size=0)
    assert [p.name for p in tmp_path.iterdir()] == ["in.csv"]


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("empty.csv", "", "is empty"),
        ("bad.jsonl", '{"x": 1}\n{"x": \n', "Line 2 of .* is not valid JSON"),
        ("list.jsonl", "[1, 2]\n", "Line 1 of .* must be a JSON object"),
        ("bad.parquet", "not parquet", "as Parquet"),
        ("bad.json", "{", "as JSON"),
        ("keys.json", '{"rows": []}', "exactly one of"),
    ],
)
def test_unreadable_input_is_a_clear_error(
    tmp_path: Path, name: str, content: str, error: str
) -> None:
    source = tmp_path / name
    source.write_text(content)
    model = FakeModel(lambda data, params: np.zeros(len(data)))
    with pytest.raises(InvalidParameterValue, match=error):
        predict_file(model, source, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def test_prediction_shapes_become_columns(tmp_path: Path) -> None:
    source = write_input(pd.DataFrame({"x": [1.0, 2.0]}), tmp_path / "in.jsonl")

    def run(predictions: Any) -> dict[str, list[Any]]:
        model = FakeModel(lambda data, params: predictions)
        predict_file(model, source, tmp_path / "out.jsonl")
        return read_output(tmp_path / "out.jsonl").to_dict(orient="list")

    assert run(pd.Series(["a", "b"], name="label")) == {"label": ["a", "b"]}
    assert run(pd.Series([1, 2])) == {"prediction": [1, 2]}
    run([0.5, float("nan")])
    assert (tmp_path / "out.jsonl").read_text() == '{"prediction":0.5}\n{"prediction":null}\n'
    assert run({"p": np.array([1, 2]), "q": np.array([[1, 2], [3, 4]])}) == {
        "p": [1, 2],
        "q_0": [1, 3],
        "q_1": [2, 4],
    }
    assert run(np.zeros((2, 2, 2))) == {"prediction": [[[0.0, 0.0]] * 2] * 2}


def test_empty_input_writes_an_empty_output(tmp_path: Path) -> None:
    model = FakeModel(lambda data, params: np.zeros(len(data)))
    for ext in ("jsonl", "json"):
        source = tmp_path / f"in.{ext}"
        source.write_text("[]" if ext == "json" else "")
        for out in FORMATS:
            assert predict_file(model, source, tmp_path / f"out.{out}") == 0
    assert json.loads((tmp_path / "out.json").read_text()) == []
    assert (tmp_path / "out.jsonl").read_text() == ""
    assert pd.read_parquet(tmp_path / "out.parquet").empty


def test_tensor_input_scores_in_one_call(tmp_path: Path) -> None:
    signature = ModelSignature.from_dict(
        {"inputs": '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 2]}}]'}
    )
    model = FakeModel(lambda data, params: data.sum(axis=1), signature)
    source = tmp_path / "in.json"
    source.write_text(json.dumps({"inputs": [[1, 2], [3, 4], [5, 6]]}))
    assert predict_file(model, source, tmp_path / "out.csv", chunk_size=1) == 3
    assert pd.read_csv(tmp_path / "out.csv")["prediction"].tolist() == [3.0, 7.0, 11.0]
    with pytest.raises(InvalidParameterValue, match="only from tabular input"):
        predict_file(model, source, tmp_path / "out.csv", keep_columns=["a"])


def test_a_column_changing_type_between_parquet_chunks_is_reported(tmp_path: Path) -> None:
    source = write_input(pd.DataFrame({"x": [1, 2, 3]}), tmp_path / "in.csv")
    model = FakeModel(lambda data, params: [1, 2] if len(data) == 2 else ["a"])
    with pytest.raises(InvalidParameterValue, match=r"row 3 of in\.csv .* one type a column"):
        predict_file(model, source, tmp_path / "out.parquet", chunk_size=2)
    assert not (tmp_path / "out.parquet").exists()


def test_a_csv_with_a_byte_order_mark(
    forest: PyFuncModel, scored: pd.DataFrame, tmp_path: Path
) -> None:
    source = tmp_path / "excel.csv"
    source.write_text("\ufeff" + scored[["id", *scored.columns[:4]]].to_csv(index=False))
    predict_file(forest, source, tmp_path / "out.csv", keep_columns=["id"])
    written = pd.read_csv(tmp_path / "out.csv")
    assert written["id"].tolist() == scored["id"].tolist()


def test_an_output_that_cannot_be_written(
    forest: PyFuncModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write_input(pd.DataFrame({"x": [1.0]}), tmp_path / "in.csv")
    (tmp_path / "out.csv").mkdir()
    with pytest.raises(InvalidParameterValue, match="is a directory"):
        predict_file(forest, source, tmp_path / "out.csv")

    def refuse(path: Any, *args: Any) -> int:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(os, "open", refuse)  # tests run as root, where chmod stops nobody
    with pytest.raises(InvalidParameterValue, match=r"Cannot write in .*: Permission denied"):
        predict_file(forest, source, tmp_path / "scores.csv")
