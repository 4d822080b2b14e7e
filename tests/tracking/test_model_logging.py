"""log_model: a model logged from training code is a first-class logged model linked to its
run, loadable by every URI that names it, registered on request, and checked against the
checksums recorded when it was logged. In-process on SQLite and over HTTP to a real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

import cairn
import cairn.pyfunc
import cairn.sklearn
from cairn.exceptions import InvalidParameterValue, ModelIntegrityError
from cairn.tracking.client import CairnClient
from cairn.tracking.model_download import CHECKSUMS_TAG


@pytest.fixture(scope="module")
def iris() -> tuple[pd.DataFrame, pd.Series]:
    return load_iris(return_X_y=True, as_frame=True)


@pytest.fixture(scope="module")
def forest(iris):
    X, y = iris
    return RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)


@pytest.fixture(params=["sqlite", "http"])
def tracking(request, tracking_uri: str) -> str:
    """The fluent API's tracking URI: a SQLite file in-process, or the live server."""
    uri = tracking_uri if request.param == "sqlite" else request.getfixturevalue("live_server").url
    cairn.set_tracking_uri(uri)
    return uri


def _unique(prefix: str) -> str:
    return f"{prefix}-{os.urandom(4).hex()}"


def test_a_logged_model_loads_by_every_uri_and_registers(tracking, iris, forest):
    X, _ = iris
    cairn.set_experiment(_unique("log-model"))
    name = _unique("iris")
    with cairn.start_run() as run:
        info = cairn.sklearn.log_model(
            forest, name="model", input_example=X.head(3), registered_model_name=name
        )
    expected = forest.predict(X).tolist()

    assert info.model_uri == f"models:/{info.model_id}" and info.model_id.startswith("m-")
    assert info.run_id == run.info.run_id and info.registered_model_version == 1
    assert info.signature is not None and "sklearn" in info.flavors

    client = CairnClient(tracking)
    logged = client.get_logged_model(info.model_id)
    assert str(logged.status).endswith("READY")
    assert logged.source_run_id == run.info.run_id and logged.name == "model"
    assert CHECKSUMS_TAG in logged.tags

    for uri in (
        info.model_uri,
        f"runs:/{run.info.run_id}/model",
        f"models:/{name}/1",
        f"models:/{name}/latest",
    ):
        assert cairn.pyfunc.load_model(uri).predict(X).tolist() == expected, uri
    assert cairn.sklearn.load_model(info.model_uri).predict(X).tolist() == expected


def test_a_model_logged_without_a_run_belongs_to_the_experiment(tracking, forest, iris):
    X, _ = iris
    experiment_id = cairn.set_experiment(_unique("no-run")).experiment_id
    info = cairn.sklearn.log_model(forest, name="loose")
    assert info.run_id is None
    logged = CairnClient(tracking).get_logged_model(info.model_id)
    assert logged.experiment_id == experiment_id and not logged.source_run_id
    assert (
        cairn.sklearn.load_model(info.model_uri).predict(X.head(2)).tolist()
        == forest.predict(X.head(2)).tolist()
    )


def test_a_failed_save_marks_the_logged_model_failed(tracking):
    experiment = cairn.set_experiment(_unique("failed"))
    with cairn.start_run(), pytest.raises(InvalidParameterValue, match="serialization_format"):
        cairn.sklearn.log_model(object(), name="broken", serialization_format="joblib")
    models = CairnClient(tracking).search_logged_models([experiment.experiment_id])
    assert [str(m.status) for m in models] == [str(models[0].status)]
    assert str(models[0].status).endswith("UPLOAD_FAILED")


def test_bad_model_names_are_refused(tracking, forest):
    cairn.set_experiment(_unique("bad-name"))
    with cairn.start_run(), pytest.raises(InvalidParameterValue, match="path segment"):
        cairn.sklearn.log_model(forest, name="a/b")


def test_files_rewritten_with_their_manifest_are_refused(tracking_uri, tmp_path, forest, iris):
    """A tamperer who changes a file and rewrites the manifest to match is caught by the
    digest recorded on the logged model."""
    from cairn.models.integrity import write_manifest

    cairn.set_tracking_uri(tracking_uri)
    cairn.set_experiment(_unique("tamper"))
    with cairn.start_run():
        info = cairn.sklearn.log_model(forest, name="model")
    location = CairnClient(tracking_uri).get_logged_model(info.model_id).artifact_location
    directory = Path(location.removeprefix("file://"))
    (directory / "requirements.txt").write_text("evil-package==1.0\n")
    write_manifest(directory)
    with pytest.raises(ModelIntegrityError, match="do not match what was logged"):
        cairn.pyfunc.load_model(info.model_uri)


def test_the_mlflow_client_loads_a_model_cairn_logged(live_server, forest, iris):
    X, _ = iris
    cairn.set_tracking_uri(live_server.url)
    cairn.set_experiment(_unique("to-mlflow"))
    with cairn.start_run() as run:
        info = cairn.sklearn.log_model(forest, name="model")
    X.head(5).to_csv("x.csv", index=False)
    script = (
        "import json, mlflow.pyfunc, pandas as pd\n"
        "x = pd.read_csv('x.csv')\n"
        f"a = mlflow.pyfunc.load_model('{info.model_uri}').predict(x).tolist()\n"
        f"b = mlflow.pyfunc.load_model('runs:/{run.info.run_id}/model').predict(x).tolist()\n"
        "print(json.dumps([a, b]))\n"
    )
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": live_server.url,
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",
    }
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    a, b = json.loads(done.stdout.strip().splitlines()[-1])
    assert a == b == forest.predict(X.head(5)).tolist()


class Doubler(cairn.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return (model_input * 2).to_numpy().ravel().tolist()


def test_every_flavor_logs_and_loads_back(tracking_uri):
    """pyfunc and PyTorch are pickled (loading needs trust); ONNX is not."""
    import numpy as np
    import onnx
    import torch
    from onnx import TensorProto, helper

    import cairn.onnx
    import cairn.pytorch

    cairn.set_tracking_uri(tracking_uri)
    cairn.set_experiment(_unique("flavors"))
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    array = np.ones((2, 3), dtype=np.float32)
    graph = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["y"])],
        "neg",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 3])],
    )
    graph_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    graph_model.ir_version = 8
    onnx.checker.check_model(graph_model)
    torch.manual_seed(0)
    module = torch.nn.Linear(3, 1)
    with cairn.start_run():
        custom = cairn.pyfunc.log_model("custom", Doubler())
        neg = cairn.onnx.log_model(graph_model, name="neg")
        linear = cairn.pytorch.log_model(module, name="linear")

    assert cairn.pyfunc.load_model(custom.model_uri, trust=True).predict(frame) == [2.0, 4.0]
    onnx_out = cairn.pyfunc.load_model(neg.model_uri).predict(array)
    np.testing.assert_array_equal(onnx_out["y"], -array)
    with torch.inference_mode():
        expected = module(torch.from_numpy(array)).numpy()
    torch_out = cairn.pyfunc.load_model(linear.model_uri, trust=True).predict(array)
    np.testing.assert_allclose(torch_out, expected, rtol=1e-6)


def test_logging_options_reach_the_logged_model_and_the_rest_reach_save(tracking_uri, forest):
    cairn.set_tracking_uri(tracking_uri)
    cairn.set_experiment(_unique("options"))
    with cairn.start_run():
        info = cairn.sklearn.log_model(
            forest,
            "model",
            tags={"team": "risk"},
            params={"depth": 3},
            model_type="classifier",
            await_registration_for=10,  # MLflow's argument: accepted, registration is synchronous
            serialization_format="cloudpickle",
            metadata={"owner": "ada"},
        )
    logged = CairnClient(tracking_uri).get_logged_model(info.model_id)
    assert logged.tags["team"] == "risk" and logged.params == {"depth": "3"}
    assert logged.model_type == "classifier"
    assert info.flavors["sklearn"]["serialization_format"] == "cloudpickle"
    assert info.metadata == {"owner": "ada"}
