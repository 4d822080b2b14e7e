"""Options every command shares, and the one place the CLI builds a `CairnClient`."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from cairn import settings

if TYPE_CHECKING:
    from cairn.entities import ViewType
    from cairn.tracking.client import CairnClient

TrackingUri = Annotated[
    str | None,
    typer.Option(
        "--tracking-uri",
        metavar="URI",
        show_default=False,
        help=(
            "Tracking database or server URI. Defaults to $CAIRN_TRACKING_URI, then "
            f"$MLFLOW_TRACKING_URI, then {settings.TRACKING_URI.default}."
        ),
    ),
]

JsonOutput = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON instead of a table.")
]

NameFilter = Annotated[
    str | None,
    typer.Option(
        "--filter",
        "-f",
        metavar="EXPR",
        help="Search filter, e.g. \"name LIKE 'fraud%'\" or \"tags.team = 'risk'\".",
    ),
]
"""The filter of listings searched by name and tags (experiments, registered models)."""


class View(StrEnum):
    """Which lifecycle stages a listing shows."""

    active = "active"
    deleted = "deleted"
    all = "all"

    def to_view_type(self) -> ViewType:
        from cairn.entities import ViewType

        return {
            View.active: ViewType.ACTIVE_ONLY,
            View.deleted: ViewType.DELETED_ONLY,
            View.all: ViewType.ALL,
        }[self]


ViewOption = Annotated[
    View,
    typer.Option("--view", case_sensitive=False, help="Show active, deleted or all entries."),
]

ModelUri = Annotated[
    str,
    typer.Option(
        "--model-uri",
        "-m",
        metavar="URI",
        help="The model: a local path, file://, runs:/<run_id>/<path>, "
        "models:/<name>/<version|stage|latest>, models:/<name>@<alias> or an artifact URI.",
    ),
]


def get_client(tracking_uri: str | None) -> CairnClient:
    """A client for `--tracking-uri`; None leaves the usual resolution order to the client."""
    from cairn.tracking.client import CairnClient

    return CairnClient(tracking_uri=tracking_uri)
