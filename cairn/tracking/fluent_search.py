"""Fluent searches: every matching run or experiment, paging through the store for you.

`search_runs` returns a pandas DataFrame by default, shaped like MLflow's: one row per run,
columns `run_id, experiment_id, status, artifact_uri, start_time, end_time` (UTC datetimes),
then `metrics.<key>` (NaN where a run lacks the metric), `params.<key>` and `tags.<key>`
(None where missing). pandas is imported only when a DataFrame is built.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from cairn.entities import Experiment, Run, ViewType
from cairn.exceptions import InvalidParameterValue
from cairn.store.base import SEARCH_MAX_RESULTS_DEFAULT
from cairn.tracking.fluent import client, get_experiment_id

if TYPE_CHECKING:
    import pandas as pd

SEARCH_MAX_RESULTS_PANDAS = 100_000
_RUNS_PER_PAGE = 10_000
INFO_COLUMNS = ("run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time")


def search_runs(
    experiment_ids: str | Iterable[str | int] | None = None,
    filter_string: str = "",
    run_view_type: ViewType | str | int = ViewType.ACTIVE_ONLY,
    max_results: int = SEARCH_MAX_RESULTS_PANDAS,
    order_by: Sequence[str] | None = None,
    output_format: Literal["pandas", "list"] = "pandas",
    search_all_experiments: bool = False,
    experiment_names: Iterable[str] | None = None,
) -> pd.DataFrame | list[Run]:
    """Runs matching `filter_string` (search grammar as in MLflow), up to `max_results`.

    Scope: `experiment_ids`, or `experiment_names` (unknown names are skipped), or every
    active experiment with `search_all_experiments=True`, else the current experiment.
    """
    if output_format not in ("pandas", "list"):
        raise InvalidParameterValue(
            f"Unsupported output_format {output_format!r}: use 'pandas' or 'list'."
        )
    ids = _scope(experiment_ids, experiment_names, search_all_experiments)
    runs: list[Run] = []
    c = client()
    token: str | None = None
    while ids and len(runs) < max_results:
        page_size = min(_RUNS_PER_PAGE, max_results - len(runs))
        page = c.search_runs(ids, filter_string, run_view_type, page_size, order_by, token)
        runs.extend(page)
        token = page.token
        if not token:
            break
    return runs if output_format == "list" else runs_to_frame(runs)


def _scope(
    experiment_ids: str | Iterable[str | int] | None,
    experiment_names: Iterable[str] | None,
    search_all: bool,
) -> list[str]:
    if isinstance(experiment_ids, str | int):
        experiment_ids = [experiment_ids]
    ids = [str(e) for e in experiment_ids or ()]
    names = list(experiment_names or ())
    if ids and names:
        raise InvalidParameterValue("Give experiment_ids or experiment_names, not both.")
    if names:
        found = (client().get_experiment_by_name(name) for name in names)
        return [e.experiment_id for e in found if e is not None]
    if ids:
        return ids
    if search_all:
        return [e.experiment_id for e in search_experiments()]
    return [get_experiment_id()]


def search_experiments(
    view_type: ViewType | str | int = ViewType.ACTIVE_ONLY,
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: Sequence[str] | None = None,
) -> list[Experiment]:
    """Every matching experiment (or the first `max_results`), newest first by default."""
    c = client()
    found: list[Experiment] = []
    token: str | None = None
    while max_results is None or len(found) < max_results:
        page_size = SEARCH_MAX_RESULTS_DEFAULT
        if max_results is not None:
            page_size = min(page_size, max_results - len(found))
        page = c.search_experiments(view_type, page_size, filter_string, order_by, token)
        found.extend(page)
        token = page.token
        if not token:
            break
    return found


def runs_to_frame(runs: Sequence[Run]) -> pd.DataFrame:
    """MLflow's search_runs DataFrame for `runs` (columns even when there are no runs)."""
    import pandas as pd

    columns: dict[str, list[Any]] = {
        "run_id": [r.info.run_id for r in runs],
        "experiment_id": [r.info.experiment_id for r in runs],
        "status": [str(r.info.status) for r in runs],
        "artifact_uri": [r.info.artifact_uri for r in runs],
        "start_time": [r.info.start_time for r in runs],
        "end_time": [r.info.end_time for r in runs],
    }
    nan = float("nan")
    for key in sorted({k for r in runs for k in r.data.metrics}):
        columns[f"metrics.{key}"] = [r.data.metrics.get(key, nan) for r in runs]
    for key in sorted({k for r in runs for k in r.data.params}):
        columns[f"params.{key}"] = [r.data.params.get(key) for r in runs]
    for key in sorted({k for r in runs for k in r.data.tags}):
        columns[f"tags.{key}"] = [r.data.tags.get(key) for r in runs]
    frame = pd.DataFrame(columns)
    for name in ("start_time", "end_time"):
        frame[name] = pd.to_datetime(frame[name], unit="ms", utc=True)
    return frame
