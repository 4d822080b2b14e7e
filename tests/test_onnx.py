"""cairn.onnx: graphs round-trip without trust and predict as MLflow's ONNX wrapper does;
signatures are enforced; changed files and stray external data are refused; MLflow loads
Cairn's files and Cairn loads MLflow's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest
from onnx import TensorProto, helper, numpy_helper

import cairn.onnx
import cairn.pyfunc
from cairn.exceptions import InvalidParameterValue, ModelIntegrityError, SchemaEnforcementError
from cairn.models import Model

RNG = np.random.default_rng(0)
W = RNG.normal(size=(20, 3)).astype(np.float32)  # 240 bytes: stays inside model.onnx
B = RNG.normal(size=(3,)).astype(np.float32)
BIG = RNG.normal(size=(20, 20)).astype(np.float32)  # 1,600 bytes: goes to external data
X = RNG.normal(size=(6, 20)).astype(np.float32)


def _model(nodes, inputs, outputs, initializers=()) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # what the installed onnxruntime reads, whatever onnx writes by default
    onnx.checker.check_model(model)
    return model


def _tensor(name: str, shape: list[int | None]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


@pytest.fixture(scope="module")
def linear() -> onnx.ModelProto:
    """y = relu(x @ BIG) @ W + B: one input, one output, one tensor big enough to go external."""
    return _model(
        [
            helper.make_node("MatMul", ["x", "big"], ["h"]),
            helper.make_node("Relu", ["h"], ["r"]),
            helper.make_node("MatMul", ["r", "w"], ["rw"]),
            helper.make_node("Add", ["rw", "b"], ["y"]),
        ],
        [_tensor("x", [None, 20])],
        [_tensor("y", [None, 3])],
        [
            numpy_helper.from_array(BIG, "big"),
            numpy_helper.from_array(W, "w"),
            numpy_helper.from_array(B, "b"),
        ],
    )


def _expected(x: np.ndarray) -> np.ndarray:
    return np.maximum(x @ BIG, 0) @ W + B


@pytest.fixture(scope="module")
def two_in_two_out() -> onnx.ModelProto:
    """sum = a + b and prod = a * b over 1-D inputs: DataFrame columns map to inputs by name."""
    return _model(
        [
            helper.make_node("Add", ["a", "b"], ["sum"]),
            helper.make_node("Mul", ["a", "b"], ["prod"]),
        ],
        [_tensor("a", [None]), _tensor("b", [None])],
        [_tensor("sum", [None]), _tensor("prod", [None])],
    )


def test_a_graph_round_trips_and_predicts_without_trust(tmp_path, linear):
    weights_before = linear.graph.initializer[0].raw_data
    cairn.onnx.save_model(linear, tmp_path / "m", input_example={"x": X[:2]})
    assert linear.graph.initializer[0].raw_data == weights_before, "caller's model untouched"

    files = {p.name for p in (tmp_path / "m").iterdir()}
    assert files >= {"MLmodel", "model.onnx", "cairn_checksums.json", "requirements.txt"}
    assert [f for f in files if f.endswith(".data")], "the big tensor went to external data"
    mlmodel = Model.load(tmp_path / "m")
    flavor = mlmodel.flavors["onnx"]
    assert flavor["data"] == "model.onnx" and flavor["onnx_version"] == onnx.__version__
    assert flavor["providers"] == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert mlmodel.flavors["python_function"]["loader_module"] == "mlflow.onnx"
    requirements = (tmp_path / "m" / "requirements.txt").read_text()
    assert "onnx==" in requirements and "onnxruntime==" in requirements

    loaded = cairn.onnx.load_model(tmp_path / "m")
    assert isinstance(loaded, onnx.ModelProto)
    assert [numpy_helper.to_array(t).tolist() for t in loaded.graph.initializer] == [
        numpy_helper.to_array(t).tolist() for t in linear.graph.initializer
    ]

    model = cairn.pyfunc.load_model(str(tmp_path / "m"))
    out = model.predict({"x": X})
    assert list(out) == ["y"]
    np.testing.assert_allclose(out["y"], _expected(X), rtol=1e-5, atol=1e-5)
    assert model.get_raw_model().get_providers() == ["CPUExecutionProvider"]


def test_the_signature_is_inferred_from_the_example_and_outputs(tmp_path, linear):
    cairn.onnx.save_model(linear, tmp_path / "m", input_example={"x": X[:2]})
    signature = Model.load(tmp_path / "m").signature
    assert signature.inputs.to_dict() == [
        {"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 20]}, "name": "x"}
    ]
    assert signature.outputs.to_dict() == [
        {"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 3]}, "name": "y"}
    ]


def test_enforcement_names_the_tensor(tmp_path, linear):
    cairn.onnx.save_model(linear, tmp_path / "m", input_example={"x": X[:2]})
    model = cairn.pyfunc.load_model(str(tmp_path / "m"))
    with pytest.raises(SchemaEnforcementError, match=r"'x'.*dtype float32, got float64"):
        model.predict({"x": X.astype(np.float64)})
    with pytest.raises(SchemaEnforcementError, match=r"'x'.*shape \[-1, 20\].*\[6, 19\]"):
        model.predict({"x": X[:, :19]})
    with pytest.raises(SchemaEnforcementError, match="'x'"):
        model.predict({"z": X})
    # A cast that loses nothing is made: int16 → float32.
    small = np.arange(40, dtype=np.int16).reshape(2, 20)
    np.testing.assert_allclose(model.predict({"x": small})["y"], _expected(small), rtol=1e-4)
    # A bare array feeds the single input.
    np.testing.assert_allclose(model.predict(X)["y"], _expected(X), rtol=1e-5, atol=1e-5)


def test_dataframe_columns_feed_inputs_by_name(tmp_path, two_in_two_out):
    frame = pd.DataFrame({"b": [1.0, 2.0, 3.0], "a": [4.0, 5.0, 6.0]}, index=[7, 8, 9])
    cairn.onnx.save_model(two_in_two_out, tmp_path / "m", input_example=frame.head(2))
    model = cairn.pyfunc.load_model(str(tmp_path / "m"))
    assert model.get_input_schema().input_names() == ["b", "a"]
    out = model.predict(frame)  # doubles cast to the graph's floats, as MLflow does
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["sum", "prod"]
    assert out["sum"].tolist() == [5.0, 7.0, 9.0] and out["prod"].tolist() == [4.0, 10.0, 18.0]
    with pytest.raises(SchemaEnforcementError, match="'a'"):
        model.predict(frame.drop(columns=["a"]))


def test_a_single_input_takes_a_whole_dataframe_and_outputs_are_flattened(tmp_path, linear):
    cairn.onnx.save_model(linear, tmp_path / "m", save_as_external_data=False)
    assert sorted(p.name for p in (tmp_path / "m").iterdir() if p.suffix == ".data") == []
    out = cairn.pyfunc.load_model(str(tmp_path / "m")).predict(pd.DataFrame(X))
    # MLflow's rule: each output becomes one column, flattened.
    assert list(out.columns) == ["y"] and len(out) == X.shape[0] * 3
    np.testing.assert_allclose(out["y"].to_numpy(), _expected(X).reshape(-1), rtol=1e-5, atol=1e-5)


def test_unusable_inputs_are_refused_clearly(tmp_path, two_in_two_out):
    cairn.onnx.save_model(two_in_two_out, tmp_path / "m")
    model = cairn.pyfunc.load_model(str(tmp_path / "m"))
    with pytest.raises(InvalidParameterValue, match=r"single-input.*\['a', 'b'\]"):
        model.predict(np.ones(3, dtype=np.float32))
    with pytest.raises(InvalidParameterValue, match=r"lacks \['b'\]"):
        model.predict(pd.DataFrame({"a": [1.0]}))
    with pytest.raises(InvalidParameterValue, match="not str"):
        model.predict("text")
    with pytest.raises(InvalidParameterValue, match=r"refused its input.*input: a"):
        model.predict({"a": np.ones((2, 2), np.float32), "b": np.ones(2, np.float32)})


def test_session_options_are_recorded_and_applied(tmp_path, linear):
    options = {"intra_op_num_threads": 1, "execution_mode": "sequential"}
    cairn.onnx.save_model(linear, tmp_path / "m", onnx_session_options=options)
    assert Model.load(tmp_path / "m").flavors["onnx"]["onnx_session_options"] == options
    session = cairn.pyfunc.load_model(str(tmp_path / "m")).get_raw_model()
    assert session.get_session_options().intra_op_num_threads == 1
    with pytest.raises(InvalidParameterValue, match="execution_mode"):
        cairn.onnx.save_model(linear, tmp_path / "n", onnx_session_options={"turbo": True})
    assert not (tmp_path / "n").exists()


def test_only_model_protos_are_saved(tmp_path):
    with pytest.raises(InvalidParameterValue, match=r"onnx\.ModelProto"):
        cairn.onnx.save_model(b"not a model", tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_a_changed_file_is_refused_before_loading(tmp_path, linear):
    cairn.onnx.save_model(linear, tmp_path / "m")
    external = next(p for p in (tmp_path / "m").iterdir() if p.suffix == ".data")
    with open(external, "r+b") as f:
        f.write(b"\1\2\3\4")
    with pytest.raises(ModelIntegrityError, match="changed"):
        cairn.onnx.load_model(tmp_path / "m")
    with pytest.raises(ModelIntegrityError, match="changed"):
        cairn.pyfunc.load_model(str(tmp_path / "m"))


def test_external_data_outside_the_model_is_refused(tmp_path, linear):
    cairn.onnx.save_model(linear, tmp_path / "m", save_as_external_data=False)
    (tmp_path / "secret.bin").write_bytes(b"\0" * 1600)
    crafted = onnx.ModelProto()
    crafted.CopyFrom(linear)
    big = crafted.graph.initializer[0]
    big.ClearField("raw_data")
    big.data_location = TensorProto.EXTERNAL
    big.external_data.add(key="location", value="../secret.bin")
    onnx.save_model(crafted, tmp_path / "m" / "model.onnx")
    (tmp_path / "m" / "cairn_checksums.json").unlink()  # as an MLflow-saved model would be
    with pytest.raises(InvalidParameterValue, match="outside the model directory"):
        cairn.onnx.load_model(tmp_path / "m")
    with pytest.raises(InvalidParameterValue, match="outside the model directory"):
        cairn.pyfunc.load_model(str(tmp_path / "m"))


def test_a_graph_exported_from_torch_predicts_as_torch_does(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    path = tmp_path / "net.onnx"
    with pytest.warns(DeprecationWarning):  # the TorchScript exporter; the new one needs onnxscript
        torch.onnx.export(
            net,
            (torch.randn(2, 4),),
            str(path),
            dynamo=False,
            input_names=["features"],
            output_names=["logits"],
            dynamic_axes={"features": {0: "n"}, "logits": {0: "n"}},
        )
    x = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    cairn.onnx.save_model(onnx.load(path), tmp_path / "m", input_example=x[:2])
    model = cairn.pyfunc.load_model(str(tmp_path / "m"))
    with torch.inference_mode():
        expected = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model.predict(x)["logits"], expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(SchemaEnforcementError, match=r"shape \[-1, 4\]"):
        model.predict(x[:, :3])


MLFLOW_CODE = """
import json, mlflow.models, mlflow.onnx, mlflow.pyfunc, numpy as np, onnx, pandas as pd
x = np.load('x.npy')
a = mlflow.pyfunc.load_model('cairn_linear').predict({'x': x})['y'].tolist()
b = mlflow.onnx.load_model('cairn_linear').graph.node[0].op_type
c = mlflow.pyfunc.load_model('cairn_two').predict(pd.read_csv('frame.csv')).to_dict('list')
mlflow.onnx.save_model(onnx.load('cairn_linear/model.onnx'), 'mlflow_linear',
                       input_example={'x': x[:2]},
                       signature=mlflow.models.infer_signature({'x': x[:2]}),
                       pip_requirements=['onnx', 'onnxruntime'])
print(json.dumps([a, b, c]))
"""


@pytest.fixture(scope="module")
def mlflow_side(tmp_path_factory, linear, two_in_two_out) -> tuple[Path, list]:
    """One run of the real mlflow package: it loads two models Cairn saved and saves one."""
    root = tmp_path_factory.mktemp("mlflow")
    cairn.onnx.save_model(linear, root / "cairn_linear", input_example={"x": X[:2]})
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    cairn.onnx.save_model(two_in_two_out, root / "cairn_two", input_example=frame)
    frame.to_csv(root / "frame.csv", index=False)
    np.save(root / "x.npy", X)
    done = subprocess.run(
        [sys.executable, "-c", MLFLOW_CODE],
        cwd=root,
        env={**os.environ, "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true"},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return root, json.loads(done.stdout.strip().splitlines()[-1])


def test_mlflow_loads_models_cairn_saved(mlflow_side):
    _, (linear_out, first_op, two_out) = mlflow_side
    np.testing.assert_allclose(np.asarray(linear_out), _expected(X), rtol=1e-5, atol=1e-5)
    assert first_op == "MatMul"
    assert two_out == {"sum": [4.0, 6.0], "prod": [3.0, 8.0]}


def test_cairn_loads_a_model_mlflow_saved(mlflow_side):
    root, _ = mlflow_side
    assert Model.load(root / "mlflow_linear").flavors["python_function"]["loader_module"] == (
        "mlflow.onnx"
    )
    model = cairn.pyfunc.load_model(str(root / "mlflow_linear"))
    np.testing.assert_allclose(model.predict({"x": X})["y"], _expected(X), rtol=1e-5, atol=1e-5)
    with pytest.raises(SchemaEnforcementError, match="'x'"):
        model.predict({"x": X[:, :5]})
    assert isinstance(cairn.onnx.load_model(root / "mlflow_linear"), onnx.ModelProto)
