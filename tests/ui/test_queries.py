"""The UI's own reads on every database: numbered run pages, run counts, column keys."""

from __future__ import annotations

import math
from typing import Any

import pytest

from cairn.entities import Metric, Param, RunTag
from cairn.exceptions import InvalidFilter
from cairn.ui.chart_data import chart_points
from cairn.ui.queries import column_keys, run_counts, runs_page


def filled(store: Any, n: int = 7) -> tuple[str, list[str]]:
    eid = store.create_experiment("ui-queries")
    ids = []
    for i in range(n):
        run = store.create_run(eid, start_time=1000 + i, run_name=f"r{i}")
        store.log_batch(
            run.info.run_id,
            metrics=[Metric("acc", i / 10, 0, 0), Metric("loss", 1 - i / 10, 0, 0)],
            params=[Param("lr", str(i))],
            tags=[RunTag("team", "a" if i % 2 else "b")],
        )
        ids.append(run.info.run_id)
    return eid, ids


def test_numbered_pages_follow_the_search_order(store: Any) -> None:
    eid, ids = filled(store)
    first = runs_page(store, int(eid), None, ["metrics.`acc` DESC"], 0, 3)
    assert [r["info"]["run_id"] for r in first.runs] == ids[::-1][:3] and first.has_more
    last = runs_page(store, int(eid), "params.lr != '0'", ["metrics.`acc` DESC"], 3, 3)
    assert [r["info"]["run_id"] for r in last.runs] == [ids[3], ids[2], ids[1]]
    assert not last.has_more
    past = runs_page(store, int(eid), None, [], 100, 3)
    assert past.runs == [] and not past.has_more
    with pytest.raises(InvalidFilter):
        runs_page(store, int(eid), "metrics.acc >", [], 0, 3)


def test_run_counts_leave_out_deleted_runs(store: Any) -> None:
    eid, ids = filled(store, 3)
    empty = store.create_experiment("ui-empty")
    store.delete_run(ids[0])
    assert run_counts(store, [eid, empty, "not-an-id"]) == {eid: 2}
    assert run_counts(store, []) == {}


def test_pages_counts_and_keys_by_lifecycle_stage(store: Any) -> None:
    eid, ids = filled(store, 3)
    store.delete_run(ids[1])
    gone = store.create_run(eid, start_time=9999, run_name="gone")
    store.log_batch(gone.info.run_id, metrics=[Metric("only-deleted", 1.0, 0, 0)])
    store.delete_run(gone.info.run_id)
    deleted = runs_page(store, int(eid), None, ["attributes.start_time DESC"], 0, 10, ["deleted"])
    assert [r["info"]["run_id"] for r in deleted.runs] == [gone.info.run_id, ids[1]]
    both = runs_page(store, int(eid), None, [], 0, 10, ["active", "deleted"])
    assert len(both.runs) == 4
    assert run_counts(store, [eid], ["deleted"]) == {eid: 2}
    assert run_counts(store, [eid], ["active", "deleted"]) == {eid: 4}
    assert "only-deleted" not in column_keys(store, int(eid)).metrics
    assert "only-deleted" in column_keys(store, int(eid), stages=["deleted"]).metrics


def test_column_keys_sample_the_newest_runs(store: Any) -> None:
    eid, _ = filled(store, 4)
    newest = store.create_run(eid, start_time=9999, run_name="newest")
    store.log_batch(newest.info.run_id, metrics=[Metric("only-new", 1.0, 0, 0)])
    keys = column_keys(store, int(eid))
    assert keys.metrics == ["acc", "loss", "only-new"]
    assert keys.params == ["lr"]
    assert "team" in keys.tags and "mlflow.runName" in keys.tags
    assert column_keys(store, int(eid), sample=1).metrics == ["only-new"]


def test_chart_points_on_every_database(store: Any) -> None:
    eid = store.create_experiment("ui-chart")
    run_id = store.create_run(eid).info.run_id
    values = [float(i % 50) for i in range(3000)]
    values[777] = 1000.0
    values[1500] = math.nan
    metrics = [Metric("m", v, i, i) for i, v in enumerate(values)]
    for i in range(0, 3000, 1000):
        store.log_batch(run_id, metrics=metrics[i : i + 1000])
    total, points = chart_points(store, run_id, "m", 200)
    assert total == 3000 and len(points) <= 200
    assert (777, 777, 1000.0) in points
    assert points[0][0] == 0 and points[-1][0] == 2999


def test_runs_by_id_on_every_database(store: Any) -> None:
    from cairn.ui.queries import runs_by_id

    _, ids = filled(store, 3)
    store.delete_run(ids[1])
    found = runs_by_id(store, [ids[0], ids[1], "0" * 32])
    assert set(found) == {ids[0], ids[1]}  # deleted runs too; unknown ids left out
    assert {p["key"]: p["value"] for p in found[ids[0]]["data"]["params"]} == {"lr": "0"}


def test_chart_points_of_many_runs_on_every_database(store: Any) -> None:
    from cairn.exceptions import ResourceDoesNotExist
    from cairn.ui.chart_data import chart_points_many

    _, ids = filled(store, 3)
    store.log_batch(ids[2], metrics=[Metric("acc", math.nan, 5, 1), Metric("acc", math.inf, 6, 2)])
    found = chart_points_many(store, ids, "acc", 100)

    def comparable(histories: Any) -> Any:  # NaN != NaN
        return [(n, [(s, t, repr(v)) for s, t, v in points]) for n, points in histories]

    alone = [chart_points(store, run_id, "acc", 100) for run_id in ids]
    assert comparable(found) == comparable(alone)
    assert found[0] == (1, [(0, 0, 0.0)])
    assert found[2][0] == 3 and math.isnan(found[2][1][1][2]) and found[2][1][2][2] == math.inf
    assert chart_points_many(store, ids[:2], "never", 100) == [(0, []), (0, [])]
    with pytest.raises(ResourceDoesNotExist):
        chart_points_many(store, [ids[0], "0" * 32], "acc", 100)
