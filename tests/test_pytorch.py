"""cairn.pytorch: modules are saved whole and load only with trust; pyfunc predicts as MLflow's
wrapper does, with signatures enforced; changed files are refused; MLflow loads Cairn's files
and Cairn loads MLflow's (pickled and `torch.export`ed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cairn.pyfunc
import cairn.pytorch
from cairn.exceptions import (
    InvalidParameterValue,
    ModelIntegrityError,
    SchemaEnforcementError,
    UntrustedModelError,
)
from cairn.models import Model

torch = pytest.importorskip("torch")

REPO = Path(__file__).resolve().parent.parent
X = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)


class Net(torch.nn.Module):
    """Defined at module level so pickles name it `tests.test_pytorch.Net`."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = torch.nn.Linear(4, 8)
        self.out = torch.nn.Linear(8, 3)

    def forward(self, x):
        return self.out(torch.relu(self.hidden(x)))


class Pair(torch.nn.Module):
    """Two named inputs: a dict of arrays is passed as keyword arguments."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor([2.0]))

    def forward(self, a, b):
        return a * self.scale + b


@pytest.fixture(scope="module")
def net() -> Net:
    torch.manual_seed(0)
    return Net().eval()


def _torch_out(module, x: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return module(torch.from_numpy(x)).numpy()


def test_a_module_round_trips_with_trust(tmp_path, net):
    cairn.pytorch.save_model(net, tmp_path / "m", input_example=X[:2])
    data = tmp_path / "m" / "data"
    assert sorted(p.name for p in data.iterdir()) == ["model.pth", "pickle_module_info.txt"]
    assert (data / "pickle_module_info.txt").read_text() == "mlflow.pytorch.pickle_module"
    mlmodel = Model.load(tmp_path / "m")
    assert mlmodel.flavors["pytorch"]["model_data"] == "data"
    assert mlmodel.flavors["pytorch"]["pytorch_version"] == str(torch.__version__)
    pyfunc_conf = mlmodel.flavors["python_function"]
    assert pyfunc_conf["loader_module"] == "mlflow.pytorch" and pyfunc_conf["data"] == "data"
    requirements = (tmp_path / "m" / "requirements.txt").read_text()
    assert "torch==" in requirements and "cloudpickle==" in requirements

    loaded = cairn.pytorch.load_model(tmp_path / "m", trust=True)
    assert isinstance(loaded, Net) and not loaded.training
    for key, value in net.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
    model = cairn.pyfunc.load_model(str(tmp_path / "m"), trust=True)
    np.testing.assert_array_equal(model.predict(X), _torch_out(net, X))


def test_loading_needs_trust(tmp_path, net, monkeypatch):
    cairn.pytorch.save_model(net, tmp_path / "m")
    with pytest.raises(UntrustedModelError, match=r"PyTorch model 'data/model\.pth'"):
        cairn.pytorch.load_model(tmp_path / "m")
    with pytest.raises(UntrustedModelError, match="trust=True"):
        cairn.pyfunc.load_model(str(tmp_path / "m"))
    monkeypatch.setenv("CAIRN_TRUSTED_MODEL_SOURCES", str(tmp_path))
    assert isinstance(cairn.pytorch.load_model(tmp_path / "m"), Net)


def test_the_signature_is_inferred_and_enforced(tmp_path, net):
    cairn.pytorch.save_model(net, tmp_path / "m", input_example=X[:2])
    signature = Model.load(tmp_path / "m").signature
    assert signature.inputs.to_dict() == [
        {"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}
    ]
    assert signature.outputs.to_dict() == [
        {"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 3]}}
    ]
    model = cairn.pyfunc.load_model(str(tmp_path / "m"), trust=True)
    with pytest.raises(SchemaEnforcementError, match="dtype float32, got float64"):
        model.predict(X.astype(np.float64))
    with pytest.raises(SchemaEnforcementError, match=r"shape \[-1, 4\].*\[6, 3\]"):
        model.predict(X[:, :3])
    # Safe casts are made, and a DataFrame is read as the one tensor.
    np.testing.assert_array_equal(
        model.predict(X.astype(np.float16)), _torch_out(net, X.astype(np.float16).astype("f4"))
    )
    np.testing.assert_array_equal(model.predict(pd.DataFrame(X)), _torch_out(net, X))


def test_named_tensors_are_enforced_by_name_and_passed_as_keywords(tmp_path):
    example = {"a": X[:2, :2].copy(), "b": X[:2, 2:].copy()}
    cairn.pytorch.save_model(Pair(), tmp_path / "m", input_example=example)
    model = cairn.pyfunc.load_model(str(tmp_path / "m"), trust=True)
    out = model.predict({"a": X[:, :2], "b": X[:, 2:]})
    np.testing.assert_allclose(out, X[:, :2] * 2 + X[:, 2:])
    with pytest.raises(SchemaEnforcementError, match=r"'b'.*dtype float32, got int64"):
        model.predict({"a": X[:, :2], "b": np.ones((6, 2), dtype=np.int64)})
    with pytest.raises(SchemaEnforcementError, match=r"'b'.*shape"):
        model.predict({"a": X[:, :2], "b": X[:, 2:3]})


def test_a_dataframe_in_gives_a_dataframe_out(tmp_path, net):
    frame = pd.DataFrame(X.astype(np.float64), columns=list("pqrs"), index=range(10, 16))
    cairn.pytorch.save_model(net, tmp_path / "m", input_example=frame.head(2))
    model = cairn.pyfunc.load_model(str(tmp_path / "m"), trust=True)
    out = model.predict(frame)
    assert isinstance(out, pd.DataFrame) and list(out.index) == list(frame.index)
    np.testing.assert_allclose(out.to_numpy(), _torch_out(net, X), rtol=1e-5, atol=1e-6)
    with pytest.raises(SchemaEnforcementError, match="'s'"):
        model.predict(frame.drop(columns=["s"]))


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore:.*TorchScript archive")
def test_torchscript_and_other_pickle_modules(tmp_path, net):
    import pickle

    scripted = torch.jit.script(net)
    cairn.pytorch.save_model(scripted, tmp_path / "jit")
    loaded = cairn.pytorch.load_model(tmp_path / "jit", trust=True)
    np.testing.assert_allclose(_torch_out(loaded, X), _torch_out(net, X), rtol=1e-6)

    cairn.pytorch.save_model(net, tmp_path / "plain", pickle_module=pickle)
    assert (tmp_path / "plain" / "data" / "pickle_module_info.txt").read_text() == "pickle"
    model = cairn.pyfunc.load_model(str(tmp_path / "plain"), trust=True)
    np.testing.assert_array_equal(model.predict(X), _torch_out(net, X))


def test_tensor_examples_are_saved_as_arrays(tmp_path, net):
    cairn.pytorch.save_model(net, tmp_path / "m", input_example=torch.from_numpy(X[:2]))
    assert Model.load(tmp_path / "m").signature.inputs.to_dict() == [
        {"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}
    ]


def test_a_class_from_code_paths_is_found_on_loading(tmp_path, monkeypatch):
    source = tmp_path / "src" / "cairn_test_doubler.py"
    source.parent.mkdir()
    source.write_text(
        "import torch\n"
        "class Doubler(torch.nn.Module):\n"
        "    def forward(self, x):\n"
        "        return x * 2\n"
    )
    monkeypatch.syspath_prepend(str(source.parent))
    from cairn_test_doubler import Doubler

    cairn.pytorch.save_model(Doubler(), tmp_path / "m", code_paths=[source])
    # Forget where the class came from: only the model's code/ directory can provide it now.
    monkeypatch.delitem(sys.modules, "cairn_test_doubler")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(source.parent)])
    source.unlink()
    model = cairn.pyfunc.load_model(str(tmp_path / "m"), trust=True)
    np.testing.assert_array_equal(model.predict(X), X * 2)
    assert sys.modules["cairn_test_doubler"].__file__.startswith(str(tmp_path / "m" / "code"))


def test_only_modules_are_saved(tmp_path):
    with pytest.raises(InvalidParameterValue, match=r"torch\.nn\.Module"):
        cairn.pytorch.save_model(lambda x: x, tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_a_changed_file_is_refused_before_loading(tmp_path, net):
    cairn.pytorch.save_model(net, tmp_path / "m")
    with open(tmp_path / "m" / "data" / "model.pth", "ab") as f:
        f.write(b"\0")
    with pytest.raises(ModelIntegrityError, match=r"changed: 'data/model\.pth'"):
        cairn.pytorch.load_model(tmp_path / "m", trust=True)
    with pytest.raises(ModelIntegrityError):
        cairn.pyfunc.load_model(str(tmp_path / "m"), trust=True)


MLFLOW_CODE = """
import json, mlflow.pyfunc, mlflow.pytorch, numpy as np, torch
from tests.test_pytorch import Net
x = np.load('x.npy')
a = mlflow.pyfunc.load_model('cairn_net').predict(x).tolist()
b = type(mlflow.pytorch.load_model('cairn_net')).__name__
torch.manual_seed(1)
# pip_requirements given: inferring them would load each model again in a subprocess.
mlflow.pytorch.save_model(Net().eval(), 'mlflow_pickle', input_example=x[:2],
                          serialization_format='pickle', pip_requirements=['torch'])
mlflow.pytorch.save_model(Net().eval(), 'mlflow_pt2', input_example=x[:2],
                          pip_requirements=['torch'])
print(json.dumps([a, b]))
"""


@pytest.fixture(scope="module")
def mlflow_side(tmp_path_factory, net) -> tuple[Path, list]:
    """One run of the real mlflow package: it loads a model Cairn saved and saves two, one
    pickled and one in its default `torch.export` format."""
    root = tmp_path_factory.mktemp("mlflow")
    cairn.pytorch.save_model(net, root / "cairn_net", input_example=X[:2])
    np.save(root / "x.npy", X)
    done = subprocess.run(
        [sys.executable, "-c", MLFLOW_CODE],
        cwd=root,
        env={**os.environ, "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true", "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return root, json.loads(done.stdout.strip().splitlines()[-1])


def test_mlflow_loads_a_model_cairn_saved(mlflow_side, net):
    _, (predictions, class_name) = mlflow_side
    np.testing.assert_allclose(np.asarray(predictions), _torch_out(net, X), rtol=1e-6)
    assert class_name == "Net"


@pytest.mark.parametrize("name", ["mlflow_pickle", "mlflow_pt2"])
def test_cairn_loads_models_mlflow_saved(mlflow_side, name):
    root, _ = mlflow_side
    with pytest.raises(UntrustedModelError):
        cairn.pyfunc.load_model(str(root / name))
    model = cairn.pyfunc.load_model(str(root / name), trust=True)
    module = cairn.pytorch.load_model(root / name, trust=True)
    np.testing.assert_allclose(model.predict(X), _torch_out(module, X), rtol=1e-6)
    with pytest.raises(SchemaEnforcementError, match="shape"):
        model.predict(X[:, :2])
