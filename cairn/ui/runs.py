"""`/experiments/<id>`: an experiment's runs, one page at a time, sorted and filtered in SQL.

The query string is the whole state (see `runs_view`). An htmx request targeting `#runs`
(a header click, the pager, the filter box, the column chooser) gets only the table back and
pushes the new URL. A bad filter or sort answers 400 with the page (or table) rendered and
the parse error shown next to the control; htmx is configured to swap 400 answers in.

With authentication on (see `access`), the page needs READ on the experiment (without it
the experiment answers as missing), the delete and restore controls show only with MANAGE,
and callers with MANAGE (and admins) get the experiment's permissions panel
(`permissions`).

Nested runs: within a page, a run whose parent (`mlflow.parentRunId`) is on the same page is
moved under it and indented; one whose parent is elsewhere stays in place with a link to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from cairn.exceptions import InvalidFilter
from cairn.search import RUNS, parse_filter
from cairn.ui.access import Access
from cairn.ui.experiments import experiment_id
from cairn.ui.pages import Ui, is_partial
from cairn.ui.permissions import PermissionsPanel, panel_of
from cairn.ui.queries import RunsPage, column_keys, run_counts, runs_page
from cairn.ui.runs_view import ATTRIBUTES, RunsView

PARENT_TAG = "mlflow.parentRunId"
SOURCE_TAG = "mlflow.source.name"
USER_TAG = "mlflow.user"


@dataclass(slots=True)
class Row:
    """One run as the table shows it."""

    run_id: str
    name: str
    status: str
    start_time: int | None
    end_time: int | None
    user: str
    source: str
    metrics: dict[str, float]
    params: dict[str, str]
    tags: dict[str, str]
    parent_id: str | None
    deleted: bool = False
    depth: int = 0
    has_children: bool = False
    children: list[Row] = field(default_factory=list)


def row_from_dict(run: dict[str, Any]) -> Row:
    info, data = run["info"], run["data"]
    tags = {t["key"]: t["value"] for t in data.get("tags", ())}
    return Row(
        run_id=info["run_id"],
        name=info.get("run_name", ""),
        status=info["status"],
        start_time=info.get("start_time"),
        end_time=info.get("end_time"),
        user=info.get("user_id") or tags.get(USER_TAG, ""),
        source=tags.get(SOURCE_TAG, ""),
        metrics={m["key"]: m["value"] for m in data.get("metrics", ())},
        params={p["key"]: p["value"] for p in data.get("params", ())},
        tags=tags,
        parent_id=tags.get(PARENT_TAG),
        deleted=info.get("lifecycle_stage") == "deleted",
    )


def grouped(rows: list[Row]) -> list[Row]:
    """`rows` with each run moved under its parent when the parent is among them, depth-first.

    The page's order holds among siblings and among top-level runs. A cycle of parent tags
    (possible: tags are free text) leaves its members at the top level.
    """
    by_id = {r.run_id: r for r in rows}
    top: list[Row] = []
    for row in rows:
        parent = by_id.get(row.parent_id) if row.parent_id else None
        if parent is not None and parent is not row and not _is_ancestor(row, parent, by_id):
            parent.children.append(row)
            parent.has_children = True
        else:
            top.append(row)
    out: list[Row] = []

    def visit(row: Row, depth: int) -> None:
        row.depth = depth
        out.append(row)
        for child in row.children:
            visit(child, depth + 1)

    for row in top:
        visit(row, 0)
    return out


def _is_ancestor(row: Row, candidate: Row, by_id: dict[str, Row]) -> bool:
    """`row` is already an ancestor of `candidate` through parent tags (a cycle)."""
    seen: set[str] = set()
    current: Row | None = candidate
    while current is not None and current.run_id not in seen:
        if current is row:
            return True
        seen.add(current.run_id)
        current = by_id.get(current.parent_id) if current.parent_id else None
    return False


class RunsPages:
    def __init__(self, ui: Ui) -> None:
        self.ui = ui

    def routes(self) -> list[BaseRoute]:
        return [Route("/experiments/{experiment_id}", self.ui.page(self.show), methods=["GET"])]

    async def show(
        self, request: Request, panel_error: str = "", status: int = 200, form: Any = None
    ) -> Response:
        """The page; a refused permission change (`permissions`) renders it again with its
        message in the panel, its `status`, and what was typed (`form`)."""
        eid = experiment_id(request)
        store = self.ui.store
        access = Access.of(request)
        rights = await access.require(eid)
        experiment = await self.ui.call(store.get_experiment, eid)
        panel: PermissionsPanel | None = None
        if access.authenticated and rights.manage:
            panel = await self.ui.call(
                panel_of, access, rights, int(eid), error=panel_error, form=form or {}
            )
        view, errors = RunsView.from_query(request.query_params.multi_items())
        keys = await self.ui.call(column_keys, store, int(eid), stages=view.stages)
        view = view.with_default_columns({"metrics": keys.metrics, "params": keys.params})
        filter_error = ""
        try:
            parse_filter(view.filter or None, RUNS)
        except InvalidFilter as exc:
            filter_error = exc.message
        page = RunsPage([], False)
        if not filter_error:
            try:
                page = await self.ui.call(
                    runs_page, store, int(eid), view.filter or None, view.order_by,
                    view.offset, view.size, view.stages,
                )  # fmt: skip
            except InvalidFilter as exc:  # the sort key (the filter parsed above)
                errors.append(f"Bad sort {view.sort!r}: {exc.message}")
        counts = await self.ui.call(run_counts, store, [eid], view.stages)
        context = {
            "experiment": experiment,
            "here": f"/experiments/{eid}",
            "view": view,
            "rows": grouped([row_from_dict(r) for r in page.runs]),
            "has_more": page.has_more,
            "keys": keys,
            "attributes": ATTRIBUTES,
            "run_count": counts.get(eid, 0),
            "filter_error": filter_error,
            "errors": errors,
            "may": rights,
            "panel": panel,
        }
        if status == 200 and (filter_error or errors):
            status = 400
        template = "_runs_table.html" if is_partial(request, "runs") else "experiment.html"
        return self.ui.render(request, template, status=status, **context)
