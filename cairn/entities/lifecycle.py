"""Lifecycle stages and the view types that select them in searches."""

from __future__ import annotations

from enum import StrEnum


class LifecycleStage(StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"

    def __str__(self) -> str:
        return self.value


class ViewType(StrEnum):
    """Which lifecycle stages a search returns (MLflow's `view_type` / `run_view_type`)."""

    ACTIVE_ONLY = "ACTIVE_ONLY"
    DELETED_ONLY = "DELETED_ONLY"
    ALL = "ALL"

    @property
    def stages(self) -> tuple[LifecycleStage, ...]:
        if self is ViewType.ACTIVE_ONLY:
            return (LifecycleStage.ACTIVE,)
        if self is ViewType.DELETED_ONLY:
            return (LifecycleStage.DELETED,)
        return (LifecycleStage.ACTIVE, LifecycleStage.DELETED)

    @classmethod
    def parse(cls, value: ViewType | str | int | None) -> ViewType:
        """Accept the enum, its name (any case) or MLflow's integer codes 1, 2, 3."""
        if value is None:
            return cls.ACTIVE_ONLY
        if isinstance(value, ViewType):
            return value
        if isinstance(value, int):
            return {1: cls.ACTIVE_ONLY, 2: cls.DELETED_ONLY, 3: cls.ALL}[value]
        return cls(value.upper())
