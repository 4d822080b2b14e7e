"""The comparison of runs: its URL state and the diff of their params and metrics.

    /compare?runs=<id>,<id>,…&diff=1&par=params.lr&par=metrics.acc&x=params.lr&y=metrics.acc
            &h=loss&h=acc

* `runs` — the run ids, comma-separated (repeated `run=<id>`, as the runs table's form
  sends them, is read too); 2 to `MAX_RUNS`, duplicates dropped.
* `diff=1` — the table shows only the rows whose values differ.
* `par` — repeated, the axes of the parallel-coordinates plot (`params.<key>` or
  `metrics.<key>`); default: up to five params whose values differ, then the first metric.
* `x`, `y` — the scatter plot's axes, as for `par`; default the first axis of `par` and the
  first metric.
* `h` — repeated, the metrics whose histories are overlaid; default the first four.
* `choose=1` marks `par` and `h` as an explicit choice (possibly empty).

Pure functions over runs already loaded, so they are tested without a server.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from cairn.exceptions import InvalidParameterValue

MIN_RUNS = 2
MAX_RUNS = 100
DEFAULT_PARALLEL_PARAMS = 5
DEFAULT_HISTORIES = 4
MAX_CHOICES = 50
ENTITIES = ("params", "metrics")


@dataclass(frozen=True, slots=True)
class CompareRun:
    """One run as the comparison shows it."""

    run_id: str
    name: str
    experiment_id: str
    status: str
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, run: dict[str, Any]) -> CompareRun:
        """From a REST-shaped run (`load_run_dicts`)."""
        info, data = run["info"], run["data"]
        return cls(
            run_id=info["run_id"],
            name=info.get("run_name") or info["run_id"],
            experiment_id=str(info["experiment_id"]),
            status=info["status"],
            params={p["key"]: p["value"] for p in data.get("params", ())},
            metrics={m["key"]: m["value"] for m in data.get("metrics", ())},
        )

    def value(self, ref: str) -> Any:
        """The run's value of `params.<key>` or `metrics.<key>` (None when it has none)."""
        entity, _, key = ref.partition(".")
        if entity == "params":
            return self.params.get(key)
        return self.metrics.get(key)


@dataclass(frozen=True, slots=True)
class DiffRow:
    entity: str  # "params" or "metrics"
    key: str
    values: list[Any]  # one per run, None where the run has no such key
    differs: bool

    @property
    def ref(self) -> str:
        return f"{self.entity}.{self.key}"


def parse_run_ids(pairs: Iterable[tuple[str, str]]) -> list[str]:
    """The run ids of `runs=a,b` and repeated `run=a`, in order, without duplicates.

    InvalidParameterValue (400) for fewer than MIN_RUNS or more than MAX_RUNS.
    """
    found: list[str] = []
    for name, value in pairs:
        if name in ("runs", "run"):
            for part in value.split(","):
                part = part.strip()
                if part and part not in found:
                    found.append(part)
    if len(found) < MIN_RUNS:
        raise InvalidParameterValue(
            f"Choose at least {MIN_RUNS} runs to compare (got {len(found)}): "
            "/compare?runs=<id>,<id>"
        )
    if len(found) > MAX_RUNS:
        raise InvalidParameterValue(
            f"At most {MAX_RUNS} runs can be compared at once (got {len(found)})"
        )
    return found


def _same(values: Sequence[Any]) -> bool:
    first = values[0]
    for value in values[1:]:
        if value == first:
            continue
        nans = isinstance(value, float) and isinstance(first, float)
        if not (nans and math.isnan(value) and math.isnan(first)):
            return False
    return True


def diff_rows(runs: Sequence[CompareRun], entity: str) -> list[DiffRow]:
    """One row per key of `entity` any run has, sorted by key; `differs` when the runs'
    values are not all equal (a missing value differs from any value, NaN equals NaN)."""
    keys: set[str] = set()
    for run in runs:
        keys.update(run.params if entity == "params" else run.metrics)
    rows = []
    for key in sorted(keys):
        values = [run.value(f"{entity}.{key}") for run in runs]
        rows.append(DiffRow(entity, key, values, differs=not _same(values)))
    return rows


def parse_ref(ref: str) -> str:
    """`ref` if it names a param or metric (`params.<key>`, `metrics.<key>`)."""
    entity, dot, key = ref.partition(".")
    if not dot or not key or entity not in ENTITIES:
        raise InvalidParameterValue(f"Unknown axis {ref!r}: expected params.<key> or metrics.<key>")
    return ref


@dataclass(frozen=True, slots=True)
class CompareView:
    run_ids: tuple[str, ...]
    only_diff: bool = False
    parallel: tuple[str, ...] = ()
    x: str = ""
    y: str = ""
    histories: tuple[str, ...] = ()
    explicit: bool = False

    @classmethod
    def from_query(cls, pairs: Sequence[tuple[str, str]]) -> tuple[CompareView, list[str]]:
        """The view a query string asks for and the complaints about its choices (a bad
        axis is dropped and reported). Bad run lists raise InvalidParameterValue."""
        run_ids = parse_run_ids(pairs)
        errors: list[str] = []
        values: dict[str, str] = {}
        parallel: list[str] = []
        histories: list[str] = []
        for name, value in pairs:
            value = value.strip()
            if name == "par" and value:
                try:
                    if parse_ref(value) not in parallel and len(parallel) < MAX_CHOICES:
                        parallel.append(value)
                except InvalidParameterValue as exc:
                    errors.append(exc.message)
            elif name == "h" and value:
                if value not in histories and len(histories) < MAX_CHOICES:
                    histories.append(value)
            else:
                values.setdefault(name, value)
        axes = {}
        for axis in ("x", "y"):
            raw = values.get(axis, "")
            try:
                axes[axis] = parse_ref(raw) if raw else ""
            except InvalidParameterValue as exc:
                errors.append(exc.message)
                axes[axis] = ""
        view = cls(
            run_ids=tuple(run_ids),
            only_diff=values.get("diff", "") in ("1", "on", "true"),
            parallel=tuple(parallel),
            x=axes["x"],
            y=axes["y"],
            histories=tuple(histories),
            explicit=values.get("choose", "") == "1",
        )
        return view, errors

    def with_defaults(self, params: Sequence[DiffRow], metrics: Sequence[DiffRow]) -> CompareView:
        """Fill the choices the URL left open from the runs' keys (see the module)."""
        metric_refs = [r.ref for r in metrics]
        parallel, histories = self.parallel, self.histories
        if not self.explicit:
            if not parallel:
                varied = [r.ref for r in params if r.differs] or [r.ref for r in params]
                parallel = tuple(varied[:DEFAULT_PARALLEL_PARAMS] + metric_refs[:1])
            if not histories:
                histories = tuple(r.key for r in metrics[:DEFAULT_HISTORIES])
        x = self.x or (parallel[0] if parallel else "") or (metric_refs[:1] or [""])[0]
        y = self.y or next((m for m in metric_refs if m != x), x)
        return replace(self, parallel=parallel, histories=histories, x=x, y=y)

    def query(self, **changes: object) -> str:
        """This view's query string (`?…`) with `changes` applied."""
        view = replace(self, **changes)  # type: ignore[arg-type]
        pairs: list[tuple[str, str]] = [("runs", ",".join(view.run_ids))]
        if view.only_diff:
            pairs.append(("diff", "1"))
        if view.explicit:
            pairs.append(("choose", "1"))
        pairs.extend(("par", ref) for ref in view.parallel)
        if view.x:
            pairs.append(("x", view.x))
        if view.y:
            pairs.append(("y", view.y))
        pairs.extend(("h", key) for key in view.histories)
        return "?" + urlencode(pairs)


def chart_value(value: Any) -> Any:
    """A value as the charts' JSON carries it: non-finite floats as None (JSON has none)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
