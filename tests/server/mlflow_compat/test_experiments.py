"""The real MLflow client against `cairn server`: experiments and the errors a client sees."""

from __future__ import annotations

import time
from typing import Any

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

from tests.server.mlflow_compat.support import error_of, unique


def test_create_with_tags_then_get_and_get_by_name(client: MlflowClient) -> None:
    name = unique()
    experiment_id = client.create_experiment(name, tags={"team": "vision", "empty": ""})
    assert isinstance(experiment_id, str) and experiment_id.isdigit()

    experiment = client.get_experiment(experiment_id)
    assert experiment.experiment_id == experiment_id
    assert experiment.name == name
    assert experiment.lifecycle_stage == "active"
    assert experiment.tags == {"team": "vision", "empty": ""}
    assert experiment.artifact_location == f"mlflow-artifacts:/{experiment_id}"
    assert experiment.creation_time > 0
    assert experiment.last_update_time >= experiment.creation_time

    by_name = client.get_experiment_by_name(name)
    assert by_name is not None and by_name.experiment_id == experiment_id
    assert by_name.tags == experiment.tags
    assert client.get_experiment_by_name(unique("missing")) is None


def test_default_experiment_exists(client: MlflowClient) -> None:
    default = client.get_experiment("0")
    assert default.name == "Default"
    assert client.get_experiment_by_name("Default").experiment_id == "0"


def test_duplicate_name_is_resource_already_exists(client: MlflowClient) -> None:
    name = unique()
    experiment_id = client.create_experiment(name)
    with pytest.raises(MlflowException) as excinfo:
        client.create_experiment(name)
    assert error_of(excinfo) == ("RESOURCE_ALREADY_EXISTS", 400)

    # Names stay taken while the experiment is deleted.
    client.delete_experiment(experiment_id)
    with pytest.raises(MlflowException) as excinfo:
        client.create_experiment(name)
    assert error_of(excinfo)[0] == "RESOURCE_ALREADY_EXISTS"


def test_search_filter_order_view_type_and_pages(client: MlflowClient) -> None:
    group = unique("group")
    ids = [
        client.create_experiment(f"{group}-{i}", tags={"group": group, "parity": str(i % 2)})
        for i in range(5)
    ]
    client.delete_experiment(ids[4])
    by_group = f"tags.group = '{group}'"

    def names(experiments: Any) -> list[str]:
        return [e.name for e in experiments]

    found = client.search_experiments(filter_string=by_group, order_by=["name DESC"])
    assert names(found) == [f"{group}-{i}" for i in (3, 2, 1, 0)]
    assert found.token is None

    # Default order: newest first.
    assert [e.experiment_id for e in client.search_experiments(filter_string=by_group)] == [
        ids[3],
        ids[2],
        ids[1],
        ids[0],
    ]

    odd = client.search_experiments(
        filter_string=f"{by_group} AND tags.parity = '1'", order_by=["name ASC"]
    )
    assert names(odd) == [f"{group}-1", f"{group}-3"]
    like = client.search_experiments(filter_string=f"name LIKE '{group}-%'")
    assert len(like) == 4
    ilike = client.search_experiments(filter_string=f"name ILIKE '{group.upper()}-_'")
    assert len(ilike) == 4

    deleted = client.search_experiments(view_type=ViewType.DELETED_ONLY, filter_string=by_group)
    assert [e.experiment_id for e in deleted] == [ids[4]]
    assert deleted[0].lifecycle_stage == "deleted"
    everything = client.search_experiments(view_type=ViewType.ALL, filter_string=by_group)
    assert sorted(e.experiment_id for e in everything) == sorted(ids)

    # Pages of two over four active experiments: 2 + 2, the last page carries no token.
    first = client.search_experiments(max_results=2, filter_string=by_group, order_by=["name"])
    assert names(first) == [f"{group}-0", f"{group}-1"]
    assert first.token
    second = client.search_experiments(
        max_results=2, filter_string=by_group, order_by=["name"], page_token=first.token
    )
    assert names(second) == [f"{group}-2", f"{group}-3"]
    assert second.token is None

    # The fluent API follows the tokens itself.
    assert len(mlflow.search_experiments(filter_string=by_group, view_type=ViewType.ALL)) == 5


def test_rename(client: MlflowClient) -> None:
    old, new = unique(), unique()
    experiment_id = client.create_experiment(old)
    before = client.get_experiment(experiment_id).last_update_time
    time.sleep(0.005)
    client.rename_experiment(experiment_id, new)
    renamed = client.get_experiment(experiment_id)
    assert renamed.name == new
    assert renamed.last_update_time > before
    assert client.get_experiment_by_name(new).experiment_id == experiment_id
    assert client.get_experiment_by_name(old) is None

    taken = unique()
    client.create_experiment(taken)
    with pytest.raises(MlflowException) as excinfo:
        client.rename_experiment(experiment_id, taken)
    # MLflow itself answers BAD_REQUEST here (a raw database error); any 400 is compatible.
    assert error_of(excinfo)[1] == 400
    assert client.get_experiment(experiment_id).name == new


def test_delete_and_restore_take_the_runs_along(client: MlflowClient) -> None:
    name = unique()
    experiment_id = client.create_experiment(name)
    run_id = client.create_run(experiment_id).info.run_id

    client.delete_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "deleted"
    by_name = client.get_experiment_by_name(name)
    assert by_name is not None and by_name.lifecycle_stage == "deleted"
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    with pytest.raises(MlflowException) as excinfo:
        client.create_run(experiment_id)
    assert error_of(excinfo)[0] == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as excinfo:
        client.delete_experiment(experiment_id)
    assert error_of(excinfo) == ("RESOURCE_DOES_NOT_EXIST", 404)

    client.restore_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "active"
    assert client.get_run(run_id).info.lifecycle_stage == "active"
    with pytest.raises(MlflowException) as excinfo:
        client.restore_experiment(experiment_id)
    assert error_of(excinfo) == ("RESOURCE_DOES_NOT_EXIST", 404)


def test_set_and_delete_experiment_tags(client: MlflowClient) -> None:
    experiment_id = client.create_experiment(unique(), tags={"keep": "1"})
    client.set_experiment_tag(experiment_id, "stage", "draft")
    client.set_experiment_tag(experiment_id, "stage", "final")  # upsert
    client.set_experiment_tag(experiment_id, "mlflow.note.content", "# Notes\nmulti-line ✓")
    assert client.get_experiment(experiment_id).tags == {
        "keep": "1",
        "stage": "final",
        "mlflow.note.content": "# Notes\nmulti-line ✓",
    }
    client.delete_experiment_tag(experiment_id, "stage")
    assert "stage" not in client.get_experiment(experiment_id).tags
    with pytest.raises(MlflowException) as excinfo:
        client.delete_experiment_tag(experiment_id, "stage")
    assert error_of(excinfo) == ("RESOURCE_DOES_NOT_EXIST", 404)


def test_errors_the_client_sees(client: MlflowClient) -> None:
    with pytest.raises(MlflowException) as excinfo:
        client.get_experiment("987654321")
    assert error_of(excinfo) == ("RESOURCE_DOES_NOT_EXIST", 404)

    with pytest.raises(MlflowException) as excinfo:
        client.search_experiments(filter_string="name = ")
    assert error_of(excinfo) == ("INVALID_PARAMETER_VALUE", 400)

    with pytest.raises(MlflowException) as excinfo:
        client.search_experiments(filter_string="metrics.x > 1")
    assert error_of(excinfo) == ("INVALID_PARAMETER_VALUE", 400)

    with pytest.raises(MlflowException) as excinfo:
        client.search_experiments(order_by=["no_such_column"])
    assert error_of(excinfo) == ("INVALID_PARAMETER_VALUE", 400)

    with pytest.raises(MlflowException) as excinfo:
        client.search_experiments(max_results=2, page_token="not-a-token")
    assert error_of(excinfo) == ("INVALID_PARAMETER_VALUE", 400)

    with pytest.raises(MlflowException) as excinfo:
        client.create_experiment("")
    assert error_of(excinfo)[0] == "INVALID_PARAMETER_VALUE"
