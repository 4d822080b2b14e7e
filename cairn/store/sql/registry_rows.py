"""Rows of the registry tables and the entities built from them, for `SqlRegistryStore`.

Plain functions of a connection: the store's methods compose them inside their transactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, func, select, update

from cairn.entities import ModelVersion, ModelVersionStage, ModelVersionStatus, RegisteredModel
from cairn.exceptions import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from cairn.store import registry_validation as rv
from cairn.store.registry_base import RegistryChange
from cairn.store.sql.queries import now_ms
from cairn.store.sql.run_data import chunks
from cairn.store.sql.schema import (
    model_version_tags,
    model_versions,
    registered_model_aliases,
    registered_model_tags,
    registered_models,
)

_rm, _mv = registered_models.c, model_versions.c
STAGE_ORDER = list(ModelVersionStage)


def model_row(conn: Connection, name: str, *, lock: bool = False) -> Row[Any]:
    query = select(registered_models).where(_rm.name == name)
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise ResourceDoesNotExist(f"Registered Model with name={name} not found")
    return row


def version_row(conn: Connection, model: Row[Any], version: int) -> Row[Any]:
    row = conn.execute(
        select(model_versions).where(_mv.model_pk == model.model_pk, _mv.version == version)
    ).first()
    if row is None:
        raise ResourceDoesNotExist(
            f"Model Version (name={model.name}, version={version}) not found"
        )
    return row


def touch(conn: Connection, model_pk: int, now: int) -> None:
    conn.execute(
        update(registered_models).where(_rm.model_pk == model_pk).values(last_updated_timestamp=now)
    )


def check_name_free(conn: Connection, name: str, model_pk: int | None = None) -> None:
    """Refuse a name that another model has, exactly or as a case/Unicode look-alike."""
    clash = conn.execute(
        select(_rm.name, _rm.model_pk).where(_rm.name_key == rv.name_key(name))
    ).first()
    if clash is None or clash.model_pk == model_pk:
        return
    if clash.name == name:
        raise ResourceAlreadyExists(f"Registered Model (name={name}) already exists.")
    raise ResourceAlreadyExists(
        f"Registered model name {name!r} is too similar to the existing model "
        f"{clash.name!r} (names may not differ only by case or look-alike characters)."
    )


# -- loading entities --------------------------------------------------------------------


def load_versions(conn: Connection, rows: Sequence[Row[Any]]) -> list[ModelVersion]:
    if not rows:
        return []
    pks = sorted({r.model_pk for r in rows})
    names: dict[int, str] = {}
    tags: dict[tuple[int, int], dict[str, str]] = {}
    aliases: dict[tuple[int, int], list[str]] = {}
    wanted = {(r.model_pk, r.version) for r in rows}
    for chunk in chunks(pks):
        for pk, name in conn.execute(select(_rm.model_pk, _rm.name).where(_rm.model_pk.in_(chunk))):
            names[pk] = name
        a = registered_model_aliases.c
        for alias in conn.execute(
            select(a.model_pk, a.version, a.alias).where(a.model_pk.in_(chunk)).order_by(a.alias)
        ):
            aliases.setdefault((alias.model_pk, alias.version), []).append(alias.alias)
    # Tags of exactly the wanted versions: a model may have many thousands of versions.
    numbers: dict[int, list[int]] = {}
    for pk, number in sorted(wanted):
        numbers.setdefault(pk, []).append(number)
    t = model_version_tags.c
    for pk, versions in numbers.items():
        for chunk in chunks(versions):
            for tag in conn.execute(
                select(t.model_pk, t.version, t.key, t.value)
                .where(t.model_pk == pk, t.version.in_(chunk))
                .order_by(t.key)
            ):
                tags.setdefault((tag.model_pk, tag.version), {})[tag.key] = tag.value
    return [
        ModelVersion(
            name=names[r.model_pk],
            version=str(r.version),
            creation_timestamp=r.creation_timestamp,
            last_updated_timestamp=r.last_updated_timestamp,
            current_stage=ModelVersionStage(r.current_stage),
            description=r.description,
            user_id=r.user_id,
            source=r.source,
            run_id=r.run_id or "",
            run_link=r.run_link,
            status=ModelVersionStatus(r.status),
            status_message=r.status_message,
            tags=tags.get((r.model_pk, r.version), {}),
            aliases=tuple(aliases.get((r.model_pk, r.version), ())),
            storage_location=r.storage_location,
        )
        for r in rows
    ]


def latest_rows(
    conn: Connection, model_pks: Sequence[int], stages: Sequence[ModelVersionStage]
) -> list[Row[Any]]:
    """The highest version of each (model, stage), ordered by model then stage."""
    found: list[Row[Any]] = []
    for chunk in chunks(list(model_pks)):
        newest = (
            select(_mv.model_pk, _mv.current_stage, func.max(_mv.version).label("version"))
            .where(_mv.model_pk.in_(chunk), _mv.current_stage.in_([s.value for s in stages]))
            .group_by(_mv.model_pk, _mv.current_stage)
            .subquery()
        )
        found.extend(
            conn.execute(
                select(model_versions).join(
                    newest,
                    (newest.c.model_pk == _mv.model_pk) & (newest.c.version == _mv.version),
                )
            ).all()
        )
    order = {s.value: i for i, s in enumerate(stages)}
    return sorted(found, key=lambda r: (r.model_pk, order[r.current_stage]))


def load_models(conn: Connection, rows: Sequence[Row[Any]]) -> list[RegisteredModel]:
    pks = [r.model_pk for r in rows]
    tags: dict[int, dict[str, str]] = {}
    aliases: dict[int, dict[str, str]] = {}
    for chunk in chunks(pks):
        t = registered_model_tags.c
        for tag in conn.execute(
            select(t.model_pk, t.key, t.value).where(t.model_pk.in_(chunk)).order_by(t.key)
        ):
            tags.setdefault(tag.model_pk, {})[tag.key] = tag.value
        a = registered_model_aliases.c
        for alias in conn.execute(
            select(a.model_pk, a.alias, a.version).where(a.model_pk.in_(chunk)).order_by(a.alias)
        ):
            aliases.setdefault(alias.model_pk, {})[alias.alias] = str(alias.version)
    latest: dict[int, list[ModelVersion]] = {}
    by_name = {r.name: r.model_pk for r in rows}
    for version in load_versions(conn, latest_rows(conn, pks, STAGE_ORDER)):
        latest.setdefault(by_name[version.name], []).append(version)
    return [
        RegisteredModel(
            name=r.name,
            creation_timestamp=r.creation_timestamp,
            last_updated_timestamp=r.last_updated_timestamp,
            description=r.description,
            user_id=r.user_id,
            tags=tags.get(r.model_pk, {}),
            aliases=aliases.get(r.model_pk, {}),
            latest_versions=tuple(latest.get(r.model_pk, ())),
        )
        for r in rows
    ]


def parse_transition(
    stage: ModelVersionStage | str, archive_existing_versions: bool
) -> ModelVersionStage:
    """The target stage of a transition; archiving others only applies to Staging and
    Production."""
    target = rv.parse_stage(stage)
    if archive_existing_versions and target not in (
        ModelVersionStage.STAGING,
        ModelVersionStage.PRODUCTION,
    ):
        raise InvalidParameterValue(
            "archive_existing_versions applies only to transitions to Staging or "
            f"Production, not to {target}."
        )
    return target


def move_stage(
    conn: Connection,
    model: Row[Any],
    row: Row[Any],
    target: ModelVersionStage,
    archive_existing_versions: bool,
    comment: str,
    approved: bool = False,
) -> RegistryChange:
    """Move the version `row` of the locked `model` to `target` (archiving the versions
    already there if asked); the change, for the caller to record."""
    now = now_ms()
    key = (_mv.model_pk == model.model_pk,)
    conn.execute(
        update(model_versions)
        .where(*key, _mv.version == row.version)
        .values(current_stage=target.value, last_updated_timestamp=now)
    )
    if archive_existing_versions:
        conn.execute(
            update(model_versions)
            .where(*key, _mv.version != row.version, _mv.current_stage == target.value)
            .values(current_stage=ModelVersionStage.ARCHIVED.value, last_updated_timestamp=now)
        )
    touch(conn, model.model_pk, now)
    return RegistryChange(
        "TRANSITION_STAGE",
        model.name,
        str(row.version),
        from_value=row.current_stage,
        to_value=target.value,
        comment=comment,
        approved=approved,
    )
