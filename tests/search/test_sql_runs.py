"""search_runs compiled to SQL, against the real store on every database: examples that read as
the semantics (tests/store/test_search_property.py checks the same on random data)."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import mysql, postgresql, sqlite

from cairn.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunStatus, RunTag
from cairn.exceptions import InvalidFilter, InvalidParameterValue
from cairn.store.sql import search_runs as search_module
from cairn.store.sql.search_runs import select_run_pks


@pytest.fixture
def runs(store):
    """Five runs named r0..r4 (start times 1000..1004) in a fresh experiment.

    r0: m=1,   p=a, t=x       r1: m=NaN, p=b
    r2: p=a, t=y (no m)       r3: m=3, t=x (no p)       r4: m=2, p=A, t=X, FINISHED
    """
    eid = store.create_experiment("search")
    rows = [
        (1.0, "a", "x"),
        (math.nan, "b", None),
        (None, "a", "y"),
        (3.0, None, "x"),
        (2.0, "A", "X"),
    ]
    for i, (m, p, t) in enumerate(rows):
        run_id = store.create_run(
            eid, user_id="alice" if i % 2 else "bob", start_time=1000 + i, run_name=f"r{i}"
        ).info.run_id
        store.log_batch(
            run_id,
            metrics=[] if m is None else [Metric("m", m, 0, 0)],
            params=[] if p is None else [Param("p", p)],
            tags=[] if t is None else [RunTag("t", t)],
        )
    r4 = store.search_runs([eid], "run_name = 'r4'")[0].info.run_id
    store.update_run_info(r4, status=RunStatus.FINISHED, end_time=2000)
    return store, eid


def names(runs, filter_string=None, order_by=None, **kw) -> list[str]:
    store, eid = runs
    found = store.search_runs([eid], filter_string, order_by=order_by, **kw)
    return [r.info.run_name for r in found]


def test_default_order_is_newest_first(runs):
    assert names(runs) == ["r4", "r3", "r2", "r1", "r0"]


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("metrics.m > 1", ["r4", "r3"]),
        ("metrics.m >= 1", ["r4", "r3", "r0"]),
        ("metrics.m = 2", ["r4"]),
        ("metrics.m != 1", ["r4", "r3"]),  # r1 (NaN) and r2 (no m) never match
        ("metrics.m < 100", ["r4", "r3", "r0"]),
        ("metrics.never_logged != 1", []),
        ("params.p = 'a'", ["r2", "r0"]),
        ("params.p != 'a'", ["r4", "r1"]),  # r3 lacks p: no match, even for !=
        ("params.p LIKE 'a'", ["r2", "r0"]),  # LIKE is case-sensitive
        ("params.p ILIKE 'a'", ["r4", "r2", "r0"]),
        ("params.p IS NULL", ["r3"]),
        ("params.p IS NOT NULL", ["r4", "r2", "r1", "r0"]),
        ("tags.t = 'x'", ["r3", "r0"]),
        ("tags.t ILIKE 'X'", ["r4", "r3", "r0"]),
        ("tags.`mlflow.runName` = 'r3'", ["r3"]),
        ("run_name LIKE 'r%'", ["r4", "r3", "r2", "r1", "r0"]),
        ("`Run name` IN ('r1', 'r2')", ["r2", "r1"]),
        ("attributes.status = 'FINISHED'", ["r4"]),
        ("status != 'FINISHED'", ["r3", "r2", "r1", "r0"]),
        ("user_id = 'alice'", ["r3", "r1"]),
        ("start_time >= 1003", ["r4", "r3"]),
        ("created < 1001", ["r0"]),
        ("end_time > 0", ["r4"]),  # runs without an end time never match
        ("end_time != 5", ["r4"]),
        ("lifecycle_stage = 'active'", ["r4", "r3", "r2", "r1", "r0"]),
    ],
)
def test_comparisons(runs, filter_string, expected):
    assert names(runs, filter_string) == expected


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("metrics.m > 2.5 OR params.p = 'b'", ["r3", "r1"]),
        ("metrics.m > 2.5 OR params.p = 'b' AND tags.t = 'x'", ["r3"]),  # AND first
        ("(metrics.m > 2.5 OR params.p = 'b') AND tags.t IS NULL", ["r1"]),
        ("(params.p IS NULL OR tags.t IS NULL) AND NOT_A_FILTER", None),
    ],
)
def test_or_and_parentheses(runs, filter_string, expected):
    if expected is None:
        with pytest.raises(InvalidFilter):
            names(runs, filter_string)
    else:
        assert names(runs, filter_string) == expected


def test_run_id_in_and_not_in(runs):
    store, eid = runs
    ids = {r.info.run_name: r.info.run_id for r in store.search_runs([eid])}
    assert names(runs, f"run_id IN ('{ids['r1']}', '{ids['r3']}')") == ["r3", "r1"]
    assert names(runs, f"attributes.run_id NOT IN ('{ids['r1']}')") == ["r4", "r3", "r2", "r0"]
    assert names(runs, f"run_id = '{ids['r2']}'") == ["r2"]


def test_like_escapes_with_backslash_on_every_database(store):
    eid = store.create_experiment("like")
    for i, value in enumerate(["100%", "1000", "a_b", "axb", "c:\\dir"]):
        run_id = store.create_run(eid, start_time=i, run_name=f"v{i}").info.run_id
        store.log_param(run_id, Param("p", value))
    got = lambda f: sorted(r.data.params["p"] for r in store.search_runs([eid], f))  # noqa: E731
    assert got("params.p LIKE '100\\%'") == ["100%"]
    assert got("params.p LIKE '100%'") == ["100%", "1000"]
    assert got("params.p LIKE 'a\\_b'") == ["a_b"]
    assert got("params.p LIKE 'a_b'") == ["a_b", "axb"]
    assert got("params.p LIKE 'c:\\\\%'") == ["c:\\dir"]
    assert got("params.p ILIKE 'A\\_B'") == ["a_b"]


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (["metrics.m ASC"], ["r0", "r4", "r3", "r2", "r1"]),  # missing and NaN last ...
        (["metrics.m DESC"], ["r3", "r4", "r0", "r2", "r1"]),  # ... in both directions
        (["params.p"], ["r4", "r2", "r0", "r1", "r3"]),  # 'A' < 'a' (code points), ties newest
        (["params.p DESC"], ["r1", "r2", "r0", "r4", "r3"]),
        (["tags.t", "metrics.m DESC"], ["r4", "r3", "r0", "r2", "r1"]),
        (["start_time"], ["r0", "r1", "r2", "r3", "r4"]),
        (["end_time DESC"], ["r4", "r3", "r2", "r1", "r0"]),
        (["run_name DESC"], ["r4", "r3", "r2", "r1", "r0"]),
        (["status", "`Run name` DESC"], ["r4", "r3", "r2", "r1", "r0"]),
    ],
)
def test_order_by(runs, order_by, expected):
    assert names(runs, order_by=order_by) == expected


@pytest.mark.parametrize("walk", [1, 10_000])
@pytest.mark.parametrize("threshold", [0, 1, 5000])
@pytest.mark.parametrize("order_by", [None, ["metrics.m DESC"], ["params.p"]])
def test_every_plan_gives_the_same_answer(runs, monkeypatch, threshold, walk, order_by):
    """Driver threshold 0 rules the filter-driven plan out, 5000 in; a walk of 1 index entry
    makes the order-driven plan fall back to scanning."""
    monkeypatch.setattr(search_module, "FILTER_DRIVER_MAX_ROWS", threshold)
    monkeypatch.setattr(search_module, "ORDER_WALK_MIN", walk)
    monkeypatch.setattr(search_module, "ORDER_WALK_FACTOR", 1)
    expected = {
        None: ["r4", "r3", "r0"],
        ("metrics.m DESC",): ["r3", "r4", "r0"],
        ("params.p",): ["r4", "r0", "r3"],
    }[tuple(order_by) if order_by else None]
    assert names(runs, "metrics.m >= 1", order_by) == expected
    assert names(runs, None, order_by)[:3] == (
        ["r4", "r3", "r2"]
        if order_by is None
        else expected[:3]
        if order_by[0][0] == "m"
        else ["r4", "r2", "r0"]
    )


def test_pages_follow_the_order(runs):
    store, eid = runs
    seen, token = [], None
    while True:
        page = store.search_runs(
            [eid], None, max_results=2, order_by=["metrics.m"], page_token=token
        )
        seen.append([r.info.run_name for r in page])
        token = page.token
        if token is None:
            break
    assert seen == [["r0", "r4"], ["r3", "r2"], ["r1"]]


def test_a_page_token_belongs_to_its_query(runs):
    store, eid = runs
    page = store.search_runs([eid], None, max_results=2, order_by=["metrics.m"])
    with pytest.raises(InvalidParameterValue):
        store.search_runs(
            [eid], None, max_results=2, order_by=["metrics.m DESC"], page_token=page.token
        )
    with pytest.raises(InvalidParameterValue):
        store.search_runs(
            [eid], "metrics.m > 0", max_results=2, order_by=["metrics.m"], page_token=page.token
        )


def test_view_types_and_several_experiments(runs):
    store, eid = runs
    other = store.create_experiment("other")
    store.create_run(other, start_time=5000, run_name="o0")
    doomed = store.search_runs([eid], "run_name = 'r0'")[0].info.run_id
    store.delete_run(doomed)
    assert [r.info.run_name for r in store.search_runs([eid, other])] == [
        "o0",
        "r4",
        "r3",
        "r2",
        "r1",
    ]
    assert names(runs, run_view_type="DELETED_ONLY") == ["r0"]
    assert names(runs, run_view_type="ALL") == ["r4", "r3", "r2", "r1", "r0"]


def test_dataset_filters(store):
    eid = store.create_experiment("datasets")

    def run_with(name: str, *inputs: tuple[str, str, str | None]) -> None:
        run_id = store.create_run(eid, run_name=name, start_time=len(name)).info.run_id
        store.log_inputs(
            run_id,
            [
                DatasetInput(
                    Dataset(ds, digest, "local", "/data"),
                    () if context is None else (InputTag("mlflow.data.context", context),),
                )
                for ds, digest, context in inputs
            ],
        )

    run_with("a", ("iris", "d1", "train"), ("wine", "d2", "eval"))
    run_with("bb", ("iris", "d3", None))
    store.create_run(eid, run_name="ccc", start_time=3)
    got = lambda f: sorted(r.info.run_name for r in store.search_runs([eid], f))  # noqa: E731
    assert got("datasets.name = 'iris'") == ["a", "bb"]
    assert got("dataset.name != 'iris'") == ["a"]  # a also has wine; ccc has no dataset at all
    assert got("datasets.digest IN ('d2', 'd3')") == ["a", "bb"]
    assert got("datasets.digest NOT IN ('d1', 'd2')") == ["bb"]
    assert got("datasets.name LIKE 'w%'") == ["a"]
    assert got("datasets.name ILIKE 'IRIS'") == ["a", "bb"]
    assert got("datasets.context = 'train'") == ["a"]
    assert got("datasets.context IN ('eval', 'test')") == ["a"]
    assert got("datasets.name = 'iris' AND datasets.context = 'eval'") == ["a"]  # any input each


# -- the SQL itself ----------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect(), mysql.dialect()])
@pytest.mark.parametrize("order_by", [None, ["metrics.m DESC"], ["params.p", "metrics.x"]])
def test_the_statement_compiles_for_every_dialect(dialect, order_by):
    query = select_run_pks("metrics.m > 1 OR params.p LIKE 'a%'", [1], ["active"], order_by, 10, 11)
    sql = str(query.compile(dialect=dialect))
    assert "LIMIT" in sql
    if dialect.name == "postgresql" and order_by and order_by[0].startswith("params"):
        assert 'COLLATE "C"' in sql  # strings sort by code point, not by the server's locale


def _plan(store, filter_string, order_by):
    query = select_run_pks(filter_string, [1], ["active"], order_by, 0, 101)
    sql = str(query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    with store.engine.connect() as conn:
        return [row[3] for row in conn.execute(text("EXPLAIN QUERY PLAN " + sql))]


def test_metric_order_walks_the_latest_metrics_index(sqlite_store):
    plan = _plan(sqlite_store, "metrics.a > 0.5 AND params.p = 'x'", ["metrics.b DESC"])
    start = plan.index("MATERIALIZE have_first_key")
    walk = plan[start + 1]
    assert walk.startswith("SEARCH order0 USING COVERING INDEX ix_latest_metrics_key_value")
    assert "USE TEMP B-TREE FOR RIGHT PART OF ORDER BY" in plan  # only ties are sorted


@pytest.mark.parametrize("order", ["DESC", "ASC"])
def test_a_range_on_the_sort_metric_walks_only_that_range(sqlite_store, order):
    filter_string = "params.p = 'x' AND metrics.b > 0.5 AND metrics.a < 3"
    plan = _plan(sqlite_store, filter_string, [f"metrics.b {order}"])
    assert not any("driver" in step for step in plan)  # no filter-driven branch to count for
    walk = plan[plan.index("MATERIALIZE have_first_key") + 1]
    assert walk.startswith("SEARCH order0 USING COVERING INDEX ix_latest_metrics_key_value")


def test_default_order_walks_the_runs_index(sqlite_store):
    plan = _plan(sqlite_store, "params.p = 'x'", None)
    # The index holds start_time DESC and run_id: the whole order, no sort step at all.
    assert plan[0].startswith("SEARCH runs USING COVERING INDEX ix_runs_experiment_stage_start")
    assert not any("TEMP B-TREE" in step for step in plan)


def test_metric_filters_resolve_the_key_inside_the_statement(sqlite_store):
    plan = _plan(sqlite_store, "metrics.a > 0.5", None)
    assert any("metric_keys USING COVERING INDEX" in step for step in plan)
