"""search_runs agrees with a plain-Python reading of the same filter and order, on random data.

Hypothesis builds random runs (params, metrics and tags with keys missing here and there,
NaN metrics, deleted runs, tied start times) and random filters (every operator and prefix
alias, AND/OR/parentheses, random keyword case, backticks) and order_by lists, pages through
the real store's `search_runs`, and compares with `expected()`, which evaluates the filter on
the runs as `get_run` returns them.

Restrictions, each because of a database behaviour the test cannot control:
* strings are short ASCII and never end with a space: MySQL's PAD SPACE collations treat
  'a' and 'a ' as equal, and SQLite's lower() (used for ILIKE) folds ASCII only;
* metric values are finite: ±inf is stored as ±DBL_MAX, so `= 1.79e308` would differ.
"""

from __future__ import annotations

import math
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cairn.entities import Metric, Param, Run, RunStatus, RunTag, ViewType
from cairn.store.sql import search_runs as search_module

KEYS = ("a", "b", "k.1")  # "k.1" needs no backticks (everything after the prefix's dot)
MISSING_KEY = "never_logged"
METRIC_VALUES = (-2.5, -1.0, 0.0, 0.5, 1.0, 1.25, 3.0, 1000.0, math.nan)
STRINGS = ("a", "A", "ab", "aB", "b", "a_b", "a%b", "x y", "it's", "\\", "a\\b")
PATTERN_PIECES = ("a", "A", "b", "%", "_", "\\%", "\\_", "\\\\", " ", "'")
TIMES = (100, 200, 300)
STAGE_OF_VIEW = {
    ViewType.ACTIVE_ONLY: {"active"},
    ViewType.DELETED_ONLY: {"deleted"},
    ViewType.ALL: {"active", "deleted"},
}

# -- the random data --------------------------------------------------------------------------


@dataclass
class RunSpec:
    name: str
    user: str
    start_time: int
    end_time: int | None
    status: RunStatus
    deleted: bool
    metrics: dict[str, list[float]]  # several points: the latest (greatest step) counts
    params: dict[str, str]
    tags: dict[str, str]


def _kv(values: st.SearchStrategy) -> st.SearchStrategy:
    return st.dictionaries(st.sampled_from(KEYS), values, max_size=len(KEYS))


run_specs = st.builds(
    RunSpec,
    name=st.sampled_from(("alpha", "Alpha", "beta", "a_b")),
    user=st.sampled_from(("alice", "Bob")),
    start_time=st.sampled_from(TIMES),
    end_time=st.none() | st.sampled_from(TIMES),
    status=st.sampled_from((RunStatus.RUNNING, RunStatus.FINISHED, RunStatus.FAILED)),
    deleted=st.booleans(),
    metrics=_kv(st.lists(st.sampled_from(METRIC_VALUES), min_size=1, max_size=2)),
    params=_kv(st.sampled_from(STRINGS)),
    tags=_kv(st.sampled_from(STRINGS)),
)

# -- random filters: a small AST of our own, rendered to text, evaluated in Python -------------


@dataclass
class Leaf:
    entity: str  # metric | param | tag | attr
    key: str
    op: str
    value: object


@dataclass
class Group:
    op: str  # AND | OR
    children: list[Leaf | Group]


def _quote(s: str, draw: Callable) -> str:
    if draw(st.booleans()):
        return "'" + s.replace("'", "''") + "'"
    return '"' + s.replace('"', '""') + '"'


def _cased(word: str, draw: Callable) -> str:
    return draw(st.sampled_from((word, word.lower(), word.title())))


def _number(v: float | int, draw: Callable) -> str:
    if isinstance(v, int):
        return str(v)
    return draw(st.sampled_from((repr(v), f"{v:e}")))


def _ident(prefixes: tuple[str, ...], key: str, draw: Callable) -> str:
    prefix = draw(st.sampled_from(prefixes))
    if draw(st.booleans()):
        key = f"`{key}`"
    return f"{prefix}{key}"


@st.composite
def leaves(draw: Callable, run_ids: list[str]) -> tuple[Leaf, str]:
    kind = draw(st.sampled_from(("metric", "param", "tag", "attr", "attr")))
    keys = (*KEYS, MISSING_KEY)
    if kind == "metric":
        key, op = (
            draw(st.sampled_from(keys)),
            draw(st.sampled_from(("=", "!=", "<", "<=", ">", ">="))),
        )
        value = draw(st.sampled_from(METRIC_VALUES[:-1]))
        ident = _ident(("metrics.", "metric."), key, draw)
        return Leaf(kind, key, op, value), f"{ident} {op} {_number(value, draw)}"
    if kind in ("param", "tag"):
        key = draw(st.sampled_from(keys))
        op = draw(st.sampled_from(("=", "!=", "<>", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL")))
        prefixes = (
            ("params.", "param.", "parameter.", "parameters.")
            if kind == "param"
            else ("tags.", "tag.")
        )
        ident = _ident(prefixes, key, draw)
        if op.startswith("IS"):
            return Leaf(
                kind, key, op, None
            ), f"{ident} {' '.join(_cased(w, draw) for w in op.split())}"
        if op in ("LIKE", "ILIKE"):
            value = "".join(draw(st.lists(st.sampled_from(PATTERN_PIECES), min_size=1, max_size=4)))
        else:
            value = draw(st.sampled_from(STRINGS))
        text_op = _cased(op, draw) if op.isalpha() else op
        return Leaf(
            kind, key, "!=" if op == "<>" else op, value
        ), f"{ident} {text_op} {_quote(value, draw)}"
    attr = draw(
        st.sampled_from(("run_name", "user_id", "status", "start_time", "end_time", "run_id"))
    )
    prefix = draw(st.sampled_from(("", "attributes.", "attribute.", "attr.", "run.")))
    if attr in ("start_time", "end_time"):
        op = draw(st.sampled_from(("=", "!=", "<", "<=", ">", ">=")))
        value = draw(st.sampled_from(TIMES))
        name = draw(st.sampled_from(("start_time", "created"))) if attr == "start_time" else attr
        return Leaf("attr", attr, op, value), f"{prefix}{name} {op} {value}"
    if attr == "run_id":
        op = draw(st.sampled_from(("=", "!=", "IN", "NOT IN")))
        pool = [*run_ids, "0" * 32]
        if op in ("IN", "NOT IN"):
            values = tuple(draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3)))
            items = ", ".join(_quote(v, draw) for v in values)
            return Leaf("attr", attr, op, values), f"{prefix}run_id {_cased(op, draw)} ({items})"
        value = draw(st.sampled_from(pool))
        return Leaf("attr", attr, op, value), f"{prefix}run_id {op} {_quote(value, draw)}"
    op = draw(st.sampled_from(("=", "!=", "LIKE", "ILIKE")))
    pool = {"run_name": ("alpha", "a%", "A%", "%_b"), "user_id": ("alice", "bob", "%o%")}
    value = draw(st.sampled_from(pool.get(attr, ("RUNNING", "FINISHED", "finished"))))
    name = attr
    if attr == "run_name" and not prefix and draw(st.booleans()):
        name = "`Run name`"
    return Leaf("attr", attr, op, value), f"{prefix}{name} {op} {_quote(value, draw)}"


@st.composite
def filters(draw: Callable, run_ids: list[str], depth: int = 0) -> tuple[Leaf | Group, str]:
    if depth >= 2 or draw(st.integers(0, 2)) == 0:
        return draw(leaves(run_ids))
    op = draw(st.sampled_from(("AND", "OR")))
    parts = draw(st.lists(filters(run_ids, depth + 1), min_size=2, max_size=3))
    texts = []
    for node, text in parts:
        # OR inside AND needs parentheses; anything may have redundant ones.
        if (isinstance(node, Group) and node.op == "OR" and op == "AND") or draw(st.booleans()):
            text = f"({text})"
        texts.append(text)
    return Group(op, [n for n, _ in parts]), f" {_cased(op, draw)} ".join(texts)


# -- the reference evaluation ------------------------------------------------------------------


def like(value: str, pattern: str, ignore_case: bool) -> bool:
    regex, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            regex.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        regex.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.fullmatch("".join(regex), value, flags) is not None


def compare(actual: object, op: str, expected: object) -> bool:
    if actual is None:
        return False
    if op == "LIKE":
        return like(str(actual), str(expected), False)
    if op == "ILIKE":
        return like(str(actual), str(expected), True)
    if op == "IN":
        return actual in expected  # type: ignore[operator]
    if op == "NOT IN":
        return actual not in expected  # type: ignore[operator]
    ops: dict[str, Callable[[object, object], bool]] = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,  # type: ignore[operator]
        "<=": lambda a, b: a <= b,  # type: ignore[operator]
        ">": lambda a, b: a > b,  # type: ignore[operator]
        ">=": lambda a, b: a >= b,  # type: ignore[operator]
    }
    return ops[op](actual, expected)


def attribute(run: Run, name: str) -> object:
    info = run.info
    return {
        "run_id": info.run_id,
        "run_name": info.run_name,
        "user_id": info.user_id,
        "status": str(info.status),
        "start_time": info.start_time,
        "end_time": info.end_time,
    }[name]


def matches(node: Leaf | Group, run: Run) -> bool:
    if isinstance(node, Group):
        results = (matches(child, run) for child in node.children)
        return all(results) if node.op == "AND" else any(results)
    if node.entity == "attr":
        return compare(attribute(run, node.key), node.op, node.value)
    if node.entity == "metric":
        value = run.data.metrics.get(node.key)
        return value is not None and not math.isnan(value) and compare(value, node.op, node.value)
    values = run.data.params if node.entity == "param" else run.data.tags
    if node.op == "IS NULL":
        return node.key not in values
    if node.op == "IS NOT NULL":
        return node.key in values
    return compare(values.get(node.key), node.op, node.value)


ORDERABLE = (
    *(f"metrics.{k}" for k in (*KEYS, MISSING_KEY)),
    *(f"params.{k}" for k in KEYS),
    *(f"tags.{k}" for k in KEYS),
    "start_time",
    "end_time",
    "run_name",
    "status",
    "user_id",
    "run_id",
)


def sort_value(run: Run, key: str) -> object:
    """The run's value for an order key; None when it lacks it (or the metric is NaN)."""
    entity, _, name = key.partition(".")
    if entity == "metrics":
        value = run.data.metrics.get(name)
        return None if value is None or math.isnan(value) else value
    if entity == "params":
        return run.data.params.get(name)
    if entity == "tags":
        return run.data.tags.get(name)
    return attribute(run, key)


def expected(
    runs: list[Run], node: Leaf | Group | None, order: list[tuple[str, bool]]
) -> list[str]:
    chosen = [r for r in runs if node is None or matches(node, r)]
    keys = [*order]
    names = {k for k, _ in order}
    keys += [k for k in (("start_time", False), ("run_id", True)) if k[0] not in names]
    # Stable sorts from the least significant key up; missing values always last.
    for key, ascending in reversed(keys):
        present = [r for r in chosen if sort_value(r, key) is not None]
        missing = [r for r in chosen if sort_value(r, key) is None]
        present.sort(key=lambda r, k=key: sort_value(r, k), reverse=not ascending)  # type: ignore[misc]
        chosen = present + missing
    return [r.info.run_id for r in chosen]


# -- the test ----------------------------------------------------------------------------------


def create_runs(store, specs: list[RunSpec], experiment_id: str) -> list[Run]:
    created = []
    for spec in specs:
        run = store.create_run(
            experiment_id, user_id=spec.user, start_time=spec.start_time, run_name=spec.name
        )
        run_id = run.info.run_id
        points = [
            Metric(k, v, 0, step) for k, vs in spec.metrics.items() for step, v in enumerate(vs)
        ]
        store.log_batch(
            run_id,
            metrics=points,
            params=[Param(k, v) for k, v in spec.params.items()],
            tags=[RunTag(k, v) for k, v in spec.tags.items()],
        )
        store.update_run_info(run_id, status=spec.status, end_time=spec.end_time)
        if spec.deleted:
            store.delete_run(run_id)
        created.append(store.get_run(run_id))
    return created


@st.composite
def order_bys(draw: Callable) -> list[tuple[str, bool]]:
    keys = draw(st.lists(st.sampled_from(ORDERABLE), max_size=2, unique=True))
    return [(k, draw(st.booleans())) for k in keys]


@pytest.mark.slow
@settings(
    max_examples=int(os.environ.get("CAIRN_SEARCH_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), specs=st.lists(run_specs, min_size=0, max_size=7))
def test_search_runs_matches_python_reference(store, data, specs) -> None:
    # A new experiment per example isolates it from the ones before (same store).
    experiment_id = store.create_experiment(f"prop-{uuid.uuid4().hex}")
    runs = create_runs(store, specs, experiment_id)
    run_ids = [r.info.run_id for r in runs]
    for _ in range(data.draw(st.integers(1, 3), label="queries")):
        node, text = data.draw(st.none() | filters(run_ids), label="filter") or (None, None)
        order = data.draw(order_bys(), label="order_by")
        view = data.draw(st.sampled_from(list(ViewType)), label="view")
        page_size = data.draw(st.integers(1, max(1, len(runs) + 1)), label="page size")
        # Plan knobs: a driver threshold of 0 rules the filter-driven plan out and 5000 in; a
        # walk of 1 entry makes the order-driven plan fall back to its scan, 10000 not.
        plan = (
            data.draw(st.sampled_from((0, 1, 3, 5000)), label="driver threshold"),
            data.draw(st.sampled_from((1, 2, 10_000)), label="walk minimum"),
        )
        order_text = [f"{k} {'ASC' if asc else 'DESC'}" for k, asc in order]

        in_view = [r for r in runs if str(r.info.lifecycle_stage) in STAGE_OF_VIEW[view]]
        want = expected(in_view, node, order)
        got = search_all(store, experiment_id, text, view, page_size, order_text, plan)
        assert got == want, f"filter={text!r} order_by={order_text} view={view}"


def search_all(store, experiment_id, text, view, page_size, order_by, plan) -> list[str]:
    """Every page of the search, concatenated, with the plan knobs set as `plan` says."""
    knobs = ("FILTER_DRIVER_MAX_ROWS", "ORDER_WALK_MIN", "ORDER_WALK_FACTOR")
    saved = [getattr(search_module, name) for name in knobs]
    walk_factor = 1 if plan[1] < 10 else saved[2]
    for name, value in zip(knobs, (*plan, walk_factor), strict=True):
        setattr(search_module, name, value)
    try:
        found: list[str] = []
        token = None
        while True:
            page = store.search_runs(
                [experiment_id], text, view, page_size, order_by or None, token
            )
            found.extend(r.info.run_id for r in page)
            token = page.token
            if token is None:
                return found
            assert len(page) == page_size
    finally:
        for name, value in zip(knobs, saved, strict=True):
            setattr(search_module, name, value)
