"""The MLmodel file: what `Model` writes, what it reads back, and that MLflow agrees."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
import yaml

from cairn.exceptions import InvalidParameterValue, ResourceDoesNotExist
from cairn.models import (
    ColSpec,
    DataType,
    Model,
    ModelSignature,
    ParamSchema,
    ParamSpec,
    Schema,
    TensorSpec,
)
from cairn.models.mlmodel import MLMODEL_FILE, TIME_FORMAT
from cairn.version import __version__

SIGNATURE = ModelSignature(
    Schema([ColSpec("double", "x"), ColSpec("string", "city", required=False)]),
    Schema([TensorSpec("float64", (-1,))]),
    ParamSchema([ParamSpec("k", DataType.long, 3)]),
)


def _model() -> Model:
    model = Model(artifact_path="model", run_id="0123456789abcdef0123456789abcdef")
    model.add_flavor("python_function", loader_module="my_flavor", env={"virtualenv": "e.yaml"})
    model.add_flavor("my_flavor", pickled_model="model.pkl", version="1.2")
    model.signature = SIGNATURE
    model.saved_input_example_info = {"artifact_path": "input_example.json", "type": "ndarray"}
    model.model_size_bytes = 1234
    model.metadata = {"team": "fraud", "tags": ["a", "b"]}
    return model


def test_a_new_model_gets_a_uuid_a_creation_time_and_cairns_version() -> None:
    model = Model()
    assert re.fullmatch(r"[0-9a-f]{32}", model.model_uuid)
    created = dt.datetime.strptime(model.utc_time_created, TIME_FORMAT)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert abs(now - created) < dt.timedelta(minutes=1)
    assert model.cairn_version == __version__
    assert model.mlflow_version is None  # never claims to be an MLflow version
    assert Model().model_uuid != model.model_uuid


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    model = _model()
    path = model.save(tmp_path)
    assert path == tmp_path / MLMODEL_FILE
    loaded = Model.load(tmp_path)
    assert loaded == model
    assert loaded.signature == SIGNATURE
    assert loaded.flavors["my_flavor"] == {"pickled_model": "model.pkl", "version": "1.2"}
    assert Model.load(path) == model  # the file itself, or the directory holding it


def test_the_signature_is_written_as_a_map_of_json_strings(tmp_path: Path) -> None:
    _model().save(tmp_path)
    raw = yaml.safe_load((tmp_path / MLMODEL_FILE).read_text())
    assert all(isinstance(v, str) for v in raw["signature"].values())
    assert raw["signature"]["inputs"] == SIGNATURE.inputs.to_json()  # type: ignore[union-attr]


def test_unset_fields_are_left_out_and_keys_are_sorted(tmp_path: Path) -> None:
    Model(model_uuid="u", utc_time_created="2026-01-01 00:00:00.000000").save(tmp_path)
    text = (tmp_path / MLMODEL_FILE).read_text()
    assert text == (
        f"cairn_version: {__version__}\n"
        "flavors: {}\n"
        "model_uuid: u\n"
        "utc_time_created: '2026-01-01 00:00:00.000000'\n"
    )


def test_saving_twice_gives_the_same_bytes(tmp_path: Path) -> None:
    first = _model().save(tmp_path / "a.yaml")
    second = Model.load(first).save(tmp_path / "b.yaml")
    assert first.read_bytes() == second.read_bytes()


def test_unknown_keys_survive_a_load_and_save(tmp_path: Path) -> None:
    (tmp_path / MLMODEL_FILE).write_text(
        "flavors: {}\n"
        "model_uuid: abc\n"
        "databricks_runtime: '15.4'\n"
        "resources: {api_version: '1', databricks: {serving_endpoint: [{name: e}]}}\n"
        "future_key: [1, 2, {nested: true}]\n"
    )
    model = Model.load(tmp_path)
    assert model.extras == {
        "databricks_runtime": "15.4",
        "resources": {"api_version": "1", "databricks": {"serving_endpoint": [{"name": "e"}]}},
        "future_key": [1, 2, {"nested": True}],
    }
    model.save(tmp_path / "again")
    again = yaml.safe_load((tmp_path / "again").read_text())
    assert again["future_key"] == [1, 2, {"nested": True}]
    assert again["resources"]["databricks"] == {"serving_endpoint": [{"name": "e"}]}
    assert again["databricks_runtime"] == "15.4"


def test_a_file_without_optional_keys_loads() -> None:
    model = Model.from_yaml("flavors:\n  python_function: {loader_module: m}\n")
    assert model.flavors == {"python_function": {"loader_module": "m"}}
    assert model.signature is None and model.run_id is None


def test_a_missing_file_is_resource_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(ResourceDoesNotExist, match="No MLmodel file"):
        Model.load(tmp_path)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("flavors: [a, b]\n", "'flavors' should map"),
        ("flavors: {pyfunc: 3}\n", "'flavors' should map"),
        ("signature: 'inputs'\n", "'signature' should be a map"),
        ("metadata: [1]\n", "'metadata' should be a map"),
        ("model_size_bytes: big\n", "should be an integer"),
        ("- just\n- a list\n", "should hold a YAML map"),
        ("flavors: {a: [\n", "not valid YAML"),
        ("x: !!python/object/apply:os.system ['true']\n", "not valid YAML"),  # safe_load only
    ],
)
def test_malformed_files_are_refused_with_a_reason(text: str, complaint: str) -> None:
    with pytest.raises(InvalidParameterValue, match=re.escape(complaint)):
        Model.from_yaml(text)


def test_saving_replaces_the_file_whole(tmp_path: Path) -> None:
    _model().save(tmp_path)
    Model(model_uuid="second").save(tmp_path)
    assert Model.load(tmp_path).model_uuid == "second"
    assert [p.name for p in tmp_path.iterdir()] == [MLMODEL_FILE]  # no temporary left behind


# --- MLflow interop (mlflow-skinny is a test dependency) ---------------------------------------


def test_mlflow_reads_what_cairn_writes(tmp_path: Path) -> None:
    from mlflow.models import Model as MlflowModel

    model = _model()
    model.extras["future_key"] = {"kept": True}
    model.save(tmp_path)
    theirs = MlflowModel.load(str(tmp_path))
    assert theirs.flavors == model.flavors
    assert theirs.run_id == model.run_id
    assert theirs.model_uuid == model.model_uuid
    assert theirs.artifact_path == "model"
    assert theirs.utc_time_created == model.utc_time_created
    assert theirs.saved_input_example_info == model.saved_input_example_info
    assert theirs.metadata == model.metadata
    assert {k: json.loads(v) for k, v in theirs.signature.to_dict().items()} == {
        k: json.loads(v) for k, v in SIGNATURE.to_dict().items() if v is not None
    }
    assert theirs.get_params_schema().to_dict() == SIGNATURE.params.to_dict()  # type: ignore[union-attr]


def test_cairn_reads_what_mlflow_writes(tmp_path: Path) -> None:
    from mlflow.models import Model as MlflowModel
    from mlflow.models.signature import ModelSignature as MlflowSignature

    theirs = MlflowModel(artifact_path="model", run_id="r1", metadata={"owner": "me"})
    theirs.add_flavor("python_function", loader_module="mlflow.sklearn", model_path="model.pkl")
    theirs.add_flavor("sklearn", pickled_model="model.pkl", serialization_format="cloudpickle")
    theirs.signature = MlflowSignature.from_dict(SIGNATURE.to_dict())
    theirs.model_size_bytes = 99
    theirs.save(str(tmp_path / MLMODEL_FILE))

    ours = Model.load(tmp_path)
    assert ours.flavors == theirs.flavors
    assert ours.run_id == "r1"
    assert ours.model_uuid == theirs.model_uuid
    assert ours.utc_time_created == theirs.utc_time_created
    assert ours.signature == SIGNATURE
    assert ours.metadata == {"owner": "me"}
    assert ours.model_size_bytes == 99
    assert ours.mlflow_version == theirs.mlflow_version  # MLflow's own number, kept as it was

    # And back again: nothing MLflow wrote is lost when Cairn rewrites the file (a null is
    # the same as an absent key; the signature's JSON may come back with its keys reordered).
    def meaning(text: str) -> dict[str, object]:
        d = {k: v for k, v in yaml.safe_load(text).items() if v is not None}
        d["signature"] = {k: json.loads(v) for k, v in d["signature"].items() if v}
        return d

    before = meaning((tmp_path / MLMODEL_FILE).read_text())
    ours.save(tmp_path)
    after = meaning((tmp_path / MLMODEL_FILE).read_text())
    assert "cairn_version" not in after  # a file Cairn did not write does not claim it did
    assert after == before
