"""The real MLflow client against `cairn server`: run search, ordering and pagination."""

from __future__ import annotations

from typing import Any

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag, ViewType

from tests.server.mlflow_compat.support import unique


@pytest.fixture
def populated(client: MlflowClient) -> tuple[str, str, dict[str, str]]:
    """An experiment with five runs of known metrics, params, tags and statuses.

    name  acc   model  team   status
    r0    0.10  a      red    FINISHED
    r1    0.90  b      blue   FINISHED
    r2    0.50  a      red    FAILED
    r3    —     b      blue   RUNNING   (no acc metric)
    r4    0.70  c      —      FINISHED
    """
    name = unique()
    experiment_id = client.create_experiment(name)
    layout = [
        (0.10, "a", "red", "FINISHED"),
        (0.90, "b", "blue", "FINISHED"),
        (0.50, "a", "red", "FAILED"),
        (None, "b", "blue", "RUNNING"),
        (0.70, "c", None, "FINISHED"),
    ]
    ids: dict[str, str] = {}
    for i, (acc, model, team, status) in enumerate(layout):
        run_id = client.create_run(experiment_id, run_name=f"r{i}", start_time=1000 + i).info.run_id
        ids[f"r{i}"] = run_id
        metrics = [Metric("loss", 1.0 - i / 10, 5, 0)]
        if acc is not None:
            # An older, larger acc at an earlier step must not be what search compares.
            metrics += [Metric("acc", 0.99, 10, 0), Metric("acc", acc, 5, 1)]
        tags = [RunTag("team", team)] if team else []
        client.log_batch(run_id, metrics=metrics, params=[Param("model", model)], tags=tags)
        if status != "RUNNING":
            client.set_terminated(run_id, status)
    return experiment_id, name, ids


def names(runs: Any) -> list[str]:
    return [r.info.run_name for r in runs]


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("metrics.acc > 0.4", {"r1", "r2", "r4"}),
        ("metrics.acc <= 0.5", {"r0", "r2"}),
        ("metrics.acc != 0.5", {"r0", "r1", "r4"}),  # r3 has no acc: never matches
        ("metrics.acc = 0.99", set()),  # only the latest value counts
        ("params.model = 'a'", {"r0", "r2"}),
        ("params.model != 'a'", {"r1", "r3", "r4"}),
        ("params.model LIKE '%b%'", {"r1", "r3"}),
        ("params.model IN ('a', 'c')", None),  # IN is for run_id/datasets only (see below)
        ("tags.team = 'red'", {"r0", "r2"}),
        ("tags.team ILIKE 'BL%'", {"r1", "r3"}),
        ("tags.`mlflow.runName` = 'r3'", {"r3"}),
        ("attributes.run_name = 'r4'", {"r4"}),
        ("attributes.status = 'FAILED'", {"r2"}),
        ("status != 'FINISHED'", {"r2", "r3"}),
        ("attributes.start_time >= 1003", {"r3", "r4"}),
        ("metrics.acc > 0.2 AND params.model = 'a' AND tags.team = 'red'", {"r2"}),
        ("metrics.loss < 0.85 and attributes.status = 'FINISHED'", {"r4"}),
    ],
)
def test_filters(
    client: MlflowClient,
    populated: tuple[str, str, dict[str, str]],
    filter_string: str,
    expected: set[str] | None,
) -> None:
    experiment_id, _, _ = populated
    if expected is None:
        from mlflow.exceptions import MlflowException

        with pytest.raises(MlflowException) as excinfo:
            client.search_runs([experiment_id], filter_string)
        assert excinfo.value.error_code == "INVALID_PARAMETER_VALUE"
        return
    assert set(names(client.search_runs([experiment_id], filter_string))) == expected


def test_run_id_in_list(client: MlflowClient, populated: tuple[str, str, dict[str, str]]) -> None:
    experiment_id, _, ids = populated
    wanted = f"attributes.run_id IN ('{ids['r1']}', '{ids['r3']}')"
    assert set(names(client.search_runs([experiment_id], wanted))) == {"r1", "r3"}


def test_order_by(client: MlflowClient, populated: tuple[str, str, dict[str, str]]) -> None:
    experiment_id, _, _ = populated
    # Default: newest start_time first.
    assert names(client.search_runs([experiment_id])) == ["r4", "r3", "r2", "r1", "r0"]
    # A run without the metric sorts last in both directions.
    desc = client.search_runs([experiment_id], order_by=["metrics.acc DESC"])
    assert names(desc) == ["r1", "r4", "r2", "r0", "r3"]
    asc = client.search_runs([experiment_id], order_by=["metrics.acc ASC"])
    assert names(asc) == ["r0", "r2", "r4", "r1", "r3"]
    by_param = client.search_runs(
        [experiment_id], order_by=["params.model DESC", "attributes.start_time ASC"]
    )
    assert names(by_param) == ["r4", "r1", "r3", "r0", "r2"]
    assert names(client.search_runs([experiment_id], order_by=["run_name"])) == [
        f"r{i}" for i in range(5)
    ]
    top = client.search_runs(
        [experiment_id], "params.model != 'c'", order_by=["metrics.acc DESC"], max_results=1
    )
    assert names(top) == ["r1"]


def test_pagination_over_several_pages(client: MlflowClient) -> None:
    experiment_id = client.create_experiment(unique())
    created = [
        client.create_run(experiment_id, run_name=f"p{i}", start_time=5000 + i).info.run_id
        for i in range(7)
    ]
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = client.search_runs([experiment_id], max_results=3, page_token=token)
        pages += 1
        assert len(page) == (3 if pages < 3 else 1)
        seen += [r.info.run_id for r in page]
        token = page.token
        if token is None:
            break
    assert pages == 3
    assert seen == created[::-1]

    # Exactly one full page: no token is handed out for an empty next page.
    exact = client.search_runs([experiment_id], max_results=7)
    assert len(exact) == 7 and exact.token is None

    # The fluent search follows the tokens on its own.
    frame = mlflow.search_runs([experiment_id], max_results=5)
    assert len(frame) == 5
    assert len(mlflow.search_runs([experiment_id])) == 7


def test_view_types_and_several_experiments(client: MlflowClient) -> None:
    first, second = client.create_experiment(unique()), client.create_experiment(unique())
    kept = client.create_run(first).info.run_id
    gone = client.create_run(first).info.run_id
    other = client.create_run(second).info.run_id
    client.delete_run(gone)

    def ids(**kw: Any) -> set[str]:
        return {r.info.run_id for r in client.search_runs([first, second], **kw)}

    assert ids() == {kept, other}
    assert ids(run_view_type=ViewType.DELETED_ONLY) == {gone}
    assert ids(run_view_type=ViewType.ALL) == {kept, gone, other}


def test_search_runs_dataframe(
    client: MlflowClient, populated: tuple[str, str, dict[str, str]]
) -> None:
    experiment_id, name, ids = populated
    frame = mlflow.search_runs(experiment_names=[name], order_by=["metrics.acc DESC"])
    assert list(frame["run_id"]) == [ids[n] for n in ("r1", "r4", "r2", "r0", "r3")]
    for column in (
        "run_id",
        "experiment_id",
        "status",
        "artifact_uri",
        "start_time",
        "end_time",
        "metrics.acc",
        "metrics.loss",
        "params.model",
        "tags.team",
        "tags.mlflow.runName",
    ):
        assert column in frame.columns, column
    assert set(frame["experiment_id"]) == {experiment_id}
    assert list(frame["params.model"]) == ["b", "c", "a", "a", "b"]
    assert frame["metrics.acc"].iloc[0] == 0.9
    assert frame["metrics.acc"].isna().iloc[-1]
    assert str(frame["start_time"].dtype).startswith("datetime64")
    assert frame["status"].iloc[-1] == "RUNNING"

    filtered = mlflow.search_runs([experiment_id], filter_string="tags.team = 'red'")
    assert set(filtered["tags.mlflow.runName"]) == {"r0", "r2"}

    as_list = mlflow.search_runs([experiment_id], output_format="list", max_results=2)
    assert len(as_list) == 2
