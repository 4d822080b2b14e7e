"""Fluent searches: every match across pages, as a DataFrame (MLflow's shape) or a list."""

from __future__ import annotations

import pytest

import cairn
from cairn.entities import Run
from cairn.exceptions import InvalidParameterValue
from cairn.tracking import fluent_search

pytestmark = pytest.mark.usefixtures("tracking_uri")
pd = pytest.importorskip("pandas")


def _runs(experiment: str, n: int) -> list[str]:
    exp_id = cairn.set_experiment(experiment).experiment_id
    ids = []
    for i in range(n):
        with cairn.start_run(run_name=f"{experiment}-{i}") as run:
            cairn.log_metric("acc", i / 10)
            cairn.log_param("i", i)
            if i % 2:
                cairn.log_metric("odd", 1)
        ids.append(run.info.run_id)
    assert exp_id
    return ids


def test_dataframe_columns_and_types() -> None:
    ids = _runs("frame", 3)
    df = cairn.search_runs(order_by=["metrics.acc DESC"])

    assert isinstance(df, pd.DataFrame)
    assert list(df.columns[:6]) == [
        "run_id",
        "experiment_id",
        "status",
        "artifact_uri",
        "start_time",
        "end_time",
    ]
    assert {"metrics.acc", "metrics.odd", "params.i", "tags.mlflow.runName"} <= set(df.columns)
    assert list(df["run_id"]) == ids[::-1]
    assert list(df["status"]) == ["FINISHED"] * 3
    assert list(df["params.i"]) == ["2", "1", "0"]
    assert str(df["start_time"].dtype).startswith("datetime64")
    assert str(df["start_time"].dt.tz) == "UTC"
    assert df["metrics.odd"].isna().tolist() == [True, False, True]


def test_running_runs_have_no_end_time() -> None:
    with cairn.start_run():
        df = cairn.search_runs()
    assert df["end_time"].isna().all()


def test_empty_result_still_has_the_info_columns() -> None:
    df = cairn.search_runs()
    assert len(df) == 0
    assert list(df.columns) == list(fluent_search.INFO_COLUMNS)


def test_list_output_format() -> None:
    ids = _runs("listed", 2)
    runs = cairn.search_runs(output_format="list", filter_string="metrics.acc > 0.05")
    assert all(isinstance(r, Run) for r in runs)
    assert [r.info.run_id for r in runs] == [ids[1]]


def test_unknown_output_format_is_refused() -> None:
    with pytest.raises(InvalidParameterValue, match="output_format"):
        cairn.search_runs(output_format="arrow")  # type: ignore[arg-type]


def test_pages_are_followed_until_max_results(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fluent_search, "_RUNS_PER_PAGE", 2)
    ids = _runs("paged", 5)
    assert len(cairn.search_runs(output_format="list")) == 5
    some = cairn.search_runs(output_format="list", max_results=3, order_by=["metrics.acc"])
    assert [r.info.run_id for r in some] == ids[:3]


def test_scope_by_names_ids_and_all_experiments() -> None:
    a = _runs("scope-a", 1)
    b = _runs("scope-b", 2)
    exp_a = cairn.get_experiment_by_name("scope-a")
    assert exp_a is not None

    def found(**kwargs: object) -> set[str]:
        return set(cairn.search_runs(output_format="list", **kwargs))  # type: ignore[arg-type]

    def ids(**kwargs: object) -> set[str]:
        runs = cairn.search_runs(output_format="list", **kwargs)  # type: ignore[arg-type]
        return {r.info.run_id for r in runs}  # type: ignore[union-attr]

    assert ids() == set(b)  # the current experiment
    assert ids(experiment_ids=[exp_a.experiment_id]) == set(a)
    assert ids(experiment_ids=exp_a.experiment_id) == set(a)
    assert ids(experiment_names=["scope-a", "scope-b", "missing"]) == set(a + b)
    assert ids(experiment_names=["missing"]) == set()
    assert ids(search_all_experiments=True) == set(a + b)
    with pytest.raises(InvalidParameterValue):
        found(experiment_ids=["0"], experiment_names=["scope-a"])


def test_search_experiments_follows_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fluent_search, "SEARCH_MAX_RESULTS_DEFAULT", 2)
    for i in range(4):
        cairn.create_experiment(f"x{i}")
    names = {e.name for e in cairn.search_experiments()}
    assert names == {"Default", "x0", "x1", "x2", "x3"}
    assert len(cairn.search_experiments(max_results=3)) == 3
    assert [e.name for e in cairn.search_experiments(filter_string="name = 'x2'")] == ["x2"]
