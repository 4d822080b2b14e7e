"""The root `cairn` command: sub-command groups, `--version`, and turning errors into messages.

Every `CairnException` raised below the root group ends here as a red message on stderr and
exit status 1, never a traceback. Command modules import heavy things lazily, so
`cairn --help` stays fast.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from cairn.cli import (
    artifacts,
    audit,
    db,
    experiments,
    models,
    permissions,
    projects,
    runs,
    server,
    users,
)
from cairn.cli.output import print_error
from cairn.exceptions import CairnException


class CairnGroup(TyperGroup):
    """The root group: runs the chosen command and reports Cairn errors cleanly."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CairnException as exc:
            print_error(exc.message)
            raise typer.Exit(1) from None


app = typer.Typer(
    name="cairn",
    cls=CairnGroup,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(experiments.app, name="experiments")
app.add_typer(runs.app, name="runs")
app.add_typer(artifacts.app, name="artifacts")
app.add_typer(models.app, name="models")
app.add_typer(db.app, name="db")
app.add_typer(users.app, name="users")
app.add_typer(audit.app, name="audit")
app.add_typer(permissions.app, name="permissions")
app.command("run")(projects.run_project)
app.command("server")(server.server)
app.command("ui", help="Alias of `cairn server`.")(server.server)


def _print_version(value: bool) -> None:
    if value:
        from cairn.version import __version__

        typer.echo(f"cairn {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print Cairn's version and exit.",
        ),
    ] = False,
) -> None:
    """Cairn: track machine-learning experiments, runs and artifacts, register models, and run
    projects."""


def main() -> None:
    """Entry point of the `cairn` console script."""
    app(prog_name="cairn")
