"""The SQL store's experiment methods (a mixin of SqlTrackingStore, split out for size)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Connection, Engine, Row, delete, func, select, text, update
from sqlalchemy.exc import IntegrityError

from cairn.entities import Experiment, LifecycleStage, PagedList, ViewType
from cairn.exceptions import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from cairn.store import validation
from cairn.store.base import SEARCH_MAX_RESULTS_DEFAULT
from cairn.store.sql import run_data
from cairn.store.sql.dialects import select_sql, upsert
from cairn.store.sql.engine import driver_execute, run_read, run_write
from cairn.store.sql.queries import check_max_results, insert_row, now_ms, page, rows_in_order
from cairn.store.sql.schema import experiment_tags, experiments, runs

DEFAULT_EXPERIMENT_ID = 0
DEFAULT_EXPERIMENT_NAME = "Default"
# Builds the SQL condition "the caller may read this experiment" on an experiment id column.
Readable = Callable[[Any], ColumnElement[bool]]
_MYSQL_KEEP_ZERO_ID = "SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO')"


class ExperimentRow(NamedTuple):
    """An experiments-table row, as the driver returns it."""

    experiment_id: int
    name: str
    artifact_location: str
    lifecycle_stage: str
    creation_time: int
    last_update_time: int


class ExperimentMethods:
    """Create, find, search, rename, delete/restore and tag experiments."""

    engine: Engine
    dialect: str
    artifact_root: str

    def _experiment_location(self, experiment_id: int) -> str:
        return f"{self.artifact_root}/{experiment_id}"

    def _ensure_default_experiment(self) -> None:
        def work(conn: Connection) -> None:
            exists = conn.execute(
                select(experiments.c.experiment_id).where(
                    experiments.c.experiment_id == DEFAULT_EXPERIMENT_ID
                )
            ).first()
            if exists:
                return
            if self.dialect == "mysql":
                # Otherwise MySQL reads an explicit 0 in an AUTO_INCREMENT column as "next id".
                conn.execute(
                    text("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO')")
                )
            now = now_ms()
            conn.execute(
                experiments.insert().values(
                    experiment_id=DEFAULT_EXPERIMENT_ID,
                    name=DEFAULT_EXPERIMENT_NAME,
                    name_key=validation.experiment_name_key(DEFAULT_EXPERIMENT_NAME),
                    artifact_location=self._experiment_location(DEFAULT_EXPERIMENT_ID),
                    lifecycle_stage=LifecycleStage.ACTIVE.value,
                    creation_time=now,
                    last_update_time=now,
                )
            )

        with contextlib.suppress(IntegrityError):  # another process created it first
            run_write(self.engine, work)

    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        validation.validate_experiment_name(name)
        if artifact_location:
            validation.validate_artifact_location(artifact_location)
        tag_items = {k: validation.validate_experiment_tag(k, v) for k, v in (tags or {}).items()}

        def work(conn: Connection) -> int:
            _check_name_free(conn, name)
            now = now_ms()
            experiment_id = insert_row(
                conn,
                experiments,
                (*ExperimentRow._fields[1:], "name_key"),  # not the generated experiment_id
                (
                    name,
                    artifact_location or "",
                    LifecycleStage.ACTIVE.value,
                    now,
                    now,
                    validation.experiment_name_key(name),
                ),
            )
            if not artifact_location:
                conn.execute(
                    update(experiments)
                    .where(experiments.c.experiment_id == experiment_id)
                    .values(artifact_location=self._experiment_location(experiment_id))
                )
            if tag_items:
                conn.execute(
                    experiment_tags.insert(),
                    [
                        {"experiment_id": experiment_id, "key": k, "value": v}
                        for k, v in tag_items.items()
                    ],
                )
            return experiment_id

        try:
            return str(run_write(self.engine, work))
        except IntegrityError:  # created concurrently between our check and insert
            raise _exists(name) from None

    def _experiment_row(self, conn: Connection, experiment_id: int) -> ExperimentRow:
        """The experiment's row, as driver SQL: creating a run starts here."""
        sql = select_sql(experiments, conn.dialect, ExperimentRow._fields, "experiment_id")
        found = driver_execute(conn, sql, (experiment_id,)).fetchone()
        if found is None:
            raise ResourceDoesNotExist(f"No experiment with id={experiment_id}")
        return ExperimentRow._make(found)

    def _load_experiments(
        self, conn: Connection, rows: Sequence[ExperimentRow | Row[Any]]
    ) -> list[Experiment]:
        ids = [r.experiment_id for r in rows]
        tag_map: dict[int, dict[str, str]] = {i: {} for i in ids}
        for chunk in run_data.chunks(ids):
            for t in conn.execute(
                select(experiment_tags).where(experiment_tags.c.experiment_id.in_(chunk))
            ):
                tag_map[t.experiment_id][t.key] = t.value
        return [
            Experiment(
                experiment_id=str(r.experiment_id),
                name=r.name,
                artifact_location=r.artifact_location,
                lifecycle_stage=LifecycleStage(r.lifecycle_stage),
                tags=tag_map[r.experiment_id],
                creation_time=r.creation_time,
                last_update_time=r.last_update_time,
            )
            for r in rows
        ]

    def get_experiment(self, experiment_id: str) -> Experiment:
        eid = validation.parse_id(experiment_id, "experiment id")

        def work(conn: Connection) -> Experiment:
            return self._load_experiments(conn, [self._experiment_row(conn, eid)])[0]

        return run_read(self.engine, work)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        def work(conn: Connection) -> Experiment | None:
            row = conn.execute(select(experiments).where(experiments.c.name == name)).first()
            return None if row is None else self._load_experiments(conn, [row])[0]

        return run_read(self.engine, work)

    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
        readable: Readable | None = None,
    ) -> PagedList[Experiment]:
        """`readable`, when given, builds the condition on an experiment id column that
        keeps only what the caller may read (see cairn.auth.permissions): it is part of the
        query, so pages stay full."""
        from cairn.search.page_token import decode_page_token
        from cairn.store.sql.search_experiments import select_experiment_ids

        check_max_results(max_results)
        stages = [s.value for s in ViewType.parse(view_type).stages]
        fingerprint = ("experiments", filter_string or "", tuple(order_by or ()), tuple(stages))
        offset = decode_page_token(page_token, fingerprint)
        query = select_experiment_ids(filter_string, stages, order_by, offset, max_results + 1)
        if readable is not None:
            query = query.where(readable(experiments.c.experiment_id))

        def work(conn: Connection) -> PagedList[Experiment]:
            def load(ids: list[Any]) -> list[Experiment]:
                rows = rows_in_order(conn, experiments.c.experiment_id, ids)
                return self._load_experiments(conn, rows)

            return page(conn, query, offset, max_results, fingerprint, load)

        return run_read(self.engine, work)

    def readable_experiments(self, experiment_ids: Sequence[str], readable: Readable) -> list[str]:
        """The ids among `experiment_ids` that pass `readable` (see `search_experiments`), in
        their order: searches over given experiments drop the others before they query."""
        eids = [validation.parse_id(e, "experiment id") for e in experiment_ids]
        if not eids:
            return []
        column = experiments.c.experiment_id
        query = select(column).where(column.in_(eids), readable(column))
        kept = {int(r) for r in run_read(self.engine, lambda c: c.execute(query).scalars().all())}
        return [str(e) for e in eids if e in kept]

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        eid = validation.parse_id(experiment_id, "experiment id")
        validation.validate_experiment_name(new_name)

        def work(conn: Connection) -> None:
            row = self._experiment_row(conn, eid)
            if row.lifecycle_stage != LifecycleStage.ACTIVE.value:
                raise InvalidParameterValue(
                    f"Experiment {eid} is deleted; restore it before renaming it."
                )
            _check_name_free(conn, new_name, eid)
            conn.execute(
                update(experiments)
                .where(experiments.c.experiment_id == eid)
                .values(
                    name=new_name,
                    name_key=validation.experiment_name_key(new_name),
                    last_update_time=now_ms(),
                )
            )

        try:
            run_write(self.engine, work)
        except IntegrityError:
            raise _exists(new_name) from None

    def _set_experiment_stage(self, experiment_id: str, to: LifecycleStage) -> None:
        eid = validation.parse_id(experiment_id, "experiment id")
        source = LifecycleStage.ACTIVE if to is LifecycleStage.DELETED else LifecycleStage.DELETED

        def work(conn: Connection) -> None:
            row = self._experiment_row(conn, eid)
            if row.lifecycle_stage != source.value:
                raise ResourceDoesNotExist(f"No {source.value} experiment with id={eid}")
            now = now_ms()
            in_experiment = runs.c.experiment_id == eid
            if to is LifecycleStage.DELETED:
                # The deletion time must be later than that of any run deleted on its own
                # before, even within the same millisecond, or restore could not tell them apart.
                latest = conn.execute(
                    select(func.max(runs.c.deleted_time)).where(in_experiment)
                ).scalar()
                if latest is not None and latest >= now:
                    now = latest + 1
            conn.execute(
                update(experiments)
                .where(experiments.c.experiment_id == eid)
                .values(lifecycle_stage=to.value, last_update_time=now)
            )
            if to is LifecycleStage.DELETED:
                conn.execute(
                    update(runs)
                    .where(in_experiment, runs.c.lifecycle_stage == LifecycleStage.ACTIVE.value)
                    .values(lifecycle_stage=to.value, deleted_time=now)
                )
            else:
                # Bring back the runs this experiment's deletion took, not the runs that had
                # been deleted on their own before it.
                conn.execute(
                    update(runs)
                    .where(in_experiment, runs.c.deleted_time >= row.last_update_time)
                    .values(lifecycle_stage=to.value, deleted_time=None)
                )

        run_write(self.engine, work)

    def delete_experiment(self, experiment_id: str) -> None:
        self._set_experiment_stage(experiment_id, LifecycleStage.DELETED)

    def restore_experiment(self, experiment_id: str) -> None:
        self._set_experiment_stage(experiment_id, LifecycleStage.ACTIVE)

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        eid = validation.parse_id(experiment_id, "experiment id")
        value = validation.validate_experiment_tag(key, value)

        def work(conn: Connection) -> None:
            row = self._experiment_row(conn, eid)
            if row.lifecycle_stage != LifecycleStage.ACTIVE.value:
                raise InvalidParameterValue(f"Experiment {eid} is deleted; its tags are frozen.")
            stmt = upsert(experiment_tags, self.dialect, ["experiment_id", "key"], ["value"])
            conn.execute(stmt, {"experiment_id": eid, "key": key, "value": value})

        run_write(self.engine, work)

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        eid = validation.parse_id(experiment_id, "experiment id")

        def work(conn: Connection) -> None:
            self._experiment_row(conn, eid)
            result = conn.execute(
                delete(experiment_tags).where(
                    experiment_tags.c.experiment_id == eid, experiment_tags.c.key == key
                )
            )
            if result.rowcount == 0:
                raise ResourceDoesNotExist(f"Experiment {eid} has no tag '{key}'")

        run_write(self.engine, work)


def _check_name_free(conn: Connection, name: str, experiment_id: int | None = None) -> None:
    """Refuse a name that another experiment (active or deleted) has, exactly or as a case or
    Unicode look-alike (`validation.name_key`, the registry's folding)."""
    clash = conn.execute(
        select(experiments.c.name, experiments.c.experiment_id).where(
            experiments.c.name_key == validation.experiment_name_key(name)
        )
    ).first()
    if clash is None or clash.experiment_id == experiment_id:
        return
    if clash.name == name:
        raise _exists(name)
    raise ResourceAlreadyExists(
        f"Experiment name {name!r} is too similar to the existing experiment {clash.name!r} "
        "(names may not differ only by case or look-alike characters)."
    )


def _exists(name: str) -> ResourceAlreadyExists:
    return ResourceAlreadyExists(
        f"Experiment '{name}' already exists (names are unique among active and deleted "
        "experiments)."
    )
