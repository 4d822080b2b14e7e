"""The MLflow fluent API (`mlflow.start_run` and friends) against `cairn server`."""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from tests.server.mlflow_compat.support import unique

# MLflow's dataset digest code calls a pandas API that pandas 3 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:Starting with pandas version 4.0")


def test_a_training_script(server: Any, client: MlflowClient) -> None:
    assert mlflow.get_tracking_uri() == server.url
    name = unique()
    experiment = mlflow.set_experiment(name)  # created on first use
    assert experiment.name == name
    assert client.get_experiment_by_name(name).experiment_id == experiment.experiment_id

    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0.0, 1.0, 0.0]})
    dataset = mlflow.data.from_pandas(
        frame, source="https://example.com/data/train.csv", name="train", targets="y"
    )

    with mlflow.start_run(run_name="parent", tags={"team": "x"}) as parent:
        parent_id = parent.info.run_id
        assert parent.info.experiment_id == experiment.experiment_id
        mlflow.log_param("lr", 0.01)
        mlflow.log_params({"epochs": 3, "optimizer": "adam"})
        for step in range(3):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
            mlflow.log_metrics({"acc": step / 3, "f1": step / 4}, step=step)
        mlflow.set_tag("stage", "dev")
        mlflow.set_tags({"a": "1", "b": "2"})
        mlflow.log_input(dataset, context="training", tags={"split": "train"})

        with mlflow.start_run(run_name="child", nested=True) as child:
            child_id = child.info.run_id
            mlflow.log_metric("child_metric", 42.0)
        assert mlflow.active_run().info.run_id == parent_id

    assert mlflow.active_run() is None
    run = client.get_run(parent_id)
    assert run.info.status == "FINISHED"
    assert run.info.end_time is not None and run.info.end_time >= run.info.start_time
    assert run.info.run_name == "parent"
    assert run.data.params == {"lr": "0.01", "epochs": "3", "optimizer": "adam"}
    assert run.data.metrics == {"loss": 1.0 / 3, "acc": 2 / 3, "f1": 0.5}
    assert [m.step for m in client.get_metric_history(parent_id, "loss")] == [0, 1, 2]
    tags = run.data.tags
    assert tags["team"] == "x" and tags["stage"] == "dev" and tags["a"] == "1"
    for key in ("mlflow.user", "mlflow.source.name", "mlflow.source.type", "mlflow.runName"):
        assert key in tags, key
    assert run.info.user_id == tags["mlflow.user"]

    [dataset_input] = run.inputs.dataset_inputs
    assert dataset_input.dataset.name == "train"
    assert dataset_input.dataset.digest == dataset.digest
    assert dataset_input.dataset.source_type == "http"
    input_tags = {t.key: t.value for t in dataset_input.tags}
    assert input_tags["mlflow.data.context"] == "training"
    assert input_tags["split"] == "train"
    # The client can rebuild the dataset description it logged.
    assert mlflow.data.get_source(dataset_input).to_dict() == dataset.source.to_dict()
    assert '"x"' in dataset_input.dataset.schema

    nested = client.get_run(child_id)
    assert nested.data.tags["mlflow.parentRunId"] == parent_id
    assert nested.info.status == "FINISHED"
    children = mlflow.search_runs(
        [experiment.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent_id}'"
    )
    assert list(children["run_id"]) == [child_id]
    by_dataset = client.search_runs(
        [experiment.experiment_id], "datasets.name = 'train' AND datasets.context = 'training'"
    )
    assert [r.info.run_id for r in by_dataset] == [parent_id]


def test_failed_run_and_explicit_end(client: MlflowClient) -> None:
    experiment = mlflow.set_experiment(unique())
    with pytest.raises(RuntimeError), mlflow.start_run() as failing:
        raise RuntimeError("training blew up")
    assert client.get_run(failing.info.run_id).info.status == "FAILED"

    run = mlflow.start_run(experiment_id=experiment.experiment_id)
    mlflow.end_run(status="KILLED")
    assert client.get_run(run.info.run_id).info.status == "KILLED"

    # Resuming a finished run by id marks it running again, and ending it finishes it.
    with mlflow.start_run(run_id=run.info.run_id):
        mlflow.log_metric("resumed", 1.0)
        assert client.get_run(run.info.run_id).info.status == "RUNNING"
    resumed = client.get_run(run.info.run_id)
    assert resumed.info.status == "FINISHED" and resumed.data.metrics == {"resumed": 1.0}


def test_last_active_run_and_search_by_name(client: MlflowClient) -> None:
    name = unique()
    mlflow.set_experiment(name)
    with mlflow.start_run(run_name="only"):
        mlflow.log_metric("m", 3.0)
    last = mlflow.last_active_run()
    assert last is not None and last.data.metrics == {"m": 3.0}
    frame = mlflow.search_runs(experiment_names=[name])
    assert list(frame["tags.mlflow.runName"]) == ["only"]


def test_relogging_a_dataset_keeps_the_first_input(client: MlflowClient) -> None:
    mlflow.set_experiment(unique())
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    dataset = mlflow.data.from_pandas(frame, name="data")
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training")
        mlflow.log_input(dataset, context="evaluation")
    [only] = client.get_run(run.info.run_id).inputs.dataset_inputs
    assert {t.key: t.value for t in only.tags} == {"mlflow.data.context": "training"}
