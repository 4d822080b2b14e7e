"""cairn.sklearn: estimators round-trip through skops without trust; pickle needs trust;
crafted trees are refused; MLflow loads Cairn's files and Cairn loads MLflow's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import cairn.pyfunc
import cairn.sklearn
from cairn.exceptions import (
    InvalidParameterValue,
    ModelIntegrityError,
    ResourceAlreadyExists,
    SchemaEnforcementError,
    UntrustedModelError,
)
from cairn.models import Model


@pytest.fixture(scope="module")
def iris() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture(scope="module")
def forest(iris):
    X, y = iris
    return make_pipeline(
        StandardScaler(), RandomForestClassifier(n_estimators=15, random_state=0)
    ).fit(X, y)


def test_a_forest_round_trips_through_skops_without_trust(tmp_path, iris, forest):
    X, _ = iris
    cairn.sklearn.save_model(forest, tmp_path / "m", input_example=X.head(3))

    loaded = cairn.sklearn.load_model(tmp_path / "m")
    assert (loaded.predict(X) == forest.predict(X)).all()
    pyfunc = cairn.pyfunc.load_model(str(tmp_path / "m"))
    assert (pyfunc.predict(X) == forest.predict(X)).all()

    mlmodel = Model.load(tmp_path / "m")
    assert mlmodel.flavors["sklearn"]["serialization_format"] == "skops"
    assert mlmodel.flavors["python_function"]["loader_module"] == "mlflow.sklearn"
    assert mlmodel.signature.inputs.input_names() == list(X.columns)
    assert {p.name for p in (tmp_path / "m").iterdir()} >= {
        "MLmodel",
        "model.skops",
        "cairn_checksums.json",
        "requirements.txt",
        "python_env.yaml",
        "conda.yaml",
        "input_example.json",
        "serving_input_example.json",
    }
    requirements = (tmp_path / "m" / "requirements.txt").read_text()
    assert "scikit-learn==" in requirements and "skops==" in requirements


def test_pyfunc_predict_enforces_the_inferred_signature(tmp_path, iris, forest):
    X, _ = iris
    cairn.sklearn.save_model(forest, tmp_path / "m", input_example=X.head(2))
    model = cairn.pyfunc.load_model(str(tmp_path / "m"))
    with pytest.raises(SchemaEnforcementError, match="petal width"):
        model.predict(X.drop(columns=["petal width (cm)"]))
    # Extra columns are dropped; integers widen to the declared doubles.
    wider = X.head(4).assign(extra=1).astype({"sepal length (cm)": "float64"})
    assert (model.predict(wider) == forest.predict(X.head(4))).all()


def test_predict_fn_picks_the_method_pyfunc_calls(tmp_path, iris):
    X, y = iris
    model = LogisticRegression(max_iter=500).fit(X, y)
    cairn.sklearn.save_model(model, tmp_path / "m", pyfunc_predict_fn="predict_proba")
    probabilities = cairn.pyfunc.load_model(str(tmp_path / "m")).predict(X.head(3))
    assert probabilities.shape == (3, 3)
    np.testing.assert_allclose(probabilities, model.predict_proba(X.head(3)))


@pytest.mark.parametrize("fmt", ["cloudpickle", "pickle"])
def test_pickle_formats_load_only_with_trust(tmp_path, iris, fmt):
    X, y = iris
    model = LogisticRegression(max_iter=500).fit(X, y)
    cairn.sklearn.save_model(model, tmp_path / "m", serialization_format=fmt)
    assert (tmp_path / "m" / "model.pkl").exists()
    with pytest.raises(UntrustedModelError, match="trust=True"):
        cairn.sklearn.load_model(tmp_path / "m")
    with pytest.raises(UntrustedModelError):
        cairn.pyfunc.load_model(str(tmp_path / "m"))
    assert (
        cairn.sklearn.load_model(tmp_path / "m", trust=True).predict(X) == model.predict(X)
    ).all()


def test_a_trusted_source_setting_replaces_the_flag(tmp_path, iris, monkeypatch):
    X, y = iris
    model = LogisticRegression(max_iter=500).fit(X, y)
    cairn.sklearn.save_model(model, tmp_path / "m", serialization_format="cloudpickle")
    monkeypatch.setenv("CAIRN_TRUSTED_MODEL_SOURCES", f"s3://elsewhere/, {tmp_path}")
    assert cairn.sklearn.load_model(tmp_path / "m") is not None
    monkeypatch.setenv("CAIRN_TRUSTED_MODEL_SOURCES", "s3://elsewhere/")
    with pytest.raises(UntrustedModelError):
        cairn.sklearn.load_model(tmp_path / "m")


def test_unknown_serialization_format_is_refused(tmp_path, iris):
    X, y = iris
    with pytest.raises(InvalidParameterValue, match="serialization_format"):
        cairn.sklearn.save_model(
            LogisticRegression(max_iter=500).fit(X, y),
            tmp_path / "m",
            serialization_format="joblib",
        )
    assert not (tmp_path / "m").exists()


def test_saving_over_an_existing_model_is_refused(tmp_path, iris, forest):
    cairn.sklearn.save_model(forest, tmp_path / "m")
    with pytest.raises(ResourceAlreadyExists, match="not empty"):
        cairn.sklearn.save_model(forest, tmp_path / "m")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no staging left"


def test_a_changed_file_is_refused_before_loading(tmp_path, iris, forest):
    cairn.sklearn.save_model(forest, tmp_path / "m")
    with open(tmp_path / "m" / "model.skops", "ab") as f:
        f.write(b"\0")
    with pytest.raises(ModelIntegrityError, match=r"changed: 'model\.skops'"):
        cairn.sklearn.load_model(tmp_path / "m")
    with pytest.raises(ModelIntegrityError):
        cairn.pyfunc.load_model(str(tmp_path / "m"))


def _crafted_forest(forest, field: str, value: int):
    """A copy of the forest whose first tree has one node index changed, as a crafted
    file would carry it."""
    import copy

    from sklearn.tree._tree import Tree

    crafted = copy.deepcopy(forest)
    estimator = crafted[-1].estimators_[0]
    tree = estimator.tree_
    state = tree.__getstate__()
    nodes = state["nodes"].copy()
    inner = np.nonzero(nodes["left_child"] != -1)[0][0]
    nodes[field][inner] = value
    state["nodes"] = nodes
    rebuilt = Tree(tree.n_features, np.asarray(tree.n_classes), tree.n_outputs)
    rebuilt.__setstate__(state)
    estimator.tree_ = rebuilt
    return crafted


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("left_child", 10**6, "left child index"),
        ("right_child", 0, "right child index"),
        ("feature", 4, "feature index"),
    ],
)
def test_a_tree_with_out_of_range_indices_is_refused(tmp_path, forest, field, value, message):
    cairn.sklearn.save_model(_crafted_forest(forest, field, value), tmp_path / "m")
    with pytest.raises(ModelIntegrityError, match=message):
        cairn.sklearn.load_model(tmp_path / "m")


def test_boosted_trees_are_checked_and_load(tmp_path, iris):
    X, y = iris
    model = GradientBoostingClassifier(n_estimators=5, random_state=0).fit(X, y)
    cairn.sklearn.save_model(model, tmp_path / "m")
    assert (cairn.sklearn.load_model(tmp_path / "m").predict(X) == model.predict(X)).all()


MLFLOW_ENV = {**os.environ, "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true"}


def _mlflow(code: str, tmp_path: Path) -> str:
    """Run code with the real mlflow package in a fresh interpreter (it reads its env vars once)."""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=MLFLOW_ENV, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_mlflow_loads_a_model_cairn_saved(tmp_path, iris, forest):
    X, _ = iris
    cairn.sklearn.save_model(forest, tmp_path / "m", input_example=X.head(2))
    X.head(10).to_csv(tmp_path / "x.csv", index=False)
    out = _mlflow(
        "import json, mlflow.sklearn, mlflow.pyfunc, pandas as pd\n"
        "x = pd.read_csv('x.csv')\n"
        "a = mlflow.sklearn.load_model('m').predict(x).tolist()\n"
        "b = mlflow.pyfunc.load_model('m').predict(x).tolist()\n"
        "print(json.dumps([a, b]))",
        tmp_path,
    )
    a, b = json.loads(out.strip().splitlines()[-1])
    assert a == b == forest.predict(X.head(10)).tolist()


@pytest.mark.parametrize("fmt", ["skops", "cloudpickle"])
def test_cairn_loads_a_model_mlflow_saved(tmp_path, iris, fmt):
    X, y = iris
    X.to_csv(tmp_path / "x.csv", index=False)
    y.to_csv(tmp_path / "y.csv", index=False)
    trusted = "skops_trusted_types=['sklearn.tree._tree.Tree']," if fmt == "skops" else ""
    _mlflow(
        "import mlflow.sklearn, pandas as pd\n"
        "from sklearn.ensemble import RandomForestClassifier\n"
        "x = pd.read_csv('x.csv'); y = pd.read_csv('y.csv').iloc[:, 0]\n"
        "m = RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y)\n"
        f"mlflow.sklearn.save_model(m, 'm', serialization_format='{fmt}', {trusted}"
        " input_example=x.head(2))\n",
        tmp_path,
    )
    if fmt == "cloudpickle":
        with pytest.raises(UntrustedModelError):
            cairn.pyfunc.load_model(str(tmp_path / "m"))
    model = cairn.pyfunc.load_model(str(tmp_path / "m"), trust=fmt == "cloudpickle")
    expected = cairn.sklearn.load_model(tmp_path / "m", trust=True).predict(X)
    assert (model.predict(X) == expected).all()
    with pytest.raises(SchemaEnforcementError, match="sepal length"):
        model.predict(X.drop(columns=["sepal length (cm)"]))


def test_array_api_backends_are_refused_only_while_loading() -> None:
    import importlib

    name = "sklearn.externals.array_api_compat.dask"
    sys.modules.pop(name, None)
    with (
        cairn.sklearn._without_array_api_backends(),
        pytest.raises(ImportError, match="not needed"),
    ):
        importlib.import_module(name)
    assert not any(isinstance(f, cairn.sklearn._RefuseBackends) for f in sys.meta_path)


def test_a_trusted_directory_covers_relative_paths(tmp_path, iris, monkeypatch):
    X, y = iris
    model = LogisticRegression(max_iter=500).fit(X, y)
    cairn.sklearn.save_model(model, tmp_path / "m", serialization_format="cloudpickle")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CAIRN_TRUSTED_MODEL_SOURCES", str(tmp_path))
    assert cairn.sklearn.load_model("m") is not None
