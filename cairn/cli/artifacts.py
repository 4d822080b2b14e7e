"""`cairn artifacts`: list, download and log a run's artifacts, with progress bars."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cairn.cli.options import JsonOutput, TrackingUri, get_client
from cairn.cli.output import format_size, listing_table, print_json, stdout

if TYPE_CHECKING:
    from rich.table import Table

    from cairn.entities import FileInfo

app = typer.Typer(help="List, download and log run artifacts.", no_args_is_help=True)

RunIdOption = Annotated[
    str, typer.Option("--run-id", "-r", metavar="RUN_ID", help="The run whose artifacts to use.")
]
ArtifactPath = Annotated[
    str | None,
    typer.Option(
        "--path", "-p", metavar="PATH", help="Artifact path relative to the run's artifact root."
    ),
]


@app.command("list")
def list_artifacts(
    run_id: RunIdOption,
    path: ArtifactPath = None,
    as_json: JsonOutput = False,
    tracking_uri: TrackingUri = None,
) -> None:
    """List the files and directories directly under an artifact path."""
    entries = get_client(tracking_uri).list_artifacts(run_id, path)
    if as_json:
        print_json([e.to_dict() for e in entries])
        return
    if not entries:
        stdout().print("No artifacts found.", style="dim")
        return
    stdout().print(_table(entries))


def _table(entries: list[FileInfo]) -> Table:
    table = listing_table()
    table.add_column("Path", overflow="fold")
    table.add_column("Size", justify="right", no_wrap=True)
    for entry in sorted(entries, key=lambda e: (not e.is_dir, e.path)):
        if entry.is_dir:
            table.add_row(f"{entry.path}/", "", style="bold blue")
        else:
            table.add_row(entry.path, format_size(entry.file_size))
    return table


@app.command("download")
def download(
    run_id: RunIdOption,
    path: ArtifactPath = None,
    dst: Annotated[
        Path,
        typer.Option(
            "--dst",
            "-d",
            metavar="DIR",
            file_okay=False,
            help="Local directory to download into (created if missing).",
        ),
    ] = Path("."),
    tracking_uri: TrackingUri = None,
) -> None:
    """Download an artifact file or directory (all of them by default); prints the local path."""
    from cairn.artifacts import artifact_size, get_artifact_repository
    from cairn.cli.transfer import transfer_progress

    run = get_client(tracking_uri).get_run(run_id)
    repo = get_artifact_repository(run.info.artifact_uri)
    total = artifact_size(repo, path)
    with transfer_progress(f"Downloading {path or 'artifacts'}", total) as advance:
        local_path = repo.download_artifacts(path or "", dst_path=str(dst), progress=advance)
    stdout().print(local_path, soft_wrap=True)


@app.command("log")
def log(
    local_path: Annotated[
        Path,
        typer.Argument(metavar="LOCAL_PATH", exists=True, help="File or directory to upload."),
    ],
    run_id: RunIdOption,
    artifact_path: Annotated[
        str | None,
        typer.Option(
            "--artifact-path",
            "-a",
            metavar="PATH",
            help="Directory under the run's artifact root to upload into (default: the root).",
        ),
    ] = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Upload a local file or directory as artifacts of a run."""
    from cairn.artifacts import get_artifact_repository, local_size
    from cairn.cli.transfer import transfer_progress

    run = get_client(tracking_uri).get_run(run_id)
    repo = get_artifact_repository(run.info.artifact_uri)
    with transfer_progress(f"Uploading {local_path.name}", local_size(local_path)) as advance:
        if local_path.is_dir():
            repo.log_artifacts(str(local_path), artifact_path, progress=advance)
        else:
            repo.log_artifact(str(local_path), artifact_path, progress=advance)
    where = f"{artifact_path.strip('/')}/" if artifact_path else ""
    stdout().print(f"Logged {local_path} to runs:/{run_id}/{where}", soft_wrap=True)
