"""MLflow 3's logged models through the real MLflow client against `cairn server`:
`mlflow.sklearn.log_model` end to end, loading by `models:/<id>` and `runs:/`, search,
registration, and the `MlflowClient` logged-model methods."""

from __future__ import annotations

from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.entities import LoggedModelOutput, LoggedModelStatus
from mlflow.exceptions import MlflowException

from tests.server.mlflow_compat.support import error_of, unique

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]


@pytest.fixture
def trained() -> tuple[Any, pd.DataFrame]:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(40, 3)), columns=["a", "b", "c"])
    y = (x["a"] + x["b"] > 0).astype(int)
    return LogisticRegression().fit(x, y), x


def test_sklearn_log_model_load_search_and_register(
    server: Any, client: MlflowClient, trained: tuple[Any, pd.DataFrame]
) -> None:
    model, x = trained
    experiment = mlflow.set_experiment(unique())
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(model, name="model", input_example=x.head(3))
        mlflow.log_metric("accuracy", 0.9, model_id=info.model_id)
    run_id = run.info.run_id

    assert info.model_id.startswith("m-") and len(info.model_id) == 34
    logged = client.get_logged_model(info.model_id)
    assert logged.status == LoggedModelStatus.READY
    assert logged.name == "model" and logged.source_run_id == run_id
    assert logged.experiment_id == experiment.experiment_id
    assert logged.artifact_location == (
        f"mlflow-artifacts:/{experiment.experiment_id}/models/{info.model_id}/artifacts"
    )
    assert [(m.key, m.value) for m in logged.metrics or []] == [("accuracy", 0.9)]
    assert client.get_run(run_id).data.metrics["accuracy"] == 0.9

    expected = model.predict(x)
    by_id = mlflow.sklearn.load_model(f"models:/{info.model_id}")
    by_run = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    assert (by_id.predict(x) == expected).all()
    assert (np.asarray(by_run.predict(x)) == expected).all()

    found = mlflow.search_logged_models(
        experiment_ids=[experiment.experiment_id],
        filter_string="name = 'model' AND metrics.accuracy > 0.5",
        output_format="list",
    )
    assert [m.model_id for m in found] == [info.model_id]
    files = {f.path for f in client.list_logged_model_artifacts(info.model_id)}
    assert "MLmodel" in files

    name = unique("registered")
    version = mlflow.register_model(info.model_uri, name)
    assert version.version == "1"
    assert client.get_model_version(name, "1").status == "READY"
    registered = mlflow.sklearn.load_model(f"models:/{name}/1")
    assert (registered.predict(x) == expected).all()
    # runs:/<run>/model also registers the logged model (no MLmodel in the run's artifacts).
    assert mlflow.register_model(f"runs:/{run_id}/model", name).version == "2"


def test_client_logged_model_methods(server: Any, client: MlflowClient) -> None:
    experiment_id = client.create_experiment(unique())
    run = client.create_run(experiment_id)
    model = client.create_logged_model(
        experiment_id,
        name="clf",
        source_run_id=run.info.run_id,
        tags={"team": "a"},
        params={"alpha": "0.1"},
        model_type="classifier",
    )
    assert model.status == LoggedModelStatus.PENDING
    assert model.params == {"alpha": "0.1"} and model.tags == {"team": "a"}
    client.log_model_params(model.model_id, {"beta": "2"})
    client.set_logged_model_tags(model.model_id, {"stage": "dev", "team": "b"})
    client.delete_logged_model_tag(model.model_id, "stage")
    ready = client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    assert ready.status == LoggedModelStatus.READY
    got = client.get_logged_model(model.model_id)
    assert got.params == {"alpha": "0.1", "beta": "2"} and got.tags == {"team": "b"}
    assert got.model_type == "classifier"
    client.log_outputs(run.info.run_id, [LoggedModelOutput(model.model_id, 3)])

    other = client.create_logged_model(experiment_id)  # a generated name
    assert other.name
    page = client.search_logged_models(
        [experiment_id], order_by=[{"field_name": "name", "ascending": True}], max_results=1
    )
    assert len(page) == 1 and page.token
    rest = client.search_logged_models(
        [experiment_id],
        order_by=[{"field_name": "name", "ascending": True}],
        max_results=1,
        page_token=page.token,
    )
    names = sorted([model.name, other.name])
    assert [page[0].name, rest[0].name] == names
    filtered = client.search_logged_models(
        [experiment_id], filter_string="params.alpha = '0.1' AND status = 'READY'"
    )
    assert [m.model_id for m in filtered] == [model.model_id]

    client.delete_logged_model(model.model_id)
    with pytest.raises(MlflowException) as excinfo:
        client.get_logged_model(model.model_id)
    assert error_of(excinfo) == ("RESOURCE_DOES_NOT_EXIST", 404)
    with pytest.raises(MlflowException) as excinfo:
        client.search_logged_models([experiment_id], filter_string="nope = 1")
    assert error_of(excinfo) == ("INVALID_PARAMETER_VALUE", 400)
