"""The few reads the UI needs that the store protocol does not offer, in SQL.

Pages of a run search are addressed by number (`?page=3`), not by the opaque page tokens of
the REST API, so a link to page 3 can be shared; the page's keys come from the store's own
search statement (`select_run_pks`, the same plans and limits as the API) at an offset, and
the rows are built by the store's `load_run_dicts`. Run counts and the keys a column chooser
offers are small aggregate queries kept here rather than added to every store backend, as
are the two lookups the UI's permission checks batch (`granted_levels`, `experiments_of_runs`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from cairn.auth.permissions import EXPERIMENT, Permission, PermissionStore, ResourceKind
from cairn.entities import LifecycleStage
from cairn.store.sql import run_data
from cairn.store.sql.engine import run_read
from cairn.store.sql.schema import (
    experiments,
    latest_metrics,
    metric_keys,
    params,
    runs,
    tags,
    users,
)
from cairn.store.sql.search_runs import select_run_pks
from cairn.store.sql.store import SqlTrackingStore

KEY_SAMPLE_RUNS = 1000
"""The column chooser offers the keys of this many of the experiment's newest runs."""

ACTIVE = LifecycleStage.ACTIVE.value


@dataclass(frozen=True, slots=True)
class RunsPage:
    runs: list[dict[str, Any]]  # REST-shaped runs (`load_run_dicts`)
    has_more: bool


def runs_page(
    store: SqlTrackingStore,
    experiment_id: int,
    filter_string: str | None,
    order_by: Sequence[str],
    offset: int,
    limit: int,
    stages: Sequence[str] = (ACTIVE,),
) -> RunsPage:
    """Runs `offset .. offset+limit-1` of the experiment in search order, among those in
    lifecycle `stages` (active only by default).

    Raises InvalidFilter for a bad filter or order_by, before touching the database.
    """
    query = select_run_pks(
        filter_string, [experiment_id], list(stages), order_by, offset, limit + 1
    )

    def work(conn: Connection) -> RunsPage:
        pks = list(conn.execute(query).scalars())
        rows = run_data.load_run_dicts(conn, pks[:limit], store.keys)
        return RunsPage(rows, len(pks) > limit)

    return run_read(store.engine, work)


def run_counts(
    store: SqlTrackingStore, experiment_ids: Sequence[str], stages: Sequence[str] = (ACTIVE,)
) -> dict[str, int]:
    """Runs in lifecycle `stages` (active only by default) per experiment (experiments
    without such runs are left out)."""
    ids = [int(e) for e in experiment_ids if e.isdigit()]
    if not ids:
        return {}
    query = (
        select(runs.c.experiment_id, func.count())
        .where(runs.c.experiment_id.in_(ids), runs.c.lifecycle_stage.in_(list(stages)))
        .group_by(runs.c.experiment_id)
    )

    def work(conn: Connection) -> dict[str, int]:
        return {str(eid): int(n) for eid, n in conn.execute(query).all()}

    return run_read(store.engine, work)


@dataclass(frozen=True, slots=True)
class ColumnKeys:
    metrics: list[str]
    params: list[str]
    tags: list[str]


def column_keys(
    store: SqlTrackingStore,
    experiment_id: int,
    sample: int = KEY_SAMPLE_RUNS,
    stages: Sequence[str] = (ACTIVE,),
) -> ColumnKeys:
    """Metric, param and tag keys of the experiment's `sample` newest runs in lifecycle
    `stages` (active only by default), sorted.

    A sample, so the page costs the same at 100,000 runs as at 100; the chooser also accepts
    any key typed by hand.
    """
    # A derived table, not `IN (… LIMIT n)`: MySQL and MariaDB refuse LIMIT in IN subqueries.
    newest = (
        select(runs.c.run_pk)
        .where(runs.c.experiment_id == experiment_id, runs.c.lifecycle_stage.in_(list(stages)))
        .order_by(runs.c.start_time.desc(), runs.c.run_id)
        .limit(sample)
        .subquery("newest")
    )
    metric_ids = (
        select(latest_metrics.c.key_id)
        .join(newest, latest_metrics.c.run_pk == newest.c.run_pk)
        .distinct()
        .subquery("used")
    )
    metric_query = (
        select(metric_keys.c.key)
        .join(metric_ids, metric_keys.c.key_id == metric_ids.c.key_id)
        .order_by(metric_keys.c.key)
    )
    param_query = select(params.c.key).join(newest, params.c.run_pk == newest.c.run_pk).distinct()
    tag_query = select(tags.c.key).join(newest, tags.c.run_pk == newest.c.run_pk).distinct()

    def work(conn: Connection) -> ColumnKeys:
        return ColumnKeys(
            list(conn.execute(metric_query).scalars()),
            sorted(conn.execute(param_query).scalars()),
            sorted(conn.execute(tag_query).scalars()),
        )

    return run_read(store.engine, work)


def runs_by_id(store: SqlTrackingStore, run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """REST-shaped runs (`load_run_dicts`) of those of `run_ids` that exist, deleted or not,
    by run id: one query for their keys and the store's loader for the rows."""
    query = select(runs.c.run_pk).where(runs.c.run_id.in_(list(run_ids)))

    def work(conn: Connection) -> dict[str, dict[str, Any]]:
        pks = list(conn.execute(query).scalars())
        rows = run_data.load_run_dicts(conn, pks, store.keys)
        return {row["info"]["run_id"]: row for row in rows}

    return run_read(store.engine, work)


def granted_levels(
    permissions: PermissionStore,
    username: str,
    resources: Sequence[str],
    kind: ResourceKind = EXPERIMENT,
) -> dict[str, Permission]:
    """`username`'s own rows among `resources` (experiment ids, or model names for
    REGISTERED_MODEL), by resource, in one query rather than a level lookup each. Resources
    without a row are left out: the default level applies to them."""
    if kind is EXPERIMENT:
        wanted: list[Any] = [int(e) for e in resources if e.isdigit()]
    else:
        wanted = list(resources)
    if not wanted:
        return {}
    query = (
        select(kind.named_by, kind.table.c.permission)
        .join(users, users.c.user_id == kind.table.c.user_id)
        .join(kind.target.table, kind.target == kind.key)
        .where(users.c.username == username, kind.named_by.in_(wanted))
    )

    def work(conn: Connection) -> dict[str, Permission]:
        return {str(found): Permission[level] for found, level in conn.execute(query).all()}

    return run_read(permissions.engine, work)


def experiments_of_runs(store: SqlTrackingStore, run_ids: Sequence[str]) -> dict[str, str]:
    """The experiment id of each of `run_ids` that exists (run id -> experiment id)."""
    query = select(runs.c.run_id, runs.c.experiment_id).where(runs.c.run_id.in_(list(run_ids)))

    def work(conn: Connection) -> dict[str, str]:
        return {run_id: str(eid) for run_id, eid in conn.execute(query).all()}

    return run_read(store.engine, work)


def experiment_exists(engine: Engine, experiment_id: int) -> bool:
    """Whether the experiment exists (deleted or not)."""
    query = select(experiments.c.experiment_id).where(experiments.c.experiment_id == experiment_id)
    return run_read(engine, lambda conn: conn.execute(query).first()) is not None
