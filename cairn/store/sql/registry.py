"""SqlRegistryStore: the model registry on SQLite, PostgreSQL and MySQL, one code path.

It shares the tracking store's database and engine (a `runs:/` source is a run of the same
database). Every write runs in one transaction through `_write`, which also hands a
`RegistryChange` describing it to `_record` in that transaction: the one place an audit
trail, policy check or webhook queue attaches later.

Version numbers come from the model row's `next_version` counter, read and advanced under the
model's row lock (on SQLite, under the IMMEDIATE transaction's write lock), so concurrent
creators get 1, 2, 3… with no gaps or duplicates; `run_write` retries lock and deadlock
errors. A version's files are copied into registry-owned storage (see `model_sources`)
before its row is written; if the row cannot be written the copy is removed again.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Row, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from cairn.entities import (
    ModelVersion,
    ModelVersionStage,
    ModelVersionStatus,
    PagedList,
    RegisteredModel,
)
from cairn.exceptions import (
    InvalidParameterValue,
    PolicyRefused,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from cairn.store import registry_validation as rv
from cairn.store.model_sources import (
    REGISTRY_DIRECTORY,
    ArtifactAccess,
    LocalArtifactAccess,
    copy_files,
    delete_files,
    resolve_source,
)
from cairn.store.registry_base import (
    SEARCH_MODEL_VERSIONS_DEFAULT,
    SEARCH_MODEL_VERSIONS_MAX,
    SEARCH_REGISTERED_MODELS_DEFAULT,
    SEARCH_REGISTERED_MODELS_MAX,
    RegistryChange,
)
from cairn.store.sql import governance, registry_rows
from cairn.store.sql.dialects import upsert
from cairn.store.sql.engine import run_read, run_write
from cairn.store.sql.queries import now_ms, rows_in_order
from cairn.store.sql.registry_governance import GovernanceMethods
from cairn.store.sql.registry_rows import move_stage, parse_transition
from cairn.store.sql.run_data import chunks
from cairn.store.sql.schema import (
    model_version_tags,
    model_versions,
    registered_model_aliases,
    registered_model_tags,
    registered_models,
    transition_requests,
)

if TYPE_CHECKING:
    from cairn.store.sql.search_registry import Readable
    from cairn.store.sql.store import SqlTrackingStore

T = TypeVar("T")
_rm, _mv = registered_models.c, model_versions.c


def _check_max_results(max_results: int, limit: int) -> None:
    if not isinstance(max_results, int) or isinstance(max_results, bool) or max_results < 1:
        raise InvalidParameterValue(f"max_results must be a positive integer, got {max_results!r}")
    if max_results > limit:
        raise InvalidParameterValue(f"max_results may be at most {limit}, got {max_results}")


class SqlRegistryStore(GovernanceMethods):
    """A `RegistryStore` on the database of `tracking`. Thread-safe; share one per database.

    `access` opens artifact locations for version sources and copies (default: local paths
    under the tracking store's artifact root); the server passes its `ServerStorage`.
    """

    _cache: dict[tuple[int, str, str | None], SqlRegistryStore] = {}
    _cache_lock = threading.Lock()

    def __init__(self, tracking: SqlTrackingStore, access: ArtifactAccess | None = None) -> None:
        self.tracking = tracking
        self.engine = tracking.engine
        self.dialect = tracking.dialect
        self.access: ArtifactAccess = access or LocalArtifactAccess(tracking.artifact_root)
        self.storage_root = f"{tracking.artifact_root.rstrip('/')}/{REGISTRY_DIRECTORY}"

    @classmethod
    def for_uri(cls, db_uri: str, default_artifact_root: str | None = None) -> SqlRegistryStore:
        from cairn.store.sql.store import SqlTrackingStore

        key = (os.getpid(), db_uri, default_artifact_root)
        with cls._cache_lock:
            store = cls._cache.get(key)
            if store is None:
                tracking = SqlTrackingStore.for_uri(db_uri, default_artifact_root)
                store = cls._cache[key] = cls(tracking)
            return store

    # -- the one write path ------------------------------------------------------------------

    def _write(self, work: Callable[[Connection], tuple[T, RegistryChange]]) -> T:
        def transaction(conn: Connection) -> T:
            result, change = work(conn)
            self._record(conn, change)
            return result

        try:
            result = run_write(self.engine, transaction)
        except PolicyRefused as exc:
            change = getattr(exc, "change", None)
            if isinstance(change, RegistryChange):  # the refusal is audited on its own
                refusal = governance.refused(change, exc.message)
                run_write(self.engine, lambda conn: governance.audit(conn, refusal))
            raise
        if self.sender is not None:
            self.sender.wake()  # deliveries may have been queued
        return result

    def _record(self, conn: Connection, change: RegistryChange) -> None:
        """Called with every change, inside its transaction: promotion policies are checked
        (a refusal rolls the change back), the audit row written and webhook deliveries
        queued, so all of them commit or roll back with the change itself."""
        try:
            governance.record(conn, change, self.access)
        except PolicyRefused as exc:
            exc.change = change  # type: ignore[attr-defined]
            raise

    def _read_model(self, name: str) -> RegisteredModel:
        def work(conn: Connection) -> RegisteredModel:
            return registry_rows.load_models(conn, [registry_rows.model_row(conn, name)])[0]

        return run_read(self.engine, work)

    def _read_version(self, name: str, version: int) -> ModelVersion:
        def work(conn: Connection) -> ModelVersion:
            row = registry_rows.version_row(conn, registry_rows.model_row(conn, name), version)
            return registry_rows.load_versions(conn, [row])[0]

        return run_read(self.engine, work)

    # -- registered models -------------------------------------------------------------------

    def create_registered_model(
        self,
        name: str,
        tags: dict[str, str] | None = None,
        description: str | None = None,
    ) -> RegisteredModel:
        rv.validate_model_name(name)
        tag_items = rv.validate_tags(tags)
        text = rv.validate_description(description)

        def work(conn: Connection) -> tuple[None, RegistryChange]:
            registry_rows.check_name_free(conn, name)
            now = now_ms()
            result = conn.execute(
                registered_models.insert().values(
                    name=name,
                    name_key=rv.name_key(name),
                    creation_timestamp=now,
                    last_updated_timestamp=now,
                    description=text,
                    user_id="",
                    next_version=1,
                )
            )
            model_pk = result.inserted_primary_key[0]  # type: ignore[index]
            if tag_items:
                conn.execute(
                    registered_model_tags.insert(),
                    [{"model_pk": model_pk, "key": k, "value": v} for k, v in tag_items.items()],
                )
            return None, RegistryChange("CREATE_MODEL", name, to_value=text)

        try:
            self._write(work)
        except IntegrityError:  # created concurrently between our check and insert
            raise ResourceAlreadyExists(f"Registered Model (name={name}) already exists.") from None
        return self._read_model(name)

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self._read_model(name)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        rv.validate_model_name(new_name)

        def work(conn: Connection) -> tuple[None, RegistryChange]:
            model = registry_rows.model_row(conn, name, lock=True)
            registry_rows.check_name_free(conn, new_name, model.model_pk)
            conn.execute(
                update(registered_models)
                .where(_rm.model_pk == model.model_pk)
                .values(
                    name=new_name, name_key=rv.name_key(new_name), last_updated_timestamp=now_ms()
                )
            )
            return None, RegistryChange("RENAME_MODEL", name, from_value=name, to_value=new_name)

        try:
            self._write(work)
        except IntegrityError:
            raise ResourceAlreadyExists(
                f"Registered Model (name={new_name}) already exists."
            ) from None
        return self._read_model(new_name)

    def update_registered_model(self, name: str, description: str) -> RegisteredModel:
        text = rv.validate_description(description)

        def work(conn: Connection) -> tuple[None, RegistryChange]:
            model = registry_rows.model_row(conn, name, lock=True)
            conn.execute(
                update(registered_models)
                .where(_rm.model_pk == model.model_pk)
                .values(description=text, last_updated_timestamp=now_ms())
            )
            return None, RegistryChange(
                "UPDATE_DESCRIPTION", name, from_value=model.description, to_value=text
            )

        self._write(work)
        return self._read_model(name)

    def delete_registered_model(self, name: str) -> None:
        def work(conn: Connection) -> tuple[list[str], RegistryChange]:
            model = registry_rows.model_row(conn, name, lock=True)
            locations = list(
                conn.execute(
                    select(_mv.storage_location).where(_mv.model_pk == model.model_pk)
                ).scalars()
            )
            # Children first: MySQL does not promise to cascade through composite keys in
            # the order SQLite and PostgreSQL do, and explicit deletes cost little here.
            for table in (
                registered_model_aliases,
                transition_requests,
                model_version_tags,
                model_versions,
            ):
                conn.execute(delete(table).where(table.c.model_pk == model.model_pk))
            conn.execute(
                delete(registered_model_tags).where(
                    registered_model_tags.c.model_pk == model.model_pk
                )
            )
            conn.execute(delete(registered_models).where(_rm.model_pk == model.model_pk))
            return locations, RegistryChange("DELETE_MODEL", name)

        for location in self._write(work):
            if location:
                delete_files(self.access, location)

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_REGISTERED_MODELS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
        readable: Readable | None = None,
    ) -> PagedList[RegisteredModel]:
        """`readable`, when given, limits the search to the models it admits, inside the
        query (see `search_registry.Readable`)."""
        from cairn.search.page_token import decode_page_token, encode_page_token
        from cairn.store.sql.search_registry import select_model_pks

        _check_max_results(max_results, SEARCH_REGISTERED_MODELS_MAX)
        fingerprint = ("registered-models", filter_string or "", tuple(order_by or ()))
        offset = decode_page_token(page_token, fingerprint)
        query = select_model_pks(filter_string, order_by, offset, max_results + 1, readable)

        def work(conn: Connection) -> PagedList[RegisteredModel]:
            pks = list(conn.execute(query).scalars())
            token = None
            if len(pks) > max_results:
                pks = pks[:max_results]
                token = encode_page_token(offset + max_results, fingerprint)
            rows = rows_in_order(conn, _rm.model_pk, pks)
            return PagedList(registry_rows.load_models(conn, rows), token)

        return run_read(self.engine, work)

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        value = rv.validate_registry_tag(key, value)

        def work(conn: Connection) -> tuple[None, RegistryChange]:
            model = registry_rows.model_row(conn, name, lock=True)
            t = registered_model_tags.c
            old = conn.execute(
                select(t.value).where(t.model_pk == model.model_pk, t.key == key)
            ).scalar()
            stmt = upsert(registered_model_tags, self.dialect, ["model_pk", "key"], ["value"])
            conn.execute(stmt, {"model_pk": model.model_pk, "key": key, "value": value})
            registry_rows.touch(conn, model.model_pk, now_ms())
            return None, RegistryChange(
                "SET_TAG", name, key=key, from_value=old or "", to_value=value
            )

        self._write(work)

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        def work(conn: Connection) -> tuple[None, RegistryChange]:
            model = registry_rows.model_row(conn, name, lock=True)
            t = registered_model_tags.c
            old = conn.execute(
                select(t.value).where(t.model_pk == model.model_pk, t.key == key)
            ).scalar()
            removed = conn.execute(
                delete(registered_model_tags).where(t.model_pk == model.model_pk, t.key == key)
            )
            if removed.rowcount:
                registry_rows.touch(conn, model.model_pk, now_ms())
            return None, RegistryChange("DELETE_TAG", name, key=key, from_value=old or "")

        self._write(work)

    def get_latest_versions(
        self, name: str, stages: Sequence[str] | None = None
    ) -> list[ModelVersion]:
        wanted = registry_rows.STAGE_ORDER if not stages else [rv.parse_stage(s) for s in stages]
        wanted = list(dict.fromkeys(wanted))

        def work(conn: Connection) -> list[ModelVersion]:
            model = registry_rows.model_row(conn, name)
            return registry_rows.load_versions(
                conn, registry_rows.latest_rows(conn, [model.model_pk], wanted)
            )

        return run_read(self.engine, work)

    # -- aliases -----------------------------------------------------------------------------

    def set_registered_model_alias(
        self, name: str, alias: str, version: str, comment: str | None = None
    ) -> None:
        rv.validate_alias(alias)
        number = rv.parse_version(version)
        note = rv.validate_description(comment)

        def work(conn: Connection) -> tuple[None, RegistryChange]:
            model = registry_rows.model_row(conn, name, lock=True)
            registry_rows.version_row(conn, model, number)
            a = registered_model_aliases.c
            old = conn.execute(
                select(a.version).where(a.model_pk == model.model_pk, a.alias == alias)
            ).scalar()
            stmt = upsert(
                registered_model_aliases, self.dialect, ["model_pk", "alias"], ["version"]
            )
            conn.execute(stmt, {"model_pk": model.model_pk, "alias": alias, "version": number})
            registry_rows.touch(conn, model.model_pk, now_ms())
            return None, RegistryChange(
                "SET_ALIAS",
                name,
                str(number),
                key=alias,
                from_value="" if old is None else str(old),
                to_value=str(number),
                comment=note,
            )

        self._write(work)

    def delete_registered_model_alias(
        self, name: str, alias: str, comment: str | None = None
    ) -> None:
        note = rv.validate_description(comment)

        def work(conn: Connection) -> tuple[None, RegistryChange]:
            model = registry_rows.model_row(conn, name, lock=True)
            a = registered_model_aliases.c
            old = conn.execute(
                select(a.version).where(a.model_pk == model.model_pk, a.alias == alias)
            ).scalar()
            removed = conn.execute(
                delete(registered_model_aliases).where(
                    a.model_pk == model.model_pk, a.alias == alias
                )
            )
            if removed.rowcount:
                registry_rows.touch(conn, model.model_pk, now_ms())
            return None, RegistryChange(
                "DELETE_ALIAS",
                name,
                "" if old is None else str(old),
                key=alias,
                from_value="" if old is None else str(old),
                comment=note,
            )

        self._write(work)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        def work(conn: Connection) -> ModelVersion:
            model = registry_rows.model_row(conn, name)
            if isinstance(alias, str) and alias.lower() == "latest":
                number = conn.execute(
                    select(func.max(_mv.version)).where(_mv.model_pk == model.model_pk)
                ).scalar()
                if number is None:
                    raise ResourceDoesNotExist(f"Registered model {name!r} has no versions")
            else:
                a = registered_model_aliases.c
                number = conn.execute(
                    select(a.version).where(a.model_pk == model.model_pk, a.alias == alias)
                ).scalar()
                if number is None:
                    # MLflow answers INVALID_PARAMETER_VALUE here, not RESOURCE_DOES_NOT_EXIST.
                    raise InvalidParameterValue(
                        f"Registered model alias {alias} not found for model {name!r}."
                    )
            return registry_rows.load_versions(
                conn, [registry_rows.version_row(conn, model, number)]
            )[0]

        return run_read(self.engine, work)

    # -- model versions ----------------------------------------------------------------------

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, str] | None = None,
        run_link: str | None = None,
        description: str | None = None,
    ) -> ModelVersion:
        rv.validate_model_name(name)
        tag_items = rv.validate_tags(tags)
        text = rv.validate_description(description)
        link = rv.validate_description(run_link)
        self._read_model(name)  # fail before copying anything
        origin, run = resolve_source(source, run_id or None, self.tracking, self)
        storage = f"{self.storage_root}/{uuid.uuid4().hex}"
        copy_files(self.access, origin, storage)

        def work(conn: Connection) -> tuple[int, RegistryChange]:
            model = registry_rows.model_row(conn, name, lock=True)
            number = int(model.next_version)
            now = now_ms()
            conn.execute(
                update(registered_models)
                .where(_rm.model_pk == model.model_pk)
                .values(next_version=number + 1, last_updated_timestamp=now)
            )
            conn.execute(
                model_versions.insert().values(
                    model_pk=model.model_pk,
                    version=number,
                    creation_timestamp=now,
                    last_updated_timestamp=now,
                    current_stage=ModelVersionStage.NONE.value,
                    description=text,
                    user_id="",
                    source=source,
                    run_id=run,
                    run_link=link,
                    status=ModelVersionStatus.READY.value,
                    status_message="",
                    storage_location=storage,
                )
            )
            if tag_items:
                conn.execute(
                    model_version_tags.insert(),
                    [
                        {"model_pk": model.model_pk, "version": number, "key": k, "value": v}
                        for k, v in tag_items.items()
                    ],
                )
            change = RegistryChange("CREATE_VERSION", name, str(number), to_value=source)
            return number, change

        try:
            number = self._write(work)
        except BaseException:
            delete_files(self.access, storage)
            raise
        return self._read_version(name, number)

    def get_model_version(self, name: str, version: str) -> ModelVersion:
        return self._read_version(name, rv.parse_version(version))

    def update_model_version(self, name: str, version: str, description: str) -> ModelVersion:
        number = rv.parse_version(version)
        text = rv.validate_description(description)

        def work(conn: Connection) -> tuple[None, RegistryChange]:
            model = registry_rows.model_row(conn, name, lock=True)
            row = registry_rows.version_row(conn, model, number)
            now = now_ms()
            conn.execute(
                update(model_versions)
                .where(_mv.model_pk == model.model_pk, _mv.version == number)
                .values(description=text, last_updated_timestamp=now)
            )
            registry_rows.touch(conn, model.model_pk, now)
            change = RegistryChange(
                "UPDATE_DESCRIPTION", name, str(number), from_value=row.description, to_value=text
            )
            return None, change

        self._write(work)
        return self._read_version(name, number)

    def transition_model_version_stage(
        self,
        name: str,
        version: str,
        stage: ModelVersionStage | str,
        archive_existing_versions: bool = False,
        comment: str | None = None,
    ) -> ModelVersion:
        number = rv.parse_version(version)
        target = parse_transition(stage, archive_existing_versions)
        note = rv.validate_description(comment)

        def work(conn: Connection) -> tuple[None, RegistryChange]:
            model = registry_rows.model_row(conn, name, lock=True)
            row = registry_rows.version_row(conn, model, number)
            return None, move_stage(conn, model, row, target, archive_existing_versions, note)

        self._write(work)
        return self._read_version(name, number)

    def delete_model_version(self, name: str, version: str) -> None:
        number = rv.parse_version(version)

        def work(conn: Connection) -> tuple[str, RegistryChange]:
            model = registry_rows.model_row(conn, name, lock=True)
            row = registry_rows.version_row(conn, model, number)
            key = (registered_model_aliases.c.model_pk == model.model_pk,)
            conn.execute(
                delete(registered_model_aliases).where(
                    *key, registered_model_aliases.c.version == number
                )
            )
            for table in (model_version_tags, transition_requests):
                conn.execute(
                    delete(table).where(
                        table.c.model_pk == model.model_pk, table.c.version == number
                    )
                )
            conn.execute(
                delete(model_versions).where(_mv.model_pk == model.model_pk, _mv.version == number)
            )
            registry_rows.touch(conn, model.model_pk, now_ms())
            change = RegistryChange(
                "DELETE_VERSION", name, str(number), from_value=row.current_stage
            )
            return row.storage_location, change

        location = self._write(work)
        if location:
            delete_files(self.access, location)

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_MODEL_VERSIONS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
        readable: Readable | None = None,
    ) -> PagedList[ModelVersion]:
        """`readable`: as in `search_registered_models`."""
        from cairn.search.page_token import decode_page_token, encode_page_token
        from cairn.store.sql.search_registry import select_version_keys

        _check_max_results(max_results, SEARCH_MODEL_VERSIONS_MAX)
        fingerprint = ("model-versions", filter_string or "", tuple(order_by or ()))
        offset = decode_page_token(page_token, fingerprint)
        query = select_version_keys(filter_string, order_by, offset, max_results + 1, readable)

        def work(conn: Connection) -> PagedList[ModelVersion]:
            keys = [(pk, v) for pk, v in conn.execute(query)]
            token = None
            if len(keys) > max_results:
                keys = keys[:max_results]
                token = encode_page_token(offset + max_results, fingerprint)
            by_model: dict[int, list[int]] = {}
            for pk, number in keys:
                by_model.setdefault(pk, []).append(number)
            rows: dict[tuple[int, int], Row[Any]] = {}
            for pk, numbers in by_model.items():
                for chunk in chunks(numbers):
                    found = select(model_versions).where(_mv.model_pk == pk, _mv.version.in_(chunk))
                    for row in conn.execute(found):
                        rows[(row.model_pk, row.version)] = row
            return PagedList(registry_rows.load_versions(conn, [rows[k] for k in keys]), token)

        return run_read(self.engine, work)

    def get_model_version_download_uri(self, name: str, version: str) -> str:
        return self.get_model_version(name, version).download_uri

    def set_model_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        number = rv.parse_version(version)
        value = rv.validate_registry_tag(key, value)

        def work(conn: Connection) -> tuple[None, RegistryChange]:
            model = registry_rows.model_row(conn, name, lock=True)
            registry_rows.version_row(conn, model, number)
            t = model_version_tags.c
            old = conn.execute(
                select(t.value).where(
                    t.model_pk == model.model_pk, t.version == number, t.key == key
                )
            ).scalar()
            stmt = upsert(
                model_version_tags, self.dialect, ["model_pk", "version", "key"], ["value"]
            )
            conn.execute(
                stmt, {"model_pk": model.model_pk, "version": number, "key": key, "value": value}
            )
            now = now_ms()
            conn.execute(
                update(model_versions)
                .where(_mv.model_pk == model.model_pk, _mv.version == number)
                .values(last_updated_timestamp=now)
            )
            registry_rows.touch(conn, model.model_pk, now)
            return None, RegistryChange(
                "SET_TAG", name, str(number), key=key, from_value=old or "", to_value=value
            )

        self._write(work)

    def delete_model_version_tag(self, name: str, version: str, key: str) -> None:
        number = rv.parse_version(version)

        def work(conn: Connection) -> tuple[None, RegistryChange]:
            model = registry_rows.model_row(conn, name, lock=True)
            registry_rows.version_row(conn, model, number)
            t = model_version_tags.c
            old = conn.execute(
                select(t.value).where(
                    t.model_pk == model.model_pk, t.version == number, t.key == key
                )
            ).scalar()
            removed = conn.execute(
                delete(model_version_tags).where(
                    t.model_pk == model.model_pk, t.version == number, t.key == key
                )
            )
            if removed.rowcount:
                now = now_ms()
                conn.execute(
                    update(model_versions)
                    .where(_mv.model_pk == model.model_pk, _mv.version == number)
                    .values(last_updated_timestamp=now)
                )
                registry_rows.touch(conn, model.model_pk, now)
            return None, RegistryChange(
                "DELETE_TAG", name, str(number), key=key, from_value=old or ""
            )

        self._write(work)
