"""`cairn models predict` (batch scoring of a file) and `cairn models generate-dockerfile`.
Registered on the `models` app by `cairn.cli.models`; the work is in `cairn.serving.batch`
and `cairn.serving.container`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cairn.cli.options import ModelUri, TrackingUri, get_client
from cairn.cli.output import print_note, stderr, stdout
from cairn.exceptions import ResourceDoesNotExist

if TYPE_CHECKING:
    from cairn.serving.batch import BatchProgress

Trust = Annotated[
    bool,
    typer.Option(
        "--trust",
        help="Load a pickle-based model (MLflow's scikit-learn and pyfunc models): "
        "unpickling runs code from the model's files.",
    ),
]
_FORMAT_HELP = "csv, json, jsonl or parquet"


def predict(
    model_uri: ModelUri,
    input_path: Annotated[
        Path,
        typer.Option(
            "--input-path",
            "-i",
            metavar="FILE",
            help="Rows to score: .csv, .jsonl/.ndjson and .parquet are streamed in chunks; "
            ".json (an array of row objects or an MLflow scoring body) is read whole.",
        ),
    ],
    output_path: Annotated[
        Path,
        typer.Option(
            "--output-path",
            "-o",
            metavar="FILE",
            help="Where to write the predictions (.csv, .json, .jsonl or .parquet); replaced "
            "only once every row is scored.",
        ),
    ],
    input_format: Annotated[
        str | None,
        typer.Option(
            "--input-format",
            metavar="FORMAT",
            help=f"{_FORMAT_HELP} (default: from the extension of -i)",
        ),
    ] = None,
    output_format: Annotated[
        str | None,
        typer.Option(
            "--output-format",
            metavar="FORMAT",
            help=f"{_FORMAT_HELP} (default: from the extension of -o)",
        ),
    ] = None,
    chunk_size: Annotated[
        int,
        typer.Option("--chunk-size", min=1, metavar="ROWS", help="Rows read and scored at a time."),
    ] = 10_000,
    params: Annotated[
        str | None,
        typer.Option(
            "--params",
            metavar="JSON",
            help="Inference params as a JSON object, e.g. '{\"threshold\": 0.7}'.",
        ),
    ] = None,
    keep_columns: Annotated[
        str | None,
        typer.Option(
            "--keep-columns",
            metavar="COLUMNS",
            help="Comma-separated input columns (an id) to copy in front of the predictions.",
        ),
    ] = None,
    trust: Trust = False,
    tracking_uri: TrackingUri = None,
) -> None:
    """Score a file of rows with a model and write the predictions to another file."""
    from cairn.pyfunc.loading import load_model
    from cairn.serving.batch import file_format, predict_file

    # Refuse bad arguments before loading the model, which may mean a download.
    file_format(input_path, input_format)
    file_format(output_path, output_format)
    if not input_path.is_file():
        raise ResourceDoesNotExist(f"No input file {str(input_path)!r}")
    parsed = _parse_params(params)
    kept = [c.strip() for c in keep_columns.split(",") if c.strip()] if keep_columns else []
    client = get_client(tracking_uri) if tracking_uri else None
    model = load_model(model_uri, trust=trust, client=client)
    started = time.monotonic()
    with _rows_progress(f"Scoring {input_path.name}") as progress:
        rows = predict_file(
            model,
            input_path,
            output_path,
            input_format=input_format,
            output_format=output_format,
            chunk_size=chunk_size,
            params=parsed,
            keep_columns=kept,
            progress=progress,
        )
    took = time.monotonic() - started
    print_note(f"Scored {rows:,} rows in {took:.2f}s ({rows / took if took else 0:,.0f} rows/s)")
    stdout().print(output_path, soft_wrap=True)


def _parse_params(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise typer.BadParameter(f"not valid JSON: {e}", param_hint="--params") from None
    if not isinstance(value, dict):
        raise typer.BadParameter("must be a JSON object", param_hint="--params")
    return value


@contextmanager
def _rows_progress(description: str) -> Iterator[Callable[[BatchProgress], None]]:
    """A progress bar on stderr (drawn only on a terminal): rows scored against the rows of a
    Parquet file, else against the bytes read of the input."""
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = stderr()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rows]:,} rows"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task(description, total=None, rows=0)

        def update(status: BatchProgress) -> None:
            if status.total_rows is not None:
                bar.update(task, total=status.total_rows, completed=status.rows, rows=status.rows)
            elif status.total_bytes is not None and status.bytes_read is not None:
                total, done = status.total_bytes, status.bytes_read
                bar.update(task, total=total, completed=done, rows=status.rows)
            else:
                bar.update(task, rows=status.rows)

        yield update


def generate_dockerfile(
    model_uri: ModelUri,
    directory: Annotated[
        Path,
        typer.Option(
            "--output-directory",
            "-d",
            metavar="DIR",
            file_okay=False,
            help="Build context to write (created; must be empty if it exists).",
        ),
    ] = Path("cairn-dockerfile"),
    base_image: Annotated[
        str | None,
        typer.Option(
            "--base-image",
            metavar="IMAGE",
            show_default=False,
            help="Image to build on (default: python:<major.minor>-slim of the Python the model "
            "was saved with, at least 3.11).",
        ),
    ] = None,
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="Port the server listens on.")
    ] = 8080,
    trust: Annotated[
        bool,
        typer.Option(
            "--trust",
            help="Serve with --trust: needed for pickle-based models (unpickling runs code "
            "from the model's files).",
        ),
    ] = False,
    tracking_uri: TrackingUri = None,
) -> None:
    """Write a Docker build context that serves the model: the model, a Cairn wheel,
    requirements.txt, serve.sh and a Dockerfile."""
    from cairn.serving.container import build_context

    client = get_client(tracking_uri) if tracking_uri else None
    context = build_context(
        model_uri, directory, base_image=base_image, port=port, trust=trust, client=client
    )
    for note in context.notes:
        print_note(note)
    print_note(
        f"Build and run it with: docker build -t my-model {directory} && "
        f"docker run -p {port}:{port} my-model"
    )
    stdout().print(context.dockerfile, soft_wrap=True)
