"""The state of an experiment's runs table, read from and written back to its URL.

    /experiments/3?filter=metrics.acc > 0.9&sort=metrics.acc&dir=asc&col=params.lr&page=2

* `filter` — a search filter (docs/search.md), passed to the store unchanged.
* `sort` — the column to sort by, `<entity>.<key>` with entity `attributes`, `metrics`,
  `params` or `tags` and the key as logged (no quoting); default `attributes.start_time`.
* `dir` — `asc` or `desc` (default `desc`).
* `col` — repeated, the param/metric/tag columns shown, `<entity>.<key>` as for `sort`;
  `cols=1` marks an explicit choice (possibly empty), otherwise a default set is shown.
* `page` (1-based) and `size` (rows per page, default 100, at most 1,000).
* `view` — `active` (the default), `deleted` or `all`: which runs by lifecycle stage.

Everything the table shows comes from these, so a view is shared by copying its link.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from cairn.entities import LifecycleStage
from cairn.exceptions import InvalidParameterValue

ENTITIES = ("metrics", "params", "tags")
ATTRIBUTES = ("run_name", "status", "user_id", "start_time", "end_time")
DEFAULT_SORT = "attributes.start_time"
DEFAULT_SIZE = 100
MAX_SIZE = 1000
DEFAULT_COLUMNS_PER_ENTITY = 8
MAX_COLUMNS = 100
VIEWS: dict[str, tuple[str, ...]] = {
    "active": (LifecycleStage.ACTIVE.value,),
    "deleted": (LifecycleStage.DELETED.value,),
    "all": (LifecycleStage.ACTIVE.value, LifecycleStage.DELETED.value),
}
"""The `view` values and the lifecycle stages each shows."""


@dataclass(frozen=True, slots=True)
class Column:
    entity: str  # "attributes", "metrics", "params" or "tags"
    key: str

    @property
    def ref(self) -> str:
        """How the column is named in URLs."""
        return f"{self.entity}.{self.key}"

    @property
    def identifier(self) -> str:
        """The column as a search identifier: the key backticked, so any key works."""
        if self.entity == "attributes":
            return f"attributes.{self.key}"
        return f"{self.entity}.`{self.key.replace('`', '``')}`"


def parse_column(ref: str) -> Column:
    """`metrics.acc` -> Column("metrics", "acc"); InvalidParameterValue if malformed."""
    entity, dot, key = ref.partition(".")
    if not dot or not key or entity not in (*ENTITIES, "attributes"):
        raise InvalidParameterValue(
            f"Unknown column {ref!r}: expected attributes.<name>, metrics.<key>, "
            "params.<key> or tags.<key>"
        )
    return Column(entity, key)


@dataclass(frozen=True, slots=True)
class RunsView:
    filter: str = ""
    sort: str = DEFAULT_SORT
    descending: bool = True
    columns: tuple[Column, ...] = ()
    explicit_columns: bool = False
    page: int = 1
    size: int = DEFAULT_SIZE
    view: str = "active"

    @classmethod
    def from_query(cls, pairs: Iterable[tuple[str, str]]) -> tuple[RunsView, list[str]]:
        """The view a query string asks for, and the complaints about it.

        Malformed values are replaced by their defaults and reported, so the page can still
        render with the problem shown next to the control that caused it.
        """
        values: dict[str, str] = {}
        cols: list[str] = []
        for name, value in pairs:
            if name == "col":
                cols.append(value)
            else:
                values.setdefault(name, value)
        errors: list[str] = []
        view = cls(filter=values.get("filter", "").strip())
        sort = values.get("sort", "").strip() or DEFAULT_SORT
        try:
            parse_column(sort)
            view = replace(view, sort=sort)
        except InvalidParameterValue as e:
            errors.append(f"Bad sort: {e.message}")
        direction = values.get("dir", "desc").lower()
        if direction not in ("asc", "desc"):
            errors.append(f"Bad dir {direction!r}: expected asc or desc")
            direction = "desc"
        view = replace(view, descending=direction == "desc")
        columns: list[Column] = []
        for ref in [c.strip() for c in cols if c.strip()][:MAX_COLUMNS]:
            try:
                column = parse_column(ref)
            except InvalidParameterValue as e:
                errors.append(e.message)
                continue
            if column.entity != "attributes" and column not in columns:
                columns.append(column)
        explicit = "cols" in values or bool(cols)
        view = replace(view, columns=tuple(columns), explicit_columns=explicit)
        page = _positive_int(values.get("page"), "page", 1, None, errors)
        size = _positive_int(values.get("size"), "size", DEFAULT_SIZE, MAX_SIZE, errors)
        shown = values.get("view", "active") or "active"
        if shown not in VIEWS:
            errors.append(f"Unknown view {shown!r}: expected active, deleted or all")
            shown = "active"
        return replace(view, page=page, size=size, view=shown), errors

    @property
    def stages(self) -> tuple[str, ...]:
        """The lifecycle stages of the runs this view shows."""
        return VIEWS[self.view]

    @property
    def sort_column(self) -> Column:
        return parse_column(self.sort)

    @property
    def order_by(self) -> list[str]:
        return [f"{self.sort_column.identifier} {'DESC' if self.descending else 'ASC'}"]

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    def with_default_columns(self, keys: Mapping[str, Sequence[str]]) -> RunsView:
        """Without an explicit choice, the first few metrics and params of `keys`."""
        if self.explicit_columns:
            return self
        chosen = [
            Column(entity, key)
            for entity in ("metrics", "params")
            for key in list(keys.get(entity, ()))[:DEFAULT_COLUMNS_PER_ENTITY]
        ]
        return replace(self, columns=tuple(chosen))

    def query(self, **changes: object) -> str:
        """This view's query string (`?…`), with `changes` applied; defaults are left out."""
        view = replace(self, **changes)  # type: ignore[arg-type]
        pairs: list[tuple[str, str]] = []
        if view.filter:
            pairs.append(("filter", view.filter))
        if view.sort != DEFAULT_SORT:
            pairs.append(("sort", view.sort))
        if not view.descending:
            pairs.append(("dir", "asc"))
        if view.explicit_columns:
            pairs.append(("cols", "1"))
            pairs.extend(("col", c.ref) for c in view.columns)
        if view.page != 1:
            pairs.append(("page", str(view.page)))
        if view.size != DEFAULT_SIZE:
            pairs.append(("size", str(view.size)))
        if view.view != "active":
            pairs.append(("view", view.view))
        return "?" + urlencode(pairs) if pairs else "?"

    def sorted_by(self, ref: str) -> str:
        """The query string of a click on column `ref`'s header: sort by it, flipping the
        direction when it is already the sort column, back on page 1."""
        if ref == self.sort:
            return self.query(descending=not self.descending, page=1)
        return self.query(sort=ref, descending=True, page=1)


def _positive_int(
    raw: str | None, name: str, default: int, maximum: int | None, errors: list[str]
) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        errors.append(f"Bad {name} {raw!r}: expected a whole number")
        return default
    if value < 1 or (maximum is not None and value > maximum):
        limit = f" and at most {maximum}" if maximum is not None else ""
        errors.append(f"Bad {name} {value}: it must be at least 1{limit}")
        return default
    return value
