"""Custom Python models: saved with their artifacts and code, loaded only with trust, called
with context and params as MLflow calls them; MLflow and Cairn load each other's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import cairn.pyfunc
from cairn.exceptions import InvalidParameterValue, SchemaEnforcementError, UntrustedModelError
from cairn.models import Model, infer_signature


class Scaled(cairn.pyfunc.PythonModel):
    """Multiplies column x by the factor stored in an artifact, plus the param `shift`."""

    def load_context(self, context):
        self.factor = float(Path(context.artifacts["factor"]).read_text())

    def predict(self, context, model_input, params=None):
        return model_input["x"] * self.factor + (params or {}).get("shift", 0.0)


class NoContext(cairn.pyfunc.PythonModel):
    def predict(self, model_input, params=None):
        return [len(model_input)] * len(model_input)


class Failing(cairn.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        raise RuntimeError("boom")


@pytest.fixture
def factor_file(tmp_path: Path) -> Path:
    path = tmp_path / "factor.txt"
    path.write_text("3")
    return path


def test_a_custom_model_round_trips_with_artifacts_and_params(tmp_path, factor_file):
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    cairn.pyfunc.save_model(
        tmp_path / "m",
        Scaled(),
        artifacts={"factor": str(factor_file)},
        signature=infer_signature(frame, None, {"shift": 0.0}),
    )
    factor_file.write_text("100")  # the model keeps its own copy

    model = cairn.pyfunc.load_model(str(tmp_path / "m"), trust=True)
    assert model.predict(frame).tolist() == [3.0, 6.0]
    assert model.predict(frame, params={"shift": 1}).tolist() == [4.0, 7.0]
    with pytest.raises(SchemaEnforcementError, match="shift"):
        model.predict(frame, params={"shift": "far"})
    with pytest.raises(SchemaEnforcementError, match="'x'"):
        model.predict(pd.DataFrame({"y": [1.0]}))

    config = Model.load(tmp_path / "m").flavors["python_function"]
    assert config["loader_module"] == "mlflow.pyfunc.model"
    assert config["artifacts"]["factor"]["path"] == "artifacts/factor/factor.txt"
    assert "cloudpickle==" in (tmp_path / "m" / "requirements.txt").read_text()


def test_a_custom_model_is_pickled_so_loading_needs_trust(tmp_path):
    cairn.pyfunc.save_model(tmp_path / "m", NoContext())
    with pytest.raises(UntrustedModelError, match="pickle"):
        cairn.pyfunc.load_model(str(tmp_path / "m"))


def test_predict_without_a_context_parameter(tmp_path):
    cairn.pyfunc.save_model(tmp_path / "m", NoContext())
    model = cairn.pyfunc.load_model(str(tmp_path / "m"), trust=True)
    assert model.predict(pd.DataFrame({"a": [1, 2, 3]})) == [3, 3, 3]
    assert isinstance(model.get_raw_model(), NoContext)


def test_the_signature_is_inferred_from_the_input_example(tmp_path, factor_file):
    example = pd.DataFrame({"x": [1.0, 2.0]})
    cairn.pyfunc.save_model(
        tmp_path / "m", Scaled(), artifacts={"factor": str(factor_file)}, input_example=example
    )
    signature = Model.load(tmp_path / "m").signature
    assert signature.inputs.input_names() == ["x"]
    assert signature.outputs is not None


def test_a_model_failing_on_its_example_keeps_an_input_signature(tmp_path):
    cairn.pyfunc.save_model(tmp_path / "m", Failing(), input_example=pd.DataFrame({"x": [1.0]}))
    signature = Model.load(tmp_path / "m").signature
    assert signature.inputs.input_names() == ["x"] and signature.outputs is None
    with pytest.raises(RuntimeError, match="boom"):
        cairn.pyfunc.load_model(str(tmp_path / "m"), trust=True).predict(pd.DataFrame({"x": [1.0]}))


def test_code_paths_are_saved_and_importable_when_loaded(tmp_path):
    package = tmp_path / "src" / "helpers_for_cairn_test"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("def double(v):\n    return v * 2\n")
    model_src = tmp_path / "src" / "model_def.py"
    model_src.write_text(
        "import cairn.pyfunc\n"
        "from helpers_for_cairn_test import double\n"
        "class Doubler(cairn.pyfunc.PythonModel):\n"
        "    def predict(self, context, model_input, params=None):\n"
        "        return double(model_input['x']).tolist()\n"
    )
    script = (
        "import sys, cairn.pyfunc\n"
        f"sys.path.insert(0, {str(tmp_path / 'src')!r})\n"
        "from model_def import Doubler\n"
        f"cairn.pyfunc.save_model({str(tmp_path / 'm')!r}, Doubler(), code_paths="
        f"[{str(package)!r}, {str(model_src)!r}])\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
    assert (tmp_path / "m" / "code" / "helpers_for_cairn_test" / "__init__.py").exists()
    # A fresh interpreter without src on its path loads it from the model's code directory.
    check = (
        "import cairn.pyfunc, pandas as pd\n"
        f"m = cairn.pyfunc.load_model({str(tmp_path / 'm')!r}, trust=True)\n"
        "print(m.predict(pd.DataFrame({'x': [1, 2]})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[2, 4]"


def test_requirements_can_be_replaced_or_extended_not_both(tmp_path):
    cairn.pyfunc.save_model(tmp_path / "a", NoContext(), pip_requirements=["numpy", "scipy>=1"])
    assert (tmp_path / "a" / "requirements.txt").read_text() == "numpy\nscipy>=1\n"
    cairn.pyfunc.save_model(tmp_path / "b", NoContext(), extra_pip_requirements=["scipy>=1"])
    lines = (tmp_path / "b" / "requirements.txt").read_text().splitlines()
    assert lines[-1] == "scipy>=1" and any(line.startswith("cairn-ml==") for line in lines)
    reqs = tmp_path / "reqs.txt"
    reqs.write_text("# pinned\npandas==2.2.0\n")
    cairn.pyfunc.save_model(tmp_path / "c", NoContext(), pip_requirements=str(reqs))
    assert (tmp_path / "c" / "requirements.txt").read_text() == "pandas==2.2.0\n"
    with pytest.raises(InvalidParameterValue, match="not both"):
        cairn.pyfunc.save_model(
            tmp_path / "d", NoContext(), pip_requirements=["a"], extra_pip_requirements=["b"]
        )
    assert not (tmp_path / "d").exists()


def test_bad_python_models_and_artifacts_are_refused(tmp_path):
    with pytest.raises(InvalidParameterValue, match="PythonModel"):
        cairn.pyfunc.save_model(tmp_path / "a", object())
    with pytest.raises(InvalidParameterValue, match="does not exist"):
        cairn.pyfunc.save_model(
            tmp_path / "b", NoContext(), artifacts={"x": str(tmp_path / "nope")}
        )
    with pytest.raises(InvalidParameterValue, match="artifact name"):
        cairn.pyfunc.save_model(tmp_path / "c", NoContext(), artifacts={"../x": str(tmp_path)})
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_model_without_pyfunc_flavor_or_with_an_unknown_loader(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    Model(flavors={"keras": {}}).save(tmp_path / "a")
    with pytest.raises(InvalidParameterValue, match="no python_function flavor"):
        cairn.pyfunc.load_model(str(tmp_path / "a"))
    Model(flavors={"python_function": {"loader_module": "os"}}).save(tmp_path / "b")
    with pytest.raises(UntrustedModelError, match="'os'"):
        cairn.pyfunc.load_model(str(tmp_path / "b"))


# The pickled test models refer to this module by name: the repository root goes on the path.
MLFLOW_ENV = {
    **os.environ,
    "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",
    "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
}


def test_mlflow_and_cairn_load_each_others_custom_models(tmp_path, factor_file):
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    cairn.pyfunc.save_model(
        tmp_path / "cairn_model",
        Scaled(),
        artifacts={"factor": str(factor_file)},
        input_example=frame,
    )
    script = (
        "import json, mlflow.pyfunc, pandas as pd\n"
        "class Plus(mlflow.pyfunc.PythonModel):\n"
        "    def predict(self, context, model_input, params=None):\n"
        "        return model_input['x'] + (params or {}).get('k', 1)\n"
        "frame = pd.DataFrame({'x': [1.0, 2.0]})\n"
        "mlflow.pyfunc.save_model('mlflow_model', python_model=Plus(), input_example=frame,\n"
        "    signature=mlflow.models.infer_signature(frame, params={'k': 1}))\n"
        "print(json.dumps(mlflow.pyfunc.load_model('cairn_model').predict(frame).tolist()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=MLFLOW_ENV, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [3.0, 6.0]

    theirs = cairn.pyfunc.load_model(str(tmp_path / "mlflow_model"), trust=True)
    assert theirs.predict(frame, params={"k": 10}).tolist() == [11.0, 12.0]
    with pytest.raises(UntrustedModelError):
        cairn.pyfunc.load_model(str(tmp_path / "mlflow_model"))
