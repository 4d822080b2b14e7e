"""SqlTrackingStore: the tracking store on SQLite, PostgreSQL and MySQL, one code path.

Runs and their lifecycle live here; experiments in `experiments.py` and MLflow 3's logged
models in `logged_models.py` (mixins); writing and reading run data (metrics, params, tags,
inputs) in `run_data.py`; searches compile to SQL in `search_runs.py` and
`search_experiments.py`.
"""

from __future__ import annotations

import functools
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, delete

from cairn import settings
from cairn.entities import (
    DatasetInput,
    LifecycleStage,
    Metric,
    PagedList,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from cairn.exceptions import (
    InvalidParameterValue,
    ResourceDoesNotExist,
)
from cairn.store import validation
from cairn.store.base import SEARCH_MAX_RESULTS_DEFAULT
from cairn.store.run_names import generate_run_name
from cairn.store.sql import run_data
from cairn.store.sql.dialects import insert_sql, select_sql, update_sql
from cairn.store.sql.engine import (
    DataVersion,
    dispose,
    driver_execute,
    make_engine,
    read_transaction,
    run_read,
    run_write,
    sqlite_path,
)
from cairn.store.sql.experiments import ExperimentMethods
from cairn.store.sql.logged_models import LoggedModelMethods
from cairn.store.sql.migrations import ensure_current
from cairn.store.sql.queries import check_max_results, insert_row, now_ms, page
from cairn.store.sql.schema import runs
from cairn.store.sql.schema import tags as run_tags
from cairn.store.validation import RUN_NAME_TAG

T = TypeVar("T")


def resolve_artifact_root(root: str | None) -> str:
    """An artifact root as stored on experiments: URIs as given, local paths made absolute."""
    root = root or settings.ARTIFACT_ROOT.get() or "cairn-data/artifacts"
    if "://" in root or root.startswith("mlflow-artifacts:"):
        return root.rstrip("/")
    return str(Path(root).expanduser().resolve())


def _check_live(run_id: str, stage: str) -> None:
    if stage != LifecycleStage.ACTIVE.value:
        raise InvalidParameterValue(f"Run {run_id} is deleted; restore it before writing to it.")


class SqlTrackingStore(ExperimentMethods, LoggedModelMethods):
    """A `TrackingStore` on a SQL database. Thread-safe; share one per database."""

    _cache: dict[tuple[int, str, str | None], SqlTrackingStore] = {}
    _cache_lock = threading.Lock()

    def __init__(self, db_uri: str, default_artifact_root: str | None = None) -> None:
        self.db_uri = db_uri
        self.artifact_root = resolve_artifact_root(default_artifact_root)
        self.engine = make_engine(db_uri)
        self.dialect = self.engine.dialect.name
        ensure_current(self.engine)
        self.keys = run_data.MetricKeys(self.dialect)
        self._data_version: DataVersion | None = None
        self._data_version_lock = threading.Lock()
        self._ensure_default_experiment()

    @classmethod
    def for_uri(cls, db_uri: str, default_artifact_root: str | None = None) -> SqlTrackingStore:
        """A shared store per (uri, root): engines and their pools are not cheap."""
        # The pid is part of the key: a forked child must not share its parent's connections.
        key = (os.getpid(), db_uri, default_artifact_root)
        with cls._cache_lock:
            store = cls._cache.get(key)
            if store is None:
                store = cls._cache[key] = cls(db_uri, default_artifact_root)
            return store

    def close(self) -> None:
        if self._data_version is not None:
            self._data_version.close()
        dispose(self.engine)

    def data_version(self) -> int | None:
        """A number that changes whenever anything commits to the database, from any process:
        equal readings mean nothing changed in between. None where the database cannot tell
        cheaply (PostgreSQL, MySQL, an in-memory SQLite database)."""
        reader = self._data_version
        if reader is None:
            path = sqlite_path(self.db_uri) if self.dialect == "sqlite" else None
            if path is None:
                return None
            with self._data_version_lock:
                if self._data_version is None:
                    self._data_version = DataVersion(path)
                reader = self._data_version
        return reader()

    # -- runs --------------------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str,
        user_id: str = "",
        start_time: int | None = None,
        tags: Sequence[RunTag] = (),
        run_name: str | None = None,
    ) -> Run:
        eid = validation.parse_id(experiment_id, "experiment id")
        validation.validate_user_id(user_id or "")
        tag_list = list(tags)
        named = [t.value for t in tag_list if t.key == RUN_NAME_TAG]
        if run_name and named and named[-1] != run_name:
            raise InvalidParameterValue(
                f"Both run_name={run_name!r} and tag {RUN_NAME_TAG}={named[-1]!r} were given; "
                "they must agree."
            )
        name = validation.validate_run_name(
            run_name or (named[-1] if named else "") or generate_run_name()
        )
        if not named:
            tag_list.append(RunTag(RUN_NAME_TAG, name))
        for tag in tag_list:
            validation.validate_key(tag.key, "tag key")
        run_id = uuid.uuid4().hex
        start = now_ms() if start_time is None else validation.as_int64(start_time, "start_time")

        def work(conn: Connection) -> Run:
            exp = self._experiment_row(conn, eid)
            if exp.lifecycle_stage != LifecycleStage.ACTIVE.value:
                raise InvalidParameterValue(
                    f"Experiment {eid} is deleted; runs cannot be created in it."
                )
            artifact_uri = f"{exp.artifact_location}/{run_id}/artifacts"
            run_pk = insert_row(
                conn,
                runs,
                run_data.RUN_COLUMNS[1:],  # all but the generated run_pk
                (
                    run_id,
                    eid,
                    name,
                    user_id or "",
                    RunStatus.RUNNING.value,
                    start,
                    None,
                    LifecycleStage.ACTIVE.value,
                    artifact_uri,
                ),
            )
            latest = {t.key: validation.tag_value(t) for t in tag_list}
            driver_execute(
                conn,
                insert_sql(run_tags, conn.dialect, run_data.KEY_VALUE_COLUMNS),
                [(run_pk, k, v) for k, v in latest.items()],
                many=True,
            )
            # Everything a new run holds is known here; reading it back would double the cost.
            info = RunInfo(
                run_id=run_id,
                experiment_id=str(eid),
                run_name=name,
                user_id=user_id or "",
                status=RunStatus.RUNNING,
                start_time=start,
                end_time=None,
                artifact_uri=artifact_uri,
                lifecycle_stage=LifecycleStage.ACTIVE,
            )
            return Run(info, RunData(tags=latest))

        return run_write(self.engine, work)

    def _run_row(self, conn: Connection, run_id: str, *, lock: bool = False) -> run_data.RunRow:
        """The run's row; with `lock`, locked for writing (serialising writers to one run).

        Nearly every call starts here, so it is plain driver SQL: SQLAlchemy's statement
        machinery costs more than the lookup itself.
        """
        sql = select_sql(runs, conn.dialect, run_data.RUN_COLUMNS, "run_id", lock=lock)
        found = driver_execute(conn, sql, (run_id,)).fetchone()
        if found is None:
            raise ResourceDoesNotExist(f"Run with id={run_id} not found")
        return run_data.RunRow._make(found)

    def _active_run_pk(self, conn: Connection, run_id: str) -> int:
        """Lock the run for writing, check it is live, return its key.

        Every log_batch starts here, so it reads only the two columns it needs.
        """
        sql = select_sql(runs, conn.dialect, ("run_pk", "lifecycle_stage"), "run_id", lock=True)
        found = driver_execute(conn, sql, (run_id,)).fetchone()
        if found is None:
            raise ResourceDoesNotExist(f"Run with id={run_id} not found")
        run_pk, stage = found
        _check_live(run_id, stage)
        return int(run_pk)

    def get_run(self, run_id: str) -> Run:
        def work(conn: Connection) -> Run:
            return run_data.load_runs(conn, [self._run_row(conn, run_id).run_pk], self.keys)[0]

        return run_read(self.engine, work)

    def update_run_info(
        self,
        run_id: str,
        status: RunStatus | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        values: dict[str, Any] = {}
        if status is not None:
            values["status"] = RunStatus(str(status)).value
        if end_time is not None:
            values["end_time"] = validation.as_int64(end_time, "end_time")
        if run_name:
            values["name"] = validation.validate_run_name(run_name)

        def work(conn: Connection) -> RunInfo:
            row = self._run_row(conn, run_id, lock=True)
            _check_live(run_id, row.lifecycle_stage)
            if values:
                sql = update_sql(runs, conn.dialect, tuple(values), "run_pk")
                driver_execute(conn, sql, (*values.values(), row.run_pk))
            if run_name:
                run_data.upsert_tags(conn, row.run_pk, {RUN_NAME_TAG: values["name"]})
            # The row is locked, so it now holds exactly what was read plus `values`.
            return run_data.run_info(row._replace(**values))

        return run_write(self.engine, work)

    def _set_run_stage(self, run_id: str, to: LifecycleStage) -> None:
        def work(conn: Connection) -> None:
            row = self._run_row(conn, run_id, lock=True)
            deleted_time = now_ms() if to is LifecycleStage.DELETED else None
            if row.lifecycle_stage != to.value:
                sql = update_sql(runs, conn.dialect, ("lifecycle_stage", "deleted_time"), "run_pk")
                driver_execute(conn, sql, (to.value, deleted_time, row.run_pk))

        run_write(self.engine, work)

    def delete_run(self, run_id: str) -> None:
        self._set_run_stage(run_id, LifecycleStage.DELETED)

    def restore_run(self, run_id: str) -> None:
        self._set_run_stage(run_id, LifecycleStage.ACTIVE)

    # -- run data ----------------------------------------------------------------------------

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        validation.validate_batch_sizes(metrics, params, tags)
        batch = run_data.Batch.prepare(
            metrics, params, tags, lambda names: self.keys.ensure(self.engine, names)
        )

        def work(conn: Connection) -> None:
            run_pk = self._active_run_pk(conn, run_id)
            batch.write(conn, self.dialect, run_pk)

        run_write(self.engine, work)

    def log_metric(self, run_id: str, metric: Metric) -> None:
        self.log_batch(run_id, metrics=[metric])

    def log_param(self, run_id: str, param: Param) -> None:
        self.log_batch(run_id, params=[param])

    def set_tag(self, run_id: str, tag: RunTag) -> None:
        self.log_batch(run_id, tags=[tag])

    def delete_tag(self, run_id: str, key: str) -> None:
        def work(conn: Connection) -> None:
            run_pk = self._active_run_pk(conn, run_id)
            result = conn.execute(
                delete(run_tags).where(run_tags.c.run_pk == run_pk, run_tags.c.key == key)
            )
            if result.rowcount == 0:
                raise ResourceDoesNotExist(f"Run {run_id} has no tag '{key}'")

        run_write(self.engine, work)

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None:
        for item in datasets:
            validation.validate_dataset_input(item)

        def work(conn: Connection) -> None:
            row = self._run_row(conn, run_id, lock=True)
            if row.lifecycle_stage != LifecycleStage.ACTIVE.value:
                raise InvalidParameterValue(f"Run {run_id} is deleted; restore it first.")
            run_data.write_inputs(conn, self.dialect, row.run_pk, row.experiment_id, datasets)

        run_write(self.engine, work)

    def get_metric_history(
        self,
        run_id: str,
        metric_key: str,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> PagedList[Metric]:
        return self._history_page(
            run_id, metric_key, max_results, page_token, run_data.read_history
        )

    def get_metric_history_points(
        self,
        run_id: str,
        metric_key: str,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> PagedList[tuple[int, int, float]]:
        """`get_metric_history` as (step, timestamp, value) tuples, with the same page tokens:
        for the UI's charts, which reduce them to what they draw."""
        return self._history_page(
            run_id, metric_key, max_results, page_token, run_data.read_history_points
        )

    def get_metric_history_dicts(
        self,
        run_id: str,
        metric_key: str,
        max_results: int | None = None,
        page_token: str | None = None,
        non_finite: Callable[[float], Any] = float,
        steps: run_data.Steps = run_data.ALL_STEPS,
    ) -> PagedList[dict[str, Any]]:
        """`get_metric_history` as the REST API sends points, with the same page tokens: for
        the server. A NaN or ±infinity value is given as `non_finite(value)` (the wire's own
        spelling), so the server need not look at every value again. `steps` (from, before)
        limits the history to the points in that range of steps, as `history_middle_step`
        parts it (and is part of what a page token continues)."""
        read = functools.partial(run_data.read_history_dicts, non_finite=non_finite, steps=steps)
        return self._history_page(run_id, metric_key, max_results, page_token, read, steps)

    def history_middle_step(self, run_id: str, metric_key: str, at_least: int) -> int | None:
        """A step that parts the history of `metric_key` into two non-empty halves (steps
        before it, and from it on) when it holds at least `at_least` points: for reading a big
        history in two processes at once. None for a smaller history or a single step."""

        def work(conn: Connection) -> int | None:
            run_pk = self._run_row(conn, run_id).run_pk
            return run_data.middle_step(conn, run_pk, metric_key, self.keys, at_least)

        return run_read(self.engine, work)

    def _history_page(
        self,
        run_id: str,
        metric_key: str,
        max_results: int | None,
        page_token: str | None,
        read: Callable[[Connection, int, str, run_data.MetricKeys, int, int | None], list[T]],
        steps: run_data.Steps = run_data.ALL_STEPS,
    ) -> PagedList[T]:
        from cairn.search.page_token import decode_page_token, encode_page_token

        if max_results is not None and max_results <= 0:
            raise InvalidParameterValue(f"max_results must be positive, got {max_results}")
        fingerprint: tuple[Any, ...] = ("metric-history", run_id, metric_key)
        if steps != run_data.ALL_STEPS:
            fingerprint += steps
        offset = decode_page_token(page_token, fingerprint)

        def work(conn: Connection) -> PagedList[T]:
            run_pk = self._run_row(conn, run_id).run_pk
            limit = None if max_results is None else max_results + 1
            points = read(conn, run_pk, metric_key, self.keys, offset, limit)
            token = None
            if max_results is not None and len(points) > max_results:
                points = points[:max_results]
                token = encode_page_token(offset + max_results, fingerprint)
            return PagedList(points, token)

        return run_read(self.engine, work)

    def iter_metric_history(self, run_id: str, metric_key: str) -> Iterator[Metric]:
        with read_transaction(self.engine) as conn:
            run_pk = self._run_row(conn, run_id).run_pk
            yield from run_data.stream_history(conn, run_pk, metric_key, self.keys)

    # -- search ------------------------------------------------------------------------------

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        run_view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        return self._search_runs(
            run_data.load_runs,
            experiment_ids,
            filter_string,
            run_view_type,
            max_results,
            order_by,
            page_token,
        )

    def search_run_dicts(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        run_view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
        non_finite: Callable[[float], Any] = float,
    ) -> PagedList[dict[str, Any]]:
        """`search_runs` with each run as the REST API sends it (see `load_run_dicts`): the
        server's search answers skip building entities only to turn them into dicts. A NaN
        or ±infinity metric value is given as `non_finite(value)` (the wire's spelling)."""
        return self._search_runs(
            functools.partial(run_data.load_run_dicts, non_finite=non_finite),
            experiment_ids,
            filter_string,
            run_view_type,
            max_results,
            order_by,
            page_token,
        )

    def _search_runs(
        self,
        loader: Callable[[Connection, list[Any], run_data.MetricKeys], list[T]],
        experiment_ids: Sequence[str],
        filter_string: str | None,
        run_view_type: ViewType,
        max_results: int,
        order_by: Sequence[str] | None,
        page_token: str | None,
    ) -> PagedList[T]:
        from cairn.search.page_token import decode_page_token
        from cairn.store.sql.search_runs import select_run_pks

        check_max_results(max_results)
        eids = [validation.parse_id(e, "experiment id") for e in experiment_ids]
        stages = [s.value for s in ViewType.parse(run_view_type).stages]
        fingerprint = (
            "runs",
            tuple(sorted(eids)),
            filter_string or "",
            tuple(order_by or ()),
            tuple(stages),
        )
        offset = decode_page_token(page_token, fingerprint)
        query = select_run_pks(filter_string, eids, stages, order_by, offset, max_results + 1)

        def work(conn: Connection) -> PagedList[T]:
            def load(pks: list[Any]) -> list[T]:
                return loader(conn, pks, self.keys)

            return page(conn, query, offset, max_results, fingerprint, load)

        return run_read(self.engine, work)
